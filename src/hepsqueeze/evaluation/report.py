"""The evaluation report: metrics, physics checks and plots of an original table against its reconstruction.

:func:`evaluate` writes, in this order, ``DIR/metrics.json`` (every number), ``DIR/latents.npy`` (when
latent codes are available), one PNG and one PDF per plot, and ``DIR/index.html`` (one page with the
metrics tables and every plot). Plots are drawn by :func:`draw_report` from the JSON plus the two
tables, so they can be redrawn, and runs compared, from the JSON alone.

Rows are matched in order. Residuals are ``out - in`` (phi wrapped into [-pi, pi)); relative residuals
``(out - in) / in`` and responses ``out / in`` are given for energies, momenta and masses (E, pt, m),
on the rows where ``in != 0``. Units: GeV for E, pt, m, HT, mjj, MET; rad for phi.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.atomic import atomic_open
from hepsqueeze.errors import ColumnError, InputError, ModelError, OutputExistsError, missing_column_message
from hepsqueeze.evaluation._json import json_safe
from hepsqueeze.evaluation.physics import (
    DEFAULT_THRESHOLDS,
    EVENT_COLUMN,
    event_quantities,
    jet_mass_summary,
    jet_masses,
    kinematic_columns,
    met_column,
    multiplicity_key,
    physics_summary,
)
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
from hepsqueeze.version import __version__

log = logging.getLogger(__name__)

METRICS_FILE: Final = "metrics.json"
LATENTS_FILE: Final = "latents.npy"
INDEX_FILE: Final = "index.html"
GROUP_COLUMNS: Final = ("process", "object")
MAX_GROUPS: Final = 30
RESPONSE_BINS: Final = 20
METRICS_FORMAT: Final = 1

ModelLike = CompressionModel | str | os.PathLike[str]


# ---------------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------------


def check_rows(original: Table, reconstructed: Table) -> None:
    """Raise :class:`InputError` unless both tables have the same number of rows (they are matched in order)."""
    if original.num_rows != reconstructed.num_rows:
        raise InputError(
            f"original {original.source} has {original.num_rows} rows but reconstructed "
            f"{reconstructed.source} has {reconstructed.num_rows}; rows are matched in order, so both "
            "must hold the same rows"
        )
    if original.num_rows == 0:
        raise InputError(f"original {original.source} has no rows: nothing to evaluate")


def read_container(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What the report uses from a compressed file: ``info`` (:func:`file_info`), ``decoder`` (the
    embedded decoder-only model, or None) and ``latents`` (the stored codes as float32, or None)."""
    from hepsqueeze.codec.compress import file_info
    from hepsqueeze.container import ContainerReader
    from hepsqueeze.models.io import model_from_bytes

    info = file_info(path)
    decoder: CompressionModel | None = None
    latents: npt.NDArray[np.float32] | None = None
    with ContainerReader.open(path) as reader:
        embedded = reader.find("model")
        if embedded:
            decoder = model_from_bytes(reader.read_bytes(embedded[0]), f"{path} (embedded model)")
        parts = [reader.read_array(s) for s in sorted(reader.find("latent"), key=lambda s: s.chunk)]
        if parts:
            latents = np.concatenate(parts).astype(np.float32)
    return {"info": info, "decoder": decoder, "latents": latents}


def _load_model(model: ModelLike | None) -> CompressionModel | None:
    if model is None or isinstance(model, CompressionModel):
        return model
    from hepsqueeze.zoo import resolve_model

    return resolve_model(model)


def resolve_columns(
    original: Table,
    reconstructed: Table,
    *,
    columns: Sequence[str] | None = None,
    variables: Sequence[str] | None = None,
    model: CompressionModel | None = None,
    header: Mapping[str, Any] | None = None,
) -> tuple[list[str], list[str]]:
    """The compressed columns and their variable names.

    ``columns`` if given, else the model's, else the container header's, else the float columns both
    tables share except ``event``. ``variables`` (which decide residual conventions) default to the
    model's or header's variables when the counts match, else to the column names.
    """
    comp = (header or {}).get("compressed", {}) if header else {}
    if columns:
        cols = list(columns)
    elif model is not None:
        cols = list(model.columns)
    elif comp.get("columns"):
        cols = [str(c) for c in comp["columns"]]
    else:
        cols = [
            n
            for n in original.names
            if n != EVENT_COLUMN
            and n in reconstructed
            and original[n].dtype.kind == "f"
            and reconstructed[n].dtype.kind == "f"
        ]
    if not cols:
        raise ColumnError(
            f"no float columns shared by {original.source} and {reconstructed.source} to evaluate; pass columns"
        )
    for c in cols:
        for t, what in ((original, "original"), (reconstructed, "reconstructed")):
            if c not in t:
                raise ColumnError(missing_column_message(c, t.names, f"{what} {t.source}"))
    if variables:
        var = list(variables)
    elif model is not None and len(model.variables) == len(cols):
        var = list(model.variables)
    elif comp.get("variables") and len(comp["variables"]) == len(cols):
        var = [str(v) for v in comp["variables"]]
    else:
        var = list(cols)
    if len(var) != len(cols):
        raise ColumnError(
            f"{len(cols)} columns ({', '.join(cols)}) but {len(var)} variables ({', '.join(var)})"
        )
    return cols, var


# ---------------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------------


def _normalised(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], model: CompressionModel | None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], str]:
    if model is not None and len(model.normaliser.variables) == x.shape[1]:
        with np.errstate(all="ignore"):
            nx = model.normaliser.forward(x).astype(np.float64)
            ny = model.normaliser.forward(y).astype(np.float64)
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


def _latent_summary(z: npt.NDArray[np.float32], source: str) -> dict[str, Any]:
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


def compute_metrics(
    original: Table,
    reconstructed: Table,
    columns: Sequence[str],
    variables: Sequence[str],
    *,
    model: CompressionModel | None = None,
    group_by: Sequence[str] = (),
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> dict[str, Any]:
    """Every metric that does not need the container: per variable, binned, correlations, groups, physics."""
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
        original, reconstructed, columns, variables, thresholds=thresholds, notes=notes
    )
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
) -> dict[str, Any] | None:
    if EVENT_COLUMN not in original:
        notes.append(f"no {EVENT_COLUMN!r} column: per-event physics checks skipped")
        return None
    kin = kinematic_columns(original.names, columns, variables)
    if kin is None or not all(c in reconstructed for c in kin.values()):
        notes.append("physics checks need pt, eta, phi and E or m columns in both tables: skipped")
        return None
    met = met_column(original.names)
    if met is not None and met not in reconstructed:
        met = None
    ev = original[EVENT_COLUMN]
    q_in = event_quantities(original, kin, event=ev, thresholds=thresholds, met=met)
    q_out = event_quantities(reconstructed, kin, event=ev, thresholds=thresholds, met=met)
    summary = physics_summary(q_in, q_out)
    summary["jets"] = jet_mass_summary(jet_masses(original, kin), jet_masses(reconstructed, kin))
    summary["kinematics"] = kin
    summary["met_column"] = met
    summary["thresholds"] = [float(t) for t in thresholds]
    summary["units"] = "GeV"
    return summary


# ---------------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------------


def evaluate(
    original: Table,
    reconstructed: Table,
    report_dir: str | os.PathLike[str],
    *,
    container: str | os.PathLike[str] | None = None,
    model: ModelLike | None = None,
    columns: Sequence[str] | None = None,
    variables: Sequence[str] | None = None,
    group_by: str | Sequence[str] | None = None,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    plots: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Write the evaluation report of ``reconstructed`` against ``original`` into ``report_dir``.

    ``container``: the compressed file (ratio, bits per value, stored latents, embedded decoder);
    ``model``: the full model (or its path) for the latent space and training curves; ``columns`` /
    ``variables``: the compressed columns and their variable names (default: from the model or
    container, else the shared float columns except ``event``); ``group_by``: grouping columns (default
    ``process``/``object`` when present); ``thresholds``: jet pt thresholds in GeV for multiplicities.
    Raises :class:`OutputExistsError` if the directory already holds a report and ``force`` is false.
    Returns the metrics (as written to ``metrics.json``) plus ``plots``, the plot files written.
    """
    t0 = time.perf_counter()
    check_rows(original, reconstructed)
    out_dir = Path(report_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputExistsError(f"report directory {str(out_dir)!r} is a file")
    metrics_path = out_dir / METRICS_FILE
    if metrics_path.exists() and not force:
        raise OutputExistsError(
            f"{str(metrics_path)!r} already exists; overwriting the report was not asked for (force=True)"
        )
    notes: list[str] = []
    mdl = _load_model(model)
    stored: dict[str, Any] | None = read_container(container) if container is not None else None
    decoder = stored["decoder"] if stored else None
    header = stored["info"]["header"] if stored else None
    cols, var = resolve_columns(
        original, reconstructed, columns=columns, variables=variables, model=mdl or decoder, header=header
    )
    groups = _group_columns(original, group_by)
    metrics: dict[str, Any] = {
        "format": METRICS_FORMAT,
        "created_by": f"hepsqueeze {__version__}",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "original": {"source": original.source, "rows": original.num_rows},
        "reconstructed": {"source": reconstructed.source, "rows": reconstructed.num_rows},
    }
    metrics.update(
        compute_metrics(
            original, reconstructed, cols, var, model=mdl or decoder, group_by=groups, thresholds=thresholds
        )
    )
    notes.extend(metrics.pop("notes"))
    metrics["group_by"] = list(groups)
    metrics["container"] = _container_metrics(stored, original.num_rows) if stored else None
    metrics["model"] = _model_metrics(mdl, decoder)
    metrics["training"] = None
    if mdl is not None and mdl.history:
        metrics["training"] = {"history": mdl.history, "info": mdl.training}
    elif mdl is not None or decoder is not None:
        notes.append(
            "the model holds no training history (the decoder embedded in a container has none): "
            "pass the full model file for training curves"
        )
    latents, source = _latents(original, cols, mdl, stored, notes)
    metrics["latents"] = _latent_summary(latents, source) if latents is not None else None
    metrics["notes"] = notes
    metrics["timing_s"] = {"metrics": time.perf_counter() - t0}

    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(metrics_path, metrics)
    if latents is not None:
        with atomic_open(out_dir / LATENTS_FILE, force=True) as fh:
            np.save(fh, latents)
    log.info("metrics written to %s in %.1f s", metrics_path, metrics["timing_s"]["metrics"])
    written = draw_report(metrics_path, original, reconstructed, out_dir, plots=plots)
    log.info("report written to %s in %.1f s", out_dir, time.perf_counter() - t0)
    return {**json_safe(metrics), "plots": written}


def _group_columns(original: Table, group_by: str | Sequence[str] | None) -> list[str]:
    if group_by is None:
        return [g for g in GROUP_COLUMNS if g in original]
    wanted = [group_by] if isinstance(group_by, str) else list(group_by)
    for g in wanted:
        if g not in original:
            raise ColumnError(missing_column_message(g, original.names, f"original {original.source}"))
    return wanted


def _container_metrics(stored: Mapping[str, Any], rows: int) -> dict[str, Any]:
    info = stored["info"]
    header = info["header"]
    n_comp = len(header.get("compressed", {}).get("columns", []))
    values = rows * n_comp
    sections = dict(info["section_bytes"])
    return {
        "path": info["path"],
        "file_bytes": info["file_bytes"],
        "ratio": info["ratio"],
        "rows": int(header.get("num_rows", 0)),
        "compressed_columns": list(header.get("compressed", {}).get("columns", [])),
        "bits_per_value": 8.0 * info["file_bytes"] / values if values else None,
        "latent_bits_per_value": 8.0 * sections.get("latent", 0) / values if values else None,
        "latent_dtype": header.get("codec", {}).get("latent_dtype"),
        "section_bytes": sections,
        "model": header.get("model", {}),
    }


def _model_metrics(mdl: CompressionModel | None, decoder: CompressionModel | None) -> dict[str, Any] | None:
    chosen = mdl or decoder
    if chosen is None:
        return None
    return {
        **chosen.summary(),
        "source": "model file" if mdl is not None else "decoder embedded in the container",
        "has_encoder": chosen.has_encoder,
    }


def _latents(
    original: Table,
    columns: Sequence[str],
    mdl: CompressionModel | None,
    stored: Mapping[str, Any] | None,
    notes: list[str],
) -> tuple[npt.NDArray[np.float32] | None, str]:
    if stored is not None and stored["latents"] is not None:
        z = stored["latents"]
        if z.shape[0] == original.num_rows:
            return z, "latent codes stored in the container"
        notes.append(
            f"the container holds {z.shape[0]} latent rows, the original {original.num_rows}: ignored"
        )
    if mdl is not None and mdl.has_encoder:
        if len(columns) != len(mdl.variables):
            notes.append("the model's inputs do not match the evaluated columns: no latent space")
            return None, ""
        try:
            return mdl.encode(original.stack(columns)), f"encoded with model {mdl.name!r}"
        except (InputError, ModelError) as exc:
            notes.append(f"could not encode the original with the model: {exc}")
            return None, ""
    notes.append("no latent codes: pass the container or the full model (a decoder alone cannot encode)")
    return None, ""


def write_json(path: str | os.PathLike[str], data: Mapping[str, Any]) -> Path:
    """Write ``data`` as indented strict JSON (NaN/inf as null) atomically."""
    text = json.dumps(json_safe(dict(data)), indent=1, allow_nan=False)
    with atomic_open(path, force=True) as fh:
        fh.write(text.encode("utf-8") + b"\n")
    return Path(path)


def load_metrics(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``metrics.json`` written by :func:`evaluate`."""
    p = Path(path)
    if not p.exists():
        from hepsqueeze.errors import InputFileNotFoundError

        raise InputFileNotFoundError(f"metrics file {str(p)!r} does not exist")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read metrics file {str(p)!r}: {exc}") from None
    if not isinstance(data, dict) or "metrics" not in data:
        raise InputError(f"{str(p)!r} is not a hepsqueeze metrics.json")
    return data


# ---------------------------------------------------------------------------------------------------
# Plots and the HTML page
# ---------------------------------------------------------------------------------------------------

PLOT_SECTIONS: Final = (
    ("distributions", "Distributions: original vs reconstructed"),
    ("in_vs_out", "Reconstructed vs original"),
    ("residuals", "Residuals"),
    ("response", "Response and resolution vs true pt and eta"),
    ("physics", "Physics checks (per event)"),
    ("groups", "Breakdown by group"),
    ("latent", "Latent space and training"),
)


def draw_report(
    metrics_json_path: str | os.PathLike[str],
    original: Table,
    reconstructed: Table,
    report_dir: str | os.PathLike[str] | None = None,
    *,
    plots: bool = True,
) -> list[str]:
    """(Re)draw every plot and ``index.html`` from a ``metrics.json`` and the two tables.

    ``report_dir`` defaults to the JSON's directory; ``plots=False`` writes only the page. Returns the
    plot files written (names relative to the directory, PNG and PDF).
    """
    t0 = time.perf_counter()
    path = Path(metrics_json_path)
    m = load_metrics(path)
    out = Path(report_dir) if report_dir is not None else path.parent
    check_rows(original, reconstructed)
    drawn = _draw_plots(m, original, reconstructed, out) if plots else {}
    seconds = time.perf_counter() - t0
    log.info("plots drawn in %.1f s", seconds)
    write_index(m, out, drawn, plot_seconds=seconds if plots else None)
    return [f for group in drawn.values() for p in group for f in p.files]


def _nan(stats: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: (float("nan") if v is None else v) for k, v in (stats or {}).items()}


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def _draw_plots(
    m: Mapping[str, Any], original: Table, reconstructed: Table, out: Path
) -> dict[str, list[Any]]:
    from hepsqueeze.plotting import report_plots as rp
    from hepsqueeze.plotting.style import hep_style, symbol, unit_of

    out.mkdir(parents=True, exist_ok=True)
    drawn: dict[str, list[Any]] = {key: [] for key, _ in PLOT_SECTIONS}
    cols: list[str] = list(m["columns"])
    var: list[str] = list(m["variables"])
    with hep_style():
        for col, v in zip(cols, var, strict=True):
            a = np.asarray(original[col], dtype=np.float64)
            b = np.asarray(reconstructed[col], dtype=np.float64)
            vm = m["metrics"][col]
            name, sym, unit = _safe(col), symbol(v), unit_of(v)
            ks = vm.get("ks")
            drawn["distributions"].append(
                rp.plot_overlay(
                    out,
                    f"dist_{name}",
                    a,
                    b,
                    v,
                    ks=ks,
                    caption=f"{col}: original and reconstructed distributions, ratio reconstructed/original",
                )
            )
            drawn["in_vs_out"].append(
                rp.plot_in_vs_out(
                    out, f"in_vs_out_{name}", a, b, v, caption=f"{col}: reconstructed vs original"
                )
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
        for xcol in dict.fromkeys(b["x"] for b in m["binned"].values()):
            entries = [b for b in m["binned"].values() if b["x"] == xcol]
            log_x = entries[0]["x_variable"].lower() in ("pt", "e", "m")
            for quantity, ylabel, ref in (
                ("response", "response (reco / orig)", 1.0),
                ("residual", "residual (reco \u2212 orig)", 0.0),
            ):
                series = [(b["y"], _nan_lists(b)) for b in entries if b["quantity"] == quantity]
                if series:
                    drawn["response"].append(
                        rp.plot_binned(
                            out,
                            f"{quantity}_vs_{_safe(xcol)}",
                            series,
                            xlabel=f"original {_axis(entries[0]['x_variable'])}",
                            ylabel=ylabel,
                            reference=ref,
                            log_x=log_x,
                            caption=f"{quantity} of {', '.join(s for s, _ in series)} in bins of the original "
                            f"{xcol}: mean (top) and spread (bottom)",
                        )
                    )
        corr = m["residual_correlation"]
        drawn["response"].append(
            rp.plot_matrix(
                out,
                "residual_correlation",
                _nan_matrix(corr["matrix"]),
                corr["labels"],
                title="correlation of residuals",
                caption="correlation of the residuals (relative for E/pt/m, absolute otherwise)",
            )
        )
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
        lat = m.get("latents")
        if lat and (out / LATENTS_FILE).exists():
            z = np.load(out / LATENTS_FILE)
            drawn["latent"].append(
                rp.plot_latents(out, "latent_space", z, caption=f"latent codes ({lat['source']})")
            )
        if m.get("training"):
            drawn["latent"].append(
                rp.plot_training(
                    out,
                    "training_loss",
                    m["training"]["history"],
                    caption="training and validation loss per epoch",
                )
            )
    return drawn


def _axis(variable: str) -> str:
    from hepsqueeze.plotting.style import axis_label

    return axis_label(variable)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def _nan_lists(b: Mapping[str, Any]) -> dict[str, Any]:
    return {k: ([np.nan if x is None else x for x in v] if isinstance(v, list) else v) for k, v in b.items()}


def _nan_matrix(rows: Sequence[Sequence[float | None]]) -> list[list[float]]:
    return [[np.nan if x is None else float(x) for x in r] for r in rows]


def _draw_physics(phys: Mapping[str, Any], original: Table, reconstructed: Table, out: Path) -> list[Any]:
    from hepsqueeze.plotting import report_plots as rp

    kin = dict(phys["kinematics"])
    thresholds = [float(t) for t in phys["thresholds"]]
    met = phys.get("met_column")
    ev = original[EVENT_COLUMN]
    q_in = event_quantities(original, kin, event=ev, thresholds=thresholds, met=met)
    q_out = event_quantities(reconstructed, kin, event=ev, thresholds=thresholds, met=met)
    quantities = phys["quantities"]
    plots = []
    captions = {
        "mjj": "invariant mass of the two leading jets per event",
        "ht": "HT: scalar sum of jet pt per event",
        "met": "missing transverse energy per event",
    }
    for key, caption in captions.items():
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
    m_in, m_out = jet_masses(original, kin), jet_masses(reconstructed, kin)
    both = np.concatenate([m_in, m_out])
    both = both[np.isfinite(both)]
    if both.size:
        lo, hi = (float(v) for v in np.quantile(both, [0.01, 0.99]))
        frac = phys.get("jets", {}).get("negative_m2_fraction", {})
        plots.append(
            rp.plot_overlay(
                out,
                "physics_jet_mass",
                m_in,
                m_out,
                "m",
                ks=phys.get("jets", {}).get("mass", {}).get("ks"),
                edges=np.linspace(lo, hi if hi > lo else lo + 1.0, 81),
                caption="invariant mass of each jet from its four-vector, negative where E < |p| "
                f"(original {_percent(frac.get('original'))}, reconstructed {_percent(frac.get('reconstructed'))})",
            )
        )
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


def write_index(
    m: Mapping[str, Any],
    out: Path,
    drawn: Mapping[str, Sequence[Any]],
    *,
    plot_seconds: float | None = None,
) -> Path:
    """Write ``index.html``: the metrics tables and every drawn plot, grouped by section."""
    from hepsqueeze.plotting.html import Section, table_html, write_page

    cols: list[str] = list(m["columns"])
    summary = Section("Summary")
    summary.paragraphs.append(
        f"Original: {m['original']['source']} ({m['original']['rows']} rows). "
        f"Reconstructed: {m['reconstructed']['source']} ({m['reconstructed']['rows']} rows), matched in order."
    )
    summary.paragraphs.append(
        "Compressed columns: "
        + ", ".join(
            f"{c} ({v}, {m['residual_kinds'][c]} residual)" for c, v in zip(cols, m["variables"], strict=True)
        )
        + f". Normalised MSE uses the {m['normalisation']}."
    )
    rows: list[list[object]] = []
    c = m.get("container")
    if c:
        rows += [
            ["container", c["path"]],
            ["compression ratio", c["ratio"]],
            ["file size [bytes]", c["file_bytes"]],
            ["bits per value (whole file)", c["bits_per_value"]],
            ["bits per value (latent codes)", c["latent_bits_per_value"]],
            ["latent dtype", c["latent_dtype"]],
        ]
    mod = m.get("model")
    if mod:
        rows += [
            ["model", f"{mod['name']} ({mod['source']})"],
            ["layers", "-".join(str(n) for n in mod["nodes"])],
            ["normalisation", mod["normalisation"]],
        ]
    rows += [
        ["normalised MSE, all variables", m.get("mse_normalised_total")],
        ["metrics time [s]", m["timing_s"]["metrics"]],
    ]
    if plot_seconds is not None:
        rows.append(["plot time [s]", plot_seconds])
    summary.tables.append(table_html(["", "value"], rows))
    summary.notes.extend(m.get("notes", []))

    per = Section("Per-variable metrics")
    per.paragraphs.append(
        "Residual r = reconstructed \u2212 original (phi wrapped); rel. = (reconstructed \u2212 original) / original "
        "and response = reconstructed / original where original ≠ 0, for E, pt and m. Errors: std/√N for "
        "means, std/√(2N) for stds. w68 and w95: half-widths of the central 68.27% and 95.45% intervals. "
        "KS: two-sample Kolmogorov-Smirnov statistic of the original and reconstructed distributions."
    )
    per.tables.append(_variables_table(cols, m["metrics"]))

    sections = [summary, per]
    for key, title in PLOT_SECTIONS:
        sec = Section(title, figures=list(drawn.get(key, [])))
        if key == "physics" and m.get("physics"):
            phys = m["physics"]
            sec.paragraphs.append(
                f"{phys['n_events']} events; thresholds {', '.join(f'{t:g}' for t in phys['thresholds'])} GeV; "
                "shift = mean reconstructed \u2212 mean original (± its standard error); rel. shifts divide by the "
                "original's mean/median; per-event rel. std: spread of (reco \u2212 orig)/orig event by event; "
                "changed: fraction of events (jets) whose value changed."
            )
            frac = (phys.get("jets") or {}).get("negative_m2_fraction")
            if frac:
                sec.notes.append(
                    f"jets with E < |p| (negative m², unphysical): original {_percent(frac['original'])}, "
                    f"reconstructed {_percent(frac['reconstructed'])}; dijet pairs with negative m² "
                    f"(mjj set to 0): {phys['n_negative_m2']['reconstructed']} reconstructed events"
                )
            sec.tables.append(_physics_table(phys))
        if key == "groups":
            for g, groups in (m.get("groups") or {}).items():
                sec.paragraphs.append(f"By {g}:")
                sec.tables.append(_groups_table(cols, groups))
        if key == "latent" and m.get("latents"):
            lat = m["latents"]
            sec.paragraphs.append(f"Latent codes: {lat['rows']} x {lat['dim']}, {lat['source']}.")
            sec.tables.append(
                table_html(
                    ["dimension", "mean", "std", "min", "max"],
                    [
                        [f"z{k}", lat["mean"][k], lat["std"][k], lat["min"][k], lat["max"][k]]
                        for k in range(lat["dim"])
                    ]
                    if lat.get("mean")
                    else [],
                )
            )
        if sec.figures or sec.tables:
            sections.append(sec)
    title = "hepsqueeze evaluation report"
    return write_page(out / INDEX_FILE, title, sections, subtitle=f"{m['created_by']}, {m['created']}")


def _variables_table(cols: Sequence[str], per: Mapping[str, Any]) -> str:
    from hepsqueeze.plotting.html import table_html

    header = [
        "column",
        "unit",
        "r mean",
        "± err",
        "r std",
        "r RMS",
        "max |r|",
        "r w68",
        "r w95",
        "rel. mean",
        "rel. std",
        "rel. w68",
        "rel. w95",
        "response mean",
        "response std",
        "MSE",
        "MSE (norm.)",
        "KS",
    ]
    rows = []
    for col in cols:
        vm = per[col]
        r = vm["residual"]
        rel = vm.get("relative_residual") or {}
        resp = vm.get("response") or {}
        from hepsqueeze.plotting.style import unit_of

        rows.append(
            [
                col,
                unit_of(vm["variable"]),
                r["mean"],
                r["mean_err"],
                r["std"],
                r["rms"],
                r["max_abs"],
                r["width68"],
                r["width95"],
                rel.get("mean"),
                rel.get("std"),
                rel.get("width68"),
                rel.get("width95"),
                resp.get("mean"),
                resp.get("std"),
                vm["mse"],
                vm["mse_normalised"],
                vm["ks"],
            ]
        )
    return table_html(header, rows)


def _physics_table(phys: Mapping[str, Any]) -> str:
    from hepsqueeze.plotting.html import table_html

    header = [
        "quantity",
        "events",
        "mean orig",
        "mean reco",
        "shift",
        "± err",
        "rel. mean shift",
        "rel. median shift",
        "std orig",
        "std reco",
        "KS",
        "per-event rel. std",
        "changed",
    ]
    rows = [_shift_row(key, q) for key, q in phys["quantities"].items() if q.get("n")]
    jets = phys.get("jets")
    if jets and jets["mass"].get("n"):
        rows.append(_shift_row("jet mass (per jet)", jets["mass"]))
    return table_html(header, rows)


def _shift_row(label: str, q: Mapping[str, Any]) -> list[Any]:
    """One row of the physics table: a quantity's distributions before and after, and their shift."""
    keys = (
        "n",
        "mean_in",
        "mean_out",
        "mean_shift",
        "mean_shift_err",
        "rel_mean_shift",
        "rel_median_shift",
        "std_in",
        "std_out",
        "ks",
    )
    return [label, *(q[k] for k in keys), q["per_event_relative"]["std"], q["changed_fraction"]]


def _groups_table(cols: Sequence[str], groups: Mapping[str, Any]) -> str:
    from hepsqueeze.plotting.html import table_html

    header = ["group", "rows", "column", "residual", "mean", "± err", "std", "w68", "MSE (norm.)", "KS"]
    rows = []
    for g, data in groups.items():
        for col in cols:
            vm = data["variables"][col]
            st = vm.get("relative_residual") or vm["residual"]
            what = "relative" if vm.get("relative_residual") else "absolute"
            rows.append(
                [
                    g,
                    data["n"],
                    col,
                    what,
                    st["mean"],
                    st["mean_err"],
                    st["std"],
                    st["width68"],
                    vm["mse_normalised"],
                    vm["ks"],
                ]
            )
    return table_html(header, rows)


__all__ = [
    "check_rows",
    "compute_metrics",
    "draw_report",
    "evaluate",
    "load_metrics",
    "read_container",
    "resolve_columns",
    "write_index",
    "write_json",
]
