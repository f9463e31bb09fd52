"""A compression killed with SIGKILL leaves no file under the target name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    sys.path.insert(0, sys.argv[2])
    from reliability_helpers import tiny_model
    from hepsqueeze.codec.compress import compress_table
    from hepsqueeze.io.table import Table

    rows = 1 << 22
    rng = np.random.default_rng(0)
    x = (np.abs(rng.standard_normal((rows, 4))) * 50 + 1).astype(np.float32)
    table = Table({"event": np.arange(rows, dtype=np.int64), "E": x[:, 0], "pt": x[:, 1],
                   "eta": x[:, 2], "phi": x[:, 3], "w": rng.standard_normal(rows)})
    print("start", flush=True)
    compress_table(table, tiny_model(), sys.argv[1], chunk_rows=1 << 16)
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
