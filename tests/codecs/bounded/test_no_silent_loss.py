"""The promise of the error-bounded codec, as a property: whatever the dtypes, magnitudes, names and
order of the columns and whatever the bounds, every file written decodes, and every decoded value
is within its bound in the column's own dtype, or bit-exact.

The check here is independent of the codec's own: exact rational arithmetic (``Fraction``) on the
values as stored, no float rounding anywhere. ``HEPSQUEEZE_PROPERTY_EXAMPLES`` sets the number of
examples (the slow suite runs the long version).
"""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hepsqueeze.codecs.bounded.bounds import JetBounds
from hepsqueeze.codecs.bounded.codec import BoundedJetCodec
from hepsqueeze.file.reader import decompress_dataset
from hepsqueeze.file.writer import compress_dataset
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table
from hepsqueeze.metrics.bounds import ErrorBound

VARS = ("E", "pt", "eta", "phi")
DTYPES = [np.dtype(d) for d in ("f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8")]
EXAMPLES = int(os.environ.get("HEPSQUEEZE_PROPERTY_EXAMPLES", "40"))
SLOW_EXAMPLES = int(os.environ.get("HEPSQUEEZE_PROPERTY_SLOW_EXAMPLES", "20000"))


def _sentinels(dtype: np.dtype[Any]) -> list[Any]:
    if dtype.kind == "f":
        info = np.finfo(dtype)
        nan_payload = np.array([np.iinfo(f"u{dtype.itemsize}").max], dtype=f"u{dtype.itemsize}").view(dtype)[
            0
        ]  # all bits set: a NaN
        return [
            info.max, -info.max, info.tiny, info.smallest_subnormal, -0.0, 0.0, math.inf, -math.inf,
            nan_payload, math.pi, -math.pi, 2 * math.pi, 1e12 if dtype.itemsize > 2 else 6e4,
        ]  # fmt: skip
    info = np.iinfo(dtype)
    return [info.min, info.max, 0, 1]


@st.composite
def columns(draw: st.DrawFn, n: int) -> tuple[npt.NDArray[Any], ...]:
    out = []
    for _ in VARS:
        dtype = draw(st.sampled_from(DTYPES))
        arr = draw(hnp.arrays(dtype, n, elements=hnp.from_dtype(dtype, allow_subnormal=dtype.kind == "f")))
        if draw(st.booleans()):  # a few sentinels at random rows
            for value in draw(st.lists(st.sampled_from(_sentinels(dtype)), max_size=4)):
                arr[draw(st.integers(0, n - 1))] = value
        if draw(st.booleans()) and dtype.kind == "f":  # or physics-like magnitudes
            scale = draw(st.sampled_from([1.0, 100.0, 1e4]))
            arr[: n // 2] = np.asarray(np.linspace(-3.0, 3.0, n // 2) * scale, dtype=dtype)
        out.append(arr)
    return tuple(out)


@st.composite
def bounds(draw: st.DrawFn) -> JetBounds:
    def eps(top: float) -> float:
        return 10 ** draw(st.floats(-12, math.log10(top)))

    floors = [draw(st.sampled_from([0.0, 0.0, 0.01, 5.0])) for _ in range(2)]
    return JetBounds(
        ErrorBound("relative", eps(0.5)),
        ErrorBound("relative", eps(0.5)),
        ErrorBound("absolute", eps(0.5)),
        ErrorBound("absolute", eps(0.5)),
        E_floor=floors[0],
        pt_floor=floors[1],
    )


def _bits(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    return np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}")


def _exactly_within(x: Any, y: Any, bound: ErrorBound, floor: float) -> bool:
    """|y - x| <= bound, in exact arithmetic on the stored values."""
    if not (math.isfinite(float(x)) and math.isfinite(float(y))):
        return False
    fx, fy = Fraction(x.item()), Fraction(y.item())
    allowed = Fraction(bound.value) * (abs(fx) if bound.kind == "relative" else 1)
    return abs(fy - fx) <= max(allowed, Fraction(floor))


def check_file(tmp: Path, table: Table, names: list[str], b: JetBounds, chunk_rows: int) -> None:
    out = tmp / "x.hsqz"
    compress_dataset(
        Dataset.from_table(table), BoundedJetCodec(b), out, names, chunk_rows=chunk_rows, force=True
    )
    back = decompress_dataset(out).table
    assert list(back.names) == list(table.names)
    slots = {n: v for v in VARS for n in names if n.endswith(v)}
    for name in table.names:
        x, y = table[name], back[name]
        assert y.dtype == x.dtype, name
        if name not in slots:
            assert _bits(y).tobytes() == _bits(x).tobytes(), name
            continue
        v = slots[name]
        bound, floor = getattr(b, v), b.floor(v)
        same = _bits(x) == _bits(y)
        for i in np.flatnonzero(~same):
            assert _exactly_within(x[i], y[i], bound, floor), (name, x.dtype, x[i], y[i], bound, floor)


def _property(examples: int) -> Any:
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        st.integers(1, 24).flatmap(lambda n: st.tuples(columns(n), st.just(n))),
        bounds(),
        st.permutations(range(4)),
        st.sampled_from(["", "Jet_", "FatJet.", "jets/"]),
        st.booleans(),
        st.sampled_from([5, 1 << 20]),
    )
    def test(
        tmp_path_factory: pytest.TempPathFactory,
        data: tuple[tuple[npt.NDArray[Any], ...], int],
        b: JetBounds,
        order: list[int],
        prefix: str,
        with_event: bool,
        chunk_rows: int,
    ) -> None:
        cols, n = data
        names = [prefix + v for v in VARS]
        table_cols: dict[str, npt.NDArray[Any]] = {}
        if with_event:
            rng = np.random.default_rng(n)
            table_cols["event"] = np.sort(rng.integers(0, max(1, n // 2), n)).astype(np.int64)
        for j in order:  # the columns in any order in the file and on the command line
            table_cols[names[j]] = cols[j]
        table_cols["other"] = np.arange(n, dtype=np.int16)
        tmp = tmp_path_factory.mktemp("p")
        check_file(tmp, Table(table_cols), [names[j] for j in order], b, chunk_rows)

    return test


test_every_value_within_its_bound_in_its_own_dtype = _property(EXAMPLES)
#: The long run (``make test-slow``): 20,000 examples, about 10 minutes on 2 cores.
test_every_value_within_its_bound_long = pytest.mark.slow(_property(SLOW_EXAMPLES))


def test_float64_at_1e_9_and_extreme_magnitudes(tmp_path: Path) -> None:
    """The tester's cases: float64 columns at 1e-9, 1e300 and 1e-300, NaN payloads, int32 and float16."""
    rng = np.random.default_rng(3)
    n = 4000
    pt = np.exp(rng.uniform(3, 6, n))
    pt[:3] = [1e300, 1e-300, 5e-324]
    eta = rng.uniform(-4, 4, n).astype(np.float16)
    nan = np.array([0x7FF8000000000000 + k for k in range(120)], dtype=np.uint64).view(np.float64)
    energy = pt * np.cosh(eta.astype(np.float64))
    energy[100:220] = nan
    phi = rng.integers(-3, 4, n).astype(np.int32)
    table = Table({"E": energy, "pt": pt, "eta": eta, "phi": phi})
    b = JetBounds(*(ErrorBound(k, 1e-9) for k in ("relative", "relative", "absolute", "absolute")))
    check_file(tmp_path, table, list(VARS), b, 1 << 20)
    b3 = JetBounds.uniform(1e-3)
    ints = Table(
        {
            "E": rng.integers(20, 5000, n).astype(np.int64),
            "pt": rng.integers(20, 100, n),
            "eta": eta,
            "phi": phi,
        }
    )
    check_file(tmp_path, ints, list(VARS), b3, 1 << 20)
