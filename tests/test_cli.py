"""Every command through the CLI, in-process, on small generated data."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer

from hepsqueeze.cli import app, main
from hepsqueeze.io import read_table, write_table
from hepsqueeze.io.table import Table
from hepsqueeze.models import load_model


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_generate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEPSQUEEZE_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "qcd.parquet"
    code, stdout, _ = run(["generate", "qcd", "--events", "8", "--seed", "3", "-o", str(out)], capsys)
    assert code == 0, stdout
    t = read_table(out)
    assert t.names == ("event", "E", "pt", "eta", "phi")
    assert t["event"].dtype == np.int64
    assert t["pt"].dtype == np.float32
    assert (t["pt"] > 20).all()
    code, _, err = run(["generate", "qcd", "--events", "8", "--seed", "3", "-o", str(out)], capsys)
    assert code == 1
    assert "--force" in err


def test_generate_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run(["generate", "--list"], capsys)
    assert code == 0
    assert "ttbar" in stdout
    assert "qcd" in stdout


def test_train_compress_decompress_info(
    jets_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "m.hsqm"
    code, stdout, err = run(
        ["train", str(jets_file), "--epochs", "2", "--device", "cpu", "-o", str(model)], capsys
    )
    assert code == 0, err
    assert "best validation MSE" in stdout
    packed = tmp_path / "j.hsqz"
    code, stdout, err = run(["compress", str(jets_file), "--model", str(model), "-o", str(packed)], capsys)
    assert code == 0, err
    assert "ratio" in stdout
    back = tmp_path / "back.parquet"
    code, stdout, err = run(["decompress", str(packed), "-o", str(back)], capsys)
    assert code == 0, err
    original, restored = read_table(jets_file), read_table(back)
    assert restored.names == original.names
    assert [restored[n].dtype for n in restored.names] == [original[n].dtype for n in original.names]
    assert np.array_equal(restored["event"], original["event"])
    code, stdout, err = run(["info", str(packed), "--json"], capsys)
    assert code == 0, err
    info = json.loads(stdout)
    assert info["header"]["num_rows"] == original.num_rows
    assert "latent" in info["section_bytes"]


def test_no_embed_model_cli(
    jets_file: Path, model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    packed = tmp_path / "n.hsqz"
    code, _, err = run(
        [
            "compress",
            str(jets_file),
            "-m",
            str(model_file),
            "--no-embed-model",
            "--latent-dtype",
            "float16",
            "-o",
            str(packed),
        ],
        capsys,
    )
    assert code == 0, err
    code, _, err = run(["decompress", str(packed), "-o", str(tmp_path / "x.parquet")], capsys)
    assert code == 1
    assert "--model" in err
    code, _, err = run(
        ["decompress", str(packed), "-m", str(model_file), "-o", str(tmp_path / "x.npz")], capsys
    )
    assert code == 0, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compress", "{missing}", "-m", "{model}", "-o", "{out}"], "not found"),
        (
            ["compress", "{data}", "-m", "{model}", "--columns", "E,pt,eta,phii", "-o", "{out}"],
            "did you mean 'phi'",
        ),
        (["compress", "{nan}", "-m", "{model}", "--strict", "-o", "{out}"], "NaN/inf"),
        (["compress", "{other}", "-m", "{model}", "-o", "{out}"], "trained on columns"),
        (["compress", "{data}", "-m", "{model}", "-o", "{data}"], "already exists"),
        (["train", "{data}", "--preset", "ae4d", "-o", "{model_out}"], "did you mean"),
        (["train", "{data}", "-o", "{out}"], "ends in .hsqz"),
        (["decompress", "{data}", "-o", "{out}"], "not a hepsqueeze"),
    ],
)
def test_bad_input_is_one_line(
    args: list[str],
    message: str,
    jets: Table,
    jets_file: Path,
    model_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from hepsqueeze.io import write_table

    cols = {n: jets[n].copy() for n in jets.names}
    cols["pt"][0] = np.nan
    nan = write_table(Table(cols), tmp_path / "nan.parquet")
    other = write_table(
        Table(
            {"event": jets["event"], "m": jets["E"], "pt": jets["pt"], "eta": jets["eta"], "phi": jets["phi"]}
        ),
        tmp_path / "other.parquet",
    )
    empty = write_table(jets.slice(0, 0), tmp_path / "empty.parquet")
    paths = {
        "missing": tmp_path / "nope.parquet",
        "model": model_file,
        "out": tmp_path / "out.hsqz",
        "model_out": tmp_path / "out.hsqm",
        "data": jets_file,
        "nan": nan,
        "other": other,
        "empty": empty,
    }
    code, _, err = run([a.format(**{k: str(v) for k, v in paths.items()}) for a in args], capsys)
    assert code == 1
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) <= 3  # one message, possibly soft-wrapped by rich
    assert not (tmp_path / "out.hsqz").exists()


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run(["--help"], capsys)
    assert code == 0
    assert "compress" in stdout
    code, stdout, _ = run(["version"], capsys)
    assert code == 0
    assert "hepsqueeze" in stdout


def test_usage_error_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["compress"], capsys)
    assert code == 2
    assert "Missing" in err


def test_benchmark_cli(
    jets_file: Path, model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench"
    code, stdout, err = run(
        [
            "benchmark",
            str(jets_file),
            "--model",
            str(model_file),
            "--errors",
            "1e-2",
            "--repeats",
            "1",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, err
    result = json.loads((out / "benchmark.json").read_text())
    assert result["targets"][0]["results"]
    # the input has an event column: the bounded codec codes each event's jets together
    assert "hepsqueeze bounded (event-level)" in [r["method"] for r in result["targets"][0]["results"]]
    assert (out / "benchmark.md").exists()
    assert list(out.glob("rate_distortion_*.png"))
    assert "sz3" in stdout.lower()


def test_evaluate_and_inspect_cli(
    jets_file: Path, model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    packed, back = tmp_path / "e.hsqz", tmp_path / "e.parquet"
    assert main(["compress", str(jets_file), "-m", str(model_file), "-o", str(packed)]) == 0
    assert main(["decompress", str(packed), "-o", str(back)]) == 0
    capsys.readouterr()
    report = tmp_path / "report"
    code, stdout, err = run(
        [
            "evaluate",
            str(jets_file),
            str(back),
            "--container",
            str(packed),
            "--no-plots",
            "--report",
            str(report),
        ],
        capsys,
    )
    assert code == 0, err
    metrics = json.loads((report / "metrics.json").read_text())
    assert set(metrics["metrics"]) == {"E", "pt", "eta", "phi"}
    assert "KS" in stdout
    code, _, err = run(["inspect", str(jets_file), "--no-plots", "--report", str(tmp_path / "insp")], capsys)
    assert code == 0, err
    assert (tmp_path / "insp" / "summary.json").exists()


def test_root_round_trip_cli(
    jets: Table, model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A jagged NanoAOD-style tree through compress and decompress keeps its structure."""
    import awkward as ak
    import uproot

    counts = np.bincount(jets["event"])
    src = tmp_path / "nano.root"
    with uproot.recreate(src) as f:
        tree = f.mktree(
            "Events",
            {
                "run": np.uint32,
                **{f"Jet_{c}": ak.Array([[1.0]]).type.content for c in ("E", "pt", "eta", "phi")},
            },
            counter_name=lambda _: "nJet",
        )
        tree.extend(
            {
                "run": np.full(counts.size, 7, np.uint32),
                **{
                    f"Jet_{c}": ak.unflatten(jets[c].astype(np.float64), counts)
                    for c in ("E", "pt", "eta", "phi")
                },
            }
        )
    packed, back = tmp_path / "nano.hsqz", tmp_path / "back.root"
    code, _, err = run(
        [
            "compress",
            str(src),
            "-m",
            str(model_file),
            "--columns",
            "Jet_E,Jet_pt,Jet_eta,Jet_phi",
            "-o",
            str(packed),
        ],
        capsys,
    )
    assert code == 0, err
    code, _, err = run(["decompress", str(packed), "-o", str(back)], capsys)
    assert code == 0, err
    with uproot.open(src) as a, uproot.open(back) as b:
        ta, tb = a["Events"], b["Events"]
        assert list(tb.keys()) == list(ta.keys())
        assert np.array_equal(tb["nJet"].array(library="np"), ta["nJet"].array(library="np"))
        assert np.array_equal(tb["run"].array(library="np"), ta["run"].array(library="np"))


@pytest.mark.parametrize(("kind", "suffix"), [("events", ".csv"), ("jets27d", ".parquet")])
def test_generate_kinds(
    kind: str,
    suffix: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HEPSQUEEZE_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / f"x{suffix}"
    code, _, err = run(
        ["generate", "zjets", "--kind", kind, "--events", "4", "--seed", "2", "-o", str(out)], capsys
    )
    assert code == 0, err
    if kind == "events":
        assert read_table(out).names[:3] == ("event", "process", "object")
    else:
        assert len(read_table(out).names) > 20


def test_exceptions_streaming_and_empty(
    jets: Table, jets_file: Path, model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hepsqueeze.io import write_table

    cols = {n: jets[n].copy() for n in jets.names}
    cols["pt"][0] = np.nan
    cols["eta"][1] = np.inf
    bad = write_table(Table(cols), tmp_path / "bad.parquet")
    packed, back = tmp_path / "bad.hsqz", tmp_path / "bad-back.parquet"
    code, stdout, err = run(
        ["compress", str(bad), "-m", str(model_file), "--stream", "-o", str(packed)], capsys
    )
    assert code == 0, err
    assert "exceptions" in " ".join(stdout.split())
    code, _, err = run(["decompress", str(packed), "--stream", "-o", str(back)], capsys)
    assert code == 0, err
    restored = read_table(back)
    assert np.isnan(restored["pt"][0])
    assert restored["eta"][1] == np.inf
    assert np.array_equal(restored["event"], jets["event"])
    empty = write_table(jets.slice(0, 0), tmp_path / "empty.parquet")
    code, _, err = run(
        ["compress", str(empty), "-m", str(model_file), "-o", str(tmp_path / "e.hsqz")], capsys
    )
    assert code == 0, err
    code, _, err = run(["decompress", str(tmp_path / "e.hsqz"), "-o", str(tmp_path / "e.parquet")], capsys)
    assert code == 0, err
    assert read_table(tmp_path / "e.parquet").names == jets.names


def test_train_on_object_types_of_an_event_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hepsqueeze.datasets import GeneratorConfig, generate_events
    from hepsqueeze.io import write_dataset

    events = generate_events(GeneratorConfig("ttbar", 30, seed=4, kind="events"), cache_dir=tmp_path / "c")
    csv = write_dataset(events, tmp_path / "ttbar.csv")
    model = tmp_path / "jets.hsqm"
    code, _, err = run(
        ["train", str(csv), "--objects", "j,b", "--epochs", "1", "--device", "cpu", "-o", str(model)], capsys
    )
    assert code == 0, err
    trained = load_model(model).training["rows"]["total"]
    assert trained == int(np.isin(events.labels("object"), ["j", "b"]).sum())
    code, _, err = run(["train", str(csv), "--objects", "jet", "-o", str(tmp_path / "x.hsqm")], capsys)
    assert code == 1
    assert "types: j, b" in err


def assert_one_line(err: str, *fragments: str) -> None:
    assert "Traceback" not in err
    assert "Usage:" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in err, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-error", "1e-3", "--latent-dtype", "float16"], "--latent-dtype applies to --model only"),
        (["--max-error", "1e-3", "--latent-dtype", "float32"], "--latent-dtype applies to --model only"),
        (["--max-error", "1e-3", "--no-embed-model"], "--no-embed-model applies to --model only"),
        (["--max-error", "1e-3", "--strict"], "--strict applies to --model only"),
        (["--max-error", "1e-3", "--strict", "--no-embed-model"], "--no-embed-model and --strict apply"),
        (["-m", "{model}", "--abs-floor", "0.5"], "--abs-floor applies to --max-error only"),
        ([], "give either --model (autoencoder) or --max-error"),
        (["-m", "{model}", "--max-error", "1e-3"], "is not a conditional model"),
        (["--max-error", "1e-3", "--stream", "--tree", "Events"], "--tree does not apply to --stream"),
        (["-m", "{model}", "--stream", "--names", "a,b", "--allow-pickle"], "--names and --allow-pickle do"),
        (["--max-error", "1e-3", "--stream", "--format", "csv"], "--stream reads Parquet only, not csv"),
    ],
)
def test_options_a_codec_does_not_use_are_refused(
    args: list[str],
    message: str,
    jets_file: Path,
    model_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "x.hsqz"
    argv = ["compress", str(jets_file), *[a.format(model=model_file) for a in args], "-o", str(out)]
    code, _, err = run(argv, capsys)
    assert code == 2, err  # a usage error, as typer's own
    assert_one_line(err, message)
    assert not out.exists()


def test_latent_dtype_not_given_is_the_codecs_default(
    jets_file: Path, model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for extra, expected in (([], "float32"), (["--latent-dtype", "float16"], "float16")):
        packed = tmp_path / f"{expected}.hsqz"
        code, _, err = run(
            ["compress", str(jets_file), "-m", str(model_file), *extra, "-o", str(packed)], capsys
        )
        assert code == 0, err
        code, stdout, err = run(["info", str(packed), "--json"], capsys)
        assert code == 0, err
        assert json.loads(stdout)["header"]["codec"]["latent_dtype"] == expected
    code, stdout, _ = run(["compress", "--help"], capsys)
    assert "float32 or float16. [default: float32]" in " ".join(stdout.split())


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["compress", "{data}", "--max-error", "pt=1e-3x", "-o", "{out}"], "(--max-error)"),
        (["compress", "{data}", "--max-error", "E=2r", "-o", "{out}"], "(--max-error)"),
        (
            ["compress", "{data}", "--max-error", "1e-3", "--abs-floor", "pt=-1", "-o", "{out}"],
            "(--abs-floor)",
        ),
        (["compress", "{data}", "--precision", "no-such-preset", "-o", "{out}"], "(--precision)"),
        (["compress", "{data}", "--max-error", "1e-3", "--columns", ",", "-o", "{out}"], "(--columns)"),
        (["compress", "{data}", "--max-error", "1e-3", "--branches", " , ", "-o", "{out}"], "(--branches)"),
        (["compress", "{data}", "-m", "{missing}", "-o", "{out}"], "(--model)"),
        (["compress", "{data}", "-m", "zoo:no-such-model", "-o", "{out}"], "(--model)"),
        (["decompress", "{data}", "--stream", "--format", "nope", "-o", "{out}.parquet"], "(--format)"),
        (["train", "{data}", "--nodes", "4,x,4", "-o", "{out}"], "'x' is not an integer (--nodes)"),
        (["train", "{data}", "--preset", "ae4d", "-o", "{out}"], "(--preset)"),
        (
            ["benchmark", "{data}", "--errors", "1e-2,big", "--out", "{out}"],
            "'big' is not a number (--errors)",
        ),
    ],
)
def test_refused_values_name_their_option(
    args: list[str],
    hint: str,
    jets_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    paths = {"data": jets_file, "out": out, "missing": tmp_path / "nope.hsqm"}
    code, _, err = run([a.format(**{k: str(v) for k, v in paths.items()}) for a in args], capsys)
    assert code == 1, err
    assert_one_line(" ".join(err.split()), hint)  # rich may soft-wrap a long message
    assert err.count("(--") == 1, err
    assert list(tmp_path.iterdir()) == []


def test_existing_output_hint_names_force(
    jets_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "j.hsqz"
    args = ["compress", str(jets_file), "--max-error", "1e-3", "-o", str(out)]
    assert run(args, capsys)[0] == 0
    code, _, err = run(args, capsys)
    assert code == 1
    assert_one_line(" ".join(err.split()), "already exists", "(add --force to overwrite it)")
    code, _, err = run([*args, "--force"], capsys)
    assert code == 0, err


def test_every_command_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    names = group.list_commands(typer.Context(group))
    assert names == [
        *("version", "generate", "train", "compress", "decompress", "info", "benchmark", "evaluate"),
        *("inspect", "export", "demo", "zoo", "study"),
    ]
    code, stdout, _ = run(["--help"], capsys)
    assert code == 0
    listed = re.findall(r"^│ (\w+) ", stdout, flags=re.MULTILINE)
    assert listed == names


@pytest.mark.parametrize("command", ["train", "compress", "benchmark", "evaluate", "inspect"])
def test_commands_that_read_a_table_take_the_reader_options(command: str) -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    flags = [opt for param in group.commands[command].params for opt in param.opts if opt.startswith("--")]
    reader = ["--format", "--tree", "--branches", "--names", "--allow-pickle"]
    at = flags.index("--format")
    assert flags[at : at + len(reader)] == reader


def test_library_errors_get_the_flag_of_their_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The library names the keyword argument (names=[...]); the command line adds its flag."""
    src = tmp_path / "x.npy"
    np.save(src, np.ones((4, 3), dtype=np.float32))
    code, _, err = run(["compress", str(src), "-o", str(tmp_path / "x.hsqz"), "--max-error", "1e-3"], capsys)
    assert code == 1
    assert "without column names" in err
    assert err.rstrip().endswith("(--names)")
    assert err.count("--names") == 1


@pytest.fixture(scope="module")
def jets27d_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small 27-variable-like table: an event column, integers and correlated float columns."""
    rng = np.random.default_rng(5)
    events = np.repeat(np.arange(800), rng.integers(1, 5, 800))
    n = events.size
    pt = rng.lognormal(3.5, 0.6, n).astype(np.float32)
    count = rng.poisson(8 + pt / 10).astype(np.int32)
    width = (0.3 / np.sqrt(count + 1) + rng.normal(0, 0.01, n)).astype(np.float32)
    cols: dict[str, np.ndarray[Any, Any]] = {
        "event": events.astype(np.int64),
        "pt": pt,
        "eta": rng.normal(0, 1.5, n).astype(np.float32),
        "n_constituents": count,
        "width": width,
        "ptD": (1 / np.sqrt(count + 1) + rng.normal(0, 0.02, n)).astype(np.float32),
    }
    path = tmp_path_factory.mktemp("jets27d") / "jets27d.parquet"
    write_table(Table(cols), path)
    return path


def test_conditional_model_train_compress_decompress(
    jets27d_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "m.hsqb"
    code, out, err = run(
        ["train", str(jets27d_file), "--codec", "bounded", "--max-error", "1e-3", "--epochs", "2",
         "--hidden", "8", "-o", str(model)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "held-out bits per value" in out
    packed = tmp_path / "c.hsqz"
    args = ["compress", str(jets27d_file), "--max-error", "1e-3", "--model", str(model), "--no-embed-model"]
    code, _, err = run([*args, "-o", str(packed)], capsys)
    assert code == 0, err
    code, _, err = run(["decompress", str(packed), "-o", str(tmp_path / "x.parquet")], capsys)
    assert code == 1
    assert_one_line(err, "written without its model", "--model")
    code, _, err = run(
        ["decompress", str(packed), "-m", str(model), "-o", str(tmp_path / "y.parquet")], capsys
    )
    assert code == 0, err
    back, original = read_table(tmp_path / "y.parquet"), read_table(jets27d_file)
    assert np.array_equal(back["n_constituents"], original["n_constituents"])
    assert np.abs(back["eta"] - original["eta"]).max() <= 1e-3
    assert (np.abs(back["pt"] / original["pt"] - 1) <= 1e-3 * (1 + 1e-6)).all()
    embedded = tmp_path / "e.hsqz"
    code, _, err = run(
        ["compress", str(jets27d_file), "--max-error", "1e-3", "--model", str(model), "-o", str(embedded)],
        capsys,
    )
    assert code == 0, err
    code, _, err = run(["decompress", str(embedded), "-o", str(tmp_path / "z.parquet")], capsys)
    assert code == 0, err


def test_conditional_train_needs_bounds(
    jets27d_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        ["train", str(jets27d_file), "--codec", "bounded", "-o", str(tmp_path / "m.hsqb")], capsys
    )
    assert code == 2
    assert "--max-error" in err


def test_train_with_bfloat16_steps(
    jets_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hepsqueeze.models import load_model

    model = tmp_path / "m.hsqm"
    code, _, err = run(
        ["train", str(jets_file), "--epochs", "1", "--device", "cpu", "--bf16", "-o", str(model)], capsys
    )
    assert code == 0, err
    assert load_model(model).training["config"]["precision"] == "bfloat16"
    code, _, err = run(
        ["train", str(jets_file), "--codec", "bounded", "--bf16", "-o", str(tmp_path / "b.hsqb")], capsys
    )
    assert code == 2
    assert "--bf16" in err
