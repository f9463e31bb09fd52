"""The data header of a compressed file: one frozen dataclass, one builder, one parser.

The container's JSON header of a compressed file holds ``kind`` (``hepsqueeze-data``),
``data_format``, ``created_by``, ``num_rows``, ``chunk_rows``, ``columns`` (name, dtype, role of
each main-table column), ``compressed`` (the compressed columns and the variables they are),
``codec`` (the codec's config, ``name`` its id), entries of the codec's own (the autoencoder's
``model``), ``input``, ``layout`` and, with auxiliary tables, ``tables``. Every codec's files are
checked by :func:`parse_header`; what only one codec knows is checked by the codec.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from hepsqueeze.codecs.base import Codec
from hepsqueeze.container import DTYPES, ContainerReader
from hepsqueeze.errors import ContainerError, ContainerVersionError, InputError
from hepsqueeze.io.layout import check_layout
from hepsqueeze.version import __version__

DATA_KIND: Final = "hepsqueeze-data"
#: Newest data format written and read. 1: one table. 2: auxiliary tables and the layout.
#: 3: the exception stream. 4: the error-bounded jet codec. 5: the error-bounded codec with values
#: stored exactly where they miss in the column's dtype. 6: the error-bounded codec of every column
#: of every table (``bounded``).
DATA_FORMAT: Final = 7
#: Largest row count of a header: stays exact in any JSON reader that parses numbers as doubles.
MAX_ROWS: Final = (1 << 53) - 1
COMPRESSED: Final = "compressed"
PASSTHROUGH: Final = "passthrough"
ROLES: Final = (COMPRESSED, PASSTHROUGH)


@dataclass(frozen=True)
class ColumnSpec:
    """One main-table column: name, dtype and whether a codec compresses it."""

    name: str
    dtype: np.dtype[Any]
    compressed: bool


@dataclass(frozen=True)
class TableSpec:
    """One auxiliary table: name, rows and (column, dtype) of each column."""

    name: str
    num_rows: int
    columns: tuple[tuple[str, np.dtype[Any]], ...]


@dataclass(frozen=True)
class FileHeader:
    """The checked data header of a compressed file."""

    data_format: int
    num_rows: int
    chunk_rows: int | None
    columns: tuple[ColumnSpec, ...]
    compressed: tuple[str, ...]
    codec: Mapping[str, Any]
    layout: dict[str, Any]
    tables: tuple[TableSpec, ...]
    raw: Mapping[str, Any]

    @functools.cached_property
    def dtypes(self) -> dict[str, np.dtype[Any]]:
        """Name -> dtype of every main-table column, in order."""
        return {c.name: c.dtype for c in self.columns}

    @functools.cached_property
    def passthrough(self) -> list[str]:
        """The main-table columns stored losslessly."""
        return [c.name for c in self.columns if not c.compressed]


def build_header(
    codec: Codec,
    schema: Mapping[str, np.dtype[Any]],
    chosen: Sequence[str],
    *,
    num_rows: int,
    chunk_rows: int,
    data_format: int,
    input_info: Mapping[str, Any] | None,
    layout: Mapping[str, Any],
    tables: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """The data header of a file ``codec`` writes (key order is part of the file's bytes)."""
    header: dict[str, Any] = {
        "kind": DATA_KIND,
        "data_format": data_format,
        "created_by": f"hepsqueeze {__version__}",
        "num_rows": num_rows,
        "chunk_rows": chunk_rows,
        "columns": [
            {"name": n, "dtype": d.str, "role": COMPRESSED if n in chosen else PASSTHROUGH}
            for n, d in schema.items()
        ],
        "compressed": {"columns": list(chosen), "variables": list(codec.variables)},
        "codec": codec.get_config(),
        **codec.header_entries(),
        "input": dict(input_info or {}),
        # Plain files carry the layout too (just the input format); readers of format 1 ignore it.
        "layout": dict(layout),
    }
    if tables:
        header["tables"] = tables
    return header


def read_header(reader: ContainerReader) -> dict[str, Any]:
    """The data header of an open container, checked to be a compressed dataset this version reads."""
    header = reader.header
    if header.get("kind") != DATA_KIND:
        raise ContainerError(
            f"{reader.name} is a hepsqueeze file but not compressed data (kind {header.get('kind')!r})",
            path=reader.name,
        )
    fmt = header.get("data_format")
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
        raise ContainerError(f"{reader.name}: invalid data format {fmt!r} in the header", path=reader.name)
    if fmt > DATA_FORMAT:
        raise ContainerVersionError(
            f"{reader.name} has data format {fmt}; this hepsqueeze reads up to {DATA_FORMAT}: upgrade hepsqueeze",
            path=reader.name,
        )
    return header


def parse_header(reader: ContainerReader) -> FileHeader:
    """The checked header of an open compressed file; ContainerError naming the file otherwise."""
    header = read_header(reader)
    try:
        return _parse(header, reader.name)
    except InputError as exc:
        raise reader.error(None, f"invalid data header: {exc}") from None


def is_count(value: object) -> bool:
    """Whether ``value`` is an int (not a bool) in [0, :data:`MAX_ROWS`]."""
    return type(value) is int and 0 <= value <= MAX_ROWS


def _dtype(value: object, what: str) -> np.dtype[Any]:
    if not isinstance(value, str) or value not in DTYPES:
        raise InputError(f"{what} has dtype {value!r} (allowed: {', '.join(sorted(DTYPES))})")
    return np.dtype(value)


def _parse(header: dict[str, Any], source: str) -> FileHeader:
    num_rows = header.get("num_rows")
    if not isinstance(num_rows, int) or not is_count(num_rows):
        raise InputError(f"num_rows is {num_rows!r}")
    chunk_rows = header.get("chunk_rows")
    if chunk_rows is not None and not (is_count(chunk_rows) and chunk_rows > 0):
        raise InputError(f"chunk_rows is {chunk_rows!r}")
    columns = _columns(header.get("columns"))
    compressed = _compressed(header.get("compressed"), columns)
    codec = header.get("codec")
    if not isinstance(codec, dict):
        raise InputError("codec is not an object")
    layout = header.get("layout", {})
    if not isinstance(layout, dict):
        raise InputError("layout is not an object")
    return FileHeader(
        data_format=int(header["data_format"]),
        num_rows=num_rows,
        chunk_rows=chunk_rows,
        columns=columns,
        compressed=compressed,
        codec=codec,
        layout=check_layout(layout, source),
        tables=_tables(header.get("tables", [])),
        raw=header,
    )


def _columns(raw: object) -> tuple[ColumnSpec, ...]:
    if not isinstance(raw, list):
        raise InputError("columns is not a list")
    columns = []
    for c in raw:
        if not isinstance(c, dict) or not isinstance(c.get("name"), str) or c.get("role") not in ROLES:
            raise InputError(f"invalid column entry {str(c)[:80]}")
        columns.append(
            ColumnSpec(c["name"], _dtype(c.get("dtype"), f"column {c['name']!r}"), c["role"] == COMPRESSED)
        )
    if len({c.name for c in columns}) != len(columns):
        raise InputError("column names repeat")
    return tuple(columns)


def _compressed(raw: object, columns: tuple[ColumnSpec, ...]) -> tuple[str, ...]:
    compressed = raw.get("columns") if isinstance(raw, dict) else None
    if not isinstance(compressed, list) or not all(isinstance(c, str) for c in compressed):
        raise InputError("compressed.columns is not a list of names")
    if len(set(compressed)) != len(compressed) or set(compressed) != {
        c.name for c in columns if c.compressed
    }:
        raise InputError("compressed.columns does not match the columns marked 'compressed'")
    for c in columns:
        if c.compressed and c.dtype.kind not in "biuf":
            raise InputError(f"compressed column {c.name!r} has dtype {c.dtype}")
    return tuple(compressed)


def _tables(raw: object) -> tuple[TableSpec, ...]:
    if not isinstance(raw, list):
        raise InputError("tables is not a list")
    tables = []
    for t in raw:
        if not isinstance(t, dict) or not isinstance(t.get("name"), str) or not is_count(t.get("num_rows")):
            raise InputError(f"invalid table entry {str(t)[:80]}")
        cols = t.get("columns")
        if not isinstance(cols, list):
            raise InputError(f"table {t['name']!r} has no column list")
        specs = []
        for c in cols:
            if not isinstance(c, dict) or not isinstance(c.get("name"), str):
                raise InputError(f"invalid column entry {str(c)[:80]} of table {t['name']!r}")
            specs.append((c["name"], _dtype(c.get("dtype"), f"column {c['name']!r} of table {t['name']!r}")))
        if len({n for n, _ in specs}) != len(specs):
            raise InputError(f"column names of table {t['name']!r} repeat")
        tables.append(TableSpec(t["name"], int(t["num_rows"]), tuple(specs)))
    if len({t.name for t in tables}) != len(tables):
        raise InputError("table names repeat")
    return tuple(tables)


__all__ = [
    "DATA_FORMAT",
    "DATA_KIND",
    "MAX_ROWS",
    "ColumnSpec",
    "FileHeader",
    "TableSpec",
    "build_header",
    "is_count",
    "parse_header",
    "read_header",
]
