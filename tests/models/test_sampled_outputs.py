"""Sampled outputs (models.autoencoder): levels hashed from the latent, the pinball loss, the sampled
decoder, its config, its file and its training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hepsqueeze.errors import ConfigError, ModelError
from hepsqueeze.metrics.residuals import ks_statistic
from hepsqueeze.models import get_preset, load_model, save_model
from hepsqueeze.models.autoencoder import (
    LEVEL_BITS,
    Autoencoder,
    AutoencoderConfig,
    SampledDecoder,
    hash_level,
    latent_levels,
    pinball,
)
from hepsqueeze.models.io import decoder_hash
from hepsqueeze.training.config import TrainConfig
from hepsqueeze.training.trainer import train_model

SMALL = AutoencoderConfig(nodes=(3, 16, 2, 16, 3), sampled_outputs=(2,), sampler_width=8)


def _hash32(h: int) -> int:
    """Reference of the 32-bit mix, in Python integers."""
    h ^= h >> 16
    h = (h * 0x045D9F3B) & 0xFFFFFFFF
    h ^= h >> 16
    h = (h * 0x045D9F3B) & 0xFFFFFFFF
    return h ^ (h >> 16)


def _reference_levels(codes: np.ndarray, count: int) -> np.ndarray:
    out = np.empty((codes.shape[0], count), dtype=np.float32)
    for i, row in enumerate(codes.astype(np.float32).view(np.uint32)):
        h = 0x2545F491
        for b in row:
            h = _hash32(h ^ int(b))
        for k in range(count):
            h = _hash32(h ^ (k + 1))
            out[i, k] = ((h >> (32 - LEVEL_BITS)) + 0.5) / (1 << LEVEL_BITS)
    return out


@settings(max_examples=30, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 20), st.integers(1, 5)), elements=st.floats(width=32)))
def test_levels_are_the_reference_hash_of_the_bits(codes: np.ndarray) -> None:
    got = latent_levels(torch.from_numpy(codes), 2).numpy()
    np.testing.assert_array_equal(got, _reference_levels(codes, 2))
    assert np.all((got > 0) & (got < 1))


def test_levels_are_fixed_numbers() -> None:
    """Golden values: a changed hash would change every decoded sampled value of existing files."""
    codes = np.array([[0.0, 1.0, -2.5], [1e-30, 3.0e8, -0.0]], dtype=np.float32)
    got = latent_levels(torch.from_numpy(codes), 1).numpy()[:, 0]
    assert [float(v).hex() for v in got] == ["0x1.9e33460000000p-1", "0x1.8aa7e00000000p-5"]


def test_the_extreme_levels_are_inside_0_and_1_in_float32() -> None:
    """The normal score of the level (the sampler's input) must be finite for every hash."""
    h = torch.tensor([0, 1, 0xFF, 0xFFFFFF00, 0xFFFFFFFF], dtype=torch.int64)
    u = hash_level(h)
    assert u.dtype == torch.float32
    assert float(u.min()) > 0
    assert float(u.max()) < 1
    assert torch.isfinite(torch.erfinv(2.0 * u - 1.0)).all()
    assert float(u.max()) == 1 - 2.0**-24


def test_levels_of_neighbouring_codes_are_uniform_and_unrelated() -> None:
    base = np.float32(0.25) + np.arange(200_000, dtype=np.float32) * np.float32(1e-7)
    codes = np.stack([base, np.zeros_like(base)], axis=1)
    u = latent_levels(torch.from_numpy(codes), 1).numpy()[:, 0]
    grid = (np.arange(u.size) + 0.5) / u.size
    assert ks_statistic(u, grid) < 0.01
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01


def test_pinball_is_least_at_the_quantile() -> None:
    target = torch.linspace(0.0, 1.0, 1001)
    for level in (0.1, 0.5, 0.9):
        candidates = torch.linspace(0.0, 1.0, 101)
        losses = [float(pinball(c.expand(1001), target, torch.tensor(level)).mean()) for c in candidates]
        assert float(candidates[int(np.argmin(losses))]) == pytest.approx(level, abs=0.011)


def test_config_checks_and_describes_sampled_outputs() -> None:
    assert SMALL.to_dict()["sampled_outputs"] == [2]
    assert AutoencoderConfig.from_dict(SMALL.to_dict()) == SMALL
    plain = AutoencoderConfig(nodes=(3, 16, 2, 16, 3))
    assert "sampled_outputs" not in plain.to_dict()
    assert "sampler_width" not in plain.to_dict()
    for bad in ((3,), (0, 0), (0, 1, 2), ("1",), (True,)):
        with pytest.raises(ConfigError, match="sampled_outputs"):
            AutoencoderConfig(nodes=(3, 16, 2, 16, 3), sampled_outputs=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="sampler_width"):
        AutoencoderConfig(nodes=(3, 16, 2, 16, 3), sampled_outputs=(1,), sampler_width=0)
    with pytest.raises(ConfigError, match="sampled_outputs"):
        AutoencoderConfig.from_dict({"nodes": [3, 16, 2, 16, 3], "sampled_outputs": 1})
    with pytest.raises(ConfigError, match="parameters"):
        AutoencoderConfig(nodes=(3, 16, 2, 16, 3), sampled_outputs=(1,), sampler_width=60000)


def test_the_sampler_replaces_its_output_and_keeps_the_floor() -> None:
    config = AutoencoderConfig(nodes=(3, 16, 2, 16, 3), sampled_outputs=(0,), output_floor=((0, -0.5),))
    torch.manual_seed(0)
    net = Autoencoder(config).eval()
    assert isinstance(net.decoder, SampledDecoder)
    assert all(k.startswith("decoder.") for k in net.state_dict() if "sampler" in k)
    z = torch.randn(5000, 2) * 30
    with torch.no_grad():
        y = net.decode(z)
        body = net.decoder.body(z)
        assert torch.equal(y[:, 1:], body[:, 1:])
        assert float(y[:, 0].min()) >= -0.5
        assert torch.equal(net.decode(z), y)  # a function of the code: same code, same draw


def test_file_round_trip_and_the_decoder_hash_cover_the_sampler(tmp_path: Path) -> None:
    x = np.random.default_rng(0).uniform(1, 2, size=(400, 3)).astype(np.float32)
    model = train_model(x, ("a", "b", "c"), ("a", "b", "c"), SMALL, TrainConfig(epochs=2, batch_size=64))
    path = tmp_path / "m.hsqm"
    save_model(model, path)
    back = load_model(path)
    np.testing.assert_array_equal(back.reconstruct(x), model.reconstruct(x))
    before = decoder_hash(model)
    with torch.no_grad():
        next(model.network.decoder.sampler.parameters()).add_(1.0)  # type: ignore[union-attr]
    assert decoder_hash(model) != before


def test_training_learns_the_distribution_of_what_the_latent_cannot_hold() -> None:
    """Two values through one latent value: the third, independent of the first, comes out with its
    own distribution (a deterministic decoder gives its mean), and the first is kept."""
    rng = np.random.default_rng(1)
    n = 6000
    a = rng.uniform(1.0, 3.0, n)
    c = rng.exponential(1.0, n) + 0.2 * a
    x = np.stack([a, np.full(n, 1.0), c], axis=1).astype(np.float32)
    x[:, 1] += rng.normal(0, 1e-3, n).astype(np.float32)
    config = AutoencoderConfig(nodes=(3, 32, 1, 32, 3), sampled_outputs=(2,), sampler_width=32)
    torch.manual_seed(0)
    model = train_model(
        x, ("a", "b", "c"), ("a", "b", "c"), config,
        TrainConfig(epochs=60, batch_size=256, lr=1e-2, normalisation="minmax", seed=1),
    )  # fmt: skip
    y = model.reconstruct(x)
    assert ks_statistic(x[:, 2], y[:, 2]) < 0.06
    assert np.std(y[:, 0] - x[:, 0]) < 0.05


def test_ae4d_3ms_preset_samples_the_mass() -> None:
    config = get_preset("ae4d-3ms")
    assert config.representation == "mass"
    assert config.sampled_outputs == (0,)
    assert config.latent_dim == 3


def test_onnx_export_refuses_sampled_outputs(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from hepsqueeze.models.onnx_export import export_onnx

    x = np.random.default_rng(0).uniform(1, 2, size=(200, 3)).astype(np.float32)
    model = train_model(x, ("a", "b", "c"), ("a", "b", "c"), SMALL, TrainConfig(epochs=1, batch_size=64))
    with pytest.raises(ModelError, match="cannot be exported"):
        export_onnx(model, tmp_path / "m.onnx")
