"""Quantities computed on decoded values: residuals, error bounds, the bound check, delta phi.

Pure numpy, below every codec and every study, so that a codec can check its own output and the
comparison harness can measure anyone's with the same functions.
"""
