"""Write a compressed file with any codec: the codec's payload sections, the lossless columns, the
auxiliary tables and the exception stream, checked before the file is published.

Every chunk's payload is decoded by the codec as a reader will (``Payload.decoded``), the values
the codec names are stored exactly, and the finished temporary file is read back and decoded
chunk by chunk: its values must be bit for bit the ones meant, or nothing is published
(:class:`~hepsqueeze.errors.VerificationError`).

:func:`compress_parquet` streams: it holds about two chunks of rows, whatever the input's size.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from hepsqueeze.codecs.base import Codec, Payload, SectionData
from hepsqueeze.container import ContainerReader, ContainerWriter, write_container
from hepsqueeze.errors import ColumnError, ConfigError, InputError
from hepsqueeze.file.columns import (
    add_column,
    add_runs,
    rechunk,
    tables_header,
    unique_name,
    write_aux_tables,
)
from hepsqueeze.file.digest import column_digest, table_digests
from hepsqueeze.file.exceptions import add_exceptions, exception_names
from hepsqueeze.file.header import MAX_ROWS, build_header
from hepsqueeze.file.reader import verify_written
from hepsqueeze.file.report import CompressionReport
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table
from hepsqueeze.metrics.bound_check import bits

log = logging.getLogger(__name__)

DEFAULT_CHUNK_ROWS: Final = 1 << 20
#: Rows per batch read from a Parquet file (batches are regrouped into chunks).
STREAM_BATCH_ROWS: Final = 1 << 16


@dataclass(frozen=True)
class FilePlan:
    """What one file holds besides its chunks: schema, row count, layout and auxiliary tables."""

    schema: Mapping[str, np.dtype[Any]]
    num_rows: int
    source: str
    layout: Mapping[str, Any] = field(default_factory=dict)
    aux: Mapping[str, Table] = field(default_factory=dict)
    input_info: Mapping[str, Any] = field(default_factory=dict)


def compress_dataset(
    dataset: Dataset,
    codec: Codec,
    out: str | os.PathLike[str],
    columns: Sequence[str] | None = None,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    force: bool = False,
    input_info: Mapping[str, Any] | None = None,
) -> CompressionReport:
    """Compress ``columns`` of the dataset's main table with ``codec`` into ``out``.

    ``columns`` (default: the codec's own, e.g. the model's training columns) are matched to the
    codec's variables by name. Every other column of the main table, every auxiliary table and
    the layout are stored losslessly. Raises :class:`~hepsqueeze.errors.InputError` /
    :class:`~hepsqueeze.errors.ColumnError` for unusable input before anything is written.
    """
    table = dataset.table
    schema = {name: table[name].dtype for name in table.names}
    codec, chosen = _select(codec, schema, columns, table.source, chunk_rows)
    exceptions = codec.prepare(table, chosen)
    n = table.num_rows
    chunks = (table.slice(s, min(s + chunk_rows, n)) for s in range(0, n, chunk_rows))
    plan = FilePlan(schema, n, table.source, dataset.layout, dataset.aux, input_info or {})
    fmt = codec.data_format(plain=dataset.is_plain, exceptions=exceptions)
    return _write(chunks, codec, chosen, out, plan, chunk_rows=chunk_rows, data_format=fmt, force=force)


def compress_batches(
    batches: Iterable[Table],
    codec: Codec,
    out: str | os.PathLike[str],
    *,
    num_rows: int,
    schema: Mapping[str, Any],
    columns: Sequence[str] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    force: bool = False,
    layout: Mapping[str, Any] | None = None,
    input_info: Mapping[str, Any] | None = None,
    source: str = "<stream>",
) -> CompressionReport:
    """Compress a stream of tables (any sizes) holding ``num_rows`` rows of ``schema``, chunk by chunk.

    Memory holds about two chunks, whatever ``num_rows``. The batches are regrouped into chunks of
    exactly ``chunk_rows`` rows, so the file decodes exactly as that of :func:`compress_dataset`
    on the whole table. A stream with other columns or another row count than announced raises
    :class:`InputError`, and no file is left.
    """
    if not isinstance(num_rows, int) or not 0 <= num_rows <= MAX_ROWS:
        raise ConfigError(f"num_rows must be an integer in [0, 2**53), got {num_rows!r}")
    dtypes = {str(n): np.dtype(d) for n, d in schema.items()}
    codec, chosen = _select(codec, dtypes, columns, source, chunk_rows)
    plan = FilePlan(dtypes, num_rows, source, layout or {}, {}, input_info or {})
    fmt = codec.data_format(plain=True, exceptions=None)
    chunks = rechunk(batches, chunk_rows, dtypes, source)
    return _write(chunks, codec, chosen, out, plan, chunk_rows=chunk_rows, data_format=fmt, force=force)


def compress_parquet(
    path: str | os.PathLike[str],
    codec: Codec,
    out: str | os.PathLike[str],
    columns: Sequence[str] | None = None,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    force: bool = False,
    input_info: Mapping[str, Any] | None = None,
) -> CompressionReport:
    """Compress a Parquet file of any size, streaming it in row batches (see :func:`compress_batches`).

    Reads every column of the file (``columns`` are the ones to compress). An event cut by a
    chunk boundary is coded as two by the jet codec (a little less compact)."""
    from hepsqueeze.io.parquet_stream import parquet_batches

    src = Path(path)
    num_rows, schema, batches = parquet_batches(src, max(1, min(chunk_rows, STREAM_BATCH_ROWS)))
    info = {"path": src.name, "size_bytes": src.stat().st_size, **(input_info or {})}
    return compress_batches(
        batches, codec, out, num_rows=num_rows, schema=schema, columns=columns, chunk_rows=chunk_rows,
        force=force, layout={"format": "parquet"}, input_info=info, source=str(src),
    )  # fmt: skip


def _select(
    codec: Codec,
    schema: Mapping[str, np.dtype[Any]],
    columns: Sequence[str] | None,
    source: str,
    chunk_rows: int,
) -> tuple[Codec, list[str]]:
    codec.check_chunk_rows(chunk_rows)
    names = list(schema)
    if len(set(names)) != len(names):
        raise ColumnError(f"{source} has repeated column names", path=source)
    return codec.select(schema, columns, source)


class _ChunkWriter:
    """Writes the chunks of the main table and remembers what a reader must decode."""

    def __init__(self, writer: ContainerWriter, codec: Codec, chosen: list[str], plan: FilePlan) -> None:
        self.writer, self.codec, self.chosen, self.plan = writer, codec, chosen, plan
        self.names = list(plan.schema)
        self.taken = {*self.names, *codec.reserved_names}
        self.exc_names = {n: exception_names(n, self.taken) for n in chosen}
        self.digests: list[dict[str, str]] = []
        self.exact = dict.fromkeys(chosen, 0)
        self.counts: dict[str, int] = {}
        self.rows = 0

    def write(self, chunk: int, part: Table) -> None:
        if self.rows + part.num_rows > self.plan.num_rows:
            raise InputError(
                f"{self.plan.source} holds more than the announced {self.plan.num_rows} rows",
                path=self.plan.source,
            )
        payload = self.codec.encode(part, self.chosen, chunk=chunk, start=self.rows)
        self.rows += part.num_rows
        for section in payload.sections:
            add_section(self.writer, section, chunk)
        digest = self._compressed(chunk, part, payload)
        for key, count in payload.counts.items():
            self.counts[key] = self.counts.get(key, 0) + count
        for name in self.names:
            if name in self.chosen:
                continue
            digest[name] = column_digest(part[name])
            if name == self.codec.runs_column:
                add_runs(self.writer, name, part[name], chunk)
            else:
                add_column(self.writer, name, part[name], chunk)
        self.digests.append(digest)

    def _compressed(self, chunk: int, part: Table, payload: Payload) -> dict[str, str]:
        digest: dict[str, str] = {}
        for name in self.chosen:
            values, miss, original = payload.decoded[name], payload.exact.get(name), part[name]
            if miss is not None and miss.size:
                add_exceptions(
                    self.writer, self.exc_names[name], name, chunk=chunk, rows=miss, original=original
                )
                bits(values)[miss] = bits(original)[miss]
                self.exact[name] += int(miss.size)
            digest[name] = column_digest(values)
        return digest

    def stored_exactly(self) -> dict[str, int]:
        out = {k: c for k, c in self.counts.items() if c}
        out.update({self.codec.exact_label(n, self.plan.schema[n]): c for n, c in self.exact.items() if c})
        return out


def _write_coded_table(
    writer: ContainerWriter, codec: Codec, name: str, table: Table, *, chunk_rows: int, state: _ChunkWriter
) -> dict[str, str]:
    """Write auxiliary table ``name`` through the codec, ``chunk_rows`` rows per chunk; return the
    digests of the values a reader will decode."""
    section_name = unique_name(f"{name}#{codec.codec_id}", state.taken)
    parts: dict[str, list[np.ndarray[Any, Any]]] = {c: [] for c in table.names}
    for chunk, start in enumerate(range(0, table.num_rows, chunk_rows)):
        payload = codec.encode_aux(
            name, table.slice(start, min(start + chunk_rows, table.num_rows)), chunk=chunk
        )
        if payload.exact:
            raise ConfigError(
                f"the {codec.codec_id} codec must store an auxiliary table's exact values itself"
            )
        for section in payload.sections:
            add_section(writer, dataclasses.replace(section, name=section_name), chunk)
        for column, values in payload.decoded.items():
            parts[column].append(values)
        for column, count in payload.counts.items():
            key = f"{name}/{column}"
            state.counts[key] = state.counts.get(key, 0) + count
    decoded = {c: np.concatenate(v) if v else np.empty(0, dtype=table[c].dtype) for c, v in parts.items()}
    return table_digests(Table(decoded, source=table.source))


def add_section(writer: ContainerWriter, section: SectionData, chunk: int) -> None:
    """Write a codec's section into chunk ``chunk``."""
    if section.array is not None:
        writer.add_array(section.kind, section.name, section.array, chunk=chunk, **section.extras)
    elif section.data is not None:
        writer.add_bytes(section.kind, section.name, section.data, chunk=chunk, **section.extras)


def _write(
    chunks: Iterable[Table],
    codec: Codec,
    chosen: list[str],
    out: str | os.PathLike[str],
    plan: FilePlan,
    *,
    chunk_rows: int,
    data_format: int,
    force: bool,
) -> CompressionReport:
    if codec.codes_tables and plan.aux:
        schemas = {t: {c: a[c].dtype for c in a.names} for t, a in plan.aux.items()}
        codec = codec.with_tables(schemas, plan.source)
    header = build_header(
        codec, plan.schema, chosen, num_rows=plan.num_rows, chunk_rows=chunk_rows, data_format=data_format,
        input_info=plan.input_info, layout=plan.layout, tables=tables_header(plan.aux),
    )  # fmt: skip
    aux_digests = {} if codec.codes_tables else {t: table_digests(a) for t, a in plan.aux.items()}
    state: list[_ChunkWriter] = []

    def verify(tmp: Path) -> None:
        verify_written(tmp, state[0].digests, aux_digests, codec.verification_model())

    with write_container(out, header, force=force, verify=verify) as writer:
        chunk_writer = _ChunkWriter(writer, codec, chosen, plan)
        state.append(chunk_writer)
        for section in codec.file_sections():
            add_section(writer, section, 0)
        for chunk, part in enumerate(chunks):
            chunk_writer.write(chunk, part)
        if chunk_writer.rows != plan.num_rows:
            raise InputError(
                f"{plan.source} holds {chunk_writer.rows} rows, not the announced {plan.num_rows}",
                path=plan.source,
            )
        if codec.codes_tables:
            for name, table in plan.aux.items():
                aux_digests[name] = _write_coded_table(
                    writer, codec, name, table, chunk_rows=chunk_rows, state=chunk_writer
                )
        else:
            write_aux_tables(writer, plan.aux, chunk_rows, lambda name: unique_name(name, chunk_writer.taken))
    stored = chunk_writer.stored_exactly()
    if stored:
        log.info("%s: %d values stored exactly %s", out, sum(stored.values()), stored)
    with ContainerReader.open(out) as reader:
        sections = reader.section_sizes()
    return CompressionReport(
        Path(out),
        plan.num_rows,
        tuple(chosen),
        tuple(n for n in plan.schema if n not in chosen),
        Path(out).stat().st_size,
        sections,
        {name: aux.num_rows for name, aux in plan.aux.items()},
        stored,
    )


__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "STREAM_BATCH_ROWS",
    "FilePlan",
    "add_section",
    "compress_batches",
    "compress_dataset",
    "compress_parquet",
]
