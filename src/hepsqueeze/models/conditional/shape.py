"""The learned shape of a column's residual distribution and the coding tables built from it.

A conditional model predicts, for each value, a location and a scale class ``k``; the scale of
class ``k`` is :func:`sigma_bins` quantisation bins. The residual's distribution in units of that
scale is the column's learned cumulative distribution ``F`` (tabulated on :data:`GRID` points of
``[-SPAN, SPAN]``, linear in between). A class's table gives every residual ``h`` in
``[-R, R]`` the probability ``F(upper edge) - F(lower edge)`` and one escape symbol the rest.
Wide classes code the low :func:`split_bits` bits of a residual uniformly and the rest with the
table, so no table is larger than about ``2 * SPAN * 128 + 2`` entries.

Everything here is made of additions, multiplications, divisions and comparisons of float64 (no
``exp``, ``log`` or ``pow``, whose last bit differs between math libraries), so a table is the
same on every machine.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ModelError

#: Scale classes per octave, and the 2**(j / SCALES_PER_OCTAVE) of each j (written out: exact).
SCALES_PER_OCTAVE: Final = 4
_ROOTS: Final = (1.0, 1.189207115002721, 1.4142135623730951, 1.681792830507429)
#: The smallest scale (class 0) is 2**MIN_EXPONENT bins.
MIN_EXPONENT: Final = -3
#: Number of scale classes (the largest is about 2**20 bins).
SCALE_CLASSES: Final = (20 - MIN_EXPONENT) * SCALES_PER_OCTAVE + 1
#: Residuals are tabulated within SPAN scales of the location; beyond, they are escapes.
SPAN: Final = 12.0
#: Points of a learned cumulative distribution on [-SPAN, SPAN].
GRID: Final = 481
#: The largest scale (in units of 2**split) a table is built for: 2**TABLE_EXPONENT bins.
TABLE_EXPONENT: Final = 6
#: Every table entry has at least this probability (so that no symbol is impossible).
FLOOR: Final = 1e-9


def sigma_bins(k: int) -> float:
    """The scale of class ``k`` in quantisation bins: ``2**(MIN_EXPONENT + k / SCALES_PER_OCTAVE)``."""
    return math.ldexp(_ROOTS[k % SCALES_PER_OCTAVE], MIN_EXPONENT + k // SCALES_PER_OCTAVE)


def split_bits(k: int) -> int:
    """Low bits of a residual of class ``k`` coded uniformly (its table then spans <= 2**7 bins)."""
    return max(0, MIN_EXPONENT + k // SCALES_PER_OCTAVE - TABLE_EXPONENT)


def check_cdf(cdf: npt.NDArray[np.float64], name: str) -> None:
    """:class:`ModelError` unless ``cdf`` is a strictly increasing table of GRID values in (0, 1)."""
    if cdf.dtype != np.float64 or cdf.shape != (GRID,):
        raise ModelError(f"column {name!r}: its residual shape must be {GRID} float64 values")
    if not (np.isfinite(cdf).all() and cdf[0] > 0 and cdf[-1] < 1 and (np.diff(cdf) > 0).all()):
        raise ModelError(f"column {name!r}: its residual shape is not a distribution function")


def evaluate(cdf: npt.NDArray[np.float64], u: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``F(u)``: linear between grid points, ``cdf[0]`` below and ``cdf[-1]`` above the grid."""
    pos = (np.clip(u, -SPAN, SPAN) + SPAN) * ((GRID - 1) / (2 * SPAN))
    i = np.minimum(np.floor(pos).astype(np.int64), GRID - 2)
    frac = pos - i
    out: npt.NDArray[np.float64] = cdf[i] + frac * (cdf[i + 1] - cdf[i])
    return out


def class_table(cdf: npt.NDArray[np.float64], k: int) -> tuple[npt.NDArray[np.float64], int, int]:
    """The probabilities of class ``k`` (residual high parts ``-R..R``, then the escape), ``R`` and
    the split bits."""
    if not 0 <= k < SCALE_CLASSES:
        raise ModelError(f"scale class {k} is outside 0..{SCALE_CLASSES - 1}")
    b = split_bits(k)
    sigma = sigma_bins(k)
    width = float(1 << b)
    radius = math.ceil(SPAN * sigma / width) + 1
    h = np.arange(-radius, radius + 2, dtype=np.float64)
    edges = evaluate(cdf, (h * width - 0.5) / sigma)
    p = np.diff(edges)
    escape = edges[0] + (1.0 - edges[-1])
    out = np.append(p, escape) + FLOOR
    return out, radius, b


def fit_cdf(u: npt.NDArray[np.float64], prior: float = 0.02) -> npt.NDArray[np.float64]:
    """The tabulated distribution function of residuals ``u`` (in units of their predicted
    scale), mixed with ``prior`` of a logistic of unit scale so that it is strictly increasing."""
    grid = np.linspace(-SPAN, SPAN, GRID)
    u = u[np.isfinite(u)]
    emp = np.searchsorted(np.sort(u), grid, side="right") / u.size if u.size else np.zeros(GRID)
    with np.errstate(over="ignore"):
        logistic = 1.0 / (1.0 + np.exp(-grid))
    cdf = (1.0 - prior) * emp + prior * logistic
    # on the grid of stored values (multiples of 2**-32), strictly increasing
    fixed = np.rint(np.clip(cdf, 0.0, 1.0) * 2.0**32)
    fixed = np.maximum(fixed, np.arange(1, GRID + 1))
    fixed = np.maximum.accumulate(fixed - np.arange(GRID)) + np.arange(GRID)
    fixed = np.minimum(fixed, 2.0**32 - GRID + np.arange(GRID))
    out: npt.NDArray[np.float64] = fixed / 2.0**32
    return out


__all__ = [
    "FLOOR",
    "GRID",
    "MIN_EXPONENT",
    "SCALES_PER_OCTAVE",
    "SCALE_CLASSES",
    "SPAN",
    "check_cdf",
    "class_table",
    "evaluate",
    "fit_cdf",
    "sigma_bins",
    "split_bits",
]
