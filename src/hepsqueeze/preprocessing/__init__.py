"""Normalisation of physical variables to the network's input space."""

from hepsqueeze.preprocessing.normalisation import CUSTOM_RULES, SCHEMES, Normaliser, VariableTransform

__all__ = ["CUSTOM_RULES", "SCHEMES", "Normaliser", "VariableTransform"]
