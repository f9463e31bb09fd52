"""hepsqueeze: compress HEP data with deep autoencoders, and show how much was lost."""

__version__ = "0.1.0"
