"""The seeds' normalisation comparison: one architecture trained with each normalisation scheme.

Every scheme's model is judged in the same two ways, so rows are comparable: per-variable residual
std in physical units (relative for E/pt/m, absolute otherwise), and the MSE measured in one common
space, the test split standardised with the training split's mean and std (not each model's own
normalised space, in which the MSEs would not be comparable).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ConfigError
from hepsqueeze.io.table import Table
from hepsqueeze.metrics.residuals import mse, residual_summary
from hepsqueeze.models.presets import get_preset
from hepsqueeze.preprocessing.normalisation import SCHEMES
from hepsqueeze.studies.output import write_json_markdown
from hepsqueeze.training.config import TrainConfig
from hepsqueeze.training.split import split_rows
from hepsqueeze.training.trainer import EpochReport, train_model

log = logging.getLogger(__name__)


def run_normalisation_study(
    table: Table,
    columns: Sequence[str],
    variables: Sequence[str],
    *,
    preset: str = "ae4d-3",
    schemes: Sequence[str] = ("none", "minmax", "standard", "custom", "custom+minmax"),
    train_options: dict[str, Any] | None = None,
    progress: Callable[[str, EpochReport], None] | None = None,
) -> dict[str, Any]:
    """Train ``preset`` once per scheme on ``columns`` of ``table``; compare on the common test split."""
    unknown = [s for s in schemes if s not in SCHEMES]
    if unknown:
        raise ConfigError(f"unknown normalisation(s) {', '.join(unknown)}; choose from {', '.join(SCHEMES)}")
    arch = get_preset(preset)
    x = table.stack(columns, dtype=np.float32)
    opts = dict(train_options or {})
    rows: dict[str, Any] = {}
    for scheme in schemes:
        config = TrainConfig(normalisation=scheme, **opts)
        split = split_rows(x.shape[0], config.val_fraction, config.test_fraction, config.seed)
        log.info("normalisation study: training %s with %r", preset, scheme)

        def report(r: EpochReport, scheme: str = scheme) -> None:
            if progress is not None:
                progress(scheme, r)

        model = train_model(x, variables, columns, arch, config, name=f"{preset}-{scheme}", progress=report)
        test = x[split.test]
        recon = model.reconstruct(test)
        rows[scheme] = {
            "residuals": residual_summary(test, recon, variables),
            "mse_standardised": _standardised_mse(x[split.train], test, recon),
            "mse_own_space": mse(model.normalise(test), model.normalise(recon)),
            "epochs_run": model.training["epochs_run"],
            "best_epoch": model.training["best_epoch"],
            "seconds": model.training["seconds"],
        }
    return {
        "preset": preset,
        "columns": list(columns),
        "variables": list(variables),
        "rows": int(x.shape[0]),
        # The scheme varies per row; every other training setting is shared.
        "train_options": {k: v for k, v in TrainConfig(**opts).to_dict().items() if k != "normalisation"},
        "results": rows,
    }


def _standardised_mse(train: npt.NDArray[Any], x: npt.NDArray[Any], y: npt.NDArray[Any]) -> float:
    mean = train.astype(np.float64).mean(axis=0)
    std = train.astype(np.float64).std(axis=0)
    std[std == 0] = 1.0
    return mse((x - mean) / std, (y - mean) / std)


def study_markdown(result: dict[str, Any]) -> str:
    """The study as a markdown table: one row per scheme."""
    variables = result["variables"]
    head = [
        "normalisation",
        *[f"{v} std" for v in variables],
        "MSE (standardised)",
        "MSE (own space)",
        "epochs",
    ]
    lines = [
        f"# Normalisation study: {result['preset']} on {result['rows']} rows",
        "",
        "Residual std on the test split in physical units (relative for E/pt/m, absolute otherwise); MSE in one "
        "common space (test split standardised with the training split's mean and std) and, for reference, in "
        "each model's own normalised space (not comparable between rows).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
    ]
    for scheme, r in result["results"].items():
        stds = [f"{r['residuals'][v]['std']:.3g}" for v in variables]
        lines.append(
            f"| {scheme} | "
            + " | ".join(stds)
            + f" | {r['mse_standardised']:.3g} | {r['mse_own_space']:.3g} | {r['epochs_run']} |"
        )
    lines += ["", f"Training options: `{json.dumps(result['train_options'])}`", ""]
    return "\n".join(lines)


def write_study(result: dict[str, Any], out_dir: str | os.PathLike[str], force: bool = True) -> list[Path]:
    """Write ``normalisation.json`` and ``normalisation.md`` into ``out_dir``."""
    return write_json_markdown(result, study_markdown(result), out_dir, "normalisation", force)
