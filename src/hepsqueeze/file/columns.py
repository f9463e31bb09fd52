"""Lossless columns: the passthrough columns of the main table, run-length coded columns and the
auxiliary tables, stored the same way by every codec.

Every column is one ``column`` section per chunk (zstd; integers delta coded, wider floats byte
shuffled), named after the column; auxiliary columns carry the extras ``table`` and ``column``
(readers go by the extras, names only have to be unique). A run-length coded column (a codec's
:attr:`~hepsqueeze.codecs.base.Codec.runs_column`, the event number) is two sections per chunk:
the value of each run (``runs="values"``) and its length (``runs="lengths"``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.codecs.base import RUNS_SUFFIX
from hepsqueeze.container import ContainerReader, ContainerWriter, Section
from hepsqueeze.errors import ContainerError, InputError
from hepsqueeze.io.table import Table

ZSTD_LEVEL: Final = 19
RUN_VALUES: Final = "values"
RUN_LENGTHS: Final = "lengths"


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, primed until it is not in ``taken``; the result is added to ``taken``."""
    while name in taken:
        name += "'"
    taken.add(name)
    return name


def add_column(
    writer: ContainerWriter, name: str, values: npt.NDArray[Any], chunk: int, **extra: Any
) -> None:
    """Write one chunk of a column losslessly as a ``column`` section named ``name``."""
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


def run_lengths(values: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[np.uint32]]:
    """Run-length form of a column: the value of each run and its length."""
    n = values.shape[0]
    if n == 0:
        return values[:0], np.zeros(0, dtype=np.uint32)
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    lengths = np.diff(np.r_[starts, n]).astype(np.uint32)
    return values[starts], lengths


def add_runs(writer: ContainerWriter, name: str, values: npt.NDArray[Any], chunk: int) -> None:
    """Write one chunk of a column as runs (value, length): the event column of jets costs far less
    so than as a per-jet column, even delta coded."""
    run_values, lengths = run_lengths(values)
    add_column(writer, name, run_values, chunk, runs=RUN_VALUES)
    # lengths are small unrelated counts: byte shuffle, not the delta of sorted ids
    writer.add_array(
        "column",
        f"{name}{RUNS_SUFFIX}",
        lengths.astype("<u4"),
        chunk=chunk,
        encoding="zstd",
        level=ZSTD_LEVEL,
        transform="shuffle",
        runs=RUN_LENGTHS,
    )


def read_runs(
    reader: ContainerReader, found: list[Section], dtype: np.dtype[Any], sec: Section, rows: int
) -> npt.NDArray[Any]:
    """The column of ``rows`` rows rebuilt from its run sections (values and lengths) of the chunk
    of payload ``sec``, checked before it is expanded."""
    parts = {s.extras.get("runs"): s for s in found}
    if len(found) != 2 or set(parts) != {RUN_VALUES, RUN_LENGTHS}:
        raise reader.error(sec, f"event runs of chunk {sec.chunk} are missing or repeated")
    values, lengths = parts[RUN_VALUES], parts[RUN_LENGTHS]
    if values.dtype != dtype or lengths.dtype != np.dtype("<u4") or values.shape != lengths.shape:
        raise reader.error(values, "event runs have the wrong dtype or shape")
    v, n = reader.read_array(values), reader.read_array(lengths).astype(np.int64)
    if n.size and int(n.min()) < 1:
        raise reader.error(lengths, "an event run has length 0")
    if int(n.sum()) != rows:
        raise reader.error(lengths, f"event runs hold {int(n.sum())} rows, the chunk's payload {rows}")
    return np.repeat(v, n)


def rechunk(
    batches: Iterable[Table], chunk_rows: int, schema: Mapping[str, np.dtype[Any]], source: str
) -> Iterator[Table]:
    """Regroup tables of any sizes into tables of exactly ``chunk_rows`` rows (the last may be shorter)."""
    names = tuple(schema)
    pending: list[Table] = []
    have = 0
    for batch in batches:
        if batch.names != names or any(batch[n].dtype != schema[n] for n in names):
            got = ", ".join(f"{n} {batch[n].dtype}" for n in batch.names)
            raise InputError(
                f"a batch of {source} has columns ({got}), not the announced schema", path=source
            )
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


def tables_header(aux: Mapping[str, Table]) -> list[dict[str, Any]]:
    """The data header's ``tables`` entry: name, rows, columns and dtypes of each auxiliary table."""
    return [
        {
            "name": name,
            "num_rows": table.num_rows,
            "columns": [{"name": c, "dtype": table[c].dtype.str} for c in table.names],
        }
        for name, table in aux.items()
    ]


def write_aux_tables(
    writer: ContainerWriter, aux: Mapping[str, Table], chunk_rows: int, section_name: Callable[[str], str]
) -> None:
    """Write every auxiliary table losslessly, ``chunk_rows`` rows per section; readers find the
    sections by their ``table``/``column`` extras, ``section_name`` keeps their names unique."""
    for tname, table in aux.items():
        for col in table.names:
            section = section_name(f"{tname}/{col}")
            for chunk, start in enumerate(range(0, table.num_rows, chunk_rows)):
                add_column(
                    writer, section, table[col][start : start + chunk_rows], chunk, table=tname, column=col
                )


def read_aux_table(
    reader: ContainerReader, table: str, num_rows: int, specs: Iterable[tuple[str, np.dtype[Any]]]
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
        _check_aux_sections(reader, table, name, dtype, num_rows, sections=sections)
        arrays = [reader.read_array(sec) for sec in sections]
        columns[name] = np.concatenate(arrays) if arrays else np.empty(0, dtype=dtype)
    if found:
        raise ContainerError(
            f"{reader.name}: table {table!r} has sections for unlisted columns {sorted(found)}",
            path=reader.name,
        )
    try:
        return Table(columns, source=reader.name)
    except InputError as exc:
        raise ContainerError(f"{reader.name}: table {table!r} is invalid ({exc})", path=reader.name) from None


def _check_aux_sections(
    reader: ContainerReader,
    table: str,
    name: str,
    dtype: np.dtype[Any],
    num_rows: int,
    *,
    sections: list[Section],
) -> None:
    if [s.chunk for s in sections] != list(range(len(sections))):
        raise ContainerError(
            f"{reader.name}: column {name!r} of table {table!r} has missing or repeated chunks",
            path=reader.name,
            column=name,
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
            f"{reader.name}: column {name!r} of table {table!r} holds {held} rows, the header says {num_rows}",
            path=reader.name,
            column=name,
        )


__all__ = [
    "ZSTD_LEVEL",
    "add_column",
    "add_runs",
    "read_aux_table",
    "read_runs",
    "rechunk",
    "run_lengths",
    "tables_header",
    "unique_name",
    "write_aux_tables",
]
