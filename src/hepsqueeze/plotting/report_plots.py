"""The evaluation report's figures: each function draws one figure into a directory and returns it.

Histogram ranges come from the original (input) sample's central 99.9%, so a few wild reconstructed
values cannot squash the plot; what falls outside is counted in the legend.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.plotting.style import (
    COLOR_IN,
    COLOR_OUT,
    CYCLE,
    SavedPlot,
    axis_label,
    branch_variable,
    log_axis,
    new_figure,
    save_figure,
    symbol,
    unit_of,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

LOG_VARIABLES: Final = frozenset({"e", "pt", "m", "met", "mjj", "ht"})
#: Panels per row of a multi-panel figure (so that each stays readable at the page's width).
PANELS_PER_ROW: Final = 4
Directory = str | os.PathLike[str]


def _finite(x: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    a = np.asarray(x, dtype=np.float64)
    return a[np.isfinite(a)]


def choose_bins(x_in: npt.NDArray[Any], variable: str, n: int = 60) -> tuple[npt.NDArray[np.float64], bool]:
    """Bin edges for ``variable`` from the input's central 99.9%, and whether they are logarithmic.

    Energies, momenta and masses (and anything positive spanning more than a factor 30) get log bins;
    phi gets [-pi, pi]. ``variable`` may be a branch name (``Jet_pt``: see :func:`branch_variable`).
    """
    x = _finite(x_in)
    variable = branch_variable(variable)
    if x.size == 0:
        return np.linspace(0.0, 1.0, n + 1), False
    if variable.lower() == "phi":
        return np.linspace(-np.pi, np.pi, n + 1), False
    lo, hi = (float(v) for v in np.quantile(x, [0.0005, 0.9995]))
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    positive = lo > 0
    if positive and (variable.lower() in LOG_VARIABLES or hi / lo > 30):
        return np.geomspace(lo, hi, n + 1), True
    pad = 0.02 * (hi - lo)
    return np.linspace(lo - pad, hi + pad, n + 1), False


def _outside(x: npt.NDArray[np.float64], edges: npt.NDArray[np.float64]) -> int:
    return int(np.count_nonzero((x < edges[0]) | (x > edges[-1])))


def plot_overlay(
    directory: Directory,
    key: str,
    x_in: npt.NDArray[Any],
    x_out: npt.NDArray[Any],
    variable: str,
    *,
    caption: str,
    ks: float | None = None,
    title: str = "",
    edges: npt.NDArray[np.float64] | None = None,
) -> SavedPlot:
    """Input and output histograms of one variable, with an output/input ratio panel.

    ``variable``: a variable or a branch name (the axis label and unit follow it); ``edges`` overrides
    :func:`choose_bins` (linear bins then).
    """
    name, variable = variable, branch_variable(variable)
    a, b = _finite(x_in), _finite(x_out)
    if edges is None:
        edges, log_x = choose_bins(a, variable)
    else:
        log_x = False
    h_in, _ = np.histogram(a, edges)
    h_out, _ = np.histogram(b, edges)
    fig = new_figure((7.0, 6.2))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05})
    top.stairs(h_in, edges, color=COLOR_IN, label=f"original (n={a.size})", linewidth=1.8)
    top.stairs(
        h_out, edges, color=COLOR_OUT, label=f"reconstructed (n={b.size})", linewidth=1.8, linestyle="--"
    )
    extra = []
    if ks is not None and np.isfinite(ks):
        extra.append(f"KS = {ks:.3g}")
    n_out = _outside(b, edges)
    if n_out:
        extra.append(f"{n_out} reconstructed outside range")
    if extra:
        top.plot([], [], " ", label="\n".join(extra))
    top.set_ylabel(entries_label(name))
    if log_x or variable.lower() in LOG_VARIABLES:
        top.set_yscale("log")
        top.set_ylim(bottom=0.5, top=max(1, int(max(h_in.max(initial=0), h_out.max(initial=0)))) * 6)
    else:
        top.set_ylim(0, max(1, int(max(h_in.max(initial=0), h_out.max(initial=0)))) * 1.3)
    top.legend(loc="best")
    if title:
        top.set_title(title, loc="right", fontsize=11)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(h_in > 0, h_out / h_in, np.nan)
        err = np.where(h_in > 0, np.sqrt(h_out) / h_in, np.nan)
    centers = np.sqrt(edges[:-1] * edges[1:]) if log_x else 0.5 * (edges[:-1] + edges[1:])
    bottom.errorbar(centers, ratio, yerr=err, fmt="o", color=COLOR_OUT, markersize=3, elinewidth=1)
    bottom.axhline(1.0, color="0.4", linestyle=":", linewidth=1)
    shown = ratio[np.isfinite(ratio)]
    far = np.count_nonzero((shown < 0.5) | (shown > 1.5)) if shown.size else 0
    # Keep the usual +-50% window unless it would hide much of the ratio.
    bottom.set_ylim(*((0.0, 2.5) if far > 0.2 * max(shown.size, 1) else (0.5, 1.5)))
    bottom.set_ylabel("reco / orig")
    bottom.set_xlabel(axis_label(name))
    if log_x:
        log_axis(bottom)
    bottom.set_xlim(edges[0], edges[-1])
    fig.align_ylabels([top, bottom])
    return save_figure(fig, directory, key, caption)


def entries_label(name: str) -> str:
    """The y label of a histogram of ``name``: jets for jet variables, entries for other branches."""
    prefix = name.partition("_")[0].lower() if "_" in name else ""
    if prefix == "jet" or (not prefix and name.lower() in {"e", "pt", "eta", "phi", "m"}):
        return "jets / bin"
    return "entries / bin"


def _pm(value: float, err: float) -> str:
    if not (np.isfinite(value) and np.isfinite(err)):
        return f"{value:.3g}"
    return f"{value:.3g} ± {err:.1g}"


def plot_residual(
    directory: Directory,
    key: str,
    values: npt.NDArray[Any],
    stats: Mapping[str, Any],
    *,
    xlabel: str,
    label: str,
    caption: str,
    ylabel: str = "jets / bin",
) -> SavedPlot:
    """Histogram of residuals, with mean ± error, std ± error, RMS and the 68%/95% widths in the legend.

    The numbers in the legend come from ``stats`` (the metrics JSON), not recomputed here.
    """
    v = _finite(values)
    fig = new_figure()
    ax = fig.subplots()
    half = float(np.quantile(np.abs(v), 0.995)) * 1.2 if v.size else 1.0
    if not half > 0:
        half = float(np.abs(v).max()) or 1e-6
    edges = np.linspace(-half, half, 101)
    h, _ = np.histogram(v, edges)
    ax.stairs(h, edges, color=COLOR_IN, fill=True, alpha=0.35)
    lines = [
        label,
        f"mean = {_pm(stats['mean'], stats['mean_err'])}",
        f"std = {_pm(stats['std'], stats['std_err'])}",
        f"RMS = {stats['rms']:.3g}",
        f"68% / 95% half-width = {stats['width68']:.3g} / {stats['width95']:.3g}",
    ]
    n_out = _outside(v, edges)
    if n_out:
        lines.append(f"{n_out} of {v.size} outside ±{half:.3g}")
    ax.stairs(h, edges, color=COLOR_IN, linewidth=1.5, label="\n".join(lines))
    ax.axvline(0.0, color="0.4", linestyle=":", linewidth=1)
    ax.set_xlim(-half, half)
    ax.set_ylim(0, max(1, int(h.max(initial=0))) * 1.55)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="upper left", handlelength=0, handletextpad=0)
    return save_figure(fig, directory, key, caption)


def plot_binned(
    directory: Directory,
    key: str,
    series: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    xlabel: str,
    ylabel: str,
    reference: float,
    log_x: bool,
    caption: str,
    min_count: int = 10,
) -> SavedPlot:
    """Binned mean (± its error, top) and spread (std and 68% half-width, bottom) of several series.

    Each series is ``(label, binned)`` with ``binned`` from :func:`hepsqueeze.metrics.residuals.binned_stats`;
    bins with fewer than ``min_count`` entries are not drawn.
    """
    fig = new_figure((7.0, 6.5))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1.4, 1], "hspace": 0.06})
    for k, (label, b) in enumerate(series):
        edges = np.asarray(b["edges"], dtype=np.float64)
        centers = (
            np.sqrt(edges[:-1] * edges[1:]) if log_x and edges[0] > 0 else 0.5 * (edges[:-1] + edges[1:])
        )
        xerr = np.vstack([centers - edges[:-1], edges[1:] - centers])
        color = CYCLE[k % len(CYCLE)]
        few = np.asarray(b["count"], dtype=np.float64) < min_count
        mean = np.where(few, np.nan, np.asarray(b["mean"], dtype=np.float64))
        std = np.where(few, np.nan, np.asarray(b["std"], dtype=np.float64))
        width = np.where(few, np.nan, np.asarray(b["width68"], dtype=np.float64))
        mean_err = np.where(few, np.nan, np.asarray(b["mean_err"], dtype=np.float64))
        top.errorbar(centers, mean, xerr=xerr, yerr=mean_err, fmt="o", color=color, markersize=4, label=label)
        top.fill_between(centers, mean - std, mean + std, color=color, alpha=0.15, linewidth=0)
        bottom.plot(centers, std, "o-", color=color, markersize=3, label=f"{label} std")
        bottom.plot(centers, width, "s--", color=color, markersize=3, label=f"{label} 68% half-width")
    top.axhline(reference, color="0.4", linestyle=":", linewidth=1)
    top.set_ylabel(f"mean {ylabel}")
    top.plot([], [], " ", label="bands: mean ± std")
    top.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=len(series) + 1, fontsize=10)
    bottom.set_ylabel("spread")
    bottom.set_xlabel(xlabel)
    high = bottom.get_ylim()[1]
    bottom.set_ylim(0, high * 1.45)
    bottom.legend(loc="upper center", fontsize=9, ncols=2)
    if log_x:
        log_axis(bottom)
    fig.align_ylabels([top, bottom])
    return save_figure(fig, directory, key, caption)


def plot_matrix(
    directory: Directory,
    key: str,
    matrix: Sequence[Sequence[float]],
    labels: Sequence[str],
    *,
    title: str,
    caption: str,
) -> SavedPlot:
    """A correlation matrix with the coefficients written in the cells."""
    m = np.asarray(matrix, dtype=np.float64)
    n = len(labels)
    size = min(4.0 + 0.55 * n, 14.0)
    fig = new_figure((size + 1.2, size))
    ax = fig.subplots()
    image = ax.imshow(m, cmap="RdBu_r", vmin=-1, vmax=1)
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="correlation coefficient")
    bar.ax.minorticks_off()
    ticks = [symbol(s) for s in labels]
    ax.set_xticks(range(n), ticks, rotation=45 if n > 6 else 0, ha="right" if n > 6 else "center")
    ax.set_yticks(range(n), ticks)
    ax.minorticks_off()
    ax.tick_params(which="both", top=False, right=False)
    if n <= 16:
        for i in range(n):
            for j in range(n):
                val = m[i, j]
                text = "\u2013" if not np.isfinite(val) else f"{val:.2f}"
                color = "white" if np.isfinite(val) and abs(val) > 0.6 else "black"
                ax.text(j, i, text, ha="center", va="center", fontsize=10 if n <= 8 else 7, color=color)
    ax.set_title(title)
    return save_figure(fig, directory, key, caption)


def plot_in_vs_out(
    directory: Directory,
    key: str,
    x_in: npt.NDArray[Any],
    x_out: npt.NDArray[Any],
    variable: str,
    *,
    caption: str,
) -> SavedPlot:
    """2D histogram of reconstructed vs original values (log colour scale), with the diagonal."""
    from matplotlib.colors import LogNorm

    a = np.asarray(x_in, dtype=np.float64)
    b = np.asarray(x_out, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    edges, log_x = choose_bins(a[ok], variable, n=80)
    h, _, _ = np.histogram2d(a[ok], b[ok], bins=[edges, edges])
    fig = new_figure((7.0, 6.0))
    ax = fig.subplots()
    masked = np.ma.masked_equal(h.T, 0)
    mesh = ax.pcolormesh(
        edges,
        edges,
        masked,
        norm=LogNorm(vmin=1, vmax=max(2.0, float(h.max()))),
        cmap="viridis",
        rasterized=True,
    )
    fig.colorbar(mesh, ax=ax, label=entries_label(variable).split(" /")[0])
    ax.plot(
        [edges[0], edges[-1]],
        [edges[0], edges[-1]],
        color="red",
        linestyle="--",
        linewidth=1,
        label="out = in",
    )
    if log_x:
        log_axis(ax, "x")
        log_axis(ax, "y")
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(edges[0], edges[-1])
    ax.set_xlabel(axis_label(variable, suffix=" original"))
    ax.set_ylabel(axis_label(variable, suffix=" reconstructed"))
    ax.legend(loc="upper left")
    return save_figure(fig, directory, key, caption)


def plot_latents(
    directory: Directory, key: str, z: npt.NDArray[Any], *, caption: str, max_dims: int = PANELS_PER_ROW
) -> SavedPlot:
    """Corner plot of the latent codes: 1D histograms on the diagonal, 2D histograms below it."""
    from matplotlib.colors import LogNorm

    codes = np.asarray(z, dtype=np.float64)
    codes = codes[np.isfinite(codes).all(axis=1)]
    d = min(codes.shape[1], max_dims)
    fig = new_figure((2.6 * d + 1.0, 2.6 * d))
    axes = np.atleast_2d(fig.subplots(d, d, squeeze=False))
    ranges = [
        tuple(float(v) for v in np.quantile(codes[:, k], [0.001, 0.999])) if codes.size else (0.0, 1.0)
        for k in range(d)
    ]
    edges = [np.linspace(lo, hi if hi > lo else lo + 1, 51) for lo, hi in ranges]
    for i in range(d):
        for j in range(d):
            ax: Axes = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                h, _ = np.histogram(codes[:, i], edges[i])
                ax.stairs(h, edges[i], color=COLOR_IN, fill=True, alpha=0.5)
                ax.set_yticks([])
            else:
                h2, _, _ = np.histogram2d(codes[:, j], codes[:, i], bins=[edges[j], edges[i]])
                ax.pcolormesh(
                    edges[j],
                    edges[i],
                    np.ma.masked_equal(h2.T, 0),
                    norm=LogNorm(vmin=1),
                    cmap="viridis",
                    rasterized=True,
                )
            if i == d - 1:
                ax.set_xlabel(f"$z_{{{j}}}$")
            else:
                ax.set_xticklabels([])
            if j == 0 and i > 0:
                ax.set_ylabel(f"$z_{{{i}}}$")
            elif i != j:
                ax.set_yticklabels([])
            ax.tick_params(labelsize=11)
    if codes.shape[1] > d:
        fig.suptitle(f"first {d} of {codes.shape[1]} latent dimensions", fontsize=12)
    fig.subplots_adjust(wspace=0.08, hspace=0.08)
    return save_figure(fig, directory, key, caption, wide=d > 2)


def plot_training(
    directory: Directory, key: str, history: Mapping[str, Sequence[float]], *, caption: str
) -> SavedPlot:
    """Training and validation loss per epoch (log y), best validation epoch marked, learning rate on the right."""
    fig = new_figure()
    ax = fig.subplots()
    for name, color, style in (("train_loss", COLOR_IN, "-"), ("val_loss", COLOR_OUT, "--")):
        values = np.asarray(history.get(name, []), dtype=np.float64)
        if values.size:
            ax.plot(np.arange(1, values.size + 1), values, style, color=color, label=name.replace("_", " "))
    val = np.asarray(history.get("val_loss", []), dtype=np.float64)
    if val.size and np.isfinite(val).any():
        best = int(np.nanargmin(val))
        ax.axvline(
            best + 1, color="0.5", linestyle=":", linewidth=1, label=f"best epoch {best + 1}: {val[best]:.3g}"
        )
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (MSE, normalised space)")
    lr = np.asarray(history.get("lr", []), dtype=np.float64)
    if lr.size:
        ax2 = ax.twinx()
        ax2.plot(np.arange(1, lr.size + 1), lr, color="0.6", linewidth=1, label="learning rate")
        ax2.set_ylabel("learning rate", color="0.4")
        ax2.tick_params(axis="y", colors="0.4")
        ax2.set_ylim(bottom=0)
        ax.plot([], [], color="0.6", linewidth=1, label="learning rate (right)")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2, fontsize=10)
    return save_figure(fig, directory, key, caption)


def _grid(n: int) -> tuple[int, int]:
    """Rows and columns of ``n`` panels, at most :data:`PANELS_PER_ROW` per row."""
    cols = max(1, min(n, PANELS_PER_ROW))
    return -(-n // cols), cols


def plot_groups(
    directory: Directory,
    key: str,
    groups: Mapping[str, Mapping[str, Any]],
    variables: Sequence[str],
    *,
    group_column: str,
    caption: str,
) -> SavedPlot:
    """Residual mean (± error, upper panel) and std (lower panel) per group, one pair per variable,
    at most :data:`PANELS_PER_ROW` variables per row.

    ``groups`` maps group value -> ``{"n": rows, "variables": {var: variable metrics}}``; E/pt/m use
    the relative residual, other variables the absolute one.
    """
    names = list(groups)
    nv = len(variables)
    rows, cols = _grid(nv)
    fig = new_figure((max(3.8 * cols, 6.0), 5.2 * rows))
    axes = np.atleast_2d(fig.subplots(2 * rows, cols, squeeze=False))
    x = np.arange(len(names))
    for j, var in enumerate(variables):
        top, low = axes[2 * (j // cols), j % cols], axes[2 * (j // cols) + 1, j % cols]
        low.sharex(top)
        means, errs, stds = [], [], []
        for g in names:
            vm = groups[g]["variables"].get(var, {})
            st = vm.get("relative_residual") or vm.get("residual") or {}
            means.append(st.get("mean", np.nan))
            errs.append(st.get("mean_err", np.nan))
            stds.append(st.get("std", np.nan))
        relative = (
            bool(groups[names[0]]["variables"].get(var, {}).get("relative_residual")) if names else False
        )
        unit = "" if relative else unit_of(var)
        what = "rel. residual" if relative else "residual"
        top.errorbar(x, means, yerr=errs, fmt="o", color=CYCLE[j % len(CYCLE)])
        top.axhline(0.0, color="0.4", linestyle=":", linewidth=1)
        low.plot(x, stds, "s", color=CYCLE[j % len(CYCLE)])
        top.set_title(f"{symbol(var)} {what}" + (f" [{unit}]" if unit else ""), fontsize=12)
        top.tick_params(labelbottom=False)
        low.set_ylim(bottom=0)
        low.set_xticks(x, names, rotation=30 if len(names) > 3 else 0)
        low.minorticks_off()
        low.set_xlim(-0.5, len(names) - 0.5)
        low.set_xlabel(group_column)
        if j % cols == 0:
            top.set_ylabel("mean")
            low.set_ylabel("std")
    for k in range(nv, rows * cols):
        axes[2 * (k // cols), k % cols].set_visible(False)
        axes[2 * (k // cols) + 1, k % cols].set_visible(False)
    fig.subplots_adjust(wspace=0.35, hspace=0.45)
    return save_figure(fig, directory, key, caption, wide=nv > 2)


def plot_overlay_grid(
    directory: Directory,
    key: str,
    panels: Sequence[tuple[str, npt.NDArray[Any], npt.NDArray[Any], float | None]],
    *,
    caption: str,
) -> SavedPlot:
    """Original and reconstructed distributions of many columns, :data:`PANELS_PER_ROW` per row.

    ``panels`` holds ``(column, original, reconstructed, KS)``; each panel's x axis is labelled with
    the column's unit (:func:`axis_label`).
    """
    rows, cols = _grid(len(panels))
    fig = new_figure((3.9 * cols, 3.3 * rows))
    axes = np.atleast_2d(fig.subplots(rows, cols, squeeze=False))
    for k, (name, x_in, x_out, ks) in enumerate(panels):
        ax: Axes = axes[k // cols, k % cols]
        a, b = _finite(x_in), _finite(x_out)
        edges, log_x = choose_bins(a, name, n=40)
        h_in, _ = np.histogram(a, edges)
        h_out, _ = np.histogram(b, edges)
        ax.stairs(h_in, edges, color=COLOR_IN, linewidth=1.5, label="original")
        ax.stairs(h_out, edges, color=COLOR_OUT, linewidth=1.5, linestyle="--", label="reconstructed")
        ax.set_yscale("log")
        ax.set_ylim(bottom=0.5, top=max(1, int(max(h_in.max(initial=0), h_out.max(initial=0)))) * 8)
        if log_x:
            log_axis(ax)
        ax.set_xlim(edges[0], edges[-1])
        ax.set_xlabel(axis_label(name), fontsize=12)
        ax.tick_params(labelsize=10)
        ax.minorticks_off()
        if ks is not None and np.isfinite(ks):
            ax.text(0.97, 0.95, f"KS {ks:.2g}", transform=ax.transAxes, ha="right", va="top", fontsize=10)
        if k % cols == 0:
            ax.set_ylabel(entries_label(name), fontsize=12)
    for k in range(len(panels), rows * cols):
        axes[k // cols, k % cols].set_visible(False)
    axes[0, 0].legend(loc="lower left", bbox_to_anchor=(0.0, 1.02), ncols=2, fontsize=11)
    fig.subplots_adjust(wspace=0.3, hspace=0.5)
    return save_figure(fig, directory, key, caption, wide=True)


def plot_residual_grid(
    directory: Directory,
    key: str,
    panels: Sequence[tuple[str, npt.NDArray[Any], str]],
    *,
    caption: str,
    bounds: Mapping[str, float] | None = None,
) -> SavedPlot:
    """Residual histograms of many columns, :data:`PANELS_PER_ROW` per row.

    ``panels`` holds ``(column, residuals, x label)``; ``bounds`` (column -> bound in the residual's
    units) draws the bound as dotted lines at ±bound.
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    rows, cols = _grid(len(panels))
    fig = new_figure((3.9 * cols, 3.1 * rows))
    axes = np.atleast_2d(fig.subplots(rows, cols, squeeze=False))
    for k, (name, values, xlabel) in enumerate(panels):
        ax: Axes = axes[k // cols, k % cols]
        v = _finite(values)
        half = float(np.abs(v).max()) * 1.1 if v.size else 1.0
        bound = (bounds or {}).get(name)
        if bound:
            half = max(half, 1.15 * bound)
        if not half > 0:
            half = 1e-6
        edges = np.linspace(-half, half, 61)
        h, _ = np.histogram(v, edges)
        ax.stairs(h, edges, color=COLOR_IN, fill=True, alpha=0.4)
        if bound:
            for side in (-bound, bound):
                ax.axvline(side, color=COLOR_OUT, linestyle=":", linewidth=1.2)
        ax.set_xlim(-half, half)
        ax.set_ylim(0, max(1, int(h.max(initial=0))) * 1.25)
        ax.set_xlabel(xlabel, fontsize=11)
        ax.tick_params(labelsize=9)
        ax.minorticks_off()
        ax.xaxis.set_major_locator(MaxNLocator(5, symmetric=True))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:.2g}"))
        ax.set_title(symbol(name), fontsize=11)
        if k % cols == 0:
            ax.set_ylabel(entries_label(name), fontsize=11)
    for k in range(len(panels), rows * cols):
        axes[k // cols, k % cols].set_visible(False)
    fig.subplots_adjust(wspace=0.3, hspace=0.7)
    return save_figure(fig, directory, key, caption, wide=True)


def plot_counts(
    directory: Directory,
    key: str,
    counts: Sequence[tuple[str, npt.NDArray[Any], npt.NDArray[Any]]],
    *,
    xlabel: str,
    caption: str,
) -> SavedPlot:
    """Integer distributions (e.g. jet multiplicities), original vs reconstructed, one panel each.

    ``counts`` holds ``(title, original, reconstructed)`` per panel.
    """
    n = len(counts)
    rows, cols = _grid(n)
    fig = new_figure((4.2 * cols + 0.5, 4.4 * rows))
    grid = np.atleast_2d(fig.subplots(rows, cols, squeeze=False))
    axes = grid.ravel()
    for ax, (title, a, b) in zip(axes, counts, strict=False):
        hi = int(max(np.max(a, initial=0), np.max(b, initial=0)))
        edges = np.arange(-0.5, hi + 1.5)
        h_in, _ = np.histogram(a, edges)
        h_out, _ = np.histogram(b, edges)
        ax.stairs(h_in, edges, color=COLOR_IN, linewidth=1.8, label="original")
        ax.stairs(h_out, edges, color=COLOR_OUT, linewidth=1.8, linestyle="--", label="reconstructed")
        ax.set_yscale("log")
        ax.set_ylim(bottom=0.5, top=max(1, int(max(h_in.max(), h_out.max()))) * 8)
        ax.set_title(title, fontsize=13)
        ax.set_xlabel(xlabel)
        ax.minorticks_off()
        ax.set_xticks(np.arange(0, hi + 1, max(1, -(-(hi + 1) // 8))))
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax in grid[:, 0]:
        ax.set_ylabel("events")
    axes[0].legend(loc="upper right")
    return save_figure(fig, directory, key, caption, wide=n > 2)
