"""Issue 18: many files through Dask, against a shell loop over the CLI.

    .venv/bin/python benchmarks/many_files.py --out docs/scaling --files 200

Inputs: ``--files`` Parquet files of ``--jets`` 27-variable jets each, cut from the generated
samples (ttbar + QCD, single top, W+jets, seed 2; cycled, so files may repeat jets: this measures
throughput, not ratios). Every file compressed at ``--max-error 1e-3`` with the codec of every
column. Measured, each on a fresh output directory, wall time from the call to the last output:

- ``compress_many`` with a LocalCluster of 1 and of 2 worker processes (the cluster's start-up
  included);
- the same through a ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1 (start-up
  not included), and a run in which one of the two workers is killed after ``--kill-after``
  seconds (every output must then decode);
- a shell loop over the CLI, ``xargs -P 2 hepsqueeze compress``, on the first ``--loop-files``
  files (its per-file rate is compared).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import hepsqueeze as hsq
from hepsqueeze.batch import Status, compress_many
from hepsqueeze.evaluation.benchmark import machine_info, machine_markdown
from hepsqueeze.io.table import Table

SAMPLES = (
    (("ttbar", "qcd"), 12500),
    (("singletop",), 28500),
    (("wjets",), 37000),
)


def _inputs(directory: Path, files: int, jets: int) -> list[Path]:
    tables = [hsq.generate_mixture(p, events_per_process=n, seed=2, kind="jets27d") for p, n in SAMPLES]
    big = Table.concat(tables)
    rows = len(big)
    paths = []
    for i in range(files):
        start = (i * jets) % max(1, rows - jets)
        part = Table({n: big[n][start : start + jets] for n in big.names})
        path = directory / f"part{i // 50:02d}" / f"f{i:04d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        hsq.write_table(part, path)
        paths.append(path)
    return paths


def _timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _row(name: str, files: int, in_bytes: int, seconds: float, **extra: Any) -> dict[str, Any]:
    return {
        "method": name,
        "files": files,
        "seconds": seconds,
        "files_per_s": files / seconds,
        "mb_per_s": in_bytes / 1e6 / seconds,
        **extra,
    }


def _scheduler(workers: int) -> tuple[subprocess.Popen[bytes], list[subprocess.Popen[bytes]], str]:
    port = 8786 + os.getpid() % 1000
    address = f"tcp://127.0.0.1:{port}"
    bin_dir = Path(sys.executable).parent
    sched = subprocess.Popen(
        [
            str(bin_dir / "dask"),
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--dashboard-address",
            ":0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(3)
    procs = [
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
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    from dask.distributed import Client

    with Client(address) as client:
        client.wait_for_workers(workers, timeout=60)
    return sched, procs, address


def main() -> None:  # noqa: PLR0915  (one measurement after another)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--jets", type=int, default=10000)
    parser.add_argument("--loop-files", type=int, default=40)
    parser.add_argument("--kill-after", type=float, default=3.0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="hsq-many-") as tmp_name:
        tmp = Path(tmp_name)
        inputs = _inputs(tmp / "in", args.files, args.jets)
        in_bytes = sum(p.stat().st_size for p in inputs)
        for workers in (1, 2):
            records, seconds = _timed(
                lambda w=workers: compress_many([tmp / "in"], tmp / f"local{w}", workers=w, max_error="1e-3")
            )
            assert all(r.status == Status.WRITTEN for r in records)
            rows.append(_row(f"compress_many, LocalCluster of {workers}", len(records), in_bytes, seconds))
            print(rows[-1], flush=True)
        sched, procs, address = _scheduler(2)
        try:
            records, seconds = _timed(
                lambda: compress_many([tmp / "in"], tmp / "sched", scheduler=address, max_error="1e-3")
            )
            rows.append(_row("compress_many, dask scheduler + 2 workers", len(records), in_bytes, seconds))
            print(rows[-1], flush=True)
            # one worker killed mid-run: its tasks go to the other; every output must decode
            killer = {"done": False}

            def kill_one() -> None:
                time.sleep(args.kill_after)
                procs[0].send_signal(signal.SIGKILL)
                killer["done"] = True

            import threading

            thread = threading.Thread(target=kill_one)
            thread.start()
            records, seconds = _timed(
                lambda: compress_many([tmp / "in"], tmp / "killed", scheduler=address, max_error="1e-3")
            )
            thread.join()
            decoded = 0
            for r in records:
                hsq.decompress(r.output)
                decoded += 1
            rows.append(
                _row(
                    f"the same, one of 2 workers killed after {args.kill_after:.0f} s",
                    len(records),
                    in_bytes,
                    seconds,
                    killed=killer["done"],
                    failures=sum(r.status == Status.FAILED for r in records),
                    outputs_decoded=decoded,
                )
            )
            print(rows[-1], flush=True)
        finally:
            for p in (*procs, sched):
                p.kill()
        loop = inputs[: args.loop_files]
        loop_bytes = sum(p.stat().st_size for p in loop)
        (tmp / "loop").mkdir()
        cli = str(Path(sys.executable).parent / "hepsqueeze")
        out = f"{tmp}/loop/$(basename {{}} .parquet).hsqz"
        script = f"xargs -P 2 -I{{}} sh -c '{cli} compress {{}} -o {out} --max-error 1e-3 > /dev/null'"
        _, seconds = _timed(
            lambda: subprocess.run(script, shell=True, input="\n".join(map(str, loop)).encode(), check=True)
        )
        rows.append(_row("shell loop over the CLI, xargs -P 2", len(loop), loop_bytes, seconds))
        print(rows[-1], flush=True)
    result = {"files": args.files, "jets_per_file": args.jets, "input_bytes": in_bytes, "rows": rows,
              "machine": machine_info(), "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}  # fmt: skip
    two, one = rows[1]["files_per_s"], rows[0]["files_per_s"]
    result["speedup_2_workers"] = two / one
    result["vs_shell_loop"] = two / rows[-1]["files_per_s"]
    (args.out / "many_files.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        f"{args.files} files of {args.jets} jets ({in_bytes / 1e6:.1f} MB of Parquet), `--max-error 1e-3`:",
        "",
        "| method | files | seconds | files/s | MB/s | notes |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        notes = ", ".join(f"{k} {v}" for k, v in r.items() if k in ("killed", "failures", "outputs_decoded"))
        lines.append(
            f"| {r['method']} | {r['files']} | {r['seconds']:.1f} | {r['files_per_s']:.2f} "
            f"| {r['mb_per_s']:.1f} | {notes} |"
        )
    lines += [
        "",
        f"Speed-up of 2 local workers over 1: {result['speedup_2_workers']:.2f}x; 2 local workers against the "
        f"shell loop (files/s): {result['vs_shell_loop']:.1f}x.",
        "",
        *machine_markdown(result["machine"], result["created_utc"]),
    ]
    (args.out / "many_files.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
