"""Plots of the studies, drawn from their JSON files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from hepsqueeze.plotting.style import CYCLE, hep_style, new_figure, save_figure, symbol


def plot_generalisation(json_path: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> list[Path]:
    """``generalisation.png``/``.pdf``: residual mean (top) and std (bottom, log scale) per test row.

    One column per variable, one marker series per model; process rows (jets) left of the dashed
    line, object-type rows right of it. Relative residuals for E and pt, absolute for eta and phi.
    """
    result = json.loads(Path(json_path).read_text())
    variables = result["variables"]
    models = result["models"]
    first = next(iter(models.values()))["rows"]
    names = [r["name"] for r in first]
    n_process = sum(r["kind"] == "process" for r in first)
    x = np.arange(len(names), dtype=np.float64)
    width = 0.7 / max(len(models), 1)
    with hep_style():
        fig = new_figure((4.2 * len(variables), 7.5))
        axes = fig.subplots(2, len(variables), squeeze=False, sharex=True)
        for k, (label, m) in enumerate(models.items()):
            offset = (k - (len(models) - 1) / 2) * width
            for j, var in enumerate(variables):
                mean = np.array(
                    [r["residuals"][var]["mean"] if r["residuals"] else np.nan for r in m["rows"]]
                )
                err = np.array(
                    [r["residuals"][var]["mean_err"] if r["residuals"] else np.nan for r in m["rows"]]
                )
                std = np.array([r["residuals"][var]["std"] if r["residuals"] else np.nan for r in m["rows"]])
                color = CYCLE[k % len(CYCLE)]
                axes[0, j].errorbar(x + offset, mean, yerr=err, fmt="o", ms=4, color=color, label=label)
                axes[1, j].plot(x + offset, std, "s", ms=4, color=color)
        for j, var in enumerate(variables):
            relative = var.lower() in ("e", "pt")
            what = "relative residual" if relative else "residual" + (" [rad]" if var == "phi" else "")
            axes[0, j].set_title(f"{symbol(var)} {what}", fontsize=12)
            axes[0, j].axhline(0.0, color="0.4", linestyle=":", linewidth=1)
            axes[1, j].set_yscale("log")
            for row in (0, 1):
                axes[row, j].axvline(n_process - 0.5, color="0.5", linestyle="--", linewidth=1)
                axes[row, j].minorticks_off()
            axes[1, j].set_xticks(x, names, rotation=60, fontsize=10)
            axes[1, j].set_xlim(-0.6, len(names) - 0.4)
        axes[0, 0].set_ylabel("mean")
        axes[1, 0].set_ylabel("std")
        axes[0, 0].legend(loc="best", fontsize=9)
        fig.subplots_adjust(wspace=0.3, hspace=0.08)
        saved = save_figure(
            fig, out_dir, "generalisation", "Residual mean and std per process (jets) and object type"
        )
    return [Path(out_dir) / f for f in saved.files]
