"""The top-level Python API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hepsqueeze as hsq
from hepsqueeze.errors import ConfigError
from hepsqueeze.io.table import Table


def test_lazy_names_resolve() -> None:
    for name in hsq.__all__:
        assert getattr(hsq, name) is not None
    with pytest.raises(AttributeError):
        _ = hsq.no_such_name  # type: ignore[attr-defined]


def test_compress_from_paths(jets_file: Path, model_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.hsqz"
    report = hsq.compress(jets_file, out, model=model_file)
    assert report.ratio > 0
    back = hsq.decompress(out, model_file)
    original = hsq.read_table(jets_file)
    assert back.names == original.names
    assert np.array_equal(back["event"], original["event"])


def test_compress_from_dict(jets: Table, model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "d.hsqz"
    hsq.compress({n: jets[n] for n in jets.names}, out, model=model)
    assert hsq.decompress(out).num_rows == jets.num_rows


def test_compress_a_path_with_max_error_and_read_options(tmp_path: Path) -> None:
    src = tmp_path / "j.csv"
    src.write_text("E,pt,eta,phi\n100,80,0.5,-3\n50,40,-1.5,2\n")
    out = tmp_path / "j.hsqz"
    report = hsq.compress(
        src, out, max_error="1e-3", read_options={"format": "csv"}, input_info={"note": "x"}
    )
    assert report.rows == 2
    assert report.compressed_columns == ("E", "pt", "eta", "phi")
    info = hsq.file_info(out)["header"]["input"]
    assert (info["path"], info["size_bytes"], info["note"]) == ("j.csv", src.stat().st_size, "x")
    back = hsq.decompress(out)
    assert np.abs(back["pt"] / np.array([80.0, 40.0]) - 1).max() <= 1e-3
    with pytest.raises(ConfigError, match="streaming reads a Parquet file"):
        hsq.compress(hsq.read_table(src, format="csv"), tmp_path / "s.hsqz", max_error="1e-3", stream=True)
    with pytest.raises(ConfigError, match="needs the output path"):
        hsq.compress(back, max_error="1e-3")


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
    hsq.compress(jets, out, model=model)
    back = hsq.decompress(out)
    for name in model.integer_variables:
        assert back[name].dtype == jets[name].dtype
    assert np.array_equal(back["event"], jets["event"])
