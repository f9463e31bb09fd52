"""A learned conditional model inside the error-bounded codec (codecs.bounded.learned and the
table coder's Predictor.LEARNED columns): residuals from the model's locations coded with its
tables, every value still within its bound, the decoder's values bit for bit the encoder's on any
backend, thread count or process, and a payload read with no model, another model or damaged
bytes refused with a ContainerError, never other values."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conditional_helpers import Columns, jet_table
from hepsqueeze.codecs.bounded.column_bound import BoundMode, ColumnBound
from hepsqueeze.codecs.bounded.column_coder import Predictor, parse_column, same_bits
from hepsqueeze.codecs.bounded.learned import Conditional, decode_residuals, encode_residuals
from hepsqueeze.codecs.bounded.precision import parse_precision
from hepsqueeze.codecs.bounded.table_coder import (
    TABLE_PREFIX,
    EncodedTable,
    decode_table,
    encode_table,
    parse_table,
)
from hepsqueeze.codecs.bounded.training import model_columns
from hepsqueeze.errors import ContainerError
from hepsqueeze.metrics.bound_check import misses
from hepsqueeze.models.conditional.intnet import HIDDEN_MAX, quantise_layers
from hepsqueeze.models.conditional.model import (
    INPUT_SCALE,
    ColumnSpec,
    ConditionalModel,
    Domain,
    Prediction,
    load_conditional_model,
    scale_classes,
)
from hepsqueeze.models.conditional.shape import fit_cdf, split_bits
from hepsqueeze.training.conditional import ConditionalTrainingConfig, train_conditional

Bounds = dict[str, ColumnBound]
I64 = npt.NDArray[np.int64]


def bounds_of(columns: Columns) -> Bounds:
    prec = parse_precision("1e-3")
    return {n: prec.resolve(n, v.dtype) for n, v in columns.items() if v.dtype.kind == "f"}


def specs(columns: Columns) -> list[tuple[str, np.dtype[Any]]]:
    return [(n, a.dtype) for n, a in columns.items()]


#: The model's columns: the table's but tau21 (which the codec codes from its relation).
ORDER = ["n", "pt", "eta", "phi", "m", "width", "tau1", "tau2"]


def train(columns: Columns, seed: int) -> ConditionalModel:
    data = model_columns(columns, bounds_of(columns), "event", order=ORDER)
    config = ConditionalTrainingConfig(
        hidden=16, layers=2, epochs=3, batch=64, learning_rate=1e-2, threads=1, seed=seed
    )
    return train_conditional(data, config).model


@pytest.fixture(scope="module")
def columns() -> Columns:
    return jet_table(0)


@pytest.fixture(scope="module")
def bounds(columns: Columns) -> Bounds:
    return bounds_of(columns)


@pytest.fixture(scope="module")
def model(columns: Columns) -> ConditionalModel:
    return train(columns, 1)


@pytest.fixture(scope="module")
def encoded(columns: Columns, bounds: Bounds, model: ConditionalModel) -> EncodedTable:
    return encode_table(columns, bounds, "event", model)


def predictors(payload: bytes) -> dict[str, Predictor | None]:
    return {n: parse_column(p, n).predictor for n, p in parse_table(payload).columns.items()}


def learned_columns(payload: bytes) -> list[str]:
    return [n for n, p in predictors(payload).items() if p == Predictor.LEARNED]


def check_values(columns: Columns, bounds: Bounds, got: Columns, enc: EncodedTable) -> None:
    """Every column in order, bit for bit what the encoder promised, each within its bound;
    integer columns exact."""
    assert list(got) == list(columns) == list(enc.decoded)
    for name, x in columns.items():
        y = got[name]
        assert y.dtype == x.dtype, name
        assert same_bits(y, enc.decoded[name]), name
        if x.dtype.kind != "f" or name not in bounds:
            assert same_bits(y, x), name
        else:
            bound = bounds[name]
            assert not misses(x, y, bound.error_bound(), bound.floor).any(), name


def digest(decoded: Columns) -> str:
    h = hashlib.sha256()
    for name, arr in decoded.items():
        h.update(f"{name}:{arr.dtype.str}:{arr.shape}".encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------- residuals


def hand_model(seed: int = 0) -> ConditionalModel:
    """A model of one context ``a`` and one target ``b`` (for its tables)."""
    rng = np.random.default_rng(seed)
    columns = (
        ColumnSpec("a", Domain.INTEGER, 0.0, 1.0, False),
        ColumnSpec("b", Domain.LINEAR, 0.0, 1.0, True),
    )
    net, scale = quantise_layers(
        [rng.normal(0, 1, (4, 2)), rng.normal(0, 1, (2, 4))],
        [np.zeros(4), np.zeros(2)],
        INPUT_SCALE,
        HIDDEN_MAX / 6,
    )
    return ConditionalModel("hand", columns, {"b": net}, {"b": scale}, {"b": fit_cdf(rng.normal(0, 1, 5000))})


@pytest.fixture(scope="module")
def tables() -> Any:
    model = hand_model()
    return lambda k: model.coder_table("b", k)


def residual_case(seed: int, rows: int = 3000, step: float = 0.01) -> tuple[I64, Prediction]:
    """Symbols and predictions: locations within the predicted scale for most rows, far off (escapes)
    for a few; scales from an eighth of a bin to a million bins (split bits included)."""
    rng = np.random.default_rng(seed)
    log2_scale = rng.choice(np.array([-6.0, -3.0, -1.0, 0.0, 0.5, 2.0, 5.0, 9.0, 14.0]), rows)
    log2_scale += rng.normal(0, 0.1, rows)
    sigma_bins = 2.0 ** (log2_scale + 3)  # offset 24: log2_scale 0 is 8 bins
    mu = rng.normal(0, 1e4, rows)
    q = np.rint(mu + rng.normal(0, 1, rows) * sigma_bins).astype(np.int64)
    far = rng.random(rows) < 0.02
    q[far] += rng.choice(np.array([-1, 1]), int(far.sum())) * rng.integers(10**6, 10**9, int(far.sum()))
    location = (mu + rng.uniform(-0.4, 0.4, rows)) * step
    return q, Prediction(location, log2_scale)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_residuals_round_trip(tables: Any, seed: int) -> None:
    q, prediction = residual_case(seed)
    step, offset = 0.01, 24
    words, escapes = encode_residuals(q, prediction, step, offset, tables)
    assert isinstance(words, bytes)
    assert len(words) % 4 == 0
    assert escapes.dtype == np.int64
    k = scale_classes(prediction, offset)
    assert np.unique(k).size > 20  # many classes, ...
    assert int(k.min()) < 10
    assert split_bits(int(k.max())) > 0  # ... wide ones with split bits too
    assert 0.01 * q.size < escapes.size < 0.05 * q.size  # the far rows
    got = decode_residuals(words, escapes, prediction, step, offset, tables, "x")
    assert got.dtype == np.int64
    assert np.array_equal(got, q)
    # the coding is worth it: far fewer bits than 64 per value
    assert 8 * (len(words) + 8 * escapes.size) < 24 * q.size


def test_residuals_of_no_rows(tables: Any) -> None:
    empty = Prediction(np.zeros(0), np.zeros(0))
    words, escapes = encode_residuals(np.zeros(0, np.int64), empty, 1.0, 0, tables)
    assert escapes.size == 0
    assert decode_residuals(words, escapes, empty, 1.0, 0, tables, "x").size == 0


def test_residuals_with_non_finite_predictions(tables: Any) -> None:
    q = np.arange(-50, 50, dtype=np.int64)
    location = np.full(100, np.nan)
    location[::3] = np.inf
    location[1::3] = 1e300
    prediction = Prediction(location, np.zeros(100))
    words, escapes = encode_residuals(q, prediction, 1.0, 24, tables)
    assert np.array_equal(decode_residuals(words, escapes, prediction, 1.0, 24, tables, "x"), q)


@settings(max_examples=20, deadline=None)
@given(
    q=hnp.arrays(np.int64, st.integers(0, 300), elements=st.integers(-(2**30), 2**30)),
    offset=st.integers(-50, 50),
    seed=st.integers(0, 2**32 - 1),
    near=st.booleans(),
)
def test_residuals_round_trip_any_symbols(tables: Any, q: I64, offset: int, seed: int, near: bool) -> None:
    rng = np.random.default_rng(seed)
    step = float(rng.choice(np.array([1.0, 0.003, 17.0])))
    centre = q if near else rng.integers(-(2**30), 2**30, q.size)
    location = (centre + rng.normal(0, 3, q.size)) * step
    prediction = Prediction(location, rng.uniform(-10, 25, q.size))
    words, escapes = encode_residuals(q, prediction, step, offset, tables)
    got = decode_residuals(words, escapes, prediction, step, offset, tables, "col")
    assert np.array_equal(got, q)


def test_damaged_residual_streams(tables: Any) -> None:
    """Damaged words or escapes: a ContainerError, or symbols the column digest then catches;
    never another exception."""
    q, prediction = residual_case(5, rows=600)
    step, offset = 0.01, 24
    words, escapes = encode_residuals(q, prediction, step, offset, tables)
    assert escapes.size > 2

    messages: list[str] = []

    def decode(w: bytes, e: I64, off: int = offset) -> I64 | None:
        try:
            return decode_residuals(w, e, prediction, step, off, tables, "col")
        except ContainerError as exc:
            messages.append(str(exc))
            return None

    with pytest.raises(ContainerError, match="whole words"):
        decode_residuals(words[:-1], escapes, prediction, step, offset, tables, "col")
    with pytest.raises(ContainerError, match="more escapes"):
        decode_residuals(words, escapes[:-1], prediction, step, offset, tables, "col")
    with pytest.raises(ContainerError, match="does not use"):
        decode_residuals(words, np.append(escapes, 7), prediction, step, offset, tables, "col")
    for bad in (-(1 << 12) - 1, (1 << 12) + 1, 10**9):
        with pytest.raises(ContainerError, match="offset"):
            decode_residuals(words, escapes, prediction, step, bad, tables, "col")
    caught = 0
    trials = 0
    for cut in (4, 8, len(words) // 2, len(words) - 4):
        trials += 1
        got = decode(words[:cut], escapes)
        caught += got is None or not np.array_equal(got, q)
    for i in range(0, len(words), max(1, len(words) // 40)):
        damaged = bytearray(words)
        damaged[i] ^= 0x5A
        trials += 1
        got = decode(bytes(damaged), escapes)
        caught += got is None or not np.array_equal(got, q)
    assert caught >= 0.9 * trials
    # another offset reads other tables: other symbols or an error
    got = decode(words, escapes, offset + 3)
    assert got is None or not np.array_equal(got, q)
    assert all("column 'col'" in m for m in messages)


def test_conditional_offsets_and_tables(model: ConditionalModel) -> None:
    t = "tau2"
    spec = model.spec(t)
    cond = Conditional(model, t, Prediction(np.zeros(4), np.zeros(4)))
    assert cond.offset(spec.std / 8) == 24  # std of 8 steps
    assert cond.offset(spec.std) == 12
    assert cond.offset(spec.std * 2.0**-1000) == (1000 + 3) * 4
    assert cond.offset(spec.std * 2.0**1000) == (-1000 + 3) * 4
    picked = cond.select(np.array([True, False, True, False]))
    assert picked.location.shape == (2,)
    assert cond.tables(30) == model.coder_table(t, 30)


def test_a_subnormal_bound_on_a_target(columns: Columns, bounds: Bounds, model: ConditionalModel) -> None:
    tiny = {**bounds, "tau2": ColumnBound(BoundMode.ABSOLUTE, 1e-310)}
    small = {k: v[:300] for k, v in columns.items()}
    plain = encode_table(small, tiny, "event")
    check_values(small, tiny, decode_table(plain.payload, specs(small)), plain)
    enc = encode_table(small, tiny, "event", model)
    check_values(small, tiny, decode_table(enc.payload, specs(small), model), enc)


# ----------------------------------------------------------------------------- tables


def test_a_table_round_trips_with_the_model(
    columns: Columns, bounds: Bounds, model: ConditionalModel, encoded: EncodedTable
) -> None:
    assert learned_columns(encoded.payload)  # at least one column coded from the model
    assert "tau2" in learned_columns(encoded.payload)
    for name in learned_columns(encoded.payload):
        assert model.spec(name).target, name
    got = decode_table(encoded.payload, specs(columns), model)
    check_values(columns, bounds, got, encoded)


def test_the_model_saves_bytes(columns: Columns, bounds: Bounds, encoded: EncodedTable) -> None:
    plain = encode_table(columns, bounds, "event")
    for name in learned_columns(encoded.payload):
        assert encoded.column_bytes[name] < plain.column_bytes[name], name
    for name in columns:  # never worse: the codec keeps the smaller coding
        assert encoded.column_bytes[name] <= plain.column_bytes[name], name
    # without the model, the same values
    for name in columns:
        assert same_bits(plain.decoded[name], encoded.decoded[name]), name


def test_encoding_is_deterministic(
    columns: Columns, bounds: Bounds, model: ConditionalModel, encoded: EncodedTable
) -> None:
    assert encode_table(columns, bounds, "event", model).payload == encoded.payload
    assert encode_table(columns, bounds, "event", model, backend="torch").payload == encoded.payload


def test_torch_backend_decodes_the_same_bits(
    columns: Columns, model: ConditionalModel, encoded: EncodedTable
) -> None:
    a = decode_table(encoded.payload, specs(columns), model, backend="numpy")
    b = decode_table(encoded.payload, specs(columns), model, backend="torch")
    for name in columns:
        assert same_bits(a[name], b[name]), name


def test_decoding_without_the_model_is_refused(columns: Columns, encoded: EncodedTable) -> None:
    first = learned_columns(encoded.payload)[0]
    with pytest.raises(ContainerError, match=f"column '{first}'.*model"):
        decode_table(encoded.payload, specs(columns))


def test_decoding_with_another_model_is_refused(
    columns: Columns, model: ConditionalModel, encoded: EncodedTable
) -> None:
    """Another model (another seed) predicts other locations and scales: its decode is refused
    (the column digests), never other values returned."""
    other = train(columns, 7)
    assert other.hash != model.hash
    with pytest.raises(ContainerError):
        decode_table(encoded.payload, specs(columns), other)
    # a model of other data
    stranger = train(jet_table(3), 1)
    with pytest.raises(ContainerError):
        decode_table(encoded.payload, specs(columns), stranger)


def test_a_model_of_every_column(columns: Columns, bounds: Bounds) -> None:
    """A model in the codec's own order (tau21, a relation's target, after its inputs, a context of
    the model): the codec still codes tau21 from its relation, and the table round-trips."""
    data = model_columns(columns, bounds, "event")
    assert [c.name for c in data][-1] == "tau21"
    config = ConditionalTrainingConfig(hidden=16, layers=2, epochs=3, batch=64, learning_rate=1e-2, threads=1)
    model = train_conditional(data, config).model
    assert "tau21" in model.names
    enc = encode_table(columns, bounds, "event", model)
    assert predictors(enc.payload)["tau21"] == Predictor.RELATION
    assert learned_columns(enc.payload)
    for backend in ("numpy", "torch"):
        got = decode_table(enc.payload, specs(columns), model, backend=backend)
        check_values(columns, bounds, got, enc)


def test_a_subset_of_the_model_columns(columns: Columns, bounds: Bounds, model: ConditionalModel) -> None:
    """The table lacks n and m: the model codes it all the same (those inputs absent)."""
    subset = {k: v for k, v in columns.items() if k not in ("n", "m")}
    enc = encode_table(subset, bounds, "event", model)
    assert "tau2" in learned_columns(enc.payload)
    check_values(subset, bounds, decode_table(enc.payload, specs(subset), model), enc)
    # without tau1, tau2 loses its best input, and is still exact within its bound
    fewer = {k: v for k, v in columns.items() if k != "tau1"}
    enc = encode_table(fewer, bounds, "event", model)
    check_values(fewer, bounds, decode_table(enc.payload, specs(fewer), model), enc)


def test_a_table_of_few_rows(columns: Columns, bounds: Bounds, model: ConditionalModel) -> None:
    for rows in (0, 1, 7):
        small = {k: v[:rows] for k, v in columns.items()}
        enc = encode_table(small, bounds, "event", model)
        check_values(small, bounds, decode_table(enc.payload, specs(small), model), enc)


def test_columns_the_model_does_not_know_are_coded_as_before(
    columns: Columns, bounds: Bounds, model: ConditionalModel
) -> None:
    rng = np.random.default_rng(4)
    rows = columns["n"].size
    extra: Columns = {
        **columns,
        "charge": rng.choice(np.array([-1, 1], dtype=np.int8), rows),
        "isGood": rng.random(rows) > 0.3,
        "area": rng.normal(0.5, 0.05, rows).astype(np.float32),
        "weight": rng.normal(1, 0.1, rows),  # float64, no bound: lossless
    }
    ext_bounds = {**bounds, "area": bounds["eta"]}
    enc = encode_table(extra, ext_bounds, "event", model)
    plain = encode_table(extra, ext_bounds, "event")
    parsed, plain_parsed = parse_table(enc.payload), parse_table(plain.payload)
    for name in ("charge", "isGood", "area", "weight", "tau21", "event"):
        assert name not in model.names or name == "event"
        assert parsed.columns[name] == plain_parsed.columns[name], name
    assert "tau2" in learned_columns(enc.payload)
    check_values(extra, ext_bounds, decode_table(enc.payload, specs(extra), model), enc)


def test_column_order_of_the_table_does_not_matter(
    columns: Columns, bounds: Bounds, model: ConditionalModel, encoded: EncodedTable
) -> None:
    """The model codes in its own order whatever the table's: tau2 before tau1 in the table."""
    names = list(columns)[::-1]
    reordered = {n: columns[n] for n in names}
    enc = encode_table(reordered, bounds, "event", model)
    assert list(parse_table(enc.payload).columns) == names
    got = decode_table(enc.payload, specs(reordered), model)
    check_values(reordered, bounds, got, enc)
    for name in columns:
        assert parse_table(enc.payload).columns[name] == parse_table(encoded.payload).columns[name], name


def test_a_flipped_byte_in_a_learned_column_is_refused(
    columns: Columns, bounds: Bounds, model: ConditionalModel
) -> None:
    """One byte damaged anywhere in a LEARNED column's payload (its header, sign groups, ANS words,
    escapes): a ContainerError, or the very values meant; never other values, never another error."""
    small = {k: v[:500] for k, v in columns.items()}
    enc = encode_table(small, bounds, "event", model)
    assert "tau2" in learned_columns(enc.payload)
    payload = enc.payload
    n_head = TABLE_PREFIX.unpack_from(payload)[1]
    parsed = parse_table(payload)
    start = TABLE_PREFIX.size + n_head
    for name, col in parsed.columns.items():
        if name == "tau2":
            break
        start += len(col)
    size = len(parsed.columns["tau2"])
    assert payload[start : start + size] == parsed.columns["tau2"]
    positions = sorted({*range(start, start + 120), *range(start, start + size, max(1, size // 150))})
    refused = 0
    for i in positions:
        for mask in (0x01, 0xFF):
            damaged = bytearray(payload)
            damaged[i] ^= mask
            try:
                got = decode_table(bytes(damaged), specs(small), model)
            except ContainerError:
                refused += 1
                continue
            for name in small:
                assert same_bits(got[name], enc.decoded[name]), (i - start, mask, name)
    assert refused >= len(positions)  # most damage is refused


def test_a_truncated_learned_stream_is_refused(
    columns: Columns, encoded: EncodedTable, model: ConditionalModel
) -> None:
    payload = encoded.payload
    for cut in (1, 4, 100, len(payload) // 2):
        with pytest.raises(ContainerError):
            decode_table(payload[:-cut], specs(columns), model)


# ----------------------------------------------------------------------------- processes

CHILD = textwrap.dedent(
    """
    import contextlib, hashlib, sys
    import numpy as np
    from hepsqueeze.codecs.bounded.table_coder import decode_table
    from hepsqueeze.models.conditional.model import load_conditional_model

    model_path, payload_path, backend, limit = sys.argv[1:5]
    specs = [(n, np.dtype(d)) for n, d in (s.split(":") for s in sys.argv[5].split(","))]
    guard = contextlib.nullcontext()
    if limit != "none":
        try:
            import threadpoolctl
        except ImportError:
            pass
        else:
            guard = threadpoolctl.threadpool_limits(int(limit))
    if backend == "torch":
        import torch
        torch.set_num_threads(int(limit) if limit != "none" else 2)
    with guard:
        model = load_conditional_model(model_path)
        with open(payload_path, "rb") as f:
            decoded = decode_table(f.read(), specs, model, backend=backend)
    h = hashlib.sha256()
    for name, arr in decoded.items():
        h.update(f"{name}:{arr.dtype.str}:{arr.shape}".encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    print(h.hexdigest())
    """
)


def test_decoding_is_the_same_in_fresh_processes(
    columns: Columns, model: ConditionalModel, encoded: EncodedTable, tmp_path: Path
) -> None:
    """The decoded bits do not depend on the process, the BLAS threads or the backend."""
    model_path = model.save(tmp_path / "model.hsqb")
    payload_path = tmp_path / "table.bin"
    payload_path.write_bytes(encoded.payload)
    want = digest(decode_table(encoded.payload, specs(columns), load_conditional_model(model_path)))
    assert want == digest(encoded.decoded)
    spec_text = ",".join(f"{n}:{d.str}" for n, d in specs(columns))
    settings_ = [("1", "numpy", "none"), ("2", "numpy", "none"), ("1", "numpy", "1"), ("2", "numpy", "2"),
                 ("1", "torch", "1"), ("2", "torch", "2")]  # fmt: skip
    procs = []
    for threads, backend, limit in settings_:
        env = {
            **os.environ,
            "OMP_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
        }
        args = [sys.executable, "-c", CHILD, str(model_path), str(payload_path), backend, limit, spec_text]
        procs.append(
            subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    for (threads, backend, limit), proc in zip(settings_, procs, strict=True):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, (threads, backend, limit, err[-2000:])
        assert out.strip() == want, (threads, backend, limit)
