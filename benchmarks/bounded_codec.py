"""Issue 9: the error-bounded jet codec against SZ3, ZFP, quantisation and bit rounding, same run.

    .venv/bin/python benchmarks/bounded_codec.py --events 12500 --out docs/benchmarks/bounded

Jets: ttbar + QCD (``--events`` per process, generator seed ``--seed``; ``--kind jets27d`` reads the
same jets as ``jets`` from its cache). Every method compresses the float32 (E, pt, eta, phi) array at
each max error (relative for E and pt, absolute for eta and phi); its output is decoded and every
value checked against the bound. Ratio = 16 bytes per jet / compressed bytes (the event column is
counted for no method; ``file ratio`` is hepsqueeze's with the whole container file, event column
included). ``hepsqueeze (per jet)`` codes each jet as its own event, to measure the event-level gain.
Speeds are MB/s of float32 input, medians of ``--repeats`` runs; hepsqueeze codes blocks of
2^18 jets on ``--threads`` threads (default: every CPU this process may use), the baselines run as
their libraries do (single-threaded).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from hepsqueeze.baselines import bounds_for
from hepsqueeze.baselines.registry import get_baseline
from hepsqueeze.codecs.bounded.bounds import JetBounds
from hepsqueeze.codecs.bounded.codec import BoundedJetCodec
from hepsqueeze.codecs.bounded.payload import decode_jets, encode_jets, payload_stats
from hepsqueeze.datasets import generate_mixture
from hepsqueeze.file.writer import compress_dataset
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table
from hepsqueeze.metrics.bounds import column_errors

VARIABLES = ("E", "pt", "eta", "phi")
BASELINES = ("sz3", "quantise+zstd", "bitround+zstd", "zfp")


def _max_errors(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return {v: float(column_errors(x[:, j], y[:, j], v).max()) for j, v in enumerate(VARIABLES)}


def _timed(fn: Any, repeats: int) -> tuple[Any, float]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def _file_bytes(event: np.ndarray, x: np.ndarray, eps: float) -> int:
    """Size of the whole compressed file (event column, header, every section) via the container."""
    table = Table({"event": event, **{v: x[:, j] for j, v in enumerate(VARIABLES)}})
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "jets.hsqz"
        return compress_dataset(
            Dataset.from_table(table), BoundedJetCodec(JetBounds.uniform(eps)), out
        ).file_bytes


def _measure(
    label: str, encode: Any, decode: Any, x: np.ndarray, *, eps: float, repeats: int
) -> dict[str, Any]:
    """Ratio, speeds (median of ``repeats``) and the max error of every variable after decoding."""
    payload, t_enc = _timed(encode, repeats)
    y, t_dec = _timed(lambda: decode(payload), repeats)
    errs = _max_errors(x, y)
    mb = x.nbytes / 1e6
    return {
        "method": label,
        "max_error": eps,
        "ratio": x.nbytes / len(payload),
        "bytes": len(payload),
        "compress_mb_s": mb / t_enc,
        "decompress_mb_s": mb / t_dec,
        "max_errors": errs,
        "within_bound": all(e <= eps for e in errs.values()),
    }


def run(event: np.ndarray, x: np.ndarray, eps: float, repeats: int, threads: int) -> list[dict[str, Any]]:
    bounds = JetBounds.uniform(eps)
    rows = [
        _measure(
            label,
            lambda ev=ev: encode_jets(ev, x, bounds, threads=threads),
            lambda p, ev=ev: decode_jets(ev, p, threads=threads),
            x,
            eps=eps,
            repeats=repeats,
        )
        for label, ev in (("hepsqueeze", event), ("hepsqueeze (per jet)", np.arange(event.size)))
    ]
    rows[0]["parts"] = payload_stats(encode_jets(event, x, bounds))
    rows[0]["file_ratio"] = x.nbytes / _file_bytes(event, x, eps)
    for name in BASELINES:
        method = get_baseline(name)
        b = bounds_for(VARIABLES, eps)
        rows.append(
            _measure(
                name,
                lambda m=method, b=b: m.compress(x, VARIABLES, b),
                method.decompress,
                x,
                eps=eps,
                repeats=repeats,
            )
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=12500)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--processes", default="ttbar,qcd")
    p.add_argument("--kind", default="jets27d", help="jets or jets27d (same jets): whichever is cached")
    p.add_argument("--errors", default="1e-2,3e-3,1e-3,3e-4")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--subsets", default="10000,100000", help="jets in the size scan (whole events)")
    p.add_argument("--subset-error", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--out", type=Path, default=Path("docs/benchmarks/bounded"))
    args = p.parse_args()
    jets = generate_mixture(
        tuple(args.processes.split(",")),
        events_per_process=args.events,
        seed=args.seed,
        workers=2,
        kind=args.kind,
    )
    x = jets.stack(VARIABLES, dtype=np.float32)
    event = jets["event"]
    rows = [r for e in args.errors.split(",") for r in run(event, x, float(e), args.repeats, args.threads)]
    sizes = []
    for n in (int(v) for v in args.subsets.split(",") if v):
        if n >= x.shape[0]:
            continue
        # the first events up to n jets: whole events, both processes (rows are grouped by process)
        order = np.random.default_rng(args.seed).permutation(np.unique(event))
        keep = np.isin(event, order[: max(1, int(order.size * n / x.shape[0]))])
        sub_e, sub_x = event[keep], x[keep]
        payload = encode_jets(sub_e, sub_x, JetBounds.uniform(args.subset_error))
        sizes.append(
            {
                "jets": int(sub_x.shape[0]),
                "max_error": args.subset_error,
                "ratio": sub_x.nbytes / len(payload),
                "file_ratio": sub_x.nbytes / _file_bytes(sub_e, sub_x, args.subset_error),
                "table_bytes": payload_stats(payload)["tables_and_exceptions"],
            }
        )
    full = next(r for r in rows if r["method"] == "hepsqueeze" and r["max_error"] == args.subset_error)
    sizes.append(
        {
            "jets": int(x.shape[0]),
            "max_error": args.subset_error,
            "ratio": full["ratio"],
            "file_ratio": full["file_ratio"],
            "table_bytes": full["parts"]["tables_and_exceptions"],
        }
    )
    result = {
        "sizes": sizes,
        "command": "benchmarks/bounded_codec.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out"),
        "jets": int(x.shape[0]),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": len(os.sched_getaffinity(0)),
        },
        "threads": args.threads,
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bounded.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# Error-bounded jet codec vs standard compressors",
        "",
        f"{x.shape[0]:,} jets ({args.processes}, {args.events:,} events each, seed {args.seed}). Command: "
        f"`.venv/bin/python {result['command']}`. Ratio = float32 bytes / compressed bytes; every value "
        "decoded and checked (`ok` = all within the bound). MB/s of float32 input, median of "
        f"{args.repeats} runs; hepsqueeze on {args.threads} threads (blocks of 2^18 jets), "
        "the baselines single-threaded as their libraries run.",
        "",
        "| max error | method | ratio | file ratio | ok | compress MB/s | decompress MB/s | "
        "max error E / pt / eta / phi |",
        "|---:|---|---:|---:|---|---:|---:|---|",
    ]
    for r in rows:
        errs = " / ".join(f"{r['max_errors'][v]:.3g}" for v in VARIABLES)
        file_ratio = f"{r['file_ratio']:.3f}" if "file_ratio" in r else ""
        lines.append(
            f"| {r['max_error']:g} | {r['method']} | {r['ratio']:.3f} | {file_ratio} | "
            f"{'yes' if r['within_bound'] else 'NO'} | {r['compress_mb_s']:.1f} | {r['decompress_mb_s']:.1f} | "
            f"{errs} |"
        )
    lines += [
        "",
        f"Ratio vs sample size at max error {args.subset_error:g} (the tables travel in every file):",
        "",
        "| jets | ratio | file ratio | table bytes |",
        "|---:|---:|---:|---:|",
        *[
            f"| {z['jets']:,} | {z['ratio']:.3f} | {z['file_ratio']:.3f} | {z['table_bytes']:,} |"
            for z in sizes
        ],
    ]
    (args.out / "bounded.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
