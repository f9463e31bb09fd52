"""Rate-distortion plots are drawn from benchmark.json."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepsqueeze.baselines import Float16, Quantise, Zstd
from hepsqueeze.errors import InputError
from hepsqueeze.evaluation.benchmark import run_benchmark, write_benchmark
from hepsqueeze.io.table import Table
from hepsqueeze.plotting.rate_distortion import plot_benchmark


def test_plot_benchmark_writes_png_and_pdf(tmp_path: Path, rng: np.random.Generator) -> None:
    pt = (20 + rng.exponential(30, 300)).astype(np.float32)
    eta = rng.uniform(-4, 4, 300).astype(np.float32)
    table = Table({"pt": pt, "eta": eta})
    result = run_benchmark(
        table, ["pt", "eta"], errors=(1e-2, 1e-3), repeats=1, baselines=[Zstd(3), Float16(3), Quantise(3)]
    )
    # An autoencoder row as run_benchmark writes it, to check its marker is drawn.
    result["hepsqueeze"].append(
        {
            "method": "hepsqueeze test",
            "status": "ok",
            "ratio": 1.6,
            "bits_per_value": 20.0,
            "max_error": {"pt": 0.03, "eta": None},
        }
    )
    json_path, _ = write_benchmark(result, tmp_path)
    paths = plot_benchmark(json_path, tmp_path / "plots")
    assert sorted(p.name for p in paths) == sorted(
        f"rate_distortion_{v}.{ext}" for v in ("pt", "eta") for ext in ("png", "pdf")
    )
    for p in paths:
        assert p.stat().st_size > 1000
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_benchmark_rejects_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "benchmark.json"
    bad.write_text("{}")
    with pytest.raises(InputError, match="benchmark"):
        plot_benchmark(bad, tmp_path)
    with pytest.raises(InputError):
        plot_benchmark(tmp_path / "missing.json", tmp_path)
