"""Write the model card of a model shipped in the zoo, from the model file's own training record.

    .venv/bin/python benchmarks/make_zoo_card.py out/ae4d-3-accept.hsqm --name ae4d-3 \
        --training-command "benchmarks/train_ae4d.py ..." --data-events 12000 --data-seed 1

Copies the model to src/hepsqueeze/zoo/models/NAME.hsqm and writes NAME.json beside it.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from hepsqueeze.models import decoder_hash, load_model

ZOO_DIR = Path(__file__).resolve().parents[1] / "src" / "hepsqueeze" / "zoo" / "models"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path)
    p.add_argument("--name", required=True)
    p.add_argument("--description", default="")
    p.add_argument("--processes", default="ttbar,qcd")
    p.add_argument("--data-events", type=int, required=True, help="training sample: events per process")
    p.add_argument("--data-seed", type=int, required=True, help="training sample: generator seed")
    p.add_argument("--training-command", default="")
    p.add_argument("--validation-events", type=int, default=2000)
    p.add_argument("--validation-seed", type=int, default=2)
    p.add_argument("--tolerance", type=float, default=0.2)
    p.add_argument("--kind", default="jets", help="generator kind of the data (jets, jets27d)")
    args = p.parse_args()

    model = load_model(args.model)
    t = model.training
    processes = [s.strip() for s in args.processes.split(",")]
    card = {
        "name": args.name,
        "file": f"{args.name}.hsqm",
        "description": args.description or f"{' + '.join(model.variables)} autoencoder {model.config.nodes}",
        "variables": list(model.variables),
        "columns": list(model.columns),
        "training": {
            "data": {
                "generator": "Pythia 8 + FastJet anti-kt R=0.4, pp 13 TeV, jets pt > 20 GeV, |eta| < 4.5",
                "processes": processes,
                "events_per_process": args.data_events,
                "seed": args.data_seed,
                "kind": args.kind,
                "rows": t["rows"],
            },
            "nodes": list(model.config.nodes),
            "activation": model.config.activation,
            "batchnorm": model.config.batchnorm,
            "integer_variables": list(model.integer_variables),
            "normalisation": model.normaliser.scheme,
            "config": t["config"],
            "epochs_run": t["epochs_run"],
            "best_epoch": t["best_epoch"],
            "seconds": round(float(t["seconds"]), 1),
            "device": t["device"],
            "torch_version": t["torch_version"],
            "command": args.training_command,
        },
        "test_metrics": {
            v: {k: r[k] for k in ("mean", "std", "max_abs", "kind", "exact_match") if k in r}
            for v, r in t["metrics"]["test"]["residuals"].items()
        },
        "validation": {
            "sample": {
                "processes": processes,
                "events_per_process": args.validation_events,
                "seed": args.validation_seed,
                **({"overrides": {"kind": args.kind}} if args.kind != "jets" else {}),
            },
        },
        "tolerance": args.tolerance,
        "decoder_hash": decoder_hash(model),
        "extra": {
            "test_mse_normalised": t["metrics"]["test"]["mse_normalised"],
            "best_val_mse_normalised": t["best_val_mse_normalised"],
        },
    }
    ZOO_DIR.mkdir(parents=True, exist_ok=True)
    if args.model.resolve() != (ZOO_DIR / card["file"]).resolve():
        shutil.copyfile(args.model, ZOO_DIR / card["file"])
    (ZOO_DIR / f"{args.name}.json").write_text(json.dumps(card, indent=1) + "\n")
    print(json.dumps(card["test_metrics"], indent=1))


if __name__ == "__main__":
    main()
