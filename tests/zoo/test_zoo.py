from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepsqueeze.api import compress, decompress
from hepsqueeze.cli import main
from hepsqueeze.codecs.autoencoder.exceptions import codec_reconstruct
from hepsqueeze.errors import ConfigError
from hepsqueeze.io.table import Table
from hepsqueeze.models import decoder_hash
from hepsqueeze.zoo import card, list_models, load, resolve_model, validate


def test_every_card_matches_its_model() -> None:
    cards = list_models()
    assert "ae4d-3" in [c.name for c in cards]
    for c in cards:
        model = load(c.name)
        assert decoder_hash(model) == c.decoder_hash
        assert model.variables == c.variables
        assert 0 < c.tolerance < 1


def test_zoo_model_compresses_without_training(jets: Table, tmp_path: Path) -> None:
    model = resolve_model("zoo:ae4d-3")
    out = tmp_path / "z.hsqz"
    compress(jets, out, model=model)
    back = decompress(out)
    x = jets.stack(model.columns)
    assert np.array_equal(back.stack(model.columns), codec_reconstruct(model, x))
    # A well-trained model: residuals at the per-mille level on fresh jets.
    rel_pt = np.abs(back["pt"] / jets["pt"] - 1)
    assert np.median(rel_pt) < 0.01


def test_unknown_name() -> None:
    with pytest.raises(ConfigError, match="did you mean ae4d-3"):
        card("ae4d-2")


def test_cli_zoo(jets_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zoo", "list"]) == 0
    assert "ae4d-3" in capsys.readouterr().out
    out = tmp_path / "c.hsqz"
    assert main(["compress", str(jets_file), "--model", "zoo:ae4d-3", "-o", str(out)]) == 0
    assert out.exists()


def test_validation_refuses_the_training_seed() -> None:
    with pytest.raises(ConfigError, match="training seed"):
        validate("ae4d-3", events_per_process=5, seed=card("ae4d-3").training["data"]["seed"])


def test_validation_mechanics(tmp_path: Path) -> None:
    res = validate("ae4d-3", events_per_process=40, seed=11, cache_dir=tmp_path)
    assert set(res.variables) == {"E", "pt", "eta", "phi"}
    for v in res.variables.values():
        assert v["low"] < v["card_std"] < v["high"]
        assert v["ok"] == (v["low"] <= v["measured_std"] <= v["high"])


@pytest.mark.slow
def test_validation_passes_on_the_cards_sample(tmp_path: Path) -> None:
    """The seeds' 'test the pre-trained model and compare with published results'."""
    for c in list_models():
        assert validate(c.name, workers=2, cache_dir=tmp_path).passed


def test_no_embed_zoo_model_decompresses_alone(jets: Table, tmp_path: Path) -> None:
    """A file referencing a zoo model by name and hash needs no --model to decompress."""
    model = resolve_model("zoo:ae4d-3")
    out = tmp_path / "ref.hsqz"
    small = compress(jets, out, model=model, embed_model=False)
    embedded = compress(jets, tmp_path / "emb.hsqz", model=model)
    assert small.file_bytes < embedded.file_bytes - 100_000  # the decoder is not stored
    assert np.array_equal(decompress(out)["pt"], decompress(tmp_path / "emb.hsqz")["pt"])


def test_27d_zoo_model_rounds_integers_and_validates_them(tmp_path: Path) -> None:
    """ae27d-20: integer columns come back as integers; validation judges them by mismatch rate."""
    c = card("ae27d-20")
    assert c.validation["sample"]["overrides"] == {"kind": "jets27d"}
    res = validate("ae27d-20", events_per_process=6, seed=11, cache_dir=tmp_path)
    assert len(res.variables) == 27
    for name in ("n_constituents", "n_charged", "n90", "b_label"):
        v = res.variables[name]
        assert v["kind"] == "integer"
        assert v["ok"] == (v["measured_mismatch"] <= v["high"])
    assert res.variables["pt"]["kind"] == "relative"
