"""The encode pipeline: float chains -> quantized, coded chunks -> a .fcv file."""
