"""Acceptance run of the core issue: ae4d-3 on >= 100,000 ttbar + QCD jets, 2 CPU cores, <= 15 minutes.

    .venv/bin/python benchmarks/train_ae4d.py --events 12000 --out docs/results/ae4d-3.json

Generates (or reads from the cache) equal numbers of ttbar and QCD events, trains with the given
settings, and writes the model, its test-split metrics and the timing as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch
from _training import log_epoch, machine

from hepsqueeze.api import train
from hepsqueeze.datasets import generate_mixture
from hepsqueeze.models import save_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=12000, help="events per process")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--epochs", type=int, default=600)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--normalisation", default="custom+minmax")
    p.add_argument("--patience", type=int, default=100)
    p.add_argument("--max-minutes", type=float, default=14.5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("docs/results/ae4d-3.json"))
    p.add_argument("--model-out", type=Path, default=None)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)

    jets = generate_mixture(events_per_process=args.events, seed=args.seed, workers=2)
    t0 = time.perf_counter()

    model = train(
        jets,
        "ae4d-3",
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        normalisation=args.normalisation,
        patience=args.patience,
        seed=args.seed,
        max_seconds=60 * args.max_minutes,
        progress=log_epoch,
        device="cpu",
    )
    wall = time.perf_counter() - t0
    if args.model_out:
        save_model(model, args.model_out, force=True)
    result = {
        "command": "benchmarks/train_ae4d.py "
        + " ".join(
            f"--{k.replace('_', '-')} {v}"
            for k, v in vars(args).items()
            if v is not None and k not in ("out", "model_out")
        ),
        "machine": machine(),
        "jets": jets.num_rows,
        "events_per_process": args.events,
        "wall_seconds_training": wall,
        "training": model.training,
        "history": model.history,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    test = model.training["metrics"]["test"]
    print(
        json.dumps(
            {
                "val_mse": model.training["best_val_mse_normalised"],
                "test_mse": test["mse_normalised"],
                "std": {k: v["std"] for k, v in test["residuals"].items()},
                "wall": wall,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
