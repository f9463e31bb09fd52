"""The source layer: locating an input file and reading raw bytes from it, before any format logic."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hepsqueeze.errors import InputError, InputFileNotFoundError


def check_input(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path; :class:`InputFileNotFoundError` if missing, InputError unless a regular file."""
    p = Path(path)
    if not p.exists():
        parent = p.parent
        hint = f" (directory {str(parent)!r} does not exist either)" if not parent.exists() else ""
        raise InputFileNotFoundError(f"input file {str(p)!r} not found{hint}")
    if p.is_dir():
        raise InputError(f"input {str(p)!r} is a directory; give a file")
    if not p.is_file():
        # A device (/dev/urandom), FIFO or socket: endless or read-once, not a data file.
        mode = p.stat().st_mode
        what = (
            "a character device"
            if stat.S_ISCHR(mode)
            else "a block device"
            if stat.S_ISBLK(mode)
            else "a FIFO (named pipe)"
            if stat.S_ISFIFO(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "not a regular file"
        )
        raise InputError(f"input {str(p)!r} is {what}, not a regular file; give a data file")
    return p


def input_size_bytes(path: str | os.PathLike[str]) -> int:
    """Size of the input file on disk, in bytes (the denominator of compression ratios)."""
    return check_input(path).stat().st_size


def read_head(path: Path, size: int = 4096) -> bytes:
    """Up to ``size`` leading bytes of ``path`` (for content sniffing); empty if it cannot be read."""
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError:
        return b""
