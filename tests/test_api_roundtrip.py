"""The API round trip from a pandas DataFrame and from a jagged awkward Array, for both codecs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hepsqueeze as hsq
from hepsqueeze.errors import ConfigError
from hepsqueeze.io.table import Table

ak = pytest.importorskip("awkward")
pd = pytest.importorskip("pandas")


def _jagged(jets: Table) -> Any:
    """The jets as ``N * var * {E, pt, eta, phi}``, with some events emptied."""
    events = jets["event"]
    counts = np.diff(np.r_[0, np.flatnonzero(np.diff(events)) + 1, events.size])
    counts[1::7] = 0  # events without jets must come back too
    n = int(counts.sum())
    flat = ak.zip({v: jets[v][:n] for v in ("E", "pt", "eta", "phi")})
    return ak.unflatten(flat, counts)


def _codec(kind: str, model: Any) -> dict[str, Any]:
    return {"max_error": "1e-3"} if kind == "bounded" else {"model": model}


def _check_close(kind: str, got: np.ndarray, want: np.ndarray, variable: str) -> None:
    got64, want64 = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if kind == "bounded":
        err = np.abs(got64 - want64)
        limit = 1e-3 * np.abs(want64) if variable in ("E", "pt") else np.full_like(want64, 1e-3)
        assert np.all(err <= limit), variable
    else:
        assert np.all(np.isfinite(got64)), variable


@pytest.mark.parametrize("kind", ["bounded", "autoencoder"])
def test_dataframe_round_trip(kind: str, jets: Table, model: Any, tmp_path: Path) -> None:
    df = pd.DataFrame({n: jets[n] for n in jets.names})
    out = tmp_path / "jets.hsqz"
    report = hsq.compress(df, out, **_codec(kind, model))
    assert report.rows == len(df)
    back = hsq.decompress(out, library="pd")
    assert isinstance(back, pd.DataFrame)
    assert list(back.columns) == list(df.columns)
    assert list(back.dtypes) == list(df.dtypes)
    assert np.array_equal(back["event"].to_numpy(), df["event"].to_numpy())
    for v in ("E", "pt", "eta", "phi"):
        _check_close(kind, back[v].to_numpy(), df[v].to_numpy(), v)


@pytest.mark.parametrize("kind", ["bounded", "autoencoder"])
def test_jagged_awkward_round_trip(kind: str, jets: Table, model: Any, tmp_path: Path) -> None:
    array = _jagged(jets)
    out = tmp_path / "jets.hsqz"
    hsq.compress(array, out, **_codec(kind, model))
    back = hsq.decompress(out, library="ak")
    assert len(back) == len(array)
    assert ak.to_list(ak.num(back)) == ak.to_list(ak.num(array))
    assert set(ak.fields(back)) == {"E", "pt", "eta", "phi"}
    for v in ("E", "pt", "eta", "phi"):
        _check_close(kind, ak.to_numpy(ak.flatten(back[v])), ak.to_numpy(ak.flatten(array[v])), v)
    flat = hsq.decompress(out, library="np")
    assert list(flat) == ["event", "E", "pt", "eta", "phi"]


def test_library_choices(jets: Table, tmp_path: Path) -> None:
    out = tmp_path / "jets.hsqz"
    hsq.compress({n: jets[n] for n in jets.names}, out, max_error=1e-3)
    assert isinstance(hsq.decompress(out), Table)
    assert isinstance(hsq.decompress(out, library="np"), dict)
    with pytest.raises(ConfigError, match="library"):
        hsq.decompress(out, library="polars")


def test_max_error_mapping_and_options_of_the_other_codec(jets: Table, model: Any, tmp_path: Path) -> None:
    out = tmp_path / "jets.hsqz"
    bounds = {"E": "1e-3r", "pt": "1e-3r", "eta": 1e-3, "phi": 2e-3}
    hsq.compress(jets, out, max_error=bounds)
    assert hsq.decompress(out).num_rows == jets.num_rows
    with pytest.raises(ConfigError, match="latent_dtype apply to the autoencoder codec only"):
        hsq.compress(jets, tmp_path / "b.hsqz", max_error="1e-3", latent_dtype="float16")
    with pytest.raises(ConfigError, match="abs_floor apply to the error-bounded codec only"):
        hsq.compress(jets, tmp_path / "c.hsqz", model=model, abs_floor=0.01)
    with pytest.raises(ConfigError, match="either a model"):
        hsq.compress(jets, tmp_path / "d.hsqz")
    with pytest.raises(ConfigError, match="must be a conditional model"):
        hsq.compress(jets, tmp_path / "e.hsqz", model=model, max_error="1e-3")


def test_deprecated_positional_model(jets: Table, model: Any, tmp_path: Path) -> None:
    out = tmp_path / "jets.hsqz"
    with pytest.warns(DeprecationWarning, match="compress\\(data, out, model=model\\)"):
        hsq.compress(jets, model, out)
    assert hsq.decompress(out).num_rows == jets.num_rows


def test_dir_lists_the_public_names() -> None:
    names = dir(hsq)
    for name in ("compress", "decompress", "train", "Table", "__version__"):
        assert name in names
    assert math.isfinite(len(names))
