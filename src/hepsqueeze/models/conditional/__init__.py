"""Learned conditional models of a table's columns for the error-bounded codec: integer networks
(bit-identical on every machine), learned residual shapes, model files. No torch is imported here:
training lives in :mod:`hepsqueeze.training.conditional`."""
