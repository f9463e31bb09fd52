"""The command line as a new user meets it: --version, completion, readable --help with examples,
info's summary for every codec, remote inputs over HTTP, and names another format owns."""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import typer
import uproot

from codec_helpers import jet_table
from hepsqueeze.cli import app, main
from hepsqueeze.cli.application import EXAMPLES
from hepsqueeze.io import read_table, write_table
from hepsqueeze.io.table import Table
from hepsqueeze.models.model import CompressionModel
from hepsqueeze.version import __version__


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def flat(text: str) -> str:
    """Help text with the box drawing and line breaks gone: words separated by single spaces."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@pytest.fixture(scope="module")
def jets() -> Table:
    return jet_table(np.random.default_rng(3), 1500)


@pytest.fixture(scope="module")
def jets_parquet(jets: Table, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_table(jets, tmp_path_factory.mktemp("usability") / "jets.parquet")


def write_nano(path: Path, entries: int = 120) -> Path:
    """A small NanoAOD-like Events tree: an event id, a Jet collection, a Muon collection, MET_pt."""
    rng = np.random.default_rng(8)
    n_jet, n_mu = rng.integers(0, 5, entries), rng.integers(0, 3, entries)
    nj, nm = int(n_jet.sum()), int(n_mu.sum())

    def jagged(counts: Any, values: Any, dtype: Any = np.float32) -> Any:
        return ak.unflatten(np.asarray(values, dtype=dtype), counts)

    data = {
        "event": np.arange(entries, dtype=np.uint64),
        "Jet": ak.zip(
            {
                "pt": jagged(n_jet, 15 + rng.exponential(30, nj)),
                "eta": jagged(n_jet, rng.normal(0, 2, nj)),
                "phi": jagged(n_jet, rng.uniform(-np.pi, np.pi, nj)),
            }
        ),
        "Muon": ak.zip(
            {
                "pt": jagged(n_mu, 3 + rng.exponential(20, nm)),
                "charge": jagged(n_mu, rng.choice([-1, 1], nm), np.int32),
            }
        ),
        "MET_pt": rng.exponential(40, entries).astype(np.float32),
    }
    with uproot.recreate(path) as f:
        f.mktree("Events", {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in data.items()})
        f["Events"].extend(data)
    return path


# --- --version, completion ---------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["--version"], ["version"]])
def test_version(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run(args, capsys)
    assert code == 0
    assert stdout == f"hepsqueeze {__version__}\n"
    assert re.fullmatch(r"hepsqueeze \d+\.\d+\.\d+\S*\n", stdout)


def test_help_lists_the_completion_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run(["--help"], capsys)
    assert code == 0
    for flag in ("--version", "--install-completion", "--show-completion", "--verbose"):
        assert flag in stdout


def test_shell_completion_completes_commands_and_options() -> None:
    def complete(words: str, cword: int) -> list[str]:
        env = {
            **os.environ,
            "_HEPSQUEEZE_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(cword),
        }
        done = subprocess.run(
            [sys.executable, "-m", "hepsqueeze.cli"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert complete("hepsqueeze comp", 1) == ["compress"]
    assert "--max-error" in complete("hepsqueeze compress --max", 2)


# --- --help ------------------------------------------------------------------------------------------


def command(name: str) -> Any:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    return group.commands[name]


def help_of(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code, stdout, err = run([*args, "--help"], capsys)
    assert code == 0, err
    return stdout


def test_every_command_is_readable() -> None:
    from hepsqueeze.cli.options import ReadableCommand

    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    for name, cmd in group.commands.items():
        subs = cmd.commands.values() if isinstance(cmd, typer.core.TyperGroup) else [cmd]
        for sub in subs:
            assert isinstance(sub, ReadableCommand), name
            assert sub.short_help is None or "\n" not in sub.short_help, name


@pytest.mark.parametrize(
    "args",
    [
        ["compress"],
        ["decompress"],
        ["info"],
        ["train"],
        ["benchmark"],
        ["evaluate"],
        ["generate"],
        ["inspect"],
        [],
    ],
)
def test_help_shows_no_raw_types(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(args, capsys)
    for raw in ("<bool>", "<int>", "<float>", "<str>]", "{INPUT...}"):
        assert raw not in text


def test_compress_help_metavars(capsys: pytest.CaptureFixture[str]) -> None:
    text = flat(help_of(["compress"], capsys))
    for flag, metavar in (
        ("--output", "PATH"),
        ("--model", "MODEL"),
        ("--max-error", "BOUNDS"),
        ("--precision", "FILE|NAME"),
        ("--abs-floor", "FLOORS"),
        ("--columns", "NAME,..."),
        ("--latent-dtype", "DTYPE"),
        ("--out-dir", "DIR"),
        ("--workers", "N"),
        ("--tree", "NAME"),
        ("--branches", "NAME,..."),
    ):
        assert re.search(rf"{re.escape(flag)} (-\w )?{re.escape(metavar)} ", text), flag
    assert "PATTERN=BOUND" in text  # what BOUNDS holds


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_main_commands_show_examples(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of([name], capsys)
    assert "Examples" in text
    assert f"$ hepsqueeze {name} " in text


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_use_options_the_command_has(name: str) -> None:
    cmd = command(name)
    flags = {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts) if opt.startswith("-")}
    lines = [line.strip().removeprefix("$ ") for line in EXAMPLES[name].split("\n\n")[1:]]
    assert lines
    for line in lines:
        words = shlex.split(line)
        assert words[:2] == ["hepsqueeze", name]
        used = {w.split("=")[0] for w in words[2:] if w.startswith("-")}
        assert used <= flags, (line, used - flags)


# --- info --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(
    jets: Table, jets_parquet: Path, tiny_model: CompressionModel, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """A small compressed file of every codec kind the project writes."""
    from hepsqueeze.api import compress
    from hepsqueeze.codecs.bounded.bounds import JetBounds

    d = tmp_path_factory.mktemp("kinds")
    out = {name: d / f"{name}.hsqz" for name in ("bounded", "lossless", "jets", "ae", "ae-ref", "nano")}
    assert main(["compress", str(jets_parquet), "-o", str(out["bounded"]), "--max-error", "1e-3"]) == 0
    assert main(["compress", str(jets_parquet), "-o", str(out["lossless"]), "--max-error", "*=lossless"]) == 0
    compress(jets, out["jets"], max_error=JetBounds.uniform(1e-3), chunk_rows=1000)
    compress(jets, out["ae"], model=tiny_model)
    compress(jets, out["ae-ref"], model=tiny_model, embed_model=False)
    nano = write_nano(d / "nano.root")
    assert (
        main(
            ["compress", str(nano), "-o", str(out["nano"]), "--max-error", "*_pt=1e-3r,*_eta=1e-3,*_phi=1e-3"]
        )
        == 0
    )
    return out


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (
            "bounded",
            ["bounded (error-bounded)", "rows: 1500 in 1 chunk", "0.001 relative", "0.001 absolute (angle)"],
        ),
        ("lossless", ["bounded (error-bounded)", "lossless"]),
        (
            "jets",
            [
                "bounded-jets",
                "rows: 1500 in 2 chunks of up to 1000 rows",
                "0.001 relative",
                "joint",
                "(jet payload (E, pt, eta, phi))",
            ],
        ),
        (
            "ae",
            [
                "autoencoder (learned: no error bound)",
                "none (learned)",
                "(latent codes)",
                "(embedded model)",
                "model: tiny (hash",
                "embedded in the file",
            ],
        ),
        ("ae-ref", ["autoencoder", "not embedded: decompress needs it (--model)"]),
        (
            "nano",
            [
                "auxiliary tables: Jet (",
                "bytes in every table as its dtypes",
                "Muon (",
                "input: nano.root,",
                "Jet_pt",
                "Muon_charge",
                "int32",
            ],
        ),
    ],
)
def test_info_summary(
    kind: str,
    expected: list[str],
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "160")  # no cell wrapped (rich reads it at every print)
    code, stdout, err = run(["info", str(files[kind])], capsys)
    assert code == 0, err
    text = " ".join(stdout.split())
    for piece in [str(files[kind]), "ratio", "bytes per section kind", "header", *expected]:
        assert piece in text, piece
    assert '"kind": "hepsqueeze-data"' not in stdout  # no header JSON without --json
    assert len(stdout.splitlines()) < 60


@pytest.mark.parametrize("kind", ["bounded", "jets", "ae", "nano"])
def test_info_json_is_the_whole_header(
    kind: str, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from hepsqueeze.file.reader import file_info

    code, stdout, err = run(["info", str(files[kind]), "--json"], capsys)
    assert code == 0, err
    assert json.loads(stdout) == json.loads(json.dumps(file_info(files[kind])))


@pytest.mark.parametrize("kind", ["bounded", "lossless", "jets", "ae", "ae-ref", "nano"])
def test_summary_bytes_add_up(kind: str, files: dict[str, Path]) -> None:
    from hepsqueeze.file.reader import file_summary

    s = file_summary(files[kind])
    data_bytes = sum(n for k, n in s.section_bytes.items() if k not in ("header", "end"))
    assert sum(c.stored_bytes for c in s.columns) + sum(s.joint_bytes.values()) == data_bytes
    assert s.file_bytes == files[kind].stat().st_size
    assert s.rows == 1500 or kind == "nano"
    bounds = {c.name: c.bound for c in s.columns if c.table is None}
    if kind in ("bounded", "jets"):
        assert bounds["pt"] == "0.001 relative"
        assert bounds["eta"] == "0.001 absolute"
        assert bounds["phi"] == "0.001 absolute" + (" (angle)" if kind == "bounded" else "")
        assert bounds["event"] == ("lossless" if kind == "bounded" else "exact")
    if kind == "lossless":
        assert set(bounds.values()) == {"lossless"}


# --- remote inputs -----------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server(files: dict[str, Path], jets_parquet: Path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving the Parquet input and the compressed files."""
    root = jets_parquet.parent
    for path in files.values():
        (root / path.name).write_bytes(path.read_bytes())
    srv = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root))
    )
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join()


def test_compress_and_decompress_over_http(
    server: str, jets: Table, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    packed = tmp_path / "remote.hsqz"
    code, stdout, err = run(
        ["compress", f"{server}/jets.parquet", "-o", str(packed), "--max-error", "1e-3"], capsys
    )
    assert code == 0, err
    assert "ratio" in stdout
    back = tmp_path / "back.parquet"
    code, _, err = run(["decompress", str(packed), "-o", str(back)], capsys)
    assert code == 0, err
    restored = read_table(back)
    assert np.array_equal(restored["event"], jets["event"])
    assert np.all(np.abs(restored["eta"] - jets["eta"]) <= np.float32(1e-3))
    code, stdout, err = run(["info", str(packed), "--json"], capsys)
    assert json.loads(stdout)["header"]["input"]["path"] == "jets.parquet"


def test_stream_compress_over_http(server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    packed = tmp_path / "streamed.hsqz"
    code, _, err = run(
        ["compress", f"{server}/jets.parquet", "--stream", "-o", str(packed), "--max-error", "1e-3"], capsys
    )
    assert code == 0, err
    assert packed.is_file()


def test_info_and_decompress_of_a_remote_container(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{server}/bounded.hsqz"
    code, stdout, err = run(["info", url], capsys)
    assert code == 0, err
    assert url in stdout
    assert "hepsqueeze-remote-" not in stdout
    back = tmp_path / "b.parquet"
    code, _, err = run(["decompress", url, "-o", str(back)], capsys)
    assert code == 0, err
    assert read_table(back).num_rows == 1500


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (
            ["compress", "root://eospublic.cern.ch//eos/x.root", "-o", "{out}", "--max-error", "1e-3"],
            1,
            "needs the fsspec-xrootd package",
        ),
        (
            ["compress", "ftp://host/x.parquet", "-o", "{out}", "--max-error", "1e-3"],
            1,
            "remote paths are not supported for ftp://",
        ),
        (
            ["compress", "{server}/nope.parquet", "-o", "{out}", "--max-error", "1e-3"],
            1,
            "remote input 'http://127.0.0.1",
        ),
        (
            ["compress", "{server}/jets.parquet", "-o", "https://host/x.hsqz", "--max-error", "1e-3"],
            2,
            "this takes a local path",
        ),
        (
            ["compress", "{server}/jets.parquet", "--out-dir", "{tmp}", "--max-error", "1e-3"],
            2,
            "not supported with --out-dir",
        ),
        (["decompress", "{server}/bounded.hsqz", "--out-dir", "{tmp}"], 2, "not supported with --out-dir"),
        (
            ["train", "root://eospublic.cern.ch//eos/x.root", "-o", "{tmp}/m.hsqm"],
            2,
            "remote paths are not supported here",
        ),
        (["info", "root://eospublic.cern.ch//eos/x.hsqz"], 1, "needs the fsspec-xrootd package"),
    ],
)
def test_remote_refusals(
    args: list[str],
    status: int,
    message: str,
    server: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if "fsspec-xrootd" in message:
        import importlib.util

        if importlib.util.find_spec("fsspec_xrootd") is not None:
            pytest.skip("fsspec-xrootd is installed here")
    out = tmp_path / "x.hsqz"
    code, stdout, err = run([a.format(out=out, server=server, tmp=tmp_path) for a in args], capsys)
    assert code == status, (stdout, err)
    assert message in " ".join(err.replace("│", " ").split())
    assert "root:/eospublic" not in err  # never the folded path
    assert not out.exists()


# --- names another format owns -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["x.root", "x.parquet", "x.h5", "x.csv", "x.npz", "x.hsqm"])
def test_compress_refuses_another_formats_name(
    name: str, jets_parquet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / name
    args = ["compress", str(jets_parquet), "-o", str(out), "--max-error", "1e-3"]
    code, _, err = run(args, capsys)
    assert code == 1
    line = " ".join(err.split())
    assert str(out) in line
    assert f"ends in {Path(name).suffix}, which" in line
    assert "add --force" in line
    assert not out.exists()
    code, _, err = run([*args, "--force"], capsys)
    assert code == 0, err
    code, stdout, err = run(["info", str(out)], capsys)
    assert code == 0, err
    assert "bounded (error-bounded)" in stdout
