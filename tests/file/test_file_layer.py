"""The codec-agnostic file layer: auxiliary tables and the layout, the exception stream's sections,
truncated files, unclaimed sections, data formats from the future, and chunk-by-chunk reading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hepsqueeze as hsq
from codec_helpers import VARIABLES, in_range_table, jet_table, poisoned
from hepsqueeze.codecs.autoencoder.codec import AutoencoderCodec
from hepsqueeze.codecs.bounded.codec import BoundedJetCodec
from hepsqueeze.codecs.bounded.spec import parse_max_error
from hepsqueeze.container import ContainerReader, write_container
from hepsqueeze.errors import ContainerError, ContainerVersionError
from hepsqueeze.file.header import DATA_FORMAT, DATA_KIND, parse_header, read_header
from hepsqueeze.file.reader import decompress_dataset, decompress_reader, file_info, iter_chunks, open_file
from hepsqueeze.file.writer import compress_dataset
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table
from hepsqueeze.models.model import CompressionModel


def _dataset(jets: Table) -> Dataset:
    events = np.unique(jets["event"])
    aux = {
        "events": Table({"event": events, "weight": np.linspace(0, 1, events.size), "flag": events % 2 == 0}),
        # A column whose "<table>/<column>" section name equals a main-table column name.
        "x": Table({"y": np.arange(5, dtype=np.uint16)}),
    }
    main = Table({**{n: jets[n] for n in jets.names}, "x/y": np.zeros(jets.num_rows, np.int8)}, source="mem")
    return Dataset(main, aux, {"format": "test", "note": [1, "two"]})


def _with_section(src: Path, dst: Path, add: Any) -> Path:
    """A copy of ``src`` with one more section (``add(writer)``), every checksum valid."""
    with ContainerReader.open(src) as reader:
        header = dict(reader.header)
        sections = [(s, reader.read_array(s)) for s in reader.sections if s.kind != "end"]
    with write_container(dst, header, force=True) as w:
        for s, arr in sections:
            w.add_array(
                s.kind, s.name, arr, chunk=s.chunk, encoding=s.encoding, transform=s.transform, **s.extras
            )
        add(w)
    return dst


def test_dataset_round_trip_keeps_aux_tables_and_layout(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ds = _dataset(jets)
    out = tmp_path / "d.hsqz"
    rep = compress_dataset(ds, AutoencoderCodec(model), out)
    assert rep.auxiliary_rows == {"events": 80, "x": 5}
    header = file_info(out)["header"]
    assert header["data_format"] == 3  # the sample holds exceptions
    assert [t["name"] for t in header["tables"]] == ["events", "x"]
    back = decompress_dataset(out)
    assert dict(back.layout) == dict(ds.layout)
    assert back.table.names == ds.table.names
    np.testing.assert_array_equal(back.table["x/y"], ds.table["x/y"])
    for name, aux in ds.aux.items():
        assert back.aux[name].names == aux.names
        for col in aux.names:
            assert back.aux[name][col].dtype == aux[col].dtype
            np.testing.assert_array_equal(back.aux[name][col], aux[col])
    # decompress keeps returning the main table.
    assert hsq.decompress(out).names == ds.table.names
    assert hsq.decompress_to_dataset(out).aux.keys() == ds.aux.keys()


def test_aux_tables_longer_than_a_chunk(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = (1 << 16) + 123
    big = Table({"i": np.arange(rows, dtype=np.int64), "f": np.linspace(0, 1, rows, dtype=np.float32)})
    ds = Dataset(jets, {"big": big, "empty": Table({"e": np.empty(0, np.float64)})}, {"k": 1})
    out = tmp_path / "b.hsqz"
    compress_dataset(ds, AutoencoderCodec(model), out, chunk_rows=1 << 16)
    back = decompress_dataset(out)
    np.testing.assert_array_equal(back.aux["big"]["f"], big["f"])
    assert back.aux["empty"]["e"].dtype == np.float64
    assert back.aux["empty"].num_rows == 0


def test_corrupt_aux_sections(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ds = _dataset(jets)
    src = tmp_path / "d.hsqz"
    compress_dataset(ds, AutoencoderCodec(model), src)
    with ContainerReader.open(src) as reader:
        header = reader.header
        sections = [(s, reader.read_array(s)) for s in reader.sections if s.kind != "end"]
    header["tables"][0]["num_rows"] = 7
    bad = tmp_path / "bad.hsqz"
    with write_container(bad, header) as w:
        for s, arr in sections:
            w.add_array(s.kind, s.name, arr, chunk=s.chunk, **s.extras)
    with pytest.raises(
        ContainerError, match=r"column 'event' of table 'events' holds 80 rows, the header says 7"
    ):
        decompress_dataset(bad)


def test_truncated_file(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "t.hsqz"
    hsq.compress(jets, out, model=model)
    data = out.read_bytes()
    bad = tmp_path / "bad.hsqz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ContainerError):
        hsq.decompress(bad)


def test_newer_data_format_is_a_version_error(tiny_model: CompressionModel, tmp_path: Path) -> None:
    # A file from a newer data format fails with a version error, not wrong data.
    plain = tmp_path / "p.hsqz"
    hsq.compress(in_range_table(tiny_model, 100), plain, model=tiny_model)
    with ContainerReader.open(plain) as reader:
        header = dict(reader.header, data_format=99)
        assert read_header(reader)["kind"] == DATA_KIND
    newer = tmp_path / "n.hsqz"
    with write_container(newer, header):
        pass
    with pytest.raises(
        ContainerVersionError, match=rf"data format 99; this hepsqueeze reads up to {DATA_FORMAT}: upgrade"
    ):
        decompress_dataset(newer)
    with pytest.raises(ContainerVersionError):
        file_info(newer)
    other = tmp_path / "o.hsqz"
    with write_container(other, {**header, "kind": "something-else"}):
        pass
    with pytest.raises(ContainerError, match="is a hepsqueeze file but not compressed data"):
        decompress_dataset(other)


@pytest.mark.parametrize("codec_id", ["autoencoder", "bounded-jets"])
def test_unclaimed_sections_are_refused_in_every_codec(
    tiny_model: CompressionModel, tmp_path: Path, codec_id: str
) -> None:
    src = tmp_path / "s.hsqz"
    codec = (
        AutoencoderCodec(tiny_model)
        if codec_id == "autoencoder"
        else BoundedJetCodec(parse_max_error("1e-3"))
    )
    compress_dataset(Dataset.from_table(in_range_table(tiny_model, 300)), codec, src)
    assert file_info(src)["header"]["codec"]["name"] == codec_id
    assert decompress_dataset(src).table.num_rows > 0
    for add, match in [
        (lambda w: w.add_array("column", "stray", np.zeros(3), chunk=0), "'stray' belongs to no column"),
        (lambda w: w.add_array("column", "late", np.zeros(3), chunk=7), "column section of chunk 7"),
        (lambda w: w.add_bytes("weight", "w", b"hello", chunk=0), "holds no 'weight' sections"),
    ]:
        bad = _with_section(src, tmp_path / "bad.hsqz", add)
        with pytest.raises(ContainerError, match=match) as info:
            decompress_dataset(bad)
        assert "bad.hsqz" in str(info.value)
        assert "at byte" in str(info.value)


def test_exception_sections_are_validated(tiny_model: CompressionModel, tmp_path: Path) -> None:
    table, _ = poisoned(tiny_model)
    src = tmp_path / "p.hsqz"
    hsq.compress(table, src, model=tiny_model)
    with ContainerReader.open(src) as reader:
        header = reader.header
        sections = [(s, reader.read_array(s)) for s in reader.sections]

    def rewrite(change: Any) -> Path:
        bad = tmp_path / "bad.hsqz"
        bad.unlink(missing_ok=True)
        with write_container(bad, header) as w:
            for s, arr in sections:
                extras = dict(s.extras)
                arr2 = change(s, extras, arr)
                if arr2 is not None:
                    w.add_array(s.kind, s.name, arr2, chunk=s.chunk, **extras)
        return bad

    def unsorted(s: Any, extras: dict[str, Any], arr: Any) -> Any:
        return arr[::-1].copy() if extras.get("exceptions") == "rows" and arr.size > 1 else arr

    def out_of_chunk(s: Any, extras: dict[str, Any], arr: Any) -> Any:
        return arr + 10_000 if extras.get("exceptions") == "rows" else arr

    def dropped(s: Any, extras: dict[str, Any], arr: Any) -> Any:
        return None if extras.get("exceptions") == "values" and extras.get("column") == "E" else arr

    def wrong_column(s: Any, extras: dict[str, Any], arr: Any) -> Any:
        if extras.get("exceptions") and extras.get("column") == "E":
            extras["column"] = "event"
        return arr

    for change, message in [
        (unsorted, "not ascending"),
        (out_of_chunk, "not ascending row numbers below"),
        (dropped, "incomplete exception sections"),
        (wrong_column, "matches no compressed column"),
    ]:
        with pytest.raises(ContainerError, match=message) as info:
            hsq.decompress(rewrite(change))
        assert "bad.hsqz" in str(info.value)
        assert "at byte" in str(info.value)


def test_chunks_are_read_one_at_a_time(tmp_path: Path) -> None:
    table = jet_table(np.random.default_rng(4), 1000)
    out = tmp_path / "c.hsqz"
    rep = hsq.compress(table, out, max_error=parse_max_error("1e-3"), chunk_rows=300)  # the jet codec
    assert rep.rows == 1000
    with ContainerReader.open(out) as reader:
        opened = open_file(reader)
        assert opened.header.num_rows == 1000
        assert opened.header.chunk_rows == 300
        assert opened.header.compressed == VARIABLES
        assert parse_header(reader).passthrough == ["event"]
        chunks = list(iter_chunks(opened))
        whole = decompress_reader(reader)
    assert [len(c["event"]) for c in chunks] == [300, 300, 300, 100]
    assert all(list(c) == list(table.names) for c in chunks)
    for name in table.names:
        assert np.array_equal(np.concatenate([c[name] for c in chunks]), whole.table[name])


def test_file_info(tiny_model: CompressionModel, tmp_path: Path) -> None:
    out = tmp_path / "i.hsqz"
    table = in_range_table(tiny_model, 200)
    rep = hsq.compress(table, out, model=tiny_model)
    info = file_info(out)
    assert info["path"] == str(out)
    assert info["file_bytes"] == out.stat().st_size == rep.file_bytes
    assert info["ratio"] == pytest.approx(rep.ratio)
    assert info["section_bytes"] == rep.section_bytes
    assert info["header"]["num_rows"] == table.num_rows
    assert info["exceptions"] == {}
