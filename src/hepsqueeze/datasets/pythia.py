"""The generator worker: one block of events from Pythia 8, clustered into jets with FastJet.

One event definition for every output kind: isolated electrons, muons and photons are removed,
the remaining visible final-state particles are clustered with anti-kt, and jets pass pt and |eta| cuts.

Each block gets a fresh Pythia instance seeded from (user seed, process, block start), so a block's
output depends only on the configuration and its position, never on which process ran it or on
which blocks ran before (Pythia adapts its internal sampling maxima as it generates).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import GeneratorError
from hepsqueeze.metrics.delta_phi import delta_phi

from .config import GeneratorConfig, table_columns
from .physics import (
    B_HADRON_PT_MIN,
    EventObject,
    Particles,
    b_labels,
    darkmachines_line,
    isolated_mask,
    missing_et,
    object_label,
)
from .substructure import Constituents, constituent_variables

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


def empty_columns(kind: str = "jets") -> dict[str, npt.NDArray[Any]]:
    """Zero-length columns of a table ``kind`` with the output dtypes."""
    return {name: np.empty(0, dtype=dtype) for name, dtype in table_columns(kind).items()}


@dataclass
class EventContent:
    """What one pass over an event record collects: final-state particles and heavy-flavour hadrons."""

    particles: Particles
    #: Weakly decaying b-hadrons with pt > B_HADRON_PT_MIN: pseudorapidity and phi.
    b_eta: npt.NDArray[np.float64]
    b_phi: npt.NDArray[np.float64]
    #: Weakly decaying c-hadrons (no b quark; no c-hadron among the daughters) with pt > B_HADRON_PT_MIN.
    c_eta: npt.NDArray[np.float64]
    c_phi: npt.NDArray[np.float64]
    #: Position of each of ``particles`` in the event record (``event[i]``).
    record_index: npt.NDArray[np.intp]


def scan_event(event: Any) -> EventContent:
    """Single loop over a Pythia event record collecting everything the outputs need (GeV)."""
    final: list[tuple[float, float, float, float, int, bool, bool, int]] = []
    heavy: tuple[list[Any], list[Any]] = ([], [])  # b-hadrons, c-hadrons
    for position, particle in enumerate(event):
        # isFinal first: the cheaper test, and it splits the record into the lists we need.
        if particle.isFinal():
            final.append(
                (
                    particle.px(),
                    particle.py(),
                    particle.pz(),
                    particle.e(),
                    particle.id(),
                    particle.isCharged(),
                    particle.isVisible(),
                    position,
                )
            )
        else:
            flavour = _heavy_flavour(particle.idAbs())
            if flavour and particle.isHadron():
                heavy[flavour == 4].append(particle)
    b_eta, b_phi = _weakly_decaying(event, heavy[0], 5)
    c_eta, c_phi = _weakly_decaying(event, heavy[1], 4)
    if final:
        px, py, pz, e, pid, charged, visible, positions = (
            np.asarray(col) for col in zip(*final, strict=True)
        )
    else:
        px = py = pz = e = np.empty(0)
        pid = positions = np.empty(0, dtype=np.int64)
        charged = visible = np.empty(0, dtype=np.bool_)
    particles = Particles(
        px=px.astype(np.float64),
        py=py.astype(np.float64),
        pz=pz.astype(np.float64),
        e=e.astype(np.float64),
        pid=pid.astype(np.int64),
        charged=charged.astype(np.bool_),
        visible=visible.astype(np.bool_),
    )
    return EventContent(particles, b_eta, b_phi, c_eta, c_phi, positions.astype(np.intp))


def _weakly_decaying(
    event: Any, hadrons: list[Any], flavour: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(eta, phi) of the ``hadrons`` above B_HADRON_PT_MIN with no daughter of the same ``flavour``."""
    eta: list[float] = []
    phi: list[float] = []
    for hadron in hadrons:
        # Weakly decaying: the last hadron of its chain (no hadron of its flavour among its daughters).
        if hadron.pT() > B_HADRON_PT_MIN and not any(
            _heavy_flavour(event[d].idAbs()) == flavour for d in hadron.daughterList()
        ):
            eta.append(hadron.eta())
            phi.append(hadron.phi())
    return np.asarray(eta, dtype=np.float64), np.asarray(phi, dtype=np.float64)


def _heavy_flavour(id_abs: int) -> int:
    """5 for codes of b-hadrons, 4 for c-hadrons without a b quark, else 0.

    PDG codes of hadrons hold their heaviest quarks in the hundreds (mesons) or thousands (baryons)
    digit; callers add the isHadron() test, which drops b- and c-diquarks and partons.
    """
    if id_abs <= 100:
        return 0
    hundreds, thousands = (id_abs // 100) % 10, (id_abs // 1000) % 10
    if hundreds == 5 or thousands == 5:
        return 5
    if hundreds == 4 or thousands == 4:
        return 4
    return 0


@dataclass
class Clustered:
    """Selected jets of one event, plus what was clustered (kept alive with the jets)."""

    jets: list[Any]
    inputs: npt.NDArray[np.intp]  # indices into the event's particles of the clustering inputs
    pseudojets: list[Any]  # the clustering inputs, user index = position in ``inputs``
    sequence: Any
    isolated: npt.NDArray[np.bool_]


class Clusterer:
    """The event-level jet definition shared by every kind: isolated objects out, anti-kt, cuts."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.fastjet = _import_fastjet()
        self.config = config
        self.jet_def = self.fastjet.JetDefinition(self.fastjet.antikt_algorithm, config.jet_r)

    def cluster(self, content: EventContent) -> Clustered:
        particles = content.particles
        isolated = isolated_mask(particles)
        inputs = np.flatnonzero(particles.visible & ~isolated)
        pseudojets = self.pseudojets(particles, inputs)
        if not pseudojets:
            return Clustered([], inputs, pseudojets, None, isolated)
        sequence = self.fastjet.ClusterSequence(pseudojets, self.jet_def)
        jets = self.select(sequence.inclusive_jets(self.config.jet_pt_min))
        return Clustered(jets, inputs, pseudojets, sequence, isolated)

    def pseudojets(self, particles: Particles, inputs: npt.NDArray[np.intp]) -> list[Any]:
        """PseudoJets of ``particles[inputs]``, each with its position in ``inputs`` as user index."""
        pseudojet = self.fastjet.PseudoJet
        out = []
        columns = (particles.px[inputs], particles.py[inputs], particles.pz[inputs], particles.e[inputs])
        for k, (px, py, pz, e) in enumerate(zip(*(c.tolist() for c in columns), strict=True)):
            p = pseudojet(px, py, pz, e)
            p.set_user_index(k)
            out.append(p)
        return out

    def select(self, jets: Any) -> list[Any]:
        """Jets passing the pt and |eta| cuts, by descending pt."""
        config = self.config
        # inclusive_jets keeps pt >= min; the cut is strict, hence the explicit pt test.
        return [
            j
            for j in self.fastjet.sorted_by_pt(jets)
            if j.pt() > config.jet_pt_min and abs(j.eta()) < config.jet_eta_max
        ]


def generate_block(config: GeneratorConfig, start: int, stop: int) -> dict[str, npt.NDArray[Any]]:
    """Table columns (kind ``jets`` or ``jets27d``) of the jets of events ``[start, stop)``.

    ``event`` is the global event index; jets within an event are ordered by descending pt. Events
    without a selected jet contribute no rows. Raises :class:`GeneratorError` if Pythia fails.
    """
    columns = table_columns(config.kind)  # ConfigError for kind "events"
    pythia, clusterer = start_block(config, start, stop)
    features = Jets27D(clusterer) if config.kind == "jets27d" else None

    event_ids: list[int] = []
    rows: list[tuple[float, ...]] = []
    for index in range(start, stop):
        next_event(pythia, config.process, index)
        content = scan_event(pythia.event)
        clustered = clusterer.cluster(content)
        if features is None:
            rows.extend((j.e(), j.pt(), j.eta(), j.phi_std()) for j in clustered.jets)
        else:
            rows.extend(features.rows(content, clustered))
        event_ids.extend([index] * len(clustered.jets))

    if not rows:
        return empty_columns(config.kind)
    values = np.asarray(rows, dtype=np.float64)
    out: dict[str, npt.NDArray[Any]] = {"event": np.asarray(event_ids, dtype=columns["event"])}
    for k, (name, dtype) in enumerate(list(columns.items())[1:]):
        out[name] = phi_float32(values[:, k]) if name == "phi" else values[:, k].astype(dtype)
    return out


def generate_event_lines(config: GeneratorConfig, start: int, stop: int) -> list[str]:
    """DarkMachines lines (no newline) of events ``[start, stop)``, one per event, even if empty.

    Objects: the jets of ``generate_block`` (``b`` when b-labelled, else ``j``) and the isolated
    electrons, muons and photons; MET from the invisible particles. MeV in the text.
    """
    pythia, clusterer = start_block(config, start, stop)
    lines = []
    for index in range(start, stop):
        next_event(pythia, config.process, index)
        content = scan_event(pythia.event)
        clustered = clusterer.cluster(content)
        jets = clustered.jets
        jet_eta = np.array([j.eta() for j in jets], dtype=np.float64)
        jet_phi = np.array([j.phi_std() for j in jets], dtype=np.float64)
        is_b = b_labels(jet_eta, jet_phi, content.b_eta, content.b_phi)
        objects = [
            EventObject("b" if b else "j", j.e(), j.pt(), eta, phi)
            for j, b, eta, phi in zip(jets, is_b.tolist(), jet_eta.tolist(), jet_phi.tolist(), strict=True)
        ]
        p = content.particles
        iso = np.flatnonzero(clustered.isolated)
        pt, eta, phi = p.pt[iso], p.eta[iso], p.phi[iso]
        objects += [
            EventObject(
                object_label(int(p.pid[i])), float(p.e[i]), float(pt[k]), float(eta[k]), float(phi[k])
            )
            for k, i in enumerate(iso.tolist())
        ]
        met, met_phi = missing_et(p)
        lines.append(darkmachines_line(index, config.process, met, met_phi, objects))
    return lines


def start_block(config: GeneratorConfig, start: int, stop: int) -> tuple[Any, Clusterer]:
    if not 0 <= start <= stop <= config.events:
        raise GeneratorError(f"block [{start}, {stop}) is outside [0, {config.events})")
    clusterer = Clusterer(config)  # FastJet first: a missing FastJet fails before Pythia starts
    return make_pythia(config, pythia_seed(config.seed, config.process, start)), clusterer


class Jets27D:
    """The 27 jet variables (``JETS27D_COLUMNS`` after ``event``) of one event's selected jets."""

    #: Ghost area (rapidity x azimuth units) for the active jet areas.
    GHOST_AREA = 0.01

    def __init__(self, clusterer: Clusterer) -> None:
        fastjet = clusterer.fastjet
        swig = fastjet._swig
        config = clusterer.config
        self.clusterer = clusterer
        self.r0 = config.jet_r
        # Ghosts on a fixed grid (no random scatter): FastJet's ghost random generator is global to
        # the process, so scattered ghosts would depend on what the process clustered before.
        spec = swig.GhostedAreaSpec(config.jet_eta_max + 2.0 * config.jet_r, 1, self.GHOST_AREA, 0.0, 0.0)
        self.area_def = swig.AreaDefinition(swig.active_area_explicit_ghosts, spec)
        # The strategy made for anti-kt with many ghosts: several times faster than the default here.
        self.area_jet_def = fastjet.JetDefinition(
            fastjet.antikt_algorithm, config.jet_r, swig.E_scheme, swig.N2MHTLazy9AntiKtSeparateGhosts, 1
        )
        # Exclusive-kt axes as in fjcontrib's ExclusiveJetAxes: kt with an R that merges everything.
        self.kt_def = fastjet.JetDefinition(fastjet.kt_algorithm, swig.JetDefinition.max_allowable_R)

    def rows(self, content: EventContent, clustered: Clustered) -> list[tuple[float, ...]]:
        jets = clustered.jets
        if not jets:
            return []
        areas = self._areas(clustered)
        p = content.particles
        inputs = clustered.inputs
        pt_all, eta_all, phi_all = p.pt[inputs], p.eta[inputs], p.phi[inputs]
        e_all = p.e[inputs]
        with np.errstate(divide="ignore"):
            rap_all = 0.5 * np.log((e_all + p.pz[inputs]) / (e_all - p.pz[inputs]))
        jet_eta = np.array([j.eta() for j in jets], dtype=np.float64)
        jet_phi = np.array([j.phi_std() for j in jets], dtype=np.float64)
        is_b = b_labels(jet_eta, jet_phi, content.b_eta, content.b_phi)
        out = []
        for k, jet in enumerate(jets):
            constituents = jet.constituents()
            index = np.fromiter(
                (c.user_index() for c in constituents), dtype=np.intp, count=len(constituents)
            )
            c = Constituents(
                pt=pt_all[index],
                e=e_all[index],
                eta=eta_all[index],
                rap=rap_all[index],
                phi=phi_all[index],
                pid=p.pid[inputs][index],
                charged=p.charged[inputs][index],
            )
            jet_e, jet_pt = jet.e(), jet.pt()
            variables = constituent_variables(
                c,
                jet_e=jet_e,
                jet_pt=jet_pt,
                jet_eta=float(jet_eta[k]),
                jet_phi=float(jet_phi[k]),
                axes=self._axes(constituents),
                r0=self.r0,
            )
            mass = math.sqrt(max(jet.m2(), 0.0))
            out.append((jet_e, jet_pt, jet_eta[k], jet_phi[k], mass, *variables, areas[k], float(is_b[k])))
        return out

    def _axes(self, constituents: Any) -> list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
        sequence = self.clusterer.fastjet.ClusterSequence(list(constituents), self.kt_def)
        axes = []
        for n in range(1, min(3, len(constituents)) + 1):
            subjets = sequence.exclusive_jets(n)
            axes.append(
                (
                    np.array([s.rap() for s in subjets], dtype=np.float64),
                    np.array([s.phi_std() for s in subjets], dtype=np.float64),
                )
            )
        return axes

    def _areas(self, clustered: Clustered) -> list[float]:
        """Active area of each selected jet, from a second clustering with explicit ghosts.

        Ghosts carry 1e-100 GeV, so that clustering finds the same jets; each jet takes the area of
        the ghosted jet nearest in (y, phi), which is the identical jet.
        """
        fastjet = self.clusterer.fastjet
        sequence = fastjet._swig.ClusterSequenceArea(clustered.pseudojets, self.area_jet_def, self.area_def)
        ghosted = self.clusterer.select(sequence.inclusive_jets(self.clusterer.config.jet_pt_min))
        if not ghosted:
            return [0.0] * len(clustered.jets)
        g_rap = np.array([g.rap() for g in ghosted])
        g_phi = np.array([g.phi_std() for g in ghosted])
        g_area = np.array([g.area() for g in ghosted])
        areas = []
        for jet in clustered.jets:
            dr2 = (g_rap - jet.rap()) ** 2 + delta_phi(g_phi, jet.phi_std()) ** 2
            areas.append(float(g_area[int(np.argmin(dr2))]))
        return areas


def phi_float32(phi: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """Azimuth in [-pi, pi) as float32, whether compared in float32 or float64."""
    wrapped = np.where(phi >= math.pi, phi - 2.0 * math.pi, phi)
    return np.clip(wrapped.astype(np.float32), -_PHI_LIMIT32, _PHI_LIMIT32)


def next_event(pythia: Any, process: str, index: int) -> None:
    # A failed next() leaves no usable event; Pythia's advice is to try again, which continues the
    # same random stream, so retries stay deterministic.
    for _ in range(MAX_NEXT_ATTEMPTS):
        if pythia.next():
            return
    raise GeneratorError(
        f"Pythia failed to generate {process} event {index} after {MAX_NEXT_ATTEMPTS} attempts"
    )


def make_pythia(config: GeneratorConfig, seed: int) -> Any:
    """A Pythia 8 instance set up for ``config``'s process, seeded with ``seed``, initialised."""
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
