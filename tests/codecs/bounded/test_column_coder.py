"""The column coder of the error-bounded codec (codecs.bounded.column_coder): every decoded value
within the bound of its column in the column's own dtype (judged by ``misses``) or bit-exact, the
decoder's values bit for bit those the encoder promised (``EncodedColumn.decoded``), and a damaged
payload refused with a ContainerError, never another exception, never other values."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hepsqueeze.codecs.bounded.column_bound import LOSSLESS, BoundMode, ColumnBound, mantissa_bound
from hepsqueeze.codecs.bounded.column_coder import (
    COLUMN_MAGIC,
    COLUMN_PREFIX,
    EncodedColumn,
    Kind,
    Predictor,
    Structure,
    column_bits,
    decode_column,
    encode_column,
    parse_column,
    same_bits,
)
from hepsqueeze.errors import ContainerError
from hepsqueeze.metrics.bound_check import misses

FLOATS = [np.dtype(d) for d in ("f2", "f4", "f8")]
INTEGERS = [np.dtype(d) for d in ("i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8")]
ABS = ColumnBound(BoundMode.ABSOLUTE, 1e-3)
REL = ColumnBound(BoundMode.RELATIVE, 1e-3)
BOUNDS = {
    "abs-1e-3": ABS,
    "abs-0.05": ColumnBound(BoundMode.ABSOLUTE, 0.05),
    "rel-1e-3": REL,
    "rel-0.05": ColumnBound(BoundMode.RELATIVE, 0.05),
    "rel-floor": ColumnBound(BoundMode.RELATIVE, 1e-3, floor=0.1),
    "bits-10": ColumnBound(BoundMode.RELATIVE, mantissa_bound(10), bits=10),
    "angle": ColumnBound(BoundMode.ABSOLUTE, 1e-3, angle=True),
    "lossless": LOSSLESS,
}
SPECIALS = [
    math.nan, math.inf, -math.inf, 0.0, -0.0, 1e30, -1e30, 3e38, -3e38, 1e-45, -1e-40, 1.1754944e-38,
    1e-3, 5e-4, -5e-4, 6.5e4, -6.5e4, 3.0, -3.0,
]  # fmt: skip


def flat(rows: int) -> Structure:
    return Structure.of(None, rows)


def events(rng: np.random.Generator, n_events: int, most: int = 6) -> npt.NDArray[np.int64]:
    """An event index: runs of 1..most rows per event, in order."""
    return np.repeat(np.arange(n_events, dtype=np.int64), rng.integers(1, most + 1, n_events))


def round_trip(
    values: npt.NDArray[Any], bound: ColumnBound, structure: Structure | None = None, name: str = "x"
) -> tuple[EncodedColumn, npt.NDArray[Any]]:
    """Encode and decode ``values``; check the promise on every value and return both."""
    structure = flat(values.size) if structure is None else structure
    enc = encode_column(values, bound, structure)
    got = decode_column(enc.payload, name, structure)
    assert got.dtype == values.dtype
    assert got.shape == values.shape
    assert same_bits(got, enc.decoded), "the decoder returned other values than the encoder promised"
    if bound.lossless or values.dtype.kind != "f":
        assert same_bits(got, values)
    else:
        missed = misses(values, got, bound.error_bound(), bound.floor)
        assert not missed.any(), f"{values[missed][:5]} decoded as {got[missed][:5]}"
    info = column_bits(enc.payload, name)
    assert info["rows"] == values.size
    assert info["bytes"] == len(enc.payload)
    assert info["exceptions"] == enc.exceptions
    return enc, got


def with_specials(rng: np.random.Generator, dtype: np.dtype[Any], n: int = 3000) -> npt.NDArray[Any]:
    x = rng.normal(0, 10, n)
    x[: len(SPECIALS)] = SPECIALS
    rng.shuffle(x)
    with np.errstate(over="ignore"):
        return x.astype(dtype)


# ----------------------------------------------------------------------------- floats


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("bound", list(BOUNDS.values()), ids=list(BOUNDS))
def test_float_columns_round_trip_within_bound(dtype: np.dtype[Any], bound: ColumnBound) -> None:
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0, 10, 1500), rng.exponential(50, 500)]).astype(dtype)
    enc, _ = round_trip(x, bound)
    kind = column_bits(enc.payload, "x")["kind"]
    if bound.lossless:
        assert kind == Kind.BYTES.value
    elif dtype.itemsize >= 4:  # float32/64 at these bounds: quantised, and smaller than the values
        assert kind == bound.mode.value
        assert len(enc.payload) < x.nbytes
    assert kind in {k.value for k in Kind}


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("bound", [ABS, REL, BOUNDS["rel-floor"], BOUNDS["abs-0.05"]], ids=str)
def test_nan_inf_huge_and_subnormal_values(dtype: np.dtype[Any], bound: ColumnBound) -> None:
    """NaN (payload kept), +-inf, huge values and subnormals come back exactly or within bound."""
    rng = np.random.default_rng(5)
    x = with_specials(rng, dtype)
    enc, got = round_trip(x, bound)
    finite = np.isfinite(x.astype(np.float64))
    assert same_bits(got[~finite], x[~finite])  # NaN, inf: bit for bit
    if column_bits(enc.payload, "x")["kind"] != Kind.BYTES.value:
        assert enc.exceptions > 0  # NaN and inf at least are stored exactly


@pytest.mark.parametrize("bound", [ABS, REL], ids=str)
def test_nan_payloads_are_kept(bound: ColumnBound) -> None:
    x = np.random.default_rng(1).normal(0, 1, 2000).astype(np.float32)
    x[[3, 10, 500]] = np.array([0x7FC00001, 0xFFFFFFFF, 0xFFC12345], dtype=np.uint32).view(np.float32)
    _, got = round_trip(x, bound)
    assert same_bits(got[[3, 10, 500]], x[[3, 10, 500]])


@pytest.mark.parametrize("bound", [ABS, REL], ids=str)
def test_signalling_nan_is_kept_without_a_warning(bound: ColumnBound) -> None:
    x = np.random.default_rng(1).normal(0, 1, 2000).astype(np.float32)
    x[500] = np.array([0x7F800001], dtype=np.uint32).view(np.float32)[0]
    structure = flat(x.size)
    enc = encode_column(x, bound, structure)
    got = decode_column(enc.payload, "x", structure)
    assert same_bits(got[500:501], x[500:501])
    assert same_bits(got, enc.decoded)


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_relative_bounds_keep_signs_and_zeros(dtype: np.dtype[Any]) -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(0, 30, 3000).astype(dtype)
    x[::17] = 0.0
    x[5::31] = -0.0
    _, got = round_trip(x, REL)
    x64, y64 = x.astype(np.float64), got.astype(np.float64)
    assert (np.sign(y64) == np.sign(x64)).all()
    assert (y64[x64 == 0] == 0).all()


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("floor", [0.01, 0.5, 3.0])
def test_values_within_the_floor_decode_as_zero(dtype: np.dtype[Any], floor: float) -> None:
    rng = np.random.default_rng(11)
    x = (rng.normal(0, 5, 4000) * rng.choice([1.0, 1e-3], 4000)).astype(dtype)
    bound = ColumnBound(BoundMode.RELATIVE, 1e-2, floor=floor)
    enc, got = round_trip(x, bound)
    assert column_bits(enc.payload, "x")["kind"] == Kind.RELATIVE.value
    small = np.abs(x.astype(np.float64)) <= floor
    assert small.any()
    assert (~small).any()
    assert (got[small] == 0).all()
    rel = np.abs(got[~small].astype(np.float64) - x[~small]) / np.abs(x[~small].astype(np.float64))
    assert rel.max() <= 1e-2


@pytest.mark.parametrize(
    ("dtype", "bound"),
    [
        ("f4", ColumnBound(BoundMode.ABSOLUTE, 1e-6)),
        ("f4", ColumnBound(BoundMode.ABSOLUTE, 1e-12)),
        ("f4", ColumnBound(BoundMode.RELATIVE, 1e-9)),
        ("f2", ColumnBound(BoundMode.ABSOLUTE, 1e-5)),
        ("f2", ColumnBound(BoundMode.RELATIVE, 1e-4)),
        ("f8", ColumnBound(BoundMode.ABSOLUTE, 1e-14)),
        ("f8", ColumnBound(BoundMode.RELATIVE, 1e-17)),
    ],
    ids=str,
)
def test_bounds_finer_than_the_dtype_store_values_exactly(dtype: str, bound: ColumnBound) -> None:
    """Where the dtype cannot represent a value other than the original within the bound (its
    neighbours are further), the value must come back bit for bit."""
    rng = np.random.default_rng(13)
    x = rng.normal(0, 1, 3000)
    x[::97] *= 1e4  # a few large values, whose float spacing exceeds small absolute bounds
    x = x.astype(dtype)
    _, got = round_trip(x, bound)
    x64 = np.abs(x.astype(np.float64))
    allowed = bound.value * x64 if bound.mode == BoundMode.RELATIVE else np.full_like(x64, bound.value)
    nearest = np.spacing(x64.astype(dtype)).astype(np.float64) / 2  # the closer neighbour (powers of 2)
    exact = nearest > allowed
    assert exact.any()
    assert same_bits(got[exact], x[exact])


@pytest.mark.parametrize("bits", [0, 4, 7, 10, 12, 16, 23])
def test_mantissa_bits_bounds(bits: int) -> None:
    assert mantissa_bound(bits) == 2.0 ** -(bits + 1)
    rng = np.random.default_rng(bits)
    x = (rng.lognormal(3, 2, 3000) * rng.choice([-1, 1], 3000)).astype(np.float32)
    bound = ColumnBound(BoundMode.RELATIVE, mantissa_bound(bits), bits=bits)
    _, got = round_trip(x, bound)
    rel = np.abs(got.astype(np.float64) - x) / np.abs(x.astype(np.float64))
    assert rel.max() <= mantissa_bound(bits)


def test_absolute_bound_keeps_angles_on_their_branch() -> None:
    """Clipping to the chunk's [min, max]: phi in [0, 2 pi) never comes back below 0 or past max."""
    rng = np.random.default_rng(17)
    phi = rng.uniform(0, 2 * np.pi, 3000).astype(np.float32)
    phi[:3] = [0.0, np.nextafter(np.float32(2 * np.pi), np.float32(0)), 1e-7]
    for bound in (BOUNDS["angle"], ColumnBound(BoundMode.ABSOLUTE, 0.1, angle=True)):
        _, got = round_trip(phi, bound)
        assert got.min() >= phi.min()
        assert got.max() <= phi.max()
        assert got.min() >= 0


# ----------------------------------------------------------------------------- integers and booleans


@pytest.mark.parametrize("dtype", INTEGERS, ids=str)
@pytest.mark.parametrize("bound", [LOSSLESS, ABS, REL], ids=str)
def test_integer_columns_are_exact(dtype: np.dtype[Any], bound: ColumnBound) -> None:
    """Integers are exact whatever the bound: the full range and a small range (symbols)."""
    rng = np.random.default_rng(19)
    info = np.iinfo(dtype)
    wide = rng.integers(info.min, info.max, 500, dtype=dtype, endpoint=True)
    wide[:2] = [info.min, info.max]
    round_trip(wide, bound)
    small = (rng.integers(0, 20, 1000) + (info.min if info.min else 0) // 2).astype(dtype)
    enc, _ = round_trip(small, bound)
    assert column_bits(enc.payload, "x")["kind"] == Kind.INTEGER.value


def test_uint64_values_beyond_int64() -> None:
    x = np.array([2**63, 2**64 - 1, 0, 5, 2**63 + 1, 2**63 - 1], dtype=np.uint64)
    round_trip(x, LOSSLESS)
    round_trip(np.repeat(x, 50), ABS, Structure.of(np.arange(300) // 4, 300))
    y = np.full(1000, 2**63, dtype=np.uint64) + np.arange(1000, dtype=np.uint64)
    round_trip(y, LOSSLESS)


@pytest.mark.parametrize("structure", [False, True])
def test_boolean_columns_are_exact(structure: bool) -> None:
    rng = np.random.default_rng(23)
    ev = events(rng, 200)
    x = rng.random(ev.size) > 0.3
    enc, _ = round_trip(x, ABS, Structure.of(ev if structure else None, ev.size))
    assert column_bits(enc.payload, "x")["kind"] == Kind.INTEGER.value
    round_trip(np.ones(10, dtype=bool), LOSSLESS)


@pytest.mark.parametrize("dtype", [*FLOATS, *INTEGERS, np.dtype(bool)], ids=str)
@pytest.mark.parametrize("bound", [LOSSLESS, ABS, REL], ids=str)
def test_empty_columns(dtype: np.dtype[Any], bound: ColumnBound) -> None:
    enc, got = round_trip(np.zeros(0, dtype=dtype), bound)
    assert got.size == 0
    assert enc.exceptions == 0
    assert column_bits(enc.payload, "x")["bits_per_value"] == 0.0


@pytest.mark.parametrize("dtype", [np.dtype("f4"), np.dtype("i4")], ids=str)
def test_single_value_and_constant_columns(dtype: np.dtype[Any]) -> None:
    for x in (np.array([42], dtype=dtype), np.full(5000, 7, dtype=dtype)):
        for bound in (ABS, REL, LOSSLESS):
            round_trip(x, bound)
            round_trip(x, bound, Structure.of(np.zeros(x.size, dtype=np.int64), x.size))


# ----------------------------------------------------------------------------- event structure


def test_structure_of_events() -> None:
    s = Structure.of(np.array([4, 4, 4, 4, 7, 9, 9]), 7)
    assert s.rows == 7
    assert not s.flat
    assert s.first.tolist() == [True, False, False, False, True, True, False]
    assert s.rank.tolist()[:3] == [0, 1, 2]
    assert s.rank.tolist()[4:] == [0, 0, 1]
    assert (s.rank[s.first] == 0).all()
    assert (s.rank[~s.first] >= 1).all()
    assert s.start.tolist() == [0, 0, 0, 0, 4, 5, 5]
    one = Structure.of(np.arange(5), 5)
    assert one.flat
    assert one.first.all()
    assert Structure.of(None, 3).flat
    assert Structure.of(np.zeros(0, dtype=np.int64), 0).rows == 0


def test_sorted_pt_within_events_takes_the_delta_predictor() -> None:
    rng = np.random.default_rng(29)
    ev = events(rng, 600, most=8)
    pt = rng.exponential(30, ev.size) + 15
    for e in np.unique(ev):  # NanoAOD order: pt descending within each event
        rows = ev == e
        pt[rows] = np.sort(pt[rows])[::-1]
    x = pt.astype(np.float32)
    structure = Structure.of(ev, ev.size)
    enc, _ = round_trip(x, REL, structure)
    info = column_bits(enc.payload, "x")
    assert info["kind"] == Kind.RELATIVE.value
    assert info["predictor"] == Predictor.DELTA.name.lower()
    round_trip(x, REL, flat(x.size))  # and without the events, within bound all the same
    # decoded in another structure of as many rows: refused (groups or digest), never other values
    with pytest.raises(ContainerError):
        decode_column(enc.payload, "x", flat(x.size))
    with pytest.raises(ContainerError):
        decode_column(enc.payload, "x", Structure.of(np.arange(x.size) // 2, x.size))


def test_independent_values_take_the_raw_predictor() -> None:
    rng = np.random.default_rng(31)
    ev = events(rng, 600, most=8)
    x = rng.normal(0, 2, ev.size).astype(np.float32)
    enc, _ = round_trip(x, ABS, Structure.of(ev, ev.size))
    assert column_bits(enc.payload, "x")["predictor"] == Predictor.RAW.name.lower()


@pytest.mark.parametrize("bound", [ABS, REL, BOUNDS["rel-floor"], LOSSLESS], ids=str)
@pytest.mark.parametrize("dtype", [np.dtype("f4"), np.dtype("f8"), np.dtype("i2"), np.dtype("u8")], ids=str)
def test_round_trip_with_events(bound: ColumnBound, dtype: np.dtype[Any]) -> None:
    rng = np.random.default_rng(37)
    ev = events(rng, 400)
    x = (
        with_specials(rng, dtype, ev.size)
        if dtype.kind == "f"
        else rng.integers(0, 100, ev.size).astype(dtype)
    )
    round_trip(x, bound, Structure.of(ev, ev.size))


def test_one_row_per_event_predicts_from_the_previous_event() -> None:
    """A per-event table (each row its own event): DELTA works across rows."""
    n = 3000
    x = (np.arange(n) * 0.01 + 5).astype(np.float32)  # a slow ramp: differences are tiny
    structure = Structure.of(np.arange(n), n)
    assert structure.flat
    enc, _ = round_trip(x, ABS, structure)
    assert column_bits(enc.payload, "x")["predictor"] == Predictor.DELTA.name.lower()


# ----------------------------------------------------------------------------- property


@st.composite
def float_columns(draw: st.DrawFn) -> tuple[npt.NDArray[np.float32], ColumnBound, Structure]:
    n = draw(st.integers(0, 300))
    elements = st.floats(width=32, allow_nan=True, allow_infinity=True, allow_subnormal=True)
    x = draw(hnp.arrays(np.float32, n, elements=elements))
    if n and draw(st.booleans()):  # physics-like magnitudes in part of the column
        scale = draw(st.sampled_from([1e-3, 1.0, 100.0, 1e5]))
        x[: n // 2 + 1] = (np.linspace(-3, 3, n // 2 + 1) * scale).astype(np.float32)
    mode = draw(st.sampled_from([BoundMode.ABSOLUTE, BoundMode.RELATIVE]))
    value = 10 ** draw(st.floats(-6, -1))
    floor = draw(st.sampled_from([0.0, 0.0, 1e-3, 1.0])) if mode == BoundMode.RELATIVE else 0.0
    bound = ColumnBound(mode, value, floor=floor)
    ev = None
    if n and draw(st.booleans()):
        ev = np.sort(draw(hnp.arrays(np.int64, n, elements=st.integers(0, max(1, n // 3)))))
    return x, bound, Structure.of(ev, n)


@settings(max_examples=30, deadline=None)
@given(float_columns())
def test_property_float32_columns_never_miss(
    case: tuple[npt.NDArray[np.float32], ColumnBound, Structure],
) -> None:
    x, bound, structure = case
    round_trip(x, bound, structure)


def test_values_near_float32_max_without_a_warning() -> None:
    x = np.full(1000, 3.3835866e38, dtype=np.float32)
    x[:500] = np.linspace(1, 100, 500)
    round_trip(x, ColumnBound(BoundMode.RELATIVE, 1e-2))


# ----------------------------------------------------------------------------- damaged payloads


def corpus() -> dict[str, tuple[npt.NDArray[Any], ColumnBound, Structure]]:
    """Small payloads of every kind (quantised ones with exceptions)."""
    rng = np.random.default_rng(41)
    ev = events(rng, 120, most=4)
    n = ev.size
    s = Structure.of(ev, n)
    pt = (15 + rng.exponential(30, n)).astype(np.float32)
    pt[[3, 9]] = [np.nan, 1e-44]
    eta = rng.normal(0, 2, n).astype(np.float32)
    eta[[4, 11]] = [np.inf, np.nan]
    return {
        "relative": (pt, ColumnBound(BoundMode.RELATIVE, 1e-2), s),
        "absolute": (eta, ColumnBound(BoundMode.ABSOLUTE, 1e-2), s),
        "flat-relative": (pt, ColumnBound(BoundMode.RELATIVE, 1e-2, floor=20.0), flat(n)),
        "integer": (rng.integers(-5, 5, n).astype(np.int32), LOSSLESS, s),
        "bool": (rng.random(n) > 0.5, LOSSLESS, s),
        "bytes": (eta, LOSSLESS, s),
    }


CORPUS = corpus()
KINDS = {
    "relative": "relative",
    "absolute": "absolute",
    "flat-relative": "relative",
    "integer": "integer",
    "bool": "integer",
    "bytes": "bytes",
}


def dtype_field(payload: bytes) -> range:
    """The byte positions of the header's dtype text."""
    at = payload.index(b'"dtype":"') + len(b'"dtype":"')
    return range(at, payload.index(b'"', at))


@pytest.mark.parametrize("case", list(CORPUS))
def test_every_bit_flip_is_refused_or_harmless(case: str) -> None:
    """Any one bit flipped anywhere: a ContainerError, or exactly the values meant (the xxh64 of
    the decoded values, and zstd's checksum, guard the rest)."""
    x, bound, structure = CORPUS[case]
    enc = encode_column(x, bound, structure)
    assert column_bits(enc.payload, "x")["kind"] == KINDS[case]
    payload = enc.payload
    unexpected: list[tuple[int, int, str]] = []
    silent: list[tuple[int, int]] = []
    for i in range(len(payload)):
        for bit in range(8):
            damaged = bytearray(payload)
            damaged[i] ^= 1 << bit
            try:
                got = decode_column(bytes(damaged), "x", structure)
            except ContainerError:
                continue
            except Exception as exc:
                unexpected.append((i, bit, type(exc).__name__))
                continue
            if not same_bits(got, enc.decoded):
                silent.append((i, bit))
    assert not silent, f"bit flips at (byte, bit) {silent[:10]} decoded to other values without an error"
    # the one known escape (test_dtype_text_that_numpy_cannot_parse): the dtype's text itself
    assert all(i in dtype_field(payload) for i, _, _ in unexpected), unexpected[:10]


@pytest.mark.parametrize("case", list(CORPUS))
def test_truncated_and_extended_payloads_are_refused(case: str) -> None:
    x, bound, structure = CORPUS[case]
    payload = encode_column(x, bound, structure).payload
    for size in range(len(payload)):
        with pytest.raises(ContainerError):
            decode_column(payload[:size], "x", structure)
    for extra in (b"\x00", b"HSQC", payload):
        with pytest.raises(ContainerError):
            decode_column(payload + extra, "x", structure)


@pytest.mark.parametrize("case", list(CORPUS))
def test_wrong_row_count_is_refused(case: str) -> None:
    x, bound, structure = CORPUS[case]
    payload = encode_column(x, bound, structure).payload
    for rows in (0, 1, x.size - 1, x.size + 1, 2 * x.size):
        with pytest.raises(ContainerError, match="'Jet_pt' holds"):
            decode_column(payload, "Jet_pt", Structure.of(None, rows))


def repack(payload: bytes, **changes: Any) -> bytes:
    """``payload`` with its JSON header's fields changed (sizes kept consistent)."""
    h = parse_column(payload, "x")
    head = {**h.head, **changes}
    text = json.dumps(head, separators=(",", ":")).encode()
    return COLUMN_PREFIX.pack(COLUMN_MAGIC, len(text), len(h.side), len(h.stream)) + text + h.side + h.stream


HOSTILE_VALUES: list[Any] = [
    None, True, -1, 2, 2**40, 2**70, 1.5, 1e400, -1e400, math.nan, "", "x", [], [1.0], [1e400, -1e400], {},
    "<f8", "<i4", "|b1", "<f16", 1e-300,
]  # fmt: skip


@pytest.mark.parametrize("case", ["relative", "absolute", "integer", "bytes"])
def test_crafted_headers_are_refused(case: str) -> None:
    """A header whose sizes add up but whose fields lie (as a hostile file may have them): a
    ContainerError or values of the rows asked for, never another exception. (A crafted header may
    describe other values consistently, e.g. a bytes payload's float bits as int32: the digest
    guards against corruption, not forgery; the table coder checks each column's dtype.)"""
    x, bound, structure = CORPUS[case]
    enc = encode_column(x, bound, structure)
    head = parse_column(enc.payload, "x").head
    for key in [*head, "extra"]:
        for value in HOSTILE_VALUES:
            payload = repack(enc.payload, **{key: value})
            try:
                got = decode_column(payload, "x", structure)
            except ContainerError:
                continue
            assert got.shape == x.shape, (key, value)
            if key not in ("dtype", "extra"):
                assert same_bits(got, enc.decoded), (key, value)
    head_values: list[Any] = [[], "text", 5, None]
    for head_value in head_values:
        h = parse_column(enc.payload, "x")
        text = json.dumps(head_value).encode()
        bad = (
            COLUMN_PREFIX.pack(COLUMN_MAGIC, len(text), len(h.side), len(h.stream)) + text + h.side + h.stream
        )
        with pytest.raises(ContainerError):
            decode_column(bad, "x", structure)


def test_bad_magic_format_and_sizes() -> None:
    x, bound, structure = CORPUS["absolute"]
    payload = encode_column(x, bound, structure).payload
    with pytest.raises(ContainerError, match="bad magic"):
        decode_column(b"HSQX" + payload[4:], "x", structure)
    with pytest.raises(ContainerError, match="format"):
        decode_column(repack(payload, format=2), "x", structure)
    with pytest.raises(ContainerError, match="do not add up"):
        decode_column(payload[:-1] + b"", "x", structure)
    with pytest.raises(ContainerError, match="'Jet_eta'"):
        parse_column(b"", "Jet_eta")


@pytest.mark.parametrize("text", [",f4", "(i4,2)"])
def test_dtype_text_that_numpy_cannot_parse(text: str) -> None:
    x, bound, structure = CORPUS["absolute"]
    payload = repack(encode_column(x, bound, structure).payload, dtype=text)
    with pytest.raises(ContainerError):
        decode_column(payload, "x", structure)


def test_deeply_nested_header() -> None:
    text = b"[" * 100_000
    payload = COLUMN_PREFIX.pack(COLUMN_MAGIC, len(text), 0, 0) + text
    with pytest.raises(ContainerError):
        decode_column(payload, "x", flat(0))


def test_unsigned_dtype_on_an_absolute_payload() -> None:
    x, bound, structure = CORPUS["absolute"]
    assert x[np.isfinite(x)].min() < -1  # the clip range starts below 0
    payload = repack(encode_column(x, bound, structure).payload, dtype="<u4")
    with pytest.raises(ContainerError):
        decode_column(payload, "x", structure)


def test_column_bits_of_damaged_headers() -> None:
    """column_bits parses the header first: a payload that is not one is a ContainerError."""
    for bad in (b"", b"HSQC", b"XXXX" + bytes(20)):
        with pytest.raises(ContainerError):
            column_bits(bad, "x")


@pytest.mark.parametrize(("key", "value"), [("predictor", 7), ("exceptions", "x")])
def test_column_bits_of_a_crafted_header(key: str, value: Any) -> None:
    x, bound, structure = CORPUS["absolute"]
    payload = repack(encode_column(x, bound, structure).payload, **{key: value})
    with pytest.raises(ContainerError):
        column_bits(payload, "x")


def test_a_wide_peaked_column_plans_tables_its_reader_takes() -> None:
    """Regression: uniform values followed by as many zeros made the planner choose an ANS table of
    2,247 bins, which readers refuse (at most TABLE_BINS + 2), so the file failed its read-back."""
    from hepsqueeze.codecs.bounded.column_bound import BoundMode, ColumnBound
    from hepsqueeze.codecs.bounded.column_coder import Structure, decode_column, encode_column

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-4.5, 4.5, 20_000), np.zeros(20_000)]).astype(np.float32)
    bound = ColumnBound(BoundMode.ABSOLUTE, 1e-3)
    structure = Structure.of(None, x.size)
    encoded = encode_column(x, bound, structure)
    back = decode_column(encoded.payload, "x", structure)
    assert np.all(np.abs(back.astype(np.float64) - x) <= 1e-3)
