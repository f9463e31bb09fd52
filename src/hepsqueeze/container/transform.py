"""The section transforms: ``delta`` (first value, then differences) and ``shuffle`` (byte planes).

Both work on the C-order flattened array and keep its byte size; ``None`` leaves the data as is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.container.constants import Transform

__all__ = ["decode_transform", "encode_transform"]


def encode_transform(flat: npt.NDArray[Any], transform: str | None) -> npt.NDArray[Any]:
    """Apply a transform to a contiguous 1D array; return a contiguous 1D array of the same byte size."""
    if transform == Transform.DELTA:
        # First value, then differences; integer array arithmetic wraps silently, cumsum undoes it.
        out = np.empty_like(flat)
        out[:1] = flat[:1]
        np.subtract(flat[1:], flat[:-1], out=out[1:])
        return out
    if transform == Transform.SHUFFLE:
        # Byte i of every element together: exponents and high mantissa bytes compress far better.
        return np.ascontiguousarray(flat.view(np.uint8).reshape(-1, flat.dtype.itemsize).T).reshape(-1)
    return flat


def decode_transform(
    data: bytes | bytearray, dtype: np.dtype[Any], transform: str | None
) -> npt.NDArray[Any]:
    """Undo a transform on decoded bytes; return a writable 1D array of ``dtype``."""
    if transform == Transform.DELTA:
        flat = np.cumsum(np.frombuffer(data, dtype=dtype), dtype=dtype)
    elif transform == Transform.SHUFFLE:
        planes = np.frombuffer(data, dtype=np.uint8).reshape(dtype.itemsize, -1)
        flat = np.ascontiguousarray(planes.T).reshape(-1).view(dtype)
    else:
        flat = np.frombuffer(data, dtype=dtype)
    # Views of immutable bytes are read-only (also after a transpose that needed no copy), and
    # callers such as torch.from_numpy want writable arrays.
    return flat if flat.flags.writeable else flat.copy()
