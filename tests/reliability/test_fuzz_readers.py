"""The input readers' fuzz target (``fuzz/fuzz_readers.py``): seeds and mutants, and a short atheris run."""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

log = logging.getLogger(__name__)
SCRIPT = Path(__file__).resolve().parents[2] / "fuzz" / "fuzz_readers.py"


def fuzz_readers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_readers", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fuzz_readers_seeds_and_mutants(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Every seed reads; random byte mutants read or raise a hepsqueeze error (nothing else)."""
    fuzz = fuzz_readers()
    seeds = [p.read_bytes() for p in fuzz.make_corpus(tmp_path / "corpus") if p.parent.name == "all"]
    assert len(seeds) >= 20
    rng = np.random.default_rng(7)
    runs = 0
    with caplog.at_level(logging.ERROR):  # readers warn about odd but valid files
        for seed in seeds:
            fuzz.check(seed)
            for _ in range(40):
                mutant = bytearray(seed)
                for pos in rng.integers(1, len(mutant), int(rng.integers(1, 5))):
                    mutant[pos] = int(rng.integers(0, 256))
                fuzz.check(bytes(mutant[: int(rng.integers(2, len(mutant) + 1))]))
                runs += 1
    assert runs == 40 * len(seeds)


@pytest.mark.slow
def test_atheris_readers_short_run(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    subprocess.run([sys.executable, str(SCRIPT), "--make-corpus", str(corpus)], check=True, env=env)
    runs = int(os.environ.get("HEPSQUEEZE_FUZZ_RUNS", "5000"))
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(corpus / "all"), f"-atheris_runs={runs}", "-max_len=8192",
         "-rss_limit_mb=2048", "-timeout=60", f"-artifact_prefix={tmp_path}/", "-print_final_stats=1"],
        check=False, capture_output=True, text=True, env=env, timeout=1800,
    )  # fmt: skip
    stats = [line for line in proc.stderr.splitlines() if line.startswith(("stat::", "Done"))]
    log.warning("atheris (readers): %s", "; ".join(stats))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Done" in proc.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-"))]
    shutil.rmtree(corpus)
