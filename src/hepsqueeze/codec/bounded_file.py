"""Compressed files of the error-bounded jet codec (data format 4, codec ``bounded-jets``).

The main table's four jet columns (E, pt, eta, phi by default) are coded by
:mod:`hepsqueeze.codec.bounded` chunk by chunk, each chunk's payload a ``column`` section named
``bounded`` with ``{"codec": "bounded-jets"}``; the event column and every other column, the
auxiliary tables and the layout are stored losslessly as in the other data formats, so
decompression gives back a dataset that writes the original file structure.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze import __version__
from hepsqueeze.baselines.bounds import ErrorBound
from hepsqueeze.codec.bounded import VARIABLES, JetBounds, decode_jets, encode_jets, payload_header
from hepsqueeze.codec.compress import (
    DATA_KIND,
    DEFAULT_CHUNK_ROWS,
    ZSTD_LEVEL,
    CompressionReport,
    _add_column,
    _read_aux,
    _rechunk,
    tables_header,
    unique_name,
    write_aux_tables,
)
from hepsqueeze.codec.container import DTYPES, ContainerReader, write_container
from hepsqueeze.errors import ColumnError, ConfigError, ContainerError, InputError, missing_column_message
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table

#: Data format of files written by this codec.
BOUNDED_DATA_FORMAT: Final = 4
CODEC_NAME: Final = "bounded-jets"
PAYLOAD_SECTION: Final = "bounded"
#: Section-name suffix of the run lengths of a run-length coded (event) column.
RUNS_SUFFIX: Final = "#runs"

_TERM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([0-9.eE+-]+)\s*(r?)\s*$")


def parse_max_error(spec: str, abs_floor: str | None = None) -> JetBounds:
    """``--max-error``: one number (``1e-3``: relative on E and pt, absolute on eta and phi) or one
    term per variable, ``E=1e-3r,pt=1e-3r,eta=1e-3,phi=1e-3`` (``r`` = relative). ``--abs-floor``:
    one number (GeV, for E and pt) or ``E=0.01,pt=0.01``."""
    bounds = _parse_bounds(spec)
    if abs_floor is None:
        return bounds
    floors = _parse_floors(abs_floor)
    return dataclasses.replace(bounds, E_floor=floors.get("E", 0.0), pt_floor=floors.get("pt", 0.0))


def _parse_floors(spec: str) -> dict[str, float]:
    text = spec.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        return {"E": value, "pt": value}
    out: dict[str, float] = {}
    for term in text.split(","):
        name, sep, value_text = term.partition("=")
        name = name.strip()
        if not sep or name not in ("E", "pt"):
            raise ConfigError(
                f"--abs-floor term {term!r} is not E=VALUE or pt=VALUE (floors apply to the relative bounds)"
            )
        try:
            out[name] = float(value_text)
        except ValueError:
            raise ConfigError(f"--abs-floor value {value_text!r} of {name} is not a number") from None
    return out


def _parse_bounds(spec: str) -> JetBounds:
    text = spec.strip()
    try:
        return JetBounds.uniform(float(text))
    except ValueError:
        pass
    bounds: dict[str, ErrorBound] = {}
    for term in text.split(","):
        m = _TERM.match(term)
        if not m:
            raise ConfigError(f"--max-error term {term!r} is not NAME=VALUE or NAME=VALUEr (e.g. pt=1e-3r)")
        name, value, rel = m.group(1), float(m.group(2)), m.group(3) == "r"
        if name not in VARIABLES:
            raise ConfigError(
                f"--max-error names {name!r}; the jet codec's variables are {', '.join(VARIABLES)}"
            )
        bounds[name] = ErrorBound("relative" if rel else "absolute", value)
    missing = [v for v in VARIABLES if v not in bounds]
    if missing:
        raise ConfigError(f"--max-error gives no bound for {', '.join(missing)}")
    return JetBounds(bounds["E"], bounds["pt"], bounds["eta"], bounds["phi"])


def compress_bounded(
    dataset: Dataset,
    out: str | os.PathLike[str],
    bounds: JetBounds,
    columns: Sequence[str] | None = None,
    *,
    event_column: str = "event",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    force: bool = False,
    input_info: dict[str, Any] | None = None,
) -> CompressionReport:
    """Write ``dataset`` with its jet ``columns`` (E, pt, eta, phi order) within ``bounds``.

    ``event_column`` groups the jets of one event (contiguous rows, leading jet first); without
    such a column every jet is coded alone. Raises :class:`ColumnError` before writing anything.
    """
    table = dataset.table
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be positive, got {chunk_rows}")
    n = table.num_rows
    chunks = (table.slice(s, min(s + chunk_rows, n)) for s in range(0, max(n, 1), chunk_rows))
    return _write(
        chunks,
        out,
        bounds,
        columns,
        schema={name: table[name].dtype for name in table.names},
        num_rows=n,
        source=table.source,
        event_column=event_column,
        chunk_rows=chunk_rows,
        force=force,
        input_info=input_info,
        dataset=dataset,
    )


def compress_bounded_parquet(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    bounds: JetBounds,
    columns: Sequence[str] | None = None,
    *,
    event_column: str = "event",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    force: bool = False,
    input_info: dict[str, Any] | None = None,
) -> CompressionReport:
    """:func:`compress_bounded` of a Parquet file of any size, read in row batches: memory holds
    about two chunks. An event cut by a chunk boundary is coded as two (a little less compact)."""
    from hepsqueeze.io.parquet_stream import parquet_batches

    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be positive, got {chunk_rows}")
    src = Path(path)
    num_rows, schema, batches = parquet_batches(src, min(chunk_rows, 1 << 16))
    info = {"path": src.name, "size_bytes": src.stat().st_size, **(input_info or {})}
    return _write(
        _rechunk(batches, chunk_rows, schema, str(src)),
        out,
        bounds,
        columns,
        schema=schema,
        num_rows=num_rows,
        source=str(src),
        event_column=event_column,
        chunk_rows=chunk_rows,
        force=force,
        input_info=info,
        dataset=Dataset.from_table(Table({n: np.zeros(0, d) for n, d in schema.items()}), "parquet"),
    )


def _write(
    chunks: Iterable[Table],
    out: str | os.PathLike[str],
    bounds: JetBounds,
    columns: Sequence[str] | None,
    *,
    schema: dict[str, np.dtype[Any]],
    num_rows: int,
    source: str,
    event_column: str,
    chunk_rows: int,
    force: bool,
    input_info: dict[str, Any] | None,
    dataset: Dataset,
) -> CompressionReport:
    """Write the chunks (tables of ``schema``, ``num_rows`` in all) of ``dataset``'s main table;
    ``dataset`` gives the layout and auxiliary tables."""
    names = list(schema)
    chosen = list(columns) if columns else list(VARIABLES)
    if len(chosen) != len(VARIABLES):
        raise ColumnError(f"the jet codec takes 4 columns ({', '.join(VARIABLES)}), got {', '.join(chosen)}")
    for c in chosen:
        if c not in names:
            raise ColumnError(missing_column_message(c, names, source))
    has_event = event_column in names and schema[event_column].kind in "iu"
    header = {
        "kind": DATA_KIND,
        "data_format": BOUNDED_DATA_FORMAT,
        "created_by": f"hepsqueeze {__version__}",
        "num_rows": num_rows,
        "chunk_rows": chunk_rows,
        "columns": [
            {"name": n, "dtype": schema[n].str, "role": "compressed" if n in chosen else "passthrough"}
            for n in names
        ],
        "compressed": {"columns": chosen, "variables": list(VARIABLES)},
        "codec": {
            "name": CODEC_NAME,
            "bounds": bounds.to_dict(),
            "event_column": event_column if has_event else None,
            "event_runs": has_event,
        },
        "input": input_info or {},
        "layout": dict(dataset.layout),
    }
    if dataset.aux:
        header["tables"] = tables_header(dataset)
    taken = {*names, PAYLOAD_SECTION, f"{event_column}{RUNS_SUFFIX}"}
    exceptions = rows = 0
    with write_container(out, header, force=force) as writer:
        for chunk, part in enumerate(chunks):
            if rows + part.num_rows > num_rows:
                raise InputError(f"{source} holds more than the announced {num_rows} rows")
            with np.errstate(over="ignore"):
                x = part.stack(chosen, dtype=np.float32)
            event = (
                part[event_column].astype(np.int64)
                if has_event
                else np.arange(rows, rows + part.num_rows, dtype=np.int64)
            )
            rows += part.num_rows
            payload = encode_jets(event, x, bounds)
            exceptions += int(payload_header(payload)["exceptions"])
            writer.add_bytes("column", PAYLOAD_SECTION, payload, chunk=chunk, codec=CODEC_NAME)
            for name in names:
                if name in chosen:
                    continue
                if has_event and name == event_column:
                    # Runs (event number, jets in it): the codec needs the multiplicities anyway,
                    # and they cost far less than a per-jet column, even delta coded.
                    values, lengths = _runs(part[name])
                    _add_column(writer, name, values, chunk, runs="values")
                    # lengths are small unrelated counts: byte shuffle, not the delta of sorted ids
                    writer.add_array(
                        "column",
                        f"{name}{RUNS_SUFFIX}",
                        lengths.astype("<u4"),
                        chunk=chunk,
                        encoding="zstd",
                        level=ZSTD_LEVEL,
                        transform="shuffle",
                        runs="lengths",
                    )
                else:
                    _add_column(writer, name, part[name], chunk)
        if rows != num_rows:
            raise InputError(f"{source} holds {rows} rows, not the announced {num_rows}")
        write_aux_tables(writer, dataset, chunk_rows, lambda name: unique_name(name, taken))
    size = Path(out).stat().st_size
    with ContainerReader.open(out) as reader:
        sections = reader.section_sizes()
    return CompressionReport(
        Path(out),
        num_rows,
        tuple(chosen),
        tuple(n for n in names if n not in chosen),
        size,
        sections,
        {name: aux.num_rows for name, aux in dataset.aux.items()},
        {"(any)": exceptions} if exceptions else {},
    )


def is_bounded(header: dict[str, Any]) -> bool:
    """Whether a data header is one of this codec's."""
    codec = header.get("codec")
    return isinstance(codec, dict) and codec.get("name") == CODEC_NAME


@dataclass(frozen=True)
class _Spec:
    """The checked header of a bounded-codec file."""

    num_rows: int
    columns: list[tuple[str, np.dtype[Any], str]]  # name, dtype, role
    compressed: list[str]
    event_column: str | None
    event_runs: bool
    tables: list[tuple[str, int, list[tuple[str, np.dtype[Any]]]]]


def _parse_spec(reader: ContainerReader) -> _Spec:
    header = reader.header
    try:
        num_rows = int(header["num_rows"])
        columns = [(str(c["name"]), str(c["dtype"]), str(c["role"])) for c in header["columns"]]
        compressed = [str(c) for c in header["compressed"]["columns"]]
        event_column = header["codec"].get("event_column")
        event_runs = header["codec"].get("event_runs") is True
        tables = [
            (str(t["name"]), int(t["num_rows"]), [(str(c["name"]), str(c["dtype"])) for c in t["columns"]])
            for t in header.get("tables", [])
        ]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise reader.error(None, f"invalid bounded-codec header: {exc}") from None
    for _, dtype, _ in columns:
        if dtype not in DTYPES:
            raise reader.error(None, f"invalid column dtype {dtype!r}")
    if len(compressed) != 4 or any(c not in [n for n, _, _ in columns] for c in compressed):
        raise reader.error(None, "the compressed columns are not columns of the table")
    return _Spec(
        num_rows,
        [(n, np.dtype(d), role) for n, d, role in columns],
        compressed,
        None if event_column is None else str(event_column),
        event_runs,
        [(name, rows, [(c, np.dtype(d)) for c, d in specs]) for name, rows, specs in tables],
    )


def bounded_chunks(
    reader: ContainerReader,
) -> tuple[list[tuple[str, np.dtype[Any]]], list[str], Iterator[dict[str, npt.NDArray[Any]]]]:
    """The main table's columns (name, dtype), the auxiliary tables' names, and an iterator over
    the main table chunk by chunk (one payload's rows in memory at a time)."""
    spec = _parse_spec(reader)
    return [(n, d) for n, d, _ in spec.columns], [t[0] for t in spec.tables], _iter_chunks(reader, spec)


def _iter_chunks(reader: ContainerReader, spec: _Spec) -> Iterator[dict[str, npt.NDArray[Any]]]:
    payloads = sorted(reader.find("column", PAYLOAD_SECTION), key=lambda s: s.chunk)
    if [s.chunk for s in payloads] != list(range(len(payloads))):
        raise reader.error(None, "bounded-codec payload chunks are missing or repeated")
    dtypes = {n: d for n, d, _ in spec.columns}
    passthrough = {n: d for n, d, role in spec.columns if role == "passthrough"}
    total = 0
    for sec in payloads:
        payload = reader.read_bytes(sec)
        try:
            rows = int(payload_header(payload)["rows"])
        except ContainerError as exc:
            raise reader.error(sec, str(exc)) from None
        if total + rows > spec.num_rows:
            raise reader.error(sec, f"the header says {spec.num_rows} rows, the payloads hold more")
        chunk_cols: dict[str, npt.NDArray[Any]] = {}
        for name, want in passthrough.items():
            found = [s for s in reader.find("column", name, chunk=sec.chunk) if "table" not in s.extras]
            if spec.event_runs and name == spec.event_column:
                found += reader.find("column", f"{name}{RUNS_SUFFIX}", chunk=sec.chunk)
                chunk_cols[name] = _read_runs(reader, found, want, sec, rows)
                continue
            if len(found) != 1 or found[0].dtype != want:
                raise reader.error(sec, f"column {name!r} missing or invalid in chunk {sec.chunk}")
            chunk_cols[name] = reader.read_array(found[0])
            if chunk_cols[name].shape[0] != rows:
                raise reader.error(
                    found[0], f"column {name!r} holds {chunk_cols[name].shape[0]} rows, the payload {rows}"
                )
        try:
            if spec.event_column is not None:
                event = chunk_cols[spec.event_column].astype(np.int64)
            else:
                event = np.arange(total, total + rows, dtype=np.int64)
            values = decode_jets(event, payload)
        except KeyError as exc:
            raise reader.error(sec, f"event column {exc} is not a passthrough column") from None
        except ContainerError as exc:
            raise reader.error(sec, str(exc)) from None
        for j, name in enumerate(spec.compressed):
            chunk_cols[name] = values[:, j].astype(dtypes[name])
        total += values.shape[0]
        yield {n: chunk_cols[n] for n, _, _ in spec.columns}
    if total != spec.num_rows:
        raise reader.error(None, f"the header says {spec.num_rows} rows, the payloads hold {total}")


def decompress_bounded(reader: ContainerReader) -> Dataset:
    """The dataset of an open container written by :func:`compress_bounded`."""
    spec = _parse_spec(reader)
    parts: dict[str, list[npt.NDArray[Any]]] = {n: [] for n, _, _ in spec.columns}
    for chunk in _iter_chunks(reader, spec):
        for name, arr in chunk.items():
            parts[name].append(arr)
    out = {n: (np.concatenate(parts[n]) if parts[n] else np.empty(0, dtype=d)) for n, d, _ in spec.columns}
    aux = {name: _read_aux(reader, name, rows, specs, reader.name) for name, rows, specs in spec.tables}
    return Dataset(Table(out, source=reader.name), aux, dict(reader.header.get("layout", {})))


def _runs(values: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[np.uint32]]:
    """Run-length form of a column: the value of each run and its length."""
    n = values.shape[0]
    if n == 0:
        return values[:0], np.zeros(0, dtype=np.uint32)
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    lengths = np.diff(np.r_[starts, n]).astype(np.uint32)
    return values[starts], lengths


def _read_runs(
    reader: ContainerReader, found: list[Any], dtype: np.dtype[Any], sec: Any, rows: int
) -> npt.NDArray[Any]:
    """The column of ``rows`` rows rebuilt from its ``runs`` sections (values and lengths), checked
    before it is expanded."""
    parts = {s.extras.get("runs"): s for s in found}
    if len(found) != 2 or set(parts) != {"values", "lengths"}:
        raise reader.error(sec, f"event runs of chunk {sec.chunk} are missing or repeated")
    values, lengths = parts["values"], parts["lengths"]
    if values.dtype != dtype or lengths.dtype != np.dtype("<u4") or values.shape != lengths.shape:
        raise reader.error(values, "event runs have the wrong dtype or shape")
    v, n = reader.read_array(values), reader.read_array(lengths).astype(np.int64)
    if n.size and int(n.min()) < 1:
        raise reader.error(lengths, "an event run has length 0")
    if int(n.sum()) != rows:
        raise reader.error(lengths, f"event runs hold {int(n.sum())} rows, the chunk's payload {rows}")
    return np.repeat(v, n)


__all__ = [
    "BOUNDED_DATA_FORMAT",
    "CODEC_NAME",
    "bounded_chunks",
    "compress_bounded",
    "compress_bounded_parquet",
    "decompress_bounded",
    "is_bounded",
    "parse_max_error",
]
