"""A NanoAOD-like ROOT tree made in a moment (no generator): the analysis and dask reader tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

MAX_ERROR = "*_pt=1e-3r,*_mass=1e-3r,*_eta=1e-3,*_phi=1e-3,*=1e-3"
COUNTERS = {"Jet_pt": "nJet", "Jet_eta": "nJet", "Jet_phi": "nJet", "Jet_mass": "nJet", "Jet_btag": "nJet"}
COUNTERS |= {"Jet_nConst": "nJet", "Muon_pt": "nMuon", "Muon_eta": "nMuon", "Muon_charge": "nMuon"}


def nano_tree(path: Path, events: int = 300, seed: int = 4) -> Path:
    """A NanoAOD-like ``Events`` tree: per-event branches, ``MET_*``, jets (some events without),
    muons, a trigger bit and a fixed-size array branch."""
    rng = np.random.default_rng(seed)
    n_jet = rng.integers(0, 7, events)
    n_jet[-1] = 0
    n_mu = rng.integers(0, 3, events)
    jets, mus = int(n_jet.sum()), int(n_mu.sum())

    def jagged(values: Any, counts: Any) -> Any:
        return ak.unflatten(values, counts)

    data: dict[str, Any] = {
        "run": np.full(events, 355100, dtype=np.uint32),
        "luminosityBlock": (1 + np.arange(events) // 100).astype(np.uint32),
        "event": np.arange(1000, 1000 + events, dtype=np.uint64),
        "Jet_pt": jagged((20 + rng.exponential(40, jets)).astype(np.float32), n_jet),
        "Jet_eta": jagged(rng.uniform(-4.5, 4.5, jets).astype(np.float32), n_jet),
        "Jet_phi": jagged(rng.uniform(-np.pi, np.pi, jets).astype(np.float32), n_jet),
        "Jet_mass": jagged(rng.uniform(2, 30, jets).astype(np.float32), n_jet),
        "Jet_btag": jagged(rng.random(jets).astype(np.float32), n_jet),
        "Jet_nConst": jagged(rng.integers(1, 60, jets).astype(np.uint8), n_jet),
        "Muon_pt": jagged((3 + rng.exponential(20, mus)).astype(np.float32), n_mu),
        "Muon_eta": jagged(rng.uniform(-2.4, 2.4, mus).astype(np.float32), n_mu),
        "Muon_charge": jagged(rng.choice(np.array([-1, 1], dtype=np.int32), mus), n_mu),
        "MET_pt": (rng.exponential(30, events)).astype(np.float32),
        "MET_phi": rng.uniform(-np.pi, np.pi, events).astype(np.float32),
        "HLT_IsoMu24": rng.random(events) < 0.5,
        "beamspot": rng.standard_normal((events, 3)).astype(np.float32),
    }
    types = {
        k: (v.type.content if isinstance(v, ak.Array) else np.dtype((v.dtype, v.shape[1:])))
        for k, v in data.items()
    }
    with uproot.recreate(path) as f:
        tree = f.mktree("Events", types, title="Events", counter_name=lambda b: COUNTERS.get(b, "n" + b))
        tree.extend(data)
    return path
