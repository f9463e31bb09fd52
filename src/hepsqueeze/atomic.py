"""Atomic file output: a temporary file in the target directory, flushed, fsynced, then published.

Rules every output follows (the CLI and the library share them):

- Only regular files are written. An existing directory, device node, FIFO or socket under the
  output name is refused with :class:`~hepsqueeze.errors.OutputExistsError`, with or without
  ``force``: ``--force -o /dev/null`` must not replace the device node with a regular file.
- Symbolic links: an existing symbolic link under the output name (dangling or not) is refused,
  with or without ``force``: replacing the link would silently cut it off from its target, and
  writing through it would put the temporary file (and the atomic rename) in another directory.
  The message names the link's target so the user can pass that path instead. Symbolic links in
  the *directories* of the path are followed as usual.
- Without ``force`` the finished file is published with a no-replace primitive (a hard link, else
  ``renameat2(RENAME_NOREPLACE)``, else an ``O_EXCL`` placeholder), so two writers racing for one
  name cannot overwrite each other: exactly one wins, the others get ``OutputExistsError``.
- With ``force`` it is published with :func:`os.replace` (still never onto a non-regular file).
- On failure nothing appears under the output name, the temporary file is removed, and the
  directories :func:`atomic_output` created for the output are removed again (innermost first, only
  if empty).
- Temporary files are registered while they are live; :func:`remove_live_temporaries` deletes them,
  for signal handlers (the CLI installs them for SIGTERM and SIGHUP, see
  :func:`install_signal_cleanup`). SIGKILL cannot be caught: a killed process leaves its hidden
  ``.<name>.*.tmp`` file behind (never a file under the output name).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import functools
import hashlib
import os
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import BinaryIO

from hepsqueeze.errors import OutputExistsError

_NAME_MAX_DEFAULT = 255
# mkstemp adds 8 random characters; the temporary name is "." + stem + "." + random + ".tmp".
_TMP_OVERHEAD = 1 + 1 + 8 + 4

# Live temporary files and the directories created for them, by the pid that created them (a
# forked child inherits the registry, and must not delete its parent's files).
_live_lock = threading.Lock()
_live_temps: dict[Path, int] = {}
_live_dirs: dict[Path, int] = {}


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _existing_non_directory_parent(out: Path) -> Path | None:
    """The nearest existing ancestor of ``out`` that is not a directory, if any."""
    for parent in out.parents:
        try:
            st = os.stat(parent)
        except FileNotFoundError:
            continue
        except NotADirectoryError:
            continue  # a further-up ancestor is the file; the loop reaches it
        return None if stat.S_ISDIR(st.st_mode) else parent
    return None


def check_output(path: str | os.PathLike[str], force: bool) -> Path:
    """Check that ``path`` can be written as an output; return it as a Path.

    Raises :class:`OutputExistsError` if it exists and ``force`` is false, and always if it is
    a directory, a device, a FIFO, a socket or a symbolic link (see the module docstring), or if
    one of its parents is an existing file rather than a directory.
    """
    out = Path(path)
    try:
        st = os.lstat(out)
    except FileNotFoundError:
        return out
    except NotADirectoryError:
        blocker = _existing_non_directory_parent(out)
        where = f"{str(blocker)!r}" if blocker is not None else "a parent"
        raise OutputExistsError(
            f"cannot write output {str(out)!r}: {where} is a file, not a directory"
        ) from None
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(out)
        raise OutputExistsError(
            f"output {str(out)!r} is a symbolic link (to {target!r}); hepsqueeze does not write through "
            "or replace links: give the target's path, or remove the link"
        )
    if stat.S_ISDIR(st.st_mode):
        raise OutputExistsError(f"output {str(out)!r} is a directory; give a file name")
    if not stat.S_ISREG(st.st_mode):
        raise OutputExistsError(
            f"output {str(out)!r} exists and is {_kind(st.st_mode)}; hepsqueeze writes regular files "
            "only and does not replace it, even when forced"
        )
    if not force:
        raise OutputExistsError(
            f"output {str(out)!r} already exists; overwriting was not asked for (force=True)"
        )
    return out


def _name_max(directory: Path) -> int:
    try:
        return int(os.pathconf(directory, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return _NAME_MAX_DEFAULT


def temporary_prefix(name: str, name_max: int = _NAME_MAX_DEFAULT) -> str:
    """The prefix of the temporary file for output ``name`` (``.{name}.``), shortened to fit ``name_max``.

    Long names keep their first characters and get a short hash of the whole name, so the whole
    temporary name (prefix, 8 random characters, ``.tmp``) stays within ``name_max`` bytes.
    """
    budget = name_max - _TMP_OVERHEAD
    if len(os.fsencode(name)) <= budget:
        return f".{name}."
    digest = hashlib.sha1(os.fsencode(name)).hexdigest()[:8]
    keep = budget - len(digest) - 1
    stem = name
    while len(os.fsencode(stem)) > keep:
        stem = stem[:-1]
    return f".{stem}~{digest}."


def _make_parents(directory: Path) -> list[Path]:
    """Create ``directory`` and its missing parents; return those created here, outermost first."""
    missing: list[Path] = []
    d = directory
    while not d.exists():
        missing.append(d)
        if d.parent == d:
            break
        d = d.parent
    created: list[Path] = []
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            if not d.is_dir():
                raise
            continue  # another process created it: not ours to remove
        except NotADirectoryError:
            blocker = _existing_non_directory_parent(d / "x")
            where = f"{str(blocker)!r}" if blocker is not None else "a parent"
            raise OutputExistsError(
                f"cannot create output directory {str(d)!r}: {where} is a file, not a directory"
            ) from None
        created.append(d)
    return created


def _remove_dirs(dirs: Iterable[Path]) -> None:
    """Remove the given directories innermost first, each only if empty."""
    for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):  # not empty (something else was written there), or gone
            d.rmdir()


def remove_live_temporaries() -> None:
    """Delete this process's live temporary files and the (empty) directories made for them.

    Safe to call from a signal handler; it only unlinks files and removes empty directories.
    """
    pid = os.getpid()
    with contextlib.suppress(Exception):
        for tmp, owner in list(_live_temps.items()):
            if owner == pid:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        _remove_dirs([d for d, owner in list(_live_dirs.items()) if owner == pid])


def cleanup_and_reraise(signum: int, frame: FrameType | None) -> None:
    """The signal handler :func:`install_signal_cleanup` installs: remove the live temporary files,
    then die of the signal ``signum`` itself."""
    remove_live_temporaries()
    # Die of the signal itself (the shell sees 128 + signum), as without the handler.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


_Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


def install_signal_cleanup(signals: Iterable[str] = ("SIGTERM", "SIGHUP")) -> dict[int, _Handler]:
    """Remove live temporary files when one of ``signals`` arrives, then die of that signal.

    Signals that are ignored (``nohup`` ignores SIGHUP) or already handled are left alone. Does
    nothing outside the main thread. The library itself installs no handlers: a program's entry
    point calls this (the CLI does). Returns the replaced handlers for
    :func:`restore_signal_handlers`.
    """
    replaced: dict[int, _Handler] = {}
    if threading.current_thread() is not threading.main_thread():
        return replaced
    for name in signals:
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        with contextlib.suppress(ValueError, OSError):
            current = signal.getsignal(signum)
            if current is signal.SIG_DFL:
                signal.signal(signum, cleanup_and_reraise)
                replaced[signum] = current
    return replaced


def restore_signal_handlers(previous: dict[int, _Handler]) -> None:
    """Put back the handlers :func:`install_signal_cleanup` replaced."""
    for signum, handler in previous.items():
        with contextlib.suppress(ValueError, OSError, TypeError):
            signal.signal(signum, handler)


@contextlib.contextmanager
def _registered(tmp: Path, dirs: list[Path]) -> Iterator[None]:
    pid = os.getpid()
    with _live_lock:
        _live_temps[tmp] = pid
        for d in dirs:
            _live_dirs[d] = pid
    try:
        yield
    finally:
        with _live_lock:
            _live_temps.pop(tmp, None)
            for d in dirs:
                _live_dirs.pop(d, None)


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str], force: bool = False, verify: Callable[[Path], None] | None = None
) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is fsynced and published as ``path``.

    If the body raises (or the process dies), no file appears under the target name. ``verify``
    is called with the finished temporary file before it is published: it reads back what was
    written and raises if it is wrong, and then nothing is published either. Use this for writers
    that need a path (pyarrow, h5py); use :func:`atomic_open` for plain byte streams.

    Raises :class:`OutputExistsError` if ``path`` exists and ``force`` is false (checked before the
    body runs and, race-free, when publishing), and for outputs that are not regular files (see the
    module docstring). Directories created for the output are removed again on failure.
    """
    out = check_output(path, force)
    created = _make_parents(out.parent)
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=temporary_prefix(out.name, _name_max(out.parent)), suffix=".tmp", dir=out.parent
        )
    except BaseException:
        _remove_dirs(created)
        raise
    tmp = Path(tmp_name)
    with _registered(tmp, created):
        try:
            os.close(fd)
            # mkstemp creates the file private (0600); the output should get the usual permissions.
            os.chmod(tmp, 0o666 & ~_current_umask())
            yield tmp
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            if verify is not None:
                verify(tmp)
            _publish(tmp, out, force)
            _fsync_dir(out.parent)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            _remove_dirs(created)
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


_umask_lock = threading.Lock()


def _current_umask() -> int:
    """The process umask. Reading it means setting it, so concurrent writers (threads) take turns:
    otherwise one could read the other's temporary 0 and leave the process with umask 0."""
    with _umask_lock:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def _exists_error(out: Path) -> OutputExistsError:
    return OutputExistsError(
        f"output {str(out)!r} already exists (created while this one was written); "
        "overwriting was not asked for (force=True)"
    )


def _publish(tmp: Path, out: Path, force: bool) -> None:
    """Give the finished ``tmp`` the name ``out``: replacing a regular file if ``force``, never otherwise."""
    if force:
        # Refuse a non-regular file that appeared meanwhile. (A rename cannot be made conditional on
        # the type of what it replaces; the window between this check and os.replace is tiny and
        # only another process's deliberate mknod/mkfifo in it could slip through.)
        check_output(out, force=True)
        os.replace(tmp, out)
        return
    _publish_no_replace(tmp, out)


# Errors of os.link meaning "this file system (or platform) has no hard links", not "the name exists".
_NO_LINK_ERRNOS = {errno.EPERM, errno.EMLINK, errno.EXDEV, errno.ENOSYS, errno.EACCES}
_NO_LINK_ERRNOS |= {getattr(errno, n) for n in ("EOPNOTSUPP", "ENOTSUP") if hasattr(errno, n)}


def _publish_no_replace(tmp: Path, out: Path) -> None:
    """Publish ``tmp`` as ``out`` only if ``out`` does not exist, atomically (no check-then-rename race).

    1. ``os.link(tmp, out)`` then unlink ``tmp``: link(2) fails with EEXIST if the name exists, and
       the output appears complete in one step. If the process dies between the two calls, the
       output is complete and only the hidden temporary name is left.
    2. Where hard links are not supported (FAT/exFAT, some network and FUSE file systems),
       ``renameat2(..., RENAME_NOREPLACE)`` on Linux, through libc.
    3. Else an ``O_CREAT | O_EXCL`` placeholder reserves the name (atomic on every local file system;
       only one creator succeeds), and ``os.replace`` then swaps the finished file onto our own
       placeholder. A process killed between the two leaves an empty file under the output name:
       the only case without the "no partial file" guarantee, hence the last resort.
    """
    try:
        os.link(tmp, out)
    except FileExistsError:
        raise _exists_error(out) from None
    except OSError as exc:
        if os.path.lexists(out):
            raise _exists_error(out) from None
        if exc.errno not in _NO_LINK_ERRNOS:
            raise
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        return
    if _rename_noreplace(tmp, out):
        return
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise _exists_error(out) from None
    os.close(fd)
    try:
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(out)
        raise


_AT_FDCWD = -100
_RENAME_NOREPLACE = 1


@functools.cache
def load_renameat2() -> Callable[..., int] | None:
    """libc's renameat2 (Linux, glibc >= 2.28), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def _rename_noreplace(tmp: Path, out: Path) -> bool:
    """``renameat2(RENAME_NOREPLACE)``; False where the platform or file system lacks it."""
    fn = load_renameat2()
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(tmp), _AT_FDCWD, os.fsencode(out), _RENAME_NOREPLACE) == 0:
        return True
    err = ctypes.get_errno()
    if err == errno.EEXIST:
        raise _exists_error(out)
    if err in (errno.EINVAL, errno.ENOSYS) or err in _NO_LINK_ERRNOS:
        return False
    raise OSError(err, os.strerror(err), str(out))


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
