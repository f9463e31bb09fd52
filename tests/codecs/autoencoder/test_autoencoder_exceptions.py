"""Values the autoencoder must not be trusted with (NaN, infinities, denormals, values outside the
training range): found, stored exactly by the exception stream and restored bit for bit, or
refused in strict mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import hepsqueeze as hsq
from codec_helpers import DENORMAL, NAN_PAYLOAD, NEG_NAN, VARIABLES, fake_jets, in_range_table, poisoned
from hepsqueeze.codecs.autoencoder.exceptions import (
    codec_inputs,
    codec_reconstruct,
    count_outside_training_range,
    training_range,
)
from hepsqueeze.errors import InputError
from hepsqueeze.file.reader import file_info
from hepsqueeze.io.table import Table
from hepsqueeze.models.model import CompressionModel


def bits(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    return np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}")


def test_special_values_restored_bit_for_bit(tiny_model: CompressionModel, tmp_path: Path) -> None:
    table, where = poisoned(tiny_model)
    out = tmp_path / "p.hsqz"
    rep = hsq.compress(table, out, model=tiny_model)
    assert rep.exceptions == {k: len(v) for k, v in where.items()}
    assert rep.exception_count == 9
    info = file_info(out)
    assert info["exceptions"] == rep.exceptions
    assert info["header"]["data_format"] == 3
    back = hsq.decompress(out)
    for name, rows in where.items():
        assert np.array_equal(bits(back[name][rows]), bits(table[name][rows])), name
    x = table.stack(VARIABLES)
    assert np.array_equal(bits(back.stack(VARIABLES)), bits(codec_reconstruct(tiny_model, x)))
    _, found = codec_inputs(tiny_model, x)
    assert {v: rows.tolist() for v, rows in zip(VARIABLES, found, strict=True) if rows.size} == where
    assert np.array_equal(back["event"], table["event"])
    # Rows without exceptions decode exactly as the model reconstructs them.
    clean = np.setdiff1d(np.arange(table.num_rows), [r for rows in where.values() for r in rows])
    np.testing.assert_array_equal(back.stack(VARIABLES)[clean], tiny_model.reconstruct(x[clean]))


def test_strict_rejects_each_kind(tiny_model: CompressionModel, tmp_path: Path) -> None:
    base = in_range_table(tiny_model, 100)
    out = tmp_path / "s.hsqz"
    for column, value, message in [
        ("E", np.nan, "NaN/inf"),
        ("pt", -np.inf, "NaN/inf"),
        ("pt", -1.0, "takes the log"),
        ("eta", DENORMAL, "denormal"),
        ("phi", 100.0, "outside the model's training range"),
    ]:
        cols = {n: base[n].copy() for n in base.names}
        cols[column][17] = value
        with pytest.raises(InputError, match=message):
            hsq.compress(Table(cols), out, model=tiny_model, strict=True)
        assert not out.exists()
    # Clean data passes in strict mode, as data format 1.
    hsq.compress(base, out, model=tiny_model, strict=True)
    assert file_info(out)["header"]["data_format"] == 1
    assert file_info(out)["exceptions"] == {}


def test_float64_and_integer_compressed_columns(tiny_model: CompressionModel, tmp_path: Path) -> None:
    base = in_range_table(tiny_model, 200)
    cols: dict[str, npt.NDArray[Any]] = {n: base[n].astype(np.float64) for n in VARIABLES}
    cols["E"][1] = 5e-324  # a float64 denormal that float32 rounds to zero
    cols["pt"][2] = 1e300  # finite in float64, infinite in float32
    cols["eta"] = np.trunc(base["eta"]).astype(np.int32)
    cols["eta"][3] = 1000
    table = Table(cols)
    out = tmp_path / "f.hsqz"
    rep = hsq.compress(table, out, model=tiny_model)
    assert rep.exceptions == {"E": 1, "pt": 1, "eta": 1}
    back = hsq.decompress(out)
    assert back["E"].dtype == np.float64
    assert back["E"][1] == 5e-324
    assert back["pt"][2] == 1e300
    assert back["eta"].dtype == np.int32
    assert back["eta"][3] == 1000


def test_training_range_recorded_with_the_model(tiny_model: CompressionModel, tmp_path: Path) -> None:
    # A model that records input_range (physical units) uses it instead of the normaliser's min-max.
    import copy

    model = copy.copy(tiny_model)
    model.training = {"input_range": [[0.0, 1e9], [0.0, 1e9], [-1.0, 1.0], [-4.0, 4.0]]}
    assert training_range(model) == [(0.0, 1e9), (0.0, 1e9), (-1.0, 1.0), (-4.0, 4.0)]
    assert training_range(tiny_model) == [None] * 4
    table = in_range_table(tiny_model, 100)
    x = table.stack(VARIABLES)
    expected = int(np.count_nonzero(np.abs(x[:, 2]) > 1.0))
    rep = hsq.compress(table, tmp_path / "r.hsqz", model=model)
    assert rep.exceptions.get("eta", 0) == expected > 0
    assert "E" not in rep.exceptions
    assert count_outside_training_range(model, x) == expected
    assert count_outside_training_range(tiny_model, x) is None


def test_empty_table_gives_a_valid_empty_file(tiny_model: CompressionModel, tmp_path: Path) -> None:
    table = Table({"event": np.empty(0, np.int64), **{v: np.empty(0, np.float32) for v in VARIABLES},
                   "flag": np.empty(0, np.bool_)})  # fmt: skip
    out = tmp_path / "e.hsqz"
    rep = hsq.compress(table, out, model=tiny_model)
    assert rep.rows == 0
    assert rep.ratio == 0.0
    back = hsq.decompress(out)
    assert back.names == table.names
    assert [back[n].dtype for n in back.names] == [table[n].dtype for n in table.names]
    assert back.num_rows == 0
    assert file_info(out)["header"]["num_rows"] == 0


def test_single_row(tiny_model: CompressionModel, tmp_path: Path) -> None:
    table = in_range_table(tiny_model, 50).slice(0, 1)
    out = tmp_path / "one.hsqz"
    hsq.compress(table, out, model=tiny_model)
    back = hsq.decompress(out)
    assert back.num_rows == 1
    assert np.array_equal(back.stack(VARIABLES), tiny_model.reconstruct(table.stack(VARIABLES)))


finite_or_special = st.one_of(
    st.floats(width=32, allow_nan=True, allow_infinity=True, allow_subnormal=True),
    st.sampled_from([np.nan, NAN_PAYLOAD, NEG_NAN, DENORMAL, -0.0, 0.0, 1e30, -1e30]),
)


@given(
    special=hnp.arrays(np.float32, st.tuples(st.integers(1, 40), st.just(4)), elements=finite_or_special),
    seed=st.integers(0, 2**16),
    latent_dtype=st.sampled_from(["float32", "float16"]),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_compress_round_trip_property(
    tiny_model: CompressionModel,
    tmp_path: Path,
    special: npt.NDArray[np.float32],
    seed: int,
    latent_dtype: str,
) -> None:
    """Any float32 values: compressed columns decode to codec_reconstruct, passthrough columns exactly."""
    rng = np.random.default_rng(seed)
    rows = special.shape[0] + int(rng.integers(0, 30))
    x = fake_jets(rng, rows)
    # Mix arbitrary values (NaN payloads, infinities, denormals, huge) into random cells.
    cells = rng.random((special.shape[0], 4)) < 0.5
    x[: special.shape[0]][cells] = special[cells]
    table = Table({"event": rng.integers(0, 5, rows).cumsum(), **{v: x[:, j] for j, v in enumerate(VARIABLES)},
                   "w": rng.standard_normal(rows)})  # fmt: skip
    out = tmp_path / "h.hsqz"
    out.unlink(missing_ok=True)
    hsq.compress(table, out, model=tiny_model, latent_dtype=latent_dtype)
    back = hsq.decompress(out)
    assert np.array_equal(bits(back.stack(VARIABLES)), bits(codec_reconstruct(tiny_model, x, latent_dtype)))
    assert np.array_equal(back["event"], table["event"])
    assert np.array_equal(bits(back["w"]), bits(table["w"]))
    finite = np.isfinite(back.stack(VARIABLES))
    assert np.array_equal(finite, np.isfinite(x))
