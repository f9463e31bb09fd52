"""27D models on jets of other processes (issue 20): residual std per variable, against the model's
own training processes on a fresh sample.

    .venv/bin/python benchmarks/ae27d_processes.py out/ae27d-20-e700.hsqm out/ae27d-14-e700.hsqm \
        --events 1500 --seed 2

Generates (or reads from the cache) ``--events`` events of kind ``jets27d`` of every process (seed
``--seed``, not the training seed), decodes each model's reconstruction and writes
docs/results/ae27d-recipe/processes.{md,json}: one row per process and model with the test-split
residual std of pt (relative), eta and phi (absolute), the ratio of each to the same model's on the
training processes (ttbar + qcd of the same fresh sample) and the fraction of values outside the
model's training range.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _training import machine

from hepsqueeze.codecs.autoencoder.exceptions import count_outside_training_range
from hepsqueeze.datasets import GeneratorConfig, generate
from hepsqueeze.metrics.residuals import residual_summary
from hepsqueeze.models import load_model
from hepsqueeze.models.model import CompressionModel

OUT = Path("docs/results/ae27d-recipe")
REFERENCE = ("ttbar", "qcd")
OTHERS = ("wjets", "zjets", "singletop", "diboson", "zprime", "excitedq")
SHOWN = ("pt", "eta", "phi", "m")


def evaluate(model: CompressionModel, x: np.ndarray) -> dict[str, Any]:
    """Residual summary of ``model`` on ``x`` and its fraction of values outside the training range."""
    y = model.reconstruct(x)
    count = count_outside_training_range(model, x)
    outside = float("nan") if count is None else count / max(x.size, 1)
    return {
        "jets": int(x.shape[0]),
        "residuals": residual_summary(x, y, model.variables, model.integer_variables),
        "outside_range": outside,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", type=Path, nargs="+")
    p.add_argument("--events", type=int, default=1500)
    p.add_argument("--seed", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    models = {path.stem: load_model(path) for path in args.models}
    tables = {
        proc: generate(GeneratorConfig(proc, args.events, seed=args.seed, kind="jets27d"), workers=2)
        for proc in (*REFERENCE, *OTHERS)
    }
    result: dict[str, Any] = {
        "command": "benchmarks/ae27d_processes.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "events": args.events,
        "seed": args.seed,
        "models": {},
    }
    for label, model in models.items():
        rows: dict[str, Any] = {}
        for proc, table in tables.items():
            rows[proc] = evaluate(model, table.stack(list(model.columns), dtype=np.float32))
        ref = np.concatenate([tables[p].stack(list(model.columns), dtype=np.float32) for p in REFERENCE])
        rows["ttbar+qcd"] = evaluate(model, ref)
        result["models"][label] = {"name": model.name, "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "processes.json").write_text(json.dumps(result, indent=1))
    (args.out / "processes.md").write_text(markdown(result))
    logging.info("wrote %s", args.out / "processes.md")


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# 27D models on jets of other processes",
        "",
        f"Fresh samples of {result['events']:,} events per process (seed {result['seed']}, never trained on); "
        "residual std: relative for pt and m, absolute for eta and phi. 'ratio' is the largest of a row's "
        "pt, eta and phi std over the same model's on ttbar+qcd of the same seed.",
        "",
        f"Command: `.venv/bin/python {result['command']}`",
        "",
        "| model | process | jets | " + " | ".join(f"{v} std" for v in SHOWN) + " | ratio | outside range |",
        "|---|---|---:|" + "---:|" * (len(SHOWN) + 2),
    ]
    for label, entry in result["models"].items():
        rows = entry["rows"]
        ref = rows["ttbar+qcd"]["residuals"]
        for proc, row in rows.items():
            res = row["residuals"]
            ratio = max(res[v]["std"] / ref[v]["std"] for v in ("pt", "eta", "phi"))
            lines.append(
                f"| {label} | {proc} | {row['jets']:,} | "
                + " | ".join(f"{res[v]['std']:.3g}" for v in SHOWN)
                + f" | {ratio:.2f} | {row['outside_range']:.3%} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
