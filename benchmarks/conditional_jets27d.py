"""Issue 17: the learned conditional models inside the error-bounded codec, on 27-variable jets.

    .venv/bin/python benchmarks/conditional_jets27d.py --out docs/conditional
    .venv/bin/python benchmarks/conditional_jets27d.py --out docs/conditional --curve /tmp/curve/h8.hsqb ...

Samples (Pythia 8 + FastJet, ``kind="jets27d"``, cached in ``~/.cache/hepsqueeze``), none of them
the zoo model's training sample (ttbar + QCD, seed 1): ``ttbar+qcd`` (seed 2, 12,500 events each),
and two processes the model never saw, ``singletop`` (seed 2, 28,500 events) and ``wjets``
(seed 2, 37,000 events); each as a file of all its jets and as a file of its first events holding
5-10k jets.

For every file, ``hepsqueeze benchmark FILE --max-error 1e-3 --model zoo:bounded-jets27d
--repeats 1`` (the benchmark command: the table as a flat ROOT tree, every standard method in the
same run, every decompressed value checked) gives the bytes of each method; the ratio here is the float32 bytes of
the 23 float columns over the method's whole file (header, integer columns and event column
included). Then, through the API on the same files: the ratio with the model embedded, compress
(verification included) and decompress speed (median of ``--repeats`` runs, MB/s of the float
columns' float32 bytes), bits per value of every column with and without the model, and, for each
``--curve`` model, the same ratio and speeds on the first sample's big file (the model-size curve).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import hepsqueeze as hsq
from hepsqueeze.api import conditional_model
from hepsqueeze.codecs.bounded.table_codec import column_sizes
from hepsqueeze.evaluation.benchmark import machine_info, machine_markdown
from hepsqueeze.io.table import Table

ZOO = "zoo:bounded-jets27d"
SAMPLES: dict[str, dict[str, Any]] = {
    "ttbar+qcd": {"processes": ("ttbar", "qcd"), "events": 12500, "seed": 2},
    "singletop": {"processes": ("singletop",), "events": 28500, "seed": 2},
    "wjets": {"processes": ("wjets",), "events": 37000, "seed": 2},
}
SMALL_JETS = 8000


def _sample(name: str, workers: int) -> Table:
    s = SAMPLES[name]
    return hsq.generate_mixture(
        s["processes"], events_per_process=s["events"], seed=s["seed"], kind="jets27d", workers=workers
    )


def _first_events(jets: Table, per_part: int, events_per_process: int) -> Table:
    """Whole events: the first events holding about ``per_part`` jets of each process of a mixture
    (process ``k`` holds events ``k * events_per_process ...``)."""
    event = jets["event"]
    part = event // events_per_process
    keep = np.zeros(event.size, dtype=bool)
    for k in np.unique(part):
        rows = np.flatnonzero(part == k)
        a, b = int(rows[0]), int(rows[-1]) + 1
        stop = min(b, a + per_part)
        if stop < b:  # at an event boundary
            stop = a + int(np.searchsorted(event[a:b], event[stop], side="left"))
        keep[a:stop] = True
    return Table({n: jets[n][keep] for n in jets.names})


def _float_bytes(jets: Table) -> int:
    return sum(jets[n].size * 4 for n in jets.names if jets[n].dtype.kind == "f")


def _tree_benchmark(path: Path, out: Path, repeats: int) -> dict[str, Any]:
    cmd = [
        sys.executable, "-m", "hepsqueeze.cli", "benchmark", str(path), "--out", str(out),
        "--max-error", "1e-3", "--model", ZOO, "--repeats", str(repeats),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads((out / "tree_benchmark.json").read_text())
    return result


def _median_seconds(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _api_figures(jets: Table, model: Any, tmp: Path, repeats: int) -> dict[str, Any]:
    """Ratio (model referenced and embedded), speeds and bits per column, through the API."""
    floats = _float_bytes(jets)
    out: dict[str, Any] = {"jets": len(jets), "float_bytes": floats}
    ref, emb, plain = tmp / "ref.hsqz", tmp / "emb.hsqz", tmp / "plain.hsqz"
    out["compress_s"] = _median_seconds(
        lambda: hsq.compress(jets, ref, max_error="1e-3", model=model, embed_model=False, force=True), repeats
    )
    out["decompress_s"] = _median_seconds(lambda: hsq.decompress(ref, model=model), repeats)
    hsq.compress(jets, emb, max_error="1e-3", model=model, embed_model=True, force=True)
    out["analytic_compress_s"] = _median_seconds(
        lambda: hsq.compress(jets, plain, max_error="1e-3", force=True), repeats
    )
    out["analytic_decompress_s"] = _median_seconds(lambda: hsq.decompress(plain), repeats)
    for key, path in (("referenced", ref), ("embedded", emb), ("analytic", plain)):
        out[f"{key}_bytes"] = path.stat().st_size
        out[f"{key}_ratio"] = floats / path.stat().st_size
    out["compress_mb_s"] = floats / 1e6 / out["compress_s"]
    out["decompress_mb_s"] = floats / 1e6 / out["decompress_s"]
    out["analytic_compress_mb_s"] = floats / 1e6 / out["analytic_compress_s"]
    out["analytic_decompress_mb_s"] = floats / 1e6 / out["analytic_decompress_s"]
    back = hsq.decompress(ref, model=model)
    out["integers_exact"] = all(
        np.array_equal(back[n], jets[n]) for n in jets.names if jets[n].dtype.kind in "iu"
    )
    sizes = {c: b for (t, c), b in column_sizes(ref).items() if t is None}
    sizes_plain = {c: b for (t, c), b in column_sizes(plain).items() if t is None}
    out["bits_per_value"] = {c: round(8 * b / len(jets), 3) for c, b in sizes.items()}
    out["analytic_bits_per_value"] = {c: round(8 * b / len(jets), 3) for c, b in sizes_plain.items()}
    return out


def _determinism(jets: Table, model_name: str, tmp: Path) -> dict[str, Any]:
    """A file decoded in fresh processes under thread and BLAS limits and with torch doing the
    arithmetic: the sha256 of every decoded value, which must all be equal."""
    path = tmp / "det.hsqz"
    hsq.compress(jets, path, max_error="1e-3", model=model_name, embed_model=False, force=True)
    child = (
        "import hashlib,sys,numpy as np\n"
        "from threadpoolctl import threadpool_limits\n"
        "import hepsqueeze as hsq\n"
        "from hepsqueeze.container import ContainerReader\n"
        "from hepsqueeze.codecs.bounded.table_coder import decode_table, parse_table\n"
        "from hepsqueeze.zoo.conditional import load_bounded\n"
        "backend, limit = sys.argv[1], int(sys.argv[2])\n"
        "m = load_bounded(sys.argv[4])\n"
        "h = hashlib.sha256()\n"
        "with threadpool_limits(limit), ContainerReader.open(sys.argv[3]) as r:\n"
        "    header = r.header\n"
        "    specs = [(c['name'], np.dtype(c['dtype'])) for c in header['columns']]\n"
        "    for s in sorted((s for s in r.sections if s.kind == 'column'), key=lambda s: s.chunk):\n"
        "        out = decode_table(r.read_bytes(s), specs, m, backend)\n"
        "        for n, _ in specs: h.update(np.ascontiguousarray(out[n]).tobytes())\n"
        "print(h.hexdigest())\n"
    )
    runs: dict[str, str] = {}
    for threads in (1, 2):
        for backend in ("numpy", "torch"):
            env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
                   "MKL_NUM_THREADS": str(threads)}  # fmt: skip
            for limit in (1, 2):
                res = subprocess.run(
                    [sys.executable, "-c", child, backend, str(limit), str(path), model_name],
                    check=True, capture_output=True, text=True, env=env,
                )  # fmt: skip
                runs[f"threads={threads} blas_limit={limit} backend={backend}"] = res.stdout.strip()
    return {"digests": runs, "identical": len(set(runs.values())) == 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--curve", nargs="*", type=Path, default=[], help="more models: the size curve")
    parser.add_argument("--samples", nargs="*", default=list(SAMPLES))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    zoo = conditional_model(ZOO)
    result: dict[str, Any] = {
        "format": "hepsqueeze-conditional-benchmark",
        "version": 1,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(),
        "model": {
            "name": zoo.name,
            "sha256": zoo.hash,
            "parameters": zoo.parameters,
            "bytes": len(zoo.to_bytes()),
            "training": dict(zoo.training),
        },
        "files": {},
    }
    everything: list[Table] = []
    with tempfile.TemporaryDirectory(prefix="hsq-cond-") as tmp_name:
        tmp = Path(tmp_name)
        for sample in args.samples:
            jets = _sample(sample, args.workers)
            spec = SAMPLES[sample]
            small = _first_events(jets, SMALL_JETS // len(spec["processes"]), spec["events"])
            for size, table in (("all", jets), ("small", small)):
                key = f"{sample}/{size}"
                path = tmp / f"{sample}-{size}.parquet"
                hsq.write_table(table, path)
                tree = _tree_benchmark(path, args.out / "tree" / f"{sample}-{size}", 1)
                floats = _float_bytes(table)
                methods = {
                    r["name"]: {
                        "bytes": r.get("bytes"),
                        "ratio_float32": floats / r["bytes"] if r.get("bytes") else None,
                        "within_bound": r.get("within_bound"),
                        "structure_ok": r.get("structure_ok"),
                        "compress_MBps": r.get("compress_MBps"),
                        "decompress_MBps": r.get("decompress_MBps"),
                    }
                    for r in tree["methods"]
                }
                row = {"methods": methods, **_api_figures(table, zoo, tmp, args.repeats)}
                best = max(methods[m]["ratio_float32"] or 0 for m in ("quantise+zstd", "sz3"))
                row["vs_best_standard"] = methods["hepsqueeze+model"]["ratio_float32"] / best
                row["learned_smaller_by"] = (
                    1 - methods["hepsqueeze+model"]["bytes"] / methods["hepsqueeze"]["bytes"]
                )
                row["curve"] = {}
                curve = args.curve if (sample, size) == (args.samples[0], "all") else []
                for extra in curve:
                    m = hsq.load_conditional_model(extra)
                    figs = _api_figures(table, m, tmp, args.repeats)
                    kept = ("referenced_ratio", "embedded_ratio", "compress_mb_s", "decompress_mb_s")
                    row["curve"][extra.stem] = {
                        "parameters": m.parameters,
                        "model_bytes": len(m.to_bytes()),
                        **{k: figs[k] for k in kept},
                    }
                result["files"][key] = row
                print(key, json.dumps({k: row[k] for k in ("jets", "referenced_ratio", "embedded_ratio",
                                                            "compress_mb_s", "decompress_mb_s", "vs_best_standard",
                                                            "learned_smaller_by")}), flush=True)  # fmt: skip
            if sample == args.samples[0]:
                result["determinism"] = _determinism(_first_events(jets, 2000, spec["events"]), ZOO, tmp)
            everything.append(jets)
        # the model's bytes over more jets: every test sample in one file (events renumbered apart)
        parts = [
            Table({**{n: t[n] for n in t.names}, "event": t["event"] + np.int64(k * 10**8)})
            for k, t in enumerate(everything)
        ]
        big = Table.concat(parts)
        floats = _float_bytes(big)
        sizes = {}
        for embed in (False, True):
            out = tmp / f"big-{embed}.hsqz"
            hsq.compress(big, out, max_error="1e-3", model=zoo, embed_model=embed, force=True)
            sizes["embedded" if embed else "referenced"] = out.stat().st_size
        result["all_samples"] = {
            "jets": len(big),
            "samples": list(args.samples),
            **{f"{k}_bytes": v for k, v in sizes.items()},
            **{f"{k}_ratio": floats / v for k, v in sizes.items()},
        }
        print("all samples", json.dumps(result["all_samples"]), flush=True)
    (args.out / "conditional.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "conditional.md").write_text(markdown(result))
    print(f"wrote {args.out / 'conditional.json'} and conditional.md")


def markdown(result: dict[str, Any]) -> str:
    """The tables of docs/benchmarks.md's conditional-model section."""
    lines = [
        "# Learned conditional models: 27-variable jets at 1e-3",
        "",
        f"Model `{result['model']['name']}` (sha256 `{result['model']['sha256'][:16]}...`, "
        f"{result['model']['parameters']} parameters, {result['model']['bytes']} bytes embedded). "
        "Ratio: float32 bytes of the 23 float columns / the method's whole file. Speeds: MB/s of those "
        "float32 bytes, median of the runs, through the API (compress includes decoding the written file).",
        "",
        "| file | jets | hepsqueeze + model | embedded | analytic only | quantise+zstd | SZ3 | NanoAOD LZMA-9 "
        "| vs best standard | learned smaller by | compress MB/s | decompress MB/s | within bound |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for key, row in result["files"].items():
        m = row["methods"]

        def r(name: str, methods: dict[str, Any] = m) -> str:
            v = methods.get(name, {}).get("ratio_float32")
            return f"{v:.2f}" if v else "-"

        ok = all(v.get("within_bound") for v in m.values())
        lines.append(
            f"| {key} | {row['jets']} | {r('hepsqueeze+model')} | {row['embedded_ratio']:.2f} | {r('hepsqueeze')} "
            f"| {r('quantise+zstd')} | {r('sz3')} | {r('nanoaod-lzma9')} | {row['vs_best_standard']:.2f} "
            f"| {100 * row['learned_smaller_by']:.1f}% | {row['compress_mb_s']:.1f} | {row['decompress_mb_s']:.1f} "
            f"| {'yes' if ok and row['integers_exact'] else 'NO'} |"
        )
    first = next(iter(result["files"].values()))
    lines += ["", "Bits per value of each column (first file), with the model and with the analytic coding only:", "",
              "| column | with model | analytic |", "|---|---:|---:|"]  # fmt: skip
    for c, b in first["bits_per_value"].items():
        lines.append(f"| {c} | {b:.2f} | {first['analytic_bits_per_value'].get(c, 0):.2f} |")
    curve = dict(first.get("curve", {}))
    if curve:
        lines += ["", "Model-size curve (first file):", "",
                  "| model | parameters | model bytes | ratio | embedded | compress MB/s | decompress MB/s |",
                  "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for k, v in curve.items():
            lines.append(
                f"| {k} | {v['parameters']} | {v['model_bytes']} | {v['referenced_ratio']:.2f} | "
                f"{v['embedded_ratio']:.2f} | {v['compress_mb_s']:.1f} | {v['decompress_mb_s']:.1f} |"
            )
    big = result.get("all_samples")
    if big:
        lines += ["", f"Every test sample in one file ({big['jets']} jets): ratio {big['referenced_ratio']:.2f} "
                  f"with the model referenced, {big['embedded_ratio']:.2f} with it embedded "
                  f"({result['model']['bytes']} bytes)."]  # fmt: skip
    det = result.get("determinism")
    if det:
        lines += ["", f"Decoding in fresh processes ({len(det['digests'])} settings: threads, BLAS limits, "
                  f"numpy and torch): identical bits: {'yes' if det['identical'] else 'NO'}."]  # fmt: skip
    lines += ["", *machine_markdown(result["machine"], result["created_utc"]), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
