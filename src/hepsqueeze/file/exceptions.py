"""The exception stream: values of compressed columns stored exactly, per chunk, for every codec.

A codec names the rows whose decoded values may not stand (NaN or values outside an autoencoder's
training range, values that miss their bound in the column's dtype, ...); the file layer stores
their original bits in two ``column`` sections per chunk and column, with the extras
``{"exceptions": "rows", "column": name}`` (int64 row indices within the chunk, ascending, delta
coded) and ``{"exceptions": "values", "column": name, "value_dtype": dtype}`` (the raw bit
patterns, as unsigned integers of the column's item size), and puts them back when reading: the
original values return bit for bit, NaN payloads and signed zeros included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.container import ContainerReader, ContainerWriter, Section
from hepsqueeze.file.columns import ZSTD_LEVEL, unique_name

EXCEPTION_ROWS: Final = "rows"
EXCEPTION_VALUES: Final = "values"


def bits_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The little-endian unsigned integer dtype holding the raw bits of one ``dtype`` item."""
    return np.dtype(f"<u{dtype.itemsize}") if dtype.itemsize > 1 else np.dtype("|u1")


def exception_names(column: str, taken: set[str]) -> tuple[str, str]:
    """Section names (rows, values) of ``column``'s exceptions, unique against ``taken``."""
    return unique_name(f"{column}#exceptions/rows", taken), unique_name(f"{column}#exceptions/values", taken)


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
    reader: ContainerReader, slots: Mapping[str, Mapping[str, Section]]
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


def exception_counts(reader: ContainerReader) -> dict[str, int]:
    """Values of each compressed column stored in the exception stream of an open file."""
    out: dict[str, int] = {}
    for sec in reader.find("column"):
        extras = sec.extras
        if extras.get("exceptions") == EXCEPTION_ROWS and sec.shape:
            column = str(extras.get("column"))
            out[column] = out.get(column, 0) + sec.shape[0]
    return out


__all__ = [
    "EXCEPTION_ROWS",
    "EXCEPTION_VALUES",
    "add_exceptions",
    "bits_dtype",
    "exception_counts",
    "exception_names",
    "exception_pairs",
    "exception_section",
    "restore_exceptions",
]
