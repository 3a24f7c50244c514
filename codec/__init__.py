"""FieldCast codec library: data -> field -> train -> entropy/quantize -> container -> decode. No Qt, no GL."""
