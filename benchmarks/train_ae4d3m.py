"""ae4d-3m: ae4d-3 in (m, pt, eta, phi), decoded m >= 0 and phi in its training range; train and compare.

Train (ttbar + QCD, seed 1) and write the model and its training record:

    .venv/bin/python benchmarks/train_ae4d3m.py train --events 12000 --epochs 300 --max-minutes 25 \
        --model-out out/ae4d-3m.hsqm --out out/ae4d-3m-train.json

Compare with zoo:ae4d-3 on the model's test split and on a seed-2 sample (residual std per variable,
negative-m^2 fraction, jet-mass KS, decoded phi range, ratio of a compressed file) and write
docs/studies/ae4d-3m.{md,json}:

    .venv/bin/python benchmarks/train_ae4d3m.py compare out/ae4d-3m.hsqm --events 12000 --validation-events 2000

(``out/ae4d-3m.hsqm``: the former ``zoo:ae4d-3m``, ``git show fc6adb9:src/hepsqueeze/zoo/models/ae4d-3m.hsqm``;
the sampled-mass successor is compared by ``compare_mass_models.py``.)

The test split is the trainer's (split_rows with the model's own seed and fractions) of the sample the
model was trained on, regenerated from the cache.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from _training import log_epoch, machine

import hepsqueeze as hsq
from hepsqueeze.datasets import generate_mixture
from hepsqueeze.io.table import Table
from hepsqueeze.metrics.residuals import ks_statistic, residual_summary
from hepsqueeze.models import get_preset, save_model
from hepsqueeze.models.four_vector import signed_mass
from hepsqueeze.models.model import CompressionModel
from hepsqueeze.training.split import split_rows
from hepsqueeze.zoo import resolve_model

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "docs" / "studies" / "ae4d-3m"
COLUMNS = ("E", "pt", "eta", "phi")


def mass_metrics(model: CompressionModel, x: npt.NDArray[np.float32]) -> dict[str, Any]:
    """Residual std per variable, negative-m^2 fractions, jet-mass KS and phi ranges of ``model`` on ``x``."""
    y = model.reconstruct(x)
    m_in = signed_mass(x[:, 0], x[:, 1], x[:, 2])
    m_out = signed_mass(y[:, 0], y[:, 1], y[:, 2])
    res = residual_summary(x, y, COLUMNS)
    massive = m_in > 1.0
    return {
        "jets": int(x.shape[0]),
        "residual_std": {v: r["std"] for v, r in res.items()},
        "residual_kind": {v: r["kind"] for v, r in res.items()},
        "negative_m2_fraction": {"input": float(np.mean(m_in < 0)), "decoded": float(np.mean(m_out < 0))},
        "mass_ks": ks_statistic(m_in, m_out),
        # per jet: a sampled mass is a draw, so this is the width of the mass given the latent
        "mass_residual_std": float(np.std((m_out[massive] - m_in[massive]) / m_in[massive])),
        "mass_median": {"input": float(np.median(m_in)), "decoded": float(np.median(m_out))},
        "phi_range": {
            "input": [float(x[:, 3].min()), float(x[:, 3].max())],
            "decoded": [float(y[:, 3].min()), float(y[:, 3].max())],
        },
        "decoded_phi_within_input_range": bool(
            (y[:, 3] >= x[:, 3].min()).all() and (y[:, 3] <= x[:, 3].max()).all()
        ),
    }


def test_split(model: CompressionModel, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The rows of ``x`` in ``model``'s test split (the trainer's split of the same sample)."""
    cfg = model.training["config"]
    rows = model.training["rows"]["total"]
    if rows != x.shape[0]:
        raise SystemExit(
            f"the model was trained on {rows} rows, the sample has {x.shape[0]}: other --events?"
        )
    split = split_rows(rows, cfg["val_fraction"], cfg["test_fraction"], cfg["seed"])
    return x[split.test]


def compressed_ratio(model: CompressionModel, table: Table) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.hsqz"
        report = hsq.compress(table.select(["event", *COLUMNS]), path, model=model)
        back = hsq.decompress(path).stack(list(COLUMNS))
        by_name = hsq.compress(
            table.select(["event", *COLUMNS]), Path(tmp) / "r.hsqz", model=model, embed_model=False
        )
    x = table.stack(list(COLUMNS), dtype=np.float32)
    m_in = signed_mass(x[:, 0], x[:, 1], x[:, 2])
    m_out = signed_mass(back[:, 0], back[:, 1], back[:, 2])
    return {
        "ratio": report.ratio,
        "file_bytes": report.file_bytes,
        "rows": report.rows,
        "ratio_model_by_name": by_name.ratio,
        "decompressed_negative_m2_fraction": float(np.mean(m_out < 0)),
        "decompressed_mass_ks": ks_statistic(m_in, m_out),
    }


def train(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    jets = generate_mixture(events_per_process=args.events, seed=args.seed, workers=2)
    arch = get_preset(args.preset)
    if args.latent is not None:  # a probe: the same network with another latent size (not shipped)
        nodes = list(arch.nodes)
        nodes[arch.latent_index] = args.latent
        arch = dataclasses.replace(arch, nodes=tuple(nodes))
    if arch.output_range:
        arch = dataclasses.replace(arch, range_activation=args.range_activation)
    t0 = time.perf_counter()
    model = hsq.train(
        jets, arch, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        normalisation=args.normalisation, patience=args.patience, seed=args.seed,
        max_seconds=60 * args.max_minutes, progress=log_epoch, device="cpu",
        loss_weights=args.loss_weights,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    model.name = args.preset
    command = "benchmarks/train_ae4d3m.py " + " ".join(sys.argv[1:])
    model.training["command"] = command
    model.training["budget"] = {
        "minutes": wall / 60,
        "threads": args.threads,
        "machine": "2 CPU cores, shared",
    }
    if args.model_out:
        args.model_out.parent.mkdir(parents=True, exist_ok=True)
        save_model(model, args.model_out, force=True)
    x = jets.stack(list(COLUMNS), dtype=np.float32)
    result = {
        "command": command,
        "machine": machine(),
        "wall_seconds_training": wall,
        "epochs_run": model.training["epochs_run"],
        "test": mass_metrics(model, test_split(model, x)),
        "history": model.history,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("wall_seconds_training", "epochs_run", "test")}, indent=1))


def compare(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    new = resolve_model(args.model)
    old = resolve_model(args.baseline)
    jets = generate_mixture(events_per_process=args.events, seed=args.seed, workers=2)
    fresh = generate_mixture(events_per_process=args.validation_events, seed=args.validation_seed, workers=2)
    x_test = test_split(new, jets.stack(list(COLUMNS), dtype=np.float32))
    x_fresh = fresh.stack(list(COLUMNS), dtype=np.float32)
    samples = {
        f"test split (ttbar+qcd, {args.events} events/process, seed {args.seed})": x_test,
        f"fresh sample (ttbar+qcd, {args.validation_events} events/process, seed {args.validation_seed})": x_fresh,
    }
    out: dict[str, Any] = {
        "command": "benchmarks/train_ae4d3m.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
    }
    out["training_command"] = new.training.get("command")
    out["training_budget"] = new.training.get("budget")
    out["models"] = {}
    for label, model in ((args.baseline, old), (args.model, new)):
        out["models"][label] = {
            "samples": {name: mass_metrics(model, x) for name, x in samples.items()},
            "compressed": compressed_ratio(model, fresh),
            "training": {
                "epochs_run": model.training.get("epochs_run"),
                "seconds": model.training.get("seconds"),
                "rows": model.training.get("rows"),
            },
        }
    out["probes"] = {}
    for path in args.probes:
        run = json.loads(path.read_text())
        out["probes"][path.name] = {
            "command": run["command"],
            "wall_seconds_training": run["wall_seconds_training"],
            "epochs_run": run["epochs_run"],
            "test": run["test"],
        }
    if args.card is not None:
        add_to_card(args.card, out["models"][args.model], list(samples), new)
    STUDY.parent.mkdir(parents=True, exist_ok=True)
    STUDY.with_suffix(".json").write_text(json.dumps(out, indent=1) + "\n")
    STUDY.with_suffix(".md").write_text(markdown(out, list(samples)))
    print(STUDY.with_suffix(".md").read_text())


def add_to_card(path: Path, measured: dict[str, Any], samples: list[str], model: CompressionModel) -> None:
    """Put the physics figures and the training budget into the zoo card at ``path`` (``extra``)."""
    card = json.loads(path.read_text())
    keys = ("jets", "negative_m2_fraction", "mass_ks", "phi_range", "residual_std")
    card["extra"]["physics"] = {
        name: {k: measured["samples"][sample][k] for k in keys}
        for name, sample in zip(("test", "seed2"), samples, strict=True)
    }
    card["extra"]["physics"]["samples"] = dict(zip(("test", "seed2"), samples, strict=True))
    card["extra"]["budget"] = model.training.get("budget", {})
    card["extra"]["compressed"] = measured["compressed"]
    path.write_text(json.dumps(card, indent=1) + "\n")


def markdown(out: dict[str, Any], samples: list[str]) -> str:
    models = list(out["models"])
    lines = [
        "# ae4d-3m: the 4D autoencoder in (m, pt, eta, phi), against ae4d-3",
        "",
        "`zoo:ae4d-3m` is ae4d-3's network (4-200-200-20-3-20-200-200-4, LeakyReLU, 3 latent values) working",
        "in (m, pt, eta, phi) on tables of (E, pt, eta, phi) (`hepsqueeze.models.four_vector`): the decoded",
        "mass goes through a softplus above the normalised value of m = 0, so it is never negative, and",
        "the decoded phi is clamped to its training range; E is rebuilt as sqrt(m^2 + (pt cosh eta)^2),",
        "rounded up to float32. Residuals: relative for E and pt, absolute for eta and phi (std).",
        "Jet mass: signed, sign(m^2) sqrt(|m^2|) from each table's E, pt, eta in float64; KS: two-sample",
        "Kolmogorov-Smirnov distance between the input's and the decoded jet masses.",
        "",
        "Produced by (machine: 2 CPU cores shared with other jobs):",
        "",
        "    .venv/bin/python " + out["command"],
        "",
        f"`{models[1]}` was trained ({out['training_budget']['minutes']:.1f} minutes, "
        f"{out['training_budget']['threads']} thread, {out['training_budget']['machine']}) by:",
        "",
        "    .venv/bin/python " + str(out["training_command"]),
        "",
        "and carded by `benchmarks/make_zoo_card.py` (see its card, src/hepsqueeze/zoo/models/ae4d-3m.json);",
        "the probes' files out/probe-*.json are the train JSONs of the commands in their table.",
        "",
    ]
    new, old = (
        out["models"][models[1]]["samples"][samples[0]],
        out["models"][models[0]]["samples"][samples[0]],
    )
    lo, hi = new["phi_range"]["input"]
    dlo, dhi = new["phi_range"]["decoded"]
    checks = [
        ("negative m^2 below 0.1% of jets", new["negative_m2_fraction"]["decoded"] < 1e-3,
         f"{new['negative_m2_fraction']['decoded']:.3%}"),
        ("jet-mass KS below 0.05", new["mass_ks"] < 0.05, f"{new['mass_ks']:.3f}"),
        ("pt residual std no worse than ae4d-3's", new["residual_std"]["pt"] <= old["residual_std"]["pt"],
         f"{new['residual_std']['pt']:.3g} against {old['residual_std']['pt']:.3g}"),
        ("decoded phi in the input's range", new["decoded_phi_within_input_range"],
         f"decoded [{dlo:.5f}, {dhi:.5f}], input [{lo:.5f}, {hi:.5f}]; never beyond the training range"),
    ]  # fmt: skip
    lines += [f"## Targets of issue 20 on the test split ({models[1]})", ""]
    lines += ["| target | met | measured |", "|---|---|---|"]
    lines += [f"| {name} | {'yes' if ok else '**no**'} | {value} |" for name, ok, value in checks]
    lines += [
        "",
        "Why two are missed: four nearly independent numbers (m, pt, eta, phi) do not fit through three",
        "latent values. In (E, pt, eta, phi), E is almost fixed by pt and eta (m^2 / 2E^2 is below a",
        "per cent), so ae4d-3 drops the mass direction at little cost in its loss, and with it the mass",
        "(its negative-m^2 fraction and KS below). In (m, pt, eta, phi) the mass is as wide as the other",
        "variables in normalised units, and the network spreads the lost dimension over all four. The",
        "probes below show it: the same recipe with a 4-value latent comes close to the pt residual of",
        "ae4d-3 trained the same way, with a jet-mass KS about a hundred times lower; with 3 values it",
        "cannot. The floor and",
        "the clamp hold by construction whatever the latent (tests/models/test_four_vector.py).",
        "",
    ]
    for sample in samples:
        lines += [f"## {sample}", ""]
        lines += ["| | " + " | ".join(f"`{m}`" for m in models) + " |", "|---" * (len(models) + 1) + "|"]
        rows = out["models"]
        first = rows[models[0]]["samples"][sample]
        lines.append("| jets | " + " | ".join(str(rows[m]["samples"][sample]["jets"]) for m in models) + " |")
        for v in first["residual_std"]:
            kind = first["residual_kind"][v]
            lines.append(
                f"| {v} residual std ({kind}) | "
                + " | ".join(f"{rows[m]['samples'][sample]['residual_std'][v]:.3g}" for m in models)
                + " |"
            )
        lines.append(
            f"| negative m^2 (input {first['negative_m2_fraction']['input']:.3%}) | "
            + " | ".join(
                f"{rows[m]['samples'][sample]['negative_m2_fraction']['decoded']:.3%}" for m in models
            )
            + " |"
        )
        lines.append(
            "| jet-mass KS | "
            + " | ".join(f"{rows[m]['samples'][sample]['mass_ks']:.3f}" for m in models)
            + " |"
        )
        lines.append(
            f"| median jet mass, GeV (input {first['mass_median']['input']:.2f}) | "
            + " | ".join(f"{rows[m]['samples'][sample]['mass_median']['decoded']:.2f}" for m in models)
            + " |"
        )
        lo, hi = first["phi_range"]["input"]
        lines.append(
            f"| decoded phi range (input [{lo:.5f}, {hi:.5f}]) | "
            + " | ".join(
                "[{:.5f}, {:.5f}]".format(*rows[m]["samples"][sample]["phi_range"]["decoded"]) for m in models
            )
            + " |"
        )
        lines += [""]
    lines += [
        "## Compressed file (the fresh sample, float32 latents)",
        "",
        "The decoder (about 0.38 MB) dominates a file of this size when embedded; a zoo model can be",
        "referenced by name instead (`embed_model=False`). Decompressed: the file read back.",
        "",
    ]
    lines += ["| | " + " | ".join(f"`{m}`" for m in models) + " |", "|---" * (len(models) + 1) + "|"]
    lines.append(
        "| ratio | " + " | ".join(f"{out['models'][m]['compressed']['ratio']:.2f}" for m in models) + " |"
    )
    lines.append(
        "| ratio, model referenced by name | "
        + " | ".join(f"{out['models'][m]['compressed']['ratio_model_by_name']:.2f}" for m in models)
        + " |"
    )
    lines.append(
        "| decompressed: negative m^2 | "
        + " | ".join(
            f"{out['models'][m]['compressed']['decompressed_negative_m2_fraction']:.3%}" for m in models
        )
        + " |"
    )
    lines.append(
        "| decompressed: jet-mass KS | "
        + " | ".join(f"{out['models'][m]['compressed']['decompressed_mass_ks']:.3f}" for m in models)
        + " |"
    )
    lines.append(
        "| file bytes | "
        + " | ".join(str(out["models"][m]["compressed"]["file_bytes"]) for m in models)
        + " |"
    )
    lines.append("")
    if out["probes"]:
        lines += [
            "## Probes (short runs on the 6000 events/process seed-1 sample; their own test split)",
            "",
            "Settings tried before the zoo run: the phi range by a clamp or a scaled sigmoid (the clamp keeps",
            "phi several times better at the same pt, so the preset clamps), the fixed `custom` normalisation,",
            "a lower learning rate with smaller batches, and the ae4d-3m recipe with a 4-value latent.",
            "",
            "| run | epochs | minutes | E std | pt std | eta std | phi std | negative m^2 | jet-mass KS | command |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, run in out["probes"].items():
            t = run["test"]
            std = t["residual_std"]
            lines.append(
                f"| {name} | {run['epochs_run']} | {run['wall_seconds_training'] / 60:.1f} | "
                + " | ".join(f"{std[v]:.3g}" for v in COLUMNS)
                + f" | {t['negative_m2_fraction']['decoded']:.3%} | {t['mass_ks']:.3f} | `{run['command']}` |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    t = sub.add_parser("train")
    t.add_argument("--preset", default="ae4d-3m", help="ae4d-3 trains the E-space baseline the same way")
    t.add_argument("--events", type=int, default=12000, help="events per process (ttbar, qcd)")
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--epochs", type=int, default=300)
    t.add_argument("--batch-size", type=int, default=1024)
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--patience", type=int, default=100)
    t.add_argument("--max-minutes", type=float, default=25.0)
    t.add_argument("--normalisation", default="custom+minmax")
    t.add_argument("--latent", type=int, default=None, help="probe: latent size instead of the preset's")
    t.add_argument("--range-activation", default="clamp", choices=("clamp", "sigmoid"))
    t.add_argument("--threads", type=int, default=2)
    t.add_argument(
        "--loss-weights", type=lambda v: tuple(float(w) for w in v.split(",")), default=None,
        help="one weight per network variable (m, pt, eta, phi), comma-separated",
    )  # fmt: skip
    t.add_argument("--out", type=Path, default=Path("out/ae4d-3m-train.json"))
    t.add_argument("--model-out", type=Path, default=None)
    c = sub.add_parser("compare")
    c.add_argument("model")
    c.add_argument("--baseline", default="zoo:ae4d-3")
    c.add_argument(
        "--events", type=int, default=12000, help="the model's training sample: events per process"
    )
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--validation-events", type=int, default=2000)
    c.add_argument("--validation-seed", type=int, default=2)
    c.add_argument("--threads", type=int, default=2)
    c.add_argument("--probes", type=Path, nargs="*", default=[], help="train JSONs of probe runs to tabulate")
    c.add_argument("--card", type=Path, default=None, help="zoo card to add the physics figures to")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    (train if args.what == "train" else compare)(args)


if __name__ == "__main__":
    main()
