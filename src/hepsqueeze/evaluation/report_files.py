"""The files of an evaluation report directory: their names, the metrics.json format, reading it back."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

from hepsqueeze.errors import InputError, InputFileNotFoundError

#: Every number of the report.
METRICS_FILE: Final = "metrics.json"
#: The latent codes (rows x latent dimension, float32), when available.
LATENTS_FILE: Final = "latents.npy"
#: The report's page.
INDEX_FILE: Final = "index.html"
#: The report's short markdown (codec, bounds, residuals).
MARKDOWN_FILE: Final = "report.md"
#: Format version written into metrics.json.
METRICS_FORMAT: Final = 1


def load_metrics(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``metrics.json`` written by :func:`hepsqueeze.evaluation.report.evaluate`."""
    p = Path(path)
    if not p.exists():
        raise InputFileNotFoundError(f"metrics file {str(p)!r} does not exist")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read metrics file {str(p)!r}: {exc}") from None
    if not isinstance(data, dict) or "metrics" not in data:
        raise InputError(f"{str(p)!r} is not a hepsqueeze metrics.json")
    return data


__all__ = ["INDEX_FILE", "LATENTS_FILE", "MARKDOWN_FILE", "METRICS_FILE", "METRICS_FORMAT", "load_metrics"]
