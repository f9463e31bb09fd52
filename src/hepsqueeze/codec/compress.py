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
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze import __version__
from hepsqueeze.codec.container import ContainerReader, ContainerWriter, Section, write_container
from hepsqueeze.errors import ConfigError, ContainerError, ContainerVersionError, InputError, ModelError
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table
from hepsqueeze.models.io import decoder_bytes, decoder_hash, model_from_bytes
from hepsqueeze.models.model import EVAL_BATCH, LATENT_DTYPES, CompressionModel

log = logging.getLogger(__name__)

DATA_KIND: Final = "hepsqueeze-data"
#: Newest data format written and read. 1: one table. 2: adds auxiliary tables and the layout.
DATA_FORMAT: Final = 2
#: Format written for a dataset that is one plain table, so that older readers still read it.
PLAIN_DATA_FORMAT: Final = 1
DEFAULT_CHUNK_ROWS: Final = 1 << 20
ZSTD_LEVEL: Final = 19


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

    @property
    def ratio(self) -> float:
        """(4 bytes x rows x compressed columns) / (bytes of the whole file)."""
        return 4.0 * self.rows * len(self.compressed_columns) / self.file_bytes if self.file_bytes else 0.0


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
    input_info: dict[str, Any] | None = None,
) -> CompressionReport:
    """Compress ``columns`` of the dataset's main table with ``model`` into ``out``.

    ``columns`` (default: the model's training columns) map in order onto the model's variables.
    Every other column of the main table, every auxiliary table and the layout are stored
    losslessly, so :func:`decompress_dataset` gives back everything needed to write the original
    file. Raises InputError/ColumnError for unusable input, before anything is written.
    """
    table = dataset.table
    if latent_dtype not in LATENT_DTYPES:
        raise ConfigError(f"unknown latent dtype {latent_dtype!r}; choose one of {', '.join(LATENT_DTYPES)}")
    if chunk_rows < EVAL_BATCH or chunk_rows % EVAL_BATCH:
        raise ConfigError(f"chunk_rows must be a positive multiple of {EVAL_BATCH}, got {chunk_rows}")
    if table.num_rows == 0:
        raise InputError(f"{table.source} has no rows: nothing to compress")
    chosen = model.column_mapping(table.names, columns, table.source)
    x = table.stack(chosen, dtype=np.float32)
    model.validate_input(x, chosen)
    passthrough = [n for n in table.names if n not in chosen]
    dec_hash = decoder_hash(model)
    header: dict[str, Any] = {
        "kind": DATA_KIND,
        "data_format": PLAIN_DATA_FORMAT if dataset.is_plain else DATA_FORMAT,
        "created_by": f"hepsqueeze {__version__}",
        "num_rows": table.num_rows,
        "chunk_rows": chunk_rows,
        "columns": [
            {"name": n, "dtype": table[n].dtype.str, "role": "compressed" if n in chosen else "passthrough"}
            for n in table.names
        ],
        "compressed": {"columns": chosen, "variables": list(model.variables)},
        "codec": {"name": "autoencoder", "latent_dtype": latent_dtype, "latent_dim": model.latent_dim},
        "model": {
            "name": model.name,
            "decoder_hash": dec_hash,
            "embedded": embed_model,
            "nodes": list(model.config.nodes),
        },
        "input": input_info or {},
        # Plain files carry the layout too (just the input format); readers of format 1 ignore it.
        "layout": dict(dataset.layout),
    }
    if dataset.aux:
        header["tables"] = [
            {
                "name": name,
                "num_rows": aux.num_rows,
                "columns": [{"name": c, "dtype": aux[c].dtype.str} for c in aux.names],
            }
            for name, aux in dataset.aux.items()
        ]
    with write_container(out, header, force=force) as writer:
        if embed_model:
            writer.add_bytes("model", "decoder", decoder_bytes(model))
        for chunk, start in enumerate(range(0, table.num_rows, chunk_rows)):
            stop = min(start + chunk_rows, table.num_rows)
            z = model.encode(x[start:stop])
            stored = z.astype(np.float16) if latent_dtype == "float16" else z
            if not np.isfinite(stored).all():
                raise InputError(
                    f"latent codes of rows {start}..{stop} overflow {latent_dtype}; use --latent-dtype float32"
                )
            writer.add_array("latent", "latent", stored, chunk=chunk)
            for name in passthrough:
                _add_column(writer, name, table[name][start:stop], chunk)
        taken = set(table.names)
        for tname, aux in dataset.aux.items():
            for col in aux.names:
                section = _aux_section_name(tname, col, taken)
                for chunk, start in enumerate(range(0, aux.num_rows, chunk_rows)):
                    values = aux[col][start : start + chunk_rows]
                    _add_column(writer, section, values, chunk, table=tname, column=col)
    size = Path(out).stat().st_size
    with ContainerReader.open(out) as reader:
        sections = reader.section_sizes()
    aux_rows = {name: aux.num_rows for name, aux in dataset.aux.items()}
    return CompressionReport(
        Path(out), table.num_rows, tuple(chosen), tuple(passthrough), size, sections, aux_rows
    )


def _aux_section_name(table: str, column: str, taken: set[str]) -> str:
    """A section name for an auxiliary column, unique in the file (readers go by the extras)."""
    name = f"{table}/{column}"
    while name in taken:
        name += "'"
    taken.add(name)
    return name


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
    """
    with ContainerReader.open(path) as reader:
        header = read_header(reader)
        try:
            num_rows = int(header["num_rows"])
            col_specs = [
                (str(c["name"]), np.dtype(str(c["dtype"])), str(c["role"])) for c in header["columns"]
            ]
            compressed = [str(c) for c in header["compressed"]["columns"]]
            latent_dtype = str(header["codec"]["latent_dtype"])
            model_info = header["model"]
            layout = header.get("layout", {})
            aux_specs = [
                (
                    str(t["name"]),
                    int(t["num_rows"]),
                    [(str(c["name"]), np.dtype(str(c["dtype"]))) for c in t["columns"]],
                )
                for t in header.get("tables", [])
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise ContainerError(f"{reader.name}: invalid data header ({exc})") from None
        if not isinstance(layout, dict):
            raise ContainerError(f"{reader.name}: invalid data header (layout is not an object)")
        decoder = _decoder_for(reader, model_info, model)
        if len(compressed) != len(decoder.variables):
            raise ContainerError(
                f"{reader.name}: {len(compressed)} compressed columns but the model has "
                f"{len(decoder.variables)} variables"
            )
        latent_sections = sorted(reader.find("latent"), key=lambda s: s.chunk)
        parts: dict[str, list[npt.NDArray[Any]]] = {name: [] for name, _, _ in col_specs}
        rows = 0
        for sec in latent_sections:
            z = reader.read_array(sec)
            if z.ndim != 2 or z.shape[1] != decoder.latent_dim or str(z.dtype) != np.dtype(latent_dtype).name:
                raise ContainerError(
                    f"{reader.name}: latent section of chunk {sec.chunk} has shape {z.shape} "
                    f"and dtype {z.dtype}, expected (rows, {decoder.latent_dim}) {latent_dtype}"
                )
            x = decoder.decode(z.astype(np.float32))
            # Auxiliary columns carry a "table" extra; main-table columns do not.
            by_name = {s.name: s for s in reader.find("column", chunk=sec.chunk) if "table" not in s.extras}
            for name, dtype, role in col_specs:
                if role == "compressed":
                    parts[name].append(x[:, compressed.index(name)].astype(dtype))
                else:
                    if name not in by_name:
                        raise ContainerError(f"{reader.name}: column {name!r} missing in chunk {sec.chunk}")
                    arr = reader.read_array(by_name[name])
                    if arr.shape != (z.shape[0],) or arr.dtype != dtype:
                        raise ContainerError(
                            f"{reader.name}: column {name!r} in chunk {sec.chunk} has shape "
                            f"{arr.shape} {arr.dtype}, expected ({z.shape[0]},) {dtype}"
                        )
                    parts[name].append(arr)
            rows += z.shape[0]
        if rows != num_rows:
            raise ContainerError(f"{reader.name}: header says {num_rows} rows, sections hold {rows}")
        columns = {
            name: (np.concatenate(parts[name]) if parts[name] else np.empty(0, dtype=dtype))
            for name, dtype, _ in col_specs
        }
        aux = {name: _read_aux(reader, name, n, specs, str(path)) for name, n, specs in aux_specs}
    try:
        return Dataset(Table(columns, source=str(path)), aux, layout)
    except InputError as exc:
        raise ContainerError(f"{reader.name}: invalid data ({exc})") from None


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
        arrays = []
        for sec in sections:
            if len(sec.shape) != 1 or sec.dtype != dtype:
                raise ContainerError(
                    f"{reader.name}: column {name!r} of table {table!r} in chunk {sec.chunk} has shape "
                    f"{sec.shape} {sec.dtype}, expected 1D {dtype}"
                )
            arrays.append(reader.read_array(sec))
        values = np.concatenate(arrays) if arrays else np.empty(0, dtype=dtype)
        if values.shape[0] != num_rows:
            raise ContainerError(
                f"{reader.name}: column {name!r} of table {table!r} holds {values.shape[0]} rows, "
                f"the header says {num_rows}"
            )
        columns[name] = values
    if found:
        raise ContainerError(
            f"{reader.name}: table {table!r} has sections for unlisted columns {sorted(found)}"
        )
    return Table(columns, source=source)


def _decoder_for(
    reader: ContainerReader, info: dict[str, Any], model: CompressionModel | None
) -> CompressionModel:
    stored_hash = info.get("decoder_hash")
    if model is not None:
        if decoder_hash(model) != stored_hash:
            raise ModelError(
                f"model {model.name!r} does not match the one {reader.name} was compressed with "
                f"({info.get('name')!r}, decoder hash {stored_hash})"
            )
        return model
    embedded = reader.find("model")
    if not embedded:
        raise ModelError(
            f"{reader.name} was written with --no-embed-model; pass --model with the model "
            f"{info.get('name')!r} (decoder hash {stored_hash})"
        )
    decoder = model_from_bytes(reader.read_bytes(embedded[0]), f"{reader.name} (embedded model)")
    if decoder_hash(decoder) != stored_hash:
        raise ContainerError(f"{reader.name}: embedded model does not match the header's decoder hash")
    return decoder


def file_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The header of a compressed file, the size of each section kind, and its compression ratio.

    The header's ``tables`` (data format 2) lists auxiliary tables and ``layout`` the input's structure.
    """
    with ContainerReader.open(path) as reader:
        header = read_header(reader)
        sizes = reader.section_sizes()
        size = reader.file_size
    n_comp = len(header.get("compressed", {}).get("columns", []))
    rows = int(header.get("num_rows", 0))
    return {
        "path": str(path),
        "file_bytes": size,
        "header": header,
        "section_bytes": sizes,
        "ratio": 4.0 * rows * n_comp / size if size else 0.0,
    }
