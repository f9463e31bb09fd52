"""Read a compressed file with any codec: the header picks the codec through the registry.

Every section of the file is matched to its chunk and role before any data is read: missing,
repeated, misplaced and unclaimed (orphaned) sections are errors naming the file, the section and
its byte offset. Then the main table is decoded chunk by chunk (:func:`iter_chunks`: one chunk in
memory at a time), the exception stream restored, and the auxiliary tables read.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.atomic import atomic_output
from hepsqueeze.codecs.base import RUNS_SUFFIX, Codec
from hepsqueeze.codecs.registry import get_codec
from hepsqueeze.container import ContainerReader, Section
from hepsqueeze.errors import ColumnError, InputError, VerificationError, missing_column_message
from hepsqueeze.file.columns import read_aux_table, read_runs
from hepsqueeze.file.digest import column_digest, table_digests
from hepsqueeze.file.exceptions import (
    exception_counts,
    exception_pairs,
    exception_section,
    restore_exceptions,
)
from hepsqueeze.file.header import FileHeader, is_count, parse_header, read_header
from hepsqueeze.file.report import compression_ratio
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table

log = logging.getLogger(__name__)

Chunk = dict[str, npt.NDArray[Any]]


@dataclass
class _ChunkSections:
    """The sections of one chunk of the main table."""

    payload: Section
    rows: int | None
    columns: dict[str, Section] = field(default_factory=dict)
    runs: list[Section] = field(default_factory=list)
    slots: dict[str, dict[str, Section]] = field(default_factory=dict)


@dataclass(frozen=True)
class OpenFile:
    """An open compressed file: its header, its codec (bound to the file) and its chunks' sections."""

    reader: ContainerReader
    header: FileHeader
    codec: Codec
    chunks: tuple[_ChunkSections, ...]


def open_file(reader: ContainerReader, model: Any = None) -> OpenFile:
    """Parse the header, pick and bind the codec (``model``: a decoder the file does not hold) and
    plan every section; nothing but the header and descriptors (and an embedded model) is read."""
    header = parse_header(reader)
    try:
        codec = get_codec(header.codec)
        codec.check_header(header.compressed, header.dtypes, header.chunk_rows)
    except InputError as exc:
        raise reader.error(None, f"invalid data header: {exc}") from None
    if header.data_format not in codec.data_formats:
        raise reader.error(
            None,
            f"invalid data header: the {codec.codec_id} codec does not write data format {header.data_format}",
        )
    codec = codec.bind(reader, header.raw, model)
    return OpenFile(reader, header, codec, tuple(_plan(reader, header, codec)))


def _plan(reader: ContainerReader, header: FileHeader, codec: Codec) -> list[_ChunkSections]:
    payloads = sorted((s for s in reader.sections if codec.is_payload(s)), key=lambda s: s.chunk)
    if [s.chunk for s in payloads] != list(range(len(payloads))):
        raise reader.error(None, f"{codec.codec_id} payload chunks are missing or repeated")
    plan = [_ChunkSections(p, codec.planned_rows(reader, p)) for p in payloads]
    _check_rows(reader, header, plan)
    tables = {t.name for t in header.tables}
    for sec in reader.sections:
        if codec.is_payload(sec) or sec.kind in codec.file_section_kinds:
            continue
        if sec.kind != "column":
            raise reader.error(sec, f"a file of the {codec.codec_id} codec holds no {sec.kind!r} sections")
        if "table" in sec.extras:
            if sec.extras.get("table") not in tables:
                raise reader.error(
                    sec, f"section of table {sec.extras.get('table')!r}, which the header does not list"
                )
            continue  # checked by the auxiliary-table reader
        _file_section(reader, header, codec, plan, sec)
    runs = {codec.runs_column} if codec.runs_column is not None else set()
    for i, chunk in enumerate(plan):
        missing = sorted(set(header.passthrough) - set(chunk.columns) - runs)
        if missing:
            raise reader.error(
                chunk.payload, f"column(s) {', '.join(map(repr, missing))} missing in chunk {i}"
            )
        exception_pairs(reader, chunk.slots)  # complete pairs
    return plan


def _file_section(
    reader: ContainerReader, header: FileHeader, codec: Codec, plan: list[_ChunkSections], sec: Section
) -> None:
    """File a main-table ``column`` section with its chunk: an exception, a run or a passthrough column."""
    if sec.chunk >= len(plan):
        raise reader.error(sec, f"column section of chunk {sec.chunk}, but the file has {len(plan)} chunks")
    chunk = plan[sec.chunk]
    limit = header.chunk_rows if header.chunk_rows is not None else header.num_rows
    rows = chunk.rows if chunk.rows is not None else limit
    runs = codec.runs_column
    if "exceptions" in sec.extras:
        exception_section(reader, sec, header.compressed, header.dtypes, rows=rows, slots=chunk.slots)
    elif runs is not None and sec.name in (runs, f"{runs}{RUNS_SUFFIX}") and "runs" in sec.extras:
        chunk.runs.append(sec)
    elif sec.name in header.passthrough and sec.name != runs:
        _file_column(reader, sec, chunk, header.dtypes[sec.name], rows)
    else:
        raise reader.error(sec, f"column section {sec.name!r} belongs to no column of the header")


def _check_rows(reader: ContainerReader, header: FileHeader, plan: list[_ChunkSections]) -> None:
    """The chunks can hold the header's rows: exactly, where the descriptors tell the rows."""
    known = [c.rows for c in plan if c.rows is not None]
    if len(known) == len(plan):
        for c in plan:
            if c.rows == 0 or (header.chunk_rows is not None and (c.rows or 0) > header.chunk_rows):
                raise reader.error(c.payload, f"chunk holds {c.rows} rows; chunk_rows is {header.chunk_rows}")
        if sum(known) != header.num_rows:
            raise reader.error(
                None, f"the header says {header.num_rows} rows, the payload sections hold {sum(known)}"
            )
        return
    chunk_rows = header.chunk_rows or 0
    if header.num_rows > len(plan) * chunk_rows or len(plan) > header.num_rows:
        raise reader.error(
            None,
            f"the header says {header.num_rows} rows; {len(plan)} chunks of {chunk_rows} cannot hold them",
        )


def _file_column(
    reader: ContainerReader, sec: Section, chunk: _ChunkSections, dtype: np.dtype[Any], rows: int
) -> None:
    if sec.name in chunk.columns:
        raise reader.error(sec, f"second section of column {sec.name!r} in chunk {sec.chunk}")
    exact = chunk.rows is not None
    if len(sec.shape) != 1 or sec.dtype != dtype or (sec.shape[0] != rows if exact else sec.shape[0] > rows):
        raise reader.error(
            sec, f"column {sec.name!r} has shape {sec.shape} {sec.dtype}, expected ({rows},) {dtype}"
        )
    chunk.columns[sec.name] = sec


def iter_chunks(opened: OpenFile, columns: Collection[str] | None = None) -> Iterator[Chunk]:
    """The main table's columns chunk by chunk, in the header's column order.

    ``columns``: only these (default all). A passthrough column not asked for is not read, and the
    codec decodes nothing when no compressed column is asked for (it decodes all of them when one
    is: a codec's payload is one group); the values given are those of a full read. Raises
    :class:`ColumnError` for a column the main table does not hold."""
    reader, header, codec = opened.reader, opened.header, opened.codec
    dtypes = header.dtypes
    names = [c.name for c in header.columns]
    if columns is not None:
        unknown = [c for c in columns if c not in dtypes]
        if unknown:
            raise ColumnError(
                missing_column_message(unknown[0], names, reader.name), path=reader.name, column=unknown[0]
            )
        names = [n for n in names if n in set(columns)]
    wanted = set(names)
    decoding = columns is None or bool(wanted & set(header.compressed))
    total = 0
    for chunk in opened.chunks:
        sec = chunk.payload
        payload = codec.read_payload(reader, sec)
        rows = payload.rows
        too_many = header.chunk_rows is not None and rows > header.chunk_rows
        if rows == 0 or too_many or total + rows > header.num_rows:
            raise reader.error(
                sec,
                f"the payload holds {rows} rows: the header says {header.num_rows} in chunks of {header.chunk_rows}",
            )
        values: Chunk = {}
        for name, col in chunk.columns.items():
            if col.shape[0] != rows:
                raise reader.error(col, f"column {name!r} holds {col.shape[0]} rows, the payload {rows}")
            if name in wanted:
                values[name] = reader.read_array(col)
        runs = codec.runs_column
        if runs is not None and (decoding or runs in wanted):
            values[runs] = read_runs(reader, chunk.runs, dtypes[runs], sec, rows)
        if decoding:
            decoded = codec.decode(
                payload, values, dtypes, header.compressed, start=total, reader=reader, section=sec
            )
            values.update(decoded)
            for name, pair in exception_pairs(reader, chunk.slots).items():
                restore_exceptions(reader, pair, values[name], dtypes[name])
        total += rows
        yield {name: values[name] for name in names}
    if total != header.num_rows:
        raise reader.error(None, f"the header says {header.num_rows} rows, the payloads hold {total}")


def read_aux(opened: OpenFile) -> dict[str, Table]:
    """Every auxiliary table of the file."""
    if opened.codec.codes_tables:
        return {
            t.name: _read_coded_table(opened, t.name, t.num_rows, list(t.columns))
            for t in opened.header.tables
        }
    return {
        t.name: read_aux_table(opened.reader, t.name, t.num_rows, t.columns) for t in opened.header.tables
    }


def _read_coded_table(
    opened: OpenFile, name: str, num_rows: int, specs: list[tuple[str, np.dtype[Any]]]
) -> Table:
    """An auxiliary table coded by the file's codec: its chunks 0, 1, ... decoded in order."""
    reader, codec = opened.reader, opened.codec
    found = [s for s in reader.sections if s.kind == "column" and s.extras.get("table") == name]
    for sec in found:
        if not codec.is_aux_payload(sec, name):
            raise reader.error(sec, f"section of table {name!r} is not a {codec.codec_id} payload")
    found.sort(key=lambda s: s.chunk)
    if [s.chunk for s in found] != list(range(len(found))):
        raise reader.error(found[0] if found else None, f"table {name!r} has missing or repeated chunks")
    parts: dict[str, list[npt.NDArray[Any]]] = {c: [] for c, _ in specs}
    rows = 0
    limit = opened.header.chunk_rows or num_rows
    for sec in found:
        # the rows a chunk claims are checked before anything of their size is allocated
        chunk = codec.read_payload(reader, sec)
        n = chunk.rows
        if n == 0 or n > limit or rows + n > num_rows:
            raise reader.error(
                sec, f"table {name!r}: a chunk of {n} rows, the header says {num_rows} in chunks of {limit}"
            )
        columns = codec.decode_chunk(chunk, specs, reader, sec)
        rows += n
        for c, values in columns.items():
            parts[c].append(values)
    if rows != num_rows:
        raise reader.error(None, f"table {name!r} holds {rows} rows, the header says {num_rows}")
    columns = {
        c: np.concatenate(v) if v else np.empty(0, dtype=d)
        for (c, d), v in zip(specs, parts.values(), strict=True)
    }
    try:
        return Table(columns, source=reader.name)
    except InputError as exc:
        raise reader.error(None, f"table {name!r} is invalid ({exc})") from None


def decompress_reader(reader: ContainerReader, model: Any = None) -> Dataset:
    """Everything an open container holds: main table, auxiliary tables and layout."""
    opened = open_file(reader, model)
    parts: dict[str, list[npt.NDArray[Any]]] = {c.name: [] for c in opened.header.columns}
    for chunk in iter_chunks(opened):
        for name, values in chunk.items():
            parts[name].append(values)
    columns = {
        c.name: (np.concatenate(parts[c.name]) if parts[c.name] else np.empty(0, dtype=c.dtype))
        for c in opened.header.columns
    }
    aux = read_aux(opened)
    try:
        return Dataset(Table(columns, source=reader.name), aux, opened.header.layout)
    except InputError as exc:
        raise reader.error(None, f"invalid data ({exc})") from None


def read_columns(
    opened: OpenFile, wanted: Mapping[str | None, Collection[str] | None]
) -> dict[str | None, Table]:
    """Some columns of some tables of an open file: ``wanted`` maps a table (``None``: the main
    table, else an auxiliary table's name) to its columns (``None``: all), in the file's order.

    Tables not named are not read. Within a table, what can be skipped is: a passthrough column
    of the main table, the codec's payload when none of its columns is asked for. A table coded
    by the file's codec as one payload (every table of the error-bounded codec) is decoded whole,
    then cut: its columns depend on each other. The values are those :func:`decompress_reader`
    gives. Raises :class:`ColumnError` (``path``, ``column``) for a table or column not in the file.
    """
    reader, header = opened.reader, opened.header
    aux = {t.name: t for t in header.tables}
    out: dict[str | None, Table] = {}
    for table, columns in wanted.items():
        if table is None:
            parts: dict[str, list[npt.NDArray[Any]]] = {}
            for chunk in iter_chunks(opened, columns):
                for name, values in chunk.items():
                    parts.setdefault(name, []).append(values)
            names = [c.name for c in header.columns if columns is None or c.name in set(columns)]
            data = {
                n: np.concatenate(parts[n]) if n in parts else np.empty(0, dtype=header.dtypes[n])
                for n in names
            }
            out[None] = _table(reader, data, "the main table")
            continue
        info = aux.get(table)
        if info is None:
            raise ColumnError(
                f"{reader.name} holds no auxiliary table {table!r} (tables: {', '.join(aux) or 'none'})",
                path=reader.name,
            )
        specs = list(info.columns)
        names = [n for n, _ in specs]
        unknown = [c for c in columns or () if c not in names]
        if unknown:
            raise ColumnError(
                missing_column_message(unknown[0], names, f"{reader.name} (table {table!r})"),
                path=reader.name,
                column=unknown[0],
            )
        if opened.codec.codes_tables:
            full = _read_coded_table(opened, table, info.num_rows, specs)
        else:
            full = read_aux_table(reader, table, info.num_rows, specs)
        keep = names if columns is None else [n for n in names if n in set(columns)]
        out[table] = full.select(keep)
    return out


def _table(reader: ContainerReader, columns: dict[str, npt.NDArray[Any]], what: str) -> Table:
    try:
        return Table(columns, source=reader.name)
    except InputError as exc:
        raise reader.error(None, f"{what} is invalid ({exc})") from None


def decompress_dataset(path: str | os.PathLike[str], model: Any = None) -> Dataset:
    """Rebuild the dataset stored in ``path``: main table, auxiliary tables and layout.

    ``model`` is needed only for autoencoder files written without their decoder, and must match
    its hash. Pass the result to :func:`hepsqueeze.io.write_dataset` to write the original file
    format back. Every problem with the file is a :class:`ContainerError` naming the file,
    section and offset.
    """
    with ContainerReader.open(path) as reader:
        return decompress_reader(reader, model)


def decompress_to_parquet(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    model: Any = None,
    *,
    force: bool = False,
    compression: str = "snappy",
) -> int:
    """Decompress ``path`` into the Parquet file ``out``, one row group per chunk; return the rows.

    Memory holds one chunk at a time, whatever the file's size. Writes the main table only
    (auxiliary tables are named in a logged warning); ``out`` appears atomically when done.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hepsqueeze.io.interpret import native

    with ContainerReader.open(path) as reader:
        opened = open_file(reader, model)
        columns = [(c.name, c.dtype) for c in opened.header.columns]
        if opened.header.tables:
            log.warning(
                "%s: auxiliary tables %s are not written to %s (Parquet holds one table)",
                reader.name,
                ", ".join(t.name for t in opened.header.tables),
                out,
            )
        schema = pa.schema([(n, pa.from_numpy_dtype(d.newbyteorder("="))) for n, d in columns])
        rows = 0
        with atomic_output(out, force) as tmp, pq.ParquetWriter(tmp, schema, compression=compression) as pw:
            for chunk in iter_chunks(opened):
                arrays = [pa.array(native(chunk[n])) for n, _ in columns]
                pw.write_table(pa.Table.from_arrays(arrays, schema=schema))
                rows += len(arrays[0]) if arrays else 0
    return rows


def verify_written(
    path: Path, digests: list[dict[str, str]], aux: Mapping[str, dict[str, str]], model: Any = None
) -> None:
    """Decode the file just written and compare every column of every chunk, and every auxiliary
    table, with the digests of what was meant to be stored. Raises :class:`VerificationError`:
    the caller then publishes nothing."""
    with ContainerReader.open(path) as reader:
        opened = open_file(reader, model)
        count = 0
        for i, chunk in enumerate(iter_chunks(opened)):
            got = {name: column_digest(values) for name, values in chunk.items()}
            if i >= len(digests) or got != digests[i]:
                wrong = sorted(k for k in got if i >= len(digests) or digests[i].get(k) != got[k])
                raise VerificationError(
                    f"{path}: chunk {i} of the file just written decodes to other values than were meant "
                    f"(columns {', '.join(wrong)}); nothing was published. This is a bug: please report it",
                    path=str(path),
                )
            count += 1
        if count != len(digests):
            raise VerificationError(
                f"{path}: the file just written holds {count} chunks, not {len(digests)}", path=str(path)
            )
        for name, table in read_aux(opened).items():
            if table_digests(table) != aux.get(name):
                raise VerificationError(
                    f"{path}: auxiliary table {name!r} does not read back as written", path=str(path)
                )


def file_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The header of a compressed file, the size of each section kind, its ratio and exception counts.

    The header's ``tables`` lists auxiliary tables and ``layout`` the input's structure;
    ``exceptions`` counts the values of each compressed column stored exactly.
    """
    with ContainerReader.open(path) as reader:
        header = read_header(reader)
        sizes = reader.section_sizes()
        size = reader.file_size
        exceptions = exception_counts(reader)
    comp = header.get("compressed")
    n_comp = len(comp.get("columns", [])) if isinstance(comp, dict) else 0
    rows = header.get("num_rows", 0)
    rows = rows if is_count(rows) else 0
    return {
        "path": str(path),
        "file_bytes": size,
        "header": header,
        "section_bytes": sizes,
        "ratio": compression_ratio(rows, n_comp, size),
        "exceptions": exceptions,
    }


@dataclass(frozen=True)
class ColumnSummary:
    """One column of a compressed file, for ``hepsqueeze info``.

    ``bound``: the guarantee on its decoded values (``0.001 relative``, ``lossless``, ``exact`` for
    columns stored as they are, ``none (learned)`` for an autoencoder's). ``stored_bytes``: bytes of
    its own sections or payloads; ``joint``: it is also coded together with other columns, in the
    sections that :attr:`FileSummary.joint_bytes` counts (an autoencoder's latent codes).
    ``stored_exactly``: its values kept in the exception stream.
    """

    name: str
    table: str | None
    dtype: str
    bound: str
    stored_bytes: int
    joint: bool = False
    stored_exactly: int = 0


@dataclass(frozen=True)
class FileSummary:
    """What ``hepsqueeze info`` prints: codec, rows, chunks, sizes, ratio, bounds, the model.

    ``tables``: rows of each auxiliary table; ``joint_bytes``: bytes of sections that code several
    columns together (an autoencoder's latent codes, the jet codec's payload) or none (an embedded
    model), by what they hold; ``model``: the header's model entry (name, hash, embedded or not);
    ``input``: the header's record of the input file (``path``: its name, ``size_bytes``);
    ``array_bytes``: the bytes of every column of every table as arrays of its own dtype (what the
    file holds, decoded; 0 where a dtype has no fixed width).
    """

    path: str
    codec: str
    created_by: str
    data_format: int | None
    rows: int
    chunks: int
    chunk_rows: int | None
    file_bytes: int
    ratio: float
    section_bytes: Mapping[str, int]
    columns: tuple[ColumnSummary, ...]
    joint_bytes: Mapping[str, int]
    tables: Mapping[str, int]
    model: Mapping[str, Any] | None
    input: Mapping[str, Any] = field(default_factory=dict)
    array_bytes: int = 0


def header_array_bytes(header: Mapping[str, Any]) -> int:
    """Bytes of every column of every table a file's ``header`` describes, as arrays of their
    dtypes (what the file holds, decoded); 0 if a dtype is not a fixed-width numpy dtype. Needs the
    header only (:func:`file_info`), no section."""
    rows = header.get("num_rows", 0)
    specs: list[tuple[Any, Any]] = [(rows, header.get("columns", []))]
    specs += [
        (t.get("num_rows", 0), t.get("columns", [])) for t in header.get("tables", []) if isinstance(t, dict)
    ]
    total = 0
    for n, cols in specs:
        count = n if is_count(n) else 0
        for c in cols if isinstance(cols, list) else []:
            if not isinstance(c, dict):
                continue
            try:
                itemsize = np.dtype(str(c.get("dtype"))).itemsize
            except TypeError:
                return 0
            if itemsize == 0:
                return 0
            total += itemsize * count
    return total


def _summary_bounds(codec: Mapping[str, Any], compressed: list[str]) -> dict[tuple[str | None, str], str]:
    """(table or None, column) -> the bound text of every column the codec bounds."""
    from hepsqueeze.codecs.autoencoder.codec import CODEC_ID as AUTOENCODER
    from hepsqueeze.codecs.bounded.bounds import VARIABLES, JetBounds
    from hepsqueeze.codecs.bounded.codec import CODEC_ID as JETS
    from hepsqueeze.codecs.bounded.column_bound import ColumnBound
    from hepsqueeze.codecs.bounded.table_codec import CODEC_ID as BOUNDED
    from hepsqueeze.errors import ContainerError

    name = codec.get("name")
    out: dict[tuple[str | None, str], str] = {}
    try:
        if name == BOUNDED:
            tables = codec.get("tables") or {}
            for table, bounds in [(None, codec.get("bounds") or {}), *tables.items()]:
                for col, raw in bounds.items():
                    out[(table, str(col))] = ColumnBound.from_dict(raw).describe()
        elif name == JETS:
            jets = JetBounds.from_dict(codec.get("bounds"))
            for col, var in zip(compressed, VARIABLES, strict=False):
                b = getattr(jets, var)
                floor = jets.floor(var)
                out[(None, col)] = f"{b.value:.3g} {b.kind}" + (f", floor {floor:.3g}" if floor else "")
        elif name == AUTOENCODER:
            out.update({(None, col): "none (learned)" for col in compressed})
    except (ContainerError, AttributeError, TypeError, ValueError):
        return {}  # a header whose bounds do not parse: the columns show "?"
    return out


def _summary_sizes(
    reader: ContainerReader, compressed: list[str]
) -> tuple[dict[tuple[str | None, str], int], dict[str, int]]:
    """Bytes per (table, column) and of the sections that hold no single column (by what they
    hold), from the sections' descriptors; the error-bounded codec's payloads are opened to split
    them by column."""
    from hepsqueeze.codecs.bounded.codec import CODEC_ID as JETS
    from hepsqueeze.codecs.bounded.table_codec import CODEC_ID as BOUNDED
    from hepsqueeze.codecs.bounded.table_coder import parse_table
    from hepsqueeze.errors import ContainerError

    own: dict[tuple[str | None, str], int] = {}
    joint: dict[str, int] = {}
    together = ", ".join(compressed)
    for sec in reader.sections:
        extras = sec.extras
        table = extras["table"] if isinstance(extras.get("table"), str) else None
        if sec.kind == "column" and extras.get("codec") == BOUNDED:
            try:
                payloads = parse_table(reader.read_bytes(sec)).columns
            except ContainerError as exc:
                raise reader.error(sec, str(exc)) from None
            for col, payload in payloads.items():
                own[(table, col)] = own.get((table, col), 0) + len(payload)
            framing = sec.stored_size - sum(len(p) for p in payloads.values())
            joint["payload framing"] = joint.get("payload framing", 0) + framing
        elif sec.kind == "column" and extras.get("codec") == JETS:
            key = f"jet payload ({together})"
            joint[key] = joint.get(key, 0) + sec.stored_size
        elif sec.kind == "column":
            named = extras.get("column")
            col = named if isinstance(named, str) else sec.name.split("#")[0]  # "event#runs": event's
            own[(table, col)] = own.get((table, col), 0) + sec.stored_size
        else:
            key = {"latent": "latent codes", "model": "embedded model"}.get(sec.kind, sec.kind)
            joint[key] = joint.get(key, 0) + sec.stored_size
    return own, joint


def file_summary(path: str | os.PathLike[str]) -> FileSummary:
    """A compressed file's summary for people (``hepsqueeze info``): codec, rows, chunks, file
    bytes and ratio, bytes per section kind and per column, each column's bound, the model.

    Reads the header and the section descriptors, and the error-bounded codec's payloads to split
    their bytes by column; decodes nothing and loads no model. Errors as :func:`file_info`.
    """
    info = file_info(path)
    header: Mapping[str, Any] = info["header"]
    entry = header.get("codec")
    codec: Mapping[str, Any] = entry if isinstance(entry, dict) else {}
    comp = header.get("compressed")
    compressed = [str(c) for c in comp.get("columns", [])] if isinstance(comp, dict) else []
    rows = header.get("num_rows", 0)
    rows = rows if is_count(rows) else 0
    given = header.get("chunk_rows")
    chunk_rows = given if isinstance(given, int) and is_count(given) and given > 0 else None
    chunks = (-(-rows // chunk_rows) if chunk_rows else 1) if rows else 0
    with ContainerReader.open(path) as reader:
        own, joint = _summary_sizes(reader, compressed)
    bounds = _summary_bounds(codec, compressed)
    joint_codecs = ("autoencoder", "bounded-jets")  # code their columns together
    exceptions: Mapping[str, int] = info["exceptions"]
    specs: list[tuple[str | None, Any]] = [(None, header.get("columns", []))]
    specs += [(t.get("name"), t.get("columns", [])) for t in header.get("tables", []) if isinstance(t, dict)]
    columns = []
    for table, cols in specs:
        for c in cols if isinstance(cols, list) else []:
            if not isinstance(c, dict):
                continue
            name = str(c.get("name"))
            key = (table, name)
            coded = table is None and name in compressed
            columns.append(
                ColumnSummary(
                    name,
                    table,
                    str(c.get("dtype")),
                    bounds.get(key, "?" if coded else "exact"),
                    own.get(key, 0),
                    coded and codec.get("name") in joint_codecs,
                    int(exceptions.get(name, 0)) if table is None else 0,
                )
            )
    tables = {
        str(t.get("name")): int(t.get("num_rows", 0))
        for t in header.get("tables", [])
        if isinstance(t, dict) and is_count(t.get("num_rows", 0))
    }
    model = header.get("model")
    data_format = header.get("data_format")
    return FileSummary(
        str(path),
        str(codec.get("name", "?")),
        str(header.get("created_by", "?")),
        data_format if isinstance(data_format, int) else None,
        rows,
        chunks,
        chunk_rows,
        int(info["file_bytes"]),
        float(info["ratio"]),
        dict(info["section_bytes"]),
        tuple(columns),
        joint,
        tables,
        dict(model) if isinstance(model, dict) else None,
        dict(header["input"]) if isinstance(header.get("input"), dict) else {},
        header_array_bytes(header),
    )


__all__ = [
    "ColumnSummary",
    "FileSummary",
    "OpenFile",
    "decompress_dataset",
    "decompress_reader",
    "decompress_to_parquet",
    "file_info",
    "file_summary",
    "header_array_bytes",
    "iter_chunks",
    "open_file",
    "read_aux",
    "read_columns",
    "verify_written",
]
