"""Per-variable normalisation: physical values (GeV, radians) <-> the network's input space.

Every scheme is stored in one form per variable, ``y = (g(x) - shift) / scale`` with ``g`` either the
identity or ``log10(x + log_offset)``, so a saved normaliser is a few numbers in JSON and its inverse
is exact up to float rounding. Schemes:

- ``custom``: the prior work's fixed transforms by variable name and type (see ``CUSTOM_RULES``):
  logs for energies, momenta and masses, plain scaling for eta and phi, fractions and labels kept in
  [0, 1]. Names without a rule (counts, widths, N-subjettiness, ...) are standardised.
- ``custom+minmax``: the custom ``g`` followed by a min-max fit, as in the 2021 evaluation task
  (log E, log pt, then min-max for all four).
- ``minmax``: ``(x - min) / (max - min)``; ``standard``: ``(x - mean) / std``; ``none``: identity.

Fits use the training split only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ConfigError, InputError

SCHEMES: Final = ("custom", "custom+minmax", "minmax", "standard", "none")


@dataclass(frozen=True)
class VariableTransform:
    """``y = (g(x) - shift) / scale`` with ``g(x) = log10(x + log_offset)`` if ``log`` else ``x``."""

    log: bool = False
    log_offset: float = 0.0
    shift: float = 0.0
    scale: float = 1.0

    def __post_init__(self) -> None:
        for name in ("log_offset", "shift", "scale"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not np.isfinite(value):
                raise ConfigError(f"normalisation {name} must be a finite number, got {value!r}")
        if self.scale == 0.0:
            raise ConfigError("normalisation scale must be non-zero")

    def to_dict(self) -> dict[str, Any]:
        return {"log": self.log, "log_offset": self.log_offset, "shift": self.shift, "scale": self.scale}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VariableTransform:
        try:
            return cls(
                log=bool(data["log"]),
                log_offset=float(data["log_offset"]),
                shift=float(data["shift"]),
                scale=float(data["scale"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"invalid variable transform {dict(data)!r}: {exc}") from None


# The prior work's "custom" normalisation (GeV, radians). The E rule is ours: the originals give one
# for m (ATLAS files) and log10 for E (DarkMachines); we use the pt constants so E and pt share a scale.
CUSTOM_RULES: Final[Mapping[str, VariableTransform]] = {
    "pt": VariableTransform(log=True, shift=1.3, scale=1.2),
    "e": VariableTransform(log=True, shift=1.3, scale=1.2),
    "m": VariableTransform(log=True, log_offset=1.0, shift=0.0, scale=1.8),
    "eta": VariableTransform(scale=5.0),
    "phi": VariableTransform(scale=3.0),
    # jets27d (docs/generator.md), by variable type: the leading constituent's pt like pt; fractions,
    # ratios and the b-label already lie in [0, 1] (tau ratios up to ~1.2) and are kept as they are.
    # Counts, widths, axes, tau_N, C2 and the area have no fixed rule: they are standardised.
    "lead_pt": VariableTransform(log=True, shift=1.3, scale=1.2),
    **{
        name: VariableTransform()
        for name in (
            "charged_fraction",
            "photon_fraction",
            "neutral_hadron_fraction",
            "lead_fraction",
            "ptd",
            "tau21",
            "tau32",
            "b_label",
        )
    },
}


def _custom_rule(variable: str) -> VariableTransform | None:
    return CUSTOM_RULES.get(variable.lower())


@dataclass(frozen=True)
class Normaliser:
    """A fitted normalisation of ``variables`` (physical units) to the network's space."""

    scheme: str
    variables: tuple[str, ...]
    transforms: tuple[VariableTransform, ...]

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ConfigError(f"unknown normalisation {self.scheme!r}; choose one of {', '.join(SCHEMES)}")
        if len(self.variables) != len(self.transforms):
            raise ConfigError("normaliser needs one transform per variable")

    @classmethod
    def fit(cls, scheme: str, variables: Sequence[str], x: npt.NDArray[Any]) -> Normaliser:
        """Fit ``scheme`` on training data ``x`` of shape ``(rows, len(variables))`` in physical units."""
        if scheme not in SCHEMES:
            raise ConfigError(f"unknown normalisation {scheme!r}; choose one of {', '.join(SCHEMES)}")
        data = np.asarray(x, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] != len(variables):
            raise InputError(f"expected data of shape (rows, {len(variables)}), got {data.shape}")
        if data.shape[0] == 0 and scheme not in ("none", "custom"):
            raise InputError(f"cannot fit normalisation {scheme!r} on an empty table")
        transforms = []
        for j, var in enumerate(variables):
            transforms.append(_fit_one(scheme, var, data[:, j]))
        return cls(scheme, tuple(variables), tuple(transforms))

    def check_domain(self, x: npt.NDArray[Any], columns: Sequence[str] | None = None) -> None:
        """Raise :class:`InputError` if a logged variable has values its log cannot take."""
        names = list(columns) if columns is not None else list(self.variables)
        for j, t in enumerate(self.transforms):
            if t.log:
                bad = np.count_nonzero(~(x[:, j] + t.log_offset > 0))
                if bad:
                    raise InputError(
                        f"column {names[j]!r} has {bad} values <= {-t.log_offset + 0.0:g}, which the "
                        f"{self.scheme!r} normalisation takes the log of; choose the standard normalisation",
                        column=names[j],
                        option="normalisation",
                    )

    def forward(self, x: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        """Physical ``(rows, vars)`` -> normalised float32 ``(rows, vars)``."""
        data = np.asarray(x, dtype=np.float64)
        out = np.empty(data.shape, dtype=np.float64)
        for j, t in enumerate(self.transforms):
            col = data[:, j]
            if t.log:
                with np.errstate(divide="ignore", invalid="ignore"):
                    col = np.log10(col + t.log_offset)
            out[:, j] = (col - t.shift) / t.scale
        return out.astype(np.float32)

    def inverse(self, y: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        """Normalised ``(rows, vars)`` -> physical float32 ``(rows, vars)``."""
        data = np.asarray(y, dtype=np.float64)
        out = np.empty(data.shape, dtype=np.float64)
        for j, t in enumerate(self.transforms):
            col = data[:, j] * t.scale + t.shift
            if t.log:
                with np.errstate(over="ignore"):
                    col = np.power(10.0, col) - t.log_offset
            out[:, j] = col
        return out.astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "variables": list(self.variables),
            "transforms": [t.to_dict() for t in self.transforms],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Normaliser:
        try:
            variables = tuple(str(v) for v in data["variables"])
            transforms = tuple(VariableTransform.from_dict(t) for t in data["transforms"])
            return cls(str(data["scheme"]), variables, transforms)
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"invalid normaliser description: missing or bad field {exc}") from None


def _fit_one(scheme: str, variable: str, col: npt.NDArray[np.float64]) -> VariableTransform:
    if scheme == "none":
        return VariableTransform()
    if scheme in ("custom", "custom+minmax"):
        rule = _custom_rule(variable)
        if rule is None:
            # No fixed rule for this variable: standardise it, fitted like the other schemes.
            return _fit_one("standard", variable, col)
        if scheme == "custom":
            return rule
        g = np.log10(col + rule.log_offset) if rule.log else col
        return _minmax(g, log=rule.log, log_offset=rule.log_offset, variable=variable)
    if scheme == "minmax":
        return _minmax(col, log=False, log_offset=0.0, variable=variable)
    # standard
    finite = col[np.isfinite(col)]
    if finite.size == 0:
        raise InputError(f"variable {variable!r} has no finite values to fit a normalisation on")
    std = float(finite.std())
    return VariableTransform(shift=float(finite.mean()), scale=std if std > 0 else 1.0)


def _minmax(g: npt.NDArray[np.float64], *, log: bool, log_offset: float, variable: str) -> VariableTransform:
    finite = g[np.isfinite(g)]
    if finite.size == 0:
        raise InputError(f"variable {variable!r} has no finite values to fit a normalisation on")
    lo, hi = float(finite.min()), float(finite.max())
    return VariableTransform(log=log, log_offset=log_offset, shift=lo, scale=(hi - lo) if hi > lo else 1.0)
