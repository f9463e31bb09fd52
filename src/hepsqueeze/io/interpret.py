"""Interpretation: turn the raw arrays a format reader found into a checked :class:`Table`.

Readers (the *reading* layer) decide which names exist and fetch arrays; this module decides whether
they are usable columns. Keeping the checks here means every format reports the same problems with
the same wording, and a later reader (ROOT, DarkMachines) only has to produce ``(name, array)`` pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ColumnError, ConfigError, InputError, missing_column_message
from hepsqueeze.io.table import Table

#: numpy dtype kinds a column may have: bool, signed int, unsigned int, float.
NUMERIC_KINDS = "biuf"

_KIND_WORDS = {
    "U": "text",
    "S": "bytes",
    "O": "Python objects",
    "c": "complex numbers",
    "M": "datetimes",
    "m": "time deltas",
    "V": "records or raw bytes",
}


def check_dtype(name: str, dtype: np.dtype[Any], where: str) -> None:
    """Raise :class:`InputError` unless ``dtype`` is boolean, integer or floating point."""
    if dtype.kind not in NUMERIC_KINDS:
        what = _KIND_WORDS.get(dtype.kind, "non-numeric values")
        raise InputError(
            f"column {name!r} in {where} holds {what} (dtype {dtype}); "
            "only numeric and boolean columns are supported"
        )


def check_shape(name: str, shape: tuple[int, ...] | None, where: str) -> None:
    """Raise :class:`InputError` unless ``shape`` is one-dimensional."""
    if shape is None or len(shape) != 1:
        raise InputError(
            f"column {name!r} in {where} has shape {shape}; columns must be 1D (one value per row)"
        )


#: Separators between a collection prefix and a variable name (``Jet_pt``, ``Jet.pt``, ``jets/pt``).
PREFIX_SEPARATORS = ("_", ".", "/")


def variable_of(name: str, variables: Sequence[str], aliases: Sequence[str] = ()) -> int | None:
    """Which of ``variables`` the column ``name`` stands for, by name: the variable itself (or its
    entry in ``aliases``, e.g. the column a model was trained on), else the longest variable that
    ends it after a non-empty collection prefix and a separator (``Jet_pt`` is ``pt``; ``lead_pt``
    is ``lead_pt`` where both exist). None for a name that names no variable (``Jet_mass``)."""
    for j, v in enumerate(variables):
        if name == v or (j < len(aliases) and name == aliases[j]):
            return j
    found = [
        (len(v), j)
        for j, v in enumerate(variables)
        if len(name) > len(v) + 1 and any(name.endswith(sep + v) for sep in PREFIX_SEPARATORS)
    ]
    return max(found)[1] if found else None


def select_names(available: Sequence[str], columns: Sequence[str] | None, where: str) -> list[str]:
    """The names to read: all of ``available`` in file order, or ``columns`` in the order requested.

    Raises :class:`ColumnError` for a requested name that is missing (naming the nearest ones) or
    requested twice, and also (a :class:`ColumnError`) if the file itself repeats a name.
    """
    seen: set[str] = set()
    for name in available:
        if name in seen:
            raise ColumnError(f"column name {name!r} appears more than once in {where}")
        seen.add(name)
    if columns is None:
        return list(available)
    # A bare string is a sequence of characters; treating it as one name avoids a confusing error.
    if isinstance(columns, str):
        raise ConfigError(f"columns must be a list of names, not the string {columns!r}")
    wanted: list[str] = []
    for name in columns:
        if name in wanted:
            raise ColumnError(f"column {name!r} is requested more than once")
        if name not in seen:
            raise ColumnError(missing_column_message(name, available, where))
        wanted.append(name)
    return wanted


def native(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``array`` in the machine's byte order (big-endian HDF5/npz data would trip torch and pyarrow)."""
    if array.dtype.isnative:
        return array
    return array.astype(array.dtype.newbyteorder("="))


def build_table(pairs: Iterable[tuple[str, Any]], where: str, source: str | None = None) -> Table:
    """Check ``(name, array)`` pairs and wrap them in a :class:`Table`.

    Every column must be 1D, numeric or boolean, uniquely named and as long as the first one.
    Arrays are converted to native byte order. ``where`` names the place in messages; ``source``
    (default ``where``) becomes :attr:`Table.source`.
    """
    columns: dict[str, npt.NDArray[Any]] = {}
    first: tuple[str, int] | None = None
    for name, raw in pairs:
        if name in columns:
            raise ColumnError(f"column name {name!r} appears more than once in {where}")
        array = np.asarray(raw)
        check_shape(name, array.shape, where)
        check_dtype(name, array.dtype, where)
        if first is None:
            first = (name, array.shape[0])
        elif array.shape[0] != first[1]:
            raise InputError(
                f"column {name!r} in {where} has {array.shape[0]} rows but column {first[0]!r} has {first[1]}"
            )
        columns[name] = native(array)
    return Table(columns, source=where if source is None else source)


def check_writable(table: Table, where: str) -> None:
    """Raise :class:`InputError` if ``table`` has no columns or a column a writer cannot store."""
    if not table.names:
        raise InputError(f"table from {table.source} has no columns; nothing to write to {where}")
    for name in table.names:
        check_dtype(name, table.columns[name].dtype, table.source)
