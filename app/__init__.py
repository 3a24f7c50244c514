"""FieldCast application: CLI, GLSL renderer, Qt player, exporters. Builds on `codec`."""
