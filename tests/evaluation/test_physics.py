from __future__ import annotations

import math

import numpy as np
import pytest

from hepsqueeze.evaluation.physics import (
    compare_quantity,
    event_quantities,
    jet_mass_summary,
    jet_masses,
    kinematic_columns,
    met_column,
    physics_summary,
)
from hepsqueeze.io.table import Table

# Four-vectors (px, py, pz, E) in GeV, listed per event in a deliberately unsorted order.
EVENTS = {
    # Back-to-back massless jets along x, plus a softer third jet: mjj of the leading two = 200 exactly.
    10: [(25.0, 0.0, 30.0, 50.0), (100.0, 0.0, 0.0, 100.0), (-100.0, 0.0, 0.0, 100.0)],
    # Two jets with longitudinal momentum; the 5 GeV jet is the third and ignored.
    11: [(30.0, 40.0, 0.0, 50.0), (3.0, 4.0, 1.0, 8.0), (0.0, -60.0, 80.0, 100.0)],
    # One jet: no dijet mass.
    12: [(25.0, 0.0, 0.0, 26.0)],
}
MET = {10: 12.5, 11: 40.0, 12: 3.0}


def _pt(v: tuple[float, float, float, float]) -> float:
    return math.hypot(v[0], v[1])


def _table(mass_form: bool = False) -> Table:
    rows = [(ev, v) for ev, vs in EVENTS.items() for v in vs]
    px, py, pz, e = (np.array([v[k] for _, v in rows]) for k in range(4))
    pt = np.hypot(px, py)
    cols = {
        "event": np.array([ev for ev, _ in rows], dtype=np.int64),
        "pt": pt,
        "eta": np.arcsinh(pz / pt),
        "phi": np.arctan2(py, px),
        "MET": np.array([MET[ev] for ev, _ in rows]),
    }
    if mass_form:
        cols["m"] = np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0.0))
    else:
        cols["E"] = e
    return Table(cols)


def _expected_mjj(vectors: list[tuple[float, float, float, float]]) -> float:
    if len(vectors) < 2:
        return math.nan
    a, b = sorted(vectors, key=_pt, reverse=True)[:2]
    s = [a[k] + b[k] for k in range(4)]
    return math.sqrt(s[3] ** 2 - s[0] ** 2 - s[1] ** 2 - s[2] ** 2)


@pytest.mark.parametrize("mass_form", [False, True])
def test_event_quantities_exact(mass_form: bool) -> None:
    t = _table(mass_form)
    kin = kinematic_columns(t.names)
    assert kin is not None
    assert ("m" in kin) == mass_form
    q = event_quantities(t, kin, thresholds=(20.0, 45.0), met=met_column(t.names))
    assert q["event"].tolist() == [10, 11, 12]
    expected = [_expected_mjj(EVENTS[ev]) for ev in (10, 11, 12)]
    assert expected[0] == pytest.approx(200.0)
    assert expected[1] == pytest.approx(math.sqrt(150.0**2 - 30.0**2 - 20.0**2 - 80.0**2))
    np.testing.assert_allclose(q["mjj"][:2], expected[:2], rtol=1e-9)
    assert np.isnan(q["mjj"][2])
    np.testing.assert_allclose(q["ht"], [sum(_pt(v) for v in EVENTS[ev]) for ev in (10, 11, 12)])
    assert q["njets_pt20"].tolist() == [3, 2, 1]
    assert q["njets_pt45"].tolist() == [2, 2, 0]
    assert q["met"].tolist() == [12.5, 40.0, 3.0]
    assert int(q["n_negative_m2"]) == 0


def test_reconstructed_order_and_shift() -> None:
    t = _table()
    # Reconstruction that swaps which jet leads in event 11 does not crash and uses its own order.
    cols = dict(t.columns)
    pt = cols["pt"].copy()
    pt[t["event"] == 11] = pt[t["event"] == 11][::-1]
    reco = Table({**cols, "pt": pt})
    kin = kinematic_columns(t.names)
    assert kin is not None
    q_in = event_quantities(t, kin)
    q_out = event_quantities(reco, kin, event=t["event"])
    s = physics_summary(q_in, q_out)
    assert s["n_events"] == 3
    assert s["quantities"]["ht"]["mean_shift"] == pytest.approx(0.0, abs=1e-9)
    assert s["quantities"]["mjj"]["n"] == 2  # the single-jet event has no mjj


def test_compare_quantity_numbers() -> None:
    x = np.array([100.0, 200.0, 300.0, 400.0])
    y = x * 1.1
    c = compare_quantity(x, y)
    assert c["mean_shift"] == pytest.approx(25.0)
    assert c["rel_mean_shift"] == pytest.approx(0.1)
    assert c["rel_median_shift"] == pytest.approx(0.1)
    assert c["per_event_relative"]["mean"] == pytest.approx(0.1)
    assert c["changed_fraction"] == 1.0
    assert c["ks"] == pytest.approx(0.25)


def test_missing_kinematics() -> None:
    assert kinematic_columns(["event", "pt", "eta"]) is None
    assert met_column(["pt", "eta"]) is None


def test_jet_masses_signed() -> None:
    t = Table(
        {
            "E": np.array([5.0, 3.0]),
            "pt": np.array([3.0, 5.0]),
            "eta": np.zeros(2),
            "phi": np.zeros(2),
        }
    )
    kin = kinematic_columns(t.names)
    assert kin is not None
    np.testing.assert_allclose(jet_masses(t, kin), [4.0, -4.0])  # E < |p| gives a negative mass
    s = jet_mass_summary(jet_masses(t, kin), np.array([4.0, 4.0]))
    assert s["negative_m2_fraction"] == {"original": 0.5, "reconstructed": 0.0}
