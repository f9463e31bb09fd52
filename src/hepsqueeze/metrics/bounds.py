"""Per-variable error bounds, and the errors a reconstruction actually made.

A bound is relative (``|y - x| <= value * |x|``) for energies, momenta and masses, and absolute
(``|y - x| <= value``, in the variable's unit: rad for phi, none for eta) otherwise; phi differences
wrap around at +-pi. These are the residual conventions of :mod:`hepsqueeze.metrics.residuals`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ConfigError
from hepsqueeze.metrics.residuals import residual_kind, residuals

BoundKind = Literal["relative", "absolute"]
_KINDS: tuple[str, ...] = ("relative", "absolute")
# The largest relative bound bounds_from_errors gives (a relative bound must stay below 1).
RELATIVE_CAP: Final = 0.5


@dataclass(frozen=True)
class ErrorBound:
    """The largest error allowed on every value of one variable.

    ``kind`` is ``"relative"`` (``value`` is a fraction of ``|x|``, below 1) or ``"absolute"``
    (``value`` in the variable's unit). ``value`` must be finite and positive.
    """

    kind: BoundKind
    value: float

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ConfigError(f"error bound kind must be 'relative' or 'absolute', got {self.kind!r}")
        try:
            value = float(self.value)
        except (TypeError, ValueError):
            raise ConfigError(f"error bound must be a number, got {self.value!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(f"error bound must be finite and > 0, got {self.value!r}")
        if self.kind == "relative" and value >= 1:
            raise ConfigError(f"a relative error bound must be below 1, got {value!r}")
        object.__setattr__(self, "value", value)

    def as_dict(self) -> dict[str, Any]:
        """``{"kind": ..., "value": ...}``, for JSON."""
        return {"kind": self.kind, "value": self.value}


def bounds_for(variables: Sequence[str], eps: float) -> tuple[ErrorBound, ...]:
    """One bound per variable at error target ``eps``: relative for E/pt/m, absolute otherwise."""
    return tuple(ErrorBound(_kind(v), eps) for v in variables)


def bounds_from_errors(variables: Sequence[str], errors: Mapping[str, float]) -> tuple[ErrorBound, ...]:
    """Bounds equal to measured per-variable max errors (e.g. an autoencoder's), with each variable's kind.

    Relative errors above :data:`RELATIVE_CAP` are capped there: a tighter bound, so a baseline run at
    it is still at least as accurate as the measurement.
    """
    missing = [v for v in variables if v not in errors]
    if missing:
        raise ConfigError(f"no error given for variable(s) {', '.join(missing)}")
    out = []
    for v in variables:
        kind = _kind(v)
        value = float(errors[v])
        out.append(ErrorBound(kind, min(value, RELATIVE_CAP) if kind == "relative" else value))
    return tuple(out)


def _kind(variable: str) -> BoundKind:
    return "relative" if residual_kind(variable) == "relative" else "absolute"


def check_bounds(variables: Sequence[str], bounds: Sequence[ErrorBound] | None) -> tuple[ErrorBound, ...]:
    """Validate that ``bounds`` has one :class:`ErrorBound` per variable (raise :class:`ConfigError`)."""
    if bounds is None:
        raise ConfigError("this method needs one error bound per variable")
    out = tuple(bounds)
    if len(out) != len(variables):
        raise ConfigError(
            f"{len(out)} error bounds given for {len(variables)} variables ({', '.join(variables)})"
        )
    for var, b in zip(variables, out, strict=True):
        if not isinstance(b, ErrorBound):
            raise ConfigError(f"bound for {var!r} must be an ErrorBound, got {type(b).__name__}")
    return out


def column_errors(
    original: npt.NDArray[Any], reconstructed: npt.NDArray[Any], variable: str
) -> npt.NDArray[np.float64]:
    """``|residual|`` of every value, with the variable's convention (relative/absolute, phi wrapped).

    A relative residual at ``x == 0`` is 0 when the value came back exactly 0 and ``inf`` otherwise,
    so that no value escapes a bound check.
    """
    x = np.asarray(original, dtype=np.float64)
    y = np.asarray(reconstructed, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.abs(residuals(x, y, variable, kind=residual_kind(variable)))
    if residual_kind(variable) == "relative":
        zero = x == 0
        err[zero] = np.where(y[zero] == 0, 0.0, np.inf)
    return np.where(np.isnan(err), np.inf, err)


def error_summary(
    original: npt.NDArray[Any], reconstructed: npt.NDArray[Any], variables: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Per variable: ``max`` of ``|residual|`` and ``std`` of the signed residual (finite values)."""
    out: dict[str, dict[str, float]] = {}
    for j, var in enumerate(variables):
        err = column_errors(original[:, j], reconstructed[:, j], var)
        with np.errstate(divide="ignore", invalid="ignore"):
            signed = residuals(original[:, j], reconstructed[:, j], var, kind=residual_kind(var))
        signed = signed[np.isfinite(signed)]
        out[var] = {
            "max": float(err.max()) if err.size else 0.0,
            "std": float(signed.std()) if signed.size else 0.0,
        }
    return out


def within(error: float, bound: ErrorBound) -> bool:
    """Whether a measured max error respects ``bound``."""
    return error <= bound.value
