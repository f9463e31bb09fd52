"""Generator speed and dataset sizes per process and kind, for docs/generator.md.

Usage: python benchmarks/generator_speed.py [--events 500] [--workers 2] [--repeat 2]

For every process and kind: events/s (wall clock, Pythia initialisation of each 250-event block
included, median of ``--repeat`` runs), jets (or objects) per event and bytes per event of the file
the generator caches (Parquet with zstd for jets and jets27d, DarkMachines text for events). Prints
a Markdown table. Each run generates afresh (no cache reads).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

from hepsqueeze.datasets import KINDS, PROCESSES, GeneratorConfig, cache_path, generate_dataset

log = logging.getLogger("generator_speed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--processes", default=",".join(sorted(PROCESSES)))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)

    rows = []
    for process in args.processes.split(","):
        for kind in KINDS:
            rates = []
            for repeat in range(args.repeat):
                config = GeneratorConfig(process, args.events, args.seed, kind=kind)
                with tempfile.TemporaryDirectory() as tmp:
                    started = time.perf_counter()
                    dataset = generate_dataset(config, workers=args.workers, cache_dir=tmp)
                    rates.append(args.events / (time.perf_counter() - started))
                    size = Path(cache_path(config, tmp)).stat().st_size
                log.info("%s %s run %d: %.1f events/s", process, kind, repeat + 1, rates[-1])
            rows.append(
                (
                    process,
                    kind,
                    statistics.median(rates),
                    dataset.table.num_rows / args.events,
                    size / args.events,
                )
            )

    print(f"| process | kind | events/s ({args.workers} workers) | rows/event | bytes/event |")
    print("|---|---|---:|---:|---:|")
    for process, kind, rate, per_event, size in rows:
        print(f"| {process} | {kind} | {rate:.1f} | {per_event:.2f} | {size:.0f} |")


if __name__ == "__main__":
    main()
