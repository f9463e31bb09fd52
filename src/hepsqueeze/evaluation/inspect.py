"""Look at a dataset before compressing it: distributions, correlations, statistics and warnings.

:func:`inspect` writes ``DIR/summary.json`` (statistics, correlation matrix, warnings), one PNG and
PDF per numeric column plus the correlation matrix, and ``DIR/index.html``. Warnings name what will
trouble an autoencoder: NaN/inf values, zero or negative values in columns a log normalisation takes
the log of (E, pt, m-like), integer-valued columns (better stored losslessly), constant columns, and
heavy tails (large excess kurtosis, or a maximum far beyond the 99.9% quantile).
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import InputError, OutputExistsError
from hepsqueeze.evaluation.strict_json import write_json
from hepsqueeze.io.table import Table
from hepsqueeze.version import __version__

log = logging.getLogger(__name__)

SUMMARY_FILE: Final = "summary.json"
INDEX_FILE: Final = "index.html"
QUANTILES: Final = (0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999)
# Columns a log normalisation is applied to (matched case-insensitively, also as a suffix "_pt" etc.).
LOG_LIKE: Final = frozenset({"e", "pt", "m", "et", "energy", "mass", "met"})
ID_LIKE: Final = frozenset({"event", "run", "lumi", "luminosityblock", "eventnumber", "runnumber", "id"})
KURTOSIS_LIMIT: Final = 20.0
TAIL_RATIO_LIMIT: Final = 10.0
MAX_CORRELATION_COLUMNS: Final = 40


def is_log_like(name: str) -> bool:
    """Whether ``name`` looks like an energy, momentum or mass (taken the log of by ``custom`` normalisation)."""
    low = name.lower()
    return low in LOG_LIKE or any(low.endswith(f"_{s}") or low.startswith(f"{s}_") for s in LOG_LIKE)


def column_summary(values: npt.NDArray[Any]) -> dict[str, Any]:
    """Statistics of one numeric column; NaN/inf are counted and left out of the rest.

    Keys: ``dtype, count, nan, inf, finite, mean, std, min, q0.1 ... q99.9, max, zeros, negatives,
    integer_valued, unique (up to 1000, else null), kurtosis`` (excess), ``tail_ratio``
    ((max - median) / (q99.9 - median), how far the maximum lies beyond the bulk).
    """
    arr = np.asarray(values)
    x = arr.astype(np.float64)
    finite_mask = np.isfinite(x)
    f = x[finite_mask]
    out: dict[str, Any] = {
        "dtype": str(arr.dtype),
        "count": int(x.size),
        "nan": int(np.count_nonzero(np.isnan(x))),
        "inf": int(np.count_nonzero(np.isinf(x))),
        "finite": int(f.size),
    }
    if f.size == 0:
        return out
    qs = np.quantile(f, QUANTILES)
    mean = float(f.mean())
    std = float(f.std())
    centred = f - mean
    kurt = float(np.mean(centred**4) / std**4 - 3.0) if std > 0 else 0.0
    median = float(qs[QUANTILES.index(0.5)])
    q999 = float(qs[-1])
    top = float(f.max())
    spread = q999 - median
    tail = (top - median) / spread if spread > 0 else (0.0 if top == median else float("inf"))
    uniq = np.unique(f[: min(f.size, 200_000)])
    out.update(
        {
            "mean": mean,
            "std": std,
            "min": float(f.min()),
            **{f"q{100 * q:g}": float(v) for q, v in zip(QUANTILES, qs, strict=True)},
            "max": top,
            "zeros": int(np.count_nonzero(f == 0)),
            "negatives": int(np.count_nonzero(f < 0)),
            "integer_valued": bool(arr.dtype.kind in "iub" or np.all(np.floor(f) == f)),
            "unique": int(uniq.size) if uniq.size <= 1000 else None,
            "kurtosis": kurt,
            "tail_ratio": tail,
        }
    )
    return out


def column_warnings(name: str, s: dict[str, Any]) -> list[dict[str, str]]:
    """What in one column's summary will trouble a model: ``[{column, kind, severity, message}]``."""
    found: list[dict[str, str]] = []

    def add(kind: str, severity: str, message: str) -> None:
        found.append({"column": name, "kind": kind, "severity": severity, "message": message})

    if s["nan"] or s["inf"]:
        add(
            "nonfinite",
            "error",
            f"{s['nan']} NaN and {s['inf']} inf values of {s['count']}: models cannot compress them; "
            "remove or fix those rows",
        )
    if s["finite"] == 0:
        return found
    if is_log_like(name) and (s["zeros"] or s["negatives"]):
        severity = "error" if s["negatives"] else "warning"
        add(
            "log_domain",
            severity,
            f"{s['zeros']} zero and {s['negatives']} negative values in an energy/momentum/mass-like column: "
            "the custom normalisation takes log10(x) (log10(x + 1) for m); use --normalisation standard "
            "or fix the values",
        )
    if s["integer_valued"] and s["std"] > 0:
        if name.lower() in ID_LIKE:
            add("identifier", "info", "integer identifier: store it losslessly (not a compressed column)")
        else:
            unique = s.get("unique")
            add(
                "integer",
                "warning",
                f"integer-valued ({unique if unique is not None else 'over 1000'} distinct values): an "
                "autoencoder returns non-integers; store it losslessly or round after decompression",
            )
    if s["std"] == 0:
        add("constant", "warning", f"constant value {s['mean']:g}: nothing to learn, store it losslessly")
    elif s["kurtosis"] > KURTOSIS_LIMIT or s["tail_ratio"] > TAIL_RATIO_LIMIT:
        add(
            "heavy_tail",
            "warning",
            f"heavy tail (excess kurtosis {s['kurtosis']:.3g}, (max - median) / (q99.9 - median) = "
            f"{s['tail_ratio']:.3g}): min-max scaling squeezes the bulk; consider a log or standard "
            "normalisation",
        )
    return found


def correlation_matrix(data: Table, names: Sequence[str]) -> list[list[float]]:
    """Pearson correlation of ``names`` on the rows where all are finite (NaN for constant columns)."""
    if not names:
        return []
    x = data.stack(names, dtype=np.float64)
    x = x[np.isfinite(x).all(axis=1)]
    if x.shape[0] < 2:
        return [[float("nan")] * len(names) for _ in names]
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.atleast_2d(np.corrcoef(x, rowvar=False))
    return [[float(v) for v in row] for row in c]


def summarise(data: Table) -> dict[str, Any]:
    """The summary :func:`inspect` writes: per-column statistics, correlations and warnings (no plots)."""
    if data.num_rows == 0:
        raise InputError(f"{data.source} has no rows: nothing to inspect")
    columns: dict[str, Any] = {}
    warnings: list[dict[str, str]] = []
    numeric: list[str] = []
    for name in data.names:
        arr = data[name]
        if arr.dtype.kind in "iufb":
            s = column_summary(arr)
            numeric.append(name)
            warnings.extend(column_warnings(name, s))
        else:
            values = np.unique(arr.astype(str))
            s = {
                "dtype": str(arr.dtype),
                "count": int(arr.size),
                "unique": int(values.size),
                "values": values[:20].tolist(),
            }
            warnings.append(
                {
                    "column": name,
                    "kind": "non_numeric",
                    "severity": "info",
                    "message": f"non-numeric column ({values.size} distinct values): stored losslessly",
                }
            )
        columns[name] = s
    corr_names = [n for n in numeric if n.lower() not in ID_LIKE][:MAX_CORRELATION_COLUMNS]
    return {
        "source": data.source,
        "rows": data.num_rows,
        "columns": columns,
        "correlation": {"labels": corr_names, "matrix": correlation_matrix(data, corr_names)},
        "warnings": warnings,
    }


def inspect(
    data: Table, report_dir: str | os.PathLike[str], *, plots: bool = True, force: bool = False
) -> dict[str, Any]:
    """Write the inspection report of ``data`` into ``report_dir`` and return the summary.

    Raises :class:`OutputExistsError` if the directory already holds ``summary.json`` and ``force``
    is false. Warnings are also logged.
    """
    t0 = time.perf_counter()
    out = Path(report_dir)
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"report directory {str(out)!r} is a file")
    path = out / SUMMARY_FILE
    if path.exists() and not force:
        raise OutputExistsError(
            f"{str(path)!r} already exists; overwriting the report was not asked for (force=True)"
        )
    summary = summarise(data)
    summary["created_by"] = f"hepsqueeze {__version__}"
    summary["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    for w in summary["warnings"]:
        if w["severity"] != "info":
            log.warning("%s: %s", w["column"], w["message"])
    out.mkdir(parents=True, exist_ok=True)
    write_json(path, summary)
    drawn = []
    if plots:
        from hepsqueeze.plotting.inspect_plots import draw_inspect_plots

        drawn = draw_inspect_plots(summary, data, out)
    _write_index(summary, out, drawn)
    log.info("inspection report written to %s in %.1f s", out, time.perf_counter() - t0)
    return {**summary, "plots": [f for p in drawn for f in p.files]}


def _write_index(summary: dict[str, Any], out: Path, drawn: Sequence[Any]) -> Path:
    from hepsqueeze.plotting.html import Section, table_html, write_page

    head = Section("Summary")
    head.paragraphs.append(f"{summary['source']}: {summary['rows']} rows, {len(summary['columns'])} columns.")
    warn = Section("Warnings")
    warn.tables.append(
        table_html(
            ["column", "severity", "kind", "message"],
            [[w["column"], w["severity"], w["kind"], w["message"]] for w in summary["warnings"]],
        )
        if summary["warnings"]
        else "<p>none</p>"
    )
    stats = Section("Statistics")
    keys = ["count", "nan", "inf", "mean", "std", "min", "q1", "q50", "q99", "max", "zeros", "negatives"]
    stats.tables.append(
        table_html(
            ["column", "dtype", *keys],
            [[n, s["dtype"], *[s.get(k) for k in keys]] for n, s in summary["columns"].items()],
        )
    )
    figs = Section("Distributions and correlations", figures=list(drawn))
    return write_page(out / INDEX_FILE, "hepsqueeze data inspection", [head, warn, stats, figs])
