"""The decoded jet mass of 4D models on every process of the generalisation study (issue 20).

    .venv/bin/python benchmarks/mass_by_process.py zoo:ae4d-3ms zoo:ae4d-3 out/ae4d-3m.hsqm

A sampled mass (zoo:ae4d-3ms) follows the distribution of the mass given (pt, eta, phi) that the model
learnt on ttbar and QCD: on a process whose jets have another mass distribution at the same
kinematics (boosted W, Z, top or a new resonance's decay products), the decoded spectrum keeps the
training processes' shape, not the process's own. This benchmark measures that on the study's test
sample (kind ``events``, 3,000 events per process, seed 2, the j and b objects): per process and
model, the jet-mass KS distance, the median mass and the fraction of jets above 50 GeV of mass
(where boosted W/Z/top jets sit), input against decoded. Writes docs/studies/ae4d-3ms-processes.{md,json}.
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

from hepsqueeze.metrics.residuals import ks_statistic
from hepsqueeze.models.four_vector import signed_mass
from hepsqueeze.studies.generalisation import JET_GROUPS, GeneralisationConfig, event_objects
from hepsqueeze.zoo import resolve_model

STUDY = Path(__file__).resolve().parents[1] / "docs" / "studies" / "ae4d-3ms-processes"
HEAVY = 50.0  # GeV


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+")
    p.add_argument("--events", type=int, default=3000)
    p.add_argument("--seed", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    cfg = GeneralisationConfig()
    models = {name: resolve_model(name) for name in args.models}
    result: dict[str, Any] = {
        "command": "benchmarks/mass_by_process.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "heavy_gev": HEAVY,
        "processes": {},
    }
    for proc in (*cfg.train_processes, *cfg.test_processes):
        objects = event_objects(proc, args.events, args.seed, workers=2)
        x = objects.x[np.isin(objects.group, JET_GROUPS)]
        m_in = signed_mass(x[:, 0], x[:, 1], x[:, 2])
        entry: dict[str, Any] = {
            "jets": int(x.shape[0]),
            "input": {"median": float(np.median(m_in)), "heavy_fraction": float(np.mean(m_in > HEAVY))},
            "models": {},
        }
        for name, model in models.items():
            y = model.reconstruct(x)
            m_out = signed_mass(y[:, 0], y[:, 1], y[:, 2])
            entry["models"][name] = {
                "mass_ks": ks_statistic(m_in, m_out),
                "median": float(np.median(m_out)),
                "heavy_fraction": float(np.mean(m_out > HEAVY)),
                "negative_m2_fraction": float(np.mean(m_out < 0)),
            }
        result["processes"][proc] = entry
    STUDY.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    STUDY.with_suffix(".md").write_text(markdown(result, list(models), cfg.train_processes))
    logging.info("wrote %s", STUDY.with_suffix(".md"))


def markdown(result: dict[str, Any], names: list[str], trained: tuple[str, ...]) -> str:
    heavy = result["heavy_gev"]
    lines = [
        "# Decoded jet mass by process (4D models)",
        "",
        "The generalisation study's test sample (3,000 events per process, seed 2, j and b objects). KS: "
        "two-sample Kolmogorov-Smirnov distance between the input's and the decoded jet masses (signed, "
        f"from E, pt, eta); 'heavy': the fraction of jets with m > {heavy:g} GeV, input / decoded.",
        "",
        f"Command: `.venv/bin/python {result['command']}`",
        "",
        "| process | jets | input median m, GeV | input heavy | "
        + " | ".join(f"{n} KS | {n} heavy" for n in names)
        + " |",
        "|---|---:|---:|---:|" + "---:|---:|" * len(names),
    ]
    for proc, e in result["processes"].items():
        label = proc + (" (trained)" if proc in trained else "")
        cells = [f"{e['models'][n]['mass_ks']:.3f} | {e['models'][n]['heavy_fraction']:.2%}" for n in names]
        lines.append(
            f"| {label} | {e['jets']:,} | {e['input']['median']:.2f} | {e['input']['heavy_fraction']:.2%} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
