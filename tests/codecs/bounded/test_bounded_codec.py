"""Files of the error-bounded jet codec: round trips through the container and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from hepsqueeze.cli import main
from hepsqueeze.codec.bounded_file import compress_bounded, compress_bounded_parquet, parse_max_error
from hepsqueeze.codec.compress import decompress_dataset, decompress_file, decompress_to_parquet, file_info
from hepsqueeze.errors import ColumnError, ConfigError, ContainerError
from hepsqueeze.io import read_table, write_table
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table
from hepsqueeze.metrics.bounds import column_errors

VARS = ("E", "pt", "eta", "phi")


def _within(original: Table, back: Table, eps: float) -> bool:
    return all(float(column_errors(original[v], back[v], v).max()) <= eps for v in VARS)


def test_parse_max_error() -> None:
    b = parse_max_error("E=1e-2r, pt=1e-3r,eta=2e-3,phi=3e-3")
    assert (b.E.kind, b.E.value, b.eta.kind, b.phi.value) == ("relative", 1e-2, "absolute", 3e-3)
    assert parse_max_error("1e-3") == parse_max_error("E=1e-3r,pt=1e-3r,eta=1e-3,phi=1e-3")
    with pytest.raises(ConfigError, match="no bound for phi"):
        parse_max_error("E=1e-3r,pt=1e-3r,eta=1e-3")
    with pytest.raises(ConfigError, match="relative bound on E"):
        parse_max_error("E=1e-3,pt=1e-3r,eta=1e-3,phi=1e-3")
    with pytest.raises(ConfigError, match="variables are"):
        parse_max_error("m=1e-3r")


def test_round_trip_keeps_other_columns_and_meets_the_bound(jets: Table, tmp_path: Path) -> None:
    out = tmp_path / "b.hsqz"
    rep = compress_bounded(Dataset.from_table(jets), out, parse_max_error("1e-3"), chunk_rows=100)
    assert rep.rows == jets.num_rows  # (4 chunks of ~80 jets: tables dominate, no ratio claim)
    back = decompress_file(out)
    assert back.names == jets.names
    assert np.array_equal(back["event"], jets["event"])
    assert all(back[n].dtype == jets[n].dtype for n in jets.names)
    assert _within(jets, back, 1e-3)
    info = file_info(out)
    assert info["header"]["codec"]["name"] == "bounded-jets"
    assert info["header"]["data_format"] == 5
    pq_out = tmp_path / "b.parquet"
    assert decompress_to_parquet(out, pq_out) == jets.num_rows
    streamed = read_table(pq_out)
    assert streamed.names == back.names
    for name in back.names:
        assert np.array_equal(streamed[name], back[name])
    # one row group per chunk: the payloads are decoded one at a time
    assert pq.ParquetFile(pq_out).num_row_groups == -(-jets.num_rows // 100)


def test_auxiliary_tables_and_missing_columns(jets: Table, tmp_path: Path) -> None:
    aux = Table({"event": np.arange(5), "MET": np.linspace(0, 1, 5)})
    ds = Dataset(jets, {"events": aux}, {"format": "test"})
    out = tmp_path / "a.hsqz"
    compress_bounded(ds, out, parse_max_error("1e-2"))
    back = decompress_dataset(out)
    assert np.array_equal(back.aux["events"]["MET"], aux["MET"])
    with pytest.raises(ColumnError, match="'Pt'"):
        compress_bounded(ds, tmp_path / "x.hsqz", parse_max_error("1e-2"), ["E", "Pt", "eta", "phi"])
    assert not (tmp_path / "x.hsqz").exists()


def test_corrupt_payload_is_reported(jets: Table, tmp_path: Path) -> None:
    out = tmp_path / "c.hsqz"
    compress_bounded(Dataset.from_table(jets), out, parse_max_error("1e-3"))
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "bad.hsqz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ContainerError):
        decompress_file(bad)


def test_cli_max_error(jets_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, back = tmp_path / "j.hsqz", tmp_path / "back.parquet"
    assert (
        main(
            ["compress", str(jets_file), "--max-error", "E=1e-3r,pt=1e-3r,eta=1e-3,phi=1e-3", "-o", str(out)]
        )
        == 0
    )
    assert "ratio" in capsys.readouterr().out
    assert main(["decompress", str(out), "-o", str(back)]) == 0
    capsys.readouterr()
    assert _within(read_table(jets_file), read_table(back), 1e-3)
    assert main(["info", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["header"]["codec"]["name"] == "bounded-jets"
    # exactly one of --model / --max-error
    assert main(["compress", str(jets_file), "-o", str(tmp_path / "x.hsqz")]) == 2
    assert main(["compress", str(jets_file), "--max-error", "pt=1e-3", "-o", str(tmp_path / "y.hsqz")]) == 1


def test_abs_floor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = parse_max_error("1e-3", "E=0.5,pt=0.25")
    assert (b.E_floor, b.pt_floor, b.floor("eta")) == (0.5, 0.25, 0.0)
    assert parse_max_error("1e-3", "0.1").floor("E") == 0.1
    with pytest.raises(ConfigError, match="E=VALUE or pt=VALUE"):
        parse_max_error("1e-3", "eta=0.1")
    with pytest.raises(ConfigError, match="finite and >= 0"):
        parse_max_error("1e-3", "pt=-1")
    rng = np.random.default_rng(5)
    n = 400
    table = Table(
        {
            "event": np.repeat(np.arange(100), 4),
            "E": rng.uniform(30, 300, n).astype(np.float32),
            "pt": rng.uniform(20, 200, n).astype(np.float32),
            "eta": rng.uniform(-3, 3, n).astype(np.float32),
            "phi": rng.uniform(-3, 3, n).astype(np.float32),
        }
    )
    table["pt"][::7] = 0.0  # e.g. padded objects
    table["pt"][1::9] = 0.2
    table["E"][2::11] = -0.3  # below the floor in size: decodes as 0
    table["E"][3::13] = -7.0  # outside the floor: stored exactly
    src = tmp_path / "in.parquet"
    write_table(table, src)
    out, back = tmp_path / "f.hsqz", tmp_path / "back.parquet"
    args = ["compress", str(src), "--max-error", "1e-3", "--abs-floor", "0.5", "-o", str(out)]
    assert main(args) == 0
    assert main(["decompress", str(out), "-o", str(back)]) == 0
    capsys.readouterr()
    got = read_table(back)
    for v in ("E", "pt"):
        x, y = table[v].astype(np.float64), got[v].astype(np.float64)
        small = np.abs(x) <= 0.5
        assert (y[small] == 0).all()
        assert (np.abs(y - x)[~small] <= 1e-3 * np.abs(x[~small])).all()
    assert (got["E"][3::13] == -7.0).all()
    assert main(["info", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["header"]["codec"]["bounds"]["pt"]["abs_floor"] == 0.5
    assert (
        main(["compress", str(src), "--abs-floor", "0.5", "-m", "zoo:ae4d-3", "-o", str(tmp_path / "z")]) == 2
    )


def test_stream_compress_matches_in_memory(jets_file: Path, tmp_path: Path) -> None:
    """``compress --stream --max-error``: Parquet read in batches, the same table back."""
    streamed, whole = tmp_path / "s.hsqz", tmp_path / "w.hsqz"
    assert main(["compress", str(jets_file), "--max-error", "1e-3", "--stream", "-o", str(streamed)]) == 0
    assert main(["compress", str(jets_file), "--max-error", "1e-3", "-o", str(whole)]) == 0
    a, b = decompress_dataset(streamed).table, decompress_dataset(whole).table
    assert a.names == b.names
    for name in a.names:
        assert np.array_equal(a[name], b[name])
    small = tmp_path / "c.hsqz"  # several chunks, events cut at chunk boundaries
    compress_bounded_parquet(jets_file, small, parse_max_error("1e-3"), chunk_rows=70)
    back = decompress_dataset(small).table
    assert np.array_equal(back["event"], read_table(jets_file)["event"])
    assert _within(read_table(jets_file), back, 1e-3)
