"""The top-level Python API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hepsqueeze as hsq
from hepsqueeze.io.table import Table


def test_lazy_names_resolve() -> None:
    for name in hsq.__all__:
        assert getattr(hsq, name) is not None
    with pytest.raises(AttributeError):
        _ = hsq.no_such_name  # type: ignore[attr-defined]


def test_compress_from_paths(jets_file: Path, model_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.hsqz"
    report = hsq.compress(jets_file, model_file, out)
    assert report.ratio > 0
    back = hsq.decompress(out, model_file)
    original = hsq.read_table(jets_file)
    assert back.names == original.names
    assert np.array_equal(back["event"], original["event"])


def test_compress_from_dict(jets: Table, model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "d.hsqz"
    hsq.compress({n: jets[n] for n in jets.names}, model, out)
    assert hsq.decompress(out).num_rows == jets.num_rows


def test_27d_jets_train_compress_decompress(tmp_path: Path) -> None:
    """jets27d end to end: integer columns come back as integers of their dtype, exact-match reported."""
    from hepsqueeze.datasets import GeneratorConfig, generate

    jets = generate(GeneratorConfig("ttbar", 12, seed=5, kind="jets27d"), cache_dir=tmp_path / "cache")
    model = hsq.train(jets, "ae27d-14", epochs=2, batch_size=32, seed=1, device="cpu")
    assert len(model.variables) == 27
    assert set(model.integer_variables) == {"n_constituents", "n_charged", "n90", "b_label"}
    residuals = model.training["metrics"]["test"]["residuals"]
    assert 0.0 <= residuals["n90"]["exact_match"] <= 1.0
    out = tmp_path / "j.hsqz"
    hsq.compress(jets, model, out)
    back = hsq.decompress(out)
    for name in model.integer_variables:
        assert back[name].dtype == jets[name].dtype
    assert np.array_equal(back["event"], jets["event"])
