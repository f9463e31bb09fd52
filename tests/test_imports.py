"""Commands that run no network do not import torch (about 1 s and 500 MB of address space)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from hepsqueeze.codec.bounded_file import compress_bounded, parse_max_error
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table


def test_reading_an_error_bounded_file_imports_no_torch(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 200
    pt = (20 + rng.exponential(40, n)).astype(np.float32)
    eta = rng.uniform(-3, 3, n).astype(np.float32)
    table = Table(
        {
            "event": np.arange(n, dtype=np.int64) // 4,
            "E": (pt * np.cosh(eta)).astype(np.float32),
            "pt": pt,
            "eta": eta,
            "phi": rng.uniform(-3, 3, n).astype(np.float32),
        }
    )
    src = tmp_path / "b.hsqz"
    compress_bounded(Dataset.from_table(table), src, parse_max_error("1e-3"))
    code = (
        "import sys; from hepsqueeze.cli import main; "
        f"assert main(['info', {str(src)!r}]) == 0; "
        f"assert main(['decompress', {str(src)!r}, '-o', {str(tmp_path / 'b.parquet')!r}]) == 0; "
        f"assert main(['decompress', {str(src)!r}, '--stream', '-o', {str(tmp_path / 's.parquet')!r}]) == 0; "
        "print('torch' in sys.modules)"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().splitlines()[-1] == "False"
