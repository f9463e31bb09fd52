from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepsqueeze.codec.compress import compress_table, decompress_file, file_info
from hepsqueeze.errors import ColumnError, ContainerError, InputError, ModelError, OutputExistsError
from hepsqueeze.io.table import Table
from hepsqueeze.models import load_model, save_model


def test_round_trip_equals_model_reconstruction(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "j.hsqz"
    rep = compress_table(jets, model, out)
    back = decompress_file(out)
    assert back.names == jets.names
    assert all(back[n].dtype == jets[n].dtype for n in jets.names)
    recon = model.reconstruct(jets.stack(model.columns))
    assert np.array_equal(back.stack(model.columns), recon)
    assert np.array_equal(back["event"], jets["event"])
    assert rep.ratio == pytest.approx(4 * jets.num_rows * 4 / out.stat().st_size)
    assert rep.passthrough_columns == ("event",)


def test_float16_latents(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = tmp_path / "a.hsqz", tmp_path / "b.hsqz"
    r32 = compress_table(jets, model, a)
    r16 = compress_table(jets, model, b, latent_dtype="float16")
    assert r16.section_bytes["latent"] < r32.section_bytes["latent"]
    back = decompress_file(b)
    assert np.array_equal(back.stack(model.columns), model.reconstruct(jets.stack(model.columns), "float16"))


def test_small_chunks(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Many chunks, each holding its own latent and passthrough sections.
    big = Table.concat([jets] * 200)
    out = tmp_path / "big.hsqz"
    compress_table(big, model, out, chunk_rows=1 << 16)
    assert file_info(out)["header"]["num_rows"] == big.num_rows
    back = decompress_file(out)
    assert np.array_equal(back["event"], big["event"])
    assert np.array_equal(back.stack(model.columns), model.reconstruct(big.stack(model.columns)))


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
    with pytest.raises(InputError, match="no rows"):
        compress_table(jets.slice(0, 0), model, out)
    with pytest.raises(ColumnError, match="did you mean 'phi'"):
        compress_table(jets, model, out, columns=["E", "pt", "eta", "ph"])
    cols = {n: jets[n].copy() for n in jets.names}
    cols["eta"][3] = np.inf
    with pytest.raises(InputError, match="NaN/inf"):
        compress_table(Table(cols), model, out)
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
