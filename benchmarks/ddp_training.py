"""ae4d-3 trained on one process and with DistributedDataParallel on two CPU processes (gloo), same
seed and global batch: validation loss, test-split residual std per variable, wall time.

    .venv/bin/python benchmarks/ddp_training.py --events 6000 --epochs 30 --out docs/scaling

Writes ``ddp.json`` and ``ddp.md`` into ``--out``. The jets are Pythia 8 ttbar + QCD (seed 1, cached).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import torch
from _training import machine

from hepsqueeze.api import train
from hepsqueeze.datasets import generate_mixture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=6000, help="events per process (ttbar, qcd)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--out", type=Path, default=Path("docs/scaling"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    jets = generate_mixture(events_per_process=args.events, seed=1, workers=2)
    rows: list[dict[str, Any]] = []
    cores = torch.get_num_threads()
    # (processes, torch threads per process): the spawned DDP processes take cores / processes each
    for processes, threads in ((1, cores), (1, 1), (2, max(1, cores // 2))):
        torch.set_num_threads(threads)
        start = time.perf_counter()
        model = train(
            jets, "ae4d-3", epochs=args.epochs, batch_size=args.batch_size, seed=0, device="cpu",
            ddp=processes, patience=args.epochs,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        torch.set_num_threads(cores)
        residuals = model.training["metrics"]["test"]["residuals"]
        rows.append(
            {
                "processes": processes,
                "threads_per_process": threads,
                "seconds": seconds,
                "best_val_mse_normalised": model.training["best_val_mse_normalised"],
                "best_epoch": model.training["best_epoch"],
                "test_std": {v: residuals[v]["std"] for v in model.variables},
            }
        )
        logging.info(
            "%d process(es): %.1f s, val MSE %.4g", processes, seconds, rows[-1]["best_val_mse_normalised"]
        )
    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "command": "benchmarks/ddp_training.py "
        f"--events {args.events} --epochs {args.epochs} --batch-size {args.batch_size}",
        "rows": len(jets),
        "machine": machine(),
        "runs": rows,
    }
    (args.out / "ddp.json").write_text(json.dumps(result, indent=1) + "\n")
    variables = list(rows[0]["test_std"])
    lines = [
        f"ae4d-3 on {len(jets)} ttbar + QCD jets, {args.epochs} epochs, global batch {args.batch_size}; "
        f"`{result['command']}`",
        "",
        "| processes | threads each | wall s | best val MSE | "
        + " | ".join(f"{v} std" for v in variables)
        + " |",
        "|---|---|---|---|" + "---|" * len(variables),
    ]
    for r in rows:
        stds = " | ".join(f"{r['test_std'][v]:.4g}" for v in variables)
        lines.append(
            f"| {r['processes']} | {r['threads_per_process']} | {r['seconds']:.1f} | "
            f"{r['best_val_mse_normalised']:.5g} | {stds} |"
        )
    (args.out / "ddp.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
