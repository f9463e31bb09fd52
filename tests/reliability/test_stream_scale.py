"""Streaming at scale: memory stays flat however many rows (slow; 100M rows by default)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from stream_scale import run

log = logging.getLogger(__name__)


@pytest.mark.slow
def test_stream_memory_does_not_grow(tmp_path: Path) -> None:
    rows = int(os.environ.get("HEPSQUEEZE_SCALE_ROWS", "100000000"))
    small = run(1 << 21, tmp_path / "small")
    big = run(rows, tmp_path / "big")
    for kind in ("compress", "decompress"):
        assert big[kind]["rows"] == rows
        log.warning(
            "%s peak RSS: %.0f MiB at %d rows, %.0f MiB at %d rows",
            kind, small[kind]["peak_rss_mib"], 1 << 21, big[kind]["peak_rss_mib"], rows,
        )  # fmt: skip
        # Flat memory: allocator slack, not proportional to the rows (100M rows of this table are
        # 2.4 GB). glibc's dynamic mmap threshold lets the heap fragment up to a plateau (~0.3 GB
        # here); with MALLOC_MMAP_THRESHOLD_=1048576 the curve is flat.
        assert big[kind]["peak_rss_mib"] < small[kind]["peak_rss_mib"] + 512
