"""Read a compressed file with any codec: the header picks the codec through the registry.

Every section of the file is matched to its chunk and role before any data is read: missing,
repeated, misplaced and unclaimed (orphaned) sections are errors naming the file, the section and
its byte offset. Then the main table is decoded chunk by chunk (:func:`iter_chunks`: one chunk in
memory at a time), the exception stream restored, and the auxiliary tables read.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.atomic import atomic_output
from hepsqueeze.codecs.base import RUNS_SUFFIX, Codec
from hepsqueeze.codecs.registry import get_codec
from hepsqueeze.container import ContainerReader, Section
from hepsqueeze.errors import InputError, VerificationError
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


def iter_chunks(opened: OpenFile) -> Iterator[Chunk]:
    """The main table's columns chunk by chunk, in the header's column order."""
    reader, header, codec = opened.reader, opened.header, opened.codec
    dtypes = header.dtypes
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
        columns: Chunk = {}
        for name, col in chunk.columns.items():
            if col.shape[0] != rows:
                raise reader.error(col, f"column {name!r} holds {col.shape[0]} rows, the payload {rows}")
            columns[name] = reader.read_array(col)
        if codec.runs_column is not None:
            columns[codec.runs_column] = read_runs(reader, chunk.runs, dtypes[codec.runs_column], sec, rows)
        decoded = codec.decode(
            payload, columns, dtypes, header.compressed, start=total, reader=reader, section=sec
        )
        columns.update(decoded)
        for name, pair in exception_pairs(reader, chunk.slots).items():
            restore_exceptions(reader, pair, columns[name], dtypes[name])
        total += rows
        yield {c.name: columns[c.name] for c in header.columns}
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


__all__ = [
    "OpenFile",
    "decompress_dataset",
    "decompress_reader",
    "decompress_to_parquet",
    "file_info",
    "iter_chunks",
    "open_file",
    "read_aux",
    "verify_written",
]
