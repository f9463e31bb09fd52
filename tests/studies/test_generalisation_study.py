from __future__ import annotations

import json
from pathlib import Path

import pytest

from hepsqueeze.errors import ConfigError
from hepsqueeze.studies.generalisation import (
    OBJECT_GROUPS,
    GeneralisationConfig,
    run_generalisation_study,
    study_markdown,
    write_study,
)


def test_config_checks() -> None:
    with pytest.raises(ConfigError, match="unknown process"):
        GeneralisationConfig(test_processes=("wjet",))
    with pytest.raises(ConfigError, match="both trained on and held out"):
        GeneralisationConfig(train_processes=("ttbar",), test_processes=("ttbar",))
    with pytest.raises(ConfigError, match="4 variables"):
        GeneralisationConfig(preset="ae27d-14")


def test_small_study_end_to_end(tmp_path: Path) -> None:
    config = GeneralisationConfig(
        train_processes=("ttbar",),
        test_processes=("wjets",),
        train_events=60,
        test_events=30,
        epochs=2,
        batch_size=64,
        min_train_rows=40,
        workers=1,
    )
    result = run_generalisation_study(config, cache_dir=tmp_path / "cache")
    assert set(result["models"]) == {"jets", "all-objects", "per-type"}
    rows = result["models"]["jets"]["rows"]
    assert [(r["kind"], r["name"]) for r in rows] == [
        ("process", "ttbar"),
        ("process", "wjets"),
        *[("object", g) for g in OBJECT_GROUPS],
    ]
    jets = rows[0]
    assert jets["n"] > 0
    assert set(jets["residuals"]) == {"E", "pt", "eta", "phi"}
    assert jets["residuals"]["pt"]["kind"] == "relative"
    assert "reference_std" in result["models"]["jets"]
    # groups without enough training objects get no per-type model and are named in the notes
    missing = [n for n in result["notes"] if n.startswith("per-type: no")]
    per_type_rows = {r["name"]: r for r in result["models"]["per-type"]["rows"] if r["kind"] == "object"}
    for note in missing:
        group = note.split("no ", 1)[1].split(" model", 1)[0]
        assert per_type_rows[group]["residuals"] is None
    paths = write_study(result, tmp_path / "out")
    names = {p.name for p in paths}
    assert {"generalisation.json", "generalisation.md", "generalisation.png", "generalisation.pdf"} <= names
    assert json.loads((tmp_path / "out" / "generalisation.json").read_text())["variables"] == [
        "E",
        "pt",
        "eta",
        "phi",
    ]
    markdown = study_markdown(result)
    assert "| process: ttbar (trained) | jets |" in markdown
    assert "worst std ratio" in markdown
    # every evaluated row carries its std ratios to the reference; 'fails' names those above the factor
    for r in rows:
        if r["residuals"]:
            worst = max(r["std_ratio"].values())
            assert (worst > config.fail_factor) == bool(r["fails"])
            assert f"{worst:.2f} (" in markdown


def test_fail_factor_is_the_issue_criterion() -> None:
    assert GeneralisationConfig().fail_factor == 1.5


def test_without_training_only_the_given_models_are_applied(tmp_path: Path) -> None:
    from hepsqueeze.zoo import load

    config = GeneralisationConfig(
        train_processes=("ttbar",), test_processes=("wjets",), train_events=30, test_events=30,
        train=False, workers=1,
    )  # fmt: skip
    with pytest.raises(ConfigError, match="at least one model"):
        run_generalisation_study(config, cache_dir=tmp_path / "cache")
    result = run_generalisation_study(
        config, extra_models={"zoo:ae4d-3": load("ae4d-3")}, cache_dir=tmp_path / "cache"
    )
    assert set(result["models"]) == {"zoo:ae4d-3"}
    markdown = study_markdown(result)
    assert "none trained here" in markdown
    assert "epochs per model" not in markdown
