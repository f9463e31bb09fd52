"""Tests for hepsqueeze.datasets: Pythia 8 + FastJet jet samples, caching and determinism."""

from __future__ import annotations

import logging
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hepsqueeze.datasets import (
    JET_COLUMNS,
    PROCESSES,
    GeneratorConfig,
    cache_path,
    describe_processes,
    generate,
    generate_mixture,
)
from hepsqueeze.datasets import pythia as worker
from hepsqueeze.errors import ConfigError, GeneratorError
from hepsqueeze.io.table import Table

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")

# Small blocks so that a few dozen events still exercise several blocks (and seeds).
TTBAR = GeneratorConfig("ttbar", events=24, seed=7, block_events=8)
QCD = GeneratorConfig("qcd", events=16, seed=7, block_events=8)


def assert_tables_equal(a: Table, b: Table) -> None:
    assert a.names == b.names
    for name in a.names:
        assert a[name].dtype == b[name].dtype
        np.testing.assert_array_equal(a[name], b[name])


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def ttbar(cache_dir: Path) -> Table:
    return generate(TTBAR, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def qcd(cache_dir: Path) -> Table:
    return generate(QCD, cache_dir=cache_dir)


@pytest.fixture(params=["ttbar", "qcd"])
def sample(request: pytest.FixtureRequest) -> tuple[GeneratorConfig, Table]:
    config = TTBAR if request.param == "ttbar" else QCD
    return config, request.getfixturevalue(request.param)


def test_columns_and_dtypes(sample: tuple[GeneratorConfig, Table]) -> None:
    _, table = sample
    assert table.names == ("event", "E", "pt", "eta", "phi")
    assert {n: table[n].dtype for n in table.names} == JET_COLUMNS
    assert table.num_rows > 0


def test_jet_cuts_and_ranges(sample: tuple[GeneratorConfig, Table]) -> None:
    config, table = sample
    assert np.all(table["pt"] > config.jet_pt_min)
    assert np.all(np.abs(table["eta"]) < config.jet_eta_max)
    phi = table["phi"]
    # Checked in float32 and float64: float32(pi) lies above pi.
    assert np.all(phi >= -np.pi)
    assert np.all(phi < np.pi)
    assert np.all(phi.astype(np.float64) >= -math.pi)
    assert np.all(phi.astype(np.float64) < math.pi)
    assert np.all(table["E"] >= table["pt"])
    assert np.all(np.isfinite(table.stack(table.names, dtype=np.float64)))


def test_events_in_order_and_jets_by_descending_pt(sample: tuple[GeneratorConfig, Table]) -> None:
    config, table = sample
    event, pt = table["event"], table["pt"]
    assert np.all(np.diff(event) >= 0)
    assert event.min() >= 0
    assert event.max() < config.events
    same_event = event[1:] == event[:-1]
    assert np.all(np.diff(pt)[same_event] <= 0)


def test_ttbar_has_more_jets_than_qcd(ttbar: Table, qcd: Table) -> None:
    # Six-quark final states against dijets; a very loose check that the processes differ.
    assert ttbar.num_rows / TTBAR.events > qcd.num_rows / QCD.events


def test_workers_give_identical_output(ttbar: Table, cache_dir: Path, tmp_path: Path) -> None:
    parallel = generate(TTBAR, workers=2, cache_dir=tmp_path)
    assert_tables_equal(parallel, ttbar)
    assert cache_path(TTBAR, tmp_path).read_bytes() == cache_path(TTBAR, cache_dir).read_bytes()


def test_blocks_do_not_depend_on_sample_size(ttbar: Table) -> None:
    # Block seeds depend on (seed, process, block start) only, so a shorter sample is a prefix.
    short = generate(GeneratorConfig("ttbar", events=8, seed=7, block_events=8), use_cache=False)
    assert_tables_equal(short, ttbar.slice(0, int(np.searchsorted(ttbar["event"], 8))))


def test_different_seeds_differ(ttbar: Table) -> None:
    other = generate(GeneratorConfig("ttbar", events=8, seed=8, block_events=8), use_cache=False)
    first = ttbar.slice(0, int(np.searchsorted(ttbar["event"], 8)))
    assert other.num_rows != first.num_rows or not np.array_equal(other["pt"], first["pt"])


def test_cache_hit_does_not_run_pythia(
    ttbar: Table, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: Any) -> None:
        raise AssertionError("the generator ran despite a cached sample")

    monkeypatch.setattr(worker, "generate_block", fail)
    calls: list[tuple[int, int]] = []
    cached = generate(TTBAR, cache_dir=cache_dir, progress=lambda d, t: calls.append((d, t)))
    assert_tables_equal(cached, ttbar)
    assert calls[-1] == (TTBAR.events, TTBAR.events)
    cached["pt"][0] = 0.0  # cached columns are writable, like generated ones


def test_corrupt_cache_is_regenerated(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = GeneratorConfig("qcd", events=3, seed=1)
    path = cache_path(config, tmp_path)
    path.write_bytes(b"not a parquet file")
    with caplog.at_level(logging.WARNING, logger="hepsqueeze.datasets"):
        table = generate(config, cache_dir=tmp_path)
    assert any("regenerating" in r.getMessage() for r in caplog.records)
    assert_tables_equal(generate(config, use_cache=False), table)
    assert path.read_bytes().startswith(b"PAR1")


def test_progress_is_monotonic_and_complete(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    generate(
        GeneratorConfig("qcd", events=5, seed=2, block_events=2),
        cache_dir=tmp_path,
        progress=lambda d, t: calls.append((d, t)),
    )
    done = [d for d, _ in calls]
    assert calls[0] == (0, 5)
    assert calls[-1] == (5, 5)
    assert done == sorted(done)
    assert {t for _, t in calls} == {5}


def test_zero_events_gives_empty_table(tmp_path: Path) -> None:
    for _ in range(2):  # generated, then read back from the cache
        table = generate(GeneratorConfig("ttbar", events=0, seed=1), cache_dir=tmp_path)
        assert table.num_rows == 0
        assert {n: table[n].dtype for n in table.names} == JET_COLUMNS


def test_mixture_event_numbers(cache_dir: Path, qcd: Table) -> None:
    n = 6
    mixed = generate_mixture(
        ("ttbar", "qcd"), events_per_process=n, seed=7, cache_dir=cache_dir, block_events=8
    )
    event = mixed["event"]
    assert np.all(np.diff(event) >= 0)
    assert event.min() >= 0
    assert event.max() < 2 * n
    # The qcd part is the qcd sample's first n events, shifted by n.
    qcd_part = mixed.slice(int(np.searchsorted(event, n)), mixed.num_rows)
    expected = qcd.slice(0, int(np.searchsorted(qcd["event"], n)))
    np.testing.assert_array_equal(qcd_part["event"], expected["event"] + n)
    np.testing.assert_array_equal(qcd_part["pt"], expected["pt"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"process": "tbar"}, "unknown process 'tbar'.*qcd, singletop, ttbar.*did you mean 'ttbar'"),
        ({"events": -1}, "events must be >= 0"),
        ({"events": 1.5}, "events must be an integer"),
        ({"events": True}, "events must be an integer"),
        ({"seed": -1}, "seed must be in"),
        ({"seed": 2**63}, "seed must be in"),
        ({"pthat_min": float("nan")}, "pthat_min must be finite"),
        ({"pthat_min": -1.0}, "pthat_min must be >= 0"),
        ({"ecm_gev": 0}, "ecm_gev must be > 0"),
        ({"jet_r": 0.0}, "jet_r must be > 0"),
        ({"jet_eta_max": "4.5"}, "jet_eta_max must be a number"),
        ({"block_events": 0}, "block_events must be >= 1"),
    ],
)
def test_bad_config_raises(kwargs: dict[str, Any], match: str) -> None:
    settings: dict[str, Any] = {"process": "qcd", "events": 10, "seed": 1, **kwargs}
    with pytest.raises(ConfigError, match=match):
        GeneratorConfig(**settings)


def test_bad_call_arguments_raise(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="workers"):
        generate(GeneratorConfig("qcd", 1, 1), workers=0, cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="more than once"):
        generate_mixture(("qcd", "qcd"), events_per_process=1, seed=1, cache_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"unknown generator setting.*jet_radius"):
        generate_mixture(events_per_process=1, seed=1, cache_dir=tmp_path, jet_radius=0.4)


def test_cache_key() -> None:
    base = GeneratorConfig("qcd", 10, 1)
    assert base.cache_key() == GeneratorConfig("qcd", 10, 1, pthat_min=50).cache_key()
    assert (
        len(
            {
                base.cache_key(),
                GeneratorConfig("qcd", 10, 2).cache_key(),
                GeneratorConfig("qcd", 11, 1).cache_key(),
                GeneratorConfig("qcd", 10, 1, pthat_min=100.0).cache_key(),
                GeneratorConfig("qcd", 10, 1, jet_r=0.8).cache_key(),
                GeneratorConfig("qcd", 10, 1, block_events=100).cache_key(),
                GeneratorConfig("ttbar", 10, 1).cache_key(),
            }
        )
        == 7
    )
    # pthat_min is not a ttbar setting, so it does not split the ttbar cache.
    assert (
        GeneratorConfig("ttbar", 10, 1).cache_key()
        == GeneratorConfig("ttbar", 10, 1, pthat_min=100.0).cache_key()
    )


def test_registry_and_seeds() -> None:
    assert {"ttbar", "qcd"} <= set(PROCESSES)
    assert [name for name, _ in describe_processes()] == sorted(PROCESSES)
    assert "PhaseSpace:pTHatMin = 80.0" in GeneratorConfig("qcd", 1, 1, pthat_min=80).pythia_settings()
    seeds = {worker.pythia_seed(s, p, b) for s in (0, 2**63 - 1) for p in PROCESSES for b in (0, 250)}
    assert len(seeds) == 4 * len(PROCESSES)
    assert all(1 <= s <= worker.PYTHIA_SEED_MAX for s in seeds)


def test_phi_stays_below_pi() -> None:
    phi = worker.phi_float32(np.array([math.pi, -math.pi, math.pi - 1e-9, -math.pi + 1e-9, 0.0]))
    assert np.all(phi.astype(np.float64) >= -math.pi)
    assert np.all(phi.astype(np.float64) < math.pi)


def test_pythia_failure_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    class Failing:
        calls = 0

        def next(self) -> bool:
            self.calls += 1
            return False

    fake = Failing()
    monkeypatch.setattr(worker, "make_pythia", lambda config, seed: fake)
    with pytest.raises(GeneratorError, match="qcd event 0 after"):
        generate(GeneratorConfig("qcd", 2, 1), use_cache=False)
    assert fake.calls == worker.MAX_NEXT_ATTEMPTS


def test_generation_prints_nothing() -> None:
    # A fresh interpreter, so FastJet's once-per-process banner would show if not suppressed.
    code = (
        "from hepsqueeze.datasets import GeneratorConfig, generate\n"
        "generate(GeneratorConfig('qcd', 2, 1), use_cache=False)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout == ""
    assert result.stderr == ""
