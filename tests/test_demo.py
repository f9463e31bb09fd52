"""The demo (library and command) on a tiny sample: every part runs and says what it measured."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from hepsqueeze.cli import main
from hepsqueeze.codecs.bounded.column_bound import LOSSLESS, BoundMode, ColumnBound
from hepsqueeze.demo import DemoConfig, check_column, run_demo
from hepsqueeze.errors import ConfigError

#: Events per process of the tests' sample: a few hundred jets, seconds to generate.
EVENTS = 12


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generator cache for the module: the second run reads the sample the first generated."""
    return tmp_path_factory.mktemp("demo-cache")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"events_per_process": 0},
        {"max_error": 0.0},
        {"max_error": 0.7},
        {"epochs": -1},
        {"workers": 0},
        {"learned": "yes"},
        {"max_train_seconds": 0},
    ],
)
def test_config_is_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        DemoConfig(**kwargs)  # type: ignore[arg-type]


def test_jet_spec() -> None:
    assert DemoConfig(max_error=1e-3).jet_spec == "E=0.001r,pt=0.001r,eta=0.001,phi=0.001"


def test_check_column_in_its_own_dtype() -> None:
    x = np.array([1.0, 2.0, 0.0, 4.0], dtype=np.float32)
    rel = ColumnBound(BoundMode.RELATIVE, 0.01)
    c = check_column("pt", x, x * np.float32(1.005), rel)
    assert c.misses == 0
    assert not c.bit_exact
    assert 0.4 < c.worst <= 1.0
    assert c.max_error == pytest.approx(0.005, rel=1e-3)
    y = x.copy()
    y[3] = 4.1  # 2.5% off
    c = check_column("pt", x, y, rel)
    assert c.misses == 1
    assert c.worst > 1
    y = x.copy()
    y[2] = 1e-30  # a zero must come back zero under a relative bound
    assert check_column("pt", x, y, rel).misses == 1
    assert math.isinf(check_column("pt", x, y, rel).worst)
    ev = np.arange(5, dtype=np.int64)
    exact = check_column("event", ev, ev.copy(), LOSSLESS)
    assert exact.bit_exact
    assert exact.misses == 0
    assert exact.worst == 0
    assert check_column("event", ev, ev[::-1].copy(), LOSSLESS).misses == 4
    assert check_column("event", ev, ev.astype(np.int32), LOSSLESS).misses == 5
    ab = check_column("eta", x, x + np.float32(0.002), ColumnBound(BoundMode.ABSOLUTE, 0.001))
    assert ab.misses == 4
    assert ab.worst > 1


def test_run_demo(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEPSQUEEZE_CACHE_DIR", str(cache))
    stages: list[str] = []
    res = run_demo(
        tmp_path / "demo",
        DemoConfig(events_per_process=EVENTS, workers=1, plots=False),
        on_stage=stages.append,
    )
    assert len(stages) == 5
    jets = res.jets
    assert jets.bound_held
    assert jets.rows > 0
    assert [c.column for c in jets.checks] == ["event", "E", "pt", "eta", "phi"]
    assert jets.checks[0].bit_exact
    assert all(c.worst <= 1 for c in jets.checks)
    names = {m.name for m in jets.methods}
    assert {"hepsqueeze", "zstd9", "lzma9", "quantise+zstd", "zfp", "nanoaod-lzma9"} <= names
    assert all(m.misses == 0 for m in jets.methods if m.status == "ok")
    assert jets.best_standard() is not None
    assert jets.ratio == jets.raw_bytes / jets.file_bytes
    learned = res.learned
    assert learned is not None
    assert learned.bound_held
    assert learned.model == "zoo:bounded-jets27d"
    assert len(learned.checks) == 28
    assert learned.method("hepsqueeze+model") is not None
    ae = res.autoencoder
    assert ae.model == "zoo:ae4d-3"
    assert not ae.trained
    assert ae.file_bytes > ae.file_bytes_without_decoder
    assert set(ae.residuals) == {"E", "pt", "eta", "phi"}
    assert ae.passthrough_identical
    assert ae.at_own_error.bound_held
    assert res.report_index.exists()
    assert (res.report_dir / "metrics.json").exists()
    for name in (
        "jets.parquet",
        "jets.hsqz",
        "jets-decompressed.parquet",
        "jets27d.hsqz",
        "jets-ae4d-3.hsqz",
    ):
        assert (res.workdir / name).exists()


def test_demo_command(
    tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command, with an autoencoder trained for two epochs and no learned model."""
    monkeypatch.setenv("HEPSQUEEZE_CACHE_DIR", str(cache))
    monkeypatch.setenv("COLUMNS", "120")
    work = tmp_path / "demo"
    argv = ["demo", "--events", str(EVENTS), "--epochs", "2", "--workers", "1", "--no-learned", "--no-plots"]
    code = main([*argv, "--workdir", str(work)])
    out = capsys.readouterr()
    assert code == 0, out.err
    text = " ".join(out.out.split())  # rich wraps long lines at the console width
    for words in (
        "1. the error-bounded codec",
        "bound held on every value: yes",
        "quantise+zstd",
        "ROOT LZMA-9",
        "2. the seeds' autoencoder",
        "trained here: 2 epochs",
        "jets-at-ae-error.hsqz",
        "3. the report",
        "index.html",
    ):
        assert words in text
    assert "1b." not in text
    assert (work / "ae4d-3.hsqm").exists()
    assert (work / "report" / "metrics.json").exists()
