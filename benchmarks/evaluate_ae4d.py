"""Evaluation report of a model on the 103,285-jet ttbar + QCD sample, timed; copies two plots to docs/.

    .venv/bin/python benchmarks/evaluate_ae4d.py --model out/ae4d-3-accept.hsqm --report out/report100k

Prints the report's wall time and the headline numbers quoted in docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--events", type=int, default=12000, help="events per process")
    p.add_argument("--report", type=Path, default=Path("out/report100k"))
    p.add_argument("--images", type=Path, default=Path("docs/images"))
    args = p.parse_args()
    import hepsqueeze as hsq
    from hepsqueeze.datasets import generate_mixture
    from hepsqueeze.evaluation.report import evaluate

    jets = generate_mixture(events_per_process=args.events, seed=1, workers=2)
    with tempfile.TemporaryDirectory() as tmp:
        packed = Path(tmp) / "jets.hsqz"
        hsq.compress(jets, packed, model=args.model)
        back = hsq.decompress(packed)
        t0 = time.perf_counter()
        metrics = evaluate(jets, back, args.report, container=packed, model=args.model, force=True)
        seconds = time.perf_counter() - t0
    args.images.mkdir(parents=True, exist_ok=True)
    for src, dst in (
        ("response_vs_pt.png", "evaluation-response-vs-pt.png"),
        ("physics_jet_mass.png", "evaluation-jet-mass.png"),
    ):
        found = sorted(args.report.rglob(src))
        if found:
            shutil.copyfile(found[0], args.images / dst)
    summary = {
        "rows": jets.num_rows,
        "report_seconds": round(seconds, 1),
        "std": {
            c: m["relative_residual"]["std"] if m.get("relative_residual") else m["residual"]["std"]
            for c, m in metrics["metrics"].items()
        },
        "ks": {c: m["ks"] for c, m in metrics["metrics"].items()},
        "physics": {k: v for k, v in metrics.get("physics", {}).items() if k != "notes"},
    }
    print(json.dumps(summary, indent=1, default=str)[:6000])


if __name__ == "__main__":
    main()
