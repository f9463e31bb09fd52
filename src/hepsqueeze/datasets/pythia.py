"""The generator worker: one block of events from Pythia 8, clustered into jets with FastJet.

Each block gets a fresh Pythia instance seeded from (user seed, process, block start), so a block's
output depends only on the configuration and its position, never on which process ran it or on
which blocks ran before (Pythia adapts its internal sampling maxima as it generates).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import GeneratorError

from .config import JET_COLUMNS, GeneratorConfig

log = logging.getLogger(__name__)

#: Pythia accepts seeds in 1..900000000 (Random:seed).
PYTHIA_SEED_MAX = 900_000_000

#: Consecutive failed ``pythia.next()`` calls tolerated for one event before giving up.
MAX_NEXT_ATTEMPTS = 10

# Largest float32 strictly below pi: float32(pi) itself is slightly *above* pi, so phi values rounded
# to it would fall outside [-pi, pi).
_PHI_LIMIT32 = np.nextafter(np.float32(math.pi), np.float32(0.0))


def pythia_seed(seed: int, process: str, start: int) -> int:
    """Pythia seed (1..900000000) for the block of ``process`` starting at event ``start``.

    A cryptographic hash rather than ``hash()``, which is salted per interpreter run.
    """
    digest = hashlib.blake2b(f"hepsqueeze:{seed}:{process}:{start}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % PYTHIA_SEED_MAX + 1


def empty_columns() -> dict[str, npt.NDArray[Any]]:
    """Zero-length jet columns with the output dtypes."""
    return {name: np.empty(0, dtype=dtype) for name, dtype in JET_COLUMNS.items()}


@dataclass
class EventContent:
    """What one pass over an event record collects (grows with new output kinds)."""

    visible: list[Any] = field(default_factory=list)  # fastjet.PseudoJet of visible final-state particles


def scan_event(event: Any, pseudojet: Any) -> EventContent:
    """Single loop over a Pythia event record collecting everything the outputs need.

    ``pseudojet`` is the ``fastjet.PseudoJet`` constructor (px, py, pz, E in GeV).
    """
    content = EventContent()
    for particle in event:
        # isFinal first: the cheaper test, and it rejects most of the record (decayed or intermediate).
        if particle.isFinal() and particle.isVisible():
            content.visible.append(pseudojet(particle.px(), particle.py(), particle.pz(), particle.e()))
    return content


def generate_block(config: GeneratorConfig, start: int, stop: int) -> dict[str, npt.NDArray[Any]]:
    """Jets of events ``[start, stop)``: columns ``event, E, pt, eta, phi`` (GeV, radians).

    ``event`` is the global event index; jets within an event are ordered by descending pt. Events
    without a selected jet contribute no rows. Raises :class:`GeneratorError` if Pythia fails.
    """
    if not 0 <= start <= stop <= config.events:
        raise GeneratorError(f"block [{start}, {stop}) is outside [0, {config.events})")
    fastjet = _import_fastjet()
    pythia = _make_pythia(config, pythia_seed(config.seed, config.process, start))
    jet_def = fastjet.JetDefinition(fastjet.antikt_algorithm, config.jet_r)

    event_ids: list[int] = []
    kin: list[tuple[float, float, float, float]] = []  # E, pt, eta, phi per jet
    for index in range(start, stop):
        _next_event(pythia, config.process, index)
        content = scan_event(pythia.event, fastjet.PseudoJet)
        for jet in _cluster_jets(fastjet, content.visible, jet_def, config):
            event_ids.append(index)
            kin.append(jet)

    if not kin:
        return empty_columns()
    values = np.asarray(kin, dtype=np.float64)
    return {
        "event": np.asarray(event_ids, dtype=JET_COLUMNS["event"]),
        "E": values[:, 0].astype(JET_COLUMNS["E"]),
        "pt": values[:, 1].astype(JET_COLUMNS["pt"]),
        "eta": values[:, 2].astype(JET_COLUMNS["eta"]),
        "phi": _phi_float32(values[:, 3]),
    }


def _cluster_jets(
    fastjet: Any, particles: list[Any], jet_def: Any, config: GeneratorConfig
) -> list[tuple[float, float, float, float]]:
    """Anti-kt jets passing the pt and |eta| cuts as (E, pt, eta, phi), by descending pt."""
    if not particles:
        return []
    sequence = fastjet.ClusterSequence(particles, jet_def)
    jets = fastjet.sorted_by_pt(sequence.inclusive_jets(config.jet_pt_min))
    # inclusive_jets keeps pt >= min; the cut is strict, hence the explicit pt test.
    return [
        (j.e(), j.pt(), j.eta(), j.phi_std())
        for j in jets
        if j.pt() > config.jet_pt_min and abs(j.eta()) < config.jet_eta_max
    ]


def _phi_float32(phi: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """Azimuth in [-pi, pi) as float32, whether compared in float32 or float64."""
    wrapped = np.where(phi >= math.pi, phi - 2.0 * math.pi, phi)
    return np.clip(wrapped.astype(np.float32), -_PHI_LIMIT32, _PHI_LIMIT32)


def _next_event(pythia: Any, process: str, index: int) -> None:
    # A failed next() leaves no usable event; Pythia's advice is to try again, which continues the
    # same random stream, so retries stay deterministic.
    for _ in range(MAX_NEXT_ATTEMPTS):
        if pythia.next():
            return
    raise GeneratorError(
        f"Pythia failed to generate {process} event {index} after {MAX_NEXT_ATTEMPTS} attempts"
    )


def _make_pythia(config: GeneratorConfig, seed: int) -> Any:
    try:
        import pythia8mc
    except ImportError as exc:
        raise GeneratorError(
            "event generation needs Pythia 8 (pythia8mc); install it with pip install 'hepsqueeze[generate]'"
        ) from exc
    # Second argument False: no Pythia banner on stdout.
    pythia = pythia8mc.Pythia("", False)
    settings = (
        "Print:quiet = on",
        "Next:numberCount = 0",
        "Beams:idA = 2212",
        "Beams:idB = 2212",
        f"Beams:eCM = {config.ecm_gev!r}",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
        *config.pythia_settings(),
    )
    for setting in settings:
        if not pythia.readString(setting):
            raise GeneratorError(f"Pythia rejected the setting {setting!r} (process {config.process!r})")
    if not pythia.init():
        raise GeneratorError(f"Pythia initialisation failed for process {config.process!r}")
    return pythia


@functools.cache
def _import_fastjet() -> Any:
    try:
        import fastjet
        import fastjet._swig
    except ImportError as exc:
        raise GeneratorError(
            "jet clustering needs FastJet (fastjet); install it with pip install 'hepsqueeze[generate]'"
        ) from exc
    # FastJet prints a banner to stdout on its first clustering; a null stream suppresses it, and
    # print_banner() then marks it as shown. The Python wrapper does not expose this, hence _swig.
    fastjet._swig.ClusterSequence.set_fastjet_banner_stream(None)
    fastjet._swig.ClusterSequence.print_banner()
    return fastjet
