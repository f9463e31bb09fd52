from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepsqueeze.errors import ModelError, OutputExistsError
from hepsqueeze.io.table import Table
from hepsqueeze.models import decoder_bytes, decoder_hash, load_model, model_from_bytes, save_model


def test_save_load_round_trip(model, model_file: Path, jets: Table) -> None:  # type: ignore[no-untyped-def]
    loaded = load_model(model_file)
    x = jets.stack(model.columns)
    assert np.array_equal(loaded.reconstruct(x), model.reconstruct(x))
    assert loaded.history == model.history
    assert loaded.training["epochs_run"] == model.training["epochs_run"]
    assert loaded.normaliser == model.normaliser
    assert decoder_hash(loaded) == decoder_hash(model)


def test_model_file_is_not_a_pickle(model_file: Path) -> None:
    head = model_file.read_bytes()[:9]
    assert head == b"\x89HSQZ\r\n\x1a\n"


def test_decoder_only(model, jets: Table) -> None:  # type: ignore[no-untyped-def]
    dec = model_from_bytes(decoder_bytes(model), "test")
    assert not dec.has_encoder
    z = model.encode(jets.stack(model.columns))
    assert np.array_equal(dec.decode(z), model.decode(z))
    with pytest.raises(ModelError, match="only the decoder"):
        dec.encode(jets.stack(model.columns))


def test_no_overwrite(model, model_file: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OutputExistsError):
        save_model(model, model_file)


def test_not_a_model(tmp_path: Path) -> None:
    p = tmp_path / "x.hsqm"
    p.write_bytes(b"PK\x03\x04 definitely a zip")
    with pytest.raises(ModelError, match="not a valid hepsqueeze model"):
        load_model(p)


def test_corrupt_weights_detected(model_file: Path, tmp_path: Path) -> None:
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0x40
    p = tmp_path / "bad.hsqm"
    p.write_bytes(bytes(data))
    with pytest.raises(ModelError):
        load_model(p)


def test_a_diverged_history_saves_and_reads_back(model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The epoch a training diverged has a NaN loss; the file stores it as null and reads it as NaN."""
    import copy
    import math

    diverged = copy.copy(model)
    diverged.history = {"train_loss": [0.5, float("nan")], "val_loss": [0.4, float("inf")]}
    save_model(diverged, tmp_path / "d.hsqm")
    back = load_model(tmp_path / "d.hsqm")
    assert back.history["train_loss"][0] == 0.5
    assert math.isnan(back.history["train_loss"][1])
    assert math.isnan(back.history["val_loss"][1])
