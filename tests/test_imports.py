"""Commands that run no network import neither torch (about 2 s and 300 MB) nor matplotlib.

Each check runs in a fresh interpreter (so that nothing imported by the test session counts), the
commands run in-process through ``hepsqueeze.cli.main`` and the API, and ``sys.modules`` is read
at the end.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hepsqueeze.io.registry import write_table
from hepsqueeze.io.table import Table

HEAVY = ("torch", "matplotlib")


def _jets(n: int = 200) -> Table:
    rng = np.random.default_rng(0)
    pt = (20 + rng.exponential(40, n)).astype(np.float32)
    eta = rng.uniform(-3, 3, n).astype(np.float32)
    return Table(
        {
            "event": np.arange(n, dtype=np.int64) // 4,
            "E": (pt * np.cosh(eta)).astype(np.float32),
            "pt": pt,
            "eta": eta,
            "phi": rng.uniform(-3, 3, n).astype(np.float32),
        }
    )


def _heavy_modules_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint('HEAVY:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    res = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=120
    )
    assert res.returncode == 0, res.stderr[-2000:]
    marker = [line for line in res.stdout.splitlines() if line.startswith("HEAVY:")][-1]
    return [m for m in marker.removeprefix("HEAVY:").split(",") if m]


def test_import_hepsqueeze_imports_nothing_heavy() -> None:
    assert _heavy_modules_after("import hepsqueeze; dir(hepsqueeze)") == []


@pytest.fixture
def jets_file(tmp_path: Path) -> Path:
    return write_table(_jets(), tmp_path / "jets.parquet")


def test_bounded_cli_commands_import_nothing_heavy(jets_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "b.hsqz"
    code = (
        "from hepsqueeze.cli import main\n"
        f"assert main(['compress', {str(jets_file)!r}, '-o', {str(out)!r}, '--max-error', '1e-3']) == 0\n"
        f"assert main(['compress', {str(jets_file)!r}, '-o', {str(tmp_path / 's.hsqz')!r}, '--max-error', "
        "'1e-3', '--stream']) == 0\n"
        f"assert main(['info', {str(out)!r}]) == 0\n"
        f"assert main(['decompress', {str(out)!r}, '-o', {str(tmp_path / 'b.parquet')!r}]) == 0\n"
        f"assert main(['decompress', {str(out)!r}, '--stream', '-o', {str(tmp_path / 's.parquet')!r}]) == 0\n"
    )
    assert _heavy_modules_after(code) == []


def test_bounded_api_imports_nothing_heavy(jets_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "b.hsqz"
    code = (
        "import hepsqueeze as hsq\n"
        f"hsq.compress({str(jets_file)!r}, {str(out)!r}, max_error='1e-3')\n"
        f"hsq.decompress({str(out)!r}, library='np')\n"
        f"hsq.file_info({str(out)!r})\n"
    )
    assert _heavy_modules_after(code) == []


def test_a_conditional_model_imports_nothing_heavy(tmp_path: Path) -> None:
    """Compressing with the zoo's conditional model (referenced, then found by name) and
    decompressing run integer networks on numpy: no torch."""
    jets = _jets()
    columns = {n: jets[n] for n in jets.names}
    columns["m"] = (columns["pt"] * 0.1).astype(np.float32)  # a target of the model
    jets_file = write_table(Table(columns), tmp_path / "jets.parquet")
    out = tmp_path / "m.hsqz"
    code = (
        "from hepsqueeze.cli import main\n"
        f"assert main(['compress', {str(jets_file)!r}, '-o', {str(out)!r}, '--max-error', '1e-3', "
        "'--model', 'zoo:bounded-jets27d', '--no-embed-model']) == 0\n"
        f"assert main(['decompress', {str(out)!r}, '-o', {str(tmp_path / 'm.parquet')!r}]) == 0\n"
    )
    assert _heavy_modules_after(code) == []
