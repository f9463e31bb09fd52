"""The end-to-end demo: generate, train briefly, compress, decompress, measure what was lost."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hepsqueeze.api import compress, decompress, train
from hepsqueeze.baselines import bounds_from_errors
from hepsqueeze.datasets import generate_mixture
from hepsqueeze.evaluation.benchmark import best_baseline
from hepsqueeze.file.report import CompressionReport
from hepsqueeze.io import input_size_bytes, write_table
from hepsqueeze.metrics.residuals import residual_summary
from hepsqueeze.models.io import load_model, save_model
from hepsqueeze.training.trainer import EpochReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoResult:
    """What the demo measured; sizes in bytes."""

    workdir: Path
    rows: int
    input_bytes: int
    model_bytes: int
    report: CompressionReport
    residuals: dict[str, dict[str, Any]]
    val_mse: float
    epochs: int
    seconds_train: float
    passthrough_identical: bool
    best_baseline: str
    best_baseline_ratio: float


def run_demo(
    workdir: Path,
    *,
    events_per_process: int = 4000,
    epochs: int = 300,
    seed: int = 1,
    workers: int = 2,
    max_seconds: float = 150.0,
    on_stage: Callable[[str], None] | None = None,
    progress: Callable[[EpochReport], None] | None = None,
) -> DemoResult:
    """Run every step on a small ttbar + QCD sample in ``workdir`` (files there are overwritten)."""
    stage = on_stage or (lambda s: log.info("%s", s))
    workdir.mkdir(parents=True, exist_ok=True)
    stage(f"generating {events_per_process} ttbar + {events_per_process} QCD events (Pythia 8 + FastJet)")
    jets = generate_mixture(events_per_process=events_per_process, seed=seed, workers=workers)
    data_path = write_table(jets, workdir / "jets.parquet", force=True)
    stage(f"training ae4d-3 on {jets.num_rows} jets")
    model = train(
        jets,
        "ae4d-3",
        epochs=epochs,
        batch_size=512,
        patience=60,
        seed=seed,
        max_seconds=max_seconds,
        progress=progress,
    )
    model_path = save_model(model, workdir / "ae4d-3.hsqm", force=True)
    stage("compressing, decompressing")
    report = compress(
        jets,
        workdir / "jets.hsqz",
        model=load_model(model_path),
        force=True,
        input_info={"path": data_path.name, "size_bytes": input_size_bytes(data_path)},
    )
    back = decompress(report.path)
    write_table(back, workdir / "jets-decompressed.parquet", force=True)
    cols = list(model.columns)
    x = jets.stack(cols)
    residuals = residual_summary(x, back.stack(cols), model.variables)
    stage("running the standard compressors at the autoencoder's own max error per variable")
    measured = {v: residuals[v]["max_abs"] for v in model.variables}
    best_name, best_ratio = best_baseline(x, model.variables, bounds_from_errors(model.variables, measured))
    return DemoResult(
        workdir=workdir,
        rows=jets.num_rows,
        input_bytes=input_size_bytes(data_path),
        model_bytes=model_path.stat().st_size,
        report=report,
        residuals=residuals,
        val_mse=float(model.training["best_val_mse_normalised"]),
        epochs=int(model.training["epochs_run"]),
        seconds_train=float(model.training["seconds"]),
        passthrough_identical=all(np.array_equal(jets[c], back[c]) for c in report.passthrough_columns),
        best_baseline=best_name,
        best_baseline_ratio=best_ratio,
    )
