"""Errors the user can act on. The CLI prints them as one line, never a traceback."""


class FieldCastError(Exception):
    """Base class of every error a user may cause (bad input, bad file, bad option)."""


class DatasetError(FieldCastError):
    """A dataset on disk is missing, malformed or inconsistent."""


class FormatError(FieldCastError):
    """A .fcv file is damaged, truncated, hostile or of an unsupported version."""
