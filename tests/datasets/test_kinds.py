"""Tests of the processes and output kinds: jets27d tables, DarkMachines events, agreement between kinds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepsqueeze.datasets import (
    JETS27D_COLUMNS,
    PROCESSES,
    GeneratorConfig,
    cache_path,
    events_text,
    generate,
    generate_dataset,
    generate_events,
    list_processes,
)
from hepsqueeze.errors import ConfigError
from hepsqueeze.io import read_dataset
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")


# ttbar: leptons, b-jets and neutrinos in one small sample; small blocks exercise several seeds.
def config(kind: str = "jets") -> GeneratorConfig:
    return GeneratorConfig("ttbar", events=8, seed=3, block_events=4, kind=kind)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache-kinds")


@pytest.fixture(scope="module")
def jets(cache_dir: Path) -> Table:
    return generate(config(), cache_dir=cache_dir)


@pytest.fixture(scope="module")
def jets27d(cache_dir: Path) -> Table:
    return generate(config("jets27d"), cache_dir=cache_dir)


@pytest.fixture(scope="module")
def events(cache_dir: Path) -> Dataset:
    return generate_events(config("events"), cache_dir=cache_dir)


def test_jets27d_columns_and_ranges(jets27d: Table) -> None:
    assert jets27d.names == tuple(JETS27D_COLUMNS)
    assert {n: jets27d[n].dtype for n in jets27d.names} == JETS27D_COLUMNS
    t = jets27d
    assert t.num_rows > 0
    assert np.all(np.isfinite(t.stack(t.names, dtype=np.float64)))
    assert np.all(t["m"] >= 0)
    assert np.all((t["n90"] >= 1) & (t["n90"] <= t["n_constituents"]))
    assert np.all(t["n_charged"] <= t["n_constituents"])
    fractions = t["charged_fraction"] + t["photon_fraction"] + t["neutral_hadron_fraction"]
    np.testing.assert_allclose(fractions, 1.0, rtol=1e-5)
    assert np.all(t["axis_minor"] <= t["axis_major"] + 1e-7)
    assert np.all((t["ptD"] > 0) & (t["ptD"] <= 1 + 1e-6))
    # Exclusive-kt axes are not the optimal ones, so tau_N+1 > tau_N can happen, but rarely.
    assert np.mean(t["tau2"] <= t["tau1"]) > 0.9
    assert np.mean(t["tau3"] <= t["tau2"]) > 0.9
    assert np.all((t["tau21"] >= 0) & (t["tau32"] >= 0))
    assert np.all(t["C2"] >= 0)
    # Anti-kt R = 0.4 jets are mostly cones of area pi R^2 = 0.503.
    assert 0.4 < float(np.median(t["area"])) < 0.6
    assert set(np.unique(t["b_label"]).tolist()) <= {0, 1}
    assert t["b_label"].sum() > 0  # ttbar: two b quarks per event


def test_jets_agree_between_kinds(jets: Table, jets27d: Table, events: Dataset) -> None:
    for name in jets.names:
        np.testing.assert_array_equal(jets27d[name], jets[name])
    objects = events.table
    labels = events.labels("object")
    is_jet = np.isin(labels, ("j", "b"))
    # Events list objects by descending pt, so the jets come in the jet table's order.
    np.testing.assert_array_equal(objects["event"][is_jet], jets["event"])
    for name in ("E", "pt", "eta", "phi"):
        # DarkMachines text holds 6 significant digits (MeV).
        np.testing.assert_allclose(objects[name][is_jet], jets[name], rtol=6e-6, atol=1e-5)
    np.testing.assert_array_equal(labels[is_jet] == "b", jets27d["b_label"] == 1)


def test_events_are_darkmachines(events: Dataset, cache_dir: Path, tmp_path: Path) -> None:
    cfg = config("events")
    path = cache_path(cfg, cache_dir)
    assert path.suffix == ".csv"
    text = path.read_text()
    lines = text.splitlines()
    assert len(lines) == cfg.events  # one line per event, even without objects
    assert all(line.startswith(f"{i};ttbar;1;") and line.endswith(";") for i, line in enumerate(lines))
    read = read_dataset(path)
    assert read.format == "darkmachines"
    assert read.layout["exact"]
    assert events_text(events) == text
    ev = events.aux["events"]
    np.testing.assert_array_equal(ev["event"], np.arange(cfg.events))
    # Neutrinos from W or heavy-flavour decays in most ttbar events (all-hadronic ones may have none).
    assert np.all(ev["MET"] >= 0)
    assert np.count_nonzero(ev["MET"]) >= cfg.events // 2
    labels = events.labels("object")
    leptons = events.table["pt"][~np.isin(labels, ("j", "b"))]
    assert np.all(leptons > 10.0)
    assert np.all(np.abs(events.table["eta"][~np.isin(labels, ("j", "b"))]) < 2.5)


def test_workers_give_identical_files(
    jets27d: Table, events: Dataset, cache_dir: Path, tmp_path: Path
) -> None:
    for kind in ("jets27d", "events"):
        cfg = config(kind)
        generate_dataset(cfg, workers=2, cache_dir=tmp_path)
        assert cache_path(cfg, tmp_path).read_bytes() == cache_path(cfg, cache_dir).read_bytes()


def test_uncached_events_equal_cached(events: Dataset) -> None:
    fresh = generate_events(config("events"), use_cache=False)
    assert events_text(fresh) == events_text(events)


@pytest.mark.parametrize("process", sorted(set(PROCESSES) - {"ttbar"}))
def test_every_process_generates_jets(process: str) -> None:
    # Heavy signals at a low mass keep Pythia's initialisation short; two events show the settings work.
    table = generate(GeneratorConfig(process, events=2, seed=1, mass=1000.0), use_cache=False)
    assert table.num_rows > 0


def test_kind_api_errors() -> None:
    with pytest.raises(ConfigError, match="unknown kind 'jet'"):
        GeneratorConfig("qcd", 1, 1, kind="jet")
    with pytest.raises(ConfigError, match="mass must be > 0"):
        GeneratorConfig("zprime", 1, 1, mass=0.0)
    with pytest.raises(ConfigError, match="generate_events"):
        generate(GeneratorConfig("qcd", 1, 1, kind="events"), use_cache=False)
    with pytest.raises(ConfigError, match="kind 'events'"):
        generate_events(GeneratorConfig("qcd", 1, 1), use_cache=False)


def test_cache_keys_and_listing() -> None:
    keys = {GeneratorConfig("qcd", 5, 1, kind=k).cache_key() for k in ("jets", "events", "jets27d")}
    assert len(keys) == 3
    assert (
        GeneratorConfig("zprime", 5, 1, mass=1000).cache_key() != GeneratorConfig("zprime", 5, 1).cache_key()
    )
    assert GeneratorConfig("ttbar", 5, 1, mass=1000).cache_key() == GeneratorConfig("ttbar", 5, 1).cache_key()
    assert "32:m0 = 1500.0" in GeneratorConfig("zprime", 1, 1, mass=1500).pythia_settings()
    listing = {row["name"]: row for row in list_processes()}
    assert sorted(listing) == sorted(PROCESSES)
    assert {"ttbar", "qcd", "wjets", "zjets", "singletop", "diboson", "zprime", "excitedq"} <= set(listing)
    assert listing["qcd"]["parameters"] == ["pthat_min"]
    assert listing["excitedq"]["parameters"] == ["mass"]
    assert listing["ttbar"]["parameters"] == []
