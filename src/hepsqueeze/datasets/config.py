"""Generator settings, their validation and the cache key derived from them."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hepsqueeze.errors import ConfigError, nearest_names

from .processes import PROCESSES

#: Bump whenever a code change alters generated output, so stale cache files are not reused.
# 2: isolated e/mu/photons removed before jet clustering; 3: one delta phi (hepsqueeze.metrics.delta_phi):
# differences already in [-pi, pi) are no longer rounded by the modulo
GENERATOR_CODE_VERSION = "3"

#: Bump whenever a code change alters the ``nanoaod`` output only; it enters only that kind's cache key.
NANOAOD_CODE_VERSION = "1"

#: Most events of one ``nanoaod`` sample: event numbers are ``(seed mod 10**10) * 10**9 + index + 1``.
NANOAOD_MAX_EVENTS = 10**9

#: Largest accepted user seed (exclusive); Pythia's own seed is derived from it by hashing.
SEED_LIMIT = 2**63

#: Output columns of the jet table and their dtypes (energies and momenta in GeV, phi in radians).
JET_COLUMNS: dict[str, np.dtype[Any]] = {
    "event": np.dtype(np.int64),
    "E": np.dtype(np.float32),
    "pt": np.dtype(np.float32),
    "eta": np.dtype(np.float32),
    "phi": np.dtype(np.float32),
}

#: Output kinds: 4D jets (a table), DarkMachines event lines (a dataset), 27-variable jets (a table),
#: NanoAOD-style ROOT events (a dataset: jets, leptons, photons, MET and the hard process per event).
KINDS: tuple[str, ...] = ("jets", "events", "jets27d", "nanoaod")

_F32 = np.dtype(np.float32)
_I32 = np.dtype(np.int32)

#: Columns of the ``jets27d`` table (definitions and units in docs/generator.md): GeV for energies,
#: momenta, masses and widths in momentum; radians or plain numbers (eta-phi distances) otherwise.
JETS27D_COLUMNS: dict[str, np.dtype[Any]] = {
    "event": np.dtype(np.int64),
    "E": _F32,
    "pt": _F32,
    "eta": _F32,
    "phi": _F32,
    "m": _F32,
    "n_constituents": _I32,
    "n_charged": _I32,
    "n90": _I32,
    "charged_fraction": _F32,
    "photon_fraction": _F32,
    "neutral_hadron_fraction": _F32,
    "width": _F32,
    "width_eta": _F32,
    "width_phi": _F32,
    "axis_major": _F32,
    "axis_minor": _F32,
    "ptD": _F32,
    "lead_pt": _F32,
    "lead_fraction": _F32,
    "tau1": _F32,
    "tau2": _F32,
    "tau3": _F32,
    "tau21": _F32,
    "tau32": _F32,
    "C2": _F32,
    "area": _F32,
    "b_label": _I32,
}


def table_columns(kind: str) -> dict[str, np.dtype[Any]]:
    """Columns and dtypes of the table of a table kind (``jets`` or ``jets27d``)."""
    if kind == "jets":
        return JET_COLUMNS
    if kind == "jets27d":
        return JETS27D_COLUMNS
    raise ConfigError(f"kind {kind!r} does not produce a table (table kinds: jets, jets27d)")


@dataclass(frozen=True)
class GeneratorConfig:
    """Settings for one generated jet sample.

    ``process`` names an entry of :data:`~hepsqueeze.datasets.PROCESSES`; ``events`` is the number of
    pp collisions at ``ecm_gev`` (GeV, centre of mass); ``pthat_min`` (GeV) is the minimum hard-process
    transverse momentum for processes that use it (``qcd``, ``wjets``, ``zjets``); ``mass`` (GeV) is
    the resonance mass of the new-physics signals (``zprime``, ``excitedq``). ``kind`` is the output:
    ``jets`` (4D jets), ``events`` (DarkMachines lines), ``jets27d`` (27 variables per jet) or
    ``nanoaod`` (a NanoAOD-style ``Events`` tree, at most :data:`NANOAOD_MAX_EVENTS` events). Jets
    are anti-kt with radius ``jet_r`` of the visible final-state particles minus isolated electrons,
    muons and photons, kept if pt > ``jet_pt_min`` (GeV) and |eta| < ``jet_eta_max``. Events are
    generated in blocks of ``block_events``, each with its own seed, so output does not depend on
    the number of workers.
    """

    process: str
    events: int
    seed: int
    pthat_min: float = 50.0
    ecm_gev: float = 13000.0
    jet_r: float = 0.4
    jet_pt_min: float = 20.0
    jet_eta_max: float = 4.5
    block_events: int = 250
    kind: str = "jets"
    mass: float = 2000.0

    def __post_init__(self) -> None:
        if not isinstance(self.process, str) or self.process not in PROCESSES:
            near = nearest_names(str(self.process), PROCESSES)
            hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
            raise ConfigError(
                f"unknown process {self.process!r} (known: {', '.join(sorted(PROCESSES))}){hint}"
            )
        if not isinstance(self.kind, str) or self.kind not in KINDS:
            raise ConfigError(f"unknown kind {self.kind!r} (known: {', '.join(KINDS)})")
        for name, low, high in (("events", 0, None), ("seed", 0, SEED_LIMIT - 1), ("block_events", 1, None)):
            object.__setattr__(self, name, _check_int(name, getattr(self, name), low, high))
        if self.kind == "nanoaod" and self.events > NANOAOD_MAX_EVENTS:
            raise ConfigError(
                f"kind 'nanoaod' takes at most {NANOAOD_MAX_EVENTS} events (unique event numbers), "
                f"got {self.events}"
            )
        # Stored as float so that 50 and 50.0 give the same cache key and Pythia setting string.
        for fname, fmin, min_inclusive in (
            ("pthat_min", 0.0, True),
            ("ecm_gev", 0.0, False),
            ("jet_r", 0.0, False),
            ("jet_pt_min", 0.0, True),
            ("jet_eta_max", 0.0, False),
            ("mass", 0.0, False),
        ):
            object.__setattr__(self, fname, _check_float(fname, getattr(self, fname), fmin, min_inclusive))

    def pythia_settings(self) -> tuple[str, ...]:
        """The process-specific Pythia settings with this configuration's values filled in."""
        return PROCESSES[self.process].pythia_settings(dataclasses.asdict(self))

    def cache_key(self) -> str:
        """Hex digest identifying the output: every setting that affects it, plus code versions.

        Process parameters enter through the Pythia settings they produce (``pthat_min`` and ``mass``
        do not change a ``ttbar`` key), so a registry change also invalidates old cache files.
        ``nanoaod`` keys also hold :data:`NANOAOD_CODE_VERSION` (the other kinds' keys do not).
        """
        payload: dict[str, Any] = {
            "code_version": GENERATOR_CODE_VERSION,
            "pythia8mc": _version("pythia8mc"),
            "fastjet": _version("fastjet"),
            "process": self.process,
            "kind": self.kind,
            "process_settings": list(self.pythia_settings()),
            "events": self.events,
            "seed": self.seed,
            "ecm_gev": self.ecm_gev,
            "jet_r": self.jet_r,
            "jet_pt_min": self.jet_pt_min,
            "jet_eta_max": self.jet_eta_max,
            "block_events": self.block_events,
        }
        if self.kind == "nanoaod":
            payload["nanoaod_version"] = NANOAOD_CODE_VERSION
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not-installed"


def _check_int(name: str, value: object, low: int, high: int | None) -> int:
    # bool is an int subclass; True as an event count is almost certainly a mistake.
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ConfigError(f"{name} must be {bound}, got {value}")
    return int(value)


def _check_float(name: str, value: object, low: float, low_inclusive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ConfigError(f"{name} must be finite, got {number}")
    if number < low or (number == low and not low_inclusive):
        raise ConfigError(f"{name} must be {'>=' if low_inclusive else '>'} {low:g}, got {number:g}")
    return number
