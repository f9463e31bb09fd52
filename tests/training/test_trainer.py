from __future__ import annotations

import numpy as np
import pytest

from hepsqueeze.api import train
from hepsqueeze.errors import ColumnError, ConfigError, InputError
from hepsqueeze.io.table import Table
from hepsqueeze.training import TrainConfig


def test_trained_model_records_everything(model) -> None:  # type: ignore[no-untyped-def]
    assert model.variables == ("E", "pt", "eta", "phi")
    assert model.columns == ("E", "pt", "eta", "phi")
    assert len(model.history["val_loss"]) == model.training["epochs_run"] == 3
    assert model.training["rows"]["train"] > 0
    assert set(model.training["metrics"]["test"]["residuals"]) == {"E", "pt", "eta", "phi"}


def test_training_is_seeded(jets: Table) -> None:
    a = train(jets, "ae4d-3", epochs=1, batch_size=128, seed=11, device="cpu")
    b = train(jets, "ae4d-3", epochs=1, batch_size=128, seed=11, device="cpu")
    assert a.history["val_loss"] == b.history["val_loss"]


def test_loss_decreases(jets: Table) -> None:
    m = train(jets, "ae4d-3", epochs=8, batch_size=64, lr=3e-3, seed=2, device="cpu")
    assert min(m.history["val_loss"]) < m.history["val_loss"][0]


def test_numpy_api_and_columns(jets: Table) -> None:
    x = jets.stack(["E", "pt", "eta", "phi"])
    m = train(x, "ae4d-3", epochs=1, device="cpu")
    z = m.encode(x)
    assert z.shape == (x.shape[0], 3)
    assert z.dtype == np.float32
    assert m.decode(z).shape == x.shape
    renamed = Table(
        {"jet_E": jets["E"], "jet_pt": jets["pt"], "jet_eta": jets["eta"], "jet_phi": jets["phi"]}
    )
    m2 = train(renamed, "ae4d-3", columns=["jet_E", "jet_pt", "jet_eta", "jet_phi"], epochs=1, device="cpu")
    assert m2.columns == ("jet_E", "jet_pt", "jet_eta", "jet_phi")
    assert m2.variables == ("E", "pt", "eta", "phi")


def test_missing_column_names_nearest(jets: Table) -> None:
    with pytest.raises(ColumnError, match="did you mean 'eta'"):
        train(jets, "ae4d-3", columns=["E", "pt", "etta", "phi"], epochs=1)


def test_nan_is_rejected(jets: Table) -> None:
    cols = {n: jets[n].copy() for n in jets.names}
    cols["pt"][5] = np.nan
    with pytest.raises(InputError, match="'pt' has 1 NaN/inf"):
        train(Table(cols), "ae4d-3", epochs=1)


def test_too_few_rows() -> None:
    t = Table(
        {
            "E": np.ones(2, np.float32),
            "pt": np.ones(2, np.float32),
            "eta": np.zeros(2, np.float32),
            "phi": np.zeros(2, np.float32),
        }
    )
    with pytest.raises(InputError, match="too few rows"):
        train(t, "ae4d-3", epochs=1)


def test_bad_config() -> None:
    with pytest.raises(ConfigError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ConfigError, match="loss_weights"):
        TrainConfig(loss_weights=(1.0, 0.0, 1.0, 1.0))
    with pytest.raises(ConfigError, match="loss_weights"):
        TrainConfig(loss_weights=())


def test_loss_weights(jets: Table) -> None:
    """Per-variable weights on the normalised squared error: recorded, checked against the model, and
    all-ones weights train exactly as the plain MSE."""
    plain = train(jets, "ae4d-3", epochs=1, batch_size=128, seed=3, device="cpu")
    ones = train(jets, "ae4d-3", epochs=1, batch_size=128, seed=3, device="cpu", loss_weights=(1, 1, 1, 1))
    assert ones.training["config"]["loss_weights"] == [1.0, 1.0, 1.0, 1.0]
    assert "loss_weights" not in plain.training["config"]
    assert np.allclose(ones.history["val_loss"], plain.history["val_loss"], rtol=1e-5)
    heavy = train(jets, "ae4d-3", epochs=1, batch_size=128, seed=3, device="cpu", loss_weights=(1, 10, 1, 1))
    assert heavy.history["val_loss"] != plain.history["val_loss"]
    with pytest.raises(ConfigError, match="4 variables, got 3 loss weights"):
        train(jets, "ae4d-3", epochs=1, device="cpu", loss_weights=(1, 1, 1))


def test_bfloat16_steps_train_a_float32_model() -> None:
    import torch

    from hepsqueeze.models.autoencoder import AutoencoderConfig
    from hepsqueeze.training.trainer import train_model

    with pytest.raises(ConfigError, match="precision"):
        TrainConfig(precision="float16")
    assert "precision" not in TrainConfig().to_dict()
    assert TrainConfig(precision="bfloat16").to_dict()["precision"] == "bfloat16"
    x = np.random.default_rng(0).uniform(1, 2, size=(600, 3)).astype(np.float32)
    config = AutoencoderConfig(nodes=(3, 16, 2, 16, 3))
    model = train_model(
        x, ("a", "b", "c"), ("a", "b", "c"), config,
        TrainConfig(epochs=3, batch_size=64, precision="bfloat16", normalisation="minmax"),
    )  # fmt: skip
    assert all(p.dtype == torch.float32 for p in model.network.parameters())
    assert np.isfinite(model.history["train_loss"]).all()
    assert model.training["config"]["precision"] == "bfloat16"
