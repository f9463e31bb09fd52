"""A killed compression leaves no file under the target name; SIGTERM and SIGHUP leave no temporary file either."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    sys.path.insert(0, sys.argv[2])
    from reliability_helpers import tiny_model
    import hepsqueeze as hsq
    from hepsqueeze.io.table import Table

    rows = 1 << 22
    rng = np.random.default_rng(0)
    x = (np.abs(rng.standard_normal((rows, 4))) * 50 + 1).astype(np.float32)
    table = Table({"event": np.arange(rows, dtype=np.int64), "E": x[:, 0], "pt": x[:, 1],
                   "eta": x[:, 2], "phi": x[:, 3], "w": rng.standard_normal(rows)})
    print("start", flush=True)
    hsq.compress(table, sys.argv[1], model=tiny_model(), chunk_rows=1 << 16)
    print("finished", flush=True)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_during_compression_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "big.hsqz"
    helpers = Path(__file__).parent
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(target), str(helpers)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "start"
        deadline = time.monotonic() + 60
        # Kill once the temporary file holds some sections: mid-write.
        while time.monotonic() < deadline:
            temps = [p for p in tmp_path.iterdir() if p.name.startswith(".big.hsqz.") and p.suffix == ".tmp"]
            if temps and temps[0].stat().st_size > 200_000:
                break
            assert proc.poll() is None, "compression finished before it could be killed; make it bigger"
            time.sleep(0.01)
        else:
            pytest.fail("no temporary file grew within 60 s")
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert not target.exists()
    # Only the hidden temporary file remains (the process had no chance to remove it).
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".big.hsqz.")] == []


@pytest.fixture(scope="module")
def big_job(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 4M-row Parquet table and a tiny model file: a CLI compression that takes a few seconds."""
    from reliability_helpers import tiny_model

    from hepsqueeze.io import write_table
    from hepsqueeze.io.table import Table
    from hepsqueeze.models import save_model

    d = tmp_path_factory.mktemp("big")
    rows = 1 << 22
    rng = np.random.default_rng(0)
    x = (np.abs(rng.standard_normal((rows, 4))) * 50 + 1).astype(np.float32)
    table = Table(
        {
            "event": np.arange(rows, dtype=np.int64),
            "E": x[:, 0],
            "pt": x[:, 1],
            "eta": x[:, 2],
            "phi": x[:, 3],
            "w": rng.standard_normal(rows),
        }
    )
    return write_table(table, d / "big.parquet"), save_model(tiny_model(), d / "tiny.hsqm")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("stream", [False, True])
def test_sigterm_and_sighup_remove_the_temporary_file(
    signame: str, stream: bool, big_job: tuple[Path, Path], tmp_path: Path
) -> None:
    """Batch systems send SIGTERM (or SIGHUP) at the time limit: the CLI removes its temporary file
    and the directories it created, then dies of the signal (a shell sees exit status 128 + signum)."""
    signum = getattr(signal, signame)
    data, model = big_job
    out_dir = tmp_path / "new" / "deeper"
    target = out_dir / "big.hsqz"
    cmd = [
        sys.executable,
        "-m",
        "hepsqueeze.cli",
        "compress",
        str(data),
        "--model",
        str(model),
        "-o",
        str(target),
    ]
    proc = subprocess.Popen(
        [*cmd, "--stream"] if stream else cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_signals,  # noqa: PLW1509 (resets two handlers; nohup or a CI runner may ignore SIGHUP)
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            temps = list(out_dir.glob(".big.hsqz.*.tmp")) if out_dir.is_dir() else []
            if temps and temps[0].stat().st_size > 200_000:
                break
            assert proc.poll() is None, "compression finished before the signal; make it bigger"
            time.sleep(0.01)
        else:
            pytest.fail("no temporary file grew within 60 s")
        os.kill(proc.pid, signum)
        assert proc.wait(30) == -signum  # died of the signal: the shell's $? is 128 + signum
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stderr = proc.stderr.read() if proc.stderr is not None else ""
        if proc.stderr is not None:
            proc.stderr.close()
    assert "Traceback" not in stderr
    assert not target.exists()
    assert not (tmp_path / "new").exists(), sorted(str(p) for p in tmp_path.rglob("*"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_shell_sees_128_plus_signum(big_job: tuple[Path, Path], tmp_path: Path) -> None:
    """The exit status a batch script sees after SIGTERM is 143."""
    data, model = big_job
    target = tmp_path / "big.hsqz"
    script = (
        f'"{sys.executable}" -m hepsqueeze.cli compress "{data}" --model "{model}" -o "{target}" & pid=$!; '
        f'while ! ls "{tmp_path}"/.big.hsqz.*.tmp >/dev/null 2>&1; do sleep 0.05; done; '
        'kill -TERM $pid; wait $pid; echo "status $?"'
    )
    res = subprocess.run(
        ["sh", "-c", script],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_default_signals,
    )
    assert res.stdout.strip().splitlines()[-1] == f"status {128 + signal.SIGTERM}", res.stderr
    assert list(tmp_path.iterdir()) == []


def _default_signals() -> None:
    """SIGTERM and SIGHUP as a batch system delivers them: not ignored (hepsqueeze, like any
    program, leaves a signal its parent ignores alone)."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
