"""Helpers of the file-layer and codec tests (tests/file, tests/codecs): a tiny untrained model and
jet-like tables, built in milliseconds."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from hepsqueeze.io.table import Table
from hepsqueeze.models.autoencoder import Autoencoder, AutoencoderConfig
from hepsqueeze.models.model import CompressionModel
from hepsqueeze.preprocessing.normalisation import Normaliser

VARIABLES = ("E", "pt", "eta", "phi")
NAN_PAYLOAD = np.array([0x7FC12345], dtype=np.uint32).view(np.float32)[0]
NEG_NAN = np.array([0xFFC00001], dtype=np.uint32).view(np.float32)[0]
DENORMAL = np.float32(1e-42)


def fake_jets(rng: np.random.Generator, rows: int) -> npt.NDArray[np.float32]:
    """Jet-like (E, pt, eta, phi) float32 values."""
    pt = 20.0 + rng.exponential(40.0, rows)
    eta = rng.uniform(-4.0, 4.0, rows)
    phi = rng.uniform(-np.pi, np.pi, rows)
    energy = pt * np.cosh(eta)
    return np.stack([energy, pt, eta, phi], axis=1).astype(np.float32)


def tiny_model_for(x: npt.NDArray[np.float32], seed: int = 0) -> CompressionModel:
    """A 4-8-2-8-4 autoencoder with random weights and a custom+minmax normaliser fitted on ``x``."""
    torch.manual_seed(seed)
    net = Autoencoder(AutoencoderConfig((4, 8, 2, 8, 4)))
    norm = Normaliser.fit("custom+minmax", VARIABLES, x)
    return CompressionModel(net, norm, VARIABLES, VARIABLES, name="tiny")


def jet_table(rng: np.random.Generator, rows: int) -> Table:
    x = fake_jets(rng, rows)
    cols: dict[str, npt.NDArray[Any]] = {"event": np.arange(rows, dtype=np.int64) // 3}
    cols.update({v: x[:, j].copy() for j, v in enumerate(VARIABLES)})
    return Table(cols)


def in_range_table(model: CompressionModel, rows: int, seed: int = 2) -> Table:
    """A jet table of at most ``rows`` rows without exceptions for ``model``."""
    from hepsqueeze.codecs.autoencoder.exceptions import ExceptionFinder

    t = jet_table(np.random.default_rng(seed), rows)
    finder = ExceptionFinder(model)
    x = t.stack(VARIABLES)
    bad = np.zeros(rows, bool)
    for j, v in enumerate(VARIABLES):
        bad |= finder.mask(j, t[v], x[:, j])
    return Table({n: t[n][~bad] for n in t.names})


def poisoned(model: CompressionModel) -> tuple[Table, dict[str, list[int]]]:
    """A jet table with NaN (with payloads), infinities, a denormal and out-of-range values for
    ``model``, and the rows of each column that hold them."""
    t = in_range_table(model, 400)
    cols = {n: t[n].copy() for n in t.names}
    cols["E"][[3, 7, 11]] = [np.nan, NAN_PAYLOAD, NEG_NAN]
    cols["pt"][[0, 5, 6]] = [np.inf, -np.inf, -5.0]  # -5: outside the log's domain
    cols["eta"][[2, 9]] = [DENORMAL, 1e6]  # a denormal and a value far outside the training range
    cols["phi"][[4]] = [-DENORMAL]
    return Table(cols), {"E": [3, 7, 11], "pt": [0, 5, 6], "eta": [2, 9], "phi": [4]}
