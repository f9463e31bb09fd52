from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hepsqueeze.errors import InputError, OutputExistsError
from hepsqueeze.evaluation.inspect import column_summary, inspect, is_log_like, summarise
from hepsqueeze.io.table import Table


def _troubled(rng: np.random.Generator, n: int = 500) -> Table:
    pt = rng.exponential(50.0, n) + 20.0
    pt[3] = -4.0  # negative under a log
    eta = rng.normal(0.0, 1.5, n)
    eta[7] = np.nan
    eta[8] = np.inf
    tail = rng.normal(0.0, 1.0, n)
    tail[0] = 1e4  # far beyond the bulk
    return Table(
        {
            "event": np.repeat(np.arange(n // 5), 5).astype(np.int64),
            "pt": pt,
            "eta": eta,
            "nconst": rng.integers(1, 60, n).astype(np.float32),  # integer-valued floats
            "tail": tail,
            "flag": np.ones(n),
            "process": np.where(np.arange(n) < n // 2, "ttbar", "qcd"),
        },
        source="troubled.parquet",
    )


def _kinds(summary: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for w in summary["warnings"]:
        out.setdefault(w["column"], set()).add(w["kind"])
    return out


def test_warnings_fire(rng: np.random.Generator) -> None:
    s = summarise(_troubled(rng))
    kinds = _kinds(s)
    assert "nonfinite" in kinds["eta"]
    assert "log_domain" in kinds["pt"]
    assert "integer" in kinds["nconst"]
    assert "heavy_tail" in kinds["tail"]
    assert "constant" in kinds["flag"]
    assert kinds["event"] == {"identifier"}
    assert kinds["process"] == {"non_numeric"}
    assert s["columns"]["eta"]["nan"] == 1
    assert s["columns"]["eta"]["inf"] == 1
    assert s["columns"]["pt"]["negatives"] == 1
    assert "event" not in s["correlation"]["labels"]


def test_clean_jets_have_no_errors(jets: Table) -> None:
    s = summarise(jets)
    assert not [w for w in s["warnings"] if w["severity"] == "error"]
    assert s["columns"]["pt"]["min"] > 0
    c = np.array(s["correlation"]["matrix"])
    assert c.shape == (4, 4)
    np.testing.assert_allclose(np.diag(c), 1.0)


def test_column_summary_numbers() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0, 0.0, -1.0])
    s = column_summary(x)
    assert s["mean"] == pytest.approx(1.5)
    assert s["std"] == pytest.approx(np.sqrt(np.mean((x - 1.5) ** 2)))
    assert s["zeros"] == 1
    assert s["negatives"] == 1
    assert s["integer_valued"] is True
    assert s["q50"] == pytest.approx(1.5)


def test_log_like_names() -> None:
    assert is_log_like("pt")
    assert is_log_like("E")
    assert is_log_like("jet_pt")
    assert is_log_like("MET")
    assert not is_log_like("eta")
    assert not is_log_like("phi")
    assert not is_log_like("depth")


def test_inspect_writes_report(rng: np.random.Generator, tmp_path: Path) -> None:
    out = tmp_path / "inspect"
    result = inspect(_troubled(rng), out)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows"] == 500
    for name in ("dist_pt", "dist_nconst", "correlation"):
        assert (out / f"{name}.png").exists()
        assert (out / f"{name}.pdf").exists()
    assert "dist_pt.png" in result["plots"]
    assert "heavy tail" in (out / "index.html").read_text()
    with pytest.raises(OutputExistsError):
        inspect(_troubled(rng), out)


def test_inspect_empty(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no rows"):
        inspect(Table({"pt": np.empty(0)}), tmp_path / "x")
