"""The rate-distortion benchmark: JSON structure, markdown, and picking the best baseline."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from hepsqueeze.baselines import ErrorBound, Float16, Quantise, Sz3, Zstd, bounds_for
from hepsqueeze.errors import ConfigError
from hepsqueeze.evaluation.benchmark import best_baseline, best_baseline_at, run_benchmark, write_benchmark
from hepsqueeze.io.table import Table

COLUMNS = ["E", "pt", "eta", "phi"]


def small_table(rng: np.random.Generator, rows: int = 2000) -> Table:
    pt = 20.0 + rng.exponential(40.0, rows)
    eta = rng.uniform(-4.5, 4.5, rows)
    cols = {
        "event": np.repeat(np.arange(rows // 4 + 1), 4)[:rows],
        "E": pt * np.cosh(eta),
        "pt": pt,
        "eta": eta,
        "phi": rng.uniform(-np.pi, np.pi, rows),
    }
    return Table({k: np.asarray(v, dtype=np.int64 if k == "event" else np.float32) for k, v in cols.items()})


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    table = small_table(np.random.default_rng(5))
    return run_benchmark(
        table,
        COLUMNS,
        errors=(1e-2, 1e-3),
        repeats=2,
        baselines=[Zstd(3), Zstd(3, byte_shuffle=True), Float16(3), Quantise(3), Sz3()],
    )


def test_result_structure(result: dict[str, Any]) -> None:
    assert result["format"] == "hepsqueeze-benchmark"
    assert result["data"]["rows"] == 2000
    assert result["data"]["variables"] == COLUMNS
    assert result["data"]["float32_bytes"] == 2000 * 4 * 4
    assert result["machine"]["cpu_count"] >= 1
    assert "numpy" in result["machine"]["versions"]
    assert [r["method"] for r in result["reference"]] == ["zstd-3", "shuffle+zstd-3", "float16+zstd"]
    assert [t["error"] for t in result["targets"]] == [1e-2, 1e-3]
    assert result["hepsqueeze"] == []
    for target in result["targets"]:
        assert target["bounds"]["E"] == {"kind": "relative", "value": target["error"]}
        assert target["bounds"]["phi"] == {"kind": "absolute", "value": target["error"]}
        for row in target["results"]:
            assert row["status"] == "ok"
            assert row["within_bounds"]
            assert set(row["max_error"]) == set(COLUMNS)
            assert all(row["max_error"][v] <= target["error"] for v in COLUMNS)
            assert row["ratio"] == pytest.approx(2000 * 16 / row["payload_bytes"])
            assert row["bits_per_value"] == pytest.approx(32 / row["ratio"])
            if row["family"] != "hepsqueeze":  # baselines report bytes per column
                assert sum(row["column_bytes"].values()) < row["payload_bytes"]
            assert row["compress_MBps"] > 0
            assert row["decompress_MBps"] > 0
    for row in result["reference"][:2]:
        assert row["bit_exact"]
        assert all(e == 0 for e in row["max_error"].values())
    # strict JSON: no NaN or inf anywhere
    json.dumps(result, allow_nan=False)


def test_bounded_codec_runs_at_every_target(result: dict[str, Any]) -> None:
    for target in result["targets"]:
        rows = [r for r in target["results"] if r["family"] == "hepsqueeze"]
        assert [r["method"] for r in rows] == ["hepsqueeze bounded (per jet)"]
        assert rows[0]["within_bounds"]


def test_tighter_targets_cost_more_bits(result: dict[str, Any]) -> None:
    loose, tight = ({r["method"]: r["bits_per_value"] for r in t["results"]} for t in result["targets"])
    assert all(tight[m] > loose[m] for m in loose)


def test_write_benchmark(result: dict[str, Any], tmp_path: Any) -> None:
    json_path, md_path = write_benchmark(result, tmp_path / "out")
    assert json.loads(json_path.read_text()) == result
    md = md_path.read_text()
    assert "## Max error 0.001" in md
    assert "| quantise+zstd |" in md
    assert "| method | ratio | bits/value | max err E |" in md
    assert "## Machine" in md


def test_best_baseline_at(result: dict[str, Any]) -> None:
    loose = best_baseline_at(result, {"E": 0.05, "pt": 0.05, "eta": 0.05, "phi": 0.05})
    assert loose is not None
    assert loose["target"] == 1e-2
    assert loose["method"] in {"quantise+zstd", "sz3"}
    tight = best_baseline_at(result, {"E": 1e-3, "pt": 1e-3, "eta": 1e-3, "phi": 1e-3})
    assert tight is not None
    assert tight["target"] == 1e-3
    assert tight["ratio"] < loose["ratio"]
    exact = best_baseline_at(result, {"E": 1e-6, "pt": 1e-6, "eta": 1e-6, "phi": 1e-6})
    assert exact is not None
    assert exact["lossless"]
    with pytest.raises(ConfigError, match="phi"):
        best_baseline_at(result, {"E": 1.0, "pt": 1.0, "eta": 1.0})


def test_best_baseline_runs_methods_at_given_bounds(rng: np.random.Generator) -> None:
    x = small_table(rng, 500).stack(COLUMNS)
    name, ratio = best_baseline(x, COLUMNS, bounds_for(COLUMNS, 1e-2), [Zstd(3), Float16(3), Quantise(3)])
    assert name == "quantise+zstd"
    assert ratio > 2
    bounds = (*bounds_for(COLUMNS[:3], 1e-2), ErrorBound("absolute", 1e-12))
    name, _ = best_baseline(x, COLUMNS, bounds, [Zstd(3), Quantise(3)])
    assert name == "zstd-3"  # quantisation cannot reach 1e-12 on float32 phi


def test_float16_overflow_is_null_in_json(rng: np.random.Generator) -> None:
    table = small_table(rng, 100)
    table["E"][0] = 1e5
    res = run_benchmark(table, COLUMNS, errors=(1e-2,), repeats=1, baselines=[Float16(3)])
    assert res["reference"][0]["max_error"]["E"] is None
    json.dumps(res, allow_nan=False)


def test_bad_settings(rng: np.random.Generator) -> None:
    table = small_table(rng, 50)
    with pytest.raises(ConfigError, match="variables"):
        run_benchmark(table, COLUMNS, ["E", "pt"])
    with pytest.raises(ConfigError):
        run_benchmark(table, COLUMNS, errors=(0.0,))
    with pytest.raises(ConfigError, match="repeats"):
        run_benchmark(table, COLUMNS, repeats=0)


def test_autoencoder_row(jets: Table, model: Any) -> None:
    res = run_benchmark(
        jets, list(model.columns), errors=(1e-2,), repeats=1, model=model, baselines=[Zstd(3)]
    )
    rows = res["hepsqueeze"]
    assert [r["latent_dtype"] for r in rows] == ["float32", "float16"]
    for row in rows:
        assert row["status"] == "ok"
        assert row["family"] == "autoencoder"
        assert row["ratio"] == pytest.approx(row["file_ratio"])
        assert row["max_error"]["pt"] > 0
        assert set(row["max_error"]) == set(model.variables)
    json.dumps(res, allow_nan=False)
