from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepsqueeze.codec.compress import (
    compress_dataset,
    compress_table,
    decompress_dataset,
    decompress_file,
    file_info,
)
from hepsqueeze.codecs.autoencoder.exceptions import codec_reconstruct
from hepsqueeze.container import ContainerReader, write_container
from hepsqueeze.errors import (
    ColumnError,
    ContainerError,
    ContainerVersionError,
    InputError,
    ModelError,
    OutputExistsError,
)
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table
from hepsqueeze.models import load_model, save_model


def in_range(model, table: Table) -> Table:  # type: ignore[no-untyped-def]
    """The rows of ``table`` without exceptions."""
    from hepsqueeze.codecs.autoencoder.exceptions import ExceptionFinder

    finder = ExceptionFinder(model)
    x = table.stack(model.columns)
    bad = np.zeros(table.num_rows, bool)
    for j, name in enumerate(model.columns):
        bad |= finder.mask(j, table[name], x[:, j])
    return Table({n: table[n][~bad] for n in table.names})


def test_round_trip_equals_model_reconstruction(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "j.hsqz"
    rep = compress_table(jets, model, out)
    back = decompress_file(out)
    assert back.names == jets.names
    assert all(back[n].dtype == jets[n].dtype for n in jets.names)
    recon = codec_reconstruct(model, jets.stack(model.columns))
    assert np.array_equal(back.stack(model.columns), recon)
    # The sample's few values outside the training split's range are stored exactly.
    assert rep.exception_count == sum(file_info(out)["exceptions"].values()) > 0
    assert np.array_equal(back["event"], jets["event"])
    assert rep.ratio == pytest.approx(4 * jets.num_rows * 4 / out.stat().st_size)
    assert rep.passthrough_columns == ("event",)


def test_float16_latents(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = tmp_path / "a.hsqz", tmp_path / "b.hsqz"
    r32 = compress_table(jets, model, a)
    r16 = compress_table(jets, model, b, latent_dtype="float16")
    assert r16.section_bytes["latent"] < r32.section_bytes["latent"]
    back = decompress_file(b)
    assert np.array_equal(
        back.stack(model.columns), codec_reconstruct(model, jets.stack(model.columns), "float16")
    )


def test_small_chunks(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Many chunks, each holding its own latent and passthrough sections.
    big = Table.concat([jets] * 200)
    out = tmp_path / "big.hsqz"
    compress_table(big, model, out, chunk_rows=1 << 16)
    assert file_info(out)["header"]["num_rows"] == big.num_rows
    back = decompress_file(out)
    assert np.array_equal(back["event"], big["event"])
    assert np.array_equal(back.stack(model.columns), codec_reconstruct(model, big.stack(model.columns)))


def test_no_embed_model(model, model_file: Path, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "n.hsqz"
    compress_table(jets, model, out, embed_model=False)
    with pytest.raises(ModelError, match="--no-embed-model"):
        decompress_file(out)
    back = decompress_file(out, load_model(model_file))
    assert np.array_equal(back["E"], decompress_file(out, model)["E"])


def test_wrong_model_rejected(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from hepsqueeze.api import train

    out = tmp_path / "n.hsqz"
    compress_table(jets, model, out, embed_model=False)
    other = train(jets, "ae4d-3", epochs=1, seed=99, device="cpu")
    with pytest.raises(ModelError, match="does not match"):
        decompress_file(out, other)


def test_decompresses_after_model_deleted(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mpath = save_model(model, tmp_path / "m.hsqm")
    out = tmp_path / "x.hsqz"
    compress_table(jets, load_model(mpath), out)
    mpath.unlink()
    assert decompress_file(out).num_rows == jets.num_rows


def test_errors(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "e.hsqz"
    with pytest.raises(ColumnError, match="did you mean 'phi'"):
        compress_table(jets, model, out, columns=["E", "pt", "eta", "ph"])
    cols = {n: jets[n].copy() for n in jets.names}
    cols["eta"][3] = np.inf
    with pytest.raises(InputError, match="NaN/inf"):
        compress_table(Table(cols), model, out, strict=True)
    assert not out.exists()
    compress_table(jets, model, out)
    with pytest.raises(OutputExistsError):
        compress_table(jets, model, out)


def test_model_trained_on_other_columns(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = Table(
        {"event": jets["event"], "m": jets["E"], "pt": jets["pt"], "eta": jets["eta"], "phi": jets["phi"]}
    )
    with pytest.raises(ColumnError, match="trained on columns E, pt, eta, phi"):
        compress_table(other, model, tmp_path / "o.hsqz")


def test_truncated_file(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "t.hsqz"
    compress_table(jets, model, out)
    data = out.read_bytes()
    bad = tmp_path / "bad.hsqz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ContainerError):
        decompress_file(bad)


def _dataset(jets: Table) -> Dataset:
    events = np.unique(jets["event"])
    aux = {
        "events": Table({"event": events, "weight": np.linspace(0, 1, events.size), "flag": events % 2 == 0}),
        # A column whose "<table>/<column>" section name equals a main-table column name.
        "x": Table({"y": np.arange(5, dtype=np.uint16)}),
    }
    main = Table({**{n: jets[n] for n in jets.names}, "x/y": np.zeros(jets.num_rows, np.int8)}, source="mem")
    return Dataset(main, aux, {"format": "test", "note": [1, "two"]})


def test_dataset_round_trip_keeps_aux_tables_and_layout(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ds = _dataset(jets)
    out = tmp_path / "d.hsqz"
    rep = compress_dataset(ds, model, out)
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
    # decompress_file keeps returning the main table.
    assert decompress_file(out).names == ds.table.names


def test_aux_tables_longer_than_a_chunk(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = (1 << 16) + 123
    big = Table({"i": np.arange(rows, dtype=np.int64), "f": np.linspace(0, 1, rows, dtype=np.float32)})
    ds = Dataset(jets, {"big": big, "empty": Table({"e": np.empty(0, np.float64)})}, {"k": 1})
    out = tmp_path / "b.hsqz"
    compress_dataset(ds, model, out, chunk_rows=1 << 16)
    back = decompress_dataset(out)
    np.testing.assert_array_equal(back.aux["big"]["f"], big["f"])
    assert back.aux["empty"]["e"].dtype == np.float64
    assert back.aux["empty"].num_rows == 0


def test_data_format_versions(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # One plain table is still data format 1, which older hepsqueeze versions read.
    plain = tmp_path / "p.hsqz"
    clean = in_range(model, jets)
    compress_dataset(Dataset.from_table(clean, "parquet"), model, plain)
    assert file_info(plain)["header"]["data_format"] == 1
    with_aux = tmp_path / "a.hsqz"
    compress_dataset(Dataset(clean, {"t": Table({"a": np.arange(3)})}, {"format": "x"}), model, with_aux)
    assert file_info(with_aux)["header"]["data_format"] == 2
    # Exceptions need data format 3, which older readers refuse instead of dropping them.
    exc = tmp_path / "e.hsqz"
    compress_dataset(Dataset.from_table(jets, "parquet"), model, exc)
    assert file_info(exc)["header"]["data_format"] == 3
    assert decompress_dataset(plain).format == "parquet"
    # A file from a newer data format fails with a version error, not wrong data.
    newer = tmp_path / "n.hsqz"
    with ContainerReader.open(plain) as reader:
        header = dict(reader.header, data_format=99)
    with write_container(newer, header):
        pass
    with pytest.raises(
        ContainerVersionError, match=r"data format 99; this hepsqueeze reads up to 5: upgrade"
    ):
        decompress_dataset(newer)
    with pytest.raises(ContainerVersionError):
        file_info(newer)


def test_corrupt_aux_sections(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ds = _dataset(jets)
    src = tmp_path / "d.hsqz"
    compress_dataset(ds, model, src)
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


def test_decoded_values_in_integer_and_bool_dtypes() -> None:
    from hepsqueeze.codec.compress import as_column_dtype

    v = np.array([-0.6, -0.4, 0.49, 0.51, 2.5, 3e12, -3e12, np.nan], dtype=np.float32)
    out = as_column_dtype(v, np.dtype(np.int32))
    assert out.dtype == np.int32
    # rounded to nearest (ties to even), clipped to the dtype's range, not truncated or wrapped
    assert out.tolist() == [-1, 0, 0, 1, 2, 2**31 - 1, -(2**31), 0]
    assert as_column_dtype(v[:4], np.dtype(np.uint8)).tolist() == [0, 0, 0, 1]
    assert as_column_dtype(v[:4], np.dtype(np.bool_)).tolist() == [False, False, False, True]
