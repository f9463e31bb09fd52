"""Compress and decompress the acceptance sample with a trained model; report sizes, ratios and exactness.

    .venv/bin/python benchmarks/roundtrip_ae4d.py --model out/ae4d-3-accept.hsqm --events 12000 \
        --out docs/results/ae4d-3-roundtrip.json

For float32 and float16 latents: file size, each section's size, the ratio (float32 values / file),
the ratio to the parquet input, compress/decompress wall time (median of 3), whether the decompressed
values equal the model's own reconstruction, and the residuals on the model's test split.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import hepsqueeze as hsq
from hepsqueeze.codecs.autoencoder.exceptions import codec_reconstruct
from hepsqueeze.datasets import generate_mixture
from hepsqueeze.io import write_table
from hepsqueeze.metrics.residuals import residual_summary
from hepsqueeze.models import load_model
from hepsqueeze.training import split_rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--events", type=int, default=12000, help="events per process")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=Path("docs/results/ae4d-3-roundtrip.json"))
    args = p.parse_args()
    torch.set_num_threads(2)
    jets = generate_mixture(events_per_process=args.events, seed=args.seed, workers=2)
    model = load_model(args.model)
    cols = list(model.columns)
    cfg = model.training["config"]
    test_rows = split_rows(jets.num_rows, cfg["val_fraction"], cfg["test_fraction"], cfg["seed"]).test
    results: dict[str, object] = {"rows": jets.num_rows, "model": model.summary()}
    with tempfile.TemporaryDirectory() as tmp:
        parquet = write_table(jets, Path(tmp) / "jets.parquet")
        results["parquet_bytes"] = parquet.stat().st_size
        for dtype in ("float32", "float16"):
            out = Path(tmp) / f"jets-{dtype}.hsqz"
            t_c, t_d = [], []
            for _ in range(args.repeats):
                out.unlink(missing_ok=True)
                t0 = time.perf_counter()
                rep = hsq.compress(jets, out, model=model, latent_dtype=dtype)
                t_c.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                back = hsq.decompress(out)
                t_d.append(time.perf_counter() - t0)
            x, y = jets.stack(cols), back.stack(cols)
            results[dtype] = {
                "file_bytes": rep.file_bytes,
                "section_bytes": rep.section_bytes,
                "ratio": rep.ratio,
                "ratio_vs_parquet": results["parquet_bytes"] / rep.file_bytes,  # type: ignore[operator]
                "compress_seconds_median": statistics.median(t_c),
                "decompress_seconds_median": statistics.median(t_d),
                # the codec's reconstruction: the network's, with the values it stores exactly put back
                "equals_model_reconstruction": bool(np.array_equal(y, codec_reconstruct(model, x, dtype))),
                "passthrough_identical": all(
                    np.array_equal(jets[c], back[c]) for c in rep.passthrough_columns
                ),
                "test_residuals": residual_summary(x[test_rows], y[test_rows], model.variables),
            }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(
        json.dumps(
            {
                k: {kk: vv for kk, vv in v.items() if kk != "test_residuals"} if isinstance(v, dict) else v
                for k, v in results.items()
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
