"""The codec of a compressed file, the bound it promises on each column, and whether the
reconstruction keeps it.

The bounds are read from the file's header (the ``bounded`` codec: one per column of every table;
``bounded-jets``: E, pt relative and eta, phi absolute). Whether a bound held is judged by
:func:`hepsqueeze.metrics.bound_check.misses`, the conservative check in the column's own dtype the
writers use: a column holds its bound when no value misses. Lossless columns must come back bit for
bit. Errors are not wrapped: an angle must come back on its own branch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.codecs.bounded.column_bound import BoundMode, ColumnBound
from hepsqueeze.errors import InputError
from hepsqueeze.io.table import Table
from hepsqueeze.metrics.bound_check import bits, misses

#: The key of the main table in the bounds and checks (auxiliary tables go by their names).
MAIN_TABLE: Final = "(main)"
#: Codecs whose files hold latent codes (the others have none to show).
LATENT_CODECS: Final = frozenset({"autoencoder"})

Bounds = dict[str, dict[str, ColumnBound]]


def codec_name(header: Mapping[str, Any] | None) -> str | None:
    """The codec id in a data header (None without a header)."""
    if header is None:
        return None
    codec = header.get("codec")
    name = codec.get("name") if isinstance(codec, Mapping) else None
    return str(name) if name is not None else None


def has_latents(header: Mapping[str, Any] | None) -> bool:
    """Whether files of the header's codec hold latent codes (True without a header: unknown)."""
    name = codec_name(header)
    return name is None or name in LATENT_CODECS


def container_bounds(header: Mapping[str, Any]) -> Bounds | None:
    """The bound of every column the header's codec promises one for, by table (:data:`MAIN_TABLE`
    and the auxiliary tables' names); None for codecs without per-value bounds (the autoencoder)."""
    from hepsqueeze.codecs.registry import get_codec

    name = codec_name(header)
    if name not in ("bounded", "bounded-jets"):
        return None
    codec: Any = get_codec(header["codec"])
    if name == "bounded":
        out: Bounds = {MAIN_TABLE: dict(codec.bounds)}
        out.update({str(t): dict(b) for t, b in codec.tables.items()})
        return out
    from hepsqueeze.codecs.bounded.bounds import VARIABLES

    columns = list(header.get("compressed", {}).get("columns", []))
    jets: dict[str, ColumnBound] = {}
    for col, var in zip(columns, VARIABLES, strict=False):
        eb = getattr(codec.bounds, var)
        mode = BoundMode.RELATIVE if eb.kind == "relative" else BoundMode.ABSOLUTE
        jets[str(col)] = ColumnBound(mode, eb.value, codec.bounds.floor(var), angle=var == "phi")
    return {MAIN_TABLE: jets}


def check_column(original: npt.NDArray[Any], decoded: npt.NDArray[Any], bound: ColumnBound) -> dict[str, Any]:
    """One column against its bound: ``bound`` (text), ``n``, ``misses``, ``held``, ``max_error``
    (relative for relative bounds, in the column's unit otherwise; None when lossless) and
    ``max_error_over_bound`` (the largest error as a fraction of what that value was allowed)."""
    x, y = np.asarray(original), np.asarray(decoded)
    out: dict[str, Any] = {
        "bound": bound.describe(),
        "mode": bound.mode.value,
        "value": None if bound.lossless else bound.value,
        "floor": bound.floor or None,
        "dtype": str(x.dtype),
        "n": int(x.size),
        "misses": 0,
        "held": True,
        "max_error": None,
        "max_error_over_bound": None,
    }
    if x.shape != y.shape:
        return {**out, "misses": int(x.size), "held": False, "problem": f"{y.size} values for {x.size}"}
    if x.dtype != y.dtype:
        return {
            **out,
            "misses": int(x.size),
            "held": False,
            "problem": f"dtype {x.dtype} came back {y.dtype}",
        }
    if bound.lossless or x.dtype.kind != "f":
        wrong = int(np.count_nonzero(bits(x) != bits(y)))
        return {**out, "misses": wrong, "held": wrong == 0}
    try:
        wrong = int(np.count_nonzero(misses(x, y, bound.error_bound(), bound.floor)))
    except InputError as exc:
        return {**out, "misses": int(x.size), "held": False, "problem": str(exc)}
    a, b = x.astype(np.float64), y.astype(np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    err = np.abs(b[ok] - a[ok])
    if bound.mode == BoundMode.RELATIVE:
        allowed = np.maximum(bound.value * np.abs(a[ok]), bound.floor)
        nz = a[ok] != 0
        rel = err[nz] / np.abs(a[ok][nz])
        max_error = float(rel.max()) if rel.size else 0.0
    else:
        allowed = np.full(err.shape, bound.value)
        max_error = float(err.max()) if err.size else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(allowed > 0, err / allowed, np.where(err > 0, np.inf, 0.0))
    return {
        **out,
        "misses": wrong,
        "held": wrong == 0,
        "max_error": max_error,
        "max_error_over_bound": float(frac.max()) if frac.size else 0.0,
    }


def check_bounds(pairs: Mapping[str, tuple[Table, Table]], bounds: Bounds) -> dict[str, Any]:
    """:func:`check_column` of every column of ``pairs`` (table key -> (original, reconstructed), the
    main table under :data:`MAIN_TABLE`) that ``bounds`` gives a bound for and both tables hold.

    Returns ``{"tables": {key: {column: check}}, "held": every check held, "columns": count,
    "unchecked": [table/column with a bound that was not in the tables]}``.
    """
    tables: dict[str, dict[str, Any]] = {}
    unchecked: list[str] = []
    for key, per in bounds.items():
        pair = pairs.get(key)
        for col, bound in per.items():
            if pair is None or col not in pair[0] or col not in pair[1]:
                unchecked.append(col if key == MAIN_TABLE else f"{key}/{col}")
                continue
            if pair[0].num_rows != pair[1].num_rows:
                raise InputError(
                    f"table {key}: original {pair[0].source} has {pair[0].num_rows} rows but reconstructed "
                    f"{pair[1].source} has {pair[1].num_rows}"
                )
            tables.setdefault(key, {})[col] = check_column(pair[0][col], pair[1][col], bound)
    checks = [c for per in tables.values() for c in per.values()]
    return {
        "tables": tables,
        "held": all(c["held"] for c in checks),
        "columns": len(checks),
        "unchecked": unchecked,
    }


__all__ = [
    "LATENT_CODECS",
    "MAIN_TABLE",
    "Bounds",
    "check_bounds",
    "check_column",
    "codec_name",
    "container_bounds",
    "has_latents",
]
