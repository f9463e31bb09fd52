"""The source layer: locating an input file and reading raw bytes from it, before any format logic."""

from __future__ import annotations

import os
from pathlib import Path

from hepsqueeze.errors import InputError, InputFileNotFoundError


def check_input(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path; :class:`InputFileNotFoundError` if missing, InputError if a directory."""
    p = Path(path)
    if not p.exists():
        parent = p.parent
        hint = f" (directory {str(parent)!r} does not exist either)" if not parent.exists() else ""
        raise InputFileNotFoundError(f"input file {str(p)!r} not found{hint}")
    if p.is_dir():
        raise InputError(f"input {str(p)!r} is a directory; give a file")
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
