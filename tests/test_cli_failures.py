"""Every failure of a command is one line and exit status 1: no tracebacks, no typer boxes, no damage."""

from __future__ import annotations

import errno
import os
import stat
import sys
import typing
from pathlib import Path

import pytest
import typer

from hepsqueeze import atomic
from hepsqueeze.cli import app, main
from hepsqueeze.io import read_table

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file types")


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 1, err
    assert "Traceback" not in err
    assert "Usage:" not in err
    assert "╭" not in err  # typer's error box
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in err, err


# --- unexpected exceptions -------------------------------------------------------------------------


def test_memory_error_is_one_line(
    jets_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import hepsqueeze.file.reader as compress_module

    def bomb(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(compress_module, "file_info", bomb)
    code, _, err = run(["info", str(jets_file)], capsys)
    assert_one_line_error(code, err, "out of memory while running info", "may claim more data than it holds")


def test_unexpected_exception_is_an_internal_error(
    jets_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import hepsqueeze.file.reader as compress_module

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("pt [duplicated]\nsecond line")

    monkeypatch.setattr(compress_module, "file_info", broken)
    code, _, err = run(["info", str(jets_file)], capsys)
    assert_one_line_error(code, err, "internal error in info: KeyError:", "[duplicated]", "please report")
    # -vv shows the traceback (logged at debug level), still ending with the one-line error
    code, _, err = run(["-vv", "info", str(jets_file)], capsys)
    assert code == 1
    assert "Traceback" in err
    assert err.strip().splitlines()[-1].startswith("error: internal error in info: KeyError")


@pytest.mark.parametrize("bound", ["1e-20", "1e-300", "phi=1e-30"])
def test_extreme_bounds_give_no_traceback(
    bound: str, jets_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.hsqz"
    code, _, err = run(["compress", str(jets_file), "--max-error", bound, "-o", str(out)], capsys)
    assert "Traceback" not in err
    if code != 0:  # refused, or an internal error: either way one line, and no file
        assert_one_line_error(code, err)
        assert not out.exists()
    assert _leftovers(tmp_path) == []


def test_usage_errors_keep_exit_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["compress", "--no-such-option"], capsys)
    assert code == 2
    assert "No such option" in err


# --- inputs --------------------------------------------------------------------------------------------


def _path_params(group: typer.Typer, prefix: str = "") -> list[tuple[str, typer.models.ParameterInfo]]:
    """(command parameter, typer's parameter info) of every Path-typed argument and option."""
    found = []
    for command in group.registered_commands:
        callback = command.callback
        assert callback is not None
        for name, hint in typing.get_type_hints(callback, include_extras=True).items():
            if typing.get_origin(hint) is not typing.Annotated:
                continue
            base, *meta = typing.get_args(hint)
            if Path in (base, *typing.get_args(base)):
                info = next(m for m in meta if isinstance(m, typer.models.ParameterInfo))
                found.append((f"{prefix}{command.name or callback.__name__} {name}", info))
    for sub in group.registered_groups:
        assert sub.typer_instance is not None
        found += _path_params(sub.typer_instance, f"{prefix}{sub.name} ")
    return found


def test_no_path_parameter_is_validated_by_typer() -> None:
    """typer's own checks (exists, readable, ...) answer with a usage box and exit 2: the commands check."""
    params = _path_params(app)
    assert len(params) > 15
    for name, info in params:
        assert not info.readable, name
        assert not info.exists, name
        assert not info.writable, name
        assert info.dir_okay, name
        assert info.file_okay, name


def test_input_typer_thinks_unreadable_is_read_by_the_command(
    jets_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    packed = tmp_path / "j.hsqz"
    code, _, err = run(["compress", str(jets_file), "--max-error", "1e-3", "-o", str(packed)], capsys)
    assert code == 0, err
    # typer asks os.access (as root everything is readable): pretend it says no.
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    code, _, err = run(["info", str(packed), "--json"], capsys)
    assert code == 0, err  # no typer box and exit 2: the command reads the file itself


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root can read anything")
def test_permission_denied_input_is_one_line(
    jets_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = tmp_path / "locked.parquet"
    locked.write_bytes(jets_file.read_bytes())
    locked.chmod(0)
    try:
        code, _, err = run(
            ["compress", str(locked), "--max-error", "1e-3", "-o", str(tmp_path / "x.hsqz")], capsys
        )
    finally:
        locked.chmod(0o600)
    assert_one_line_error(code, err, "ermission denied")


@pytest.mark.parametrize(
    "args",
    [
        ["compress", "{bad}", "--max-error", "1e-3", "-o", "{out}.hsqz"],
        ["compress", "{bad}", "--max-error", "1e-3", "--stream", "-o", "{out}.hsqz"],
        ["decompress", "{bad}", "-o", "{out}.parquet"],
        ["decompress", "{bad}", "--stream", "-o", "{out}.parquet"],
        ["info", "{bad}"],
        ["train", "{bad}", "-o", "{out}.hsqm"],
        ["inspect", "{bad}", "--report", "{out}"],
        ["evaluate", "{bad}", "{bad}", "--report", "{out}"],
    ],
)
@pytest.mark.parametrize("kind", ["missing", "directory", "under_a_file"])
def test_bad_input_paths_are_one_line(
    args: list[str], kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_bytes(b"x")
    bad = {
        "missing": tmp_path / "nope.parquet",
        "directory": tmp_path / "dir",
        "under_a_file": tmp_path / "file" / "x.parquet",
    }[kind]
    argv = [a.format(bad=bad, out=tmp_path / "out") for a in args]
    code, _, err = run(argv, capsys)
    assert_one_line_error(code, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "file"]


# --- outputs -------------------------------------------------------------------------------------------


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*.tmp"))


@pytest.fixture
def special_outputs(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_bytes(b"keep")
    (tmp_path / "link").symlink_to("file")
    outputs = {"dir": tmp_path / "dir", "link": tmp_path / "link", "under_a_file": tmp_path / "file" / "x"}
    if sys.platform != "win32":
        os.mkfifo(tmp_path / "fifo")
        outputs["fifo"] = tmp_path / "fifo"
    if Path("/dev/null").is_char_device():
        outputs["device"] = Path("/dev/null")
    return outputs


@posix_only
@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize(
    "args",
    [
        ["compress", "{data}", "--max-error", "1e-3", "-o", "{out}"],
        ["compress", "{data}", "--max-error", "1e-3", "--stream", "-o", "{out}"],
        ["compress", "{missing}", "--max-error", "1e-3", "-o", "{out}"],  # checked before the input
        ["decompress", "{missing}", "-o", "{out}"],
        ["decompress", "{missing}", "--stream", "-o", "{out}"],
        ["train", "{missing}", "-o", "{out}"],
        ["generate", "qcd", "--events", "8", "-o", "{out}"],
    ],
)
def test_special_outputs_are_refused_before_the_work(
    args: list[str],
    force: bool,
    special_outputs: dict[str, Path],
    jets_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dev_before = os.lstat("/dev/null") if "device" in special_outputs else None
    for kind, out in special_outputs.items():
        argv = [a.format(data=jets_file, missing=tmp_path / "nope", out=out) for a in args]
        code, _, err = run([*argv, "--force"] if force else argv, capsys)
        assert_one_line_error(code, err, str(out))
        assert "nope" not in err, f"{kind}: the output must be checked before the input is read"
    assert (tmp_path / "file").read_bytes() == b"keep"
    assert (tmp_path / "link").is_symlink()
    assert (tmp_path / "dir").is_dir()
    assert list((tmp_path / "dir").iterdir()) == []
    if sys.platform != "win32":
        assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)
    if dev_before is not None:
        dev_after = os.lstat("/dev/null")
        assert stat.S_ISCHR(dev_after.st_mode)
        assert dev_after.st_ino == dev_before.st_ino
    assert _leftovers(tmp_path) == []


def test_report_directories_that_are_files_are_refused(
    jets_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "taken"
    taken.write_bytes(b"keep")
    for argv in (
        ["inspect", str(jets_file), "--report", str(taken)],
        ["evaluate", str(jets_file), str(jets_file), "--report", str(taken)],
        ["benchmark", str(jets_file), "--out", str(taken)],
        ["study", "normalisation", str(jets_file), "--out", str(taken)],
        ["demo", "--workdir", str(taken)],
    ):
        code, _, err = run(argv, capsys)
        assert_one_line_error(code, err, "is not a directory")
    assert taken.read_bytes() == b"keep"


def test_decompress_stream_writes_parquet_only(
    jets_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    packed = tmp_path / "j.hsqz"
    code, _, err = run(["compress", str(jets_file), "--max-error", "1e-3", "-o", str(packed)], capsys)
    assert code == 0, err
    for argv in (
        ["-o", str(tmp_path / "x.csv")],
        ["-o", str(tmp_path / "x.parquet"), "--format", "csv"],
        ["-o", str(tmp_path / "x.h5")],
        ["-o", str(tmp_path / "x")],
        ["-o", str(tmp_path / "x.unknown")],
    ):
        code, _, err = run(["decompress", str(packed), "--stream", *argv], capsys)
        assert_one_line_error(code, err, "--stream writes Parquet only", ".parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j.hsqz"]
    code, _, err = run(["decompress", str(packed), "--stream", "-o", str(tmp_path / "x.parquet")], capsys)
    assert code == 0, err
    assert read_table(tmp_path / "x.parquet").num_rows == read_table(jets_file).num_rows
    # judged by the name, not by what an existing file (replaced with --force) holds
    (tmp_path / "y.pq").write_text("a,b\n1,2\n")
    code, _, err = run(
        ["decompress", str(packed), "--stream", "--force", "-o", str(tmp_path / "y.pq")], capsys
    )
    assert code == 0, err
    code, _, err = run(
        ["decompress", str(packed), "--stream", "--format", "parquet", "-o", str(tmp_path / "z.dat")], capsys
    )
    assert code == 0, err
    assert read_table(tmp_path / "z.dat", format="parquet").num_rows == read_table(jets_file).num_rows


def test_longest_output_name(jets_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = "j" * 250 + ".hsqz"
    assert len(name.encode()) == 255
    code, _, err = run(
        ["compress", str(jets_file), "--max-error", "1e-3", "-o", str(tmp_path / name)], capsys
    )
    assert code == 0, err
    back = tmp_path / ("b" * 247 + ".parquet")
    code, _, err = run(["decompress", str(tmp_path / name), "-o", str(back)], capsys)
    assert code == 0, err
    assert read_table(back).num_rows == read_table(jets_file).num_rows
    assert _leftovers(tmp_path) == []


def test_failed_write_removes_the_directories_it_created(
    jets_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "existing").mkdir()
    out = tmp_path / "existing" / "new" / "deeper" / "x.hsqz"

    def disk_full(fd: int) -> None:  # the finished file's fsync: the disk filled up meanwhile
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out))

    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    for extra in ([], ["--stream"]):
        code, _, err = run(
            ["compress", str(jets_file), "--max-error", "1e-3", *extra, "-o", str(out)], capsys
        )
        assert_one_line_error(code, err, "No space left on device", str(out))
        assert (tmp_path / "existing").is_dir()
        assert list((tmp_path / "existing").iterdir()) == []
    monkeypatch.undo()
    code, _, err = run(["compress", str(jets_file), "--max-error", "1e-3", "-o", str(out)], capsys)
    assert code == 0, err
    assert out.is_file()


def test_os_errors_are_path_and_reason(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import hepsqueeze.file.reader as compress_module

    def denied(path: object) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), "x.hsqz")

    monkeypatch.setattr(compress_module, "file_info", denied)
    code, _, err = run(["info", "x.hsqz"], capsys)
    assert_one_line_error(code, err, "x.hsqz: Permission denied")
    assert "Errno" not in err
