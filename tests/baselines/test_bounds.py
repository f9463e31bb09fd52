"""Error bounds: validation, per-variable kinds, and the residuals bounds are checked against."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hepsqueeze.baselines import ErrorBound, bounds_for, bounds_from_errors, column_errors, error_summary
from hepsqueeze.errors import ConfigError


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("relative", 0.0),
        ("absolute", -1e-3),
        ("relative", 1.0),
        ("relative", math.nan),
        ("absolute", math.inf),
        ("both", 1e-3),
        ("absolute", "small"),
    ],
)
def test_bad_bounds_raise_config_error(kind: str, value: object) -> None:
    with pytest.raises(ConfigError):
        ErrorBound(kind, value)  # type: ignore[arg-type]


def test_bounds_for_uses_relative_for_energy_and_momentum() -> None:
    bounds = bounds_for(["E", "pt", "eta", "phi", "m"], 1e-3)
    assert [b.kind for b in bounds] == ["relative", "relative", "absolute", "absolute", "relative"]
    assert all(b.value == 1e-3 for b in bounds)
    assert bounds[0].as_dict() == {"kind": "relative", "value": 1e-3}


def test_bounds_from_errors_needs_every_variable() -> None:
    bounds = bounds_from_errors(["pt", "eta"], {"pt": 0.02, "eta": 0.5})
    assert bounds == (ErrorBound("relative", 0.02), ErrorBound("absolute", 0.5))
    assert bounds_from_errors(["E"], {"E": 3.0}) == (ErrorBound("relative", 0.5),)
    with pytest.raises(ConfigError, match="eta"):
        bounds_from_errors(["pt", "eta"], {"pt": 0.02})


def test_phi_errors_wrap_around_pi() -> None:
    x = np.array([np.pi - 1e-4, -np.pi + 1e-4, 0.5], dtype=np.float32)
    y = np.array([-np.pi + 1e-4, np.pi - 1e-4, 0.5], dtype=np.float32)
    err = column_errors(x, y, "phi")
    assert err.max() < 3e-4
    assert column_errors(x, y, "eta").max() > 6.0  # eta does not wrap


def test_relative_error_at_zero_is_exactness() -> None:
    x = np.array([0.0, 0.0, 2.0])
    assert column_errors(x, np.array([0.0, 0.0, 2.002]), "pt").max() == pytest.approx(1e-3)
    assert column_errors(x, np.array([1e-30, 0.0, 2.0]), "pt").max() == math.inf


def test_error_summary_reports_max_and_std() -> None:
    x = np.array([[1.0, 0.1], [2.0, 0.2]])
    y = np.array([[1.01, 0.1], [1.98, 0.25]])
    s = error_summary(x, y, ["pt", "eta"])
    assert s["pt"]["max"] == pytest.approx(0.01)
    assert s["eta"]["max"] == pytest.approx(0.05)
    assert s["pt"]["std"] == pytest.approx(0.01)
