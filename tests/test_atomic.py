"""Atomic outputs: special files, links, the no-overwrite race, long names, created directories."""

from __future__ import annotations

import errno
import os
import stat
import sys
import threading
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from hepsqueeze import atomic
from hepsqueeze.atomic import (
    atomic_open,
    atomic_output,
    check_output,
    remove_live_temporaries,
    temporary_prefix,
)
from hepsqueeze.errors import OutputExistsError

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file types")


def _write(path: Path, data: bytes, force: bool = False) -> None:
    with atomic_open(path, force=force) as fh:
        fh.write(data)


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# --- what may be overwritten -------------------------------------------------------------------


def test_existing_file_needs_force(tmp_path: Path) -> None:
    out = tmp_path / "x.bin"
    _write(out, b"one")
    with pytest.raises(OutputExistsError, match="already exists; overwriting was not asked for"):
        _write(out, b"two")
    assert out.read_bytes() == b"one"
    _write(out, b"three", force=True)
    assert out.read_bytes() == b"three"
    assert _leftovers(tmp_path) == []


def test_directory_is_refused_with_and_without_force(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    for force in (False, True):
        with pytest.raises(OutputExistsError, match="is a directory"):
            check_output(tmp_path / "d", force)
        with pytest.raises(OutputExistsError, match="is a directory"), atomic_output(tmp_path / "d", force):
            pytest.fail("the body must not run")
    assert (tmp_path / "d").is_dir()


@posix_only
def test_fifo_is_refused_even_with_force(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for force in (False, True):
        with pytest.raises(OutputExistsError, match="FIFO"):
            _write(fifo, b"data", force=force)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert _leftovers(tmp_path) == []


@pytest.mark.skipif(not Path("/dev/null").is_char_device(), reason="needs /dev/null")
def test_device_is_refused_even_with_force() -> None:
    before = os.lstat("/dev/null")
    with pytest.raises(OutputExistsError, match="character device"):
        check_output("/dev/null", force=True)
    with pytest.raises(OutputExistsError, match="character device"), atomic_output("/dev/null", force=True):
        pytest.fail("the body must not run")
    after = os.lstat("/dev/null")
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


@posix_only
def test_special_file_appearing_during_the_write_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "late"

    def write() -> None:
        with atomic_output(out, force=True) as tmp:
            tmp.write_bytes(b"data")
            os.mkfifo(out)

    with pytest.raises(OutputExistsError, match="FIFO"):
        write()
    assert stat.S_ISFIFO(os.lstat(out).st_mode)
    assert _leftovers(tmp_path) == []


@posix_only
def test_symlinks_are_refused(tmp_path: Path) -> None:
    target = tmp_path / "target.bin"
    target.write_bytes(b"keep")
    link = tmp_path / "link.bin"
    link.symlink_to(target.name)
    for force in (False, True):
        with pytest.raises(OutputExistsError, match=r"symbolic link \(to 'target.bin'\)"):
            _write(link, b"new", force=force)
    assert link.is_symlink()
    assert target.read_bytes() == b"keep"
    dangling = tmp_path / "dangling.bin"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(OutputExistsError):
        _write(dangling, b"new")
    assert dangling.is_symlink()
    assert not (tmp_path / "nowhere").exists()
    assert _leftovers(tmp_path) == []


def test_symlinked_directory_in_the_path_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to("real")
    _write(tmp_path / "alias" / "x.bin", b"ok")
    assert (tmp_path / "real" / "x.bin").read_bytes() == b"ok"


def test_parent_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(OutputExistsError, match=r"'.*f' is a file, not a directory"):
        _write(tmp_path / "f" / "x.bin", b"")
    with pytest.raises(OutputExistsError, match="is a file, not a directory"):
        _write(tmp_path / "f" / "sub" / "x.bin", b"")


# --- the no-overwrite rule is race-free -------------------------------------------------------------


def test_file_appearing_during_the_write_is_not_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "x.bin"
    with pytest.raises(OutputExistsError, match="created while this one was written"):
        _write_while_another_appears(out, b"mine", b"theirs")
    assert out.read_bytes() == b"theirs"
    assert _leftovers(tmp_path) == []


def _write_while_another_appears(out: Path, mine: bytes, theirs: bytes) -> None:
    with atomic_open(out) as fh:
        fh.write(mine)
        out.write_bytes(theirs)


@pytest.fixture(params=["link", "renameat2", "placeholder"])
def publish_method(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each no-replace primitive in turn: hard links, renameat2, the O_EXCL placeholder."""
    method = str(request.param)
    if method != "link":

        def no_link(src: object, dst: object, *args: object, **kwargs: object) -> None:
            raise OSError(errno.EPERM, "Operation not permitted (no hard links here)")

        monkeypatch.setattr(os, "link", no_link)
    if method == "renameat2" and atomic.load_renameat2() is None:
        pytest.skip("no renameat2 on this platform")
    if method == "placeholder":
        monkeypatch.setattr(atomic, "load_renameat2", lambda: None)  # as on a platform without it
    return method


def test_each_publish_method(tmp_path: Path, publish_method: str) -> None:
    out = tmp_path / "x.bin"
    _write(out, b"first")
    assert out.read_bytes() == b"first"
    with pytest.raises(OutputExistsError):
        _write(out, b"second")
    with pytest.raises(OutputExistsError):
        _write_while_another_appears(tmp_path / "y.bin", b"late", b"early")
    assert out.read_bytes() == b"first"
    assert (tmp_path / "y.bin").read_bytes() == b"early"
    assert _leftovers(tmp_path) == []
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _race_writer(args: tuple[str, int, int]) -> tuple[int, int, int]:
    """Write every name of ``directory`` once, without force; count wins, refusals, other errors."""
    directory, writer, names = args
    won = refused = other = 0
    for i in range(names):
        outcome = _try_write(Path(directory) / f"n{i:05d}", f"writer {writer} name {i}\n".encode() * 8)
        won += outcome == "won"
        refused += outcome == "refused"
        other += outcome == "other"
    return won, refused, other


def _try_write(path: Path, data: bytes) -> str:
    try:
        _write(path, data)
    except OutputExistsError:
        return "refused"
    except Exception:
        return "other"
    return "won"


def _check_race(directory: Path, results: list[tuple[int, int, int]], writers: int, names: int) -> None:
    won = sum(r[0] for r in results)
    refused = sum(r[1] for r in results)
    assert sum(r[2] for r in results) == 0
    # Exactly one winner per name: a second "win" would be an overwrite.
    assert won == names, f"{won - names} overwrites"
    assert refused == (writers - 1) * names
    contents: Counter[str] = Counter()
    for i in range(names):
        data = (directory / f"n{i:05d}").read_bytes()
        first = data.splitlines()[0].decode()
        assert data == (first + "\n").encode() * 8, "garbled content"
        assert first.endswith(f"name {i}")
        contents[first.split()[1]] += 1
    assert sum(contents.values()) == names
    assert _leftovers(directory) == []


def test_race_threads_one_winner_per_name(tmp_path: Path) -> None:
    writers, names = 8, 300
    umask_before = _umask()
    barrier = threading.Barrier(writers)
    results: list[tuple[int, int, int]] = []
    lock = threading.Lock()

    def run(w: int) -> None:
        barrier.wait()
        r = _race_writer((str(tmp_path), w, names))
        with lock:
            results.append(r)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _check_race(tmp_path, results, writers, names)
    assert _umask() == umask_before  # concurrent writers did not leave the process with another umask
    modes = {stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {0o666 & ~umask_before}


@posix_only
def test_race_processes_one_winner_per_name(tmp_path: Path) -> None:
    writers, names = 4, int(os.environ.get("HEPSQUEEZE_RACE_NAMES", "600"))
    with ProcessPoolExecutor(writers) as pool:
        results = list(pool.map(_race_writer, [(str(tmp_path), w, names) for w in range(writers)]))
    _check_race(tmp_path, results, writers, names)


# --- temporary names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a" * 255, "a" * 241, "é" * 127 + "x", "ü" * 120 + ".hsqz"])
def test_longest_names_fit(tmp_path: Path, name: str) -> None:
    assert len(os.fsencode(name)) <= 255
    prefix = temporary_prefix(name)
    assert len(os.fsencode(prefix)) + 8 + 4 <= 255
    out = tmp_path / name
    seen: list[str] = []
    with atomic_open(out) as fh:
        seen.append(Path(fh.name).name)
        fh.write(b"long")
    assert out.read_bytes() == b"long"
    assert len(os.fsencode(seen[0])) <= 255
    assert seen[0].startswith(".")
    assert seen[0].endswith(".tmp")
    assert _leftovers(tmp_path) == []


def test_short_names_keep_the_readable_temporary_name() -> None:
    assert temporary_prefix("big.hsqz") == ".big.hsqz."
    assert temporary_prefix("a" * 241) == "." + "a" * 241 + "."
    long_a, long_b = temporary_prefix("a" * 250 + "1"), temporary_prefix("a" * 250 + "2")
    assert long_a != long_b  # the hash keeps names that share a long start apart


# --- directories created for the output ----------------------------------------------------------------


def _fail_after_writing(out: Path, also: Path | None = None) -> None:
    with atomic_output(out) as tmp:
        if also is not None:
            also.write_text("someone else's")
        tmp.write_bytes(b"partial")
        raise RuntimeError("writer failed")


def test_created_directories_are_removed_on_failure(tmp_path: Path) -> None:
    (tmp_path / "keep").mkdir()
    out = tmp_path / "keep" / "a" / "b" / "x.bin"
    with pytest.raises(RuntimeError, match="writer failed"):
        _fail_after_writing(out)
    assert (tmp_path / "keep").is_dir()
    assert list((tmp_path / "keep").iterdir()) == []


def test_created_directories_are_removed_when_verify_fails(tmp_path: Path) -> None:
    out = tmp_path / "new" / "x.bin"
    calls: list[bytes] = []

    def verify(p: Path) -> None:
        calls.append(p.read_bytes())
        raise ValueError("read back differs")

    with pytest.raises(ValueError, match="read back differs"), atomic_open(out, verify=verify) as fh:
        fh.write(b"bytes")
    assert calls == [b"bytes"]
    assert not (tmp_path / "new").exists()


def test_created_directories_with_other_files_stay(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "x.bin"
    with pytest.raises(RuntimeError, match="writer failed"):
        _fail_after_writing(out, also=tmp_path / "a" / "other.txt")
    assert not (tmp_path / "a" / "b").exists()
    assert (tmp_path / "a" / "other.txt").read_text() == "someone else's"


def test_created_directories_stay_on_success(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "b" / "x.bin", b"ok")
    assert (tmp_path / "a" / "b" / "x.bin").read_bytes() == b"ok"


# --- signal cleanup registry -------------------------------------------------------------------------


def test_remove_live_temporaries(tmp_path: Path) -> None:
    out = tmp_path / "new" / "x.bin"
    seen: list[bool] = []
    temporaries: list[Path] = []

    def write() -> None:
        with atomic_output(out) as tmp:
            temporaries.append(tmp)
            tmp.write_bytes(b"partial")
            seen.append(tmp.exists())
            remove_live_temporaries()  # what the SIGTERM/SIGHUP handler does
            seen.extend([tmp.exists(), (tmp_path / "new").exists()])
            # the write then fails (its temporary file is gone); nothing is published

    with pytest.raises(FileNotFoundError):
        write()
    assert seen == [True, False, False]
    assert not out.exists()
    # The finished write is no longer registered: files made later under its names are not removed.
    (tmp_path / "new").mkdir()
    temporaries[0].write_bytes(b"someone else's")
    remove_live_temporaries()
    assert temporaries[0].read_bytes() == b"someone else's"
    assert (tmp_path / "new").is_dir()


def test_remove_live_temporaries_spares_other_processes_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with atomic_output(tmp_path / "x.bin") as tmp:
        tmp.write_bytes(b"mine")
        real_pid = os.getpid()
        monkeypatch.setattr(os, "getpid", lambda: real_pid + 1)  # as in a forked child
        remove_live_temporaries()
        monkeypatch.undo()
        assert tmp.exists()
    assert (tmp_path / "x.bin").read_bytes() == b"mine"


@posix_only
def test_signal_handlers_are_installed_and_restored() -> None:
    import signal

    before = signal.getsignal(signal.SIGTERM)
    if before is not signal.SIG_DFL:
        pytest.skip("SIGTERM already handled in this process")
    previous = atomic.install_signal_cleanup()
    try:
        assert signal.getsignal(signal.SIGTERM) is atomic.cleanup_and_reraise
    finally:
        atomic.restore_signal_handlers(previous)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    ignored = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:  # nohup: an ignored SIGHUP stays ignored
        previous = atomic.install_signal_cleanup()
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        atomic.restore_signal_handlers(previous)
    finally:
        signal.signal(signal.SIGHUP, ignored)
