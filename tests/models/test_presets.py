from __future__ import annotations

import pytest

from hepsqueeze.errors import ConfigError
from hepsqueeze.models.presets import PRESET_DESCRIPTIONS, PRESETS, get_preset


@pytest.mark.parametrize(
    ("name", "nodes", "latent"),
    [
        ("ae27d-14", (27, 200, 200, 200, 14, 200, 200, 200, 27), 14),
        ("ae27d-20", (27, 400, 400, 200, 20, 200, 400, 400, 27), 20),
    ],
)
def test_27d_presets_are_the_seed_models(name: str, nodes: tuple[int, ...], latent: int) -> None:
    config = get_preset(name)
    assert config.nodes == nodes
    assert config.latent_dim == latent
    # AE_bn_LeakyReLU: BatchNorm on every hidden layer, the latent one included.
    assert config.batchnorm
    assert config.latent_activation
    assert config.activation == "leaky_relu"


def test_every_preset_is_described() -> None:
    assert set(PRESETS) == set(PRESET_DESCRIPTIONS)


def test_unknown_preset_names_the_nearest() -> None:
    with pytest.raises(ConfigError, match="ae27d-20"):
        get_preset("ae27d-2O")
