"""The error-bounded codec never exits quietly with wrong data or an unreadable file (issue 14):
columns by name, values off their phi branch, sentinels, bounds finer than the values' precision,
files that claim more than their bytes hold, crafted headers and orphaned sections."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zstandard

from codec_helpers import jet_table
from hepsqueeze.codecs.bounded.bounds import JetBounds
from hepsqueeze.codecs.bounded.codec import PAYLOAD_SECTION, BoundedJetCodec, match_columns
from hepsqueeze.codecs.bounded.payload import decode_jets, encode_jets, payload_header
from hepsqueeze.codecs.bounded.spec import parse_max_error
from hepsqueeze.container import ContainerReader, write_container
from hepsqueeze.errors import ColumnError, ConfigError, ContainerError, VerificationError
from hepsqueeze.file import reader as file_reader
from hepsqueeze.file.reader import decompress_dataset, decompress_to_parquet
from hepsqueeze.file.writer import compress_dataset
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table
from hepsqueeze.metrics.bounds import ErrorBound

VARS = ("E", "pt", "eta", "phi")


def _write(tmp: Path, table: Table, spec: str = "1e-3", columns: list[str] | None = None) -> Path:
    out = tmp / "x.hsqz"
    compress_dataset(
        Dataset.from_table(table), BoundedJetCodec(parse_max_error(spec)), out, columns, force=True
    )
    return out


def _jets(rows: int = 300, seed: int = 1) -> Table:
    return jet_table(np.random.default_rng(seed), rows)


def test_columns_are_matched_by_name_in_any_order() -> None:
    names = ["event", "Jet_phi", "Jet_E", "Jet_eta", "Jet_pt"]
    assert match_columns(["Jet_phi", "Jet_eta", "Jet_E", "Jet_pt"], names, "f") == [
        "Jet_E",
        "Jet_pt",
        "Jet_eta",
        "Jet_phi",
    ]
    assert match_columns(None, ["E", "pt", "eta", "phi"], "f") == list(VARS)


@pytest.mark.parametrize(
    ("columns", "match"),
    [
        (["Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass"], "'Jet_mass' .* is not one of"),  # NanoAOD order
        (["event", "pt", "eta", "phi"], "'event' .* is not one of"),
        (["E", "pt", "eta"], "no column .* phi"),
        (["E", "pt", "eta", "phi", "Jet_phi"], "both name the jet variable phi"),
        (["E", "pt", "eta", "Jet_phi"], "different collections"),
        (["E", "pt", "eta", "nope"], "not found"),
    ],
)
def test_columns_that_are_not_the_variables_are_refused(columns: list[str], match: str) -> None:
    names = ["event", "E", "pt", "eta", "phi", "Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass"]
    with pytest.raises(ColumnError, match=match):
        match_columns(columns, names, "nano.parquet")


def test_swapped_columns_come_back_on_their_own_names(tmp_path: Path) -> None:
    t = _jets()
    back = decompress_dataset(_write(tmp_path, t, columns=["E", "pt", "phi", "eta"])).table
    for v in VARS:
        assert np.abs(back[v].astype(np.float64) - t[v]).max() <= 1e-3 * (
            np.abs(t[v]).max() if v in ("E", "pt") else 1
        )
    assert np.abs(back["eta"] - t["eta"]).max() <= 1e-3  # no 2 pi shifts of |eta| > pi


def test_duplicate_bound_terms_are_refused() -> None:
    with pytest.raises(ConfigError, match="maximum error of phi is given twice"):
        parse_max_error("E=1e-3r,pt=1e-3r,eta=1e-3,phi=1e-3,phi=1")
    with pytest.raises(ConfigError, match="absolute floor of E is given twice"):
        parse_max_error("1e-3", "E=0.1,E=0.2")


def test_phi_in_0_2pi_comes_back_in_0_2pi(tmp_path: Path) -> None:
    t = _jets(2000)
    phi = np.mod(t["phi"], np.float32(2 * np.pi)).astype(np.float32)
    t2 = Table({**{n: t[n] for n in t.names}, "phi": phi})
    back = decompress_dataset(_write(tmp_path, t2)).table
    assert float(back["phi"].min()) >= 0.0
    assert float(back["phi"].max()) < 2 * np.pi
    assert np.abs(back["phi"].astype(np.float64) - phi).max() <= 1e-3


@pytest.mark.parametrize("value", [4.0, -7.0, 1e12, -3e15, 3.4e38])
def test_phi_that_is_not_an_angle_is_stored_exactly(tmp_path: Path, value: float) -> None:
    t = _jets()
    phi = t["phi"].copy()
    phi[[3, 100]] = value
    back = decompress_dataset(_write(tmp_path, Table({**{n: t[n] for n in t.names}, "phi": phi}))).table
    assert back["phi"][3] == np.float32(value)
    assert back["phi"][100] == np.float32(value)


@pytest.mark.parametrize("value", [np.finfo(np.float32).max, -1e12, 2e16, np.inf, np.nan])
def test_sentinel_eta_gives_a_file_that_decodes(tmp_path: Path, value: float) -> None:
    for rows in (50, 3000):  # small tables and large ones (quantised, not stored exactly)
        t = _jets(rows)
        eta = t["eta"].copy()
        eta[5] = value
        t2 = Table({**{n: t[n] for n in t.names}, "eta": eta})
        back = decompress_dataset(_write(tmp_path, t2)).table
        assert back["eta"][5:6].tobytes() == eta[5:6].tobytes()
        assert np.abs(back["eta"][6:].astype(np.float64) - eta[6:]).max() <= 1e-3


@pytest.mark.parametrize("spec", ["E=1e-3r,pt=1e-3r,eta=1e-18,phi=1e-3", "1e-20", "1e-12"])
def test_bounds_finer_than_the_values_store_them_exactly(tmp_path: Path, spec: str) -> None:
    t = _jets(1000)
    eta = np.full(t.num_rows, 100.0, dtype=np.float32)
    t2 = Table({**{n: t[n] for n in t.names}, "eta": eta})
    back = decompress_dataset(_write(tmp_path, t2, spec)).table
    assert back["eta"].tobytes() == eta.tobytes()


def test_encoder_payloads_are_decoded_before_they_are_returned() -> None:
    """Symbols beyond the coder's range would make a payload the reader refuses: exceptions instead."""
    rng = np.random.default_rng(0)
    x = np.stack([rng.uniform(50, 60, 400), rng.uniform(20, 30, 400), rng.uniform(-1, 1, 400)] * 1, 1)
    x = np.concatenate([x, rng.uniform(-3, 3, (400, 1))], axis=1).astype(np.float32)
    x[0, 2] = 1e13  # |eta| / step beyond 2^36
    x[1, 1] = 3e38  # pt near float32's max
    event = np.arange(400) // 4
    payload = encode_jets(event, x, JetBounds.uniform(1e-3))
    back = decode_jets(event, payload)
    assert back[0, 2] == x[0, 2]  # an exception, stored exactly
    assert abs(float(back[1, 1]) - float(x[1, 1])) <= 1e-3 * float(x[1, 1])
    assert payload_header(payload)["exceptions"] >= 1


def _rewrite(
    src: Path,
    dst: Path,
    header: Callable[[dict[str, Any]], dict[str, Any]] = lambda h: h,
    extra: Callable[[Any], None] = lambda w: None,
    payload: Callable[[bytes], bytes] = lambda p: p,
) -> Path:
    """A copy of a bounded file with its header, payloads or sections changed (checksums valid)."""
    with (
        ContainerReader.open(src) as reader,
        write_container(dst, header(dict(reader.header)), force=True) as w,
    ):
        for sec in reader.sections:
            extras = sec.extras
            if sec.name == PAYLOAD_SECTION:
                w.add_bytes(sec.kind, sec.name, payload(reader.read_bytes(sec)), chunk=sec.chunk, **extras)
            else:
                w.add_array(
                    sec.kind, sec.name, reader.read_array(sec), chunk=sec.chunk, encoding=sec.encoding,
                    transform=sec.transform, **extras,
                )  # fmt: skip
        extra(w)
    return dst


def test_orphaned_sections_are_errors(tmp_path: Path) -> None:
    src = _write(tmp_path, _jets())
    bad = _rewrite(
        src, tmp_path / "o.hsqz", extra=lambda w: w.add_array("column", "stray", np.zeros(3), chunk=0)
    )
    with pytest.raises(ContainerError, match="'stray' belongs to no column"):
        decompress_dataset(bad)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda h: {**h, "columns": h["columns"] + [h["columns"][1]]}, "column names repeat"),
        (lambda h: {**h, "layout": "x"}, "layout"),
        (lambda h: {**h, "layout": {"format": "darkmachines", "number_formats": "g6"}}, "layout"),
        (lambda h: {**h, "num_rows": 1 << 30}, "cannot hold them"),
        (lambda h: {**h, "chunk_rows": 1 << 40}, "chunk_rows"),
        (lambda h: {**h, "codec": {**h["codec"], "event_column": "E"}}, "event column"),
        (lambda h: {**h, "columns": "E"}, "invalid data header: columns is not a list"),
    ],
)
def test_crafted_headers_are_one_line_errors(
    tmp_path: Path, change: Callable[[dict[str, Any]], dict[str, Any]], match: str
) -> None:
    src = _write(tmp_path, _jets())
    bad = _rewrite(src, tmp_path / "h.hsqz", header=change)
    with pytest.raises(ContainerError, match=match):
        decompress_dataset(bad)
    with pytest.raises(ContainerError, match=match):
        decompress_to_parquet(bad, tmp_path / "h.parquet", force=True)


def _claim_rows(payload: bytes, rows: int) -> bytes:
    """The payload with its header's row count replaced (sizes fixed up)."""
    if payload[:4] == b"HSQR":  # stored exactly: the count follows the magic
        return payload[:4] + struct.pack("<Q", rows) + payload[12:]
    n_head, n_blob, n_stream = struct.unpack("<III", payload[4:16])
    head = json.loads(payload[16 : 16 + n_head])
    head["rows"] = rows
    new = json.dumps(head, separators=(",", ":")).encode()
    return payload[:4] + struct.pack("<III", len(new), n_blob, n_stream) + new + payload[16 + n_head :]


@pytest.mark.parametrize("rows", [1 << 20, 1 << 30, 1 << 40])
@pytest.mark.parametrize("jets", [30, 3000])  # stored exactly, quantised
def test_payloads_claiming_more_rows_than_the_file_holds(tmp_path: Path, rows: int, jets: int) -> None:
    src = _write(tmp_path, _jets(jets))
    bad = _rewrite(
        src,
        tmp_path / "r.hsqz",
        header=lambda h: {**h, "num_rows": rows},
        payload=lambda p: _claim_rows(p, rows),
    )
    with pytest.raises(ContainerError):
        decompress_to_parquet(bad, tmp_path / "r.parquet", force=True)
    with pytest.raises(ContainerError):
        decompress_dataset(bad)


def test_side_information_without_a_content_size_is_refused() -> None:
    event = np.arange(300) // 3
    x = jet_table(np.random.default_rng(2), 300).stack(VARS)
    payload = encode_jets(event, x, JetBounds.uniform(1e-3))
    n_head, n_blob, n_stream = struct.unpack("<III", payload[4:16])
    blob = payload[16 + n_head : 16 + n_head + n_blob]
    side = zstandard.ZstdDecompressor().decompress(blob)
    unsized = zstandard.ZstdCompressor(write_content_size=False).compress(side)
    assert zstandard.frame_content_size(unsized) == -1
    forged = payload[:4] + struct.pack("<III", n_head, len(unsized), n_stream) + payload[16 : 16 + n_head]
    forged += unsized + payload[16 + n_head + n_blob :]
    with pytest.raises(ContainerError, match="side information"):
        decode_jets(event, forged)


def test_a_file_that_does_not_read_back_is_not_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = file_reader.iter_chunks

    def corrupt(opened: Any) -> Any:
        for chunk in real(opened):
            chunk["pt"] = chunk["pt"] * np.float32(1.5)
            yield chunk

    monkeypatch.setattr(file_reader, "iter_chunks", corrupt)  # the writer's read-back goes through it
    out = tmp_path / "v.hsqz"
    with pytest.raises(VerificationError, match=r"chunk 0 .* \(columns pt\); nothing was published"):
        compress_dataset(Dataset.from_table(_jets()), BoundedJetCodec(parse_max_error("1e-3")), out)
    assert not out.exists()
    assert not list(tmp_path.iterdir())


def test_integer_columns_are_rounded_within_the_bound_never_truncated(tmp_path: Path) -> None:
    t = _jets(4000)
    ints = {v: np.rint(t[v] * (1 if v in ("E", "pt") else 100)).astype(np.int32) for v in VARS}
    t2 = Table({"event": t["event"], **ints})
    b = JetBounds(
        ErrorBound("relative", 1e-3),
        ErrorBound("relative", 1e-3),
        ErrorBound("absolute", 0.6),
        ErrorBound("absolute", 0.6),
    )
    out = tmp_path / "i.hsqz"
    compress_dataset(Dataset.from_table(t2), BoundedJetCodec(b), out)
    back = decompress_dataset(out).table
    for v in ("E", "pt"):
        x, y = ints[v].astype(np.int64), back[v].astype(np.int64)
        assert back[v].dtype == np.int32
        assert (np.abs(y - x) <= 1e-3 * np.abs(x)).all()
    for v in ("eta", "phi"):
        assert np.array_equal(back[v], ints[v])  # an absolute bound below 1: exact
