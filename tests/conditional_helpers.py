"""A jet-like table with dependent columns, shared by the tests of the conditional models
(models/conditional, training/conditional, codecs/bounded/learned)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Columns = dict[str, npt.NDArray[Any]]


def jet_table(seed: int, n_events: int = 1100) -> Columns:
    """About 3900 jet-like rows: runs of 1-6 rows per event, a multiplicity ``n``, and columns
    that depend on each other (``m`` on ``pt``, ``width`` on ``n`` and ``pt``, ``tau2`` on ``tau1``)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 7, n_events)
    event = np.repeat(np.arange(n_events, dtype=np.int64), counts)
    rows = event.size
    n = rng.poisson(12, rows).astype(np.int32)
    pt = rng.lognormal(3.5, 0.6, rows)
    tau1 = rng.lognormal(-2.0, 0.7, rows)
    floats = {
        "pt": pt,
        "eta": rng.normal(0, 1.5, rows),
        "phi": rng.uniform(-np.pi, np.pi, rows),
        "m": pt * rng.uniform(0.05, 0.2, rows),
        "width": 0.02 * n + 0.001 * pt + rng.normal(0, 0.01, rows),
        "tau1": tau1,
        "tau2": tau1 * rng.uniform(0.2, 0.9, rows),
    }
    out: Columns = {"event": event, "n": n}
    out.update({k: v.astype(np.float32) for k, v in floats.items()})
    out["tau21"] = (out["tau2"] / out["tau1"]).astype(np.float32)
    return out
