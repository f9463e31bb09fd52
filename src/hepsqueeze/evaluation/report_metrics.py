"""The report's numbers: per-variable metrics, binned response and resolution, residual correlations,
per-group breakdowns, per-event physics checks, and summaries of the container, model and latent codes.

Residuals are ``out - in`` (phi wrapped into [-pi, pi)); relative residuals ``(out - in) / in`` and
responses ``out / in`` are given for energies, momenta and masses (E, pt, m), on the rows where
``in != 0``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.evaluation.inputs import check_rows
from hepsqueeze.evaluation.physics import (
    DEFAULT_THRESHOLDS,
    EVENT_COLUMN,
    jet_mass_summary,
    jet_rows,
    physics_arrays,
    physics_inputs,
    physics_summary,
)
from hepsqueeze.evaluation.report_bounds import LATENT_CODECS, MAIN_TABLE
from hepsqueeze.evaluation.report_files import LATENTS_FILE
from hepsqueeze.io.table import Table
from hepsqueeze.metrics.residuals import (
    absolute_residuals,
    binned_stats,
    has_relative,
    residuals,
    responses,
    variable_metrics,
)
from hepsqueeze.models.model import CompressionModel
from hepsqueeze.plotting.style import branch_variable

#: Grouping columns with more values than this get no breakdown.
MAX_GROUPS: Final = 30
#: Bins of the response and resolution in the true pt and eta.
RESPONSE_BINS: Final = 20


def _normalised(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], model: CompressionModel | None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], str]:
    if model is not None and len(model.normaliser.variables) == x.shape[1]:
        with np.errstate(all="ignore"):
            nx = model.normalise(x).astype(np.float64)
            ny = model.normalise(y).astype(np.float64)
        return nx, ny, f"model normaliser ({model.normaliser.scheme})"
    mean = np.nanmean(np.where(np.isfinite(x), x, np.nan), axis=0)
    std = np.nanstd(np.where(np.isfinite(x), x, np.nan), axis=0)
    std = np.where(std > 0, std, 1.0)
    return (x - mean) / std, (y - mean) / std, "standardised by the original's mean and std"


def per_variable_metrics(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    columns: Sequence[str],
    variables: Sequence[str],
    *,
    nx: npt.NDArray[np.float64],
    ny: npt.NDArray[np.float64],
    integer: Collection[str] = (),
) -> dict[str, dict[str, Any]]:
    """:func:`variable_metrics` of each column, keyed by column name.

    ``x``/``y``: original/reconstructed ``(rows, columns)``; ``nx``/``ny``: the same normalised;
    ``integer``: the integer-typed columns (they also get an exact-match rate).
    """
    out: dict[str, dict[str, Any]] = {}
    for j, (col, var) in enumerate(zip(columns, variables, strict=True)):
        m = variable_metrics(x[:, j], y[:, j], var, normalised=(nx[:, j], ny[:, j]), integer=col in integer)
        out[col] = {"variable": var, **m}
    return out


def residual_correlation(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], variables: Sequence[str]
) -> list[list[float]]:
    """Pearson correlation between the variables' residuals (relative for E/pt/m, absolute otherwise)."""
    r = np.column_stack([residuals(x[:, j], y[:, j], v) for j, v in enumerate(variables)])
    r = r[np.isfinite(r).all(axis=1)]
    if r.shape[0] < 2:
        return [[float("nan")] * len(variables) for _ in variables]
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.corrcoef(r, rowvar=False)
    return np.atleast_2d(c).tolist()  # type: ignore[no-any-return]


def response_edges(
    values: npt.NDArray[Any], n: int = RESPONSE_BINS, *, log: bool = False
) -> npt.NDArray[np.float64] | None:
    """``n`` bin edges spanning the central 99.8% of ``values``: log-spaced if ``log`` (and positive),
    else linear. None when the values do not span a range."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return None
    lo, hi = (float(q) for q in np.quantile(v, [0.001, 0.999]))
    if not hi > lo:
        return None
    if log and lo > 0:
        return np.geomspace(lo, hi, n + 1)
    return np.linspace(lo, hi, n + 1)


def binned_metrics(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    columns: Sequence[str],
    variables: Sequence[str],
) -> dict[str, dict[str, Any]]:
    """Response (E/pt/m) or residual (others) of every variable binned in the true pt and eta.

    Keys ``"<column>_vs_<x column>"``; values as :func:`binned_stats` plus ``x``, ``y``, ``quantity``.
    """
    lower = [v.lower() for v in variables]
    out: dict[str, dict[str, Any]] = {}
    for xname in ("pt", "eta"):
        if xname not in lower:
            continue
        k = lower.index(xname)
        truth = x[:, k]
        edges = response_edges(truth, log=xname == "pt")
        if edges is None:
            continue
        for j, (col, var) in enumerate(zip(columns, variables, strict=True)):
            if has_relative(var):
                keep = x[:, j] != 0
                vals = np.full(x.shape[0], np.nan)
                vals[keep] = responses(x[keep, j], y[keep, j])
                quantity = "response"
            else:
                vals = absolute_residuals(x[:, j], y[:, j], var)
                quantity = "residual"
            out[f"{col}_vs_{columns[k]}"] = {
                "x": columns[k],
                "x_variable": variables[k],
                "y": col,
                "y_variable": var,
                "quantity": quantity,
                **binned_stats(truth, vals, edges),
            }
    return out


def group_metrics(
    original: Table,
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    columns: Sequence[str],
    variables: Sequence[str],
    *,
    nx: npt.NDArray[np.float64],
    ny: npt.NDArray[np.float64],
    group_by: Sequence[str],
    notes: list[str],
) -> dict[str, Any]:
    """Per-variable metrics for each value of each grouping column: ``{column: {value: {n, variables}}}``."""
    out: dict[str, Any] = {}
    for g in group_by:
        labels = np.asarray(original[g])
        values, inverse = np.unique(labels, return_inverse=True)
        if values.size > MAX_GROUPS:
            notes.append(f"grouping column {g!r} has {values.size} values (> {MAX_GROUPS}): no breakdown")
            continue
        per: dict[str, Any] = {}
        for k, value in enumerate(values):
            rows = np.flatnonzero(inverse == k)
            per[str(value)] = {
                "n": int(rows.size),
                "variables": per_variable_metrics(
                    x[rows], y[rows], columns, variables, nx=nx[rows], ny=ny[rows]
                ),
            }
        out[g] = per
    return out


def compute_metrics(
    original: Table,
    reconstructed: Table,
    columns: Sequence[str],
    variables: Sequence[str],
    *,
    model: CompressionModel | None = None,
    group_by: Sequence[str] = (),
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    tables: Mapping[str, tuple[Table, Table]] | None = None,
) -> dict[str, Any]:
    """Every metric that does not need the container: per variable, binned, correlations, groups,
    physics (on the main table, or on the jets and MET of the auxiliary ``tables``: name ->
    (original, reconstructed)) and the auxiliary tables' per-variable metrics."""
    check_rows(original, reconstructed)
    notes: list[str] = []
    x = original.stack(columns, dtype=np.float64)
    y = reconstructed.stack(columns, dtype=np.float64)
    nx, ny, norm_label = _normalised(x, y, model)
    integer = [c for c in columns if original[c].dtype.kind in "iub"]
    per = per_variable_metrics(x, y, columns, variables, nx=nx, ny=ny, integer=integer)
    with np.errstate(invalid="ignore"):
        d = (ny - nx)[np.isfinite(ny - nx)]
    metrics: dict[str, Any] = {
        "columns": list(columns),
        "variables": list(variables),
        "residual_kinds": {c: per[c]["kind"] for c in columns},
        "normalisation": norm_label,
        "metrics": per,
        "mse_normalised_total": float(np.mean(d**2)) if d.size else float("nan"),
        "residual_correlation": {
            "labels": list(columns),
            "convention": "relative residual for E/pt/m, absolute otherwise (phi wrapped)",
            "matrix": residual_correlation(x, y, variables),
        },
        "binned": binned_metrics(x, y, columns, variables),
    }
    metrics["groups"] = {}
    if group_by:
        metrics["groups"] = group_metrics(
            original, x, y, columns, variables, nx=nx, ny=ny, group_by=group_by, notes=notes
        )
    metrics["physics"] = _physics(
        original, reconstructed, columns, variables, thresholds=thresholds, notes=notes, tables=tables
    )
    metrics["tables"] = table_metrics(tables) if tables else {}
    metrics["notes"] = notes
    return metrics


def _physics(
    original: Table,
    reconstructed: Table,
    columns: Sequence[str],
    variables: Sequence[str],
    *,
    thresholds: Sequence[float],
    notes: list[str],
    tables: Mapping[str, tuple[Table, Table]] | None = None,
) -> dict[str, Any] | None:
    pairs = {MAIN_TABLE: (original, reconstructed), **(tables or {})}
    found, why = physics_inputs(pairs, MAIN_TABLE, columns, variables)
    if found is None:
        notes.append(why)
        return None
    orig, reco = pairs[found["table"]]
    check_rows(orig, reco)
    found["thresholds"] = [float(t) for t in thresholds]
    q_in, q_out, m_in, m_out = physics_arrays(found, pairs)
    summary = physics_summary(q_in, q_out)
    summary["jets"] = jet_mass_summary(m_in, m_out) if m_in is not None and m_out is not None else None
    summary.update(found)
    summary["jet_rows"] = "j and b objects" if jet_rows(orig) is not None else "every row"
    summary["units"] = "GeV"
    return summary


def table_metrics(tables: Mapping[str, tuple[Table, Table]], skip: Collection[str] = ()) -> dict[str, Any]:
    """Per-variable metrics of the float columns (``event`` and ``skip`` excepted) of each auxiliary
    table, standardised by the original's mean and std: ``{name: {rows, columns, variables, metrics}}``."""
    out: dict[str, Any] = {}
    for name, (orig, reco) in tables.items():
        check_rows(orig, reco)
        cols = [
            c
            for c in orig.names
            if c != EVENT_COLUMN
            and c not in skip
            and c in reco
            and orig[c].dtype.kind == "f"
            and reco[c].dtype.kind == "f"
        ]
        variables = [branch_variable(c) for c in cols]
        per: dict[str, Any] = {}
        if cols:
            x = orig.stack(cols, dtype=np.float64)
            y = reco.stack(cols, dtype=np.float64)
            nx, ny, _ = _normalised(x, y, None)
            per = per_variable_metrics(x, y, cols, variables, nx=nx, ny=ny)
        out[name] = {"rows": orig.num_rows, "columns": cols, "variables": variables, "metrics": per}
    return out


def latent_summary(z: npt.NDArray[np.float32], source: str) -> dict[str, Any]:
    """Shape, per-dimension mean/std/min/max and correlation of the latent codes ``z`` (finite rows)."""
    zz = np.asarray(z, dtype=np.float64)
    finite = zz[np.isfinite(zz).all(axis=1)]
    corr: list[list[float]] | None = None
    if finite.shape[0] > 1 and finite.shape[1] > 1:
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = [[float(v) for v in row] for row in np.atleast_2d(np.corrcoef(finite, rowvar=False))]
    return {
        "source": source,
        "file": LATENTS_FILE,
        "rows": int(zz.shape[0]),
        "dim": int(zz.shape[1]),
        "mean": finite.mean(axis=0).tolist() if finite.size else None,
        "std": finite.std(axis=0).tolist() if finite.size else None,
        "min": finite.min(axis=0).tolist() if finite.size else None,
        "max": finite.max(axis=0).tolist() if finite.size else None,
        "correlation": corr,
    }


def container_metrics(stored: Mapping[str, Any], rows: int) -> dict[str, Any]:
    """Size, ratio and bits per value of the compressed file (``stored``, from :func:`read_container`)
    holding ``rows`` rows."""
    info = stored["info"]
    header = info["header"]
    n_comp = len(header.get("compressed", {}).get("columns", []))
    values = rows * n_comp
    sections = dict(info["section_bytes"])
    latents = header.get("codec", {}).get("name") in LATENT_CODECS
    return {
        "path": info["path"],
        "file_bytes": info["file_bytes"],
        "ratio": info["ratio"],
        "rows": int(header.get("num_rows", 0)),
        "compressed_columns": list(header.get("compressed", {}).get("columns", [])),
        "bits_per_value": 8.0 * info["file_bytes"] / values if values else None,
        "latent_bits_per_value": 8.0 * sections.get("latent", 0) / values if values and latents else None,
        "latent_dtype": header.get("codec", {}).get("latent_dtype") if latents else None,
        "codec": header.get("codec", {}).get("name"),
        "stored_exactly": dict(info.get("exceptions") or {}),
        "section_bytes": sections,
        "model": header.get("model", {}),
    }


def model_metrics(mdl: CompressionModel | None, decoder: CompressionModel | None) -> dict[str, Any] | None:
    """The summary of the full model ``mdl``, else of the container's ``decoder``; None without either."""
    chosen = mdl or decoder
    if chosen is None:
        return None
    return {
        **chosen.summary(),
        "source": "model file" if mdl is not None else "decoder embedded in the container",
        "has_encoder": chosen.has_encoder,
    }


__all__ = [
    "MAX_GROUPS",
    "RESPONSE_BINS",
    "binned_metrics",
    "compute_metrics",
    "container_metrics",
    "group_metrics",
    "latent_summary",
    "model_metrics",
    "per_variable_metrics",
    "residual_correlation",
    "response_edges",
    "table_metrics",
]
