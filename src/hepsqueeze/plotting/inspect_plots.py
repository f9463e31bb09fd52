"""Figures of the data inspection report: one distribution per numeric column and the correlation matrix."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.io.table import Table
from hepsqueeze.plotting.report_plots import plot_matrix
from hepsqueeze.plotting.style import COLOR_IN, SavedPlot, axis_label, hep_style, new_figure, save_figure

Directory = str | os.PathLike[str]


def plot_distribution(
    directory: Directory,
    key: str,
    values: npt.NDArray[Any],
    name: str,
    stats: Mapping[str, Any],
    *,
    caption: str,
) -> SavedPlot:
    """Histogram of one column: log x for positive values spanning > 2 decades, log y for heavy tails.

    Integer columns with few values get one bin per value. The legend gives count, mean and std.
    """
    x = np.asarray(values, dtype=np.float64)
    f = x[np.isfinite(x)]
    fig = new_figure()
    ax = fig.subplots()
    log_x = False
    if f.size == 0:
        ax.text(0.5, 0.5, "no finite values", transform=ax.transAxes, ha="center")
        return save_figure(fig, directory, key, caption)
    lo, hi = float(f.min()), float(f.max())
    unique = stats.get("unique")
    if stats.get("integer_valued") and unique is not None and hi - lo <= 200:
        edges = np.arange(lo - 0.5, hi + 1.5)
    elif lo > 0 and hi / lo > 100:
        edges = np.geomspace(lo, hi, 81)
        log_x = True
    else:
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, 81)
    h, _ = np.histogram(f, edges)
    label = (
        f"{name}\nn = {f.size}\nmean = {stats.get('mean', np.nan):.4g}\nstd = {stats.get('std', np.nan):.4g}"
    )
    ax.stairs(h, edges, color=COLOR_IN, fill=True, alpha=0.35)
    ax.stairs(h, edges, color=COLOR_IN, linewidth=1.5, label=label)
    heavy = float(stats.get("kurtosis", 0.0)) > 3.0 or float(stats.get("tail_ratio", 0.0)) > 3.0
    if log_x or heavy or (h.max(initial=0) > 100 * max(1, np.median(h[h > 0]) if (h > 0).any() else 1)):
        ax.set_yscale("log")
        ax.set_ylim(bottom=0.5, top=max(1, int(h.max(initial=1))) * 5)
    else:
        ax.set_ylim(0, max(1, int(h.max(initial=1))) * 1.3)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel(axis_label(name))
    ax.set_ylabel("rows / bin")
    ax.legend(loc="upper right", handlelength=0, handletextpad=0)
    return save_figure(fig, directory, key, caption)


def draw_inspect_plots(summary: Mapping[str, Any], data: Table, out: Directory) -> list[SavedPlot]:
    """Every figure of the inspection report (``summary`` from :func:`hepsqueeze.evaluation.inspect.summarise`)."""
    drawn: list[SavedPlot] = []
    with hep_style():
        for name, stats in summary["columns"].items():
            if "mean" not in stats:
                continue
            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
            drawn.append(
                plot_distribution(
                    out, f"dist_{safe}", data[name], name, stats, caption=f"distribution of {name}"
                )
            )
        corr = summary["correlation"]
        if len(corr["labels"]) >= 2:
            matrix = [[np.nan if v is None else float(v) for v in row] for row in corr["matrix"]]
            drawn.append(
                plot_matrix(
                    out,
                    "correlation",
                    matrix,
                    corr["labels"],
                    title="pairwise correlation",
                    caption="Pearson correlation between columns (rows with NaN/inf left out)",
                )
            )
    return drawn
