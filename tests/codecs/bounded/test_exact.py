"""exp and log of IEEE operations only: within a few ulps of numpy's, and their edge cases."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hepsqueeze.codecs.bounded.exact import exact_exp, exact_log


def test_exp_is_within_two_ulps_of_numpy() -> None:
    x = np.random.default_rng(1).uniform(-700, 700, 100_000)
    assert float(np.abs(exact_exp(x) / np.exp(x) - 1).max()) <= 4.5e-16


def test_log_is_within_two_ulps_of_numpy() -> None:
    x = np.exp(np.random.default_rng(2).uniform(-700, 700, 100_000))
    got, want = exact_log(x), np.log(x)
    assert float(np.abs(got - want).max() / np.abs(want).max()) <= 4.5e-16
    near_one = 1 + np.random.default_rng(3).uniform(-0.3, 0.3, 10_000)
    assert float(np.abs(exact_log(near_one) / np.log(near_one) - 1).max()) <= 1e-13


def test_edge_cases() -> None:
    assert np.isnan(exact_exp(np.array([np.nan]))).all()
    assert exact_exp(np.array([0.0]))[0] == 1.0
    assert np.isfinite(exact_exp(np.array([1e6, -1e6]))).all()  # clipped to +-700
    logs = exact_log(np.array([0.0, -1.0, np.inf, np.nan, 1.0, 2.0, 5e-324]))
    assert np.isnan(logs[:4]).all()
    assert logs[4] == 0.0
    assert abs(logs[5] - np.log(2.0)) <= 1e-16
    assert abs(logs[6] - np.log(5e-324)) <= 1e-12


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e-300, max_value=1e300))
def test_exp_of_log_comes_back(x: float) -> None:
    back = float(exact_exp(exact_log(np.array([x])))[0])
    assert abs(back / x - 1) <= 1e-12
