"""Committed files of older formats still decode to the values they decoded to when written."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hepsqueeze.codec.compress import decompress_dataset

DATA = Path(__file__).parent / "data"


def test_bounded_data_format_4_decodes_as_written() -> None:
    """Written by hepsqueeze 0.1 (data format 4, payload format 2): 300 jets in 100 events at 1e-3,
    a NaN E and a zero pt stored exactly, an int32 passthrough column."""
    back = decompress_dataset(DATA / "bounded_format4.hsqz").table
    expected = np.load(DATA / "bounded_format4_expected.npz")
    assert list(back.names) == list(expected.files)
    for name in expected.files:
        want = expected[name]
        got = back[name]
        assert got.dtype == want.dtype, name
        assert got.tobytes() == want.tobytes(), name
