"""The .fcv container: layout constants, header, writer and reader (docs/FORMAT.md)."""
