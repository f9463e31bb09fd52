"""The azimuthal difference, wrapped: the one place where phi's period is handled.

Every residual, bound check, generator cut and codec that compares azimuths uses these two
functions, so that "phi wrapped into [-pi, pi)" means the same bits everywhere.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

#: The period of phi (radians).
PHI_PERIOD = 2.0 * math.pi


def wrap_phi(phi: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``phi`` (float64) in [-pi, pi): values already there are kept bit for bit, the others are
    moved by whole periods; NaN and infinities stay NaN. A new array unless nothing moves."""
    out = np.asarray(phi, dtype=np.float64)
    off = (out < -math.pi) | (out >= math.pi)
    if off.any():
        out = out.copy()
        with np.errstate(invalid="ignore"):  # infinite phi: NaN, as the modulo of inf
            out[off] = (out[off] + math.pi) % PHI_PERIOD - math.pi
    return out


def delta_phi(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``a - b`` wrapped into [-pi, pi) (float64, broadcast)."""
    diff: npt.NDArray[Any] = np.subtract(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    return wrap_phi(diff)


__all__ = ["PHI_PERIOD", "delta_phi", "wrap_phi"]
