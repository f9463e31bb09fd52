"""zoo:ae4d-3m, the 4D model in (m, pt, eta, phi): its card's figures hold for the shipped file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepsqueeze.api import compress, decompress
from hepsqueeze.io.table import Table
from hepsqueeze.metrics.residuals import ks_statistic, residual_summary
from hepsqueeze.models import decoder_hash
from hepsqueeze.models.four_vector import signed_mass
from hepsqueeze.training.split import split_rows
from hepsqueeze.zoo import card, load

NAME = "ae4d-3m"
VARIABLES = ("E", "pt", "eta", "phi")


def test_card_matches_the_shipped_file() -> None:
    c = card(NAME)
    model = load(NAME)
    assert decoder_hash(model) == c.decoder_hash
    assert model.representation == "mass"
    assert model.variables == VARIABLES
    assert model.network_variables == ("m", "pt", "eta", "phi")
    assert model.config.nodes == (4, 200, 200, 20, 3, 20, 200, 200, 4)
    assert c.training["data"]["processes"] == ["ttbar", "qcd"]
    physics = c.extra["physics"]
    for sample in ("test", "seed2"):
        assert physics[sample]["negative_m2_fraction"]["decoded"] == 0.0
        assert 0 <= physics[sample]["mass_ks"] < 1
    assert c.extra["budget"]["minutes"] > 0


def test_fresh_jets_decode_physical(jets: Table, tmp_path: Path) -> None:
    """No decoded jet with E < |p|, phi within the training range, on jets the model never saw."""
    model = load(NAME)
    x = jets.stack(list(VARIABLES))
    y = model.reconstruct(x)
    assert np.all(signed_mass(y[:, 0], y[:, 1], y[:, 2]) >= 0)
    lo, hi = model.training["input_range"][3]
    assert np.all((y[:, 3] >= lo) & (y[:, 3] <= hi))
    # the card's test-split residuals, within a loose band on this small sample
    std = residual_summary(x, y, VARIABLES)["pt"]["std"]
    assert std < 3 * card(NAME).test_metrics["pt"]["std"]
    out = tmp_path / "j.hsqz"
    compress(jets, out, model="zoo:ae4d-3m")
    back = decompress(out).stack(list(VARIABLES))
    assert np.allclose(back[:, 1], x[:, 1], rtol=0.5)


@pytest.mark.slow
def test_card_physics_on_the_test_split_and_seed2() -> None:
    """The card's negative-m^2 fraction and jet-mass KS, measured again (needs the card's samples:
    generated, or read from the cache)."""
    from hepsqueeze.datasets import generate_mixture

    c = card(NAME)
    model = load(NAME)
    physics = c.extra["physics"]
    data = c.training["data"]
    jets = generate_mixture(events_per_process=data["events_per_process"], seed=data["seed"], workers=2)
    cfg = c.training["config"]
    x = jets.stack(list(VARIABLES), dtype=np.float32)
    split = split_rows(x.shape[0], cfg["val_fraction"], cfg["test_fraction"], cfg["seed"])
    val = c.validation["sample"]
    fresh = generate_mixture(events_per_process=val["events_per_process"], seed=val["seed"], workers=2)
    for name, rows in (("test", x[split.test]), ("seed2", fresh.stack(list(VARIABLES), dtype=np.float32))):
        y = model.reconstruct(rows)
        m_in = signed_mass(rows[:, 0], rows[:, 1], rows[:, 2])
        m_out = signed_mass(y[:, 0], y[:, 1], y[:, 2])
        assert float(np.mean(m_out < 0)) == physics[name]["negative_m2_fraction"]["decoded"]
        assert ks_statistic(m_in, m_out) == pytest.approx(physics[name]["mass_ks"], abs=1e-3)
        std = residual_summary(rows, y, VARIABLES)
        for v in VARIABLES:
            assert std[v]["std"] == pytest.approx(physics[name]["residual_std"][v], rel=1e-2)
