"""numpy ``.npy`` files: a 2D array whose columns are named by ``names=``, or a structured array.

A plain array has no column names, so reading a 2D ``(rows, k)`` array (or a 1D one, as one column)
needs ``names=`` with k names (``--names E,pt,eta,phi``); a structured (record) array names its own
fields, which ``names=`` may rename. Arrays are loaded with ``allow_pickle=False``, so object arrays
are rejected rather than unpickled. The writer stores a 2D array when all columns share one dtype
(names are then not stored: read it back with ``names=``) and a structured array otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ConfigError, InputError
from hepsqueeze.io.interpret import build_table, select_names
from hepsqueeze.io.registry import Format, get_option
from hepsqueeze.io.table import Table

logger = logging.getLogger(__name__)


def names_option(options: Mapping[str, Any], fmt: str) -> list[str] | None:
    """The ``names`` option as a list: a sequence of strings or one comma-separated string."""
    value = get_option(options, "names", None, (list, tuple, str, type(None)), fmt)
    if value is None:
        return None
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else list(value)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"option 'names' for {fmt} must list non-empty column names, got {value!r}")
    return names


def split_columns(
    array: npt.NDArray[Any], names: Sequence[str] | None, where: str
) -> list[tuple[str, npt.NDArray[Any]]]:
    """``(name, column)`` pairs of a 2D, 1D or structured array; ``names`` name (or rename) the columns."""
    if array.dtype.names is not None:
        fields = list(array.dtype.names)
        if array.ndim != 1:
            raise InputError(f"{where} holds a structured array of shape {array.shape}; it must be 1D")
        if names is not None and len(names) != len(fields):
            raise InputError(
                f"{where} has {len(fields)} fields ({', '.join(fields)}) but {len(names)} names were given"
            )
        return [(n, np.ascontiguousarray(array[f])) for n, f in zip(names or fields, fields, strict=True)]
    if array.ndim not in (1, 2):
        raise InputError(f"{where} holds an array of shape {array.shape}; only 1D and 2D arrays are tables")
    width = 1 if array.ndim == 1 else array.shape[1]
    if names is None:
        raise InputError(
            f"{where} holds a plain array of shape {array.shape} without column names; "
            f"give its {width} column name(s) with --names (names=[...])"
        )
    if len(names) != width:
        raise InputError(
            f"{where} has {width} column(s) but {len(names)} names were given ({', '.join(names)})"
        )
    if array.ndim == 1:
        return [(names[0], array)]
    return [(n, np.ascontiguousarray(array[:, i])) for i, n in enumerate(names)]


def load_array(source: Any, where: str) -> npt.NDArray[Any]:
    """One ``.npy`` array from a path or binary stream, never unpickling."""
    try:
        return np.lib.format.read_array(source, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise InputError(
                f"{where} holds an object array (pickled Python objects); only numeric arrays are supported"
            ) from exc
        raise InputError(f"cannot read {where} as .npy: {exc}") from exc


class Npy:
    """Reader and writer for ``.npy`` files."""

    def read(self, path: Path, columns: Sequence[str] | None, **options: Any) -> Table:
        """Read the array and name its columns (``names=`` for plain arrays)."""
        where = str(path)
        names = names_option(options, "npy")
        with open(path, "rb") as fh:
            array = load_array(fh, repr(where))
        pairs = dict(split_columns(array, names, repr(where)))
        if len(pairs) != len(names or pairs):
            raise InputError(f"column names given for {where!r} repeat: {names}")
        selected = select_names(list(pairs), columns, where)
        return build_table(((n, pairs[n]) for n in selected), where)

    def write(self, table: Table, path: Path, **options: Any) -> None:
        """Write a 2D array (one shared dtype; names not stored) or a structured array (names kept)."""
        dtypes = {table.columns[n].dtype.newbyteorder("<") for n in table.names}
        with open(path, "wb") as fh:
            if len(dtypes) == 1:
                logger.info(
                    "writing %s as a 2D array; .npy stores no column names: read it with names=", path
                )
                data = table.stack(table.names, dtype=dtypes.pop())
            else:
                record = np.dtype([(n, table.columns[n].dtype.newbyteorder("<")) for n in table.names])
                data = np.empty(table.num_rows, dtype=record)
                for n in table.names:
                    data[n] = table.columns[n]
            np.lib.format.write_array(fh, data, allow_pickle=False)


FORMAT = Format(
    name="npy",
    extensions=(".npy",),
    reader=Npy(),
    writer=Npy(),
    read_options=frozenset({"names"}),
    description="numpy .npy: a 2D array with names= for its columns, or a structured array",
)
