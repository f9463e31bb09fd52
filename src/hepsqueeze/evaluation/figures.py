"""The report's figures, drawn from the metrics (as read back from ``metrics.json``) and the two tables.

:func:`draw_figures` returns the figures by page section (:data:`PLOT_SECTIONS`); each one is written
as a PNG and a PDF into the report directory.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.evaluation.physics import multiplicity_key, physics_arrays
from hepsqueeze.evaluation.report_bounds import MAIN_TABLE
from hepsqueeze.evaluation.report_files import LATENTS_FILE
from hepsqueeze.io.table import Table
from hepsqueeze.metrics.residuals import absolute_residuals
from hepsqueeze.plotting import report_plots as rp
from hepsqueeze.plotting.style import SavedPlot, axis_label, hep_style, percent_text, symbol, unit_of

#: The page's plot sections, in order: key and title.
PLOT_SECTIONS: Final = (
    ("distributions", "Distributions: original vs reconstructed"),
    ("in_vs_out", "Reconstructed vs original"),
    ("residuals", "Residuals"),
    ("response", "Response and resolution vs true pt and eta"),
    ("physics", "Physics checks (per event)"),
    ("groups", "Breakdown by group"),
    ("tables", "Other tables"),
    ("latent", "Latent space and training"),
)

#: The figures drawn, by section key of :data:`PLOT_SECTIONS`.
Drawn = dict[str, list[SavedPlot]]

_PHYSICS_CAPTIONS: Final = {
    "mjj": "invariant mass of the two leading jets per event",
    "ht": "HT: scalar sum of jet pt per event (jets only: j and b objects in DarkMachines files)",
    "met": "missing transverse energy per event",
}


#: A progress callback: the figure being drawn (its file key; ``""`` when done), figures done, total.
Progress = Callable[[str, int, int], None]
#: Original and reconstructed table of each table key (``"(main)"`` and auxiliary table names).
TablePairs = Mapping[str, tuple[Table, Table]]

_Job = tuple[str, str, Callable[[], SavedPlot | None]]


def draw_figures(
    m: Mapping[str, Any],
    original: Table,
    reconstructed: Table,
    out: Path,
    *,
    tables: TablePairs | None = None,
    progress: Progress | None = None,
    label: str = "",
) -> Drawn:
    """Draw every figure of the report ``m`` (a loaded ``metrics.json``) of ``reconstructed`` against
    ``original`` into the directory ``out``; returns them by section.

    ``tables``: the auxiliary tables' (original, reconstructed) pairs by name (their distributions and
    residuals, and the physics checks when the jets or MET are there); ``progress`` is called before
    each figure and once at the end; ``label`` (the sample) is written above every figure.
    """
    out.mkdir(parents=True, exist_ok=True)
    drawn: Drawn = {key: [] for key, _ in PLOT_SECTIONS}
    pairs: dict[str, tuple[Table, Table]] = {MAIN_TABLE: (original, reconstructed), **(tables or {})}
    jobs = _jobs(m, pairs, out)
    with hep_style(label):
        for done, (section, key, draw) in enumerate(jobs):
            if progress is not None:
                progress(key, done, len(jobs))
            plot = draw()
            if plot is not None:
                drawn[section].append(plot)
    if progress is not None:
        progress("", len(jobs), len(jobs))
    return drawn


def _jobs(m: Mapping[str, Any], pairs: Mapping[str, tuple[Table, Table]], out: Path) -> list[_Job]:
    """Every figure of the report, as (section, file key, function drawing it), in page order."""
    original, reconstructed = pairs[MAIN_TABLE]
    cols: list[str] = list(m["columns"])
    jobs: list[_Job] = []
    for col, v in zip(cols, m["variables"], strict=True):
        jobs.extend(_variable_jobs(out, col, v, m["metrics"][col], pair=(original, reconstructed)))
    jobs.extend(
        ("response", str(b["key"]), functools.partial(_draw_binned, out, **b))
        for b in _binned_series(m["binned"])
    )
    jobs.append(
        ("response", "residual_correlation", lambda: _draw_correlation(m["residual_correlation"], out))
    )
    if m.get("physics"):
        jobs.extend(_physics_jobs(m["physics"], pairs, out))
    for g, per in (m.get("groups") or {}).items():
        jobs.append(
            (
                "groups",
                f"groups_{_safe(g)}",
                functools.partial(
                    rp.plot_groups,
                    out,
                    f"groups_{_safe(g)}",
                    per,
                    cols,
                    group_column=g,
                    caption=f"residual mean and std per {g} (relative for E/pt/m)",
                ),
            )
        )
    for name, tm in (m.get("tables") or {}).items():
        if name in pairs and tm.get("columns"):
            jobs.extend(_table_jobs(out, name, tm, pairs[name], (m.get("bounds") or {}).get("tables", {})))
    lat = m.get("latents")
    if lat and (out / LATENTS_FILE).exists():
        jobs.append(("latent", "latent_space", lambda: _draw_latents(out, lat["source"])))
    if m.get("training"):
        history = m["training"]["history"]
        jobs.append(
            (
                "latent",
                "training_loss",
                lambda: rp.plot_training(
                    out, "training_loss", history, caption="training and validation loss per epoch"
                ),
            )
        )
    return jobs


def _nan(stats: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: (float("nan") if v is None else v) for k, v in (stats or {}).items()}


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def _nan_lists(b: Mapping[str, Any]) -> dict[str, Any]:
    return {k: ([np.nan if x is None else x for x in v] if isinstance(v, list) else v) for k, v in b.items()}


def _nan_matrix(rows: Sequence[Sequence[float | None]]) -> list[list[float]]:
    return [[np.nan if x is None else float(x) for x in r] for r in rows]


def _variable_jobs(
    out: Path, col: str, v: str, vm: Mapping[str, Any], *, pair: tuple[Table, Table]
) -> list[_Job]:
    """The figures of column ``col`` (variable ``v``, metrics ``vm``): distributions, reconstructed vs
    original, residuals (relative for E/pt/m and ``*_pt``/``*_mass`` branches, absolute as well)."""
    name, unit = _safe(col), unit_of(col)
    original, reconstructed = pair

    def a() -> npt.NDArray[np.float64]:
        return np.asarray(original[col], dtype=np.float64)

    def b() -> npt.NDArray[np.float64]:
        return np.asarray(reconstructed[col], dtype=np.float64)

    def relative() -> SavedPlot:
        x, y = a(), b()
        keep = x != 0
        return rp.plot_residual(
            out,
            f"relres_{name}",
            (y[keep] - x[keep]) / x[keep],
            _nan(vm["relative_residual"]),
            xlabel=f"({symbol(col)} reconstructed \u2212 original) / original",
            label=f"{col} relative residual",
            caption=f"{col}: relative residual (reconstructed \u2212 original) / original",
            ylabel=rp.entries_label(col),
        )

    jobs: list[_Job] = [
        (
            "distributions",
            f"dist_{name}",
            lambda: rp.plot_overlay(
                out,
                f"dist_{name}",
                a(),
                b(),
                col,
                ks=vm.get("ks"),
                caption=f"{col}: original and reconstructed distributions, ratio reconstructed/original",
            ),
        ),
        (
            "in_vs_out",
            f"in_vs_out_{name}",
            lambda: rp.plot_in_vs_out(
                out, f"in_vs_out_{name}", a(), b(), col, caption=f"{col}: reconstructed vs original"
            ),
        ),
        (
            "residuals",
            f"residual_{name}",
            lambda: rp.plot_residual(
                out,
                f"residual_{name}",
                absolute_residuals(a(), b(), v),
                _nan(vm["residual"]),
                xlabel=f"{symbol(col)} reconstructed \u2212 original" + (f" [{unit}]" if unit else ""),
                label=f"{col} residual" + (" (wrapped)" if v.lower() == "phi" else ""),
                caption=f"{col}: residual reconstructed \u2212 original" + (f" ({unit})" if unit else ""),
                ylabel=rp.entries_label(col),
            ),
        ),
    ]
    if vm.get("relative_residual"):
        jobs.append(("residuals", f"relres_{name}", relative))
    return jobs


def _binned_series(binned: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Response (E/pt/m) and residual (others) in bins of each binning column, one figure per quantity:
    the keywords of :func:`_draw_binned`."""
    figures = []
    for xcol in dict.fromkeys(b["x"] for b in binned.values()):
        entries = [b for b in binned.values() if b["x"] == xcol]
        log_x = entries[0]["x_variable"].lower() in ("pt", "e", "m")
        for quantity, ylabel, ref in (
            ("response", "response (reco / orig)", 1.0),
            ("residual", "residual (reco \u2212 orig)", 0.0),
        ):
            series = [(b["y"], _nan_lists(b)) for b in entries if b["quantity"] == quantity]
            if series:
                figures.append(
                    {
                        "key": f"{quantity}_vs_{_safe(xcol)}",
                        "series": series,
                        "xlabel": f"original {axis_label(xcol)}",
                        "ylabel": ylabel,
                        "reference": ref,
                        "log_x": log_x,
                    }
                )
    return figures


def _draw_binned(
    out: Path,
    *,
    key: str,
    series: list[tuple[str, dict[str, Any]]],
    xlabel: str,
    ylabel: str,
    reference: float,
    log_x: bool,
) -> SavedPlot:
    quantity, _, xcol = key.partition("_vs_")
    return rp.plot_binned(
        out,
        key,
        series,
        xlabel=xlabel,
        ylabel=ylabel,
        reference=reference,
        log_x=log_x,
        caption=f"{quantity} of {', '.join(s for s, _ in series)} in bins of the original "
        f"{xcol}: mean (top) and spread (bottom)",
    )


def _draw_correlation(corr: Mapping[str, Any], out: Path) -> SavedPlot:
    return rp.plot_matrix(
        out,
        "residual_correlation",
        _nan_matrix(corr["matrix"]),
        corr["labels"],
        title="correlation of residuals",
        caption="correlation of the residuals (relative for E/pt/m, absolute otherwise)",
    )


def _draw_latents(out: Path, source: str) -> SavedPlot:
    z = np.load(out / LATENTS_FILE)
    return rp.plot_latents(out, "latent_space", z, caption=f"latent codes ({source})")


def _table_jobs(
    out: Path,
    name: str,
    tm: Mapping[str, Any],
    pair: tuple[Table, Table],
    bounds: Mapping[str, Any],
) -> list[_Job]:
    """An auxiliary table's distributions and residuals, one multi-panel figure each."""
    original, reconstructed = pair
    cols: list[str] = list(tm["columns"])
    checks = bounds.get(name, {})
    key = _safe(name)

    def dists() -> SavedPlot:
        panels = [(c, original[c], reconstructed[c], tm["metrics"][c].get("ks")) for c in cols]
        return rp.plot_overlay_grid(
            out,
            f"table_{key}_dist",
            panels,
            caption=f"table {name}: original (solid) and reconstructed (dashed) distributions",
        )

    def residual_panels() -> SavedPlot:
        panels, limits = [], {}
        for c in cols:
            x = np.asarray(original[c], dtype=np.float64)
            y = np.asarray(reconstructed[c], dtype=np.float64)
            check = checks.get(c) or {}
            if tm["metrics"][c].get("relative_residual"):
                keep = x != 0
                panels.append((c, (y[keep] - x[keep]) / x[keep], "(reco \u2212 orig) / orig"))
                if check.get("mode") == "relative":
                    limits[c] = float(check["value"])
            else:
                unit = unit_of(c)
                panels.append((c, y - x, "reco \u2212 orig" + (f" [{unit}]" if unit else "")))
                if check.get("mode") == "absolute":
                    limits[c] = float(check["value"])
        return rp.plot_residual_grid(
            out,
            f"table_{key}_residual",
            panels,
            bounds=limits,
            caption=f"table {name}: residuals (relative for *_pt and *_mass, absolute otherwise, not "
            "wrapped), the bound dotted",
        )

    return [("tables", f"table_{key}_dist", dists), ("tables", f"table_{key}_residual", residual_panels)]


def _physics_jobs(phys: Mapping[str, Any], pairs: Mapping[str, tuple[Table, Table]], out: Path) -> list[_Job]:
    """Per-event quantities (mjj, HT, MET), the jet mass and the jet multiplicities, before and after."""
    q_in, q_out, m_in, m_out = physics_arrays(phys, pairs)
    thresholds = [float(t) for t in phys["thresholds"]]
    quantities = phys["quantities"]
    jobs: list[_Job] = []
    for key, caption in _PHYSICS_CAPTIONS.items():
        if key in q_in and key in quantities:
            jobs.append(
                (
                    "physics",
                    f"physics_{key}",
                    functools.partial(
                        rp.plot_overlay,
                        out,
                        f"physics_{key}",
                        q_in[key],
                        q_out[key],
                        key,
                        ks=quantities[key].get("ks"),
                        caption=caption,
                    ),
                )
            )
    if m_in is not None and m_out is not None:
        jobs.append(("physics", "physics_jet_mass", lambda: _draw_jet_mass(phys, m_in, m_out, out)))
    counts = [
        (f"$p_T$ > {t:g} GeV", q_in[multiplicity_key(t)], q_out[multiplicity_key(t)])
        for t in thresholds
        if multiplicity_key(t) in q_in
    ]
    if counts:
        jobs.append(
            (
                "physics",
                "physics_njets",
                lambda: rp.plot_counts(
                    out,
                    "physics_njets",
                    counts,
                    xlabel="jets per event",
                    caption="jet multiplicity per event above pt thresholds",
                ),
            )
        )
    return jobs


def _draw_jet_mass(
    phys: Mapping[str, Any],
    m_in: npt.NDArray[np.float64],
    m_out: npt.NDArray[np.float64],
    out: Path,
) -> SavedPlot | None:
    both = np.concatenate([m_in, m_out])
    both = both[np.isfinite(both)]
    if not both.size:
        return None
    lo, hi = (float(v) for v in np.quantile(both, [0.01, 0.99]))
    frac = phys.get("jets", {}).get("negative_m2_fraction", {})
    return rp.plot_overlay(
        out,
        "physics_jet_mass",
        m_in,
        m_out,
        "m",
        ks=phys.get("jets", {}).get("mass", {}).get("ks"),
        edges=np.linspace(lo, hi if hi > lo else lo + 1.0, 81),
        caption="invariant mass of each jet from its four-vector, negative where E < |p| "
        f"(original {percent_text(frac.get('original'))}, "
        f"reconstructed {percent_text(frac.get('reconstructed'))})",
    )


__all__ = ["PLOT_SECTIONS", "Drawn", "Progress", "TablePairs", "draw_figures"]
