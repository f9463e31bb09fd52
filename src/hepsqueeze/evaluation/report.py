"""The evaluation report: metrics, physics checks and plots of an original table against its reconstruction.

:func:`evaluate` writes, in this order, ``DIR/metrics.json`` (every number), ``DIR/latents.npy`` (when
latent codes are available), one PNG and one PDF per plot, and ``DIR/index.html`` (one page with the
metrics tables and every plot). Plots are drawn by :func:`draw_report` from the JSON plus the two
tables, so they can be redrawn, and runs compared, from the JSON alone.

Rows are matched in order. Residuals are ``out - in`` (phi wrapped into [-pi, pi)); relative residuals
``(out - in) / in`` and responses ``out / in`` are given for energies, momenta and masses (E, pt, m,
and ROOT branches ``*_pt``, ``*_mass``), on the rows where ``in != 0``. Units: GeV for E, pt, m, HT,
mjj, MET; rad for phi; branch units by suffix (:func:`hepsqueeze.plotting.style.unit_of`).

The parts: :mod:`~hepsqueeze.evaluation.inputs` (tables, container, model, columns),
:mod:`~hepsqueeze.evaluation.report_metrics` (the numbers), :mod:`~hepsqueeze.evaluation.figures`
(the plots), :mod:`~hepsqueeze.evaluation.page` (``index.html``) and
:mod:`~hepsqueeze.evaluation.report_files` (file names, reading ``metrics.json`` back).
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.atomic import atomic_open
from hepsqueeze.codecs.bounded.column_bound import ColumnBound
from hepsqueeze.errors import OutputExistsError
from hepsqueeze.evaluation.figures import Progress, draw_figures
from hepsqueeze.evaluation.inputs import (
    ModelLike,
    check_rows,
    group_columns,
    latent_codes,
    load_model,
    read_container,
    resolve_columns,
    sample_label,
)
from hepsqueeze.evaluation.page import write_index, write_markdown
from hepsqueeze.evaluation.physics import DEFAULT_THRESHOLDS
from hepsqueeze.evaluation.report_bounds import (
    MAIN_TABLE,
    Bounds,
    check_bounds,
    codec_name,
    container_bounds,
    has_latents,
)
from hepsqueeze.evaluation.report_files import LATENTS_FILE, METRICS_FILE, METRICS_FORMAT, load_metrics
from hepsqueeze.evaluation.report_metrics import (
    compute_metrics,
    container_metrics,
    latent_summary,
    model_metrics,
)
from hepsqueeze.evaluation.strict_json import json_safe, write_json
from hepsqueeze.io.table import Table
from hepsqueeze.models.model import CompressionModel
from hepsqueeze.version import __version__

log = logging.getLogger(__name__)


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
    tables: Mapping[str, tuple[Table, Table]] | None = None,
    label: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write the evaluation report of ``reconstructed`` against ``original`` into ``report_dir``.

    ``container``: the compressed file (codec, bounds, ratio, bits per value, stored latents, embedded
    decoder); ``model``: the full model (or its path) for the latent space and training curves;
    ``columns`` / ``variables``: the compressed columns and their variable names (default: from the
    model or container, else the shared float columns except ``event``; lossless columns of a
    bounded file are only checked to be bit-exact); ``group_by``: grouping columns (default
    ``process``/``object`` when present); ``thresholds``: jet pt thresholds in GeV for multiplicities;
    ``tables``: auxiliary tables by name, ``(original, reconstructed)`` (a ROOT file's collections and
    per-event branches: their metrics, bounds, figures, and the physics checks on its jets and MET);
    ``label``: the sample written on the plots (default: from the table, see :func:`sample_label`);
    ``progress``: called as ``progress(figure, done, total)`` while drawing.
    Raises :class:`OutputExistsError` if the directory already holds a report and ``force`` is false.
    Returns the metrics (as written to ``metrics.json``) plus ``plots``, the plot files written.
    """
    t0 = time.perf_counter()
    check_rows(original, reconstructed)
    out_dir = Path(report_dir)
    metrics_path = _metrics_path(out_dir, force)
    notes: list[str] = []
    mdl = load_model(model)
    stored: dict[str, Any] | None = read_container(container) if container is not None else None
    decoder = stored["decoder"] if stored else None
    header = stored["info"]["header"] if stored else None
    bounds = container_bounds(header) if header is not None else None
    cols, var = resolve_columns(
        original, reconstructed, columns=columns, variables=variables, model=mdl or decoder, header=header
    )
    if bounds is not None and not columns:
        cols, var = _lossy(original, cols, var, bounds.get(MAIN_TABLE, {}))
    groups = group_columns(original, group_by)
    metrics: dict[str, Any] = {
        "format": METRICS_FORMAT,
        "created_by": f"hepsqueeze {__version__}",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "label": sample_label(original, label),
        "original": {"source": original.source, "rows": original.num_rows},
        "reconstructed": {"source": reconstructed.source, "rows": reconstructed.num_rows},
    }
    metrics.update(
        compute_metrics(
            original,
            reconstructed,
            cols,
            var,
            model=mdl or decoder,
            group_by=groups,
            thresholds=thresholds,
            tables=tables,
        )
    )
    notes.extend(metrics.pop("notes"))
    metrics["group_by"] = list(groups)
    metrics["codec"] = _codec(header, bounds)
    metrics["bounds"] = (
        check_bounds({MAIN_TABLE: (original, reconstructed), **(tables or {})}, bounds)
        if bounds is not None
        else None
    )
    metrics["container"] = container_metrics(stored, original.num_rows) if stored else None
    metrics["model"] = model_metrics(mdl, decoder)
    metrics["training"] = _training(mdl, decoder, notes)
    latents: npt.NDArray[np.float32] | None = None
    source = ""
    if mdl is not None or has_latents(header):
        latents, source = latent_codes(original, cols, mdl, stored, notes)
    metrics["latents"] = latent_summary(latents, source) if latents is not None else None
    metrics["notes"] = notes
    metrics["timing_s"] = {"metrics": time.perf_counter() - t0}

    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(metrics_path, metrics)
    if latents is not None:
        with atomic_open(out_dir / LATENTS_FILE, force=True) as fh:
            np.save(fh, latents)
    log.info("metrics written to %s in %.1f s", metrics_path, metrics["timing_s"]["metrics"])
    written = draw_report(
        metrics_path, original, reconstructed, out_dir, plots=plots, tables=tables, progress=progress
    )
    log.info("report written to %s in %.1f s", out_dir, time.perf_counter() - t0)
    return {**json_safe(metrics), "plots": written}


def _lossy(
    original: Table, cols: list[str], var: list[str], bounds: Mapping[str, ColumnBound]
) -> tuple[list[str], list[str]]:
    """The columns of a bounded file that may differ (not lossless, not integer): the others are
    checked to be bit-exact in the bounds table, not drawn. All of them if none may differ."""
    keep = [
        (c, v)
        for c, v in zip(cols, var, strict=True)
        if not (c in bounds and bounds[c].lossless) and original[c].dtype.kind == "f"
    ]
    if not keep:
        return cols, var
    return [c for c, _ in keep], [v for _, v in keep]


def _codec(header: Mapping[str, Any] | None, bounds: Bounds | None) -> dict[str, Any] | None:
    """The codec of the container and the bound of each column, as the header states them."""
    name = codec_name(header)
    if name is None:
        return None
    return {
        "name": name,
        "latents": has_latents(header),
        "bounds": (
            {t: {c: b.describe() for c, b in per.items()} for t, per in bounds.items()}
            if bounds is not None
            else None
        ),
    }


def _metrics_path(out_dir: Path, force: bool) -> Path:
    """``out_dir/metrics.json``, after checking that a report may be written there."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputExistsError(f"report directory {str(out_dir)!r} is a file")
    metrics_path = out_dir / METRICS_FILE
    if metrics_path.exists() and not force:
        raise OutputExistsError(
            f"{str(metrics_path)!r} already exists; overwriting the report was not asked for (force=True)"
        )
    return metrics_path


def _training(
    mdl: CompressionModel | None, decoder: CompressionModel | None, notes: list[str]
) -> dict[str, Any] | None:
    """The full model's training history and settings; None (with a note when a model was given) without."""
    if mdl is not None and mdl.history:
        return {"history": mdl.history, "info": mdl.training}
    if mdl is not None or decoder is not None:
        notes.append(
            "the model holds no training history (the decoder embedded in a container has none): "
            "pass the full model file for training curves"
        )
    return None


def draw_report(
    metrics_json_path: str | os.PathLike[str],
    original: Table,
    reconstructed: Table,
    report_dir: str | os.PathLike[str] | None = None,
    *,
    plots: bool = True,
    tables: Mapping[str, tuple[Table, Table]] | None = None,
    progress: Progress | None = None,
    label: str | None = None,
) -> list[str]:
    """(Re)draw every plot and ``index.html`` (and ``report.md``) from a ``metrics.json`` and the tables.

    ``report_dir`` defaults to the JSON's directory; ``plots=False`` writes only the pages;
    ``tables``, ``progress``: as in :func:`evaluate`; ``label`` overrides the JSON's sample label.
    Returns the plot files written (names relative to the directory, PNG and PDF).
    """
    t0 = time.perf_counter()
    path = Path(metrics_json_path)
    m = load_metrics(path)
    out = Path(report_dir) if report_dir is not None else path.parent
    check_rows(original, reconstructed)
    text = label if label is not None else str(m.get("label") or "")
    drawn = (
        draw_figures(m, original, reconstructed, out, tables=tables, progress=progress, label=text)
        if plots
        else {}
    )
    seconds = time.perf_counter() - t0
    log.info("plots drawn in %.1f s", seconds)
    write_index(m, out, drawn, plot_seconds=seconds if plots else None)
    write_markdown(m, out)
    return [f for group in drawn.values() for p in group for f in p.files]


__all__ = ["draw_report", "evaluate"]
