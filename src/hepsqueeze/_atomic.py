"""Atomic file output: a temporary file in the target directory, flushed, fsynced, then renamed."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from hepsqueeze.errors import OutputExistsError


def check_output(path: str | os.PathLike[str], force: bool) -> Path:
    """Raise :class:`OutputExistsError` if ``path`` exists and ``force`` is false; return it as a Path."""
    out = Path(path)
    if out.exists() and not force:
        raise OutputExistsError(
            f"output {str(out)!r} already exists; pass --force (force=True) to overwrite it"
        )
    if out.is_dir():
        raise OutputExistsError(f"output {str(out)!r} is a directory; give a file name")
    return out


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str], force: bool = False, verify: Callable[[Path], None] | None = None
) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is fsynced and renamed onto ``path``.

    If the body raises (or the process dies), no file appears under the target name. ``verify``
    is called with the finished temporary file before it is published: it reads back what was
    written and raises if it is wrong, and then nothing is published either. Use this for writers
    that need a path (pyarrow, h5py); use :func:`atomic_open` for plain byte streams.
    """
    out = check_output(path, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates the file private (0600); the output should get the usual permissions.
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if verify is not None:
            verify(tmp)
        # Re-check just before the rename: another process may have created the file meanwhile.
        check_output(out, force)
        os.replace(tmp, out)
        _fsync_dir(out.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike[str], force: bool = False, verify: Callable[[Path], None] | None = None
) -> Iterator[BinaryIO]:
    """Open a binary stream that becomes ``path`` atomically when the block ends without error
    (and ``verify``, given the finished temporary file, does not raise)."""
    with atomic_output(path, force, verify) as tmp, open(tmp, "wb") as fh:
        yield fh
        fh.flush()


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every platform allows opening a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
