"""Rate-distortion plots from ``benchmark.json``: bits per value against max error, one plot per variable.

Each bounded baseline is a line through its points at the benchmark's error targets (x: the max error
it actually made on that variable); float16 and the autoencoder are single markers at their measured
errors; the best lossless method is a horizontal line. Bits per value count the whole payload over
every compressed value, so one method's point sits at the same height in every variable's plot.
Drawn in the shared report style (:mod:`hepsqueeze.plotting.style`), PNG and PDF.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from hepsqueeze.errors import InputError
from hepsqueeze.plotting.style import CYCLE, hep_style, new_figure, save_figure, symbol, unit_of

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

_MARKERS: Final = ("o", "s", "^", "v", "D", "P", "X", "<", ">")
_AUTOENCODER_COLOURS: Final = ("gold", "darkorange", "crimson", "black")


def plot_benchmark(json_path: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Draw ``rate_distortion_<variable>.png/.pdf`` for every variable of a benchmark; returns the paths."""
    path = Path(json_path)
    try:
        result = json.loads(path.read_text())
        variables = list(result["data"]["variables"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"cannot read benchmark results from {path}: {exc}") from None
    out = Path(out_dir)
    written: list[Path] = []
    with hep_style():
        for var in variables:
            fig = rate_distortion_figure(result, var)
            saved = save_figure(fig, out, f"rate_distortion_{var}", f"bits per value vs max error on {var}")
            written += [out / name for name in saved.files]
    log.info("wrote %d rate-distortion plots to %s", len(written), out)
    return written


def rate_distortion_figure(result: Mapping[str, Any], variable: str) -> Figure:
    """The rate-distortion figure of one ``variable`` of a benchmark result (call inside ``hep_style``)."""
    fig = new_figure((9.5, 5.5))
    ax = fig.add_subplot()
    _draw(ax, result, variable)
    kind = _kind(result, variable)
    unit = f" [{unit_of(variable)}]" if kind == "absolute" and unit_of(variable) else ""
    ax.set_xscale("log")
    ax.set_xlabel(f"max {kind} error on {symbol(variable)}{unit}")
    ax.set_ylabel("bits per value (all variables)")
    data = result["data"]
    ax.set_title(f"{data.get('sample', data['source'])}: {data['rows']} rows", loc="right", fontsize="small")
    ax.set_ylim(bottom=0)
    # Outside the axes: the curves fill the lower left, where a legend inside would hide them.
    ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


def _kind(result: Mapping[str, Any], variable: str) -> str:
    for target in result.get("targets", []):
        return str(target["bounds"][variable]["kind"])
    return "max"


def _point(row: Mapping[str, Any], variable: str) -> tuple[float, float] | None:
    """``(max error, bits per value)`` of a row, or ``None`` when it cannot go on a log axis."""
    if row.get("status") != "ok":
        return None
    err = row.get("max_error", {}).get(variable)
    bits = row.get("bits_per_value")
    if err is None or bits is None or err <= 0:
        return None
    return float(err), float(bits)


def _draw(ax: Axes, result: Mapping[str, Any], variable: str) -> None:
    curves: dict[str, list[tuple[float, float]]] = {}
    for target in result.get("targets", []):
        ax.axvline(target["error"], color="0.85", linewidth=0.8, zorder=0)
        for row in target["results"]:
            point = _point(row, variable)
            if point is not None:
                curves.setdefault(row["method"], []).append(point)
    for i, (name, points) in enumerate(curves.items()):
        xs, ys = zip(*sorted(points), strict=True)
        ax.plot(xs, ys, marker=_MARKERS[i % len(_MARKERS)], color=CYCLE[i % len(CYCLE)], label=name)
    reference = [r for r in result.get("reference", []) if r.get("status") == "ok"]
    lossless = [r for r in reference if r.get("lossless")]
    if lossless:
        best = min(lossless, key=lambda r: r["bits_per_value"])
        ax.axhline(best["bits_per_value"], color="0.3", linestyle="--", label=f"lossless: {best['method']}")
    for row in reference:
        point = _point(row, variable) if not row.get("lossless") else None
        if point is not None:
            ax.plot(*point, linestyle="none", marker="x", markersize=9, color="0.2", label=row["method"])
    for i, row in enumerate(result.get("hepsqueeze", [])):
        point = _point(row, variable)
        if point is not None:
            ax.plot(
                *point,
                linestyle="none",
                marker="*",
                markersize=16,
                color=_AUTOENCODER_COLOURS[i % len(_AUTOENCODER_COLOURS)],
                markeredgecolor="black",
                label=row["method"],
            )
