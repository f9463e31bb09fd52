"""The mass representation (network in m, pt, eta, phi on E, pt, eta, phi tables) and the output constraints."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

import hepsqueeze as hsq
from hepsqueeze.codecs.autoencoder.exceptions import codec_reconstruct
from hepsqueeze.container import ContainerReader, write_container
from hepsqueeze.errors import ConfigError, ModelError
from hepsqueeze.io.table import Table
from hepsqueeze.models import Autoencoder, AutoencoderConfig, decoder_hash, get_preset, load_model, save_model
from hepsqueeze.models.four_vector import (
    energy,
    float32_up,
    from_network,
    momentum,
    network_variables,
    signed_mass,
    to_network,
)
from hepsqueeze.models.model import CompressionModel

VARIABLES = ("E", "pt", "eta", "phi")
GOLDEN_MODEL = Path(__file__).resolve().parents[1] / "golden" / "data" / "model.hsqm"


def massive_jets(rng: np.random.Generator, rows: int) -> npt.NDArray[np.float32]:
    """(E, pt, eta, phi) float32 of jets with masses of a few GeV, some massless."""
    pt = 20.0 + rng.exponential(60.0, rows)
    eta = rng.uniform(-4.0, 4.0, rows)
    phi = rng.uniform(-np.pi, np.pi, rows)
    m = rng.exponential(8.0, rows) * (rng.random(rows) > 0.05)
    e = np.sqrt(m**2 + (pt * np.cosh(eta)) ** 2)
    return np.stack([e, pt, eta, phi], axis=1).astype(np.float32)


def mass_model(
    x: npt.NDArray[np.float32], seed: int = 0, range_activation: str = "clamp"
) -> CompressionModel:
    """An untrained (random-weight) ae4d-3m-like model with a small network, fitted on ``x``, with
    the training range the trainer records (the codec stores values outside it exactly)."""
    torch.manual_seed(seed)
    config = dataclasses.replace(
        get_preset("ae4d-3m"), nodes=(4, 16, 3, 16, 4), range_activation=range_activation
    )
    model = CompressionModel.untrained(config, "custom+minmax", VARIABLES, VARIABLES, x, name="m")
    model.training["input_range"] = [
        [float(lo), float(hi)] for lo, hi in zip(x.min(0), x.max(0), strict=True)
    ]
    return model


@pytest.fixture(scope="module")
def x() -> npt.NDArray[np.float32]:
    return massive_jets(np.random.default_rng(5), 3000)


# -- the conversion ------------------------------------------------------------------------------------


def test_signed_mass_and_energy_are_inverse(rng: np.random.Generator) -> None:
    pt = rng.uniform(20, 2000, 1000)
    eta = rng.uniform(-4.5, 4.5, 1000)
    m = rng.uniform(-3, 50, 1000)  # negative: m^2 < 0, E < |p|
    e = energy(m, pt, eta)
    assert np.all((e < momentum(pt, eta)) == (m < 0))
    np.testing.assert_allclose(signed_mass(e, pt, eta), m, rtol=1e-6, atol=1e-6 * e.max() ** 0.5)
    np.testing.assert_allclose(energy(signed_mass(e, pt, eta), pt, eta), e, rtol=1e-13)


def test_signed_mass_is_roots() -> None:
    # TLorentzVector::M(): sqrt(m^2), or -sqrt(-m^2) where m^2 < 0
    assert signed_mass([5.0], [3.0], [0.0])[0] == 4.0
    assert signed_mass([3.0], [5.0], [0.0])[0] == -4.0


def test_float32_up_never_rounds_down(rng: np.random.Generator) -> None:
    v = rng.uniform(1, 1e4, 10_000)
    up = float32_up(v)
    assert up.dtype == np.float32
    assert np.all(up.astype(np.float64) >= v)
    assert np.all(np.nextafter(up, np.float32(0)).astype(np.float64) < v)


def test_representation_round_trip_and_negative_m2() -> None:
    x = massive_jets(np.random.default_rng(3), 2000)
    x[:50, 0] = (x[:50, 1] * np.cosh(x[:50, 2]) * 0.999).astype(np.float32)  # E < |p|: m^2 < 0
    m = to_network("mass", VARIABLES, x)
    assert m.dtype == np.float32
    assert np.all(m[:50, 0] == 0)  # clipped: the network sees massless jets
    assert np.all(m[:, 0] >= 0)
    assert np.array_equal(m[:, 1:], x[:, 1:])
    back = from_network("mass", VARIABLES, m)
    # E >= |p| for every jet, in float64 from the float32 table, as the physics metrics compute it
    assert np.all(signed_mass(back[:, 0], back[:, 1], back[:, 2]) >= 0)
    np.testing.assert_allclose(back[50:, 0], x[50:, 0], rtol=3e-7)
    np.testing.assert_allclose(back[:50, 0], momentum(x[:50, 1], x[:50, 2]), rtol=2e-7)
    assert np.array_equal(back[:, 1:], x[:, 1:])


def test_network_variables() -> None:
    assert network_variables("mass", VARIABLES) == ("m", "pt", "eta", "phi")
    assert network_variables("mass", ("m", "pt", "eta", "phi")) == ("m", "pt", "eta", "phi")
    assert network_variables("identity", VARIABLES) == VARIABLES
    with pytest.raises(ModelError, match="needs variables pt, eta"):
        network_variables("mass", ("E", "px", "eta", "phi"))


def test_a_mass_column_passes_through() -> None:
    x = massive_jets(np.random.default_rng(2), 10)
    names = ("m", "pt", "eta", "phi")
    assert np.array_equal(from_network("mass", names, to_network("mass", names, x)), x)


# -- the config keys -----------------------------------------------------------------------------------


def test_old_configs_describe_as_before() -> None:
    d = get_preset("ae4d-3").to_dict()
    assert set(d) == {"nodes", "activation", "batchnorm", "latent_activation", "negative_slope"}


def test_config_round_trip_with_new_keys() -> None:
    c = AutoencoderConfig(
        nodes=(4, 8, 3, 8, 4), representation="mass", output_floor=((0, 0.25),),
        output_range=((3, 0.0, 1.0),), range_activation="sigmoid",
    )  # fmt: skip
    d = c.to_dict()
    assert d["output_floor"] == [[0, 0.25]]
    assert d["output_range"] == [[3, 0.0, 1.0]]
    assert AutoencoderConfig.from_dict(d) == c


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("representation", "polar"),
        ("representation", 3),
        ("range_activation", "wrap"),
        ("output_floor", [[4, 0.0]]),
        ("output_floor", [[-1, 0.0]]),
        ("output_floor", [[True, 0.0]]),
        ("output_floor", [[0, float("nan")]]),
        ("output_floor", [[0, float("inf")]]),
        ("output_floor", [[0, 1e300]]),
        ("output_floor", [[0, "0"]]),
        ("output_floor", [[0, True]]),
        ("output_floor", [[0]]),
        ("output_floor", [[0, 0.0], [0, 1.0]]),
        ("output_floor", [[0, 0.0]] * 5),
        ("output_floor", "0"),
        ("output_floor", [0, 0.0]),
        ("output_range", [[3, 1.0, 0.0]]),
        ("output_range", [[3, 1.0, 1.0]]),
        ("output_range", [[3, None, 1.0]]),
        ("output_range", [[3, 0.0, float("nan")]]),
        ("output_range", [[0, 0.0, 1.0]]),  # output 0 has a floor already
        ("output_range", {"3": [0, 1]}),
    ],
)
def test_hostile_config_values_are_refused(key: str, value: Any) -> None:
    d: dict[str, Any] = {"nodes": [4, 8, 3, 8, 4], "output_floor": [[0, 0.0]], key: value}
    with pytest.raises(ConfigError):
        AutoencoderConfig.from_dict(d)


def test_unresolved_constraints_build_no_network() -> None:
    with pytest.raises(ConfigError, match="resolve"):
        Autoencoder(get_preset("ae4d-3m"))


def test_resolve_floors_at_the_normalised_zero(x: npt.NDArray[np.float32]) -> None:
    model = mass_model(x)
    (j, floor), = model.config.output_floor  # fmt: skip
    assert j == 0
    zero = np.zeros((1, 4))
    zero[0, 1:] = x[0, 1:]
    assert floor == pytest.approx(float(model.normaliser.forward(zero)[0, 0]), abs=1e-7)
    ((k, low, high),) = model.config.output_range
    assert (k, low, high) == (3, 0.0, 1.0)  # min-max: the training range is [0, 1]


def test_a_floor_needs_a_zero() -> None:
    x = massive_jets(np.random.default_rng(1), 100)
    config = dataclasses.replace(get_preset("ae4d-3m"), output_floor=((1, None),))  # pt: log10(pt)
    with pytest.raises(ConfigError, match="cannot floor 'pt'"):
        CompressionModel.untrained(config, "custom+minmax", VARIABLES, VARIABLES, x)


# -- the constraints hold ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["clamp", "sigmoid"])
def test_decoded_mass_never_negative_and_phi_in_range(x: npt.NDArray[np.float32], mode: str) -> None:
    rng = np.random.default_rng(0)
    for seed in range(3):
        model = mass_model(x, seed=seed, range_activation=mode)
        z = np.concatenate(
            [
                rng.normal(0, 1, (2000, 3)),
                rng.normal(0, 1e3, (2000, 3)),
                rng.choice([-1e6, 1e6, 0.0], (500, 3)),
                model.encode(x),
            ]
        ).astype(np.float32)
        y = model.network.decode(torch.from_numpy(z)).detach().numpy()
        floor = model.config.output_floor[0][1]
        assert np.all(y[:, 0] >= np.float32(floor))
        assert np.all((y[:, 3] >= 0) & (y[:, 3] <= 1))
        with np.errstate(over="ignore"):  # extreme latents: E and pt beyond float32
            out = model.decode(z)
        finite = np.isfinite(out).all(axis=1)
        assert finite[-x.shape[0] :].all()
        m = signed_mass(out[finite, 0], out[finite, 1], out[finite, 2])
        assert np.all(m >= 0)
        assert np.all((out[:, 3] >= x[:, 3].min()) & (out[:, 3] <= x[:, 3].max()))


def test_ordinary_models_are_unconstrained(model: CompressionModel) -> None:
    assert model.representation == "identity"
    assert not any(type(m).__name__ == "OutputConstraints" for m in model.network.decoder)


# -- model files ---------------------------------------------------------------------------------------


def test_old_model_files_load_as_before() -> None:
    before = GOLDEN_MODEL.read_bytes()
    model = load_model(GOLDEN_MODEL)
    assert model.representation == "identity"
    assert model.config.output_floor == ()
    assert model.config.output_range == ()
    assert model.network_variables == model.variables
    with ContainerReader.open(GOLDEN_MODEL) as reader:
        assert reader.header["decoder_hash"] == decoder_hash(model)
    assert GOLDEN_MODEL.read_bytes() == before


def test_model_file_round_trip(x: npt.NDArray[np.float32], tmp_path: Path) -> None:
    model = mass_model(x)
    path = save_model(model, tmp_path / "m.hsqm")
    loaded = load_model(path)
    assert loaded.config == model.config
    assert loaded.representation == "mass"
    assert loaded.variables == VARIABLES
    assert loaded.network_variables == ("m", "pt", "eta", "phi")
    assert decoder_hash(loaded) == decoder_hash(model)
    assert np.array_equal(loaded.reconstruct(x), model.reconstruct(x))
    with ContainerReader.open(path) as reader:
        config = reader.header["config"]
    assert config["representation"] == "mass"
    assert config["output_floor"][0][0] == 0


def _rewrite(src: Path, dst: Path, **changes: Any) -> Path:
    """``src`` with header fields changed (the weights copied as they are)."""
    with ContainerReader.open(src) as reader:
        header = dict(reader.header)
        weights = [(s.name, reader.read_array(s)) for s in reader.find("weight")]
    header.update(changes)
    with write_container(dst, header) as writer:
        for name, arr in weights:
            writer.add_array("weight", name, arr)
    return dst


@pytest.mark.parametrize(
    "config",
    [
        {"output_floor": [[0, None]]},  # unresolved
        {"output_floor": [[0, 1e308]]},
        {"output_range": [[3, 2.0, -2.0]]},
        {"representation": "exec"},
    ],
)
def test_hostile_model_files_are_refused(
    x: npt.NDArray[np.float32], tmp_path: Path, config: dict[str, Any]
) -> None:
    good = save_model(mass_model(x), tmp_path / "good.hsqm")
    with ContainerReader.open(good) as reader:
        base = dict(reader.header["config"])
    bad = _rewrite(good, tmp_path / "bad.hsqm", config={**base, **config})
    with pytest.raises(ModelError, match="invalid model header"):
        load_model(bad)


def test_a_mass_model_needs_its_normaliser(x: npt.NDArray[np.float32], tmp_path: Path) -> None:
    good = save_model(mass_model(x), tmp_path / "good.hsqm")
    with ContainerReader.open(good) as reader:
        norm = dict(reader.header["normaliser"])
    norm["variables"] = list(VARIABLES)  # an E normaliser under a mass network
    with pytest.raises(ModelError, match="needs a normaliser of m, pt, eta, phi"):
        load_model(_rewrite(good, tmp_path / "bad.hsqm", normaliser=norm))


# -- through the codec, the API and the command line ---------------------------------------------------


def test_compress_decompress_with_a_mass_model(x: npt.NDArray[np.float32], tmp_path: Path) -> None:
    model = mass_model(x)
    rows = 1500
    t = Table(
        {
            "event": np.arange(rows, dtype=np.int64) // 3,
            **{v: x[:rows, j].copy() for j, v in enumerate(VARIABLES)},
        }
    )
    out = tmp_path / "j.hsqz"
    report = hsq.compress(t, out, model=model)
    assert report.rows == rows
    back = hsq.decompress(out)
    got = back.stack(list(VARIABLES))
    assert np.array_equal(got, codec_reconstruct(model, x[:rows]))
    assert np.all(signed_mass(got[:, 0], got[:, 1], got[:, 2]) >= 0)
    assert np.all((got[:, 3] >= x[:, 3].min()) & (got[:, 3] <= x[:, 3].max()))


def test_train_the_preset_on_an_energy_table(jets: Table) -> None:
    model = hsq.train(jets, "ae4d-3m", epochs=2, batch_size=64, seed=3, device="cpu")
    assert model.variables == VARIABLES
    assert model.columns == VARIABLES
    assert model.network_variables == ("m", "pt", "eta", "phi")
    assert model.config.resolved
    assert set(model.training["metrics"]["test"]["residuals"]) == set(VARIABLES)
    y = model.reconstruct(jets.stack(list(VARIABLES)))
    assert np.all(signed_mass(y[:, 0], y[:, 1], y[:, 2]) >= 0)


def test_cli_train_preset(jets_file: Path, tmp_path: Path) -> None:
    from hepsqueeze.cli import main

    out = tmp_path / "m.hsqm"
    assert main(["train", str(jets_file), "--preset", "ae4d-3m", "-o", str(out), "--epochs", "1"]) == 0
    model = load_model(out)
    assert model.name == "ae4d-3m"
    assert model.representation == "mass"
