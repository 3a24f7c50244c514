"""Entropy modelling (learned, for training) and entropy coding (integer tables + constriction)."""
