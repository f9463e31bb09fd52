"""The report's figures, drawn from the metrics (as read back from ``metrics.json``) and the two tables.

:func:`draw_figures` returns the figures by page section (:data:`PLOT_SECTIONS`); each one is written
as a PNG and a PDF into the report directory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.evaluation.physics import EVENT_COLUMN, event_quantities, jet_masses, multiplicity_key
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
    ("latent", "Latent space and training"),
)

#: The figures drawn, by section key of :data:`PLOT_SECTIONS`.
Drawn = dict[str, list[SavedPlot]]

_PHYSICS_CAPTIONS: Final = {
    "mjj": "invariant mass of the two leading jets per event",
    "ht": "HT: scalar sum of jet pt per event",
    "met": "missing transverse energy per event",
}


def draw_figures(m: Mapping[str, Any], original: Table, reconstructed: Table, out: Path) -> Drawn:
    """Draw every figure of the report ``m`` (a loaded ``metrics.json``) of ``reconstructed`` against
    ``original`` into the directory ``out``; returns them by section."""
    out.mkdir(parents=True, exist_ok=True)
    drawn: Drawn = {key: [] for key, _ in PLOT_SECTIONS}
    cols: list[str] = list(m["columns"])
    with hep_style():
        for col, v in zip(cols, m["variables"], strict=True):
            a = np.asarray(original[col], dtype=np.float64)
            b = np.asarray(reconstructed[col], dtype=np.float64)
            _draw_variable(drawn, out, col, v, m["metrics"][col], a=a, b=b)
        drawn["response"].extend(_draw_binned(m["binned"], out))
        drawn["response"].append(_draw_correlation(m["residual_correlation"], out))
        if m.get("physics"):
            drawn["physics"].extend(_draw_physics(m["physics"], original, reconstructed, out))
        for g, per in (m.get("groups") or {}).items():
            drawn["groups"].append(
                rp.plot_groups(
                    out,
                    f"groups_{_safe(g)}",
                    per,
                    cols,
                    group_column=g,
                    caption=f"residual mean and std per {g} (relative for E/pt/m)",
                )
            )
        drawn["latent"].extend(_draw_latent(m, out))
    return drawn


def _nan(stats: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: (float("nan") if v is None else v) for k, v in (stats or {}).items()}


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def _nan_lists(b: Mapping[str, Any]) -> dict[str, Any]:
    return {k: ([np.nan if x is None else x for x in v] if isinstance(v, list) else v) for k, v in b.items()}


def _nan_matrix(rows: Sequence[Sequence[float | None]]) -> list[list[float]]:
    return [[np.nan if x is None else float(x) for x in r] for r in rows]


def _draw_variable(
    drawn: Drawn,
    out: Path,
    col: str,
    v: str,
    vm: Mapping[str, Any],
    *,
    a: npt.NDArray[np.float64],
    b: npt.NDArray[np.float64],
) -> None:
    """The figures of column ``col`` (variable ``v``, metrics ``vm``, original values ``a``, reconstructed
    ``b``): distributions, reconstructed vs original, residuals."""
    name, sym, unit = _safe(col), symbol(v), unit_of(v)
    drawn["distributions"].append(
        rp.plot_overlay(
            out,
            f"dist_{name}",
            a,
            b,
            v,
            ks=vm.get("ks"),
            caption=f"{col}: original and reconstructed distributions, ratio reconstructed/original",
        )
    )
    drawn["in_vs_out"].append(
        rp.plot_in_vs_out(out, f"in_vs_out_{name}", a, b, v, caption=f"{col}: reconstructed vs original")
    )
    drawn["residuals"].append(
        rp.plot_residual(
            out,
            f"residual_{name}",
            absolute_residuals(a, b, v),
            _nan(vm["residual"]),
            xlabel=f"{sym} reconstructed \u2212 original" + (f" [{unit}]" if unit else ""),
            label=f"{col} residual" + (" (wrapped)" if v.lower() == "phi" else ""),
            caption=f"{col}: residual reconstructed \u2212 original" + (f" ({unit})" if unit else ""),
        )
    )
    if vm.get("relative_residual"):
        keep = a != 0
        drawn["residuals"].append(
            rp.plot_residual(
                out,
                f"relres_{name}",
                (b[keep] - a[keep]) / a[keep],
                _nan(vm["relative_residual"]),
                xlabel=f"({sym} reconstructed \u2212 original) / original",
                label=f"{col} relative residual",
                caption=f"{col}: relative residual (reconstructed \u2212 original) / original",
            )
        )


def _draw_binned(binned: Mapping[str, Any], out: Path) -> list[SavedPlot]:
    """Response (E/pt/m) and residual (others) in bins of each binning column, one figure per quantity."""
    plots = []
    for xcol in dict.fromkeys(b["x"] for b in binned.values()):
        entries = [b for b in binned.values() if b["x"] == xcol]
        log_x = entries[0]["x_variable"].lower() in ("pt", "e", "m")
        for quantity, ylabel, ref in (
            ("response", "response (reco / orig)", 1.0),
            ("residual", "residual (reco \u2212 orig)", 0.0),
        ):
            series = [(b["y"], _nan_lists(b)) for b in entries if b["quantity"] == quantity]
            if series:
                plots.append(
                    rp.plot_binned(
                        out,
                        f"{quantity}_vs_{_safe(xcol)}",
                        series,
                        xlabel=f"original {axis_label(entries[0]['x_variable'])}",
                        ylabel=ylabel,
                        reference=ref,
                        log_x=log_x,
                        caption=f"{quantity} of {', '.join(s for s, _ in series)} in bins of the original "
                        f"{xcol}: mean (top) and spread (bottom)",
                    )
                )
    return plots


def _draw_correlation(corr: Mapping[str, Any], out: Path) -> SavedPlot:
    return rp.plot_matrix(
        out,
        "residual_correlation",
        _nan_matrix(corr["matrix"]),
        corr["labels"],
        title="correlation of residuals",
        caption="correlation of the residuals (relative for E/pt/m, absolute otherwise)",
    )


def _draw_latent(m: Mapping[str, Any], out: Path) -> list[SavedPlot]:
    """The latent codes (when ``latents.npy`` was written) and the training curves (when known)."""
    plots = []
    lat = m.get("latents")
    if lat and (out / LATENTS_FILE).exists():
        z = np.load(out / LATENTS_FILE)
        plots.append(rp.plot_latents(out, "latent_space", z, caption=f"latent codes ({lat['source']})"))
    if m.get("training"):
        plots.append(
            rp.plot_training(
                out,
                "training_loss",
                m["training"]["history"],
                caption="training and validation loss per epoch",
            )
        )
    return plots


def _draw_physics(
    phys: Mapping[str, Any], original: Table, reconstructed: Table, out: Path
) -> list[SavedPlot]:
    """Per-event quantities (mjj, HT, MET), the jet mass and the jet multiplicities, before and after."""
    kin = dict(phys["kinematics"])
    thresholds = [float(t) for t in phys["thresholds"]]
    met = phys.get("met_column")
    ev = original[EVENT_COLUMN]
    q_in = event_quantities(original, kin, event=ev, thresholds=thresholds, met=met)
    q_out = event_quantities(reconstructed, kin, event=ev, thresholds=thresholds, met=met)
    quantities = phys["quantities"]
    plots = []
    for key, caption in _PHYSICS_CAPTIONS.items():
        if key in q_in and key in quantities:
            plots.append(
                rp.plot_overlay(
                    out,
                    f"physics_{key}",
                    q_in[key],
                    q_out[key],
                    key,
                    ks=quantities[key].get("ks"),
                    caption=caption,
                )
            )
    jet_mass = _draw_jet_mass(phys, jet_masses(original, kin), jet_masses(reconstructed, kin), out)
    if jet_mass is not None:
        plots.append(jet_mass)
    counts = [
        (f"$p_T$ > {t:g} GeV", q_in[multiplicity_key(t)], q_out[multiplicity_key(t)])
        for t in thresholds
        if multiplicity_key(t) in q_in
    ]
    if counts:
        plots.append(
            rp.plot_counts(
                out,
                "physics_njets",
                counts,
                xlabel="jets per event",
                caption="jet multiplicity per event above pt thresholds",
            )
        )
    return plots


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


__all__ = ["PLOT_SECTIONS", "Drawn", "draw_figures"]
