"""Rate-distortion benchmark of the standard compressors (and optionally an autoencoder) on generated jets.

    .venv/bin/python benchmarks/baselines_ttbar_qcd.py [--model out/ae4d-3-accept.hsqm] [--out docs/benchmarks]

Two samples: ``ttbar_qcd`` (ttbar + QCD, ``--events`` events each, seed 1: about 103,000 jets at
12,000, the sample the published models are trained on) and ``qcd_pthat200`` (QCD with pTHatMin
200 GeV, seed 2: a sample the model never saw). For each, every baseline at each ``--errors`` target
and the model at its own error, written to ``OUT/<sample>/benchmark.{json,md}`` with the
rate-distortion plots ``rate_distortion_<variable>.{png,pdf}``; the markdown is printed.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from hepsqueeze.datasets import GeneratorConfig, generate, generate_mixture
from hepsqueeze.io.table import Table

# Generator workers are spawned and re-import this module: the benchmark, plotting and torch imports
# stay inside main() so that they do not pay for them.
DEFAULT_ERRORS = "1e-2,3e-3,1e-3,3e-4"

SAMPLES = ("ttbar_qcd", "qcd_pthat200")


def load_sample(name: str, events: int, unseen_events: int, workers: int) -> Table:
    if name == "ttbar_qcd":
        return generate_mixture(events_per_process=events, seed=1, workers=workers)
    return generate(GeneratorConfig("qcd", events=unseen_events, seed=2, pthat_min=200.0), workers=workers)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, help="a trained model file (.hsqm) to include at its own error")
    p.add_argument("--events", type=int, default=12000, help="events per process of the ttbar + QCD sample")
    p.add_argument("--unseen-events", type=int, default=12000, help="events of the QCD pTHatMin 200 sample")
    p.add_argument("--samples", default=",".join(SAMPLES), help=f"comma-separated, from {', '.join(SAMPLES)}")
    p.add_argument("--errors", default=DEFAULT_ERRORS, help="comma-separated error targets")
    p.add_argument("--repeats", type=int, default=3, help="timing runs per method (median)")
    p.add_argument("--workers", type=int, default=2, help="generator worker processes")
    p.add_argument("--out", type=Path, default=Path("docs/benchmarks"))
    args = p.parse_args()
    from hepsqueeze.evaluation.benchmark import run_benchmark, write_benchmark
    from hepsqueeze.plotting.rate_distortion import plot_benchmark

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    samples = [s.strip() for s in args.samples.split(",") if s.strip()]
    unknown = sorted(set(samples) - set(SAMPLES))
    if unknown:
        p.error(f"unknown sample(s) {', '.join(unknown)}; choose from {', '.join(SAMPLES)}")
    errors = tuple(float(e) for e in args.errors.split(","))
    model = None
    if args.model is not None:
        import torch

        from hepsqueeze.models import load_model

        torch.set_num_threads(args.workers)
        model = load_model(args.model)
    columns = list(model.columns) if model is not None else ["E", "pt", "eta", "phi"]

    for name in samples:
        table = load_sample(name, args.events, args.unseen_events, args.workers)
        result = run_benchmark(table, columns, errors=errors, model=model, repeats=args.repeats)
        result["data"]["sample"] = name
        out = args.out / name
        json_path, md_path = write_benchmark(result, out)
        plot_benchmark(json_path, out)
        print(md_path.read_text())


if __name__ == "__main__":
    main()
