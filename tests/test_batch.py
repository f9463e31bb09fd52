"""Many files on Dask: inputs expanded with their layout, one record per file, failures named with
nothing written for them, runs resumed, and the CLI's --out-dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hepsqueeze as hsq
from hepsqueeze.batch import Status, compress_many, decompress_many, expand_inputs, output_path
from hepsqueeze.cli import main
from hepsqueeze.errors import ConfigError, InputFileNotFoundError
from hepsqueeze.io.table import Table


def _write_jets(path: Path, seed: int, rows: int = 400) -> None:
    rng = np.random.default_rng(seed)
    pt = (20 + rng.exponential(40, rows)).astype(np.float32)
    columns: dict[str, np.ndarray[Any, Any]] = {
        "event": np.arange(rows, dtype=np.int64) // 4,
        "E": (pt * 1.5).astype(np.float32),
        "pt": pt,
        "eta": rng.normal(0, 1.5, rows).astype(np.float32),
        "phi": rng.uniform(-3, 3, rows).astype(np.float32),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    hsq.write_table(Table(columns), path)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """in/a.parquet, in/x/b.parquet, in/x/y/c.parquet and a file that is not Parquet."""
    root = tmp_path / "in"
    for i, rel in enumerate(("a.parquet", "x/b.parquet", "x/y/c.parquet")):
        _write_jets(root / rel, i)
    (root / "x" / "notes.txt").write_text("not an input")
    return root


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0")
    with Client(cluster) as c:
        yield c
    cluster.close()


def test_inputs_keep_their_layout(tree: Path, tmp_path: Path) -> None:
    pairs = expand_inputs([tree])
    assert [str(rel) for _, rel in pairs] == ["a.parquet", "x/b.parquet", "x/y/c.parquet"]  # .txt left out
    assert output_path(Path("x/y/c.parquet"), tmp_path, ".hsqz") == tmp_path / "x" / "y" / "c.hsqz"
    globbed = expand_inputs([str(tree / "**" / "*.parquet")])
    assert [str(rel) for _, rel in globbed] == ["a.parquet", "x/b.parquet", "x/y/c.parquet"]
    assert [str(rel) for _, rel in expand_inputs([tree / "x" / "b.parquet"])] == ["b.parquet"]
    with pytest.raises(InputFileNotFoundError, match="does not exist"):
        expand_inputs([tree / "missing.parquet"])
    with pytest.raises(InputFileNotFoundError, match="matches no file"):
        expand_inputs([str(tree / "*.root")])
    _write_jets(tmp_path / "other" / "b.parquet", 9)
    with pytest.raises(ConfigError, match="same output"):
        expand_inputs([tree / "x" / "b.parquet", tmp_path / "other" / "b.parquet"])


def test_many_files_failures_named_and_resumed(tree: Path, tmp_path: Path, client: Any) -> None:
    (tree / "x" / "bad.parquet").write_bytes(b"not parquet")
    out = tmp_path / "out"
    records = compress_many([tree], out, client=client, max_error="1e-3")
    by_name = {Path(r.input).name: r for r in records}
    assert by_name["bad.parquet"].status == Status.FAILED
    assert "bad.parquet" in str(by_name["bad.parquet"].input)
    assert by_name["bad.parquet"].error
    assert not (out / "x" / "bad.hsqz").exists()  # nothing written for a failed input
    assert not [p for p in out.rglob("*") if p.is_file() and p.suffix != ".hsqz"]  # no temporary files
    for name in ("a.parquet", "b.parquet", "c.parquet"):
        rec = by_name[name]
        assert rec.status == Status.WRITTEN
        assert rec.ratio is not None
        assert rec.ratio > 1
        back = hsq.decompress(rec.output, library="np")
        original = hsq.read_table(rec.input)
        assert float(np.abs(back["eta"] - original["eta"]).max()) <= 1e-3
    again = compress_many([tree], out, client=client, max_error="1e-3")
    assert [r.status for r in again if r.status != Status.FAILED] == [Status.SKIPPED] * 3
    back = decompress_many([out], tmp_path / "back", client=client)
    assert sorted(str(Path(r.output).relative_to(tmp_path / "back")) for r in back) == [
        "a.parquet",
        "x/b.parquet",
        "x/y/c.parquet",
    ]
    assert all(r.status == Status.WRITTEN for r in back)


def test_cli_out_dir(tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    code = main(["compress", str(tree), "--out-dir", str(out), "--max-error", "1e-3", "--workers", "1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.hsqz")) == [
        "a.hsqz",
        "x/b.hsqz",
        "x/y/c.hsqz",
    ]
    (tree / "bad.parquet").write_bytes(b"junk")
    code = main(["compress", str(tree), "--out-dir", str(out), "--max-error", "1e-3", "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 1
    assert "1 of 4 inputs failed" in err
    assert "bad.parquet" in err
    for args, message in (
        (
            ["compress", str(tree), "--out-dir", str(out), "-o", "x.hsqz", "--max-error", "1e-3"],
            "-o names one output",
        ),
        (
            ["compress", str(tree / "a.parquet"), "--workers", "2", "-o", "y.hsqz", "--max-error", "1e-3"],
            "apply to --out-dir",
        ),
        (
            [
                "compress",
                str(tree / "a.parquet"),
                str(tree / "x" / "b.parquet"),
                "-o",
                "z.hsqz",
                "--max-error",
                "1e-3",
            ],
            "--out-dir DIR for several",
        ),
    ):
        assert main(args) == 2
        assert message in capsys.readouterr().err


def test_cli_decompress_out_dir(tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    packed, back = tmp_path / "packed", tmp_path / "back"
    assert (
        main(["compress", str(tree), "--out-dir", str(packed), "--max-error", "1e-3", "--workers", "1"]) == 0
    )
    code = main(["decompress", str(packed), "--out-dir", str(back), "--workers", "1", "--suffix", ".npz"])
    assert code == 0, capsys.readouterr().err
    assert sorted(str(p.relative_to(back)) for p in back.rglob("*.npz")) == ["a.npz", "x/b.npz", "x/y/c.npz"]
    assert main(["decompress", str(packed), "--out-dir", str(back), "--stream"]) == 2
    assert "--stream does not apply to --out-dir" in capsys.readouterr().err


@pytest.mark.slow
def test_a_worker_killed_mid_run(tmp_path: Path) -> None:
    """A ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1; one worker is killed
    when the first file is done: the run completes, and every output decodes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from dask.distributed import Client

    root = tmp_path / "in"
    for i in range(40):
        _write_jets(root / f"f{i:02d}.parquet", i, rows=4000)
    bin_dir = Path(sys.executable).parent
    port = 20000 + os.getpid() % 20000
    address = f"tcp://127.0.0.1:{port}"
    null = subprocess.DEVNULL
    scheduler = [str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port)]
    procs = [subprocess.Popen([*scheduler, "--dashboard-address", ":0"], stdout=null, stderr=null)]
    try:
        time.sleep(2)
        workers = [
            subprocess.Popen(
                [
                    str(bin_dir / "dask"),
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--dashboard-address",
                    ":0",
                ],
                stdout=null,
                stderr=null,
            )
            for _ in range(2)
        ]
        procs += workers
        with Client(address) as client:
            client.wait_for_workers(2, timeout=60)
            killed: list[bool] = []

            def kill_after_first(_: Any) -> None:
                if not killed:
                    workers[0].send_signal(signal.SIGKILL)
                    killed.append(True)

            records = compress_many(
                [root], tmp_path / "out", client=client, progress=kill_after_first, max_error="1e-3"
            )
        assert killed
        # a file the killed worker had published but not reported is found decoding and skipped
        assert {r.status for r in records} <= {Status.WRITTEN, Status.SKIPPED}
        assert len(records) == 40
        for r in records:
            hsq.decompress(r.output)
    finally:
        for p in procs:
            p.kill()
            p.wait()
