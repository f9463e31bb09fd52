"""Limits on the memory a file may make a reader or writer take, checked before anything is allocated.

Sizes a file claims (an ``.npy`` header's shape, a zip member's uncompressed size, an HDF5
dataset's shape, a Parquet file's row count, a ROOT tree's entries, a layout's number formats) are
checked against what the file's bytes can hold and against :func:`max_decompressed_bytes` before
the memory is taken, so a small hostile file gives an :class:`~hepsqueeze.errors.InputError`
instead of a MemoryError (or the machine's memory).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from hepsqueeze.errors import ConfigError, InputError

#: Environment variable overriding :data:`DEFAULT_MAX_DECOMPRESSED_BYTES` (a number of bytes).
MAX_DECOMPRESSED_BYTES_ENV = "HEPSQUEEZE_MAX_DECOMPRESSED_BYTES"
#: Default for the most bytes one read may decode from compressed or claimed sizes (4 GiB).
DEFAULT_MAX_DECOMPRESSED_BYTES = 4 << 30


def max_decompressed_bytes() -> int:
    """The most bytes one read may decode or allocate on a file's word (env override, else 4 GiB)."""
    raw = os.environ.get(MAX_DECOMPRESSED_BYTES_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_MAX_DECOMPRESSED_BYTES
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value <= 0:
        raise ConfigError(f"{MAX_DECOMPRESSED_BYTES_ENV} must be a positive number of bytes, got {raw!r}")
    return value


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} bytes"


def check_claimed_bytes(claimed: int, what: str, where: str) -> None:
    """Raise :class:`InputError` if ``claimed`` bytes (``what`` of ``where``) exceed the limit."""
    limit = max_decompressed_bytes()
    if claimed > limit:
        raise InputError(
            f"{where}: {what} claims {claimed} bytes ({_size(claimed)}), more than the "
            f"{_size(limit)} limit on decoded data; raise {MAX_DECOMPRESSED_BYTES_ENV} if the file is genuine"
        )


@contextlib.contextmanager
def allocating(nbytes: int, what: str, where: str) -> Iterator[None]:
    """Turn a MemoryError while allocating ``nbytes`` for ``what`` (already checked) into InputError."""
    try:
        yield
    except MemoryError:
        raise InputError(f"{where}: not enough memory for {what} ({nbytes} bytes, {_size(nbytes)})") from None
