"""Training the learned conditional models of the error-bounded codec (training.conditional) on a
table's columns as the codec quantises them (codecs.bounded.training): the model learns what the
columns say about each other, in the codec's order; invalid configurations and data are refused."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from conditional_helpers import Columns, jet_table
from hepsqueeze.codecs.bounded.column_bound import LOSSLESS, BoundMode, ColumnBound
from hepsqueeze.codecs.bounded.column_coder import quantise
from hepsqueeze.codecs.bounded.precision import parse_precision
from hepsqueeze.codecs.bounded.training import model_columns, model_order
from hepsqueeze.errors import ConfigError, InputError
from hepsqueeze.models.conditional.model import Domain
from hepsqueeze.training.conditional import (
    ColumnData,
    ConditionalTrainingConfig,
    TrainingResult,
    train_conditional,
)

Bounds = dict[str, ColumnBound]


def bounds_of(columns: Columns, spec: str = "1e-3") -> Bounds:
    prec = parse_precision(spec)
    return {n: prec.resolve(n, v.dtype) for n, v in columns.items() if v.dtype.kind == "f"}


CONFIG = ConditionalTrainingConfig(hidden=16, layers=2, epochs=3, batch=64, learning_rate=1e-2, threads=1)
#: The table's columns but tau21 (which the codec codes from its relation): tau2 comes last.
ORDER = ["n", "pt", "eta", "phi", "m", "width", "tau1", "tau2"]


@pytest.fixture(scope="module")
def columns() -> Columns:
    return jet_table(0)


@pytest.fixture(scope="module")
def data(columns: Columns) -> list[ColumnData]:
    return model_columns(columns, bounds_of(columns), "event")


@pytest.fixture(scope="module")
def result(data: list[ColumnData]) -> TrainingResult:
    return train_conditional(data, CONFIG)


@pytest.fixture(scope="module")
def ordered(columns: Columns) -> list[ColumnData]:
    return model_columns(columns, bounds_of(columns), "event", order=ORDER)


@pytest.fixture(scope="module")
def ordered_result(ordered: list[ColumnData]) -> TrainingResult:
    return train_conditional(ordered, CONFIG)


# ----------------------------------------------------------------------------- training


def test_the_model_learns_what_the_columns_say(result: TrainingResult) -> None:
    """``width`` follows ``n`` and ``pt``, ``tau2`` follows ``tau1``: held-out bits at least 0.3
    bit per value below the symbols' own entropy; both are kept as targets."""
    for name in ("width", "tau2"):
        assert result.bits[name] <= result.baseline_bits[name] - 0.3, (
            name,
            result.bits,
            result.baseline_bits,
        )
        assert result.model.spec(name).target, name


def test_what_a_target_learns_does_not_depend_on_the_columns_after_it(columns: Columns) -> None:
    """Each target is standardised by its own mean and std (not, as once, the last column's)."""
    bounds = bounds_of(columns)
    last = train_conditional(model_columns(columns, bounds, "event", order=["n", "pt", "width"]), CONFIG)
    before = train_conditional(
        model_columns(columns, bounds, "event", order=["n", "pt", "width", "eta"]), CONFIG
    )
    assert abs(last.bits["width"] - before.bits["width"]) < 0.5, (last.bits, before.bits)


def test_tau2_learns_from_tau1(ordered_result: TrainingResult) -> None:
    """The model of the table without tau21 (tau2 last): tau2 at least 0.3 bit per value below the
    symbols' entropy, kept as a target."""
    r = ordered_result
    assert r.bits["tau2"] <= r.baseline_bits["tau2"] - 0.3, (r.bits, r.baseline_bits)
    assert r.model.spec("tau2").target
    assert all(math.isfinite(b) for b in r.bits.values())
    # a target is kept only where it pays: phi (uniform, independent of everything) does not
    assert not r.model.spec("phi").target


def test_every_bits_value_is_finite(result: TrainingResult) -> None:
    targets = {"pt", "eta", "phi", "m", "width", "tau1", "tau2", "tau21"}
    assert set(result.bits) == set(result.baseline_bits) == targets
    for name in targets:
        assert math.isfinite(result.bits[name]), name
        assert math.isfinite(result.baseline_bits[name]), name
        assert 0 < result.bits[name] < 64, name
        assert 0 < result.baseline_bits[name] < 64, name


def test_history_and_metadata(result: TrainingResult, data: list[ColumnData]) -> None:
    assert len(result.history) == CONFIG.epochs
    assert all(math.isfinite(h) and h > 0 for h in result.history)
    assert result.history[-1] < result.history[0]
    model = result.model
    assert model.name == CONFIG.name
    assert model.names == tuple(c.name for c in data)
    training = dict(model.training)
    assert training["rows"] == data[0].decoded.size
    assert training["epochs"] == CONFIG.epochs
    assert training["seed"] == CONFIG.seed
    assert 0 < training["validation_rows"] < training["rows"]
    assert set(training["validation_bits"]) == set(result.bits)


def test_the_model_columns_are_the_data_in_order(result: TrainingResult, data: list[ColumnData]) -> None:
    model = result.model
    for c, spec in zip(data, model.columns, strict=True):
        assert spec.name == c.name
        assert spec.domain == c.domain
        assert math.isfinite(spec.mean)
        assert spec.std > 0
        if c.domain == Domain.INTEGER:
            assert not spec.target
    for name in ("pt", "m"):
        assert model.spec(name).domain == Domain.LOG
    for name in ("eta", "width", "tau2"):
        assert model.spec(name).domain == Domain.LINEAR
    for name, net in model.nets.items():
        assert net.fan_in == 2 * model.index(name)
        assert net.outputs == 2
        assert len(net.layers) == CONFIG.layers + 1
        assert net.layers[0].width == CONFIG.hidden


def test_training_is_deterministic(ordered: list[ColumnData], ordered_result: TrainingResult) -> None:
    again = train_conditional(ordered, CONFIG)
    assert again.model.hash == ordered_result.model.hash
    assert again.bits == ordered_result.bits
    assert again.history == ordered_result.history
    other = train_conditional(ordered, dataclasses.replace(CONFIG, seed=2))
    assert other.model.hash != ordered_result.model.hash
    assert other.history != ordered_result.history


def test_a_first_float_column_is_a_context(columns: Columns) -> None:
    """The first column has nothing to be predicted from: a context, the second a target."""
    data = model_columns(columns, bounds_of(columns), "event", order=["pt", "m"])
    result = train_conditional(data, ConditionalTrainingConfig(hidden=4, layers=1, epochs=1, min_gain=-1e9))
    assert result.model.names == ("pt", "m")
    assert not result.model.spec("pt").target
    assert result.model.spec("m").target
    assert set(result.bits) == {"m"}
    assert math.isfinite(result.bits["m"])


def test_a_single_column_is_refused() -> None:
    with pytest.raises(InputError, match="target"):
        train_conditional([column(100)], ConditionalTrainingConfig(hidden=4, layers=1, epochs=1))


# ----------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "bad",
    [
        {"hidden": 0},
        {"hidden": 1025},
        {"layers": 0},
        {"layers": 5},
        {"epochs": 0},
        {"batch": 15},
        {"learning_rate": 0.0},
        {"learning_rate": 1.0},
        {"learning_rate": -1e-3},
        {"validation": 0.0},
        {"validation": 1.0},
        {"context_dropout": 1.0},
        {"context_dropout": -0.1},
    ],
)
def test_invalid_configurations_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        ConditionalTrainingConfig(**bad)


def test_the_limits_of_a_configuration_are_accepted() -> None:
    for good in (
        {"hidden": 1},
        {"hidden": 1024},
        {"layers": 1},
        {"layers": 4},
        {"epochs": 1},
        {"batch": 16},
        {"context_dropout": 0.0},
    ):
        ConditionalTrainingConfig(**good)


def column(rows: int, name: str = "x") -> ColumnData:
    values = np.random.default_rng(rows).normal(0, 1, rows)
    return ColumnData(name, Domain.LINEAR, values, values.copy(), 0.01)


def test_fewer_than_64_rows_are_refused() -> None:
    ints = ColumnData("n", Domain.INTEGER, np.arange(63, dtype=np.float64))
    with pytest.raises(InputError, match="at least 64 rows"):
        train_conditional([ints, column(63)], CONFIG)
    with pytest.raises(InputError, match="at least 64 rows"):
        train_conditional([column(0)], CONFIG)
    result = train_conditional(
        [column(64), column(64, "y")], ConditionalTrainingConfig(hidden=4, layers=1, epochs=1)
    )
    assert result.model.names == ("x", "y")


def test_columns_of_unequal_length_are_refused() -> None:
    with pytest.raises(InputError, match="equal length"):
        train_conditional([column(100), column(101, "y")], CONFIG)


def test_data_without_a_target_is_refused() -> None:
    ints = ColumnData("n", Domain.INTEGER, np.arange(100, dtype=np.float64))
    with pytest.raises(InputError, match="at least one"):
        train_conditional([ints], CONFIG)
    with pytest.raises(InputError, match="at least one"):
        train_conditional([], CONFIG)


def test_invalid_column_data_is_refused() -> None:
    x = np.zeros(10)
    assert not ColumnData("x", Domain.LINEAR, x).target  # a float column without exact values: a context
    with pytest.raises(InputError, match="needs its quantisation step"):
        ColumnData("x", Domain.LOG, x, x.copy())
    for step in (0.0, -1.0, math.nan):
        with pytest.raises(InputError, match="needs its quantisation step"):
            ColumnData("x", Domain.LINEAR, x, x.copy(), step)
    assert ColumnData("n", Domain.INTEGER, x).exact is None


def test_column_data_of_unequal_lengths_is_refused() -> None:
    with pytest.raises(InputError, match="differ in length"):
        ColumnData("x", Domain.LINEAR, np.zeros(10), np.zeros(9), 0.1)


# ----------------------------------------------------------------------------- the codec's order


def test_model_order_puts_integer_columns_first(columns: Columns) -> None:
    order = model_order(columns, bounds_of(columns), "event")
    assert order == ["n", "pt", "eta", "phi", "m", "width", "tau1", "tau2", "tau21"]
    # whatever the table's order; the event column is never one of them; booleans are integers
    reordered = {
        "pt": columns["pt"],
        "flag": columns["n"] > 12,
        **columns,
        "k": columns["n"].astype(np.uint8),
    }
    order = model_order(reordered, bounds_of(reordered), "event")
    assert order[:3] == ["flag", "n", "k"]
    assert "event" not in order
    assert model_order(columns, bounds_of(columns), None)[0] == "event"  # no event column: a context


def test_model_order_puts_a_relation_after_its_inputs(columns: Columns) -> None:
    names = ["event", "tau21", "pt", "tau2", "eta", "tau1", "m", "n"]
    table = {n: columns[n] for n in names}
    order = model_order(table, bounds_of(table), "event")
    assert order[0] == "n"
    assert order.index("tau21") > order.index("tau1")
    assert order.index("tau21") > order.index("tau2")
    assert order.index("tau21") == order.index("tau1") + 1  # right after the last input
    assert sorted(order) == sorted(n for n in names if n != "event")


def test_model_order_skips_columns_without_a_bound(columns: Columns) -> None:
    bounds = bounds_of(columns)
    bounds["eta"] = LOSSLESS
    del bounds["phi"]
    table = {**columns, "weight": np.ones(columns["n"].size)}  # float64 without a bound
    order = model_order(table, bounds, "event")
    assert "eta" not in order
    assert "phi" not in order
    assert "weight" not in order
    assert "pt" in order


def test_model_columns_are_what_the_codec_codes(columns: Columns) -> None:
    bounds = bounds_of(columns)
    data = model_columns(columns, bounds, "event")
    assert [c.name for c in data] == model_order(columns, bounds, "event")
    by = {c.name: c for c in data}
    n = by["n"]
    assert n.domain == Domain.INTEGER
    assert n.exact is None
    assert n.step is None
    assert np.array_equal(n.decoded, columns["n"].astype(np.float64))
    for name in ("pt", "m", "eta", "width", "tau2"):
        c = by[name]
        qz = quantise(columns[name], bounds[name])
        assert c.step == qz.step, name
        assert c.exact is not None
        assert np.array_equal(c.decoded, qz.q * qz.step), name  # what a decoder has
        relative = bounds[name].mode == BoundMode.RELATIVE
        assert c.domain == (Domain.LOG if relative else Domain.LINEAR), name
        x = columns[name].astype(np.float64)
        want = np.log(np.abs(x)) if relative else x
        assert np.array_equal(c.exact, want), name
        # the decoded values are within half a step of the exact ones
        assert float(np.abs(c.decoded - c.exact).max()) <= 0.5 * c.step * (1 + 1e-9), name


def test_model_columns_give_nan_where_the_codec_does_not_use_the_model() -> None:
    rng = np.random.default_rng(3)
    pt = rng.lognormal(3, 1, 200).astype(np.float32)
    pt[[3, 17, 50]] = 0.0  # zero under a relative bound: coded by its sign alone
    pt[60] = np.nan
    pt[61] = np.inf
    eta = rng.normal(0, 1, 200).astype(np.float32)
    eta[[5, 6]] = [np.nan, -np.inf]
    eta[7] = 0.0  # zero under an absolute bound is a value like another
    table: Columns = {"pt": pt, "eta": eta}
    bounds = bounds_of(table)
    assert bounds["pt"].mode == BoundMode.RELATIVE
    assert bounds["eta"].mode == BoundMode.ABSOLUTE
    by = {c.name: c for c in model_columns(table, bounds, None)}
    pt_exact, eta_exact = by["pt"].exact, by["eta"].exact
    assert pt_exact is not None
    assert eta_exact is not None
    assert sorted(np.flatnonzero(np.isnan(pt_exact))) == [3, 17, 50, 60, 61]
    assert sorted(np.flatnonzero(np.isnan(eta_exact))) == [5, 6]
    assert eta_exact[7] == 0.0
    assert np.isfinite(by["pt"].decoded).all()
    assert np.isfinite(by["eta"].decoded).all()
    # the model still trains on such data
    many = {k: np.tile(v, 2) for k, v in table.items()}
    result = train_conditional(
        model_columns(many, bounds, None), ConditionalTrainingConfig(hidden=4, epochs=1)
    )
    assert all(math.isfinite(b) for b in result.bits.values())


def test_a_relative_floor_makes_small_values_free() -> None:
    pt = np.array([0.0, 1e-4, 5e-3, 1.0, 20.0, 300.0] * 20, dtype=np.float32)
    bounds = {"pt": ColumnBound(BoundMode.RELATIVE, 1e-3, floor=0.01)}
    (c,) = model_columns({"pt": pt}, bounds, None)
    assert c.exact is not None
    free = np.tile([True, True, True, False, False, False], 20)  # 0, 1e-4 and 5e-3: within the floor
    assert np.array_equal(np.isnan(c.exact), free)


def test_model_columns_in_a_given_order(columns: Columns) -> None:
    bounds = bounds_of(columns)
    data = model_columns(columns, bounds, "event", order=["width", "n"])
    assert [c.name for c in data] == ["width", "n"]
    with pytest.raises(InputError, match="'nope'"):
        model_columns(columns, bounds, "event", order=["n", "nope"])
