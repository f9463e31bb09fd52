"""The report of error-bounded files: the codec and bounds, no latent rows, NanoAOD-like tables and
their physics checks, DarkMachines HT over jets only, the progress callback and the sample label."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hepsqueeze.codecs.bounded.column_bound import BoundMode, ColumnBound
from hepsqueeze.evaluation.inputs import sample_label
from hepsqueeze.evaluation.physics import event_quantities, jet_rows, kinematic_columns
from hepsqueeze.evaluation.report import evaluate
from hepsqueeze.evaluation.report_bounds import MAIN_TABLE, check_column, container_bounds, has_latents
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table
from hepsqueeze.plotting.style import axis_label, branch_variable, unit_of


def _nano(rng: np.random.Generator, events: int = 300) -> Dataset:
    """A NanoAOD-like dataset: per-event MET branches (main) and a Jet collection (auxiliary)."""
    n_jets = rng.integers(0, 6, events)
    rows = int(n_jets.sum())
    main = Table(
        {
            "event": np.arange(events, dtype=np.uint64) + 1,
            "MET_pt": rng.exponential(40.0, events).astype(np.float32) + 1,
            "MET_phi": rng.uniform(-np.pi, np.pi, events).astype(np.float32),
        },
        source="<nano events>",
    )
    jets = Table(
        {
            "event": np.repeat(np.arange(events, dtype=np.int64), n_jets),
            "Jet_pt": (rng.exponential(30.0, rows) + 20).astype(np.float32),
            "Jet_eta": rng.uniform(-2.5, 2.5, rows).astype(np.float32),
            "Jet_phi": rng.uniform(-np.pi, np.pi, rows).astype(np.float32),
            "Jet_mass": (rng.exponential(8.0, rows) + 1).astype(np.float32),
            "Jet_nConstituents": rng.integers(1, 60, rows).astype(np.uint8),
        },
        source="<nano jets>",
    )
    return Dataset(main, {"Jet": jets})


@pytest.fixture(scope="module")
def bounded_nano(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, Dataset, Path]:
    from hepsqueeze.api import compress, decompress_to_dataset

    data = _nano(np.random.default_rng(3))
    packed = tmp_path_factory.mktemp("bounded") / "nano.hsqz"
    compress(data, packed, max_error=1e-3)
    return data, decompress_to_dataset(packed), packed


def test_units_and_variables_by_branch_suffix() -> None:
    assert axis_label("Jet_pt") == "Jet $p_T$ [GeV]"
    assert axis_label("pt") == "$p_T$ [GeV]"
    assert unit_of("Jet_mass") == "GeV"
    assert unit_of("MET_pt") == "GeV"
    assert unit_of("Jet_eta") == ""
    assert unit_of("Jet_phi") == "rad"
    assert unit_of("Jet_nConstituents") == ""
    assert unit_of("nJet") == ""
    assert [branch_variable(n) for n in ("Jet_pt", "Jet_mass", "Jet_eta", "MET_phi", "Jet_area", "E")] == [
        "pt",
        "m",
        "eta",
        "phi",
        "Jet_area",
        "E",
    ]


def test_bounded_report_states_bounds_and_has_no_latents(
    bounded_nano: tuple[Dataset, Dataset, Path], tmp_path: Path
) -> None:
    data, back, packed = bounded_nano
    calls: list[tuple[str, int, int]] = []
    m = evaluate(
        data.table,
        back.table,
        tmp_path / "r",
        container=packed,
        tables={"Jet": (data.aux["Jet"], back.aux["Jet"])},
        plots=False,
        label="toy sample, \u221as = 13 TeV",
        progress=lambda *a: calls.append(a),
    )
    assert m["codec"]["name"] == "bounded"
    assert m["codec"]["latents"] is False
    assert m["latents"] is None
    assert not any("latent" in n for n in m["notes"])
    assert m["container"]["latent_bits_per_value"] is None
    checks = m["bounds"]["tables"]
    assert m["bounds"]["held"] is True
    assert checks[MAIN_TABLE]["MET_pt"]["bound"] == "0.001 relative"
    assert checks["Jet"]["Jet_pt"]["held"]
    assert checks["Jet"]["Jet_pt"]["max_error"] <= 1e-3
    assert checks["Jet"]["Jet_nConstituents"]["mode"] == "lossless"
    assert checks["Jet"]["Jet_nConstituents"]["misses"] == 0
    # integer (lossless) columns are checked, not drawn; relative residuals for *_pt and *_mass
    assert m["columns"] == ["MET_pt", "MET_phi"]
    assert m["metrics"]["MET_pt"]["relative_residual"] is not None
    jet = m["tables"]["Jet"]["metrics"]
    assert jet["Jet_pt"]["relative_residual"]
    assert jet["Jet_mass"]["relative_residual"]
    assert jet["Jet_eta"]["relative_residual"] is None
    # the physics checks run on the Jet collection, MET from the per-event table
    phys = m["physics"]
    assert phys["table"] == "Jet"
    assert phys["met_column"] == "MET_pt"
    assert phys["met_table"] == MAIN_TABLE
    assert {"mjj", "ht", "met", "njets_pt30"} <= set(phys["quantities"])
    assert phys["quantities"]["met"]["n"] == data.table.num_rows
    assert m["label"] == "toy sample, \u221as = 13 TeV"
    assert calls == []  # plots=False: nothing drawn
    page = (tmp_path / "r" / "index.html").read_text()
    assert "Codec and bounds" in page
    assert "Jet_nConstituents" in page
    assert "latent" not in page.lower()
    md = (tmp_path / "r" / "report.md").read_text()
    assert "| Jet | Jet_pt | float32 | 0.001 relative |" in md
    assert "Held: yes" in md


def test_bound_check_finds_a_miss() -> None:
    x = np.linspace(1.0, 100.0, 50, dtype=np.float32)
    y = (x * (1 + 5e-4)).astype(np.float32)
    bound = ColumnBound(BoundMode.RELATIVE, 1e-3)
    assert check_column(x, y, bound)["held"]
    y[7] = x[7] * np.float32(1.002)
    c = check_column(x, y, bound)
    assert not c["held"]
    assert c["misses"] == 1
    assert c["max_error_over_bound"] == pytest.approx(2.0, rel=1e-3)
    lossless = ColumnBound(BoundMode.LOSSLESS)
    ints = np.arange(10, dtype=np.int32)
    assert check_column(ints, ints.copy(), lossless)["held"]
    assert check_column(ints, ints[::-1].copy(), lossless)["misses"] == 10
    # float16 column: judged in its own dtype
    h = np.array([1.0, 2.0, 3.0], dtype=np.float16)
    assert check_column(h, h.copy(), bound)["held"]


def test_autoencoder_headers_have_latents_and_no_bounds() -> None:
    header: dict[str, Any] = {"codec": {"name": "autoencoder"}}
    assert has_latents(header)
    assert container_bounds(header) is None
    assert not has_latents({"codec": {"name": "bounded"}})
    assert has_latents(None)


def test_darkmachines_ht_sums_jets_only() -> None:
    # event 0: jet 50, b-jet 30, electron 40, photon 25; event 1: a muon only
    table = Table(
        {
            "event": np.array([0, 0, 0, 0, 1]),
            "object": np.array([0, 1, 2, 6, 4], dtype=np.int8),
            "E": np.array([60.0, 40.0, 45.0, 30.0, 20.0]),
            "pt": np.array([50.0, 30.0, 40.0, 25.0, 15.0]),
            "eta": np.zeros(5),
            "phi": np.array([0.0, 1.0, 2.0, -1.0, 0.5]),
        }
    )
    kin = kinematic_columns(table.names)
    assert kin is not None
    q = event_quantities(table, kin, jets=jet_rows(table))
    np.testing.assert_allclose(q["ht"], [80.0, 0.0])
    np.testing.assert_array_equal(q["njets_pt20"], [2, 0])
    # mjj of the jet and the b-jet, not of the leading objects (jet 50 and electron 40)
    p = np.array([50 * np.cos(0) + 30 * np.cos(1), 50 * np.sin(0) + 30 * np.sin(1)])
    expected = np.sqrt((60.0 + 40.0) ** 2 - p @ p)
    np.testing.assert_allclose(q["mjj"][0], expected)
    assert np.isnan(q["mjj"][1])
    # without an object column every row is a jet
    assert jet_rows(Table({"pt": np.ones(3)})) is None


def test_sample_label() -> None:
    assert sample_label(Table({"a": np.zeros(1)}, source="<ttbar+qcd mixture, 10 events each, seed 1>")) == (
        "ttbar + QCD, Pythia 8"
    )
    assert sample_label(
        Table({"a": np.zeros(1)}, source="<ttbar jets sample, 10 events, seed 1, 13 TeV>")
    ) == ("ttbar, Pythia 8, \u221as = 13 TeV")
    assert sample_label(Table({"a": np.zeros(1)}, source="/data/jets.parquet")) == "jets.parquet"
    assert sample_label(Table({"a": np.zeros(1)}), "my sample") == "my sample"


@pytest.mark.slow
def test_figures_with_tables_progress_and_label(
    bounded_nano: tuple[Dataset, Dataset, Path], tmp_path: Path
) -> None:
    data, back, packed = bounded_nano
    calls: list[tuple[str, int, int]] = []
    out = tmp_path / "r"
    m = evaluate(
        data.table,
        back.table,
        out,
        container=packed,
        tables={"Jet": (data.aux["Jet"], back.aux["Jet"])},
        label="toy",
        progress=lambda *a: calls.append(a),
    )
    names = [c[0] for c in calls]
    assert names[-1] == ""
    assert calls[-1][1] == calls[-1][2] == len(calls) - 1
    assert {"dist_MET_pt", "relres_MET_pt", "table_Jet_dist", "table_Jet_residual", "physics_met"} <= set(
        names
    )
    assert "latent_space" not in names
    for name in ("table_Jet_dist", "table_Jet_residual", "physics_mjj"):
        assert (out / f"{name}.png").stat().st_size > 1000
    assert json.loads((out / "metrics.json").read_text())["label"] == "toy"
    page = (out / "index.html").read_text()
    assert '<figure id="table_Jet_dist" class="wide">' in page
    assert set(m["plots"]) >= {"table_Jet_dist.png", "table_Jet_dist.pdf"}
