"""Digests of decoded columns: what the writer meant to store, compared with what the finished file
decodes to before it is published."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import xxhash

from hepsqueeze.io.table import Table


def column_digest(values: npt.NDArray[Any]) -> str:
    """xxh64 of a column's values as little-endian bytes (the same for any byte order in memory)."""
    arr = np.ascontiguousarray(values)
    if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and not np.little_endian):
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return xxhash.xxh64(arr.tobytes()).hexdigest()


def table_digests(table: Table) -> dict[str, str]:
    """:func:`column_digest` of every column of ``table``."""
    return {name: column_digest(table[name]) for name in table.names}


__all__ = ["column_digest", "table_digests"]
