"""Property-based round trips: numeric columns survive parquet and npz exactly, csv as documented.

Column names exclude NUL, which npz and HDF5 cannot store (tested in test_formats.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hepsqueeze.io import Table, read_table, write_table

DTYPES = [
    np.bool_,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint32,
    np.uint64,
    np.float32,
    np.float64,
]
NAME = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"),
    min_size=1,
    max_size=8,
)


@st.composite
def tables(draw: st.DrawFn) -> Table:
    rows = draw(st.integers(0, 20))
    names = draw(st.lists(NAME, min_size=1, max_size=5, unique=True))
    columns = {n: draw(hnp.arrays(st.sampled_from(DTYPES), rows)) for n in names}
    return Table(columns)


@pytest.mark.parametrize("ext", [".parquet", ".npz"])
@settings(max_examples=30, deadline=None)
@given(table=tables())
def test_exact_round_trip(ext: str, table: Table) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        back = read_table(write_table(table, Path(tmp) / f"t{ext}"))
    assert back.names == table.names
    for name in table.names:
        assert back[name].dtype == table[name].dtype
        np.testing.assert_array_equal(back[name], table[name])


@settings(max_examples=30, deadline=None)
@given(
    f64=hnp.arrays(np.float64, 8, elements=st.floats(allow_nan=True, allow_infinity=True)),
    f32=hnp.arrays(np.float32, 8, elements=st.floats(width=32)),
    ints=hnp.arrays(np.int64, 8),
)
def test_csv_values_round_trip(f64: np.ndarray, f32: np.ndarray, ints: np.ndarray) -> None:
    table = Table({"f64": f64, "f32": f32, "ints": ints})
    with tempfile.TemporaryDirectory() as tmp:
        path = write_table(table, Path(tmp) / "t.csv")
        back = read_table(path)
        back32 = read_table(path, columns=["f32"], float_dtype="float32")
    np.testing.assert_array_equal(back["f64"], f64)
    np.testing.assert_array_equal(back["f32"].astype(np.float32), f32)
    np.testing.assert_array_equal(back32["f32"], f32)
    assert back["ints"].dtype == np.int64
    np.testing.assert_array_equal(back["ints"], ints)
