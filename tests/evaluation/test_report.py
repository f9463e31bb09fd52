from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hepsqueeze.codecs.autoencoder.exceptions import codec_inputs
from hepsqueeze.errors import ColumnError, InputError, OutputExistsError
from hepsqueeze.evaluation.inputs import resolve_columns
from hepsqueeze.evaluation.report import draw_report, evaluate
from hepsqueeze.evaluation.report_metrics import compute_metrics
from hepsqueeze.io.table import Table
from hepsqueeze.metrics.residuals import ks_statistic

VARS = ["E", "pt", "eta", "phi"]


def _perturbed(jets: Table, seed: int = 5) -> Table:
    """A fake reconstruction: multiplicative noise on E/pt, additive on eta/phi (phi crosses +-pi)."""
    rng = np.random.default_rng(seed)
    n = jets.num_rows
    cols: dict[str, Any] = dict(jets.columns)
    cols["E"] = (jets["E"] * (1 + 0.05 * rng.standard_normal(n) + 0.01)).astype(np.float32)
    cols["pt"] = (jets["pt"] * (1 + 0.03 * rng.standard_normal(n))).astype(np.float32)
    cols["eta"] = (jets["eta"] + 0.02 * rng.standard_normal(n)).astype(np.float32)
    phi = jets["phi"].astype(np.float64) + 0.05 * rng.standard_normal(n)
    cols["phi"] = (np.mod(phi + np.pi, 2 * np.pi) - np.pi).astype(np.float32)
    return Table(cols, source="<perturbed>")


# ---- an independent numpy computation of every per-variable metric --------------------------------


def _ks_bruteforce(a: np.ndarray, b: np.ndarray) -> float:
    grid = np.concatenate([a, b])
    fa = (a[None, :] <= grid[:, None]).mean(axis=1)
    fb = (b[None, :] <= grid[:, None]).mean(axis=1)
    return float(np.abs(fa - fb).max())


def _quantile(v: np.ndarray, q: float) -> float:
    """Linear interpolation between order statistics at position q (n - 1)."""
    s = sorted(v.tolist())
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return float(s[lo] + (pos - lo) * (s[hi] - s[lo]))


def _stats(v: np.ndarray) -> dict[str, float]:
    n = v.size
    lo68, hi68 = _quantile(v, 0.158655), _quantile(v, 0.841345)
    lo95, hi95 = _quantile(v, 0.02275), _quantile(v, 0.97725)
    sd = np.sqrt(np.sum((v - v.sum() / n) ** 2) / n)
    return {
        "mean": v.sum() / n,
        "mean_err": sd / np.sqrt(n),
        "std": sd,
        "std_err": sd / np.sqrt(2 * n),
        "rms": np.sqrt(np.sum(v * v) / n),
        "max_abs": np.max(np.abs(v)),
        "width68": (hi68 - lo68) / 2,
        "width95": (hi95 - lo95) / 2,
    }


def _expected(
    x: np.ndarray, y: np.ndarray, var: str, xs_all: np.ndarray, ys_all: np.ndarray, j: int
) -> dict[str, Any]:
    d = y - x
    if var == "phi":
        d = np.where(d > np.pi, d - 2 * np.pi, np.where(d < -np.pi, d + 2 * np.pi, d))
    out: dict[str, Any] = {"residual": _stats(d), "mse": np.sum(d**2) / d.size, "ks": _ks_bruteforce(x, y)}
    if var in ("E", "pt"):
        out["relative_residual"] = _stats((y - x) / x)
        out["response"] = _stats(y / x)
    mu, sd = xs_all[:, j].mean(), xs_all[:, j].std()
    out["mse_normalised"] = np.mean(((ys_all[:, j] - mu) / sd - (xs_all[:, j] - mu) / sd) ** 2)
    return out


def test_metrics_equal_independent_numpy(jets: Table) -> None:
    reco = _perturbed(jets)
    m = compute_metrics(jets, reco, VARS, VARS)
    xs = np.column_stack([jets[c].astype(np.float64) for c in VARS])
    ys = np.column_stack([reco[c].astype(np.float64) for c in VARS])
    assert m["normalisation"].startswith("standardised")
    for j, var in enumerate(VARS):
        got = m["metrics"][var]
        want = _expected(xs[:, j], ys[:, j], var, xs, ys, j)
        for key, value in want["residual"].items():
            assert got["residual"][key] == pytest.approx(value, rel=1e-9, abs=1e-12), (var, key)
        assert got["mse"] == pytest.approx(want["mse"], rel=1e-9)
        assert got["mse_normalised"] == pytest.approx(want["mse_normalised"], rel=1e-9)
        assert got["ks"] == pytest.approx(want["ks"], abs=1e-12)
        if var in ("E", "pt"):
            for key, value in want["relative_residual"].items():
                assert got["relative_residual"][key] == pytest.approx(value, rel=1e-9, abs=1e-12), (var, key)
            for key in ("mean", "std", "mean_err", "std_err"):
                assert got["response"][key] == pytest.approx(want["response"][key], rel=1e-9), (var, key)
        else:
            assert got["relative_residual"] is None
            assert got["response"] is None
    # The phi residual wraps: no residual near 2 pi although phi crosses the boundary.
    assert m["metrics"]["phi"]["residual"]["max_abs"] < 1.0
    # Residual correlation matrix: symmetric, unit diagonal.
    c = np.array(m["residual_correlation"]["matrix"])
    np.testing.assert_allclose(np.diag(c), 1.0)
    np.testing.assert_allclose(c, c.T)


def test_ks_statistic_matches_bruteforce(rng: np.random.Generator) -> None:
    a = rng.normal(size=300)
    b = rng.normal(0.3, 1.2, size=170)
    assert ks_statistic(a, b) == pytest.approx(_ks_bruteforce(a, b))
    ties = np.array([1.0, 1.0, 2.0, 3.0])
    assert ks_statistic(ties, ties) == 0.0
    assert ks_statistic(ties, ties + 10) == 1.0


def test_relative_skips_zero_inputs() -> None:
    x = Table({"pt": np.array([0.0, 10.0, 20.0]), "eta": np.zeros(3)})
    y = Table({"pt": np.array([1.0, 11.0, 18.0]), "eta": np.ones(3)})
    m = compute_metrics(x, y, ["pt", "eta"], ["pt", "eta"])
    rel = m["metrics"]["pt"]["relative_residual"]
    assert rel["n"] == 2
    assert rel["n_zero_input"] == 1
    assert rel["mean"] == pytest.approx((0.1 - 0.1) / 2)
    assert m["metrics"]["pt"]["residual"]["n"] == 3


def test_group_breakdown(jets: Table) -> None:
    reco = _perturbed(jets)
    process = np.where(jets["event"] < 40, "ttbar", "qcd")
    orig = Table({**jets.columns, "process": process})
    reco = Table({**reco.columns, "process": process})
    m = compute_metrics(orig, reco, VARS, VARS, group_by=["process"])
    groups = m["groups"]["process"]
    assert set(groups) == {"qcd", "ttbar"}
    for name in ("qcd", "ttbar"):
        rows = process == name
        assert groups[name]["n"] == int(rows.sum())
        x = jets["pt"][rows].astype(np.float64)
        y = reco["pt"][rows].astype(np.float64)
        want = _stats((y - x) / x)
        got = groups[name]["variables"]["pt"]["relative_residual"]
        assert got["mean"] == pytest.approx(want["mean"], rel=1e-9)
        assert got["std"] == pytest.approx(want["std"], rel=1e-9)
        assert got["width68"] == pytest.approx(want["width68"], rel=1e-9)


def test_mismatched_lengths(jets: Table, tmp_path: Path) -> None:
    short = Table({n: a[:-3] for n, a in jets.columns.items()}, source="short.parquet")
    with pytest.raises(InputError, match=r"short\.parquet") as info:
        evaluate(jets, short, tmp_path / "r")
    assert jets.source in str(info.value)
    assert str(jets.num_rows) in str(info.value)
    assert not (tmp_path / "r").exists()


def test_default_columns_and_missing(jets: Table) -> None:
    reco = _perturbed(jets)
    cols, var = resolve_columns(jets, reco)
    assert cols == VARS  # float columns, event left out
    assert var == VARS
    with pytest.raises(ColumnError, match="did you mean"):
        resolve_columns(jets, reco, columns=["pT"])


def test_full_report(jets: Table, model, model_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from hepsqueeze.api import compress, decompress
    from hepsqueeze.file.reader import file_info

    packed = tmp_path / "jets.hsqz"
    compress(jets, packed, model=model)
    back = decompress(packed)
    out = tmp_path / "report"
    result = evaluate(jets, back, out, container=packed, model=model_file)

    metrics_text = (out / "metrics.json").read_text()
    assert "NaN" not in metrics_text
    m = json.loads(metrics_text)
    info = file_info(packed)
    assert m["container"]["ratio"] == pytest.approx(info["ratio"])
    assert m["container"]["bits_per_value"] == pytest.approx(8 * info["file_bytes"] / (jets.num_rows * 4))
    assert m["model"]["source"] == "model file"
    assert len(m["training"]["history"]["train_loss"]) >= 1
    assert m["latents"]["source"].startswith("latent codes stored")
    np.testing.assert_allclose(
        np.load(out / "latents.npy"), model.encode(codec_inputs(model, jets.stack(model.columns))[0])
    )
    assert m["physics"]["quantities"]["mjj"]["n"] > 0
    assert {"mjj", "ht", "njets_pt30"} <= set(m["physics"]["quantities"])

    for name in (
        "dist_pt",
        "residual_phi",
        "relres_E",
        "in_vs_out_eta",
        "response_vs_pt",
        "response_vs_eta",
        "residual_correlation",
        "latent_space",
        "training_loss",
        "physics_mjj",
        "physics_ht",
        "physics_njets",
    ):
        for ext in ("png", "pdf"):
            assert (out / f"{name}.{ext}").stat().st_size > 1000, name
    page = (out / "index.html").read_text()
    assert "residual_correlation.png" in page
    assert "compression ratio" in page
    assert set(result["plots"]) >= {"dist_pt.png", "dist_pt.pdf"}

    with pytest.raises(OutputExistsError):
        evaluate(jets, back, out)
    # Redraw from the JSON alone (page only, to keep the test quick).
    (out / "index.html").unlink()
    assert draw_report(out / "metrics.json", jets, back, plots=False) == []
    assert (out / "index.html").exists()


def test_container_only_uses_embedded_decoder(jets: Table, model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from hepsqueeze.api import compress, decompress

    packed = tmp_path / "jets.hsqz"
    compress(jets, packed, model=model)
    back = decompress(packed)
    m = evaluate(jets, back, tmp_path / "r", container=packed, plots=False)
    assert m["model"]["source"].startswith("decoder embedded")
    assert m["model"]["has_encoder"] is False
    assert m["training"] is None
    assert any("training history" in n for n in m["notes"])
    assert m["latents"]["dim"] == model.latent_dim  # read from the container, no encoder needed
    assert m["normalisation"].startswith("model normaliser")
    assert (tmp_path / "r" / "index.html").exists()
    assert m["plots"] == []


def test_model_without_container(jets: Table, model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reco = _perturbed(jets)
    m = evaluate(jets, reco, tmp_path / "r", model=model, plots=False, group_by=[])
    assert m["latents"]["source"].startswith("encoded with model")
    assert m["container"] is None
    assert m["groups"] == {}
