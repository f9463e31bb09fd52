"""Shared fixtures: a small generated jet sample and a briefly trained model, made once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codec_helpers import fake_jets, tiny_model_for
from hepsqueeze.io.table import Table
from hepsqueeze.models.model import CompressionModel


@pytest.fixture(scope="session")
def jets(tmp_path_factory: pytest.TempPathFactory) -> Table:
    """About 400 Pythia 8 jets: 40 ttbar + 40 QCD events (event, E, pt, eta, phi)."""
    from hepsqueeze.datasets import generate_mixture

    cache = tmp_path_factory.mktemp("cache")
    return generate_mixture(events_per_process=40, seed=7, workers=1, cache_dir=cache)


@pytest.fixture(scope="session")
def jets_file(jets: Table, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hepsqueeze.io import write_table

    return write_table(jets, tmp_path_factory.mktemp("data") / "jets.parquet")


@pytest.fixture(scope="session")
def model(jets: Table):  # type: ignore[no-untyped-def]
    """ae4d-3 trained for a few epochs: enough to exercise every code path, not to be accurate."""
    from hepsqueeze.api import train

    return train(jets, "ae4d-3", epochs=3, batch_size=64, seed=3, device="cpu")


@pytest.fixture(scope="session")
def model_file(model, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    from hepsqueeze.models import save_model

    return save_model(model, tmp_path_factory.mktemp("model") / "ae4d-3.hsqm")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def tiny_model() -> CompressionModel:
    """A small autoencoder trained briefly on synthetic jets (the file-layer and codec tests)."""
    return tiny_model_for(fake_jets(np.random.default_rng(1), 2000))
