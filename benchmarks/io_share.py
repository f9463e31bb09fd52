"""Issue 18: the share of reading and writing in compressing and decompressing one large file.

    .venv/bin/python benchmarks/io_share.py --out docs/scaling --rows 10000000

A Parquet file of ``--rows`` jets (event, E, pt, eta, phi: the generated ttbar + QCD, single top
and W+jets jets of seed 2, tiled to the size), compressed at ``--max-error 1e-3``. Timed apart
(wall seconds, one run each, 2 cores): reading the Parquet file into a Dataset; coding it and
writing the container (its verification by decoding included); decoding the container into a
Dataset; writing that Dataset back to Parquet.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import hepsqueeze as hsq
from hepsqueeze.codecs.bounded.precision import parse_precision
from hepsqueeze.codecs.bounded.table_codec import BoundedCodec
from hepsqueeze.file.reader import decompress_dataset
from hepsqueeze.file.writer import compress_dataset
from hepsqueeze.io import read_dataset, write_dataset
from hepsqueeze.io.table import Table

SAMPLES = ((("ttbar", "qcd"), 12500), (("singletop",), 28500), (("wjets",), 37000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    jets = Table.concat(
        [hsq.generate_mixture(p, events_per_process=n, seed=2, kind="jets27d") for p, n in SAMPLES]
    )
    reps = -(-args.rows // len(jets))
    event = np.concatenate([jets["event"] + np.int64(k * 10**9) for k in range(reps)])[: args.rows]
    cols = {"event": np.sort(event)}
    for name in ("E", "pt", "eta", "phi"):
        cols[name] = np.tile(jets[name], reps)[: args.rows]
    with tempfile.TemporaryDirectory(prefix="hsq-io-") as tmp_name:
        tmp = Path(tmp_name)
        src, packed, back = tmp / "jets.parquet", tmp / "jets.hsqz", tmp / "back.parquet"
        hsq.write_table(Table(cols), src)
        t = {}
        start = time.perf_counter()
        dataset = read_dataset(src)
        t["read parquet"] = time.perf_counter() - start
        codec = BoundedCodec(parse_precision("1e-3"))
        start = time.perf_counter()
        compress_dataset(dataset, codec, packed)
        t["code, write and verify the container"] = time.perf_counter() - start
        start = time.perf_counter()
        decoded = decompress_dataset(packed)
        t["read and decode the container"] = time.perf_counter() - start
        start = time.perf_counter()
        write_dataset(decoded, back)
        t["write parquet"] = time.perf_counter() - start
        sizes = {"parquet": src.stat().st_size, "container": packed.stat().st_size}
    compress_total = t["read parquet"] + t["code, write and verify the container"]
    decompress_total = t["read and decode the container"] + t["write parquet"]
    result = {
        "rows": args.rows,
        "seconds": t,
        "bytes": sizes,
        "io_share_compress": t["read parquet"] / compress_total,
        "io_share_decompress": t["write parquet"] / decompress_total,
    }
    (args.out / "io_share.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
