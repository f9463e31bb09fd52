"""Streaming compression from Parquet and streaming decompression to Parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import hepsqueeze as hsq
from codec_helpers import VARIABLES, in_range_table, jet_table
from hepsqueeze.codecs.autoencoder.codec import AutoencoderCodec
from hepsqueeze.errors import InputError, OutputExistsError
from hepsqueeze.file.reader import decompress_to_parquet, file_info
from hepsqueeze.file.writer import compress_batches, compress_parquet
from hepsqueeze.io import read_table, write_table
from hepsqueeze.io.table import Table
from hepsqueeze.models.model import EVAL_BATCH, CompressionModel


def write_parquet(table: Table, path: Path, row_group_size: int) -> Path:
    arrays = [pa.array(table[n]) for n in table.names]
    pq.write_table(pa.Table.from_arrays(arrays, names=list(table.names)), path, row_group_size=row_group_size)
    return path


def poisoned_table(rows: int) -> Table:
    t = jet_table(np.random.default_rng(5), rows)
    cols = {n: t[n].copy() for n in t.names}
    cols["pt"][10] = np.nan
    cols["pt"][rows - 7] = -np.inf
    cols["flag"] = np.arange(rows) % 3 == 0
    return Table(cols)


def test_stream_equals_in_memory(tiny_model: CompressionModel, tmp_path: Path) -> None:
    # Odd row groups, so batches do not line up with chunks; three chunks of 65536 rows.
    rows = 2 * EVAL_BATCH + 1234
    table = poisoned_table(rows)
    src = write_parquet(table, tmp_path / "in.parquet", row_group_size=30_001)
    streamed, whole = tmp_path / "s.hsqz", tmp_path / "w.hsqz"
    rep = compress_parquet(src, AutoencoderCodec(tiny_model), streamed, chunk_rows=EVAL_BATCH)
    ref = hsq.compress(read_table(src), whole, model=tiny_model, chunk_rows=EVAL_BATCH)
    assert rep.rows == rows
    assert rep.exceptions == ref.exceptions
    info = file_info(streamed)
    assert info["header"]["data_format"] == 3
    assert info["header"]["input"]["path"] == "in.parquet"
    a, b = hsq.decompress(streamed), hsq.decompress(whole)
    assert a.names == b.names == table.names
    for n in table.names:
        assert a[n].dtype == table[n].dtype
        assert np.array_equal(a[n].view(f"u{a[n].dtype.itemsize}"), b[n].view(f"u{b[n].dtype.itemsize}")), n
    # Streaming decompression writes the same table, one row group per chunk.
    out = tmp_path / "back.parquet"
    assert decompress_to_parquet(streamed, out) == rows
    assert pq.ParquetFile(out).metadata.num_row_groups == 3
    c = read_table(out)
    for n in table.names:
        assert np.array_equal(c[n].view(f"u{c[n].dtype.itemsize}"), a[n].view(f"u{a[n].dtype.itemsize}")), n
    with pytest.raises(OutputExistsError):
        decompress_to_parquet(streamed, out)


def test_stream_empty_and_single_row(tiny_model: CompressionModel, tmp_path: Path) -> None:
    table = jet_table(np.random.default_rng(1), 5)
    for rows in (0, 1):
        src = write_table(table.slice(0, rows), tmp_path / f"{rows}.parquet")
        out = tmp_path / f"{rows}.hsqz"
        assert compress_parquet(src, AutoencoderCodec(tiny_model), out).rows == rows
        back_path = tmp_path / f"{rows}-back.parquet"
        assert decompress_to_parquet(out, back_path) == rows
        back = read_table(back_path)
        assert back.names == table.names
        assert back.num_rows == rows
        assert [back[n].dtype for n in back.names] == [table[n].dtype for n in table.names]


def test_stream_strict_and_bad_streams_leave_no_file(tiny_model: CompressionModel, tmp_path: Path) -> None:
    clean = in_range_table(tiny_model, 1200)
    cols = {n: clean[n].copy() for n in clean.names}
    cols["pt"][[10, 500]] = np.nan
    table = Table(cols).slice(0, 1000)
    src = write_parquet(table, tmp_path / "p.parquet", 300)
    out = tmp_path / "o.hsqz"
    with pytest.raises(InputError, match=r"column 'pt' has 2 NaN/inf values \(first at row 10"):
        compress_parquet(src, AutoencoderCodec(tiny_model, strict=True), out)
    assert not out.exists()
    schema = {n: table[n].dtype for n in table.names}
    codec = AutoencoderCodec(tiny_model)
    with pytest.raises(InputError, match="more than the announced 999"):
        compress_batches([table], codec, out, num_rows=999, schema=schema)
    with pytest.raises(InputError, match="holds 1000 rows, not the announced 1001"):
        compress_batches([table], codec, out, num_rows=1001, schema=schema)
    with pytest.raises(InputError, match="not the announced schema"):
        compress_batches([table.select(VARIABLES)], codec, out, num_rows=1000, schema=schema)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_stream_rejects_unsupported_columns(tiny_model: CompressionModel, tmp_path: Path) -> None:
    src = tmp_path / "s.parquet"
    pq.write_table(pa.table({"E": [1.0], "pt": [1.0], "eta": [0.0], "phi": [0.0], "s": ["x"]}), src)
    with pytest.raises(InputError, match=r"column 's'.*only numeric"):
        compress_parquet(src, AutoencoderCodec(tiny_model), tmp_path / "o.hsqz")
