"""numpy ``.npy`` files: a 2D array whose columns are named by ``names=``, or a structured array.

A plain array has no column names, so reading a 2D ``(rows, k)`` array (or a 1D one, as one column)
needs ``names=`` with k names (``--names E,pt,eta,phi``); a structured (record) array names its own
fields, which ``names=`` may rename. Arrays are loaded with ``allow_pickle=False``, so object arrays
are rejected rather than unpickled. The writer stores a 2D array when all columns share one dtype
(names are then not stored: read it back with ``names=``) and a structured array otherwise.
"""

from __future__ import annotations

import ast
import logging
import math
import os
import struct
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ConfigError, InputError
from hepsqueeze.io.interpret import build_table, select_names
from hepsqueeze.io.limits import allocating, check_claimed_bytes
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
            f"give its {width} column name(s) (names=[...])",
            option="names",
        )
    if len(names) != width:
        raise InputError(
            f"{where} has {width} column(s) but {len(names)} names were given ({', '.join(names)})"
        )
    if array.ndim == 1:
        return [(names[0], array)]
    return [(n, np.ascontiguousarray(array[:, i])) for i, n in enumerate(names)]


#: Longest ``.npy`` header accepted (numpy's own reader refuses more than 10000 characters).
MAX_NPY_HEADER_BYTES = 10000
_NPY_MAGIC = b"\x93NUMPY"
_NPY_VERSIONS = {1: ("<H", "latin1"), 2: ("<I", "latin1"), 3: ("<I", "utf8")}
_NPY_KEYS = frozenset({"descr", "fortran_order", "shape"})
_READ_BLOCK = 1 << 24


@dataclass(frozen=True)
class NpyHeader:
    """What an ``.npy`` header claims: shape, dtype, order, and where the data starts."""

    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    fortran_order: bool
    data_offset: int

    @property
    def count(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes of data the header claims."""
        return self.count * self.dtype.itemsize


def _read_exactly(source: IO[bytes], size: int, what: str, where: str) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise InputError(f"cannot read {where} as .npy: the file ends inside the {what}")
    return data


def read_npy_header(source: IO[bytes], where: str) -> NpyHeader:
    """Parse an ``.npy`` header from ``source`` (positioned at its start); InputError if malformed.

    Unlike numpy's reader, every problem (a header that is not a Python literal, a shape that is
    not a tuple of non-negative integers, an object dtype) is an :class:`InputError`.
    """
    magic = _read_exactly(source, len(_NPY_MAGIC) + 2, "magic string", where)
    if magic[: len(_NPY_MAGIC)] != _NPY_MAGIC:
        raise InputError(f"cannot read {where} as .npy: wrong magic bytes (not a .npy file)")
    version = magic[len(_NPY_MAGIC)]
    if version not in _NPY_VERSIONS or magic[-1] != 0:
        raise InputError(f"cannot read {where} as .npy: unknown format version {version}.{magic[-1]}")
    length_format, encoding = _NPY_VERSIONS[version]
    size = struct.calcsize(length_format)
    (length,) = struct.unpack(length_format, _read_exactly(source, size, "header length", where))
    if length > MAX_NPY_HEADER_BYTES:
        raise InputError(
            f"cannot read {where} as .npy: header of {length} bytes is longer than {MAX_NPY_HEADER_BYTES}"
        )
    raw = _read_exactly(source, length, "header", where)
    try:
        text = raw.decode(encoding)
        header = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, UnicodeDecodeError) as exc:
        raise InputError(
            f"cannot read {where} as .npy: the header is not a Python dict literal ({type(exc).__name__})"
        ) from None
    if not isinstance(header, dict) or set(header) != _NPY_KEYS:
        raise InputError(
            f"cannot read {where} as .npy: the header must be a dict of {', '.join(sorted(_NPY_KEYS))}"
        )
    shape, fortran = header["shape"], header["fortran_order"]
    if not isinstance(shape, tuple) or not all(type(d) is int and d >= 0 for d in shape):
        raise InputError(f"cannot read {where} as .npy: shape {str(shape)[:60]} is not a tuple of sizes")
    if not isinstance(fortran, bool):
        raise InputError(f"cannot read {where} as .npy: fortran_order {str(fortran)[:20]} is not a bool")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # deprecated descriptions are refused, not warned about
            dtype = np.lib.format.descr_to_dtype(header["descr"])
    except Exception as exc:  # numpy's dtype parser raises many types on odd text
        raise InputError(
            f"cannot read {where} as .npy: invalid dtype description ({type(exc).__name__})"
        ) from None
    if dtype.hasobject:
        raise InputError(
            f"{where} holds an object array (pickled Python objects); only numeric arrays are supported"
        )
    return NpyHeader(shape, dtype, fortran, len(_NPY_MAGIC) + 2 + size + length)


def load_array(source: IO[bytes], where: str, size: int) -> npt.NDArray[Any]:
    """One ``.npy`` array of ``size`` bytes (the file's, or a zip member's declared size), never unpickling.

    The header's claimed data size must be exactly what follows the header, and within
    :func:`~hepsqueeze.io.limits.max_decompressed_bytes`, before the array is allocated.
    """
    header = read_npy_header(source, where)
    available = size - header.data_offset
    claimed = header.nbytes
    if claimed != available:
        more = "more" if claimed > available else "fewer"
        raise InputError(
            f"cannot read {where} as .npy: the header claims shape {header.shape} of {header.dtype} "
            f"({claimed} bytes) but {available} bytes follow it ({more} than there are)"
        )
    if header.dtype.itemsize == 0 and header.count:
        raise InputError(f"cannot read {where} as .npy: dtype {header.dtype} has no bytes per value")
    check_claimed_bytes(claimed, "the array", where)
    order: Literal["C", "F"] = "F" if header.fortran_order else "C"
    with allocating(claimed, "the array", where):
        flat = np.empty(header.count, dtype=header.dtype)
        if claimed:
            view = memoryview(flat.view(np.uint8).reshape(-1).data)
            pos = 0
            while pos < claimed:
                got = source.readinto(view[pos : pos + _READ_BLOCK])  # type: ignore[attr-defined]
                if not got:
                    raise InputError(f"cannot read {where} as .npy: the file ends inside the array data")
                pos += got
    array: npt.NDArray[Any] = flat.reshape(header.shape, order=order)
    return array


class Npy:
    """Reader and writer for ``.npy`` files."""

    def read(self, path: Path, columns: Sequence[str] | None, **options: Any) -> Table:
        """Read the array and name its columns (``names=`` for plain arrays)."""
        where = str(path)
        names = names_option(options, "npy")
        with open(path, "rb") as fh:
            array = load_array(fh, repr(where), os.fstat(fh.fileno()).st_size)
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
