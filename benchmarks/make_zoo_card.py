"""Write the model card of a model shipped in the zoo, from the model file's own training record.

    .venv/bin/python benchmarks/make_zoo_card.py out/ae4d-3-accept.hsqm --name ae4d-3 \
        --training-command "benchmarks/train_ae4d.py ..." --data-events 12000 --data-seed 1

Copies the model to src/hepsqueeze/zoo/models/NAME.hsqm and writes NAME.json beside it.

A model trained on slices of several samples (``train_ae4d_wide.py``) carries its slices in its
training record (``training["data"]``): ``--data-events`` is then not needed, and ``--test-metrics``
names the entry of the record's metrics whose residuals go on the card (``test_ttbar_qcd50``: the
test-split rows of the processes the card's validation sample generates, so that ``zoo validate``
compares like with like). ``--budget`` records the training budget (time and machine).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from hepsqueeze.models import decoder_hash, load_model

ZOO_DIR = Path(__file__).resolve().parents[1] / "src" / "hepsqueeze" / "zoo" / "models"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path)
    p.add_argument("--name", required=True)
    p.add_argument("--description", default="")
    p.add_argument("--processes", default="ttbar,qcd")
    p.add_argument("--data-events", type=int, default=None, help="training sample: events per process")
    p.add_argument("--data-seed", type=int, required=True, help="training sample: generator seed")
    p.add_argument("--training-command", default="")
    p.add_argument("--validation-events", type=int, default=2000)
    p.add_argument("--validation-seed", type=int, default=2)
    p.add_argument("--tolerance", type=float, default=0.2)
    p.add_argument("--kind", default="jets", help="generator kind of the data (jets, jets27d)")
    p.add_argument(
        "--test-metrics", default="test", help="entry of the training record's metrics on the card"
    )
    p.add_argument("--budget", default="", help="training budget, e.g. '45 min wall on 2 shared CPU cores'")
    args = p.parse_args()

    model = load_model(args.model)
    t = model.training
    processes = [s.strip() for s in args.processes.split(",")]
    slices = t.get("data", {}).get("slices")
    if args.data_events is None and not slices:
        raise SystemExit("give --data-events (the model's training record names no slices)")
    if args.test_metrics not in t["metrics"]:
        raise SystemExit(f"the model's training record has no metrics {args.test_metrics!r}")
    metrics = t["metrics"][args.test_metrics]
    data: dict[str, Any] = {
        "generator": "Pythia 8 + FastJet anti-kt R=0.4, pp 13 TeV, jets pt > 20 GeV, |eta| < 4.5",
        "processes": processes,
        **({"events_per_process": args.data_events} if args.data_events is not None else {}),
        **({"slices": slices, "rows_by_slice": t["data"].get("rows_by_slice")} if slices else {}),
        "seed": args.data_seed,
        "kind": args.kind,
        "rows": t["rows"],
    }
    if args.test_metrics != "test":
        data["test_metrics_rows"] = {"entry": args.test_metrics, "rows": metrics.get("rows")}
    card = {
        "name": args.name,
        "file": f"{args.name}.hsqm",
        "description": args.description or f"{' + '.join(model.variables)} autoencoder {model.config.nodes}",
        "variables": list(model.variables),
        "columns": list(model.columns),
        "training": {
            "data": data,
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
            **({"budget": args.budget} if args.budget else {}),
        },
        "test_metrics": {
            v: {k: r[k] for k in ("mean", "std", "max_abs", "kind", "exact_match") if k in r}
            for v, r in metrics["residuals"].items()
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
            **(
                {
                    "test_split_residual_std": {
                        v: r["std"] for v, r in t["metrics"]["test"]["residuals"].items()
                    }
                }
                if args.test_metrics != "test"
                else {}
            ),
            **(
                {
                    "test_by_slice_std": {
                        s: {v: r["std"] for v, r in m.items()}
                        for s, m in t["metrics"]["test_by_slice"].items()
                    }
                }
                if "test_by_slice" in t["metrics"]
                else {}
            ),
        },
    }
    ZOO_DIR.mkdir(parents=True, exist_ok=True)
    if args.model.resolve() != (ZOO_DIR / card["file"]).resolve():
        shutil.copyfile(args.model, ZOO_DIR / card["file"])
    (ZOO_DIR / f"{args.name}.json").write_text(json.dumps(card, indent=1) + "\n")
    print(json.dumps(card["test_metrics"], indent=1))


if __name__ == "__main__":
    main()
