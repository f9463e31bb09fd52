"""The conditional models shipped in the zoo: found by name, checked against their card, used
without being embedded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import hepsqueeze as hsq
from hepsqueeze.errors import ConfigError, ModelError
from hepsqueeze.zoo import conditional as zoo

NAME = "zoo:bounded-jets27d"


def test_the_shipped_model_matches_its_card() -> None:
    cards = {c.name: c for c in zoo.conditional_cards()}
    assert "bounded-jets27d" in cards
    model = zoo.load_bounded(NAME)
    assert model.name == NAME
    assert model.hash == cards["bounded-jets27d"].sha256
    assert zoo.is_conditional_name(NAME)
    assert not zoo.is_conditional_name("zoo:ae4d-3")
    assert any(c.target for c in model.columns)


def test_an_unknown_name_is_refused_with_a_hint() -> None:
    with pytest.raises(ConfigError, match="did you mean bounded-jets27d"):
        zoo.load_bounded("zoo:bounded-jets27")


def test_a_damaged_installation_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    card = json.loads((zoo.models_directory() / "bounded-jets27d.json").read_text())
    card["sha256"] = "0" * 64
    (tmp_path / "bounded-jets27d.json").write_text(json.dumps(card))
    (tmp_path / card["file"]).write_bytes((zoo.models_directory() / card["file"]).read_bytes())
    monkeypatch.setattr(zoo, "models_directory", lambda: tmp_path)
    with pytest.raises(ModelError, match="does not match its card"):
        zoo.load_bounded(NAME)


def test_a_file_written_with_the_zoo_model_decodes_without_it(tmp_path: Path) -> None:
    """The model is referenced (name and sha256), found in the zoo by the reader; every value
    within its bound, the integers exact."""
    rng = np.random.default_rng(3)
    model = zoo.load_bounded(NAME)
    rows = 2000
    columns: dict[str, np.ndarray] = {"event": np.repeat(np.arange(rows // 4), 4).astype(np.int64)}
    for spec in model.columns:  # values near each column's own distribution
        if spec.domain.value == "integer":
            columns[spec.name] = np.maximum(0, rng.normal(spec.mean, spec.std, rows)).astype(np.int32)
        elif spec.domain.value == "log":
            columns[spec.name] = np.exp(rng.normal(spec.mean, spec.std, rows)).astype(np.float32)
        else:
            columns[spec.name] = rng.normal(spec.mean, spec.std, rows).astype(np.float32)
    out = tmp_path / "z.hsqz"
    hsq.compress(columns, out, max_error="1e-3", model=NAME, embed_model=False)
    info = hsq.file_info(out)["header"]["model"]
    assert info == {"name": NAME, "sha256": model.hash, "embedded": False}
    back = hsq.decompress(out, library="np")
    for name, values in columns.items():
        if values.dtype.kind in "iu":
            assert np.array_equal(back[name], values), name
    assert float(np.abs(back["eta"] - columns["eta"]).max()) <= 1e-3
