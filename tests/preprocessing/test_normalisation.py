from __future__ import annotations

import numpy as np
import pytest

from hepsqueeze.errors import ConfigError, InputError
from hepsqueeze.preprocessing import SCHEMES, Normaliser

VARS = ("E", "pt", "eta", "phi")


def _sample(rng: np.random.Generator, n: int = 1000) -> np.ndarray:
    pt = rng.uniform(20, 500, n)
    eta = rng.uniform(-4, 4, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    e = pt * np.cosh(eta) * 1.01
    return np.stack([e, pt, eta, phi], axis=1)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_inverse_round_trip(scheme: str, rng: np.random.Generator) -> None:
    x = _sample(rng)
    norm = Normaliser.fit(scheme, VARS, x)
    back = norm.inverse(norm.forward(x))
    np.testing.assert_allclose(back, x, rtol=2e-6, atol=2e-6)


def test_custom_matches_prior_work(rng: np.random.Generator) -> None:
    x = _sample(rng)
    y = Normaliser.fit("custom", VARS, x).forward(x)
    np.testing.assert_allclose(y[:, 1], (np.log10(x[:, 1]) - 1.3) / 1.2, rtol=1e-6)
    np.testing.assert_allclose(y[:, 2], x[:, 2] / 5, rtol=1e-6)
    np.testing.assert_allclose(y[:, 3], x[:, 3] / 3, rtol=1e-6)


def test_custom_mass_rule() -> None:
    x = np.array([[10.0, 100.0, 0.5, 1.0]])
    norm = Normaliser.fit("custom", ("m", "pt", "eta", "phi"), x)
    assert norm.forward(x)[0, 0] == pytest.approx(np.log10(11.0) / 1.8, rel=1e-6)


def test_minmax_range(rng: np.random.Generator) -> None:
    x = _sample(rng)
    for scheme in ("minmax", "custom+minmax"):
        y = Normaliser.fit(scheme, VARS, x).forward(x)
        assert y.min() >= -1e-6
        assert y.max() <= 1 + 1e-6


def test_standard_moments(rng: np.random.Generator) -> None:
    x = _sample(rng)
    y = Normaliser.fit("standard", VARS, x).forward(x)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=0), 1, atol=1e-5)


def test_serialisation_round_trip(rng: np.random.Generator) -> None:
    norm = Normaliser.fit("custom+minmax", VARS, _sample(rng))
    assert Normaliser.from_dict(norm.to_dict()) == norm


def test_unknown_scheme() -> None:
    with pytest.raises(ConfigError, match="unknown normalisation"):
        Normaliser.fit("log", VARS, np.ones((3, 4)))


def test_log_domain_error() -> None:
    x = np.array([[10.0, -5.0, 0.1, 0.2]])
    norm = Normaliser.fit("custom", VARS, np.array([[10.0, 5.0, 0.1, 0.2]]))
    with pytest.raises(InputError, match="'pt' has 1 values <= 0"):
        norm.check_domain(x)


def test_unknown_variable_is_standardised(rng: np.random.Generator) -> None:
    x = rng.normal(3, 2, size=(500, 1))
    y = Normaliser.fit("custom", ("width",), x).forward(x)
    assert abs(float(y.mean())) < 1e-5


def test_custom_rules_by_variable_type_for_jets27d() -> None:
    rng = np.random.default_rng(3)
    names = ["lead_pt", "tau21", "charged_fraction", "b_label", "n_constituents", "width"]
    x = np.column_stack(
        [
            rng.uniform(5, 300, 500),
            rng.uniform(0, 1.2, 500),
            rng.uniform(0, 1, 500),
            rng.integers(0, 2, 500),
            rng.integers(1, 80, 500),
            rng.uniform(0, 0.4, 500),
        ]
    )
    norm = Normaliser.fit("custom", names, x)
    t = dict(zip(names, norm.transforms, strict=True))
    assert t["lead_pt"].log  # momenta in log space like pt
    for name in ("tau21", "charged_fraction", "b_label"):  # already in [0, 1]: kept
        assert (t[name].shift, t[name].scale, t[name].log) == (0.0, 1.0, False)
    for j, name in enumerate(("n_constituents", "width"), start=4):  # counts and shapes: standardised
        assert t[name].shift == pytest.approx(x[:, j].mean())
    y = norm.forward(x)
    np.testing.assert_allclose(norm.inverse(y), x, rtol=1e-5, atol=1e-5)
