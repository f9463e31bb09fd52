from __future__ import annotations

import numpy as np
import pytest

from hepsqueeze.evaluation import residual_summary, residuals


def test_relative_and_absolute() -> None:
    assert residuals(np.array([100.0]), np.array([101.0]), "pt")[0] == pytest.approx(0.01)
    assert residuals(np.array([1.0]), np.array([1.5]), "eta")[0] == pytest.approx(0.5)


def test_phi_wraps() -> None:
    r = residuals(np.array([np.pi - 0.01]), np.array([-np.pi + 0.01]), "phi")
    assert r[0] == pytest.approx(0.02)


def test_summary_fields() -> None:
    x = np.array([[100.0, 1.0], [200.0, 2.0]])
    y = np.array([[101.0, 1.1], [198.0, 2.0]])
    s = residual_summary(x, y, ["pt", "eta"])
    assert s["pt"]["kind"] == "relative"
    assert s["pt"]["mean"] == pytest.approx(0.0)
    assert s["eta"]["max_abs"] == pytest.approx(0.1)


def test_zero_valued_relative_variable_gets_absolute_residuals() -> None:
    from hepsqueeze.metrics.residuals import residual_kind

    m = np.array([0.0, 2.0, 10.0])
    assert residual_kind("m") == "relative"
    assert residual_kind("m", m) == "absolute"
    assert residual_kind("m", m + 1) == "relative"
    summary = residual_summary(m[:, None], (m + 0.5)[:, None], ["m"])
    assert summary["m"]["kind"] == "absolute"
    assert summary["m"]["mean"] == pytest.approx(0.5)


def test_exact_match_rate_of_integer_variables() -> None:
    from hepsqueeze.metrics.residuals import exact_match_rate

    x = np.array([[1.0, 3.0], [2.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    y = x + np.array([[0.4, 0.0], [0.6, 0.0], [-0.49, 0.0], [-0.51, 0.0]])
    assert exact_match_rate(x[:, 0], y[:, 0]) == pytest.approx(0.5)
    summary = residual_summary(x, y, ["n90", "eta"], integer=["n90"])
    assert summary["n90"]["exact_match"] == pytest.approx(0.5)
    assert "exact_match" not in summary["eta"]
