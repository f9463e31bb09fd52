"""Streaming scale run: compress and decompress an N-row Parquet file, measuring peak memory.

The input tiles one generated jet-like sample of 2**20 rows (numpy, not Pythia; event numbers keep
increasing) to N rows; the model is ae4d-3 with random weights (memory does not depend on
training). Each step runs in its own process, whose peak RSS (``ru_maxrss``) is reported::

    .venv/bin/python tests/reliability/stream_scale.py 100000000 /tmp/scale [compress|decompress]
"""

from __future__ import annotations

import json
import logging
import resource
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger("stream_scale")
SAMPLE = 1 << 20


def make_input(path: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    pt = 20.0 + rng.exponential(40.0, SAMPLE)
    eta = rng.uniform(-4.0, 4.0, SAMPLE)
    sample = {
        "E": (pt * np.cosh(eta)).astype(np.float32),
        "pt": pt.astype(np.float32),
        "eta": eta.astype(np.float32),
        "phi": rng.uniform(-np.pi, np.pi, SAMPLE).astype(np.float32),
    }
    events = np.arange(SAMPLE, dtype=np.int64) // 4
    schema = pa.schema([("event", pa.int64())] + [(n, pa.float32()) for n in sample])
    with pq.ParquetWriter(path, schema) as writer:
        done = 0
        while done < rows:
            n = min(SAMPLE, rows - done)
            cols = [pa.array(events[:n] + done // 4)] + [pa.array(v[:n]) for v in sample.values()]
            writer.write_table(pa.Table.from_arrays(cols, schema=schema))
            done += n


def step(kind: str, src: str, out: str) -> None:
    """One measured step, in this process: ``compress`` or ``decompress``."""
    import numpy as np
    import torch

    from hepsqueeze.codecs.autoencoder.codec import AutoencoderCodec
    from hepsqueeze.file.reader import decompress_to_parquet
    from hepsqueeze.file.writer import compress_parquet
    from hepsqueeze.models.autoencoder import Autoencoder
    from hepsqueeze.models.model import CompressionModel
    from hepsqueeze.models.presets import get_preset
    from hepsqueeze.preprocessing.normalisation import Normaliser

    start = time.perf_counter()
    info: dict[str, float]
    if kind == "compress":
        torch.manual_seed(0)
        names = ("E", "pt", "eta", "phi")
        lo = np.array([[20.0, 20.0, -4.0, -np.pi], [1e6, 1e5, 4.0, np.pi]], dtype=np.float32)
        model = CompressionModel(
            Autoencoder(get_preset("ae4d-3")), Normaliser.fit("custom+minmax", names, lo), names, names
        )
        rep = compress_parquet(src, AutoencoderCodec(model), out, force=True)
        info = {"rows": rep.rows, "file_bytes": rep.file_bytes, "exceptions": rep.exception_count}
    else:
        info = {"rows": decompress_to_parquet(src, out, force=True)}
    info["seconds"] = time.perf_counter() - start
    info["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(info))


def run(rows: int, workdir: Path, only: str | None = None) -> dict[str, dict[str, float]]:
    workdir.mkdir(parents=True, exist_ok=True)
    src, packed, back = workdir / "in.parquet", workdir / "in.hsqz", workdir / "back.parquet"
    if not src.exists() or _rows(src) != rows:
        make_input(src, rows)
    results = {}
    for kind, a, b in (("compress", src, packed), ("decompress", packed, back)):
        if only is not None and kind != only:
            continue
        proc = subprocess.run(
            [sys.executable, __file__, "--step", kind, str(a), str(b)],
            capture_output=True,
            text=True,
            check=True,
        )
        results[kind] = json.loads(proc.stdout.strip().splitlines()[-1])
        log.warning("%d rows, %s: %s", rows, kind, results[kind])
    results["input_bytes"] = {"parquet": src.stat().st_size}
    return results


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if sys.argv[1] == "--step":
        step(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        only = sys.argv[3] if len(sys.argv) > 3 else None
        print(json.dumps(run(int(sys.argv[1]), Path(sys.argv[2]), only), indent=1))
