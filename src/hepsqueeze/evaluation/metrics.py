"""Reconstruction metrics, as plain JSON-able dicts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

# Variables whose residual is relative, (out - in) / in, as in the prior work; others are absolute.
RELATIVE_VARIABLES: Final = frozenset({"e", "pt", "m"})
# Variables compared with wrap-around at +-pi.
ANGULAR_VARIABLES: Final = frozenset({"phi"})


def residual_kind(variable: str) -> str:
    """``"relative"`` for energies, momenta and masses, ``"absolute"`` otherwise."""
    return "relative" if variable.lower() in RELATIVE_VARIABLES else "absolute"


def residuals(
    original: npt.NDArray[Any], reconstructed: npt.NDArray[Any], variable: str
) -> npt.NDArray[np.float64]:
    """Per-value residual of one variable: relative for E/pt/m, absolute otherwise (phi wrapped)."""
    x = np.asarray(original, dtype=np.float64)
    y = np.asarray(reconstructed, dtype=np.float64)
    diff = y - x
    if variable.lower() in ANGULAR_VARIABLES:
        diff = (diff + np.pi) % (2 * np.pi) - np.pi
    if residual_kind(variable) == "relative":
        with np.errstate(divide="ignore", invalid="ignore"):
            diff = diff / x
    return diff


def residual_summary(
    original: npt.NDArray[Any], reconstructed: npt.NDArray[Any], variables: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Mean, std, RMS and max |.| of each variable's residual; arrays are ``(rows, len(variables))``."""
    out: dict[str, dict[str, Any]] = {}
    for j, var in enumerate(variables):
        r = residuals(original[:, j], reconstructed[:, j], var)
        r = r[np.isfinite(r)]
        n = int(r.size)
        out[var] = {
            "kind": residual_kind(var),
            "n": n,
            "mean": float(r.mean()) if n else float("nan"),
            "std": float(r.std()) if n else float("nan"),
            "rms": float(np.sqrt(np.mean(r**2))) if n else float("nan"),
            "max_abs": float(np.abs(r).max()) if n else float("nan"),
        }
    return out


def mse(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> float:
    """Mean squared difference over all values."""
    if a.size == 0:
        return float("nan")
    return float(np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2))
