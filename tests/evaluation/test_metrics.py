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
