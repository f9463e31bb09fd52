"""Writing a study's result: ``STEM.json`` (the numbers) and ``STEM.md`` (the table), atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hepsqueeze.atomic import atomic_open
from hepsqueeze.evaluation.strict_json import json_safe


def write_json_markdown(
    result: Mapping[str, Any], markdown: str, out_dir: str | os.PathLike[str], stem: str, force: bool = True
) -> list[Path]:
    """Write ``out_dir/STEM.json`` and ``out_dir/STEM.md``; return their paths (JSON first)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.json", out / f"{stem}.md"]
    with atomic_open(paths[0], force=force) as fh:
        fh.write((json.dumps(json_safe(dict(result)), indent=1, allow_nan=False) + "\n").encode())
    with atomic_open(paths[1], force=force) as fh:
        fh.write(markdown.encode())
    return paths
