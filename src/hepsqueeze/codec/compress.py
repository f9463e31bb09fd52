"""Compress a dataset with an autoencoder into one container file, and decompress it.

Layout of a compressed file (a container, see ``docs/container-format.md``): a JSON header with the
column list, model identity and row counts; a ``model`` section holding the decoder-only model file
(unless ``embed_model=False``); then per chunk of ``chunk_rows`` rows a ``latent`` section with the
codes and one ``column`` section per passthrough column (zstd, delta-coded integers, byte-shuffled
floats), all lossless except the latents' decoding.

Data format 2 adds what a :class:`~hepsqueeze.io.Dataset` holds beyond its main table: the header's
``tables`` lists the auxiliary tables (name, rows, columns and dtypes) and ``layout`` describes the
original file (see :mod:`hepsqueeze.io`); each auxiliary column is stored, per chunk of its own
rows, as a ``column`` section named ``<table>/<column>`` with the extra descriptor keys ``table``
and ``column`` (so no new section kind, and no container version bump, is needed). Files of one
plain table are still written as data format 1, which older hepsqueeze versions read.

Data format 3 adds the exception stream (:mod:`hepsqueeze.codecs.autoencoder.exceptions`): NaN, infinities,
denormals and values outside the model's training range or log domain are stored exactly, per chunk,
in ``column`` sections marked by the extra key ``exceptions``, and restored bit for bit. A file
is written as format 3 only when it may hold exceptions (always for streamed, non-strict
compression), so readers of formats 1 and 2 refuse it instead of silently dropping them.

:func:`compress_parquet` and :func:`decompress_to_parquet` stream: they hold one chunk of rows at a
time, so memory does not grow with the input.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import xxhash

from hepsqueeze.atomic import atomic_output
from hepsqueeze.codecs.autoencoder.exceptions import (
    EXCEPTION_ROWS,
    EXCEPTION_VALUES,
    ExceptionFinder,
    bits_dtype,
)
from hepsqueeze.container import DTYPES, ContainerReader, ContainerWriter, Section, write_container
from hepsqueeze.errors import (
    ConfigError,
    ContainerError,
    ContainerVersionError,
    InputError,
    ModelError,
    VerificationError,
)
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table
from hepsqueeze.metrics.bound_check import bits
from hepsqueeze.models.constants import EVAL_BATCH, LATENT_DTYPES
from hepsqueeze.version import __version__

if TYPE_CHECKING:  # torch is imported only where a network is built or run
    from hepsqueeze.models.model import CompressionModel

log = logging.getLogger(__name__)

DATA_KIND: Final = "hepsqueeze-data"
#: Newest data format written and read. 1: one table. 2: auxiliary tables and the layout.
#: 3: the exception stream. 4: the error-bounded jet codec (:mod:`hepsqueeze.codec.bounded_file`).
#: 5: the error-bounded codec with values stored exactly where they miss in the column's dtype.
DATA_FORMAT: Final = 5
#: Format written by the autoencoder codec for files with exceptions.
EXCEPTIONS_DATA_FORMAT: Final = 3
#: Format written for a dataset that is one plain table, so that older readers still read it.
PLAIN_DATA_FORMAT: Final = 1
#: Format written for a dataset with auxiliary tables and no exceptions.
AUX_DATA_FORMAT: Final = 2
DEFAULT_CHUNK_ROWS: Final = 1 << 20
ZSTD_LEVEL: Final = 19
_MAX_ROWS: Final = (1 << 53) - 1
_ROLES: Final = ("compressed", "passthrough")


@dataclass(frozen=True)
class CompressionReport:
    """Sizes and ratio of one compressed file (bytes; ratio as defined in the README)."""

    path: Path
    rows: int
    compressed_columns: tuple[str, ...]
    passthrough_columns: tuple[str, ...]
    file_bytes: int
    section_bytes: dict[str, int]
    auxiliary_rows: dict[str, int] = field(default_factory=dict)
    """Rows of each auxiliary table stored losslessly next to the main table."""
    exceptions: dict[str, int] = field(default_factory=dict)
    """Values of each compressed column stored exactly in the exception stream."""

    @property
    def ratio(self) -> float:
        """(4 bytes x rows x compressed columns) / (bytes of the whole file)."""
        return 4.0 * self.rows * len(self.compressed_columns) / self.file_bytes if self.file_bytes else 0.0

    @property
    def exception_count(self) -> int:
        """Values stored exactly in the exception stream, over all compressed columns."""
        return sum(self.exceptions.values())


# --------------------------------------------------------------------------------------------------
# Compression


def compress_table(
    table: Table,
    model: CompressionModel,
    out: str | os.PathLike[str],
    columns: Sequence[str] | None = None,
    *,
    latent_dtype: str = "float32",
    embed_model: bool = True,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    force: bool = False,
    strict: bool = False,
    input_info: dict[str, Any] | None = None,
) -> CompressionReport:
    """Compress ``columns`` of ``table`` (default: the model's training columns) with ``model`` into ``out``.

    Every other column is stored losslessly. Raises InputError/ColumnError for unusable input, before
    anything is written. Same as :func:`compress_dataset` on a dataset holding just ``table``.
    """
    return compress_dataset(
        Dataset.from_table(table),
        model,
        out,
        columns,
        latent_dtype=latent_dtype,
        embed_model=embed_model,
        chunk_rows=chunk_rows,
        force=force,
        strict=strict,
        input_info=input_info,
    )


def compress_dataset(
    dataset: Dataset,
    model: CompressionModel,
    out: str | os.PathLike[str],
    columns: Sequence[str] | None = None,
    *,
    latent_dtype: str = "float32",
    embed_model: bool = True,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    force: bool = False,
    strict: bool = False,
    input_info: dict[str, Any] | None = None,
) -> CompressionReport:
    """Compress ``columns`` of the dataset's main table with ``model`` into ``out``.

    ``columns`` (default: the model's training columns) map in order onto the model's variables.
    Every other column of the main table, every auxiliary table and the layout are stored
    losslessly, so :func:`decompress_dataset` gives back everything needed to write the original
    file. NaN, infinities, denormals and values outside the model's training range or log domain
    go to the exception stream and come back bit for bit; with ``strict=True`` they raise
    :class:`InputError` instead. An empty table gives a valid file of zero rows. Raises
    InputError/ColumnError for unusable input, before anything is written.
    """
    table = dataset.table
    _check_options(latent_dtype, chunk_rows)
    chosen = model.column_mapping(table.names, columns, table.source)
    with np.errstate(over="ignore"):  # float64 values beyond float32 become inf: exceptions
        x = table.stack(chosen, dtype=np.float32)
    finder = ExceptionFinder(model)
    if strict:
        model.validate_input(x, chosen)
        for j, name in enumerate(chosen):
            finder.reject(j, name, table[name], x[:, j], 0)
        has_exceptions = False
    else:
        has_exceptions = any(bool(finder.mask(j, table[n], x[:, j]).any()) for j, n in enumerate(chosen))
    plain_format = PLAIN_DATA_FORMAT if dataset.is_plain else AUX_DATA_FORMAT
    fmt = EXCEPTIONS_DATA_FORMAT if has_exceptions else plain_format
    schema = {n: table[n].dtype for n in table.names}
    header = _header(
        model, schema, chosen, num_rows=table.num_rows, chunk_rows=chunk_rows, latent_dtype=latent_dtype,
        embed_model=embed_model, data_format=fmt,
    )  # fmt: skip
    header["input"] = input_info or {}
    # Plain files carry the layout too (just the input format); readers of format 1 ignore it.
    header["layout"] = dict(dataset.layout)
    if dataset.aux:
        header["tables"] = tables_header(dataset)

    def chunks() -> Iterator[tuple[Table, npt.NDArray[np.float32]]]:
        for start in range(0, table.num_rows, chunk_rows):
            stop = min(start + chunk_rows, table.num_rows)
            yield table.slice(start, stop), x[start:stop]

    digests: list[dict[str, str]] = []
    verify = _verifier(model, embed_model, digests, {t: table_digests(a) for t, a in dataset.aux.items()})
    with write_container(out, header, force=force, verify=verify) as writer:
        encoder = _ChunkEncoder(
            writer, model, chosen, schema, latent_dtype=latent_dtype, strict=strict, finder=finder,
            digests=digests,
        )  # fmt: skip
        if embed_model:
            writer.add_bytes("model", "decoder", _decoder_bytes(model))
        for part, xs in chunks():
            encoder.write(part, xs)
        write_aux_tables(writer, dataset, chunk_rows, encoder.unique_name)
    aux_rows = {name: aux.num_rows for name, aux in dataset.aux.items()}
    return _report(out, encoder, aux_rows)


def compress_batches(
    batches: Iterable[Table],
    model: CompressionModel,
    out: str | os.PathLike[str],
    *,
    num_rows: int,
    schema: Mapping[str, npt.DTypeLike],
    columns: Sequence[str] | None = None,
    latent_dtype: str = "float32",
    embed_model: bool = True,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    force: bool = False,
    strict: bool = False,
    layout: Mapping[str, Any] | None = None,
    input_info: dict[str, Any] | None = None,
    source: str = "<stream>",
) -> CompressionReport:
    """Compress a stream of tables (any sizes) holding ``num_rows`` rows of ``schema``, chunk by chunk.

    Memory holds about two chunks, whatever ``num_rows``. The batches are regrouped into chunks of
    exactly ``chunk_rows`` rows, so the result decodes exactly like :func:`compress_table` on the
    whole table. Non-strict streams are written as data format 3 (exceptions can turn up in any
    chunk). A stream with other columns or another row count than announced raises
    :class:`InputError`, and no file is left.
    """
    _check_options(latent_dtype, chunk_rows)
    if not isinstance(num_rows, int) or not 0 <= num_rows <= _MAX_ROWS:
        raise ConfigError(f"num_rows must be an integer in [0, 2**53), got {num_rows!r}")
    dtypes = {str(n): np.dtype(d) for n, d in schema.items()}
    chosen = model.column_mapping(list(dtypes), columns, source)
    fmt = PLAIN_DATA_FORMAT if strict else EXCEPTIONS_DATA_FORMAT
    header = _header(
        model, dtypes, chosen, num_rows=num_rows, chunk_rows=chunk_rows, latent_dtype=latent_dtype,
        embed_model=embed_model, data_format=fmt,
    )  # fmt: skip
    header["input"] = input_info or {}
    header["layout"] = dict(layout or {})
    digests: list[dict[str, str]] = []
    with write_container(
        out, header, force=force, verify=_verifier(model, embed_model, digests, {})
    ) as writer:
        encoder = _ChunkEncoder(
            writer,
            model,
            chosen,
            dtypes,
            latent_dtype=latent_dtype,
            strict=strict,
            finder=ExceptionFinder(model),
            digests=digests,
        )
        if embed_model:
            writer.add_bytes("model", "decoder", _decoder_bytes(model))
        for part in _rechunk(batches, chunk_rows, dtypes, source):
            if encoder.rows + part.num_rows > num_rows:
                raise InputError(f"{source} holds more than the announced {num_rows} rows")
            with np.errstate(over="ignore"):
                xs = part.stack(chosen, dtype=np.float32)
            encoder.write(part, xs)
        if encoder.rows != num_rows:
            raise InputError(f"{source} holds {encoder.rows} rows, not the announced {num_rows}")
    return _report(out, encoder, {})


def compress_parquet(
    path: str | os.PathLike[str],
    model: CompressionModel,
    out: str | os.PathLike[str],
    columns: Sequence[str] | None = None,
    *,
    latent_dtype: str = "float32",
    embed_model: bool = True,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    force: bool = False,
    strict: bool = False,
    input_info: dict[str, Any] | None = None,
) -> CompressionReport:
    """Compress a Parquet file of any size, streaming it in row batches (see :func:`compress_batches`).

    Reads every column of the file (``columns`` are the ones to compress); memory does not grow with
    the file. The decompressed table equals that of ``compress_table(read_table(path), ...)``.
    """
    from hepsqueeze.io.parquet_stream import parquet_batches

    src = Path(path)
    num_rows, schema, batches = parquet_batches(src, max(1, min(chunk_rows, EVAL_BATCH)))
    info = dict(input_info or {})
    info.setdefault("path", src.name)
    info.setdefault("size_bytes", src.stat().st_size)
    return compress_batches(
        batches,
        model,
        out,
        num_rows=num_rows,
        schema=schema,
        columns=columns,
        latent_dtype=latent_dtype,
        embed_model=embed_model,
        chunk_rows=chunk_rows,
        force=force,
        strict=strict,
        layout={"format": "parquet"},
        input_info=info,
        source=str(src),
    )


def _decoder_bytes(model: CompressionModel) -> bytes:
    from hepsqueeze.models.io import decoder_bytes

    return decoder_bytes(model)


def _decoder_hash(model: CompressionModel) -> str:
    from hepsqueeze.models.io import decoder_hash

    return decoder_hash(model)


def _check_options(latent_dtype: str, chunk_rows: int) -> None:
    if latent_dtype not in LATENT_DTYPES:
        raise ConfigError(f"unknown latent dtype {latent_dtype!r}; choose one of {', '.join(LATENT_DTYPES)}")
    if not isinstance(chunk_rows, int) or chunk_rows < EVAL_BATCH or chunk_rows % EVAL_BATCH:
        raise ConfigError(f"chunk_rows must be a positive multiple of {EVAL_BATCH}, got {chunk_rows}")


def _header(
    model: CompressionModel,
    schema: Mapping[str, np.dtype[Any]],
    chosen: Sequence[str],
    *,
    num_rows: int,
    chunk_rows: int,
    latent_dtype: str,
    embed_model: bool,
    data_format: int,
) -> dict[str, Any]:
    return {
        "kind": DATA_KIND,
        "data_format": data_format,
        "created_by": f"hepsqueeze {__version__}",
        "num_rows": num_rows,
        "chunk_rows": chunk_rows,
        "columns": [
            {"name": n, "dtype": d.str, "role": "compressed" if n in chosen else "passthrough"}
            for n, d in schema.items()
        ],
        "compressed": {"columns": list(chosen), "variables": list(model.variables)},
        "codec": {"name": "autoencoder", "latent_dtype": latent_dtype, "latent_dim": model.latent_dim},
        "model": {
            "name": model.name,
            "decoder_hash": _decoder_hash(model),
            "embedded": embed_model,
            "nodes": list(model.config.nodes),
        },
    }


def _rechunk(
    batches: Iterable[Table], chunk_rows: int, schema: Mapping[str, np.dtype[Any]], source: str
) -> Iterator[Table]:
    """Regroup tables of any sizes into tables of exactly ``chunk_rows`` rows (the last may be shorter)."""
    names = tuple(schema)
    pending: list[Table] = []
    have = 0
    for batch in batches:
        if batch.names != names or any(batch[n].dtype != schema[n] for n in names):
            got = ", ".join(f"{n} {batch[n].dtype}" for n in batch.names)
            raise InputError(f"a batch of {source} has columns ({got}), not the announced schema")
        pos = 0
        while pos < batch.num_rows:
            take = min(chunk_rows - have, batch.num_rows - pos)
            pending.append(batch.slice(pos, pos + take))
            have += take
            pos += take
            if have == chunk_rows:
                yield Table.concat(pending)
                pending, have = [], 0
    if have:
        yield Table.concat(pending)


class _ChunkEncoder:
    """Writes the sections of one chunk of the main table after another."""

    def __init__(
        self,
        writer: ContainerWriter,
        model: CompressionModel,
        chosen: Sequence[str],
        schema: Mapping[str, np.dtype[Any]],
        *,
        latent_dtype: str,
        strict: bool,
        finder: ExceptionFinder,
        digests: list[dict[str, str]],
    ) -> None:
        self.writer = writer
        self.digests = digests
        self.model = model
        self.chosen = list(chosen)
        self.passthrough = [n for n in schema if n not in chosen]
        self.latent_dtype = latent_dtype
        self.strict = strict
        self.finder = finder
        self.rows = 0
        self.chunks = 0
        self.exceptions = dict.fromkeys(chosen, 0)
        self._taken = set(schema)
        self._exc_names = {
            n: (self.unique_name(f"{n}#exceptions/rows"), self.unique_name(f"{n}#exceptions/values"))
            for n in chosen
        }

    def unique_name(self, name: str) -> str:
        """A section name unique in the file (readers go by the descriptor extras)."""
        return unique_name(name, self._taken)

    def write(self, part: Table, x: npt.NDArray[np.float32]) -> None:
        """Encode and write one chunk: ``part`` holds its rows, ``x`` the compressed columns as float32."""
        chunk, start = self.chunks, self.rows
        x = np.array(x, dtype=np.float32, copy=True)
        originals = [part[n] for n in self.chosen]
        if self.strict:
            for j, name in enumerate(self.chosen):
                self.finder.reject(j, name, originals[j], x[:, j], start)
            rows = [np.empty(0, np.int64)] * len(self.chosen)
        else:
            rows = self.finder.find(x, originals)
        z = self.model.encode(x)
        stored = z.astype(np.float16) if self.latent_dtype == "float16" else z
        if not np.isfinite(stored).all():
            raise InputError(
                f"latent codes of rows {start}..{start + part.num_rows} overflow {self.latent_dtype}; "
                "use --latent-dtype float32"
            )
        self.writer.add_array("latent", "latent", stored, chunk=chunk)
        # what a reader will decode, for the check of the finished file (see _verifier)
        decoded = self.model.decode(stored.astype(np.float32)) if part.num_rows else x
        digest: dict[str, str] = {}
        for j, name in enumerate(self.chosen):
            values = as_column_dtype(decoded[:, j], originals[j].dtype)
            if rows[j].size:
                self._add_exceptions(name, chunk, rows[j], originals[j])
                bits(values)[rows[j]] = bits(originals[j])[rows[j]]
            digest[name] = column_digest(values)
        for name in self.passthrough:
            _add_column(self.writer, name, part[name], chunk)
            digest[name] = column_digest(part[name])
        self.digests.append(digest)
        self.rows += part.num_rows
        self.chunks += 1

    def _add_exceptions(
        self, name: str, chunk: int, rows: npt.NDArray[np.int64], original: npt.NDArray[Any]
    ) -> None:
        add_exceptions(self.writer, self._exc_names[name], name, chunk=chunk, rows=rows, original=original)
        self.exceptions[name] += int(rows.size)
        log.debug("chunk %d: %d exceptions in column %r", chunk, rows.size, name)


def add_exceptions(
    writer: ContainerWriter,
    section_names: tuple[str, str],
    column: str,
    *,
    chunk: int,
    rows: npt.NDArray[np.int64],
    original: npt.NDArray[Any],
) -> None:
    """Write the exception sections (row numbers, exact bits of ``original[rows]``) of ``column``
    in ``chunk``, under ``section_names`` (rows, values)."""
    values = np.ascontiguousarray(original[rows])
    if not values.dtype.isnative:
        values = values.astype(values.dtype.newbyteorder("="))
    raw = values.view(bits_dtype(values.dtype).newbyteorder("="))
    rows_name, values_name = section_names
    writer.add_array(
        "column", rows_name, rows.astype(np.int64), chunk=chunk, encoding="zstd", level=ZSTD_LEVEL,
        transform="delta", exceptions=EXCEPTION_ROWS, column=column,
    )  # fmt: skip
    writer.add_array(
        "column", values_name, raw, chunk=chunk, encoding="zstd", level=ZSTD_LEVEL,
        exceptions=EXCEPTION_VALUES, column=column, value_dtype=values.dtype.newbyteorder("<").str,
    )  # fmt: skip


def exception_section(
    reader: ContainerReader,
    sec: Section,
    compressed: Sequence[str],
    dtypes: Mapping[str, np.dtype[Any]],
    *,
    rows: int,
    slots: dict[str, dict[str, Section]],
) -> None:
    """Check an exception section (at most ``rows`` values of a compressed column) and file it in
    ``slots`` (column -> role -> section); ContainerError if it fits nothing or repeats."""
    extras = sec.extras
    role, name = extras.get("exceptions"), extras.get("column")
    if (
        not isinstance(role, str)
        or not isinstance(name, str)
        or role not in (EXCEPTION_ROWS, EXCEPTION_VALUES)
        or name not in compressed
    ):
        raise reader.error(sec, f"exception section for {name!r} ({role!r}) matches no compressed column")
    slot = slots.setdefault(name, {})
    if role in slot:
        raise reader.error(sec, f"second exception {role} section for column {name!r}")
    want = np.dtype("<i8") if role == EXCEPTION_ROWS else bits_dtype(dtypes[name])
    if len(sec.shape) != 1 or sec.shape[0] > rows or sec.dtype != want:
        raise reader.error(
            sec, f"exception {role} have shape {sec.shape} {sec.dtype}, expected at most ({rows},) {want}"
        )
    if role == EXCEPTION_VALUES and extras.get("value_dtype") != dtypes[name].str:
        raise reader.error(sec, f"exception values are {extras.get('value_dtype')!r}, not {dtypes[name].str}")
    slot[role] = sec


def exception_pairs(
    reader: ContainerReader, slots: dict[str, dict[str, Section]]
) -> dict[str, tuple[Section, Section]]:
    """The (rows, values) sections of each column filed by :func:`exception_section`, checked complete."""
    out: dict[str, tuple[Section, Section]] = {}
    for name, slot in slots.items():
        if set(slot) != {EXCEPTION_ROWS, EXCEPTION_VALUES}:
            raise reader.error(next(iter(slot.values())), f"incomplete exception sections for {name!r}")
        rows_sec, values_sec = slot[EXCEPTION_ROWS], slot[EXCEPTION_VALUES]
        if rows_sec.shape != values_sec.shape:
            raise reader.error(
                values_sec, f"{values_sec.shape[0]} exception values for {rows_sec.shape[0]} rows"
            )
        out[name] = (rows_sec, values_sec)
    return out


def restore_exceptions(
    reader: ContainerReader, pair: tuple[Section, Section], target: npt.NDArray[Any], dtype: np.dtype[Any]
) -> None:
    """Write the exact bits of the exception sections ``pair`` into ``target`` (one chunk of a
    column of ``dtype``), after checking the row numbers."""
    rows_sec, values_sec = pair
    rows = target.shape[0]
    idx = reader.read_array(rows_sec)
    if idx.size and (idx[0] < 0 or idx[-1] >= rows or bool(np.any(np.diff(idx) <= 0))):
        raise reader.error(rows_sec, f"exception rows are not ascending row numbers below {rows}")
    values = reader.read_array(values_sec)
    if dtype == np.bool_ and bool(np.any(values > 1)):
        raise reader.error(values_sec, "exception values of a bool column hold bytes other than 0 and 1")
    target.view(values.dtype.newbyteorder("="))[idx] = values


def column_digest(values: npt.NDArray[Any]) -> str:
    """xxh64 of a column's values as little-endian bytes (the same for any byte order in memory)."""
    arr = np.ascontiguousarray(values)
    if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and not np.little_endian):
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return xxhash.xxh64(arr.tobytes()).hexdigest()


def table_digests(table: Table) -> dict[str, str]:
    """:func:`column_digest` of every column of ``table``."""
    return {name: column_digest(table[name]) for name in table.names}


#: The auxiliary tables of a header: name, rows, (column, dtype) of each column.
TableSpecs = list[tuple[str, int, list[tuple[str, np.dtype[Any]]]]]
#: Opens the main table of a container chunk by chunk and names its auxiliary tables.
ChunkOpener = Callable[[ContainerReader], tuple[Iterator[dict[str, npt.NDArray[Any]]], TableSpecs]]


def verify_written(
    path: Path, digests: list[dict[str, str]], aux: Mapping[str, dict[str, str]], open_chunks: ChunkOpener
) -> None:
    """Decode the file just written (``open_chunks``: its main-table chunks and auxiliary tables)
    and compare every column of every chunk with the digests of what was meant to be stored.
    Raises :class:`VerificationError`: the caller then publishes nothing."""
    with ContainerReader.open(path) as reader:
        read_header(reader)
        chunks, tables = open_chunks(reader)
        count = 0
        for i, chunk in enumerate(chunks):
            got = {name: column_digest(values) for name, values in chunk.items()}
            if i >= len(digests) or got != digests[i]:
                wrong = sorted(k for k in got if i >= len(digests) or digests[i].get(k) != got[k])
                raise VerificationError(
                    f"{path}: chunk {i} of the file just written decodes to other values than were meant "
                    f"(columns {', '.join(wrong)}); nothing was published. This is a bug: please report it"
                )
            count += 1
        if count != len(digests):
            raise VerificationError(f"{path}: the file just written holds {count} chunks, not {len(digests)}")
        for name, rows, specs in tables:
            if table_digests(_read_aux(reader, name, rows, specs, reader.name)) != aux.get(name):
                raise VerificationError(f"{path}: auxiliary table {name!r} does not read back as written")


def _verifier(
    model: CompressionModel, embedded: bool, digests: list[dict[str, str]], aux: Mapping[str, dict[str, str]]
) -> Callable[[Path], None]:
    """The check of a finished autoencoder file: decoded (with its embedded decoder, if any), it
    must give the values the writer decoded from the latents it stored."""

    def open_chunks(reader: ContainerReader) -> Any:
        spec = _parse_header(reader)
        decoder = _decoder_for(reader, spec, None if embedded else model)
        return _iter_chunks(reader, spec, decoder), spec.tables

    return lambda path: verify_written(path, digests, aux, open_chunks)


def _report(
    out: str | os.PathLike[str], encoder: _ChunkEncoder, aux_rows: dict[str, int]
) -> CompressionReport:
    size = Path(out).stat().st_size
    with ContainerReader.open(out) as reader:
        sections = reader.section_sizes()
    total = sum(encoder.exceptions.values())
    if total:
        log.info(
            "%s: %d values stored exactly as exceptions %s",
            out,
            total,
            {n: c for n, c in encoder.exceptions.items() if c},
        )
    return CompressionReport(
        Path(out),
        encoder.rows,
        tuple(encoder.chosen),
        tuple(encoder.passthrough),
        size,
        sections,
        aux_rows,
        {n: c for n, c in encoder.exceptions.items() if c},
    )


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, primed until it is not in ``taken``; the result is added to ``taken``."""
    while name in taken:
        name += "'"
    taken.add(name)
    return name


def tables_header(dataset: Dataset) -> list[dict[str, Any]]:
    """The data header's ``tables`` entry: name, rows, columns and dtypes of each auxiliary table."""
    return [
        {
            "name": name,
            "num_rows": aux.num_rows,
            "columns": [{"name": c, "dtype": aux[c].dtype.str} for c in aux.names],
        }
        for name, aux in dataset.aux.items()
    ]


def write_aux_tables(
    writer: ContainerWriter, dataset: Dataset, chunk_rows: int, section_name: Callable[[str], str]
) -> None:
    """Write every auxiliary table losslessly, ``chunk_rows`` rows per section; readers find the
    sections by their ``table``/``column`` extras, ``section_name`` keeps their names unique."""
    for tname, aux in dataset.aux.items():
        for col in aux.names:
            section = section_name(f"{tname}/{col}")
            for chunk, start in enumerate(range(0, aux.num_rows, chunk_rows)):
                values = aux[col][start : start + chunk_rows]
                _add_column(writer, section, values, chunk, table=tname, column=col)


def _add_column(
    writer: ContainerWriter, name: str, values: npt.NDArray[Any], chunk: int, **extra: Any
) -> None:
    arr = np.ascontiguousarray(values)
    # Event numbers and other sorted integers shrink to almost nothing as differences.
    transform = "delta" if arr.dtype.kind in "iu" else ("shuffle" if arr.dtype.itemsize > 1 else None)
    writer.add_array(
        "column",
        name,
        arr.astype(arr.dtype.newbyteorder("<")),
        chunk=chunk,
        encoding="zstd",
        level=ZSTD_LEVEL,
        transform=transform,
        **extra,
    )


# --------------------------------------------------------------------------------------------------
# Header


def read_header(reader: ContainerReader) -> dict[str, Any]:
    """The data header of an open container, checked to be a compressed dataset this version reads."""
    header = reader.header
    if header.get("kind") != DATA_KIND:
        raise ContainerError(
            f"{reader.name} is a hepsqueeze file but not compressed data (kind {header.get('kind')!r})"
        )
    fmt = header.get("data_format")
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
        raise ContainerError(f"{reader.name}: invalid data format {fmt!r} in the header")
    if fmt > DATA_FORMAT:
        raise ContainerVersionError(
            f"{reader.name} has data format {fmt}; this hepsqueeze reads up to {DATA_FORMAT}: upgrade hepsqueeze"
        )
    return header


@dataclass(frozen=True)
class _Spec:
    """The validated data header."""

    num_rows: int
    chunk_rows: int | None
    columns: list[tuple[str, np.dtype[Any], str]]
    compressed: list[str]
    latent_dtype: str
    latent_dim: int | None
    model: dict[str, Any]
    layout: dict[str, Any]
    tables: list[tuple[str, int, list[tuple[str, np.dtype[Any]]]]]


def _is_count(value: object) -> bool:
    return type(value) is int and 0 <= value <= _MAX_ROWS


def _dtype(value: object, what: str) -> np.dtype[Any]:
    if not isinstance(value, str) or value not in DTYPES:
        raise InputError(f"{what} has dtype {value!r} (allowed: {', '.join(sorted(DTYPES))})")
    return np.dtype(value)


def _parse_header(reader: ContainerReader) -> _Spec:
    header = read_header(reader)
    try:
        return _parse_spec(header)
    except InputError as exc:
        raise reader.error(None, f"invalid data header: {exc}") from None


def _parse_spec(header: dict[str, Any]) -> _Spec:
    """Check the header's types and consistency; raises InputError (re-raised as ContainerError)."""
    num_rows = header.get("num_rows")
    if not isinstance(num_rows, int) or not _is_count(num_rows):
        raise InputError(f"num_rows is {num_rows!r}")
    chunk_rows = header.get("chunk_rows")
    if chunk_rows is not None and not (_is_count(chunk_rows) and chunk_rows > 0):
        raise InputError(f"chunk_rows is {chunk_rows!r}")
    raw_cols = header.get("columns")
    if not isinstance(raw_cols, list):
        raise InputError("columns is not a list")
    columns: list[tuple[str, np.dtype[Any], str]] = []
    for c in raw_cols:
        if not isinstance(c, dict) or not isinstance(c.get("name"), str) or c.get("role") not in _ROLES:
            raise InputError(f"invalid column entry {str(c)[:80]}")
        columns.append((c["name"], _dtype(c.get("dtype"), f"column {c['name']!r}"), c["role"]))
    names = [n for n, _, _ in columns]
    if len(set(names)) != len(names):
        raise InputError("column names repeat")
    comp = header.get("compressed")
    compressed = comp.get("columns") if isinstance(comp, dict) else None
    if not isinstance(compressed, list) or not all(isinstance(c, str) for c in compressed):
        raise InputError("compressed.columns is not a list of names")
    if len(set(compressed)) != len(compressed) or set(compressed) != {
        n for n, _, r in columns if r == "compressed"
    }:
        raise InputError("compressed.columns does not match the columns marked 'compressed'")
    for n, d, r in columns:
        if r == "compressed" and d.kind not in "biuf":
            raise InputError(f"compressed column {n!r} has dtype {d}")
    codec = header.get("codec")
    if not isinstance(codec, dict) or codec.get("latent_dtype") not in LATENT_DTYPES:
        raise InputError("codec.latent_dtype is missing or unknown")
    latent_dim = codec.get("latent_dim")
    if latent_dim is not None and not (_is_count(latent_dim) and latent_dim > 0):
        raise InputError(f"codec.latent_dim is {latent_dim!r}")
    model = header.get("model")
    if not isinstance(model, dict):
        raise InputError("model is not an object")
    layout = header.get("layout", {})
    if not isinstance(layout, dict):
        raise InputError("layout is not an object")
    raw_tables = header.get("tables", [])
    if not isinstance(raw_tables, list):
        raise InputError("tables is not a list")
    tables = []
    for t in raw_tables:
        if not isinstance(t, dict) or not isinstance(t.get("name"), str) or not _is_count(t.get("num_rows")):
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
        tables.append((t["name"], int(t["num_rows"]), specs))
    if len({t[0] for t in tables}) != len(tables):
        raise InputError("table names repeat")
    return _Spec(
        int(num_rows),
        None if chunk_rows is None else int(chunk_rows),
        columns,
        list(compressed),
        str(codec["latent_dtype"]),
        None if latent_dim is None else int(latent_dim),
        model,
        layout,
        tables,
    )


# --------------------------------------------------------------------------------------------------
# Decompression


def decompress_file(path: str | os.PathLike[str], model: CompressionModel | None = None) -> Table:
    """Rebuild the (main) table stored in ``path``: same column names, order and dtypes as the input.

    ``model`` is needed only for files written without the embedded decoder and must match its hash.
    Auxiliary tables are not returned; use :func:`decompress_dataset` for them.
    """
    return decompress_dataset(path, model).table


def decompress_dataset(path: str | os.PathLike[str], model: CompressionModel | None = None) -> Dataset:
    """Rebuild the dataset stored in ``path``: main table, auxiliary tables and layout.

    ``model`` is needed only for files written without the embedded decoder and must match its hash.
    Pass the result to :func:`hepsqueeze.io.write_dataset` to write the original file format back.
    Every problem with the file is a :class:`ContainerError` naming the file, section and offset.
    """
    with ContainerReader.open(path) as reader:
        return decompress_reader(reader, model)


def decompress_reader(reader: ContainerReader, model: CompressionModel | None = None) -> Dataset:
    """:func:`decompress_dataset` of an open container (for example one read from bytes)."""
    from hepsqueeze.codec.bounded_file import decompress_bounded, is_bounded

    if is_bounded(read_header(reader)):
        if model is not None:
            log.info("%s was written by the error-bounded codec: the model is not used", reader.name)
        return decompress_bounded(reader)
    spec = _parse_header(reader)
    decoder = _decoder_for(reader, spec, model)
    parts: dict[str, list[npt.NDArray[Any]]] = {name: [] for name, _, _ in spec.columns}
    for chunk in _iter_chunks(reader, spec, decoder):
        for name, values in chunk.items():
            parts[name].append(values)
    columns = {
        name: (np.concatenate(parts[name]) if parts[name] else np.empty(0, dtype=dtype))
        for name, dtype, _ in spec.columns
    }
    aux = {name: _read_aux(reader, name, n, specs, reader.name) for name, n, specs in spec.tables}
    try:
        return Dataset(Table(columns, source=reader.name), aux, spec.layout)
    except InputError as exc:
        raise reader.error(None, f"invalid data ({exc})") from None


def decompress_to_parquet(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    model: CompressionModel | None = None,
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

    from hepsqueeze.codec.bounded_file import bounded_chunks, is_bounded
    from hepsqueeze.io.interpret import native

    with ContainerReader.open(path) as reader:
        chunks: Iterator[dict[str, npt.NDArray[Any]]]
        if is_bounded(read_header(reader)):
            columns, tables, chunks = bounded_chunks(reader)
        else:
            spec = _parse_header(reader)
            columns, tables = [(n, d) for n, d, _ in spec.columns], [t[0] for t in spec.tables]
            chunks = _iter_chunks(reader, spec, _decoder_for(reader, spec, model))
        if tables:
            log.warning(
                "%s: auxiliary tables %s are not written to %s (Parquet holds one table)",
                reader.name,
                ", ".join(tables),
                out,
            )
        schema = pa.schema([(n, pa.from_numpy_dtype(d.newbyteorder("="))) for n, d in columns])
        rows = 0
        with atomic_output(out, force) as tmp, pq.ParquetWriter(tmp, schema, compression=compression) as pw:
            for chunk in chunks:
                arrays = [pa.array(native(chunk[n])) for n, _ in columns]
                pw.write_table(pa.Table.from_arrays(arrays, schema=schema))
                rows += len(arrays[0]) if arrays else 0
    return rows


def _iter_chunks(
    reader: ContainerReader, spec: _Spec, decoder: CompressionModel
) -> Iterator[dict[str, npt.NDArray[Any]]]:
    """The main table's columns, chunk by chunk; every descriptor is checked before any data is read."""
    plan = _plan_chunks(reader, spec, decoder)
    dtypes = {name: dtype for name, dtype, _ in spec.columns}
    for latent, columns, exceptions in plan:
        x = decoder.decode(reader.read_array(latent).astype(np.float32))
        out: dict[str, npt.NDArray[Any]] = {}
        for name, dtype, role in spec.columns:
            if role == "compressed":
                out[name] = as_column_dtype(x[:, spec.compressed.index(name)], dtype)
            else:
                out[name] = reader.read_array(columns[name])
        for name, pair in exceptions.items():
            restore_exceptions(reader, pair, out[name], dtypes[name])
        yield out


def as_column_dtype(values: npt.NDArray[np.float32], dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    """Decoded float values in the column's stored dtype: integers rounded to nearest and clipped
    to the dtype's range (a plain cast would truncate toward zero and wrap), booleans by > 0.5."""
    if dtype.kind == "b":
        return np.ascontiguousarray(values > 0.5)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = float(info.min), float(info.max)
        if int(hi) > info.max:  # 64-bit maxima round up in float64: clip just inside
            hi = float(np.nextafter(hi, 0.0))
        rounded = np.clip(np.rint(values.astype(np.float64)), lo, hi)
        return np.ascontiguousarray(np.nan_to_num(rounded, nan=0.0).astype(dtype))
    return np.ascontiguousarray(values.astype(dtype))


_ChunkPlan = tuple[Section, dict[str, Section], dict[str, tuple[Section, Section]]]


def _plan_chunks(reader: ContainerReader, spec: _Spec, decoder: CompressionModel) -> list[_ChunkPlan]:
    """Match every main-table section to its chunk and check shapes and dtypes against the header."""
    latent_dtype = np.dtype(spec.latent_dtype)
    latents = sorted(reader.find("latent"), key=lambda s: s.chunk)
    total = 0
    for i, sec in enumerate(latents):
        if sec.chunk != i or sec.name != "latent":
            raise reader.error(sec, f"unexpected latent section (expected chunk {i} named 'latent')")
        shape = sec.shape
        if len(shape) != 2 or shape[1] != decoder.latent_dim or sec.dtype != latent_dtype:
            raise reader.error(
                sec,
                f"latent codes have shape {shape} and dtype {sec.dtype}, expected "
                f"(rows, {decoder.latent_dim}) {latent_dtype}",
            )
        if shape[0] == 0 or (spec.chunk_rows is not None and shape[0] > spec.chunk_rows):
            raise reader.error(sec, f"chunk holds {shape[0]} rows; chunk_rows is {spec.chunk_rows}")
        total += shape[0]
    if total != spec.num_rows:
        raise reader.error(None, f"the header says {spec.num_rows} rows, the latent sections hold {total}")
    dtypes = {name: dtype for name, dtype, _ in spec.columns}
    passthrough = [n for n, _, role in spec.columns if role == "passthrough"]
    columns: list[dict[str, Section]] = [{} for _ in latents]
    found: list[dict[str, dict[str, Section]]] = [{} for _ in latents]
    for sec in reader.find("column"):
        extras = sec.extras
        if "table" in extras:
            continue
        if sec.chunk >= len(latents):
            raise reader.error(
                sec, f"column section of chunk {sec.chunk}, but the file has {len(latents)} chunks"
            )
        rows = latents[sec.chunk].shape[0]
        if "exceptions" in extras:
            exception_section(reader, sec, spec.compressed, dtypes, rows=rows, slots=found[sec.chunk])
            continue
        if sec.name not in passthrough:
            raise reader.error(sec, f"column section {sec.name!r} is not a passthrough column of the header")
        if sec.shape != (rows,) or sec.dtype != dtypes[sec.name]:
            raise reader.error(
                sec, f"column has shape {sec.shape} {sec.dtype}, expected ({rows},) {dtypes[sec.name]}"
            )
        columns[sec.chunk][sec.name] = sec
    plan: list[_ChunkPlan] = []
    for i, latent in enumerate(latents):
        missing = [n for n in passthrough if n not in columns[i]]
        if missing:
            raise reader.error(latent, f"column(s) {', '.join(map(repr, missing))} missing in chunk {i}")
        plan.append((latent, columns[i], exception_pairs(reader, found[i])))
    return plan


def _read_aux(
    reader: ContainerReader, table: str, num_rows: int, specs: list[tuple[str, np.dtype[Any]]], source: str
) -> Table:
    """One auxiliary table, from its ``column`` sections (chunks 0, 1, ... of its own rows)."""
    found: dict[str, list[Section]] = {}
    for sec in reader.find("column"):
        extras = sec.extras
        if extras.get("table") == table:
            found.setdefault(str(extras.get("column")), []).append(sec)
    columns: dict[str, npt.NDArray[Any]] = {}
    for name, dtype in specs:
        sections = sorted(found.pop(name, []), key=lambda s: s.chunk)
        if [s.chunk for s in sections] != list(range(len(sections))):
            raise ContainerError(
                f"{reader.name}: column {name!r} of table {table!r} has missing or repeated chunks"
            )
        held = 0
        for sec in sections:
            if len(sec.shape) != 1 or sec.dtype != dtype:
                raise reader.error(
                    sec,
                    f"column {name!r} of table {table!r} has shape {sec.shape} {sec.dtype}, expected 1D {dtype}",
                )
            held += sec.shape[0]
        if held != num_rows:
            raise ContainerError(
                f"{reader.name}: column {name!r} of table {table!r} holds {held} rows, "
                f"the header says {num_rows}"
            )
        arrays = [reader.read_array(sec) for sec in sections]
        columns[name] = np.concatenate(arrays) if arrays else np.empty(0, dtype=dtype)
    if found:
        raise ContainerError(
            f"{reader.name}: table {table!r} has sections for unlisted columns {sorted(found)}"
        )
    try:
        return Table(columns, source=source)
    except InputError as exc:
        raise ContainerError(f"{reader.name}: table {table!r} is invalid ({exc})") from None


def _decoder_for(reader: ContainerReader, spec: _Spec, model: CompressionModel | None) -> CompressionModel:
    info = spec.model
    stored_hash = info.get("decoder_hash")
    if model is not None:
        if _decoder_hash(model) != stored_hash:
            raise ModelError(
                f"model {model.name!r} does not match the one {reader.name} was compressed with "
                f"({info.get('name')!r}, decoder hash {stored_hash})"
            )
        decoder = model
    else:
        embedded = reader.find("model")
        name = info.get("name")
        if not embedded and isinstance(name, str) and name.startswith("zoo:"):
            # A model shipped with hepsqueeze need not travel with the file: take it from the zoo.
            from hepsqueeze.zoo import load as load_zoo_model

            return _decoder_for(reader, spec, load_zoo_model(name))
        if not embedded:
            raise ModelError(
                f"{reader.name} was written with --no-embed-model; pass --model with the model "
                f"{info.get('name')!r} (decoder hash {stored_hash})"
            )
        if len(embedded) > 1:
            raise reader.error(embedded[1], "more than one embedded model")
        try:
            from hepsqueeze.models.io import model_from_bytes

            decoder = model_from_bytes(reader.read_bytes(embedded[0]), f"{reader.name} (embedded model)")
        except ModelError as exc:
            raise reader.error(embedded[0], f"the embedded model is invalid: {exc}") from None
        if _decoder_hash(decoder) != stored_hash:
            raise reader.error(embedded[0], "the embedded model does not match the header's decoder hash")
    if len(spec.compressed) != len(decoder.variables):
        raise reader.error(
            None,
            f"{len(spec.compressed)} compressed columns but the model has {len(decoder.variables)} variables",
        )
    if spec.latent_dim is not None and spec.latent_dim != decoder.latent_dim:
        raise reader.error(None, f"latent_dim {spec.latent_dim} but the model's is {decoder.latent_dim}")
    return decoder


def file_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The header of a compressed file, the size of each section kind, its ratio and exception counts.

    The header's ``tables`` (data format 2) lists auxiliary tables and ``layout`` the input's structure;
    ``exceptions`` counts the values of each compressed column stored exactly (data format 3).
    """
    with ContainerReader.open(path) as reader:
        header = read_header(reader)
        sizes = reader.section_sizes()
        size = reader.file_size
        exceptions: dict[str, int] = {}
        for sec in reader.find("column"):
            extras = sec.extras
            if extras.get("exceptions") == EXCEPTION_ROWS and sec.shape:
                column = str(extras.get("column"))
                exceptions[column] = exceptions.get(column, 0) + sec.shape[0]
    comp = header.get("compressed")
    n_comp = len(comp.get("columns", [])) if isinstance(comp, dict) else 0
    rows = header.get("num_rows", 0)
    rows = rows if _is_count(rows) else 0
    return {
        "path": str(path),
        "file_bytes": size,
        "header": header,
        "section_bytes": sizes,
        "ratio": 4.0 * rows * n_comp / size if size else 0.0,
        "exceptions": exceptions,
    }
