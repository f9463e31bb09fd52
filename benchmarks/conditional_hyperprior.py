"""Issue 17: the seeds' autoencoder as a hyperprior of the conditional model (an estimate of the rate).

    .venv/bin/python benchmarks/conditional_hyperprior.py --out docs/conditional

The seeds' architecture (``zoo:ae27d-20``: 27 -> ... -> 20 -> ... -> 27, trained on the same
ttbar + QCD sample, seed 1) encodes each jet; its latent is quantised with a step of ``f`` times
each dimension's std (``--steps``) and its reconstruction is given to the conditional model as 27
more context columns before the jet's own. The rate is the latent's bits (the plug-in entropy of
each quantised dimension on the test jets: what an ideal factorised prior fitted to those very
jets would cost, so a lower bound for a learned prior) plus the conditional bits of every column
(:func:`hepsqueeze.training.conditional.evaluate_bits`: the targets under the model's tables, the
other columns the entropy of what the analytic coding codes). The same conditional model without
the hyperprior, trained and measured the same way, is the reference. Train: ttbar + QCD seed 1
(103k jets); test: the first ``--test-jets`` jets of ttbar + QCD seed 2. This is an estimate, not
a codec: the autoencoder runs in float (torch), so its reconstruction is not the same bits on
every machine, and the bits are entropies, not a file's bytes.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

import hepsqueeze as hsq
from hepsqueeze.codecs.bounded.precision import parse_precision
from hepsqueeze.codecs.bounded.training import model_columns
from hepsqueeze.io.table import Table
from hepsqueeze.models.conditional.model import Domain
from hepsqueeze.training.conditional import (
    ColumnData,
    ConditionalTrainingConfig,
    evaluate_bits,
    train_conditional,
)
from hepsqueeze.zoo import load


def _columns(table: Table) -> dict[str, Any]:
    return {n: table[n] for n in table.names}


def _entropy(q: np.ndarray) -> float:
    _, c = np.unique(q, return_counts=True)
    p = c / q.size
    return float(-(p * np.log2(p)).sum())


def _contexts(ae: Any, table: Table, scale: np.ndarray) -> tuple[list[ColumnData], float]:
    """The reconstruction of the quantised latent as context columns, and the latent's bits per jet."""
    x = table.stack(list(ae.columns), dtype=np.float32)
    z = ae.encode(x)
    zq = np.rint(z / scale)
    xhat = ae.decode((zq * scale).astype(np.float32))
    bits = sum(_entropy(zq[:, d]) for d in range(zq.shape[1]))
    ctx = [
        ColumnData(f"ae:{c}", Domain.LINEAR, xhat[:, j].astype(np.float64)) for j, c in enumerate(ae.columns)
    ]
    return ctx, bits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=float, nargs="*", default=[0.1, 0.3, 1.0])
    parser.add_argument("--test-jets", type=int, default=30000)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    train = hsq.generate_mixture(("ttbar", "qcd"), events_per_process=12500, seed=1, kind="jets27d")
    full = hsq.generate_mixture(("ttbar", "qcd"), events_per_process=12500, seed=2, kind="jets27d")
    test = Table({n: full[n][: args.test_jets] for n in full.names})
    prec = parse_precision("1e-3")
    cols_train, cols_test = _columns(train), _columns(test)
    bounds = {n: prec.resolve(n, v.dtype) for n, v in cols_train.items() if v.dtype.kind == "f"}
    own_train = model_columns(cols_train, bounds, "event", integer_targets=True)
    own_test = model_columns(cols_test, bounds, "event", integer_targets=True)
    config = ConditionalTrainingConfig(hidden=args.hidden, epochs=args.epochs, threads=1, name="reference")
    start = time.perf_counter()
    reference = train_conditional(own_train, config).model
    ref_bits = evaluate_bits(reference, own_test)
    rows: list[dict[str, Any]] = [
        {
            "variant": "conditional model",
            "latent_bits": 0.0,
            "column_bits": sum(ref_bits.values()),
            "seconds": time.perf_counter() - start,
        }
    ]
    ae = load("zoo:ae27d-20")
    z_train = ae.encode(train.stack(list(ae.columns), dtype=np.float32))
    std = z_train.std(axis=0)
    for f in args.steps:
        scale = np.maximum(std * f, 1e-6)
        ctx_train, _ = _contexts(ae, train, scale)
        ctx_test, latent = _contexts(ae, test, scale)
        start = time.perf_counter()
        cfg = ConditionalTrainingConfig(
            hidden=args.hidden, epochs=args.epochs, threads=1, name=f"hyperprior-{f}"
        )
        model = train_conditional(ctx_train + own_train, cfg).model
        bits = evaluate_bits(model, ctx_test + own_test)
        rows.append(
            {
                "variant": f"ae27d-20 hyperprior, latent step {f} std",
                "latent_bits": latent,
                "column_bits": sum(bits.values()),
                "seconds": time.perf_counter() - start,
            }
        )
        print(rows[-1], flush=True)
    for r in rows:
        r["total_bits"] = r["latent_bits"] + r["column_bits"]
        r["ratio_float32"] = 23 * 32 / r["total_bits"]
    result = {"test_jets": len(test), "hidden": args.hidden, "epochs": args.epochs, "rows": rows}
    (args.out / "hyperprior.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "| variant | latent bits/jet | column bits/jet | total bits/jet | float32 bytes / bits (estimate) |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {r['variant']} | {r['latent_bits']:.1f} | {r['column_bits']:.1f} | {r['total_bits']:.1f} "
            f"| {r['ratio_float32']:.2f} |"
            for r in rows
        ),
    ]
    (args.out / "hyperprior.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
