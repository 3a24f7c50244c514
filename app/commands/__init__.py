"""One module per `fieldcast` subcommand.

Each module defines ``NAME`` (the subcommand), ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. `app.cli` discovers them, so adding a command touches no shared file.
"""
