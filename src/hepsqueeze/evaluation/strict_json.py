"""Strict JSON for the evaluation outputs (metrics.json, benchmark.json, summary.json): NaN and inf as null."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hepsqueeze.atomic import atomic_open


def json_safe(value: Any) -> Any:
    """A JSON-safe copy: NaN/inf -> None (strict JSON has neither), numpy -> Python, tuples -> lists."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | os.PathLike[str], data: Mapping[str, Any]) -> Path:
    """Write ``data`` as indented strict JSON (NaN/inf as null) atomically."""
    text = json.dumps(json_safe(dict(data)), indent=1, allow_nan=False)
    with atomic_open(path, force=True) as fh:
        fh.write(text.encode("utf-8") + b"\n")
    return Path(path)


__all__ = ["json_safe", "write_json"]
