"""The table coder of the error-bounded codec (codecs.bounded.table_coder): a table's columns, in
order, as one payload coded in the contexts of its events; decoding checks the columns against the
(name, dtype) specs it is given and refuses damaged payloads with a ContainerError."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from hepsqueeze.codecs.bounded.column_bound import LOSSLESS, BoundMode, ColumnBound
from hepsqueeze.codecs.bounded.column_coder import same_bits
from hepsqueeze.codecs.bounded.table_coder import (
    TABLE_MAGIC,
    TABLE_PREFIX,
    EncodedTable,
    decode_table,
    encode_table,
    parse_table,
    table_bits,
)
from hepsqueeze.errors import ContainerError
from hepsqueeze.metrics.bound_check import misses

Columns = dict[str, npt.NDArray[Any]]

REL = ColumnBound(BoundMode.RELATIVE, 1e-3)
ABS = ColumnBound(BoundMode.ABSOLUTE, 1e-3)
ANGLE = ColumnBound(BoundMode.ABSOLUTE, 1e-3, angle=True)
BOUNDS = {
    "Jet_pt": REL,
    "Jet_mass": ColumnBound(BoundMode.RELATIVE, 1e-3, floor=0.01),
    "Jet_eta": ABS,
    "Jet_phi": ANGLE,
    "MET_pt": REL,
    "MET_phi": ANGLE,
}


def jets(rng: np.random.Generator, n_events: int = 300, most: int = 7) -> Columns:
    """A collection table: an event index (runs of rows), pt sorted within events, mixed dtypes."""
    counts = rng.integers(1, most + 1, n_events)
    event = np.repeat(np.arange(n_events, dtype=np.int64), counts)
    pt = rng.exponential(30, event.size) + 15
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    for s, c in zip(starts, counts, strict=True):
        pt[s : s + c] = np.sort(pt[s : s + c])[::-1]
    n = event.size
    return {
        "event": event,
        "Jet_pt": pt.astype(np.float32),
        "Jet_eta": rng.normal(0, 2, n).astype(np.float32),
        "Jet_phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32),
        "Jet_mass": rng.exponential(8, n).astype(np.float32),
        "Jet_hadronFlavour": rng.choice(np.array([0, 4, 5], dtype=np.int32), n),
        "Jet_isTight": rng.random(n) > 0.2,
        "Jet_weight": rng.normal(1, 0.1, n),  # float64, no bound: lossless
    }


def specs(columns: Columns) -> list[tuple[str, np.dtype[Any]]]:
    return [(n, a.dtype) for n, a in columns.items()]


def check(columns: Columns, bounds: dict[str, ColumnBound], event: str | None) -> EncodedTable:
    """Encode and decode; every column in order, dtypes kept, bit for bit the promised values,
    each within its own bound (or exact)."""
    enc = encode_table(columns, bounds, event)
    got = decode_table(enc.payload, specs(columns))
    assert list(got) == list(columns) == list(enc.decoded)
    for name, x in columns.items():
        y = got[name]
        assert y.dtype == x.dtype, name
        assert y.shape == x.shape, name
        assert same_bits(y, enc.decoded[name]), name
        bound = bounds.get(name, LOSSLESS)
        if bound.lossless or x.dtype.kind != "f":
            assert same_bits(y, x), name
        else:
            assert not misses(x, y, bound.error_bound(), bound.floor).any(), name
    assert set(enc.column_bytes) == set(columns)
    assert TABLE_PREFIX.size + sum(enc.column_bytes.values()) < len(enc.payload)
    return enc


def test_a_collection_with_an_event_column() -> None:
    columns = jets(np.random.default_rng(1))
    enc = check(columns, BOUNDS, "event")
    parsed = parse_table(enc.payload)
    assert parsed.event == "event"
    assert parsed.rows == columns["event"].size
    assert list(parsed.columns) == list(columns)
    bits = table_bits(enc.payload)
    assert bits["Jet_pt"]["predictor"] == "delta"  # sorted within events
    assert bits["event"]["kind"] == "integer"


def test_without_an_event_column() -> None:
    columns = jets(np.random.default_rng(2))
    del columns["event"]
    for event in (None, "event"):  # no such column: no structure, coded all the same
        enc = check(columns, BOUNDS, event)
        assert parse_table(enc.payload).event is None


def test_one_row_per_event() -> None:
    rng = np.random.default_rng(3)
    n = 500
    columns: Columns = {
        "run": np.full(n, 1, np.uint32),
        "event": np.arange(n, dtype=np.uint64) + 10**12,
        "MET_pt": rng.exponential(40, n).astype(np.float32),
        "MET_phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32),
        "Flag_good": rng.random(n) > 0.1,
    }
    enc = check(columns, BOUNDS, "event")
    assert parse_table(enc.payload).event == "event"


def test_event_column_of_another_dtype_and_unsorted_events() -> None:
    rng = np.random.default_rng(4)
    columns = jets(rng, 100)
    columns["event"] = columns["event"][::-1].copy()  # descending runs: still runs
    check(columns, BOUNDS, "event")
    columns["event"] = rng.integers(0, 5, columns["event"].size)  # runs of any length, repeated
    check(columns, BOUNDS, "event")
    columns["event"] = columns["event"].astype(np.float64)  # not an integer: no structure
    check(columns, BOUNDS, "event")


@pytest.mark.parametrize("order", [0, 1, 2])
def test_column_order_is_kept(order: int) -> None:
    """Bounds go by name, whatever the position (the event column anywhere)."""
    columns = jets(np.random.default_rng(5))
    names = list(columns)
    shuffled = [names[::-1], names[3:] + names[:3], sorted(names, key=len)][order]
    reordered = {n: columns[n] for n in shuffled}
    enc = check(reordered, BOUNDS, "event")
    assert list(parse_table(enc.payload).columns) == shuffled
    assert list(table_bits(enc.payload)) == shuffled
    same = encode_table(columns, BOUNDS, "event")
    for name in names:  # each column's values are the same in either order
        assert same_bits(enc.decoded[name], same.decoded[name]), name


def test_exceptions_and_column_bytes_are_reported() -> None:
    rng = np.random.default_rng(6)
    columns = jets(rng, 400)
    columns["Jet_pt"][[0, 5, 9]] = [np.nan, np.inf, -1.0]
    columns["Jet_eta"][[1, 2]] = [np.nan, np.inf]
    enc = check(columns, BOUNDS, "event")
    assert enc.exceptions.get("Jet_pt", 0) >= 2
    assert enc.exceptions.get("Jet_eta", 0) >= 2
    assert "event" not in enc.exceptions
    assert "Jet_weight" not in enc.exceptions
    bits = table_bits(enc.payload)
    for name, size in enc.column_bytes.items():
        assert bits[name]["bytes"] == size
        assert bits[name]["rows"] == columns[name].size


def test_table_bits_reports_every_column() -> None:
    columns = jets(np.random.default_rng(7))
    enc = encode_table(columns, BOUNDS, "event")
    bits = table_bits(enc.payload)
    assert list(bits) == list(columns)
    assert bits["Jet_pt"]["kind"] == "relative"
    assert bits["Jet_eta"]["kind"] == "absolute"
    assert bits["Jet_hadronFlavour"]["kind"] == "integer"
    assert bits["Jet_isTight"]["kind"] == "integer"
    assert bits["Jet_weight"]["kind"] == "bytes"
    assert all(b["rows"] == columns["event"].size for b in bits.values())


@pytest.mark.parametrize("rows", [0, 1])
def test_tiny_tables(rows: int) -> None:
    columns = {k: v[:rows] for k, v in jets(np.random.default_rng(8), 5).items()}
    check(columns, BOUNDS, "event")
    check(columns, {}, None)


def test_a_table_without_columns() -> None:
    enc = encode_table({}, {}, "event")
    assert decode_table(enc.payload, []) == {}
    assert parse_table(enc.payload).rows == 0
    assert table_bits(enc.payload) == {}


def test_missing_bounds_are_lossless() -> None:
    columns = jets(np.random.default_rng(9))
    enc = check(columns, {}, "event")
    for name, x in columns.items():
        assert same_bits(enc.decoded[name], x)


# ----------------------------------------------------------------------------- specs


def test_specs_mismatch_is_refused() -> None:
    columns = jets(np.random.default_rng(10), 50)
    payload = encode_table(columns, BOUNDS, "event").payload
    good = specs(columns)
    wrong = {
        "reordered": good[::-1],
        "missing": good[:-1],
        "extra": [*good, ("Jet_extra", np.dtype("f4"))],
        "renamed": [("Jet_PT" if n == "Jet_pt" else n, d) for n, d in good],
        "dtype": [(n, np.dtype("f8") if n == "Jet_pt" else d) for n, d in good],
        "int dtype": [(n, np.dtype("i8") if n == "Jet_hadronFlavour" else d) for n, d in good],
        "event dtype": [(n, np.dtype("i4") if n == "event" else d) for n, d in good],
        "none": [],
    }
    for what, spec in wrong.items():
        with pytest.raises(ContainerError):
            decode_table(payload, spec)
        assert what


# ----------------------------------------------------------------------------- damaged payloads


def header_of(payload: bytes) -> tuple[dict[str, Any], bytes]:
    n_head = TABLE_PREFIX.unpack_from(payload)[1]
    head = json.loads(payload[TABLE_PREFIX.size : TABLE_PREFIX.size + n_head])
    return head, payload[TABLE_PREFIX.size + n_head :]


def with_header(head: Any, body: bytes) -> bytes:
    text = head if isinstance(head, bytes) else json.dumps(head).encode()
    return TABLE_PREFIX.pack(TABLE_MAGIC, len(text)) + text + body


SMALL = {k: v for k, v in jets(np.random.default_rng(11), 40, most=3).items() if k != "Jet_weight"}


def test_truncated_payloads_are_refused() -> None:
    payload = encode_table(SMALL, BOUNDS, "event").payload
    for size in range(len(payload)):
        with pytest.raises(ContainerError):
            decode_table(payload[:size], specs(SMALL))
    for size in range(0, len(payload), 7):
        with pytest.raises(ContainerError):
            parse_table(payload[:size])
    with pytest.raises(ContainerError, match="trailing"):
        parse_table(payload + b"\x00")


def test_every_byte_flip_is_refused_or_harmless() -> None:
    """One byte damaged anywhere (the table header, each column's): a ContainerError or the very
    values meant. (The column coder's own flips, bit by bit: test_column_coder.py.)"""
    small = {n: SMALL[n][:40] for n in ("event", "Jet_pt", "Jet_eta", "Jet_isTight")}
    enc = encode_table(small, BOUNDS, "event")
    payload = enc.payload
    n_head = TABLE_PREFIX.unpack_from(payload)[1]
    dtype_text = [i for i in range(len(payload)) if payload[i : i + 9] == b'"dtype":"']
    unexpected: list[tuple[int, str]] = []
    for i in range(len(payload)):
        for mask in (0x01, 0xFF):
            damaged = bytearray(payload)
            damaged[i] ^= mask
            try:
                got = decode_table(bytes(damaged), specs(small))
            except ContainerError:
                continue
            except Exception as exc:
                unexpected.append((i, type(exc).__name__))
                continue
            for name in small:
                assert same_bits(got[name], enc.decoded[name]), (i, mask, name)
    # the known escape of the column coder (test_column_coder.py::test_dtype_text_that_numpy_cannot_parse)
    assert all(any(0 <= i - at - 9 < 4 for at in dtype_text) for i, _ in unexpected), unexpected[:10]
    assert n_head > 0


def test_damaged_headers_are_refused() -> None:
    payload = encode_table(SMALL, BOUNDS, "event").payload
    head, body = header_of(payload)
    names = [n for n, _ in head["columns"]]
    bad_heads: list[Any] = [
        [],
        "text",
        None,
        {k: v for k, v in head.items() if k != "columns"},
        {k: v for k, v in head.items() if k != "rows"},
        {k: v for k, v in head.items() if k != "event"},
        {**head, "format": 2},
        {**head, "rows": -1},
        {**head, "rows": 1 << 40},
        {**head, "rows": 1.5},
        {**head, "rows": True},
        {**head, "event": 3},
        {**head, "event": "Jet_nope"},
        {**head, "columns": 5},
        {**head, "columns": [["event"]]},
        {**head, "columns": [[n, -1] for n in names]},
        {**head, "columns": [[names[0], 10**9]]},
        {**head, "columns": [[n, s + 1] for n, s in head["columns"]]},
        {**head, "columns": [[names[0], head["columns"][0][1]]] * 2},
        {**head, "columns": [[n, float("nan")] for n, _ in head["columns"]]},
        {**head, "columns": head["columns"][:-1]},
        b"{not json",
        b"\xff\xfe",
    ]
    for bad in bad_heads:
        with pytest.raises(ContainerError):
            parse_table(with_header(bad, body))
        with pytest.raises(ContainerError):
            decode_table(with_header(bad, body), specs(SMALL))
    with pytest.raises(ContainerError, match="bad magic"):
        parse_table(b"HSQX" + payload[4:])
    with pytest.raises(ContainerError, match="truncated"):
        parse_table(TABLE_PREFIX.pack(TABLE_MAGIC, 1 << 30) + payload[TABLE_PREFIX.size :])
    # the column payloads swapped: each column's payload names its own rows, so decoding fails
    swapped = {**head, "rows": head["rows"] + 1}
    with pytest.raises(ContainerError):
        decode_table(with_header(swapped, body), specs(SMALL))


def test_a_column_payload_in_the_wrong_slot() -> None:
    """Two columns' payloads exchanged (sizes adjusted): the dtype check or the digest refuses it."""
    columns = {"a": SMALL["Jet_pt"], "b": SMALL["Jet_hadronFlavour"], "event": SMALL["event"]}
    enc = encode_table(columns, BOUNDS, "event")
    parsed = parse_table(enc.payload)
    head, _ = header_of(enc.payload)
    pa, pb = parsed.columns["a"], parsed.columns["b"]
    head["columns"] = [["a", len(pb)], ["b", len(pa)], ["event", len(parsed.columns["event"])]]
    with pytest.raises(ContainerError):
        decode_table(with_header(head, pb + pa + parsed.columns["event"]), specs(columns))


def test_infinite_column_size() -> None:
    head, body = header_of(encode_table(SMALL, BOUNDS, "event").payload)
    head["columns"][0][1] = 1e400
    with pytest.raises(ContainerError):
        parse_table(with_header(head, body))


def test_deeply_nested_table_header() -> None:
    with pytest.raises(ContainerError):
        parse_table(with_header(b"[" * 100_000, b""))


def test_prefix_layout() -> None:
    """The documented prefix: magic, then the header's byte count."""
    payload = encode_table(SMALL, BOUNDS, "event").payload
    magic, n_head = struct.unpack_from("<4sI", payload)
    assert magic == TABLE_MAGIC
    assert TABLE_PREFIX.size == 8
    assert json.loads(payload[8 : 8 + n_head])["rows"] == SMALL["event"].size
