from __future__ import annotations

import json
from pathlib import Path

import pytest

from hepsqueeze.cli import main
from hepsqueeze.errors import ConfigError
from hepsqueeze.io.table import Table
from hepsqueeze.studies.normalisation import run_normalisation_study

VARS = ["E", "pt", "eta", "phi"]


def test_study_rows_are_comparable(jets: Table) -> None:
    result = run_normalisation_study(
        jets, VARS, VARS, schemes=("none", "custom"), train_options={"epochs": 2, "device": "cpu"}
    )
    assert set(result["results"]) == {"none", "custom"}
    for row in result["results"].values():
        assert row["mse_standardised"] > 0
        assert set(row["residuals"]) == set(VARS)


def test_unknown_scheme(jets: Table) -> None:
    with pytest.raises(ConfigError, match="unknown normalisation"):
        run_normalisation_study(jets, VARS, VARS, schemes=("log",))


def test_cli(jets_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "study"
    code = main(
        [
            "study",
            "normalisation",
            str(jets_file),
            "--schemes",
            "standard,custom+minmax",
            "--epochs",
            "2",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    data = json.loads((out / "normalisation.json").read_text())
    assert list(data["results"]) == ["standard", "custom+minmax"]
    assert "MSE (standardised)" in (out / "normalisation.md").read_text()
