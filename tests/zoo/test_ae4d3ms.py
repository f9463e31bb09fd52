"""zoo:ae4d-3ms, the 4D model whose jet mass is drawn given the latent: card, physics, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepsqueeze.api import compress, decompress
from hepsqueeze.io.table import Table
from hepsqueeze.metrics.residuals import ks_statistic, residual_summary
from hepsqueeze.models import decoder_hash
from hepsqueeze.models.four_vector import signed_mass
from hepsqueeze.zoo import card, load

NAME = "ae4d-3ms"
VARIABLES = ("E", "pt", "eta", "phi")


def test_card_matches_the_shipped_file() -> None:
    c = card(NAME)
    model = load(NAME)
    assert decoder_hash(model) == c.decoder_hash
    assert model.representation == "mass"
    assert model.config.sampled_outputs == (0,)
    assert model.config.latent_dim == 3
    assert model.summary()["sampled"] == ["m"]
    assert {s["process"] for s in c.training["data"]["slices"]} <= {"ttbar", "ttbar_boosted", "qcd"}
    physics = c.extra["physics"]
    for sample in ("test", "seed2"):
        assert physics[sample]["negative_m2_fraction"]["decoded"] < 1e-3
        assert physics[sample]["mass_ks"] < 0.05
    assert c.extra["budget"]["minutes"] > 0


def test_fresh_jets_decode_physical_and_the_same_every_time(jets: Table, tmp_path: Path) -> None:
    model = load(NAME)
    x = jets.stack(list(VARIABLES))
    y = model.reconstruct(x)
    np.testing.assert_array_equal(model.reconstruct(x), y)
    assert np.all(signed_mass(y[:, 0], y[:, 1], y[:, 2]) >= 0)
    lo, hi = model.training["input_range"][3]
    assert np.all((y[:, 3] >= lo) & (y[:, 3] <= hi))
    std = residual_summary(x, y, VARIABLES)["pt"]["std"]
    assert std < 3 * card(NAME).test_metrics["pt"]["std"]
    # the mass spectrum, not each jet's mass: a loose band on this small sample
    m_in = signed_mass(x[:, 0], x[:, 1], x[:, 2])
    m_out = signed_mass(y[:, 0], y[:, 1], y[:, 2])
    assert ks_statistic(m_in, m_out) < 0.15
    out = tmp_path / "j.hsqz"
    compress(jets, out, model=f"zoo:{NAME}")
    back = decompress(out).stack(list(VARIABLES))
    np.testing.assert_array_equal(decompress(out).stack(list(VARIABLES)), back)
    assert np.allclose(back[:, 1], x[:, 1], rtol=0.05)


def test_the_report_says_the_mass_is_drawn(jets: Table, tmp_path: Path) -> None:
    from hepsqueeze.evaluation.report import evaluate

    out = tmp_path / "j.hsqz"
    compress(jets, out, model=f"zoo:{NAME}")
    metrics = evaluate(jets, decompress(out), tmp_path / "eval", container=out, plots=False)
    assert metrics["model"]["sampled"] == ["m"]
    page = (tmp_path / "eval" / "index.html").read_text()
    assert "sampled variables" in page
    assert "per-row values are draws" in page


@pytest.mark.slow
def test_card_physics_on_the_seed2_sample() -> None:
    """The card's negative-m^2 fraction and jet-mass KS on its validation sample, measured again."""
    from hepsqueeze.datasets import generate_mixture

    c = card(NAME)
    model = load(NAME)
    val = c.validation["sample"]
    fresh = generate_mixture(events_per_process=val["events_per_process"], seed=val["seed"], workers=2)
    rows = fresh.stack(list(VARIABLES), dtype=np.float32)
    y = model.reconstruct(rows)
    m_in = signed_mass(rows[:, 0], rows[:, 1], rows[:, 2])
    m_out = signed_mass(y[:, 0], y[:, 1], y[:, 2])
    physics = c.extra["physics"]["seed2"]
    assert float(np.mean(m_out < 0)) == physics["negative_m2_fraction"]["decoded"]
    assert ks_statistic(m_in, m_out) == pytest.approx(physics["mass_ks"], abs=1e-3)
