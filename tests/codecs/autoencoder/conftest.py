"""Fixtures for the autoencoder codec tests."""

from __future__ import annotations

import numpy as np
import pytest

from codec_helpers import fake_jets, tiny_model_for
from hepsqueeze.models.model import CompressionModel


@pytest.fixture(scope="session")
def tiny_model() -> CompressionModel:
    return tiny_model_for(fake_jets(np.random.default_rng(1), 2000))
