"""NanoAOD-style events (kind ``nanoaod``): one ROOT ``Events`` tree entry per Pythia 8 event.

Every value comes from the generated event record and its FastJet jets (definitions in
docs/generator.md and in :data:`NANOAOD_BRANCHES`'s comments):

- ``run`` (1), ``luminosityBlock`` (``1 + index // 1000``) and ``event``
  (``(seed mod 10**10) * 10**9 + index + 1``, so that samples with other seeds have other numbers);
- ``Jet_*``: the jets of every other kind (isolated e, mu, photons removed, anti-kt, pt and |eta| cuts),
  by descending pt, with the ``jets27d`` variables under NanoAOD-like names (``Jet_mass``,
  ``Jet_nConstituents`` as uint8 saturating at 255, ``Jet_area`` the FastJet active area) and
  ``Jet_hadronFlavour`` (5: a weakly decaying b-hadron within dR < 0.4, else 4: a c-hadron, else 0);
- ``Muon_*``, ``Electron_*``, ``Photon_*``: final-state muons, electrons (pt > 3 GeV) and photons
  (pt > 5 GeV) with |eta| < 2.5, by descending pt, isolated or not; ``pfRelIso03_all`` is the scalar pt
  of the other visible particles within dR < 0.3 over the particle's pt;
- ``MET_*``: minus the vector pt sum of the visible particles with |eta| < 5, their scalar ET sum;
  ``GenMET_*``: the vector pt sum of the invisible particles (the MET of kind ``events``);
- ``GenPart_*``: Pythia's hard-process record (``pythia.process``) from the incoming partons on
  (resonance decays included), with mothers as indices into the event's GenPart list (-1: a beam).
  Incoming partons have pt = 0: their eta is stored as +-1e4 (:data:`GEN_BEAM_ETA`).

Floats are float32 as in NanoAOD; counters are int32, the type uproot writes them in.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ConfigError, GeneratorError
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.formats.root import EVENTS_TABLE, Root
from hepsqueeze.io.table import Table

from .config import JETS27D_COLUMNS, GeneratorConfig
from .physics import cone_pt_sums, hadron_flavours, missing_et, visible_met
from .pythia import Clustered, EventContent, Jets27D, next_event, phi_float32, scan_event, start_block

log = logging.getLogger(__name__)

Columns = dict[str, npt.NDArray[Any]]

#: Name and title of the tree.
TREE = "Events"
#: The jagged collections, in branch order; collection ``X`` has counter ``nX`` and branches ``X_*``.
COLLECTIONS: tuple[str, ...] = ("Jet", "Muon", "Electron", "Photon", "GenPart")
#: Final-state muons and electrons above this pt (GeV), photons above ``PHOTON_PT_MIN``, all within
#: |eta| < ``OBJECT_ETA_MAX``.
LEPTON_PT_MIN = 3.0
PHOTON_PT_MIN = 5.0
OBJECT_ETA_MAX = 2.5
#: |eta| stored for GenPart entries with pt = 0 (the incoming partons), with the sign of pz.
GEN_BEAM_ETA = 1.0e4
#: First entry of ``pythia.process`` in GenPart: 0 is the system, 1 and 2 the beams.
GEN_FIRST_ENTRY = 3
#: Events per luminosity block.
EVENTS_PER_LUMI_BLOCK = 1000
#: ``event = (seed mod SEED_MODULUS) * EVENT_STRIDE + index + 1`` fits in uint64.
EVENT_STRIDE = 10**9
SEED_MODULUS = 10**10
#: ``Jet_nConstituents`` is uint8, as in NanoAOD: larger counts are stored as 255.
MAX_UINT8 = 255

_U1, _U4, _U8 = np.dtype(np.uint8), np.dtype(np.uint32), np.dtype(np.uint64)
_I2, _I4, _F4 = np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.float32)

#: Jet branch suffix -> the ``jets27d`` column it holds (``hadronFlavour`` is computed here instead).
JET_FROM_JETS27D: dict[str, str] = {
    "pt": "pt",
    "eta": "eta",
    "phi": "phi",
    "mass": "m",
    "area": "area",
    "nConstituents": "n_constituents",
    **{
        name: name
        for name in JETS27D_COLUMNS
        if name not in ("event", "E", "pt", "eta", "phi", "m", "area", "n_constituents", "b_label")
    },
}


def _jet_branches() -> dict[str, np.dtype[Any]]:
    out: dict[str, np.dtype[Any]] = {}
    for suffix, column in JET_FROM_JETS27D.items():
        out[f"Jet_{suffix}"] = _U1 if suffix == "nConstituents" else JETS27D_COLUMNS[column]
        if suffix == "nConstituents":
            out["Jet_hadronFlavour"] = _I4
    return out


def _object_branches(name: str) -> dict[str, np.dtype[Any]]:
    return {
        f"{name}_{suffix}": dtype
        for suffix, dtype in (
            ("pt", _F4),
            ("eta", _F4),
            ("phi", _F4),
            ("mass", _F4),
            ("charge", _I4),
            ("pdgId", _I4),
            ("pfRelIso03_all", _F4),
        )
    }


#: Every branch of the tree, in order, with its dtype (counters ``nX`` are int32).
NANOAOD_BRANCHES: dict[str, np.dtype[Any]] = {
    "run": _U4,
    "luminosityBlock": _U4,
    "event": _U8,
    "nJet": _I4,
    **_jet_branches(),
    "nMuon": _I4,
    **_object_branches("Muon"),
    "nElectron": _I4,
    **_object_branches("Electron"),
    "nPhoton": _I4,
    **_object_branches("Photon"),
    "MET_pt": _F4,
    "MET_phi": _F4,
    "MET_sumEt": _F4,
    "GenMET_pt": _F4,
    "GenMET_phi": _F4,
    "nGenPart": _I4,
    "GenPart_pt": _F4,
    "GenPart_eta": _F4,
    "GenPart_phi": _F4,
    "GenPart_mass": _F4,
    "GenPart_pdgId": _I4,
    "GenPart_status": _I4,
    "GenPart_genPartIdxMother": _I2,
}

#: The azimuth branches, stored in [-pi, pi).
_AZIMUTHS = frozenset(n for n in NANOAOD_BRANCHES if n.endswith("_phi") and n != "Jet_width_phi")

#: Final-state objects: collection -> (|PDG id|, pt threshold in GeV).
OBJECTS: dict[str, tuple[int, float]] = {
    "Muon": (13, LEPTON_PT_MIN),
    "Electron": (11, LEPTON_PT_MIN),
    "Photon": (22, PHOTON_PT_MIN),
}


def counter_of(branch: str) -> str | None:
    """The counter branch (``nJet``) of a jagged branch (``Jet_pt``); None for flat and counter branches."""
    prefix, sep, _ = branch.partition("_")
    return f"n{prefix}" if sep and prefix in COLLECTIONS else None


def event_numbers(seed: int, index: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    """NanoAOD ``event`` of the events with 0-based ``index``: ``(seed mod 10**10) * 10**9 + index + 1``."""
    offset = np.uint64((seed % SEED_MODULUS) * EVENT_STRIDE)
    return offset + index.astype(np.uint64) + np.uint64(1)


def generate_nanoaod_block(config: GeneratorConfig, start: int, stop: int) -> Columns:
    """Values of every :data:`NANOAOD_BRANCHES` branch for events ``[start, stop)``.

    Flat and counter branches hold one value per event; a jagged branch holds its collection's
    values of all the events, concatenated. Raises :class:`GeneratorError` if Pythia fails.
    """
    if config.kind != "nanoaod":
        raise ConfigError(f"generate_nanoaod_block needs kind 'nanoaod', not {config.kind!r}")
    pythia, clusterer = start_block(config, start, stop)
    features = Jets27D(clusterer)
    parts: dict[str, list[npt.NDArray[Any]]] = {name: [] for name in NANOAOD_BRANCHES}
    for index in range(start, stop):
        next_event(pythia, config.process, index)
        content = scan_event(pythia.event)
        clustered = clusterer.cluster(content)
        values = {
            **_jets(features, content, clustered),
            **_objects(pythia.event, content),
            **_met(content),
            **_gen_particles(pythia.process),
        }
        for name, array in values.items():
            parts[name].append(array)
    index_array = np.arange(start, stop, dtype=np.int64)
    parts["run"] = [np.ones(index_array.size, dtype=_U4)]
    parts["luminosityBlock"] = [1 + index_array // EVENTS_PER_LUMI_BLOCK]
    parts["event"] = [event_numbers(config.seed, index_array)]
    return {name: _to_dtype(name, parts[name], dtype) for name, dtype in NANOAOD_BRANCHES.items()}


def _to_dtype(name: str, parts: list[npt.NDArray[Any]], dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    if not parts:
        return np.empty(0, dtype=dtype)
    values = np.concatenate(parts)
    if name in _AZIMUTHS:
        return phi_float32(values.astype(np.float64))
    if name == "Jet_nConstituents":
        values = np.minimum(values, MAX_UINT8)
    return values.astype(dtype)


def _jets(features: Jets27D, content: EventContent, clustered: Clustered) -> Columns:
    names = list(JETS27D_COLUMNS)[1:]
    rows = features.rows(content, clustered)
    table = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(names))
    column = {name: table[:, k] for k, name in enumerate(names)}
    out: Columns = {"nJet": np.array([len(rows)])}
    for suffix, name in JET_FROM_JETS27D.items():
        out[f"Jet_{suffix}"] = column[name]
    out["Jet_hadronFlavour"] = hadron_flavours(
        column["eta"],
        column["phi"],
        b_eta=content.b_eta,
        b_phi=content.b_phi,
        c_eta=content.c_eta,
        c_phi=content.c_phi,
    )
    return out


def _objects(event: Any, content: EventContent) -> Columns:
    """Muons, electrons and photons of the final state, each collection by descending pt."""
    p = content.particles
    pt, eta, phi = p.pt, p.eta, p.phi
    abs_pid = np.abs(p.pid)
    out: Columns = {}
    for name, (pid, pt_min) in OBJECTS.items():
        chosen = np.flatnonzero((abs_pid == pid) & (pt > pt_min) & (np.abs(eta) < OBJECT_ETA_MAX))
        chosen = chosen[np.argsort(-pt[chosen], kind="stable")]
        records = [event[i] for i in content.record_index[chosen].tolist()]
        out[f"n{name}"] = np.array([chosen.size])
        out[f"{name}_pt"] = pt[chosen]
        out[f"{name}_eta"] = eta[chosen]
        out[f"{name}_phi"] = phi[chosen]
        out[f"{name}_mass"] = np.array([r.m() for r in records], dtype=np.float64)
        out[f"{name}_charge"] = np.rint([r.charge() for r in records]).astype(np.int32)
        out[f"{name}_pdgId"] = p.pid[chosen]
        out[f"{name}_pfRelIso03_all"] = cone_pt_sums(p, chosen) / pt[chosen]
    return out


def _met(content: EventContent) -> Columns:
    met, met_phi, sum_et = visible_met(content.particles)
    gen_met, gen_phi = missing_et(content.particles)
    return {
        "MET_pt": np.array([met]),
        "MET_phi": np.array([met_phi]),
        "MET_sumEt": np.array([sum_et]),
        "GenMET_pt": np.array([gen_met]),
        "GenMET_phi": np.array([gen_phi]),
    }


def _gen_particles(process: Any) -> Columns:
    """The hard-process record from the incoming partons on; mothers re-indexed into this list."""
    rows = []
    for i in range(GEN_FIRST_ENTRY, process.size()):
        q = process[i]
        rows.append((q.px(), q.py(), q.pz(), q.m(), q.id(), q.status(), q.mother1()))
    table = np.asarray(rows, dtype=np.float64).reshape(len(rows), 7)
    px, py, pz, mass = table[:, 0], table[:, 1], table[:, 2], table[:, 3]
    pid, status, mother = (table[:, k].astype(np.int64) for k in (4, 5, 6))
    pt = np.hypot(px, py)
    safe_pt = np.where(pt > 0.0, pt, 1.0)
    eta = np.where(pt > 0.0, np.arcsinh(pz / safe_pt), np.copysign(GEN_BEAM_ETA, pz))
    return {
        "nGenPart": np.array([len(rows)]),
        "GenPart_pt": pt,
        "GenPart_eta": np.clip(eta, -GEN_BEAM_ETA, GEN_BEAM_ETA),
        "GenPart_phi": np.arctan2(py, px),
        "GenPart_mass": mass,
        "GenPart_pdgId": pid,
        # Pythia marks decayed entries with a negative status; NanoAOD keeps the code (21-29).
        "GenPart_status": np.abs(status),
        "GenPart_genPartIdxMother": np.where(mother >= GEN_FIRST_ENTRY, mother - GEN_FIRST_ENTRY, -1),
    }


def concat_blocks(blocks: list[Columns]) -> Columns:
    """The branch values of consecutive blocks of :func:`generate_nanoaod_block`, joined."""
    return {
        name: np.concatenate([b[name] for b in blocks]).astype(dtype, copy=False)
        if blocks
        else np.empty(0, dtype=dtype)
        for name, dtype in NANOAOD_BRANCHES.items()
    }


def nanoaod_dataset(columns: Columns, source: str) -> Dataset:
    """The :class:`Dataset` of branch values (:func:`concat_blocks`), as the ROOT reader gives it.

    Main table: the jets, ``event`` (entry number) then ``Jet_*``; auxiliary tables ``events`` (flat
    branches) and ``Muon``, ``Electron``, ``Photon``, ``GenPart``; the layout lets
    ``hepsqueeze.io.write_dataset(ds, "x.root")`` write the ``Events`` tree.
    """
    num_entries = int(columns["run"].size)
    entry = np.arange(num_entries, dtype=np.int64)
    tables: dict[str, Columns] = {EVENTS_TABLE: {}}
    branches: list[dict[str, Any]] = []
    for name, dtype in NANOAOD_BRANCHES.items():
        counter = counter_of(name)
        values = np.asarray(columns[name])
        if values.dtype != dtype:
            raise GeneratorError(f"branch {name!r} has dtype {values.dtype}, expected {dtype}")
        if name[1:] in COLLECTIONS and name[0] == "n":
            if values.size != num_entries or np.any(values < 0):
                raise GeneratorError(
                    f"counter {name!r} must hold a count >= 0 for each of {num_entries} events"
                )
            tables[name[1:]] = {"event": np.repeat(entry, values)}
            branches.append({"name": name, "kind": "counter", "dtype": dtype.str})
        elif counter is not None:
            table = tables[counter[1:]]
            if values.size != table["event"].size:
                raise GeneratorError(
                    f"branch {name!r} has {values.size} values, its counter {counter!r} sums to {table['event'].size}"
                )
            table[name] = values
            table_name = None if counter == "nJet" else counter[1:]
            branches.append(
                {"name": name, "kind": "jagged", "dtype": dtype.str, "counter": counter, "table": table_name}
            )
        else:
            if values.size != num_entries:
                raise GeneratorError(f"branch {name!r} has {values.size} values for {num_entries} events")
            tables[EVENTS_TABLE][name] = values
            branches.append({"name": name, "kind": "flat", "dtype": dtype.str, "table": EVENTS_TABLE})
    layout = {
        "format": "root",
        "tree": TREE,
        "title": TREE,
        "num_entries": num_entries,
        "branches": branches,
        "collections": {f"n{c}": {"table": None if c == "Jet" else c, "index": "event"} for c in COLLECTIONS},
        "other_objects": [],
    }
    main = Table(tables.pop("Jet"), source=source)
    aux = {name: Table(values, source=source) for name, values in tables.items()}
    return Dataset(main, aux, layout)


def write_nanoaod(dataset: Dataset, path: str | Path) -> None:
    """Write a :func:`nanoaod_dataset` as the ROOT file ``path`` (whatever its extension, not atomically)."""
    Root().write_dataset(dataset, Path(path))


def read_nanoaod(path: str | Path, events: int, source: str) -> Dataset:
    """Read a file of :func:`write_nanoaod` back; :class:`GeneratorError` unless it holds ``events``
    events with exactly the :data:`NANOAOD_BRANCHES`. Tables get ``source`` as their source."""
    dataset = Root().read_dataset(Path(path), ["Jet_pt"])
    layout = dataset.layout
    found = [(str(b["name"]), np.dtype(str(b["dtype"]))) for b in layout["branches"]]
    if found != list(NANOAOD_BRANCHES.items()):
        raise GeneratorError(f"{path} does not hold the branches of a generated NanoAOD tree")
    if layout.get("tree") != TREE or int(layout["num_entries"]) != events:
        raise GeneratorError(f"{path} holds {layout['num_entries']} entries, expected {events} events")
    return Dataset(
        Table(dict(dataset.table.columns), source=source),
        {name: Table(dict(t.columns), source=source) for name, t in dataset.aux.items()},
        layout,
    )
