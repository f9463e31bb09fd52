"""Property: every lossless baseline returns any float32 table bit for bit (NaN payloads included)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hepsqueeze.baselines import Baseline, default_baselines

LOSSLESS = [b for b in default_baselines() if b.lossless]
VARIABLES = ["E", "pt", "eta", "phi"]


@pytest.mark.parametrize("method", LOSSLESS, ids=lambda m: m.name)
@settings(max_examples=30, deadline=None)
@given(
    bits=hnp.arrays(np.uint32, st.tuples(st.integers(1, 50), st.just(4)), elements=st.integers(0, 2**32 - 1))
)
def test_lossless_property(method: Baseline, bits: npt.NDArray[np.uint32]) -> None:
    x = bits.view(np.float32)
    y = method.decompress(method.compress(x, VARIABLES))
    assert np.array_equal(np.ascontiguousarray(y).view(np.uint32), bits)
