"""Jets as (m, pt, eta, phi) for the network, (E, pt, eta, phi) for the table.

A model whose config has ``representation="mass"`` (preset ``ae4d-3m``) keeps the table's columns and
its own :attr:`~hepsqueeze.models.model.CompressionModel.variables` as they are (``E, pt, eta, phi``):
the codec, ``compress``/``decompress``, ``evaluate`` and the zoo see an ordinary four-column model, and
residuals stay labelled by the columns they measure. Only between the table and the normaliser the
energy is swapped for the mass:

- in (encoding, training): ``m = sign(m^2) sqrt(|E^2 - (pt cosh eta)^2|)``, the signed mass of ROOT's
  ``TLorentzVector::M()`` (:func:`signed_mass`), then clipped at 0: the few jets whose float32 E is
  below |p| (rounding, 0.03% of generated jets) enter the network as massless, the value the
  decoder's floor gives back, and no mass reaches the normaliser's ``log10(m + 1)`` outside its domain;
- out (decoding): ``E = sqrt(m^2 + (pt cosh eta)^2)`` from the decoded m, pt and eta (:func:`energy`),
  rounded up to float32, so that the table's own E, pt and eta give ``E^2 - p^2 >= 0`` in float64
  (as :func:`hepsqueeze.evaluation.physics.jet_masses` computes it) for every decoded jet.

The normaliser is fitted on, and its ``variables`` name, the network's variables (``m, pt, eta, phi``:
:func:`network_variables`). A table that holds m already (ATLAS-style files) passes through unchanged.
Everything is computed in float64 and returned as float32. This module needs numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ModelError

#: Names of the energy and mass variables (matched case-sensitively, as the table's columns).
ENERGY: Final = "E"
MASS: Final = "m"
Array = npt.NDArray[np.float64]


def momentum(pt: npt.ArrayLike, eta: npt.ArrayLike) -> Array:
    """``|p| = pt cosh(eta)`` in float64."""
    return np.asarray(pt, dtype=np.float64) * np.cosh(np.asarray(eta, dtype=np.float64))


def signed_mass(energy_: npt.ArrayLike, pt: npt.ArrayLike, eta: npt.ArrayLike) -> Array:
    """``sign(m^2) sqrt(|m^2|)`` with ``m^2 = E^2 - |p|^2``, in float64 (``TLorentzVector::M()``)."""
    e = np.asarray(energy_, dtype=np.float64)
    m2 = e * e - momentum(pt, eta) ** 2
    out: Array = np.sign(m2) * np.sqrt(np.abs(m2))
    return out


def energy(mass: npt.ArrayLike, pt: npt.ArrayLike, eta: npt.ArrayLike) -> Array:
    """``E = sqrt(|p|^2 + m |m|)`` in float64: the inverse of :func:`signed_mass` (for ``m >= 0``,
    ``sqrt(m^2 + |p|^2)``); ``m^2`` below ``-|p|^2`` gives ``E = 0``."""
    m = np.asarray(mass, dtype=np.float64)
    out: Array = np.sqrt(np.maximum(momentum(pt, eta) ** 2 + m * np.abs(m), 0.0))
    return out


def float32_up(x: Array) -> npt.NDArray[np.float32]:
    """``x`` as float32, rounded towards +inf (never below the float64 value)."""
    out = x.astype(np.float32)
    low = out.astype(np.float64) < x
    out[low] = np.nextafter(out[low], np.float32(np.inf))
    return out


def network_variables(representation: str, variables: Sequence[str]) -> tuple[str, ...]:
    """The variables the network sees: ``E`` replaced by ``m`` for the ``mass`` representation."""
    if representation == "identity":
        return tuple(variables)
    _slots(variables)
    return tuple(MASS if v == ENERGY else v for v in variables)


def _slots(variables: Sequence[str]) -> tuple[int | None, int, int]:
    """Indices of E (None if the table holds m), pt and eta; ModelError if they are not there."""
    names = list(variables)
    has_e, has_m = ENERGY in names, MASS in names
    if has_e == has_m or "pt" not in names or "eta" not in names:
        raise ModelError(
            f"the mass representation needs variables pt, eta and one of E or m, got {', '.join(names)}"
        )
    return (names.index(ENERGY) if has_e else None), names.index("pt"), names.index("eta")


def to_network(representation: str, variables: Sequence[str], x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Table values ``(rows, vars)`` in the network's variables (E -> m, clipped at 0), as float32.

    The identity representation returns ``x`` itself."""
    if representation == "identity":
        return x
    e, ipt, ieta = _slots(variables)
    out = np.array(x, dtype=np.float32, copy=True)
    if e is not None:
        with np.errstate(invalid="ignore", over="ignore"):
            m = signed_mass(x[:, e], x[:, ipt], x[:, ieta])
            out[:, e] = np.maximum(m, 0.0).astype(np.float32)
        bad = ~np.isfinite(np.asarray(x[:, e], dtype=np.float64))
        out[bad, e] = np.asarray(x, dtype=np.float32)[bad, e]  # NaN/inf stay visible to the checks
    return out


def from_network(
    representation: str, variables: Sequence[str], x: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Decoded values in the network's variables ``(rows, vars)`` -> the table's (m -> E), float32.

    Negative masses (none come out of a floored decoder; rounding at most) are taken as 0."""
    if representation == "identity":
        return x
    e, ipt, ieta = _slots(variables)
    if e is None:
        return x
    out = np.array(x, dtype=np.float32, copy=True)
    mass = np.maximum(np.asarray(x[:, e], dtype=np.float64), 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        out[:, e] = float32_up(energy(mass, x[:, ipt], x[:, ieta]))
    return out


__all__ = [
    "ENERGY",
    "MASS",
    "energy",
    "float32_up",
    "from_network",
    "momentum",
    "network_variables",
    "signed_mass",
    "to_network",
]
