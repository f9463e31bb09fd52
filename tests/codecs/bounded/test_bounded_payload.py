"""The error-bounded jet payload (codecs.bounded.payload): every value within its bound, bit-exact
decoding, edge cases."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hepsqueeze.codecs.bounded.bounds import JetBounds
from hepsqueeze.codecs.bounded.payload import (
    block_cuts,
    decode_jets,
    encode_jets,
    pack_low,
    parse_block,
    payload_header,
    payload_stats,
    unpack_low,
)
from hepsqueeze.errors import ConfigError, ContainerError, InputError
from hepsqueeze.io.table import Table
from hepsqueeze.metrics.bounds import ErrorBound


def _errors(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN/inf/0 inputs: checked separately
        rel = np.abs(y64[:, :2] - x64[:, :2]) / np.abs(x64[:, :2])
        d = y64[:, 2:] - x64[:, 2:]
        d[:, 1] = (d[:, 1] + math.pi) % (2 * math.pi) - math.pi
    return np.column_stack([rel, np.abs(d)])


@pytest.mark.parametrize("eps", [1e-2, 1e-3, 1e-4])
def test_generated_jets_within_bound_and_smaller_than_float32(jets: Table, eps: float) -> None:
    x = jets.stack(("E", "pt", "eta", "phi"))
    payload = encode_jets(jets["event"], x, JetBounds.uniform(eps))
    y = decode_jets(jets["event"], payload)
    assert y.dtype == np.float32
    assert y.shape == x.shape
    assert (_errors(x, y) <= eps).all()
    assert payload_stats(payload)["total"] == len(payload)
    if eps >= 1e-3:  # static tables cost much on ~300 jets; large samples: see docs/benchmarks.md
        assert len(payload) < x.nbytes


def test_per_variable_bounds(jets: Table) -> None:
    x = jets.stack(("E", "pt", "eta", "phi"))
    bounds = JetBounds(
        ErrorBound("relative", 1e-2),
        ErrorBound("relative", 1e-3),
        ErrorBound("absolute", 1e-4),
        ErrorBound("absolute", 3e-3),
    )
    err = _errors(x, decode_jets(jets["event"], encode_jets(jets["event"], x, bounds)))
    assert (err.max(axis=0) <= [1e-2, 1e-3, 1e-4, 3e-3]).all()


def test_bad_values_are_kept_exactly_and_order_does_not_matter() -> None:
    rng = np.random.default_rng(1)
    n = 300
    event = np.repeat(np.arange(60), 5)
    x = np.column_stack(
        [
            rng.uniform(20, 500, n),
            rng.uniform(20, 400, n),
            rng.uniform(-4, 4, n),
            rng.uniform(0, 2 * np.pi, n),
        ]
    ).astype(np.float32)  # unsorted pt, phi in [0, 2 pi)
    x[3, 0], x[7, 1], x[11, 2], x[13, 3] = np.nan, 0.0, np.inf, -np.inf
    x[17, 1] = -5.0
    x[19, 0] = np.float32(1e-30)  # E far below the massless prediction: coded, within the bound
    y = decode_jets(event, encode_jets(event, x, JetBounds.uniform(1e-3)))
    special = [(3, 0), (7, 1), (11, 2), (13, 3), (17, 1)]
    for r, c in special:
        assert y[r, c].tobytes() == x[r, c].tobytes()
    mask = np.ones(x.shape, dtype=bool)
    for r, c in special:
        mask[r, c] = False
    assert (_errors(x, y)[mask] <= 1e-3).all()


def test_empty_and_single_row() -> None:
    empty = np.zeros((0, 4), dtype=np.float32)
    assert decode_jets(
        np.zeros(0, np.int64), encode_jets(np.zeros(0, np.int64), empty, JetBounds.uniform(1e-3))
    ).shape == (0, 4)
    one = np.array([[100.0, 80.0, 0.5, -3.0]], dtype=np.float32)
    back = decode_jets([7], encode_jets([7], one, JetBounds.uniform(1e-3)))
    assert (_errors(one, back) <= 1e-3).all()


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 40),
    st.floats(1e-5, 0.1),
    st.integers(0, 2**32 - 1),
)
def test_bound_holds_for_random_jets(n: int, eps: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.column_stack(
        [
            np.exp(rng.uniform(-3, 9, n)),
            np.exp(rng.uniform(-3, 9, n)),
            rng.uniform(-6, 6, n),
            rng.uniform(-np.pi, np.pi, n),
        ]
    ).astype(np.float32)
    event = np.sort(rng.integers(0, max(1, n // 3), n))
    y = decode_jets(event, encode_jets(event, x, JetBounds.uniform(eps)))
    assert (_errors(x, y) <= eps).all()


def test_errors(jets: Table) -> None:
    x = jets.stack(("E", "pt", "eta", "phi"))
    payload = encode_jets(jets["event"], x, JetBounds.uniform(1e-3))
    with pytest.raises(InputError, match="event column"):
        decode_jets(jets["event"][:-1], payload)
    with pytest.raises(ContainerError, match="magic"):
        decode_jets(jets["event"], b"XXXX" + payload[4:])
    with pytest.raises(ContainerError, match="sizes"):
        decode_jets(jets["event"], payload[:-4])
    with pytest.raises(ConfigError, match="relative bound on E"):
        JetBounds(
            ErrorBound("absolute", 1e-3),
            ErrorBound("relative", 1e-3),
            ErrorBound("absolute", 1e-3),
            ErrorBound("absolute", 1e-3),
        )


def test_decodes_identically_in_a_fresh_process(jets: Table, tmp_path: Path) -> None:
    x = jets.stack(("E", "pt", "eta", "phi"))
    payload = encode_jets(jets["event"], x, JetBounds.uniform(1e-3))
    (tmp_path / "p.bin").write_bytes(payload)
    np.save(tmp_path / "event.npy", jets["event"])
    here = decode_jets(jets["event"], payload)
    code = (
        "import numpy as np, sys; from hepsqueeze.codecs.bounded.payload import decode_jets; "
        f"p = open(r'{tmp_path / 'p.bin'}', 'rb').read(); e = np.load(r'{tmp_path / 'event.npy'}'); "
        "sys.stdout.buffer.write(decode_jets(e, p).tobytes())"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True).stdout
    assert out == here.tobytes()


def test_damaged_payloads_raise_container_errors() -> None:
    """Byte flips anywhere give ContainerError (or, rarely, the same values), never another exception."""
    rng = np.random.default_rng(0)
    event = np.repeat(np.arange(40), 5)
    x = np.column_stack(
        [
            rng.uniform(20, 500, 200),
            rng.uniform(20, 400, 200),
            rng.uniform(-4, 4, 200),
            rng.uniform(-3, 3, 200),
        ]
    ).astype(np.float32)
    _flips_are_detected(event, encode_jets(event, x, JetBounds.uniform(1e-3)), rng, 300)


def _flips_are_detected(event: np.ndarray, payload: bytes, rng: np.random.Generator, runs: int) -> None:
    """1-3 random byte flips: ContainerError, or (e.g. a flip in the unused bounds text) the same values."""
    good = decode_jets(event, payload)
    for _ in range(runs):
        damaged = bytearray(payload)
        for j in rng.integers(0, len(damaged), size=int(rng.integers(1, 4))):
            damaged[j] ^= int(rng.integers(1, 256))
        try:
            back = decode_jets(event, bytes(damaged))
        except ContainerError:
            continue
        assert back.tobytes() == good.tobytes()


def _synthetic(n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Sorted-pt events of 1-6 jets with a massive-jet E spread (not physics: shapes for the coder)."""
    rng = np.random.default_rng(seed)
    event = np.repeat(np.arange(n), rng.integers(1, 7, n))[:n]
    pt = np.exp(rng.uniform(3, 7, n))
    eta = rng.normal(0, 1.5, n)
    e = pt * np.cosh(eta) * (1 + rng.exponential(0.02, n))
    x = np.column_stack([e, pt, eta, rng.uniform(-np.pi, np.pi, n)]).astype(np.float32)
    return event, x


def test_blocks_are_independent_of_threads_and_cut_at_events() -> None:
    event, x = _synthetic(5000)
    bounds = JetBounds.uniform(1e-3)
    one = encode_jets(event, x, bounds, block_rows=1200, threads=1)
    two = encode_jets(event, x, bounds, block_rows=1200, threads=2)
    assert one == two  # the payload depends on the data only
    assert payload_stats(one)["blocks"] == 5
    assert payload_header(one)["rows"] == 5000
    y1 = decode_jets(event, one, threads=1)
    assert y1.tobytes() == decode_jets(event, one, threads=2).tobytes()
    assert (_errors(x, y1) <= 1e-3).all()
    cuts = block_cuts(event, 1200)
    assert cuts[0] == 0
    assert cuts[-1] == 5000
    assert all(event[c] != event[c - 1] for c in cuts[1:-1])
    with pytest.raises(InputError, match="event column"):
        decode_jets(event[:-1], one)


def test_outliers_are_escaped_and_wide_symbols_use_int64() -> None:
    event, x = _synthetic(30000)
    x[::3001, 0] *= 1e6  # far above the massless prediction
    x[[5, 7000, 20000], 2] = [1e5, -3e4, 2e6]  # 3 of 30,000 eta symbols: within the escape budget
    payload = encode_jets(event, x, JetBounds.uniform(1e-3))
    assert parse_block(payload, event.size).escapes.size >= 3  # the eta outliers, and tails of other groups
    y = decode_jets(event, payload)
    outlier = np.zeros(x.shape, dtype=bool)
    outlier[[5, 7000, 20000], 2] = True  # float32 cannot hold 2e6 to 1e-3: exact exceptions
    assert (_errors(x, y)[~outlier] <= 1e-3).all()
    assert (y[outlier] == x[outlier]).all()
    assert payload_header(payload)["steps"]["eta"] > 1.9e-3  # the outliers did not shrink the step
    assert payload_header(payload)["narrow"] is False  # eta symbols beyond 2^29: int64 throughout
    assert payload_header(encode_jets(event, x[:, [0, 1, 3, 3]], JetBounds.uniform(1e-3)))["narrow"] is True


def test_other_payload_formats_are_refused_by_name() -> None:
    event, x = _synthetic(100)
    payload = encode_jets(event, x, JetBounds.uniform(1e-3))
    for other in (1, 4):
        changed = payload.replace(b'"format":3', b'"format":%d' % other, 1)
        assert changed != payload
        with pytest.raises(ContainerError, match=f"format {other}"):
            decode_jets(event, changed)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(0, 300), st.integers(0, 2**32 - 1))
def test_low_bits_pack_and_unpack(k: int, n: int, seed: int) -> None:
    rel = np.random.default_rng(seed).integers(0, 2**62, n, dtype=np.int64)
    packed = pack_low(rel, k)
    assert len(packed) == k * ((n + 7) // 8)
    assert (unpack_low(packed, n, k).astype(np.int64) == rel & ((1 << k) - 1)).all()


def test_damaged_multi_block_payloads_raise_container_errors() -> None:
    event, x = _synthetic(900)
    payload = encode_jets(event, x, JetBounds.uniform(1e-2), block_rows=300)
    _flips_are_detected(event, payload, np.random.default_rng(4), 200)


def test_bounds_below_float32_precision_store_values_exactly() -> None:
    """A bound float32 cannot use costs more than the values: the block is stored losslessly."""
    event, x = _synthetic(3000)
    x[7, 1] = np.nan
    payload = encode_jets(event, x, JetBounds.uniform(1e-12))
    assert payload_header(payload)["lossless"] is True
    assert len(payload) < x.nbytes  # never worse than byte-shuffled zstd of the float32 values
    assert decode_jets(event, payload).tobytes() == x.tobytes()
    _flips_are_detected(event, payload, np.random.default_rng(5), 100)
    assert "lossless" not in payload_header(encode_jets(event, x, JetBounds.uniform(1e-3)))


def test_the_thread_count_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``$HEPSQUEEZE_THREADS`` sets the default pool (a Dask worker of N gets cores / N); the bytes do
    not depend on it."""
    import threading

    from hepsqueeze.codecs.bounded.payload import THREADS_VARIABLE, parallel_map

    seen: set[int] = set()

    def who(_: int) -> int:
        seen.add(threading.get_ident())
        return 0

    monkeypatch.setenv(THREADS_VARIABLE, "1")
    parallel_map(who, list(range(64)))
    assert seen == {threading.get_ident()}
    for bad in ("0", "-2", "two"):
        monkeypatch.setenv(THREADS_VARIABLE, bad)
        with pytest.raises(ConfigError, match=THREADS_VARIABLE):
            parallel_map(who, [1, 2])
