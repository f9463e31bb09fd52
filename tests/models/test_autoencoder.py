from __future__ import annotations

import pytest
import torch

from hepsqueeze.errors import ConfigError
from hepsqueeze.models import PRESETS, Autoencoder, AutoencoderConfig, get_preset


def test_ae4d3_layout() -> None:
    cfg = get_preset("ae4d-3")
    assert cfg.nodes == (4, 200, 200, 20, 3, 20, 200, 200, 4)
    assert cfg.latent_dim == 3
    net = Autoencoder(cfg)
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (4, 200),
        (200, 200),
        (200, 20),
        (20, 3),
        (3, 20),
        (20, 200),
        (200, 200),
        (200, 4),
    ]
    assert isinstance(net.encoder[-1], torch.nn.Linear)  # latent is linear
    assert isinstance(net.decoder[-1], torch.nn.Linear)  # output is linear
    assert all(isinstance(m, torch.nn.LeakyReLU) for m in net.modules() if isinstance(m, torch.nn.LeakyReLU))


def test_encode_decode_shapes() -> None:
    net = Autoencoder(get_preset("ae4d-3"))
    x = torch.randn(7, 4)
    z = net.encode(x)
    assert z.shape == (7, 3)
    assert net.decode(z).shape == (7, 4)


def test_batchnorm_option() -> None:
    cfg = AutoencoderConfig(nodes=(27, 200, 14, 200, 27), batchnorm=True)
    net = Autoencoder(cfg)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in net.modules()) == 2


@pytest.mark.parametrize(
    ("nodes", "match"),
    [((4, 3), "3 to"), ((4, 3, 5), "differ"), ((4, 0, 4), "1..65536"), ((4, 10**6, 4), "1..65536")],
)
def test_config_validation(nodes: tuple[int, ...], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        AutoencoderConfig(nodes=nodes)


def test_unknown_preset_names_nearest() -> None:
    with pytest.raises(ConfigError, match="did you mean ae4d-3"):
        get_preset("ae4d3")


def test_config_dict_round_trip() -> None:
    for cfg in PRESETS.values():
        assert AutoencoderConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown autoencoder settings"):
        AutoencoderConfig.from_dict({"nodes": [4, 3, 4], "evil": 1})
