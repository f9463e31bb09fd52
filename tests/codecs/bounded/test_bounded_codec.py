"""Files of the error-bounded jet codec (codecs.bounded.codec): round trips through the file layer,
the Python API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import hepsqueeze as hsq
from hepsqueeze.cli import main
from hepsqueeze.codecs.bounded.codec import BOUNDED_DATA_FORMAT, CODEC_ID, BoundedJetCodec
from hepsqueeze.codecs.bounded.spec import parse_max_error
from hepsqueeze.errors import ColumnError, ConfigError, ContainerError
from hepsqueeze.file.reader import decompress_dataset, decompress_to_parquet, file_info
from hepsqueeze.file.writer import compress_dataset, compress_parquet
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
    with pytest.raises(ConfigError, match="maximum error of E must be relative"):
        parse_max_error("E=1e-3,pt=1e-3r,eta=1e-3,phi=1e-3")
    with pytest.raises(ConfigError, match="'m', which is not a jet variable"):
        parse_max_error("m=1e-3r")


def test_round_trip_keeps_other_columns_and_meets_the_bound(jets: Table, tmp_path: Path) -> None:
    out = tmp_path / "b.hsqz"
    rep = compress_dataset(
        Dataset.from_table(jets), BoundedJetCodec(parse_max_error("1e-3")), out, chunk_rows=100
    )
    assert rep.rows == jets.num_rows  # (4 chunks of ~80 jets: tables dominate, no ratio claim)
    back = hsq.decompress(out)
    assert back.names == jets.names
    assert np.array_equal(back["event"], jets["event"])
    assert all(back[n].dtype == jets[n].dtype for n in jets.names)
    assert _within(jets, back, 1e-3)
    info = file_info(out)
    assert info["header"]["codec"]["name"] == CODEC_ID == "bounded-jets"
    assert info["header"]["data_format"] == BOUNDED_DATA_FORMAT == 5
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
    compress_dataset(ds, BoundedJetCodec(parse_max_error("1e-2")), out)
    back = decompress_dataset(out)
    assert np.array_equal(back.aux["events"]["MET"], aux["MET"])
    with pytest.raises(ColumnError, match="'Pt'"):
        compress_dataset(
            ds, BoundedJetCodec(parse_max_error("1e-2")), tmp_path / "x.hsqz", ["E", "Pt", "eta", "phi"]
        )
    assert not (tmp_path / "x.hsqz").exists()


def test_corrupt_payload_is_reported(jets: Table, tmp_path: Path) -> None:
    out = tmp_path / "c.hsqz"
    hsq.compress(jets, out, max_error="1e-3")
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "bad.hsqz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ContainerError):
        hsq.decompress(bad)


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
    assert json.loads(capsys.readouterr().out)["header"]["codec"]["name"] == "bounded"
    # exactly one of --model / --max-error
    assert main(["compress", str(jets_file), "-o", str(tmp_path / "x.hsqz")]) == 2
    assert main(["compress", str(jets_file), "--max-error", "pt=1e-3x", "-o", str(tmp_path / "y.hsqz")]) == 1


def _floored_table() -> Table:
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
    return table


def _check_floors(table: Table, got: Table) -> None:
    """Values within the floor of 0.5 decode as 0, the others (negative ones too) within 1e-3."""
    for v in ("E", "pt"):
        x, y = table[v].astype(np.float64), got[v].astype(np.float64)
        small = np.abs(x) <= 0.5
        assert (y[small] == 0).all()
        assert (np.abs(y - x)[~small] <= 1e-3 * np.abs(x[~small])).all()
    assert (np.abs(got["E"][3::13] + 7.0) <= 7e-3).all()


def test_abs_floor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = parse_max_error("1e-3", "E=0.5,pt=0.25")
    assert (b.E_floor, b.pt_floor, b.floor("eta")) == (0.5, 0.25, 0.0)
    assert parse_max_error("1e-3", "0.1").floor("E") == 0.1
    with pytest.raises(ConfigError, match="floors apply to the relative bounds of E and pt only"):
        parse_max_error("1e-3", "eta=0.1")
    with pytest.raises(ConfigError, match="absolute floor of pt must be >= 0"):
        parse_max_error("1e-3", "pt=-1")
    table = _floored_table()
    src = tmp_path / "in.parquet"
    write_table(table, src)
    out, back = tmp_path / "f.hsqz", tmp_path / "back.parquet"
    args = ["compress", str(src), "--max-error", "1e-3", "--abs-floor", "0.5", "-o", str(out)]
    assert main(args) == 0
    assert main(["decompress", str(out), "-o", str(back)]) == 0
    capsys.readouterr()
    _check_floors(table, read_table(back))
    assert main(["info", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["header"]["codec"]["bounds"]["pt"]["floor"] == 0.5
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
    compress_parquet(jets_file, BoundedJetCodec(parse_max_error("1e-3")), small, chunk_rows=70)
    back = decompress_dataset(small).table
    assert np.array_equal(back["event"], read_table(jets_file)["event"])
    assert _within(read_table(jets_file), back, 1e-3)


def test_abs_floor_through_the_api(tmp_path: Path) -> None:
    table = _floored_table()
    out = tmp_path / "f.hsqz"
    rep = hsq.compress(table, out, max_error="1e-3", abs_floor="0.5")
    assert rep.compressed_columns == ("event", *VARS)
    _check_floors(table, hsq.decompress(out))
    bounds = file_info(out)["header"]["codec"]["bounds"]
    assert bounds["pt"]["floor"] == bounds["E"]["floor"] == 0.5
    assert "floor" not in bounds["eta"]
    with pytest.raises(ConfigError, match="abs_floor apply to the error-bounded codec only"):
        hsq.compress(table, tmp_path / "z.hsqz", abs_floor="0.5", model="zoo:ae4d-3")
    assert not (tmp_path / "z.hsqz").exists()


def test_stream_through_the_api_matches_in_memory(jets_file: Path, tmp_path: Path) -> None:
    streamed, whole = tmp_path / "s.hsqz", tmp_path / "w.hsqz"
    hsq.compress(jets_file, streamed, max_error="1e-3", stream=True)
    hsq.compress(jets_file, whole, max_error="1e-3")
    a, b = hsq.decompress(streamed), hsq.decompress(whole)
    assert a.names == b.names
    for name in a.names:
        assert np.array_equal(a[name], b[name])
    assert file_info(streamed)["header"]["input"]["path"] == jets_file.name
    assert file_info(whole)["header"]["input"]["path"] == jets_file.name


def test_empty_table_gives_a_valid_empty_file(tmp_path: Path) -> None:
    """The codec writes an empty table as a file of zero chunks (it failed its own verification once)."""
    rng = np.random.default_rng(0)
    table = Table(
        {"event": np.empty(0, np.int64), **{v: np.empty(0, np.float32) for v in VARS}, "w": rng.random(0)}
    )
    out = tmp_path / "e.hsqz"
    rep = compress_dataset(Dataset.from_table(table), BoundedJetCodec(parse_max_error("1e-3")), out)
    assert rep.rows == 0
    assert rep.ratio == 0.0
    info = file_info(out)
    assert info["header"]["num_rows"] == 0
    assert "column" not in info["section_bytes"]  # no payload: zero chunks
    back = hsq.decompress(out)
    assert back.names == table.names
    assert [back[n].dtype for n in back.names] == [table[n].dtype for n in table.names]
    assert back.num_rows == 0
    assert decompress_to_parquet(out, tmp_path / "e.parquet") == 0
    assert read_table(tmp_path / "e.parquet").names == table.names


def test_tables_without_an_event_column_code_every_jet_alone(jets: Table, tmp_path: Path) -> None:
    table = jets.select(VARS)
    out = tmp_path / "n.hsqz"
    hsq.compress(table, out, max_error=parse_max_error("1e-3"), chunk_rows=150)  # the jet codec
    codec = file_info(out)["header"]["codec"]
    assert (codec["event_column"], codec["event_runs"]) == (None, False)
    back = hsq.decompress(out)
    assert back.names == table.names
    assert _within(table, back, 1e-3)
    # another name for the event column
    renamed = Table({"evt": jets["event"], **{v: jets[v] for v in VARS}})
    hsq.compress(renamed, out, max_error=parse_max_error("1e-3"), event_column="evt", force=True)
    codec = file_info(out)["header"]["codec"]
    assert (codec["event_column"], codec["event_runs"]) == ("evt", True)
    assert np.array_equal(hsq.decompress(out)["evt"], jets["event"])
