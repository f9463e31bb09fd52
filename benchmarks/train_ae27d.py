"""27D jet models of issue 7: ae27d-14, ae27d-20 and the latent-size scan on >= 100,000 jets27d jets.

    .venv/bin/python benchmarks/train_ae27d.py --model ae27d-20 --model-out out/ae27d-20.hsqm
    .venv/bin/python benchmarks/train_ae27d.py --model ae27d-14
    .venv/bin/python benchmarks/train_ae27d.py --model 27,400,400,200,8,200,400,400,27
    .venv/bin/python benchmarks/train_ae27d.py --summary      # docs/results/ae27d/summary.md

Generates (or reads from the cache) equal numbers of ttbar and QCD events of kind ``jets27d``,
trains the model on the 27 jet variables (``custom`` normalisation by variable type, integer columns
rounded on decoding) and writes its test-split metrics and timing as JSON to ``docs/results/ae27d/``.
``--summary`` collects every JSON there into one table (validation MSE and residuals vs latent size).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import torch
from _training import log_epoch, machine

from hepsqueeze.api import train
from hepsqueeze.datasets import JETS27D_COLUMNS, generate, generate_mixture
from hepsqueeze.io.table import Table
from hepsqueeze.models import AutoencoderConfig, save_model

OUT = Path("docs/results/ae27d")
VARIABLES = tuple(c for c in JETS27D_COLUMNS if c != "event")


def _architecture(spec: str) -> str | AutoencoderConfig:
    if "," not in spec:
        return spec
    nodes = tuple(int(n) for n in spec.split(","))
    return AutoencoderConfig(nodes=nodes, batchnorm=True, latent_activation=True)


def _weights(spec: str | None) -> tuple[float, ...] | None:
    """``NAME=W,...`` -> one loss weight per variable (1 where not named); None without a spec."""
    if not spec:
        return None
    named = {}
    for part in spec.split(","):
        name, _, w = part.partition("=")
        if name not in VARIABLES or not w:
            raise SystemExit(
                f"--loss-weights: expected VARIABLE=WEIGHT among {', '.join(VARIABLES)}, got {part!r}"
            )
        named[name] = float(w)
    return tuple(named.get(v, 1.0) for v in VARIABLES)


def _label(spec: str) -> str:
    if "," not in spec:
        return spec
    nodes = [int(n) for n in spec.split(",")]
    return f"ae27d-w{nodes[1]}-z{min(nodes[1:-1])}"


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    jets = generate_mixture(events_per_process=args.events, seed=args.seed, workers=2, kind="jets27d")
    if args.extra_slices:  # harder slices of ttbar and QCD on top (PROCESS@PTHATMIN:EVENTS)
        from train_ae4d_wide import Slice

        parts = [jets]
        for text in args.extra_slices.split(","):
            s = Slice.parse(text)
            if s.process not in ("ttbar", "ttbar_boosted", "qcd"):
                raise SystemExit("train on ttbar and QCD only: the other processes are held out")
            parts.append(generate(s.config(args.seed, kind="jets27d"), workers=2))
        jets = Table.concat(parts)
    arch = _architecture(args.model)
    t0 = time.perf_counter()

    model = train(
        jets,
        arch,
        variables=VARIABLES,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        normalisation=args.normalisation,
        patience=args.patience,
        seed=args.seed,
        max_seconds=60 * args.max_minutes,
        progress=log_epoch,
        device="cpu",
        loss_weights=_weights(args.loss_weights),
        precision=args.precision,
    )
    model.name = _label(args.model)
    wall = time.perf_counter() - t0
    if args.model_out:
        save_model(model, args.model_out, force=True)
    label = _label(args.model) + (f"-{args.tag}" if args.tag else "")
    result: dict[str, Any] = {
        "label": label,
        "command": "benchmarks/train_ae27d.py "
        + " ".join(
            f"--{k.replace('_', '-')} {v}"
            for k, v in vars(args).items()
            if v is not None and v is not False and k not in ("out", "model_out", "summary")
        ),
        "machine": machine(),
        "nodes": list(model.config.nodes),
        "parameters": sum(p.numel() for p in model.network.parameters()),
        "jets": jets.num_rows,
        "events_per_process": args.events,
        "wall_seconds_training": wall,
        "training": model.training,
        "history": model.history,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{label}.json").write_text(json.dumps(result, indent=1))
    test = model.training["metrics"]["test"]
    logging.info(
        "%s: val MSE %.3g, test MSE %.3g, pt std %.4f, %.0f s",
        label,
        model.training["best_val_mse_normalised"],
        test["mse_normalised"],
        test["residuals"]["pt"]["std"],
        wall,
    )


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def summary(out: Path = OUT) -> None:
    """OUT/summary.md: one row per trained model, one column block per variable."""
    results = [r for r in (json.loads(p.read_text()) for p in sorted(out.glob("*.json"))) if "nodes" in r]
    results.sort(key=lambda r: (min(r["nodes"][1:-1]), r["nodes"][1]))
    lines = [
        "| model | nodes | latent | parameters | epochs | minutes | val MSE | test MSE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        t = r["training"]
        lines.append(
            f"| {r['label']} | {'-'.join(map(str, r['nodes']))} | {min(r['nodes'][1:-1])} | "
            f"{r['parameters']:,} | {t['epochs_run']} | {r['wall_seconds_training'] / 60:.1f} | "
            f"{_fmt(t['best_val_mse_normalised'])} | {_fmt(t['metrics']['test']['mse_normalised'])} |"
        )
    lines += [
        "",
        "Test-split residual std per variable (relative for E, pt, lead_pt; absolute otherwise, "
        "in the variable's unit; exact-match rate for integer variables):",
        "",
    ]
    labels = [r["label"] for r in results]
    lines.append("| variable | kind | " + " | ".join(labels) + " |")
    lines.append("|---|---|" + "---|" * len(labels))
    for var in VARIABLES:
        cells = []
        kind = ""
        for r in results:
            m = r["training"]["metrics"]["test"]["residuals"][var]
            kind = m["kind"]
            cell = _fmt(m["std"])
            if "exact_match" in m:
                kind = "integer"
                cell += f" ({100 * m['exact_match']:.2f}% exact)"
            cells.append(cell)
        lines.append(f"| {var} | {kind} | " + " | ".join(cells) + " |")
    first = results[0] if results else None
    header = [
        "# 27D jet models (issue 7)",
        "",
        f"Data: {first['jets']:,} jets27d jets (ttbar + QCD, {first['events_per_process']:,} events each, "
        "generator v2); split 80/10/10; MSE in the model's normalised space (`custom`)."
        if first
        else "",
        "",
        "Commands: " + "; ".join(f"`.venv/bin/python {r['command']}`" for r in results),
        "",
    ]
    (out / "summary.md").write_text("\n".join(header + lines) + "\n")


#: The prior work's test-split relative pt residual std (ATLAS's 27 variables; issue 20's targets).
PRIOR_PT_STD = {14: 0.027, 20: 0.014}


def _recipe(run: dict[str, Any]) -> str:
    """A run's recipe in words: loss weights, precision and extra slices."""
    cfg = run["training"]["config"]
    words = ["kinematics x10" if cfg.get("loss_weights") else "plain loss"]
    if cfg.get("precision", "float32") != "float32":
        words.append(cfg["precision"])
    if "--extra-slices" in run["command"]:
        words.append("+ hard slices")
    return ", ".join(words)


def curve(out: Path) -> None:
    """OUT/curve.{md,png}: test-split pt residual std against training minutes, one point per run (a run
    is a whole one-cycle schedule: its end, not a checkpoint of a longer one)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in (json.loads(p.read_text()) for p in sorted(out.glob("*.json"))) if "nodes" in r]
    groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((min(r["nodes"][1:-1]), _recipe(r)), []).append(r)
    lines = [
        "# 27D time to quality (issue 20)",
        "",
        "Each point is one whole training run (one-cycle schedule of that many epochs, batch 1024, lr 3e-3,",
        "`custom` normalisation, 1 torch thread on the 2 CPU cores, which 2-4 other training jobs shared:",
        "minutes are upper bounds), 103,333 ttbar + QCD jets27d jets, seed 1; test-split residual std",
        "(pt relative; eta, phi absolute). 'kinematics x10': E, pt, eta, phi, m and lead_pt weighted 10x",
        "in the loss. The prior work's figure is its own, on ATLAS's 27 variables after about 21 h on a GPU.",
        "",
        "| model | latent | recipe | epochs | minutes | pt std | eta std | phi std | prior work pt | command |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for (latent, recipe), rs in sorted(groups.items()):
        rs.sort(key=lambda r: r["wall_seconds_training"])
        minutes = [r["wall_seconds_training"] / 60 for r in rs]
        pt = [r["training"]["metrics"]["test"]["residuals"]["pt"]["std"] for r in rs]
        ax.plot(minutes, pt, "o-", label=f"latent {latent}, {recipe}")
        for r in rs:
            res = r["training"]["metrics"]["test"]["residuals"]
            lines.append(
                f"| {r['label']} | {latent} | {recipe} | {r['training']['epochs_run']} | "
                f"{r['wall_seconds_training'] / 60:.1f} | {res['pt']['std']:.4f} | {res['eta']['std']:.4f} | "
                f"{res['phi']['std']:.4f} | {PRIOR_PT_STD.get(latent, float('nan')):.3f} | "
                f"`.venv/bin/python {r['command']}` |"
            )
    for latent, value in PRIOR_PT_STD.items():
        ax.axhline(value, ls="--", lw=0.8, color="grey")
        ax.text(
            0.01,
            value,
            f"prior work, latent {latent}",
            transform=ax.get_yaxis_transform(),
            fontsize=7,
            va="bottom",
        )
    ax.set_xlabel("training minutes (1 thread, 2 shared CPU cores)")
    ax.set_ylabel("test-split pt residual std (relative)")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "curve.png", dpi=120)
    plt.close(fig)
    (out / "curve.md").write_text("\n".join([*lines, "", "![time to quality](curve.png)", ""]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="ae27d-20", help="preset name or comma-separated layer sizes")
    p.add_argument("--events", type=int, default=12500, help="events per process")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--normalisation", default="custom")
    p.add_argument("--patience", type=int, default=40)
    p.add_argument("--max-minutes", type=float, default=15.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--model-out", type=Path, default=None)
    p.add_argument("--extra-slices", default="", help="PROCESS@PTHATMIN:EVENTS,... added to the sample")
    p.add_argument("--precision", default="float32", choices=("float32", "bfloat16"))
    p.add_argument("--loss-weights", default=None, help="VARIABLE=WEIGHT,... (others 1), e.g. pt=10,eta=10")
    p.add_argument("--out", type=Path, default=OUT, help="folder of the result JSON and summary.md")
    p.add_argument("--tag", default="", help="suffix of the result's label (recipe runs)")
    p.add_argument("--curve", action="store_true", help="only rebuild curve.md/png from the JSON files")
    p.add_argument("--summary", action="store_true", help="only rebuild summary.md from the JSON files")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.curve:
        curve(args.out)
        return
    if args.summary:
        summary(args.out)
        return
    run(args)
    summary(args.out)


if __name__ == "__main__":
    main()
