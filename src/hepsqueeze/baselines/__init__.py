"""Standard compressors to measure the autoencoder against, with per-variable error bounds.

Each :class:`Baseline` turns an ``(N, F)`` float32 array into a self-contained payload and back:

>>> from hepsqueeze.baselines import Sz3, bounds_for
>>> b = bounds_for(["E", "pt", "eta", "phi"], 1e-3)   # relative for E/pt, absolute for eta/phi
>>> payload = Sz3().compress(x, ["E", "pt", "eta", "phi"], b)   # doctest: +SKIP
>>> x_back = Sz3().decompress(payload)                           # doctest: +SKIP

Lossless methods (zstd, lzma, fpzip) are bit-exact; bounded methods (bit rounding, uniform
quantisation, SZ3, ZFP, reduced-precision fpzip) keep every value within its bound, checked after
decoding; float16 is neither and is reported with the error it makes.
"""

from hepsqueeze.baselines.base import Baseline, BoundViolationError, payload_method, read_payload
from hepsqueeze.baselines.lossless import FpzipLossless, Lzma, Zstd
from hepsqueeze.baselines.lossy import BitRound, Float16, FpzipReduced, Quantise, Sz3, Zfp
from hepsqueeze.baselines.registry import decompress, default_baselines, get_baseline
from hepsqueeze.metrics.bounds import (
    ErrorBound,
    bounds_for,
    bounds_from_errors,
    column_errors,
    error_summary,
)

__all__ = [
    "Baseline",
    "BitRound",
    "BoundViolationError",
    "ErrorBound",
    "Float16",
    "FpzipLossless",
    "FpzipReduced",
    "Lzma",
    "Quantise",
    "Sz3",
    "Zfp",
    "Zstd",
    "bounds_for",
    "bounds_from_errors",
    "column_errors",
    "decompress",
    "default_baselines",
    "error_summary",
    "get_baseline",
    "payload_method",
    "read_payload",
]
