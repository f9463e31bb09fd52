"""Train the conditional models of the error-bounded codec: the zoo's ``bounded-jets27d`` and the
points of the model-size curve.

    .venv/bin/python benchmarks/train_zoo_bounded.py --zoo                  # the shipped model and card
    .venv/bin/python benchmarks/train_zoo_bounded.py --hidden 8 --out M.hsqb  # one point of the curve

Training data: ``generate_mixture(("ttbar", "qcd"), events_per_process=12500, seed=1,
kind="jets27d")`` (Pythia 8 + FastJet, 103k jets; cached in ``~/.cache/hepsqueeze``), every float
column at ``--max-error`` (1e-3: relative on E, pt, m, lead_pt, absolute on the others), 20% of the
jets held out for the residual shapes and the bits printed. The figures measured with the models
are in docs/benchmarks.md (``benchmarks/conditional_jets27d.py``).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import hepsqueeze as hsq
from hepsqueeze.training.conditional import ConditionalTrainingConfig

ZOO = Path(__file__).resolve().parents[1] / "src" / "hepsqueeze" / "zoo" / "conditional_models"
NAME = "bounded-jets27d"
SAMPLE = {"processes": ["ttbar", "qcd"], "events_per_process": 12500, "seed": 1, "kind": "jets27d"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", action="store_true", help=f"write the zoo's {NAME} and its card")
    parser.add_argument("--out", type=Path, help="model file (not with --zoo)")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-error", default="1e-3")
    parser.add_argument("--workers", type=int, default=2, help="generator processes (if not cached)")
    args = parser.parse_args()
    if args.zoo == (args.out is not None):
        parser.error("give either --zoo or --out")

    jets = hsq.generate_mixture(
        tuple(SAMPLE["processes"]),
        events_per_process=int(SAMPLE["events_per_process"]),
        seed=int(SAMPLE["seed"]),
        kind="jets27d",
        workers=args.workers,
    )
    config = ConditionalTrainingConfig(
        hidden=args.hidden,
        layers=args.layers,
        epochs=args.epochs,
        seed=args.seed,
        threads=args.threads,
        name=NAME if args.zoo else (args.out.stem if args.out else "model"),
        metadata={"sample": SAMPLE, "max_error": args.max_error},
    )
    start = time.perf_counter()
    result = hsq.train_bounded(jets, max_error=args.max_error, config=config)
    seconds = time.perf_counter() - start
    model = result.model
    out = ZOO / f"{NAME}.hsqb" if args.zoo else args.out
    model.save(out, force=True)
    targets = [c.name for c in model.columns if c.target]
    summary = {
        "hidden": args.hidden,
        "layers": args.layers,
        "epochs": args.epochs,
        "parameters": model.parameters,
        "model_bytes": out.stat().st_size,
        "seconds": round(seconds, 1),
        "targets": targets,
        "heldout_bits": {k: round(v, 3) for k, v in result.bits.items()},
        "analytic_bits": {k: round(v, 3) for k, v in result.baseline_bits.items()},
    }
    print(json.dumps(summary, indent=1))
    if args.zoo:
        card = {
            "name": NAME,
            "file": f"{NAME}.hsqb",
            "sha256": model.hash,
            "description": (
                "Conditional model of the error-bounded codec for 27-variable jets (hepsqueeze generate "
                "--kind jets27d) at 1e-3 (relative on E, pt, m, lead_pt, absolute on the others): the float "
                "columns in the table's order, each given the columns before it, then the integer columns, "
                "each given every float column; columns whose network did not beat the analytic coding by "
                "0.25 bit on held-out jets are contexts only."
            ),
            "training": {
                "command": "benchmarks/train_zoo_bounded.py --zoo",
                "sample": SAMPLE,
                "rows": len(jets),
                "machine": f"{platform.processor() or platform.machine()}, torch threads {args.threads}",
                **summary,
            },
        }
        (ZOO / f"{NAME}.json").write_text(json.dumps(card, indent=1) + "\n")
        print(f"wrote {out} and its card")


if __name__ == "__main__":
    main()
