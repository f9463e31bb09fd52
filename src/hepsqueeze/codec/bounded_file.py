"""Compressed files of the error-bounded jet codec (data format 4, codec ``bounded-jets``).

The main table's four jet columns (E, pt, eta, phi by default) are coded by
:mod:`hepsqueeze.codecs.bounded.payload` chunk by chunk, each chunk's payload a ``column`` section named
``bounded`` with ``{"codec": "bounded-jets"}``; the event column and every other column, the
auxiliary tables and the layout are stored losslessly as in the other data formats, so
decompression gives back a dataset that writes the original file structure.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.codec.compress import (
    DATA_KIND,
    DEFAULT_CHUNK_ROWS,
    ZSTD_LEVEL,
    CompressionReport,
    TableSpecs,
    _add_column,
    _read_aux,
    _rechunk,
    add_exceptions,
    as_column_dtype,
    column_digest,
    exception_pairs,
    exception_section,
    restore_exceptions,
    table_digests,
    tables_header,
    unique_name,
    verify_written,
    write_aux_tables,
)
from hepsqueeze.codecs.bounded.payload import (
    VARIABLES,
    JetBounds,
    decode_jets,
    encode_jets_checked,
    payload_header,
)
from hepsqueeze.container import DTYPES, ContainerReader, Section, write_container
from hepsqueeze.errors import (
    ColumnError,
    ConfigError,
    ContainerError,
    InputError,
    missing_column_message,
)
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.interpret import variable_of
from hepsqueeze.io.layout import check_layout
from hepsqueeze.io.table import Table
from hepsqueeze.metrics.bound_check import bits, misses
from hepsqueeze.metrics.bounds import ErrorBound
from hepsqueeze.version import __version__

#: Data format of files written by this codec. 5: values that miss their bound in the column's
#: dtype are stored exactly (exception sections, as in data format 3); 4 is read too.
BOUNDED_DATA_FORMAT: Final = 5
READ_DATA_FORMATS: Final = (4, 5)
CODEC_NAME: Final = "bounded-jets"
PAYLOAD_SECTION: Final = "bounded"
#: Section-name suffix of the run lengths of a run-length coded (event) column.
RUNS_SUFFIX: Final = "#runs"

_TERM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([0-9.eE+-]+)\s*(r?)\s*$")
#: Largest ``chunk_rows`` a reader accepts from a file's header: a chunk's rows are allocated
#: (about 40 bytes each while decoding) before the payload proves it holds them.
MAX_CHUNK_ROWS: Final = 1 << 24


def parse_max_error(spec: str, abs_floor: str | None = None) -> JetBounds:
    """The maximum error: one number (``1e-3``: relative on E and pt, absolute on eta and phi) or
    one term per variable, ``E=1e-3r,pt=1e-3r,eta=1e-3,phi=1e-3`` (``r`` = relative). The absolute
    floor: one number (GeV, for E and pt) or ``E=0.01,pt=0.01``. A variable named twice is an error."""
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
                f"absolute floor term {term!r} is not E=VALUE or pt=VALUE (floors apply to the relative bounds)"
            )
        if name in out:
            raise ConfigError(f"absolute floor of {name} given twice in {spec!r}")
        try:
            out[name] = float(value_text)
        except ValueError:
            raise ConfigError(f"absolute floor {value_text!r} of {name} is not a number") from None
    return out


def _parse_bounds(spec: str) -> JetBounds:
    text = spec.strip()
    try:
        return JetBounds.uniform(float(text))
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
    bounds: dict[str, ErrorBound] = {}
    for term in text.split(","):
        m = _TERM.match(term)
        if not m:
            raise ConfigError(f"maximum-error term {term!r} is not NAME=VALUE or NAME=VALUEr (e.g. pt=1e-3r)")
        name, rel = m.group(1), m.group(3) == "r"
        try:
            value = float(m.group(2))
        except ValueError:
            raise ConfigError(f"maximum error {m.group(2)!r} of {name} is not a number") from None
        if name not in VARIABLES:
            raise ConfigError(
                f"maximum error names {name!r}; the jet codec's variables are {', '.join(VARIABLES)}"
            )
        if name in bounds:
            raise ConfigError(f"maximum error of {name} given twice in {spec!r}")
        bounds[name] = ErrorBound("relative" if rel else "absolute", value)
    missing = [v for v in VARIABLES if v not in bounds]
    if missing:
        raise ConfigError(f"maximum error gives no bound for {', '.join(missing)}")
    return JetBounds(bounds["E"], bounds["pt"], bounds["eta"], bounds["phi"])


def match_columns(columns: Sequence[str] | None, names: Sequence[str], source: str) -> list[str]:
    """The table's columns for E, pt, eta and phi, in that order, matched by name, never by position.

    ``columns`` (default: ``E, pt, eta, phi``) may come in any order; each must name one variable,
    alone or after one collection prefix (``Jet_E, Jet_pt, Jet_eta, Jet_phi``), every variable
    exactly once. Raises :class:`ColumnError` otherwise (a mass is not an energy: it is refused)."""
    chosen = list(columns) if columns else list(VARIABLES)
    for c in chosen:
        if c not in names:
            raise ColumnError(missing_column_message(c, names, source))
    slots: dict[str, str] = {}
    for c in chosen:
        j = variable_of(c, VARIABLES)
        if j is None:
            raise ColumnError(
                f"column {c!r} of {source} is not one of the jet codec's variables {', '.join(VARIABLES)} "
                "(names must be the variable, optionally after a collection prefix such as Jet_; "
                "the codec bounds E and pt relatively and eta and phi absolutely, so a column is taken "
                "by its name only)"
            )
        v = VARIABLES[j]
        if v in slots:
            raise ColumnError(f"columns {slots[v]!r} and {c!r} of {source} both name the jet variable {v}")
        slots[v] = c
    missing = [v for v in VARIABLES if v not in slots]
    if missing:
        raise ColumnError(f"no column of {source} is given for the jet variable(s) {', '.join(missing)}")
    prefixes = {slots[v][: len(slots[v]) - len(v)] for v in VARIABLES}
    if len(prefixes) > 1:
        raise ColumnError(
            f"the jet columns {', '.join(slots[v] for v in VARIABLES)} of {source} come from different "
            "collections"
        )
    return [slots[v] for v in VARIABLES]


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
    ``dataset`` gives the layout and auxiliary tables.

    Every chunk's payload is decoded from its bytes, cast to each column's dtype and checked
    against the bound there; values that miss (float64 precision beyond float32, integers, float16
    rounding, values off their phi branch, ...) are stored exactly. The finished file is read back
    and decoded before it is published: its values must be bit for bit the ones checked."""
    names = list(schema)
    if len(set(names)) != len(names):
        raise ColumnError(f"{source} has repeated column names")
    if chunk_rows > MAX_CHUNK_ROWS:
        raise ConfigError(f"chunk_rows must be at most {MAX_CHUNK_ROWS}, got {chunk_rows}")
    chosen = match_columns(columns, names, source)
    for name in chosen:
        if schema[name].kind not in "biuf":
            raise ColumnError(f"column {name!r} of {source} has dtype {schema[name]}: not a number")
    has_event = event_column in names and schema[event_column].kind in "iu" and event_column not in chosen
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
    exc_names = {
        n: (unique_name(f"{n}#exceptions/rows", taken), unique_name(f"{n}#exceptions/values", taken))
        for n in chosen
    }
    exact = dict.fromkeys(chosen, 0)  # values stored exactly for the column's dtype
    digests: list[dict[str, str]] = []
    exceptions = rows = 0

    def verify(tmp: Path) -> None:
        verify_written(tmp, digests, {t: table_digests(a) for t, a in dataset.aux.items()}, _open_chunks)

    with write_container(out, header, force=force, verify=verify) as writer:
        for chunk, part in enumerate(chunks):
            if rows + part.num_rows > num_rows:
                raise InputError(f"{source} holds more than the announced {num_rows} rows")
            with np.errstate(over="ignore", invalid="ignore"):
                x = part.stack(chosen, dtype=np.float32)
            event = (
                part[event_column].astype(np.int64)
                if has_event
                else np.arange(rows, rows + part.num_rows, dtype=np.int64)
            )
            rows += part.num_rows
            payload, decoded = encode_jets_checked(event, x, bounds)
            exceptions += int(payload_header(payload)["exceptions"])
            writer.add_bytes("column", PAYLOAD_SECTION, payload, chunk=chunk, codec=CODEC_NAME)
            digest: dict[str, str] = {}
            for j, name in enumerate(chosen):
                original = part[name]
                values = as_column_dtype(decoded[:, j], original.dtype)
                miss = np.flatnonzero(
                    misses(original, values, getattr(bounds, VARIABLES[j]), bounds.floor(VARIABLES[j]))
                )
                if miss.size:
                    add_exceptions(writer, exc_names[name], name, chunk=chunk, rows=miss, original=original)
                    bits(values)[miss] = bits(original)[miss]
                    exact[name] += int(miss.size)
                digest[name] = column_digest(values)
            for name in names:
                if name in chosen:
                    continue
                digest[name] = column_digest(part[name])
                if has_event and name == event_column:
                    # Runs (event number, jets in it): the codec needs the multiplicities anyway,
                    # and they cost far less than a per-jet column, even delta coded.
                    run_values, lengths = _runs(part[name])
                    _add_column(writer, name, run_values, chunk, runs="values")
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
            digests.append(digest)
        if rows != num_rows:
            raise InputError(f"{source} holds {rows} rows, not the announced {num_rows}")
        write_aux_tables(writer, dataset, chunk_rows, lambda name: unique_name(name, taken))
    size = Path(out).stat().st_size
    with ContainerReader.open(out) as reader:
        sections = reader.section_sizes()
    stored = {"(jets)": exceptions} if exceptions else {}
    stored.update({f"{n} ({schema[n]})": c for n, c in exact.items() if c})
    return CompressionReport(
        Path(out),
        num_rows,
        tuple(chosen),
        tuple(n for n in names if n not in chosen),
        size,
        sections,
        {name: aux.num_rows for name, aux in dataset.aux.items()},
        stored,
    )


def _open_chunks(reader: ContainerReader) -> tuple[Iterator[dict[str, npt.NDArray[Any]]], TableSpecs]:
    spec = _parse_spec(reader)
    return _iter_chunks(reader, spec), spec.tables


def is_bounded(header: dict[str, Any]) -> bool:
    """Whether a data header is one of this codec's."""
    codec = header.get("codec")
    return isinstance(codec, dict) and codec.get("name") == CODEC_NAME


@dataclass(frozen=True)
class _Spec:
    """The checked header of a bounded-codec file."""

    num_rows: int
    chunk_rows: int
    columns: list[tuple[str, np.dtype[Any], str]]  # name, dtype, role
    compressed: list[str]
    event_column: str | None
    event_runs: bool
    tables: list[tuple[str, int, list[tuple[str, np.dtype[Any]]]]]
    layout: dict[str, Any]


def _parse_spec(reader: ContainerReader) -> _Spec:
    header = reader.header
    fmt = header.get("data_format")
    if fmt not in READ_DATA_FORMATS:
        raise reader.error(None, f"the bounded codec does not write data format {fmt!r}")
    try:
        num_rows = header["num_rows"]
        chunk_rows = header["chunk_rows"]
        columns = [(c["name"], c["dtype"], c["role"]) for c in header["columns"]]
        compressed = header["compressed"]["columns"]
        event_column = header["codec"].get("event_column")
        event_runs = header["codec"].get("event_runs")
        tables = [
            (t["name"], t["num_rows"], [(c["name"], c["dtype"]) for c in t["columns"]])
            for t in header.get("tables", [])
        ]
        layout = header.get("layout", {})
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise reader.error(None, f"invalid bounded-codec header: missing or bad {exc}") from None
    if (
        not all(type(v) is int and v >= 0 for v in (num_rows, chunk_rows))
        or not 1 <= chunk_rows <= MAX_CHUNK_ROWS
    ):
        raise reader.error(
            None,
            f"invalid row counts num_rows={num_rows!r}, chunk_rows={chunk_rows!r} (at most {MAX_CHUNK_ROWS})",
        )
    texts = [n for n, _, _ in columns] + [r for _, _, r in columns] + [*compressed]
    texts += [t for t, _, _ in tables] + [c for _, _, cols in tables for c, _ in cols]
    if not all(isinstance(t, str) for t in texts) or not isinstance(compressed, list):
        raise reader.error(None, "invalid bounded-codec header: names must be strings")
    if not all(type(r) is int and r >= 0 for _, r, _ in tables):
        raise reader.error(None, "invalid bounded-codec header: table row counts must be counts")
    for dtype in [d for _, d, _ in columns] + [d for _, _, cols in tables for _, d in cols]:
        if not isinstance(dtype, str) or dtype not in DTYPES:
            raise reader.error(None, f"invalid column dtype {dtype!r}")
    names = [n for n, _, _ in columns]
    if len(set(names)) != len(names):
        raise reader.error(None, "invalid bounded-codec header: column names repeat")
    if len({t for t, _, _ in tables}) != len(tables) or any(
        len({c for c, _ in cols}) != len(cols) for _, _, cols in tables
    ):
        raise reader.error(None, "invalid bounded-codec header: table or table column names repeat")
    if any(r not in ("compressed", "passthrough") for _, _, r in columns):
        raise reader.error(None, "invalid bounded-codec header: a column role is not compressed/passthrough")
    marked = [n for n, _, r in columns if r == "compressed"]
    if len(compressed) != 4 or sorted(compressed) != sorted(marked) or len(set(compressed)) != 4:
        raise reader.error(None, "the compressed columns are not four columns of the table marked compressed")
    dtypes = {n: np.dtype(d) for n, d, _ in columns}
    if any(dtypes[c].kind not in "biuf" for c in compressed):
        raise reader.error(None, "a compressed column is not numeric")
    if event_column is not None and (
        not isinstance(event_column, str)
        or event_column in compressed
        or event_column not in names
        or dtypes[event_column].kind not in "iu"
    ):
        raise reader.error(None, f"event column {event_column!r} is not an integer passthrough column")
    if not isinstance(event_runs, bool) or (event_runs and event_column is None):
        raise reader.error(None, "invalid bounded-codec header: event_runs without an event column")
    return _Spec(
        num_rows,
        chunk_rows,
        [(n, np.dtype(d), role) for n, d, role in columns],
        compressed,
        event_column,
        event_runs,
        [(name, rows, [(c, np.dtype(d)) for c, d in specs]) for name, rows, specs in tables],
        _layout(reader, layout),
    )


def _layout(reader: ContainerReader, layout: object) -> dict[str, Any]:
    try:
        return check_layout(layout, reader.name)
    except InputError as exc:
        raise reader.error(None, f"invalid layout: {exc}") from None


def bounded_chunks(
    reader: ContainerReader,
) -> tuple[list[tuple[str, np.dtype[Any]]], list[str], Iterator[dict[str, npt.NDArray[Any]]]]:
    """The main table's columns (name, dtype), the auxiliary tables' names, and an iterator over
    the main table chunk by chunk (one payload's rows in memory at a time)."""
    spec = _parse_spec(reader)
    return [(n, d) for n, d, _ in spec.columns], [t[0] for t in spec.tables], _iter_chunks(reader, spec)


@dataclass
class _Chunk:
    """The sections of one chunk of the main table."""

    payload: Section
    columns: dict[str, Section] = field(default_factory=dict)
    runs: list[Section] = field(default_factory=list)
    slots: dict[str, dict[str, Section]] = field(default_factory=dict)


def _plan(reader: ContainerReader, spec: _Spec) -> list[_Chunk]:
    """Every section of the file matched to its chunk and role before any data is read: missing,
    repeated, misplaced and unclaimed (orphaned) sections are errors."""
    payloads = sorted(reader.find("column", PAYLOAD_SECTION), key=lambda s: s.chunk)
    if [s.chunk for s in payloads] != list(range(len(payloads))):
        raise reader.error(None, "bounded-codec payload chunks are missing or repeated")
    if spec.num_rows > len(payloads) * spec.chunk_rows or len(payloads) > max(spec.num_rows, 1):
        raise reader.error(
            None,
            f"the header says {spec.num_rows} rows; {len(payloads)} chunks of {spec.chunk_rows} cannot hold them",
        )
    plan = [_Chunk(p) for p in payloads]
    dtypes = {n: d for n, d, _ in spec.columns}
    passthrough = {n for n, _, role in spec.columns if role == "passthrough"}
    runs_name = f"{spec.event_column}{RUNS_SUFFIX}" if spec.event_runs else None
    aux_tables = {t for t, _, _ in spec.tables}
    for sec in reader.sections:
        if sec.kind != "column":
            raise reader.error(sec, f"a bounded-codec file holds no {sec.kind!r} sections")
        extras = sec.extras
        if "table" in extras:
            if extras.get("table") not in aux_tables:
                raise reader.error(
                    sec, f"section of table {extras.get('table')!r}, which the header does not list"
                )
            continue  # checked by the auxiliary-table reader
        if sec.name == PAYLOAD_SECTION and "exceptions" not in extras:
            continue
        if sec.chunk >= len(plan):
            raise reader.error(
                sec, f"column section of chunk {sec.chunk}, but the file has {len(plan)} chunks"
            )
        chunk = plan[sec.chunk]
        if "exceptions" in extras:
            exception_section(reader, sec, spec.compressed, dtypes, rows=spec.chunk_rows, slots=chunk.slots)
        elif spec.event_runs and sec.name in (spec.event_column, runs_name) and "runs" in extras:
            chunk.runs.append(sec)
        elif sec.name in passthrough and not (spec.event_runs and sec.name == spec.event_column):
            if sec.name in chunk.columns:
                raise reader.error(sec, f"second section of column {sec.name!r} in chunk {sec.chunk}")
            if len(sec.shape) != 1 or sec.dtype != dtypes[sec.name] or sec.shape[0] > spec.chunk_rows:
                raise reader.error(
                    sec,
                    f"column {sec.name!r} has shape {sec.shape} {sec.dtype}, expected (rows,) {dtypes[sec.name]}",
                )
            chunk.columns[sec.name] = sec
        else:
            raise reader.error(sec, f"column section {sec.name!r} belongs to no column of the header")
    for i, chunk in enumerate(plan):
        missing = sorted(
            passthrough - set(chunk.columns) - ({spec.event_column} if spec.event_runs else set())
        )
        if missing:
            raise reader.error(
                chunk.payload, f"column(s) {', '.join(map(repr, missing))} missing in chunk {i}"
            )
        exception_pairs(reader, chunk.slots)  # complete pairs
    return plan


def _iter_chunks(reader: ContainerReader, spec: _Spec) -> Iterator[dict[str, npt.NDArray[Any]]]:
    plan = _plan(reader, spec)
    dtypes = {n: d for n, d, _ in spec.columns}
    total = 0
    for chunk in plan:
        sec = chunk.payload
        payload = reader.read_bytes(sec)
        try:
            rows = int(payload_header(payload)["rows"])
        except ContainerError as exc:
            raise reader.error(sec, str(exc)) from None
        if rows > spec.chunk_rows or total + rows > spec.num_rows or rows == 0:
            raise reader.error(
                sec,
                f"the payload holds {rows} rows: the header says {spec.num_rows} in chunks of {spec.chunk_rows}",
            )
        chunk_cols: dict[str, npt.NDArray[Any]] = {}
        for name, col in chunk.columns.items():
            if col.shape[0] != rows:
                raise reader.error(col, f"column {name!r} holds {col.shape[0]} rows, the payload {rows}")
            chunk_cols[name] = reader.read_array(col)
        if spec.event_runs and spec.event_column is not None:
            chunk_cols[spec.event_column] = _read_runs(
                reader, chunk.runs, dtypes[spec.event_column], sec, rows
            )
        if spec.event_column is not None:
            event = chunk_cols[spec.event_column].astype(np.int64)
        else:
            event = np.arange(total, total + rows, dtype=np.int64)
        try:
            values = decode_jets(event, payload)
        except (ContainerError, InputError) as exc:
            raise reader.error(sec, str(exc)) from None
        for j, name in enumerate(spec.compressed):
            chunk_cols[name] = as_column_dtype(values[:, j], dtypes[name])
        for name, pair in exception_pairs(reader, chunk.slots).items():
            restore_exceptions(reader, pair, chunk_cols[name], dtypes[name])
        total += rows
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
    try:
        return Dataset(Table(out, source=reader.name), aux, spec.layout)
    except InputError as exc:
        raise reader.error(None, f"invalid data ({exc})") from None


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
