from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepsqueeze.errors import ModelError
from hepsqueeze.models import AutoencoderConfig, decoder_hash, load_model, model_from_bytes, save_model
from hepsqueeze.models.autoencoder import Autoencoder
from hepsqueeze.models.io import decoder_bytes
from hepsqueeze.models.model import CompressionModel
from hepsqueeze.preprocessing.normalisation import Normaliser


def _model(integer: tuple[str, ...] = ()) -> CompressionModel:
    variables = ("pt", "eta", "n_constituents")
    x = np.array([[30.0, 0.1, 5.0], [80.0, -1.0, 25.0], [200.0, 2.0, 40.0]])
    config = AutoencoderConfig(nodes=(3, 8, 2, 8, 3))
    normaliser = Normaliser.fit("standard", variables, x)
    return CompressionModel(Autoencoder(config), normaliser, variables, variables, integer_variables=integer)


def test_integer_variables_are_rounded_on_decode() -> None:
    model = _model(("n_constituents",))
    z = np.random.default_rng(1).normal(size=(50, 2)).astype(np.float32)
    out = model.decode(z)
    assert np.array_equal(out[:, 2], np.rint(out[:, 2]))
    # the float variables are left alone
    assert not np.array_equal(out[:, 0], np.rint(out[:, 0]))


def test_integer_variables_survive_save_load_and_the_decoder_copy(tmp_path: Path) -> None:
    model = _model(("n_constituents",))
    back = load_model(save_model(model, tmp_path / "m.hsqm"))
    assert back.integer_variables == ("n_constituents",)
    assert model_from_bytes(decoder_bytes(model), "<test>").integer_variables == ("n_constituents",)
    # the rounding changes what decoding gives, so it is part of the decoder hash
    assert decoder_hash(model) != decoder_hash(_model())


def test_unknown_integer_variable_is_rejected() -> None:
    with pytest.raises(ModelError, match="not among its variables"):
        _model(("n90",))


def test_columns_are_matched_to_the_variables_by_name() -> None:
    from hepsqueeze.errors import ColumnError

    model = _mapping_model()
    names = ["Jet_phi", "Jet_E", "Jet_eta", "Jet_pt", "Jet_mass", "f0", "f1", "f2", "f3"]
    assert model.column_mapping(names, ["Jet_phi", "Jet_eta", "Jet_E", "Jet_pt"], "f") == [
        "Jet_E",
        "Jet_pt",
        "Jet_eta",
        "Jet_phi",
    ]
    assert model.column_mapping(names, ["f0", "f1", "f2", "f3"], "f") == ["f0", "f1", "f2", "f3"]
    with pytest.raises(ColumnError, match=r"'Jet_mass' .* does not name one variable"):
        model.column_mapping(names, ["Jet_mass", "Jet_pt", "Jet_eta", "Jet_phi"], "f")
    with pytest.raises(ColumnError, match="does not name one variable"):
        model.column_mapping(names, ["Jet_pt", "Jet_pt", "Jet_eta", "Jet_phi"], "f")


def _mapping_model() -> CompressionModel:
    import torch

    from hepsqueeze.models.autoencoder import Autoencoder, AutoencoderConfig
    from hepsqueeze.preprocessing.normalisation import Normaliser

    torch.manual_seed(0)
    variables = ("E", "pt", "eta", "phi")
    x = np.abs(np.random.default_rng(0).standard_normal((64, 4))).astype(np.float32) + 1
    net = Autoencoder(AutoencoderConfig((4, 6, 2, 6, 4)))
    return CompressionModel(net, Normaliser.fit("minmax", variables, x), variables, variables, name="m")
