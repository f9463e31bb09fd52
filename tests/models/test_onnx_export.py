"""ONNX export: two checked graphs whose onnxruntime outputs agree with torch within 1e-5."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

from codec_helpers import fake_jets, tiny_model_for
from hepsqueeze.errors import ConfigError, InputError, ModelError, OutputExistsError, VerificationError
from hepsqueeze.models import decoder_bytes, model_from_bytes
from hepsqueeze.models.autoencoder import Autoencoder, AutoencoderConfig
from hepsqueeze.models.model import CompressionModel
from hepsqueeze.models.onnx_export import (
    FORMAT,
    TOLERANCE,
    check_onnx,
    export_modules,
    export_onnx,
    onnx_paths,
    physical_difference,
    read_metadata,
    scaled_error,
    session,
)
from hepsqueeze.preprocessing.normalisation import Normaliser
from hepsqueeze.version import __version__

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

BATCHES = (1, 7, 1000)
MIXED_VARIABLES = ("pt", "eta", "m", "width", "n")


def mixed_rows(rng: np.random.Generator, rows: int) -> npt.NDArray[np.float32]:
    """pt (logged), eta (linear), m (logged with offset 1, zeros allowed), a width (standardised), a count."""
    return np.stack(
        [
            20 + rng.exponential(40, rows),
            rng.uniform(-4, 4, rows),
            np.where(rng.random(rows) < 0.2, 0.0, rng.exponential(10, rows)),
            rng.normal(0.1, 0.05, rows),
            rng.poisson(12, rows),
        ],
        axis=1,
    ).astype(np.float32)


@pytest.fixture(scope="module")
def mixed_model() -> CompressionModel:
    """ELU + BatchNorm (non-trivial running statistics), every kind of transform, an integer variable."""
    torch.manual_seed(4)
    net = Autoencoder(AutoencoderConfig((5, 16, 12, 3, 12, 16, 5), activation="elu", batchnorm=True))
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    x = mixed_rows(np.random.default_rng(0), 3000)
    norm = Normaliser.fit("custom", MIXED_VARIABLES, x)
    return CompressionModel(
        net, norm, MIXED_VARIABLES, MIXED_VARIABLES, name="mixed", integer_variables=("n",)
    )


@pytest.fixture(scope="module")
def zoo_ae27d() -> CompressionModel:
    from hepsqueeze.zoo import load

    return load("ae27d-20")


def _rows(model: CompressionModel, n: int, seed: int) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    if model.name == "mixed":
        return mixed_rows(rng, n)
    if len(model.variables) == 4:
        return fake_jets(rng, n)
    # 27 variables: normalised rows in the training box, mapped to physical values
    x = model.normaliser.inverse(rng.uniform(0, 1, (n, len(model.variables))))
    for name in model.integer_variables:
        j = model.variables.index(name)
        x[:, j] = np.rint(x[:, j])
    return x


def _torch_decoded(model: CompressionModel, z: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """torch's decoded physical values before integer rounding."""
    with torch.no_grad():
        y = model.network.decode(torch.from_numpy(z)).numpy()
    return model.normaliser.inverse(y)


def _check_against_torch(model: CompressionModel, enc: Path, dec: Path, physical: bool, seed: int) -> None:
    encoder, decoder = session(enc), session(dec)
    for n in BATCHES:
        x = _rows(model, n, seed + n)
        z_ref = model.encode(x)
        feed = x if physical else model.normaliser.forward(x)
        z = encoder.run(None, {encoder.get_inputs()[0].name: feed})[0]
        assert z.shape == (n, model.latent_dim)
        assert z.dtype == np.float32
        assert scaled_error(np.abs(z.astype(np.float64) - z_ref), z_ref).max() <= TOLERANCE
        out = decoder.run(None, {decoder.get_inputs()[0].name: z_ref})[0]
        assert out.shape == (n, len(model.variables))
        assert out.dtype == np.float32
        with torch.no_grad():
            y_ref = model.network.decode(torch.from_numpy(z_ref)).numpy()
        if physical:
            diff = physical_difference(model, out, model.normaliser.inverse(y_ref))
            for name in model.integer_variables:
                col = out[:, model.variables.index(name)]
                np.testing.assert_array_equal(col, np.rint(col))
        else:
            diff = np.abs(out.astype(np.float64) - y_ref)
        assert scaled_error(diff, y_ref).max() <= TOLERANCE


@pytest.mark.parametrize("physical", [True, False], ids=["physical", "normalised"])
def test_tiny_model_matches_torch(tiny_model: CompressionModel, tmp_path: Path, physical: bool) -> None:
    res = export_onnx(tiny_model, tmp_path / "m.onnx", physical=physical)
    assert (res.encoder.path, res.decoder.path) == onnx_paths(tmp_path / "m.onnx")
    assert res.encoder.max_error <= TOLERANCE
    assert res.decoder.max_error <= TOLERANCE
    assert res.encoder.bytes == res.encoder.path.stat().st_size
    _check_against_torch(tiny_model, res.encoder.path, res.decoder.path, physical, seed=1)


@pytest.mark.parametrize("physical", [True, False], ids=["physical", "normalised"])
def test_mixed_model_matches_torch(mixed_model: CompressionModel, tmp_path: Path, physical: bool) -> None:
    res = export_onnx(mixed_model, tmp_path / "mixed.onnx", physical=physical)
    _check_against_torch(mixed_model, res.encoder.path, res.decoder.path, physical, seed=2)


@pytest.mark.parametrize("opset", [11, 14, 20])
def test_every_opset(mixed_model: CompressionModel, tmp_path: Path, opset: int) -> None:
    res = export_onnx(mixed_model, tmp_path / "m.onnx", opset=opset)
    assert onnx.load(str(res.decoder.path)).opset_import[0].version == opset
    _check_against_torch(mixed_model, res.encoder.path, res.decoder.path, physical=True, seed=opset)


def test_zoo_model_matches_torch(zoo_ae27d: CompressionModel, tmp_path: Path) -> None:
    """The 27-variable zoo model: BatchNorm, a latent activation, integer variables, custom normalisation."""
    res = export_onnx(zoo_ae27d, tmp_path / "ae27d.onnx")
    _check_against_torch(zoo_ae27d, res.encoder.path, res.decoder.path, physical=True, seed=3)
    meta = read_metadata(res.decoder.path)
    assert meta["model_name"] == "zoo:ae27d-20"
    assert json.loads(meta["integer_variables"]) == list(zoo_ae27d.integer_variables)


def test_check_with_real_rows(tiny_model: CompressionModel, tmp_path: Path) -> None:
    x = fake_jets(np.random.default_rng(9), 500)
    res = export_onnx(tiny_model, tmp_path / "m.onnx", check_inputs=x)
    assert res.encoder.rows == 500
    assert res.decoder.rows == 500


def test_the_exported_modules_are_the_models_computation(mixed_model: CompressionModel) -> None:
    x = mixed_rows(np.random.default_rng(5), 2000)
    encoder, decoder = export_modules(mixed_model)
    with torch.no_grad():
        z = encoder(torch.from_numpy(x)).numpy()
        out = decoder(torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(z, mixed_model.encode(x), rtol=1e-6, atol=1e-6)
    diff = physical_difference(mixed_model, out, _torch_decoded(mixed_model, z))
    assert diff.max() <= 1e-6
    assert mixed_model.network.training is False  # the model itself is untouched


def test_dynamic_batch_axis_and_names(tiny_model: CompressionModel, tmp_path: Path) -> None:
    res = export_onnx(tiny_model, tmp_path / "m.onnx")
    for path, names in (
        (res.encoder.path, ("physical", "latent")),
        (res.decoder.path, ("latent", "physical")),
    ):
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto, full_check=True)
        (inp,), (out,) = proto.graph.input, proto.graph.output
        assert (inp.name, out.name) == names
        for value in (inp, out):
            assert value.type.tensor_type.shape.dim[0].dim_param == "batch"
            assert value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_metadata(tiny_model: CompressionModel, tmp_path: Path) -> None:
    res = export_onnx(tiny_model, tmp_path / "m.onnx", physical=False)
    for part in ("encoder", "decoder"):
        meta = read_metadata(getattr(res, part).path)
        assert meta["format"] == FORMAT
        assert meta["part"] == part
        assert meta["model_name"] == "tiny"
        assert meta["hepsqueeze_version"] == __version__
        assert json.loads(meta["variables"]) == ["E", "pt", "eta", "phi"]
        assert meta["latent_dim"] == "2"
        assert meta["io"] == "normalised"
        assert meta["normalisation_in_graph"] == "false"
        assert Normaliser.from_dict(json.loads(meta["normalisation"])) == tiny_model.normaliser
        assert json.loads(meta["architecture"])["nodes"] == [4, 8, 2, 8, 4]
    proto = onnx.load(str(res.encoder.path))
    assert proto.producer_name == "hepsqueeze"
    assert proto.producer_version == __version__


def test_normalisation_parameters_reapplied_by_hand(tiny_model: CompressionModel, tmp_path: Path) -> None:
    """A user of the normalised graphs applies the metadata's normalisation themselves."""
    res = export_onnx(tiny_model, tmp_path / "m.onnx", physical=False)
    norm = Normaliser.from_dict(json.loads(read_metadata(res.encoder.path)["normalisation"]))
    x = fake_jets(np.random.default_rng(3), 50)
    z = session(res.encoder.path).run(None, {"normalised": norm.forward(x)})[0]
    np.testing.assert_allclose(z, tiny_model.encode(x), atol=TOLERANCE)


def test_physical_graph_gives_nan_outside_the_log_domain(
    tiny_model: CompressionModel, tmp_path: Path
) -> None:
    res = export_onnx(tiny_model, tmp_path / "m.onnx")
    x = fake_jets(np.random.default_rng(3), 4)
    x[1, 1] = -5.0  # pt is logged: encode refuses it, a graph cannot
    x[2, 2] = np.nan
    z = session(res.encoder.path).run(None, {"physical": x})[0]
    assert np.isnan(z[1]).all()
    assert np.isnan(z[2]).all()
    assert np.isfinite(z[[0, 3]]).all()
    with pytest.raises(InputError):
        tiny_model.encode(x)


def test_wrong_width_is_refused_by_the_graph(tiny_model: CompressionModel, tmp_path: Path) -> None:
    res = export_onnx(tiny_model, tmp_path / "m.onnx")
    with pytest.raises(Exception, match=r"(?i)dimension|shape"):
        session(res.encoder.path).run(None, {"physical": np.zeros((3, 5), np.float32)})


def test_onnx_paths() -> None:
    assert onnx_paths("out/m.onnx") == (Path("out/m.encoder.onnx"), Path("out/m.decoder.onnx"))
    assert onnx_paths("m.ONNX") == (Path("m.encoder.onnx"), Path("m.decoder.onnx"))
    assert onnx_paths("model") == (Path("model.encoder.onnx"), Path("model.decoder.onnx"))
    for bad in (".onnx", "out/.."):
        with pytest.raises(ConfigError):
            onnx_paths(bad)


def test_refuses_what_is_not_an_autoencoder(tiny_model: CompressionModel, tmp_path: Path) -> None:
    from hepsqueeze.zoo.conditional import load_bounded

    with pytest.raises(ModelError, match="conditional model of the error-bounded codec; only autoencoders"):
        export_onnx(load_bounded("bounded-jets27d"), tmp_path / "b.onnx")
    with pytest.raises(ModelError, match="only autoencoders export"):
        export_onnx({"nodes": [4, 2, 4]}, tmp_path / "d.onnx")
    decoder_only = model_from_bytes(decoder_bytes(tiny_model), "embedded")
    with pytest.raises(ModelError, match="holds only its decoder"):
        export_onnx(decoder_only, tmp_path / "e.onnx")
    assert list(tmp_path.iterdir()) == []


def test_existing_outputs_need_force(tiny_model: CompressionModel, tmp_path: Path) -> None:
    enc, dec = onnx_paths(tmp_path / "m.onnx")
    dec.write_bytes(b"keep")
    with pytest.raises(OutputExistsError):
        export_onnx(tiny_model, tmp_path / "m.onnx")
    assert dec.read_bytes() == b"keep"
    assert not enc.exists()
    export_onnx(tiny_model, tmp_path / "m.onnx", force=True)
    assert read_metadata(dec)["part"] == "decoder"
    (tmp_path / "dir").mkdir()
    with pytest.raises(OutputExistsError, match="is a directory"):
        export_onnx(tiny_model, tmp_path / "dir")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"opset": 9}, ConfigError, "opset 9"),
        ({"tolerance": 0.0}, ConfigError, "tolerance"),
        ({"tolerance": float("nan")}, ConfigError, "tolerance"),
        ({"check_inputs": np.zeros((3, 5), np.float32)}, InputError, "expects"),
        ({"check_inputs": np.zeros((0, 4), np.float32)}, InputError, "no rows"),
        ({"check_inputs": np.full((3, 4), np.nan, np.float32)}, InputError, "NaN"),
        ({"check_inputs": -fake_jets(np.random.default_rng(0), 3)}, InputError, "log"),
        ({"check_inputs": np.array([["a"] * 4])}, InputError, "numbers"),
    ],
)
def test_bad_arguments(
    tiny_model: CompressionModel, tmp_path: Path, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        export_onnx(tiny_model, tmp_path / "m.onnx", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_a_graph_that_disagrees_is_not_published(zoo_ae27d: CompressionModel, tmp_path: Path) -> None:
    """Held to an impossible tolerance, the check fails: nothing appears, not even the directory."""
    with pytest.raises(VerificationError, match=r"encoder\.onnx: onnxruntime's latents differ"):
        export_onnx(zoo_ae27d, tmp_path / "out" / "m.onnx", tolerance=1e-12)
    assert not (tmp_path / "out").exists()


def test_check_onnx_finds_a_wrong_graph(tiny_model: CompressionModel, tmp_path: Path) -> None:
    res = export_onnx(tiny_model, tmp_path / "m.onnx")
    for part in (res.encoder, res.decoder):
        worst_abs, worst_err = check_onnx(part.path, tiny_model)
        assert worst_err <= TOLERANCE
        assert worst_abs >= worst_err
    other = tiny_model_for(fake_jets(np.random.default_rng(1), 2000), seed=5)  # other weights
    for part in (res.encoder, res.decoder):
        with pytest.raises(VerificationError, match="differ from torch's"):
            check_onnx(part.path, other)
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(res.encoder.path.read_bytes()[:-100])
    with pytest.raises((InputError, VerificationError)):
        check_onnx(truncated, tiny_model)
    plain = tmp_path / "plain.onnx"
    plain.write_bytes(onnx.helper.make_model(onnx.helper.make_graph([], "g", [], [])).SerializeToString())
    with pytest.raises(VerificationError, match="not an encoder or decoder exported by hepsqueeze"):
        check_onnx(plain, tiny_model)


def test_read_metadata_of_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xff" * 64)
    with pytest.raises(InputError, match="not a readable ONNX file"):
        read_metadata(bad)


def test_physical_difference_edges(mixed_model: CompressionModel) -> None:
    """Equal values (inf, NaN) differ by 0; inf against a number, or a count off the integers, by inf."""
    ref = mixed_rows(np.random.default_rng(8), 4)
    ref[:, 4] += 0.3  # the count before rounding
    got = ref.copy()
    got[:, 4] = np.rint(ref[:, 4])
    ref[0, 0] = got[0, 0] = np.inf
    ref[1, 1] = got[1, 1] = np.nan
    assert physical_difference(mixed_model, got, ref).max() == 0.0
    got[2, 0] = np.inf
    got[3, 4] += 0.5
    diff = physical_difference(mixed_model, got, ref)
    assert np.isinf(diff[2, 0])
    assert np.isinf(diff[3, 4])
    assert diff[[0, 1]].max() == 0.0


def test_output_constraints_are_in_the_graphs(tmp_path: Path) -> None:
    """A softplus floor and a sigmoid range after the decoder's last Linear."""
    x = fake_jets(np.random.default_rng(2), 2000)
    config = AutoencoderConfig(
        (4, 16, 2, 16, 4),
        output_floor=((2, None),),
        output_range=((3, None, None),),
        range_activation="sigmoid",
    )
    norm = Normaliser.fit("minmax", ("E", "pt", "eta", "phi"), x)
    torch.manual_seed(2)
    model = CompressionModel(
        Autoencoder(config.resolve(norm, norm.forward(x))),
        norm,
        ("E", "pt", "eta", "phi"),
        ("E", "pt", "eta", "phi"),
    )
    res = export_onnx(model, tmp_path / "c.onnx")
    ops = {n.op_type for n in onnx.load(str(res.decoder.path)).graph.node}
    assert {"Softplus", "Sigmoid"} <= ops
    _check_against_torch(model, res.encoder.path, res.decoder.path, physical=True, seed=4)


def test_mass_representation_exports_normalised_only(tmp_path: Path) -> None:
    from hepsqueeze.models import get_preset

    x = fake_jets(np.random.default_rng(6), 3000)
    torch.manual_seed(0)
    model = CompressionModel.untrained(
        get_preset("ae4d-3m"), "custom+minmax", ("E", "pt", "eta", "phi"), ("E", "pt", "eta", "phi"), x
    )
    with pytest.raises(ModelError, match="mass representation") as err:
        export_onnx(model, tmp_path / "m.onnx")
    assert err.value.option == "normalised"
    assert list(tmp_path.iterdir()) == []
    res = export_onnx(model, tmp_path / "m.onnx", physical=False, check_inputs=x)
    meta = read_metadata(res.encoder.path)
    assert meta["representation"] == "mass"
    assert json.loads(meta["normalisation"])["variables"] == ["m", "pt", "eta", "phi"]
    z = session(res.encoder.path).run(None, {"normalised": model.normalise(x)})[0]
    assert scaled_error(np.abs(z.astype(np.float64) - model.encode(x)), z).max() <= TOLERANCE
    y = session(res.decoder.path).run(None, {"latent": z})[0]
    np.testing.assert_allclose(model.denormalise(y), model.decode(z), rtol=1e-4)
