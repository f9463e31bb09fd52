"""``exp`` and ``log`` from IEEE 754 additions, multiplications, divisions and exact scalings only.

A math library's ``exp`` and ``log`` (numpy's SIMD loops, the platform's libm) may differ in their
last bit between machines. Where a decoder must compute what the encoder computed, bit for bit
(the values of relative columns, the symbols a relation predicts), these are used instead: a
reduced argument and a polynomial, every operation rounded exactly by IEEE 754, so the bits are
the same on every machine (numpy does not fuse separate operations into FMAs).
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

#: ln 2 in two parts: ``n * LN2_HI`` is exact for ``|n| < 2**20``.
_LN2_HI: Final = 0.693147180369123816490
_LN2_LO: Final = 1.90821492927058770002e-10
_INV_LN2: Final = 1.44269504088896338700
_SQRT_HALF: Final = 0.70710678118654752440
#: 1 / k! for exp on |r| <= ln(2) / 2 (error below 2**-60).
_EXP_TERMS: Final = tuple(1.0 / math.factorial(k) for k in range(16))
#: 1 / (2k + 1) for log(m) = 2 atanh(s), |s| <= 0.1716 (error below 2**-60).
_LOG_TERMS: Final = tuple(1.0 / (2 * k + 1) for k in range(14))


def exact_exp(x: F64) -> F64:
    """``exp(x)``, the same bits on every machine (arguments clipped to +-700; NaN stays NaN)."""
    with np.errstate(invalid="ignore", over="ignore"):
        xc = np.clip(x, -700.0, 700.0)
        n = np.rint(xc * _INV_LN2)
        r = (xc - n * _LN2_HI) - n * _LN2_LO
        p = np.full_like(r, _EXP_TERMS[-1])
        for c in _EXP_TERMS[-2::-1]:
            p = p * r + c
        out: F64 = np.ldexp(p, n.astype(np.int32))
    out[np.isnan(x)] = np.nan
    return out


def exact_log(x: F64) -> F64:
    """``log(x)`` for positive finite ``x``, the same bits on every machine; NaN elsewhere."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ok = np.isfinite(x) & (x > 0)
        m, e = np.frexp(np.where(ok, x, 1.0))
        small = m < _SQRT_HALF
        m = np.where(small, m * 2.0, m)
        n = (e - small).astype(np.float64)
        s = (m - 1.0) / (m + 1.0)
        s2 = s * s
        p = np.full_like(s, _LOG_TERMS[-1])
        for c in _LOG_TERMS[-2::-1]:
            p = p * s2 + c
        out: F64 = n * _LN2_HI + (n * _LN2_LO + 2.0 * s * p)
    out[~ok] = np.nan
    return out


__all__ = ["exact_exp", "exact_log"]
