"""Memory bombs: every file of the corpus (``bomb_corpus.py``) read under a 1 GiB address-space limit.

Each must fail with one clean hepsqueeze error line and exit status 1: never MemoryError, a
traceback, an "internal error" or more memory than the limit. The default suite runs the whole
corpus in one limited process (``hepsqueeze.cli.main`` in-process, one import of everything);
the slow suite runs each case as its own ``hepsqueeze`` process.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bomb_corpus import LIMIT_BYTES, RUNNER_ENV, Bomb, build_corpus

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
CLI = Path(sys.executable).parent / "hepsqueeze"
Corpus = tuple[Path, list[Bomb]]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    directory = tmp_path_factory.mktemp("bombs")
    return directory, build_corpus(directory)


def problems(code: Any, stderr: str) -> list[str]:
    """What is wrong with an outcome (empty: a clean one-line hepsqueeze error, exit status 1)."""
    found = []
    lines = [line for line in stderr.splitlines() if line.strip()]
    if code != 1:
        found.append(f"exit status {code}, not 1")
    if len(lines) != 1 or not lines[0].startswith("error: "):
        found.append(f"stderr is not one 'error:' line: {stderr[-2000:]!r}")
    found += [f"stderr mentions {w!r}" for w in ("Traceback", "MemoryError", "internal error") if w in stderr]
    return found


def test_corpus_size(corpus: Corpus) -> None:
    _, cases = corpus
    kinds = {c.kind for c in cases}
    assert len(cases) >= 20
    assert {"npy", "npz", "darkmachines", "root", "header", "section", "bounded", "input"} <= kinds


def test_every_bomb_fails_cleanly_under_1gib(corpus: Corpus) -> None:
    directory, cases = corpus
    argv = json.dumps([list(c.argv) for c in cases])
    env = {**os.environ, **RUNNER_ENV, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, str(HERE / "bomb_corpus.py"), str(directory), argv],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(results) == len(cases)
    failures = []
    for case, result in zip(cases, results, strict=True):
        found = problems(result["code"], result["stderr"])
        log.info(
            "%-40s %-12s exit %s, peak RSS %d MiB, %.2f s: %s", case.name, case.kind, result["code"],
            result["peak_rss_kib"] >> 10, result["seconds"], result["stderr"].strip()[:200],
        )  # fmt: skip
        if found:
            failures.append(f"{case.name}: {'; '.join(found)}")
    assert failures == []


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))


@pytest.mark.slow
def test_every_bomb_via_its_own_cli_process(corpus: Corpus) -> None:
    directory, cases = corpus
    env = {**os.environ, **RUNNER_ENV, "PYTHONWARNINGS": "ignore"}
    failures = []
    for case in cases:
        proc = subprocess.run(
            [str(CLI), *case.argv], cwd=directory, capture_output=True, text=True, env=env,
            preexec_fn=_limit, timeout=300, check=False,
        )  # fmt: skip
        found = problems(proc.returncode, proc.stderr)
        log.warning("%-40s exit %d: %s", case.name, proc.returncode, proc.stderr.strip()[:200])
        if found:
            failures.append(f"{case.name}: {'; '.join(found)}")
    assert failures == []
