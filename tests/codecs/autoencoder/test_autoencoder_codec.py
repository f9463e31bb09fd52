"""Files of the autoencoder codec: round trips equal the model's reconstruction, latent dtypes,
chunks, the embedded (or given) model, column matching and the data formats written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hepsqueeze as hsq
from hepsqueeze.codecs.autoencoder.codec import MAX_CHUNK_ROWS, AutoencoderCodec
from hepsqueeze.codecs.autoencoder.exceptions import ExceptionFinder, codec_reconstruct
from hepsqueeze.errors import ColumnError, ConfigError, InputError, ModelError, OutputExistsError
from hepsqueeze.file.reader import decompress_dataset, file_info
from hepsqueeze.file.writer import compress_dataset
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table
from hepsqueeze.models import load_model, save_model


def in_range(model, table: Table) -> Table:  # type: ignore[no-untyped-def]
    """The rows of ``table`` without exceptions."""
    finder = ExceptionFinder(model)
    x = table.stack(model.columns)
    bad = np.zeros(table.num_rows, bool)
    for j, name in enumerate(model.columns):
        bad |= finder.mask(j, table[name], x[:, j])
    return Table({n: table[n][~bad] for n in table.names})


def test_round_trip_equals_model_reconstruction(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "j.hsqz"
    rep = hsq.compress(jets, out, model=model)
    back = hsq.decompress(out)
    assert back.names == jets.names
    assert all(back[n].dtype == jets[n].dtype for n in jets.names)
    recon = codec_reconstruct(model, jets.stack(model.columns))
    assert np.array_equal(back.stack(model.columns), recon)
    # The sample's few values outside the training split's range are stored exactly.
    assert rep.exception_count == sum(file_info(out)["exceptions"].values()) > 0
    assert np.array_equal(back["event"], jets["event"])
    assert rep.ratio == pytest.approx(4 * jets.num_rows * 4 / out.stat().st_size)
    assert rep.passthrough_columns == ("event",)
    assert file_info(out)["header"]["codec"] == {
        "name": "autoencoder",
        "latent_dtype": "float32",
        "latent_dim": 3,
    }


def test_float16_latents(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = tmp_path / "a.hsqz", tmp_path / "b.hsqz"
    r32 = hsq.compress(jets, a, model=model)
    r16 = hsq.compress(jets, b, model=model, latent_dtype="float16")
    assert r16.section_bytes["latent"] < r32.section_bytes["latent"]
    back = hsq.decompress(b)
    assert np.array_equal(
        back.stack(model.columns), codec_reconstruct(model, jets.stack(model.columns), "float16")
    )
    with pytest.raises(ConfigError, match="unknown latent dtype 'float8'"):
        AutoencoderCodec(model, "float8")


def test_small_chunks(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Many chunks, each holding its own latent and passthrough sections.
    big = Table.concat([jets] * 200)
    out = tmp_path / "big.hsqz"
    hsq.compress(big, out, model=model, chunk_rows=1 << 16)
    assert file_info(out)["header"]["num_rows"] == big.num_rows
    back = hsq.decompress(out)
    assert np.array_equal(back["event"], big["event"])
    assert np.array_equal(back.stack(model.columns), codec_reconstruct(model, big.stack(model.columns)))


def test_chunk_rows_limits(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "c.hsqz"
    with pytest.raises(ConfigError, match="positive multiple of 65536, got 1000"):
        hsq.compress(jets, out, model=model, chunk_rows=1000)
    with pytest.raises(ConfigError, match=f"at most {MAX_CHUNK_ROWS}, got {2 * MAX_CHUNK_ROWS}"):
        hsq.compress(jets, out, model=model, chunk_rows=2 * MAX_CHUNK_ROWS)
    assert not out.exists()


def test_no_embed_model(model, model_file: Path, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "n.hsqz"
    hsq.compress(jets, out, model=model, embed_model=False)
    with pytest.raises(ModelError, match="written without its model; give the model 'ae4d-3'"):
        hsq.decompress(out)
    back = hsq.decompress(out, load_model(model_file))
    assert np.array_equal(back["E"], hsq.decompress(out, model)["E"])
    assert np.array_equal(back["E"], hsq.decompress(out, model_file)["E"])  # a model file works too


def test_wrong_model_rejected(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "n.hsqz"
    hsq.compress(jets, out, model=model, embed_model=False)
    other = hsq.train(jets, "ae4d-3", epochs=1, seed=99, device="cpu")
    with pytest.raises(ModelError, match="does not match"):
        hsq.decompress(out, other)


def test_decompresses_after_model_deleted(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mpath = save_model(model, tmp_path / "m.hsqm")
    out = tmp_path / "x.hsqz"
    hsq.compress(jets, out, model=load_model(mpath))
    mpath.unlink()
    assert hsq.decompress(out).num_rows == jets.num_rows


def test_errors(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "e.hsqz"
    with pytest.raises(ColumnError, match="did you mean 'phi'"):
        hsq.compress(jets, out, columns=["E", "pt", "eta", "ph"], model=model)
    cols = {n: jets[n].copy() for n in jets.names}
    cols["eta"][3] = np.inf
    with pytest.raises(InputError, match="NaN/inf"):
        hsq.compress(Table(cols), out, model=model, strict=True)
    assert not out.exists()
    hsq.compress(jets, out, model=model)
    with pytest.raises(OutputExistsError):
        hsq.compress(jets, out, model=model)


def test_model_trained_on_other_columns(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = Table(
        {"event": jets["event"], "m": jets["E"], "pt": jets["pt"], "eta": jets["eta"], "phi": jets["phi"]}
    )
    with pytest.raises(ColumnError, match="trained on columns E, pt, eta, phi"):
        hsq.compress(other, tmp_path / "o.hsqz", model=model)


def test_data_format_versions(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    codec = AutoencoderCodec(model)
    # One plain table is still data format 1, which older hepsqueeze versions read.
    plain = tmp_path / "p.hsqz"
    clean = in_range(model, jets)
    compress_dataset(Dataset.from_table(clean, "parquet"), codec, plain)
    assert file_info(plain)["header"]["data_format"] == 1
    with_aux = tmp_path / "a.hsqz"
    compress_dataset(Dataset(clean, {"t": Table({"a": np.arange(3)})}, {"format": "x"}), codec, with_aux)
    assert file_info(with_aux)["header"]["data_format"] == 2
    # Exceptions need data format 3, which older readers refuse instead of dropping them.
    exc = tmp_path / "e.hsqz"
    compress_dataset(Dataset.from_table(jets, "parquet"), codec, exc)
    assert file_info(exc)["header"]["data_format"] == 3
    assert decompress_dataset(plain).format == "parquet"
