"""Tests of the event-level physics and jet substructure functions on hand-made particles (no Pythia)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from hepsqueeze.datasets.physics import (
    EventObject,
    Particles,
    b_labels,
    darkmachines_line,
    delta_phi,
    isolated_mask,
    missing_et,
)
from hepsqueeze.datasets.substructure import CONSTITUENT_VARIABLES, Constituents, c2, constituent_variables


def particles(rows: list[tuple[float, float, float, int, bool, bool]]) -> Particles:
    """Massless particles from (pt, eta, phi, pid, charged, visible)."""
    pt, eta, phi = (np.array([r[k] for r in rows], dtype=np.float64) for k in range(3))
    return Particles(
        px=pt * np.cos(phi),
        py=pt * np.sin(phi),
        pz=pt * np.sinh(eta),
        e=pt * np.cosh(eta),
        pid=np.array([r[3] for r in rows], dtype=np.int64),
        charged=np.array([r[4] for r in rows], dtype=np.bool_),
        visible=np.array([r[5] for r in rows], dtype=np.bool_),
    )


def test_delta_phi_wraps() -> None:
    np.testing.assert_allclose(
        delta_phi(np.array([3.0, -3.0, 0.5]), np.array([-3.0, 3.0, 0.2])),
        [6.0 - 2 * math.pi, 2 * math.pi - 6.0, 0.3],
    )


def test_isolation() -> None:
    p = particles(
        [
            (50.0, 0.0, 0.0, 11, True, True),  # isolated electron: 5 GeV in its cone (10%)
            (5.0, 0.1, 0.1, 211, True, True),
            (30.0, 1.0, 2.0, -13, True, True),  # muon with 6 GeV nearby (20%): not isolated
            (6.0, 1.1, 2.0, 22, False, True),
            (40.0, -1.0, -2.0, 22, False, True),  # photon with a neutrino nearby: still isolated
            (20.0, -1.0, -2.05, 12, False, False),
            (40.0, 3.0, 0.0, 22, False, True),  # outside |eta| < 2.5
            (8.0, -2.0, 1.0, 13, True, True),  # below 10 GeV
            (60.0, 0.0, 3.0, 211, True, True),  # a pion is never a candidate
        ]
    )
    assert isolated_mask(p).tolist() == [True, False, False, False, True, False, False, False, False]


def test_missing_et() -> None:
    p = particles(
        [
            (20.0, 0.0, 0.5, 12, False, False),
            (10.0, 1.0, 0.5, -14, False, False),
            (5.0, 0, 0, 211, True, True),
        ]
    )
    met, phi = missing_et(p)
    assert met == pytest.approx(30.0)
    assert phi == pytest.approx(0.5)
    assert missing_et(particles([(5.0, 0.0, 1.0, 211, True, True)])) == (0.0, 0.0)


def test_b_labels() -> None:
    labels = b_labels(
        np.array([0.0, 1.0, 2.0]), np.array([3.1, 0.0, 0.0]), np.array([0.1, 2.5]), np.array([-3.1, 0.0])
    )
    assert labels.tolist() == [True, False, False]  # dR across phi = +-pi is 0.1 + 0.08
    assert b_labels(np.array([0.0]), np.array([0.0]), np.empty(0), np.empty(0)).tolist() == [False]


def test_darkmachines_line() -> None:
    line = darkmachines_line(
        7,
        "ttbar",
        12.3456789,
        -1.5,
        [EventObject("j", 100.0, 50.0, 0.5, 1.0), EventObject("e-", 80.0, 60.0, -0.25, 2.0)],
    )
    assert line == "7;ttbar;1;12345.7;-1.5;e-,80000,60000,-0.25,2;j,100000,50000,0.5,1;"


def test_c2_matches_triple_sum() -> None:
    rng = np.random.default_rng(3)
    z = rng.random(9)
    z /= z.sum()
    rap, phi = rng.normal(0, 0.2, 9), rng.normal(3.0, 0.2, 9)  # straddles phi = pi
    r = np.sqrt((rap[:, None] - rap[None, :]) ** 2 + delta_phi(phi[:, None], phi[None, :]) ** 2)
    e2 = sum(z[i] * z[j] * r[i, j] for i, j in itertools.combinations(range(9), 2))
    e3 = sum(
        z[i] * z[j] * z[k] * r[i, j] * r[i, k] * r[j, k] for i, j, k in itertools.combinations(range(9), 3)
    )
    assert c2(z, rap, phi) == pytest.approx(e3 / e2**2, rel=1e-12)
    assert c2(np.array([1.0]), np.zeros(1), np.zeros(1)) == 0.0


def test_constituent_variables_of_a_two_prong_jet() -> None:
    # Two equal prongs 0.2 apart in eta, plus a soft photon on the first: two axes describe it exactly.
    pt = np.array([50.0, 49.0, 1.0])
    eta = np.array([-0.1, 0.1, -0.1])
    phi = np.zeros(3)
    c = Constituents(
        pt=pt,
        e=pt * np.cosh(eta),
        eta=eta,
        rap=eta,
        phi=phi,
        pid=np.array([211, -211, 22]),
        charged=np.array([True, True, False]),
    )
    jet_e = float(c.e.sum())
    axes = [
        (np.array([0.0]), np.array([0.0])),
        (np.array([-0.1, 0.1]), np.array([0.0, 0.0])),
        (np.array([-0.1, 0.1, -0.1]), np.array([0.0, 0.0, 0.0])),
    ]
    v = dict(
        zip(
            CONSTITUENT_VARIABLES,
            constituent_variables(c, jet_e=jet_e, jet_pt=100.0, jet_eta=0.0, jet_phi=0.0, axes=axes, r0=0.4),
            strict=True,
        )
    )
    assert (v["n_constituents"], v["n_charged"], v["n90"]) == (3, 2, 2)
    assert v["charged_fraction"] + v["photon_fraction"] + v["neutral_hadron_fraction"] == pytest.approx(1.0)
    assert v["neutral_hadron_fraction"] == 0.0
    assert v["tau1"] == pytest.approx(0.1 / 0.4)
    assert v["tau2"] == pytest.approx(0.0, abs=1e-12)
    assert v["tau21"] == pytest.approx(0.0, abs=1e-12)
    assert v["width"] == pytest.approx(0.1)
    assert v["axis_minor"] == pytest.approx(0.0, abs=1e-12)
    assert v["width_phi"] == pytest.approx(0.0, abs=1e-12)
    assert v["lead_pt"] == 50.0
    assert v["lead_fraction"] == pytest.approx(0.5)
    assert v["ptD"] == pytest.approx(math.sqrt(50**2 + 49**2 + 1) / 100.0)
