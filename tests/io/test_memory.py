"""In-memory data to a Dataset and back: DataFrames, pyarrow Tables, awkward Arrays, mappings."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import awkward as ak
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hepsqueeze.errors import ConfigError, InputError
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.layout import check_layout
from hepsqueeze.io.memory import EVENT_COLUMN, INDEX_TABLE, LIBRARIES, from_dataset, to_dataset
from hepsqueeze.io.table import Table


def _jets(counts: list[int], seed: int = 0) -> ak.Array:
    """Events of ``counts`` jets (E, pt, eta, phi float32, a bool and an int64 field)."""
    rng = np.random.default_rng(seed)
    n = sum(counts)
    records = ak.zip(
        {
            "E": rng.uniform(1, 100, n).astype(np.float32),
            "pt": rng.uniform(1, 50, n).astype(np.float32),
            "eta": rng.uniform(-3, 3, n).astype(np.float32),
            "phi": rng.uniform(-3, 3, n).astype(np.float32),
            "btag": rng.random(n) < 0.5,
            "flavour": rng.integers(-5, 6, n).astype(np.int64),
        },
        depth_limit=1,
    )
    return ak.unflatten(records, np.asarray(counts, dtype=np.int64))


def _same(a: ak.Array, b: ak.Array) -> None:
    assert str(a.type) == str(b.type)
    assert ak.array_equal(a, b)
    assert a.to_list() == b.to_list()


def _roundtrip(data: Any, library: str) -> Any:
    dataset = to_dataset(data)
    # the layout goes into a file's header as JSON and is checked when it is read back
    check_layout(json.loads(json.dumps(dict(dataset.layout))), "test")
    return from_dataset(Dataset(dataset.table, dataset.aux, dataset.layout), library)


# ----------------------------------------------------------------------------- tables and mappings


def test_table_and_dataset() -> None:
    table = Table({"a": np.arange(3), "b": np.ones(3, np.float32)})
    dataset = to_dataset(table)
    assert dataset.table is table
    assert dict(dataset.layout) == {}
    assert to_dataset(dataset) is dataset
    assert from_dataset(dataset, "table") is table
    assert from_dataset(table, "table") is table


def test_mapping() -> None:
    data = {"b": np.arange(4, dtype=np.int16), "a": [1.0, 2.0, 3.0, 4.0], "c": np.zeros(4, bool)}
    back = _roundtrip(data, "np")
    assert list(back) == ["b", "a", "c"]
    assert [a.dtype for a in back.values()] == [np.int16, np.float64, np.bool_]
    np.testing.assert_array_equal(back["a"], data["a"])
    assert dict(to_dataset(data).layout) == {}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({1: [1.0]}, "column names must be strings; the mapping has the key 1 (int)"),
        ({}, "nothing to compress: the mapping has no columns"),
        (
            {"a": [[1.0, 2.0]]},
            "column 'a' in <mapping> has shape (1, 2); columns must be 1D (one value per row)",
        ),
        ({"a": [1.0], "b": [1.0, 2.0]}, "column 'b' in <mapping> has 2 rows but column 'a' has 1"),
        (
            {"a": np.array(["x"])},
            "column 'a' in <mapping> holds text (dtype <U1); only numeric and boolean columns are supported",
        ),
        (
            [1, 2],
            "cannot compress a list: give a Table, a Dataset, a mapping of names to 1D arrays, a pandas "
            "DataFrame, a pyarrow Table or an awkward Array",
        ),
        (
            np.zeros(3),
            "cannot compress a numpy.ndarray: give a Table, a Dataset, a mapping of names to 1D arrays, a "
            "pandas DataFrame, a pyarrow Table or an awkward Array",
        ),
    ],
)
def test_refused_mappings_and_types(data: Any, message: str) -> None:
    with pytest.raises(InputError) as caught:
        to_dataset(data)
    assert str(caught.value) == message


# ----------------------------------------------------------------------------- pandas


def _frame(rows: int = 5, **kwargs: Any) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "E": rng.uniform(1, 100, rows).astype(np.float32),
            "pt": rng.uniform(1, 50, rows),
            "n": rng.integers(0, 9, rows).astype(np.uint8),
            "event": np.arange(rows, dtype=np.int64),
            "good": rng.random(rows) < 0.5,
        },
        **kwargs,
    )


def test_dataframe_round_trip() -> None:
    frame = _frame()
    dataset = to_dataset(frame)
    assert dict(dataset.layout) == {"format": "pandas"}
    assert dataset.is_plain
    back = _roundtrip(frame, "pd")
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert list(back.dtypes) == list(frame.dtypes)


@pytest.mark.parametrize(
    "index",
    [
        pd.RangeIndex(10, 20, 2, name="jet"),
        pd.RangeIndex(0, -5, -1),
        pd.Index(np.array([7, 3, 3, 100, -1], dtype=np.int64), name="orig"),
        pd.Index(np.linspace(0, 1, 5, dtype=np.float32)),
        pd.Index(np.array([4, 3, 2, 1, 0], dtype=np.uint32)),
    ],
)
def test_dataframe_index_comes_back(index: pd.Index) -> None:
    frame = _frame(index=index)
    back = _roundtrip(frame, "pd")
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    pd.testing.assert_index_equal(back.index, frame.index, exact=True)


def test_dataframe_filtered_rows_keep_their_index() -> None:
    frame = _frame(rows=50)
    kept = frame[frame["pt"] > 20]
    dataset = to_dataset(kept)
    assert dataset.layout["pandas"]["index"] == {"kind": "table", "table": INDEX_TABLE, "name": None}
    pd.testing.assert_frame_equal(_roundtrip(kept, "pd"), kept, check_exact=True)


def test_dataframe_nullable_dtypes() -> None:
    frame = pd.DataFrame(
        {
            "i": pd.array([1, 2, 3], dtype="Int64"),
            "u": pd.array([1, 2, 3], dtype="UInt16"),
            "f": pd.array([0.5, 1.5, 2.5], dtype="Float32"),
            "b": pd.array([True, False, True], dtype="boolean"),
            "plain": np.arange(3, dtype=np.int32),
        }
    )
    dataset = to_dataset(frame)
    assert dataset.layout["pandas"]["dtypes"] == {"i": "Int64", "u": "UInt16", "f": "Float32", "b": "boolean"}
    assert [dataset.table[n].dtype for n in "iufb"] == [np.int64, np.uint16, np.float32, np.bool_]
    pd.testing.assert_frame_equal(_roundtrip(frame, "pd"), frame, check_exact=True)


def test_dataframe_of_no_rows() -> None:
    frame = _frame(rows=0)
    pd.testing.assert_frame_equal(_roundtrip(frame, "pd"), frame)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            pd.DataFrame({"o": np.array([1, "a"], dtype=object)}),
            "column 'o' in <DataFrame> holds Python objects (dtype object); only numeric and boolean columns "
            "are supported",
        ),
        (
            pd.DataFrame({"s": pd.array(["a", "b"], dtype="string")}),
            "column 's' in <DataFrame> has pandas dtype string; only numeric and boolean columns are supported",
        ),
        (
            pd.DataFrame({"c": pd.Categorical([1, 2])}),
            "column 'c' in <DataFrame> has pandas dtype category; only numeric and boolean columns are supported",
        ),
        (
            pd.DataFrame({"t": np.array(["2024-01-01"], dtype="datetime64[ns]")}),
            "column 't' in <DataFrame> holds datetimes (dtype datetime64[ns]); only numeric and boolean columns "
            "are supported",
        ),
        (
            pd.DataFrame({"a": pd.array([1, None], dtype="Int64")}),
            "column 'a' in <DataFrame> has 1 missing (NA) values",
        ),
        (pd.DataFrame({0: [1.0]}), "DataFrame column names must be strings; found 0 (int)"),
        (
            pd.DataFrame([[1.0, 2.0]], columns=pd.MultiIndex.from_tuples([("Jet", "pt"), ("Jet", "eta")])),
            "the DataFrame has MultiIndex columns (the first is ('Jet', 'pt')); give it flat string column "
            "names, e.g. one name per tuple joined with '_'",
        ),
        (pd.DataFrame(index=pd.RangeIndex(3)), "nothing to compress: the DataFrame has no columns"),
        (
            pd.DataFrame([[1.0, 2.0]], columns=["a", "a"]),
            "column name 'a' appears more than once in <DataFrame>",
        ),
        (
            pd.DataFrame(
                {"a": [1.0]}, index=pd.DatetimeIndex(np.array(["2024-01-01"], dtype="datetime64[ns]"))
            ),
            "the DataFrame's index holds datetime64[ns] values; only a RangeIndex or a numeric index is kept: call "
            "reset_index() to make it a column, or reset_index(drop=True) to drop it",
        ),
        (
            pd.DataFrame({"a": [1.0]}, index=pd.MultiIndex.from_tuples([(1, 2)])),
            "the DataFrame has a MultiIndex; call reset_index() to make its levels columns, or "
            "reset_index(drop=True) to drop it",
        ),
        (
            pd.DataFrame({"a": [1.0]}, index=pd.RangeIndex(1, name=3)),
            "the DataFrame's index is named 3 (int); names must be strings",
        ),
    ],
)
def test_refused_dataframes(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(InputError) as caught:
        to_dataset(frame)
    assert str(caught.value) == message


def test_text_columns_are_refused_naming_the_column() -> None:
    # object or pandas' own string dtype, depending on the pandas version
    with pytest.raises(InputError, match=r"^column 'name' in <DataFrame> .*only numeric and boolean"):
        to_dataset(pd.DataFrame({"pt": [1.0], "name": ["jet"]}))


def test_missing_index_table_is_an_input_error() -> None:
    dataset = to_dataset(_frame().iloc[[4, 2, 3]])
    with pytest.raises(InputError, match="the DataFrame index kept as auxiliary table 'index' does not fit"):
        from_dataset(Dataset(dataset.table, {}, dataset.layout), "pd")


# ----------------------------------------------------------------------------- pyarrow


def test_arrow_round_trip() -> None:
    table = pa.table(
        {
            "E": pa.array([1.5, 2.5, 3.5], pa.float32()),
            "n": pa.array([1, 2, 3], pa.int8()),
            "flag": [True, False, True],
            "big": pa.chunked_array([[1, 2], [3]], pa.uint64()),
        }
    )
    dataset = to_dataset(table)
    assert dict(dataset.layout) == {"format": "arrow"}
    back = _roundtrip(table, "np")
    assert list(back) == table.column_names
    for name in table.column_names:
        np.testing.assert_array_equal(back[name], table.column(name).to_numpy())
        assert back[name].dtype == table.column(name).type.to_pandas_dtype()
    assert pa.table(back).equals(table.combine_chunks())
    batch = table.combine_chunks().to_batches()[0]
    assert list(_roundtrip(batch, "np")) == table.column_names


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            pa.table({"ok": [1.0], "s": ["a"]}),
            "column 's' in <pyarrow Table> has type string; only numeric and boolean columns are supported",
        ),
        (
            pa.table({"l": [[1.0]]}),
            "column 'l' in <pyarrow Table> has type list<item: double>; only numeric and boolean columns are "
            "supported",
        ),
        (
            pa.table({"r": [{"x": 1}]}),
            "column 'r' in <pyarrow Table> has type struct<x: int64>; only numeric and boolean columns are "
            "supported",
        ),
        (pa.table({"n": pa.array([1, None])}), "column 'n' in <pyarrow Table> has 1 missing (null) values"),
        (pa.table({}), "nothing to compress: the pyarrow Table has no columns"),
    ],
)
def test_refused_arrow_tables(table: pa.Table, message: str) -> None:
    with pytest.raises(InputError) as caught:
        to_dataset(table)
    assert str(caught.value) == message


# ----------------------------------------------------------------------------- awkward


def test_flat_records() -> None:
    array = ak.zip(
        {"a": np.arange(4, dtype=np.float32), "b": np.arange(4, dtype=np.int64), "c": np.ones(4, bool)},
        depth_limit=1,
    )
    dataset = to_dataset(array)
    assert dict(dataset.layout) == {"format": "awkward", "awkward": {"kind": "records"}}
    assert dataset.table.names == ("a", "b", "c")
    _same(_roundtrip(array, "ak"), array)


def test_named_records_keep_their_name() -> None:
    array = ak.with_name(ak.zip({"pt": [1.0, 2.0], "eta": [0.1, 0.2]}), "Momentum4D")
    assert to_dataset(array).layout["awkward"] == {"kind": "records", "record": "Momentum4D"}
    _same(_roundtrip(array, "ak"), array)
    jets = ak.unflatten(array, [0, 2])
    _same(_roundtrip(jets, "ak"), jets)


def test_jagged_collection() -> None:
    jets = _jets([2, 0, 3, 0, 0, 1, 0])
    dataset = to_dataset(jets)
    assert dict(dataset.layout) == {
        "format": "awkward",
        "awkward": {
            "kind": "jagged",
            "collection": None,
            "events": 7,
            "event_column": "event",
            "fields": ["E", "pt", "eta", "phi", "btag", "flavour"],
        },
    }
    assert dataset.table.names == (EVENT_COLUMN, "E", "pt", "eta", "phi", "btag", "flavour")
    assert dataset.table[EVENT_COLUMN].dtype == np.int64
    assert dataset.table[EVENT_COLUMN].tolist() == [0, 0, 2, 2, 2, 5]
    np.testing.assert_array_equal(dataset.table["pt"], ak.to_numpy(ak.flatten(jets.pt)))
    _same(_roundtrip(jets, "ak"), jets)
    # the flat forms hold the event column
    assert list(from_dataset(dataset, "np")) == list(dataset.table.names)
    assert list(from_dataset(dataset, "pd").columns) == list(dataset.table.names)


def test_jagged_collection_under_a_field() -> None:
    events = ak.zip({"Jet": _jets([0, 1, 0, 4])}, depth_limit=1)
    assert str(events.type) == (
        "4 * {Jet: var * {E: float32, pt: float32, eta: float32, phi: float32, btag: bool, flavour: int64}}"
    )
    assert to_dataset(events).layout["awkward"]["collection"] == "Jet"
    _same(_roundtrip(events, "ak"), events)


def test_jagged_collection_from_python_lists() -> None:
    jets = ak.Array([[{"pt": 1.0, "eta": 0.5}], [], [{"pt": 2.0, "eta": -1.0}, {"pt": 3.0, "eta": 0.0}], []])
    _same(_roundtrip(jets, "ak"), jets)
    sliced = jets[[3, 2, 0]]  # a ListArray over the same content
    _same(_roundtrip(sliced, "ak"), sliced)


@given(
    counts=st.lists(st.integers(min_value=0, max_value=5), max_size=30),
    collection=st.sampled_from([None, "Jet", "FatJet"]),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=60, deadline=None)
def test_jagged_round_trip_property(counts: list[int], collection: str | None, seed: int) -> None:
    jets = _jets(counts, seed)
    array = jets if collection is None else ak.zip({collection: jets}, depth_limit=1)
    dataset = to_dataset(array)
    assert dataset.table.num_rows == sum(counts)
    assert dataset.layout["awkward"]["events"] == len(counts)
    _same(_roundtrip(array, "ak"), array)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (
            ak.Array([1, 2]),
            "the awkward Array has type 2 * int64; hepsqueeze takes flat records (N * {a: float32, ...}) or "
            "one jagged collection of records (N * var * {E: float32, ...}, possibly under one record field)",
        ),
        (
            ak.Array([[1.0, 2.0], []]),
            "the awkward Array has type 2 * var * float64; hepsqueeze takes flat records (N * {a: float32, ...}) "
            "or one jagged collection of records (N * var * {E: float32, ...}, possibly under one record field)",
        ),
        (
            ak.Array([{"pt": [1.0]}]),
            "field 'pt' of the awkward Array has type var * float64; fields must be numbers or booleans (no "
            "lists, text, missing values or nested records)",
        ),
        (
            ak.Array([{"name": "jet", "pt": 1.0}]),
            "field 'name' of the awkward Array has type string; fields must be numbers or booleans (no lists, "
            "text, missing values or nested records)",
        ),
        (
            ak.Array([{"pt": None}, {"pt": 1.0}]),
            "field 'pt' of the awkward Array has type ?float64; fields must be numbers or booleans (no lists, "
            "text, missing values or nested records)",
        ),
        (
            ak.Array([{"p4": {"pt": 1.0}}]),
            "field 'p4' of the awkward Array has type {pt: float64}; fields must be numbers or booleans (no "
            "lists, text, missing values or nested records)",
        ),
        (
            ak.Array([[{"pt": 1.0, "constituents": [1, 2]}]]),
            "field 'constituents' of the jagged collection has type var * int64; fields must be numbers or "
            "booleans (no lists, text, missing values or nested records)",
        ),
        (
            ak.Array([{"Jet": [{"pt": None}, {"pt": 1.0}]}]),
            "field 'pt' of the jagged collection 'Jet' has type ?float64; fields must be numbers or booleans "
            "(no lists, text, missing values or nested records)",
        ),
        (
            ak.Array([{"Jet": [{"pt": 1.0}], "MET": 3.0, "run": 1}]),
            "the awkward Array has fields 'MET', 'run' next to the jagged collection 'Jet'; give one "
            "collection alone (array['Jet']) or flat records",
        ),
        (
            ak.Array([[{"event": 1, "pt": 1.0}]]),
            "the jagged collection has a field named 'event', the name of the event index hepsqueeze adds; "
            "rename the field",
        ),
        (
            ak.Array([(1.0, 2)]),
            "the awkward Array holds tuples (records without field names); name the fields",
        ),
        (
            ak.Array([]),
            "the awkward Array has type 0 * unknown; hepsqueeze takes flat records (N * {a: float32, ...}) or "
            "one jagged collection of records (N * var * {E: float32, ...}, possibly under one record field)",
        ),
        (
            ak.Array([{"t": np.datetime64("2024-01-01", "s")}]),
            "column 't' in <awkward Array> holds datetimes (dtype datetime64[s]); only numeric and boolean "
            "columns are supported",
        ),
    ],
)
def test_refused_awkward_arrays(array: ak.Array, message: str) -> None:
    with pytest.raises(InputError) as caught:
        to_dataset(array)
    assert str(caught.value) == message


JAGGED_INFO: dict[str, Any] = {
    "kind": "jagged",
    "collection": None,
    "events": 4,
    "event_column": "event",
    "fields": ["pt"],
}
JAGGED_LAYOUT: dict[str, Any] = {"format": "awkward", "awkward": JAGGED_INFO}


def _jagged(**changes: Any) -> dict[str, Any]:
    return {"format": "awkward", "awkward": JAGGED_INFO | changes}


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (None, "<table>: the event column 'event' of its jagged awkward layout is missing (columns: pt)"),
        (np.array([0.0, 1.0, 1.0]), "<table>: the event column 'event' holds float64 values, not integers"),
        (
            np.array([0, 2, 1]),
            "<table>: the event column 'event' decreases; the rows of one event must be adjacent and the "
            "events in order",
        ),
        (
            np.array([0, 1, 4]),
            "<table>: the event column 'event' holds 4, outside [0, 4) (the layout's number of events)",
        ),
        (
            np.array([-1, 1, 2]),
            "<table>: the event column 'event' holds -1, outside [0, 4) (the layout's number of events)",
        ),
    ],
)
def test_jagged_layout_that_does_not_fit(event: Any, message: str) -> None:
    columns = (
        {"pt": np.ones(3, np.float32)} if event is None else {"event": event, "pt": np.ones(3, np.float32)}
    )
    dataset = Dataset(Table(columns), {}, JAGGED_LAYOUT)
    with pytest.raises(InputError) as caught:
        from_dataset(dataset, "ak")
    assert str(caught.value) == message
    assert from_dataset(dataset, "table") is dataset.table  # the flat forms do not need the layout


def test_jagged_layout_of_too_many_events_is_refused_before_allocating() -> None:
    layout = _jagged(events=1 << 60)
    dataset = Dataset(Table({"event": np.zeros(1, np.int64), "pt": np.ones(1)}), {}, layout)
    with pytest.raises(InputError, match="claims"):
        from_dataset(dataset, "ak")


def test_other_layouts_give_flat_records() -> None:
    dataset = to_dataset(_frame())
    records = from_dataset(dataset, "ak")
    assert ak.fields(records) == list(dataset.table.names)
    assert len(records) == dataset.table.num_rows


# ----------------------------------------------------------------------------- libraries and layouts


@pytest.mark.parametrize(
    ("library", "hint"),
    [
        ("pandas", "; did you mean 'pd'?"),
        ("numpy", "; did you mean 'np'?"),
        ("arrow", ""),
        ("tabel", "; did you mean 'table'?"),
    ],
)
def test_unknown_library(library: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_dataset(to_dataset({"a": [1.0]}), library)
    assert str(caught.value) == (
        f"library {library!r} is not one of table, np, pd, ak (a Table, a dict of numpy arrays, a pandas "
        f"DataFrame, an awkward Array){hint}"
    )
    assert LIBRARIES == ("table", "np", "pd", "ak")


@pytest.mark.parametrize(
    ("layout", "key"),
    [
        ({"format": "awkward", "awkward": []}, "'awkward' must be a JSON object"),
        (
            {"format": "awkward", "awkward": {"kind": "trees"}},
            "'awkward.kind' must be one of records, jagged",
        ),
        (
            {"format": "awkward", "awkward": {"kind": "records", "record": 3}},
            "'awkward.record' must be a string",
        ),
        (
            _jagged(events=-1),
            "'awkward.events' must be",
        ),
        (
            _jagged(events=True),
            "'awkward.events' must be",
        ),
        (
            _jagged(event_column=None),
            "'awkward.event_column'",
        ),
        (
            _jagged(collection=1),
            "'awkward.collection'",
        ),
        (_jagged(fields=[1]), "'awkward.fields'"),
        (
            {"format": "pandas", "pandas": {"index": {"kind": "range", "start": 0, "step": 0}}},
            "'pandas.index.step' must not be 0",
        ),
        (
            {"format": "pandas", "pandas": {"index": {"kind": "range", "start": 0.5, "step": 1}}},
            "'pandas.index.start'",
        ),
        (
            {"format": "pandas", "pandas": {"index": {"kind": "range", "start": 1 << 64, "step": 1}}},
            "'pandas.index.start'",
        ),
        ({"format": "pandas", "pandas": {"index": {"kind": "table", "table": None}}}, "'pandas.index.table'"),
        (
            {"format": "pandas", "pandas": {"index": {"kind": "rows"}}},
            "'pandas.index.kind' must be one of range, table",
        ),
        (
            {"format": "pandas", "pandas": {"index": {"kind": "range", "start": 0, "step": 1, "name": 1}}},
            "'pandas.index.name'",
        ),
        (
            {"format": "pandas", "pandas": {"dtypes": {"a": "object"}}},
            "'pandas.dtypes.a' must be one of Int8",
        ),
    ],
)
def test_crafted_layouts_are_refused(layout: dict[str, Any], key: str) -> None:
    with pytest.raises(InputError, match="key " + key.replace("(", r"\(").replace(".", r"\.")):
        Dataset(Table({"event": np.zeros(1, np.int64), "pt": np.ones(1)}), {}, layout)


def test_module_imports_no_optional_library() -> None:
    code = (
        "import sys; import hepsqueeze.io.memory, hepsqueeze.codecs.bounded.spec; "
        "print(sorted(m for m in ('pandas', 'pyarrow', 'awkward', 'torch', 'matplotlib') if m in sys.modules))"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "[]"
