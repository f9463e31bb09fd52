"""Seeded train / validation / test split of row indices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Split:
    """Row indices (sorted) of the train, validation and test parts."""

    train: npt.NDArray[np.int64]
    val: npt.NDArray[np.int64]
    test: npt.NDArray[np.int64]


def split_rows(n_rows: int, val_fraction: float, test_fraction: float, seed: int) -> Split:
    """Split ``n_rows`` rows with a permutation seeded by ``seed``; the same arguments give the same split."""
    perm = np.random.default_rng(seed).permutation(n_rows).astype(np.int64)
    n_test = round(n_rows * test_fraction)
    n_val = round(n_rows * val_fraction)
    test = np.sort(perm[:n_test])
    val = np.sort(perm[n_test : n_test + n_val])
    train = np.sort(perm[n_test + n_val :])
    return Split(train=train, val=val, test=test)
