"""Speed of one training step of ae27d-20 on this CPU: float32 eager, bfloat16 autocast, torch.compile,
and batch sizes (issue 20's recipe search). Writes docs/results/ae27d-recipe/step_speed.{md,json}.

    .venv/bin/python benchmarks/train_step_speed.py --threads 1 --steps 40 --repeats 5

Each variant trains the same network (fresh copy, same seed) on random normalised rows; a round
times ``--steps`` steps of every variant in turn, and ``--repeats`` rounds give the median, so the
variants share the machine's load. Reported: milliseconds per step and rows per second, and the
ratio to float32 eager at the same batch size. The compiled variant's first round (compilation) is
left out. Accuracy is not measured here: a variant that is not faster is not worth its cost.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from _training import machine

from hepsqueeze.models import get_preset
from hepsqueeze.models.autoencoder import Autoencoder

OUT = Path("docs/results/ae27d-recipe")


def make_step(net: torch.nn.Module, batch: int, *, bf16: bool = False) -> Callable[[int], None]:
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    data = torch.rand(batch * 8, 27, generator=gen)

    def step(i: int = 0) -> None:
        rows = data[(i % 8) * batch : (i % 8 + 1) * batch]
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = net(rows)
        loss = torch.nn.functional.mse_loss(out.float(), rows)
        loss.backward()
        opt.step()

    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batches", default="256,1024,4096")
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    base = Autoencoder(get_preset("ae27d-20")).train()
    variants: dict[str, Callable[[int], None]] = {}
    for batch in (int(b) for b in args.batches.split(",")):
        variants[f"float32, batch {batch}"] = make_step(copy.deepcopy(base), batch)
        variants[f"bfloat16 autocast, batch {batch}"] = make_step(copy.deepcopy(base), batch, bf16=True)
        if not args.no_compile:
            compiled = torch.compile(copy.deepcopy(base))
            variants[f"torch.compile, batch {batch}"] = make_step(compiled, batch)  # type: ignore[arg-type]
    times: dict[str, list[float]] = {k: [] for k in variants}
    for round_ in range(args.repeats + 1):
        for name, step in variants.items():
            t0 = time.perf_counter()
            for i in range(args.steps):
                step(i)
            if round_ > 0:  # round 0: warm-up (and compilation)
                times[name].append((time.perf_counter() - t0) / args.steps)
    rows: list[dict[str, Any]] = []
    for name, ts in times.items():
        batch = int(name.rsplit(" ", 1)[1])
        ms = 1e3 * statistics.median(ts)
        ref = 1e3 * statistics.median(times[f"float32, batch {batch}"])
        rows.append(
            {"variant": name, "batch": batch, "ms_per_step": ms, "min_ms": 1e3 * min(ts),
             "max_ms": 1e3 * max(ts), "rows_per_s": batch / ms * 1e3, "speed_vs_float32": ref / ms}
        )  # fmt: skip
    result = {
        "command": "benchmarks/train_step_speed.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "step_speed.json").write_text(json.dumps(result, indent=1))
    lines = [
        "# ae27d-20: one training step on this CPU",
        "",
        f"`.venv/bin/python {result['command']}` ({args.threads} torch thread(s), median of {args.repeats} "
        f"rounds of {args.steps} steps, variants interleaved; min-max in brackets).",
        "",
        "| variant | ms per step | rows per second | speed vs float32 eager |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r['variant']} | {r['ms_per_step']:.1f} ({r['min_ms']:.1f}-{r['max_ms']:.1f}) | "
        f"{r['rows_per_s']:,.0f} | {r['speed_vs_float32']:.2f}x |"
        for r in rows
    ]
    (args.out / "step_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
