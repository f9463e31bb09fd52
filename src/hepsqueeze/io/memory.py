"""Data in memory as a :class:`Dataset`, and back: what the Python API compresses and returns.

:func:`to_dataset` takes

- a :class:`Table` (layout ``{}``) or a :class:`Dataset` (as it is);
- a mapping of column names to 1D arrays (layout ``{}``);
- a pandas DataFrame with string column names and numeric or boolean columns (numpy dtypes, or
  pandas' nullable ``Int64``, ``Float32``, ``boolean``, ... without missing values). Layout
  ``{"format": "pandas"}``, plus ``"pandas": {"dtypes": {column: "Int64", ...}}`` for nullable
  columns and ``"pandas": {"index": ...}`` for an index other than ``RangeIndex(n)``: a RangeIndex
  (any start, step and name) is recorded as ``{"kind": "range", "start", "step", "name"}``, a
  numeric index of other values is kept exactly, as the auxiliary table ``index`` (one column,
  ``index``), recorded as ``{"kind": "table", "table": "index", "name"}``. Any other index (text,
  dates, a MultiIndex) is refused: ``reset_index()`` makes it a column;
- a pyarrow Table or RecordBatch of numeric or boolean columns without nulls (``{"format": "arrow"}``);
- an awkward Array of flat records, ``N * {a: float32, b: int64, ...}`` (``{"format": "awkward",
  "awkward": {"kind": "records"}}``), or of one jagged collection of records, ``N * var * {E, pt,
  eta, phi, ...}``, possibly under one record field, ``N * {Jet: var * {...}}``. The rows of a
  jagged collection are its flattened records (jets); an int64 ``event`` column, each row's event
  (the outer index), comes first. The layout, ``{"format": "awkward", "awkward": {"kind": "jagged",
  "collection": "Jet" or None, "events": N, "event_column": "event", "fields": [...]}}``, keeps N,
  so that events without jets come back. A record name (``ak.with_name``) is kept as ``"record"``.

:func:`from_dataset` gives a dataset back as a :class:`Table` (``"table"``), a dict of numpy arrays
(``"np"``), a pandas DataFrame (``"pd"``: same columns and dtypes, the index and nullable dtypes of a
pandas layout restored) or an awkward Array (``"ak"``: the jagged collection of a jagged awkward
layout, with empty events, without the event column; flat records otherwise). Only the main table
is returned; auxiliary tables other than a pandas index are left out.

pandas, pyarrow and awkward are imported only when data of theirs is converted.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, Final, Literal, overload

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ConfigError, InputError, nearest_names
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.formats.parquet import arrow_to_numpy
from hepsqueeze.io.interpret import NUMERIC_KINDS, build_table
from hepsqueeze.io.layout import PANDAS_NULLABLE_DTYPES
from hepsqueeze.io.limits import check_claimed_bytes
from hepsqueeze.io.table import Table

#: What :func:`from_dataset` can return: a Table, a dict of numpy arrays, a DataFrame, an awkward Array.
LIBRARIES: Final = ("table", "np", "pd", "ak")
Library = Literal["table", "np", "pd", "ak"]
#: Layout formats of data converted from memory.
PANDAS_FORMAT: Final = "pandas"
ARROW_FORMAT: Final = "arrow"
AWKWARD_FORMAT: Final = "awkward"
#: The ``kind`` of an awkward layout: flat records, or one jagged collection.
RECORDS: Final = "records"
JAGGED: Final = "jagged"
#: The column added before a jagged collection's fields: each row's event (outer index).
EVENT_COLUMN: Final = "event"
#: The auxiliary table (and its column) that keeps a DataFrame's numeric index.
INDEX_TABLE: Final = "index"
INDEX_COLUMN: Final = "index"

_DATAFRAME = "<DataFrame>"
_ARROW = "<pyarrow Table>"
_AWKWARD = "<awkward Array>"
_MAPPING = "<mapping>"
_ACCEPTED = (
    "a Table, a Dataset, a mapping of names to 1D arrays, a pandas DataFrame, a pyarrow Table or an "
    "awkward Array"
)
_AWKWARD_FORMS = (
    "flat records (N * {a: float32, ...}) or one jagged collection of records "
    "(N * var * {E: float32, ...}, possibly under one record field)"
)
_LIBRARY_ALIASES: Final = {"numpy": "np", "pandas": "pd", "awkward": "ak"}
#: Longest type description quoted in a message.
_TYPE_CHARS = 120
_INSTALL = "pip install 'hepsqueeze[io]'"


def to_dataset(data: object) -> Dataset:
    """``data`` (see the module documentation for the kinds) as a :class:`Dataset`.

    Raises :class:`InputError`, with one line naming the column or field, for data that cannot be
    compressed: non-numeric or nested columns, missing values, names that are not strings, a
    DataFrame index that is neither a RangeIndex nor numeric, an awkward Array of another shape.
    """
    if isinstance(data, Dataset):
        return data
    if isinstance(data, Table):
        return Dataset.from_table(data)
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(data, pd.DataFrame):
        return _from_pandas(data, pd)
    pa = sys.modules.get("pyarrow")
    if pa is not None and isinstance(data, pa.RecordBatch):
        return _from_arrow(pa.Table.from_batches([data]))
    if pa is not None and isinstance(data, pa.Table):
        return _from_arrow(data)
    ak = sys.modules.get("awkward")
    if ak is not None and isinstance(data, ak.Array):
        return _from_awkward(data, ak)
    if isinstance(data, Mapping):
        return _from_mapping(data)
    kind = (
        type(data).__qualname__
        if type(data).__module__ == "builtins"
        else f"{type(data).__module__}.{type(data).__qualname__}"
    )
    raise InputError(f"cannot compress a {kind}: give {_ACCEPTED}")


@overload
def from_dataset(dataset: Dataset | Table, library: Literal["table"]) -> Table: ...
@overload
def from_dataset(dataset: Dataset | Table, library: Literal["np"]) -> dict[str, npt.NDArray[Any]]: ...
@overload
def from_dataset(dataset: Dataset | Table, library: str) -> Any: ...
def from_dataset(dataset: Dataset | Table, library: str) -> Any:
    """``dataset`` as ``library`` gives it: ``"table"`` (its main :class:`Table`), ``"np"`` (a dict of
    the main table's numpy arrays, in column order; not copies), ``"pd"`` (a pandas DataFrame) or
    ``"ak"`` (an awkward Array; see the module documentation).

    Raises :class:`ConfigError` for another ``library``, and :class:`InputError` where a jagged
    awkward layout does not fit the table (its event column missing, not integers, decreasing or
    outside ``[0, events)``).
    """
    if library not in LIBRARIES:
        alias = _LIBRARY_ALIASES.get(str(library).lower())
        near = [alias] if alias else nearest_names(str(library), LIBRARIES, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ConfigError(
            f"library {library!r} is not one of {', '.join(LIBRARIES)} (a Table, a dict of numpy arrays, "
            f"a pandas DataFrame, an awkward Array){hint}"
        )
    if isinstance(dataset, Table):
        dataset = Dataset.from_table(dataset)
    elif not isinstance(dataset, Dataset):
        raise InputError(f"from_dataset needs a Dataset or a Table, not {type(dataset).__name__}")
    if library == "table":
        return dataset.table
    if library == "np":
        return dict(dataset.table.columns)
    if library == "pd":
        return _to_pandas(dataset)
    return _to_awkward(dataset)


# ----------------------------------------------------------------------------- mappings


def _from_mapping(data: Mapping[Any, Any]) -> Dataset:
    odd = next((k for k in data if not isinstance(k, str)), None)
    if odd is not None:
        raise InputError(
            f"column names must be strings; the mapping has the key {odd!r} ({type(odd).__name__})"
        )
    if not data:
        raise InputError("nothing to compress: the mapping has no columns")
    return Dataset.from_table(build_table(data.items(), _MAPPING))


# ----------------------------------------------------------------------------- pandas


def _from_pandas(frame: Any, pd: Any) -> Dataset:
    if isinstance(frame.columns, pd.MultiIndex):
        raise InputError(
            f"the DataFrame has MultiIndex columns (the first is {frame.columns[0]!r}); give it flat string "
            "column names, e.g. one name per tuple joined with '_'"
        )
    names = list(frame.columns)
    odd = next((n for n in names if not isinstance(n, str)), None)
    if odd is not None:
        raise InputError(f"DataFrame column names must be strings; found {odd!r} ({type(odd).__name__})")
    if not names:
        raise InputError("nothing to compress: the DataFrame has no columns")
    dtypes: dict[str, str] = {}
    pairs = []
    for i, name in enumerate(names):
        series = frame.iloc[:, i]
        dtype = series.dtype
        if isinstance(dtype, np.dtype):
            pairs.append((name, series.to_numpy()))
            continue
        if str(dtype) not in PANDAS_NULLABLE_DTYPES:
            raise InputError(
                f"column {name!r} in {_DATAFRAME} has pandas dtype {dtype}; "
                "only numeric and boolean columns are supported"
            )
        missing = int(series.isna().sum())
        if missing:
            raise InputError(f"column {name!r} in {_DATAFRAME} has {missing} missing (NA) values")
        dtypes[name] = str(dtype)
        pairs.append((name, series.to_numpy(dtype=dtype.numpy_dtype)))
    table = build_table(pairs, _DATAFRAME)
    info: dict[str, Any] = {}
    aux: dict[str, Table] = {}
    index = _pandas_index(frame.index, pd, len(frame))
    if index is not None:
        info["index"], values = index
        if values is not None:
            aux[INDEX_TABLE] = Table({INDEX_COLUMN: values}, source=_DATAFRAME)
    if dtypes:
        info["dtypes"] = dtypes
    layout: dict[str, Any] = {"format": PANDAS_FORMAT}
    if info:
        layout["pandas"] = info
    return Dataset(table, aux, layout)


def _pandas_index(index: Any, pd: Any, rows: int) -> tuple[dict[str, Any], npt.NDArray[Any] | None] | None:
    """The layout entry of a DataFrame's index (None for ``RangeIndex(rows)``) and its values, if kept."""
    name = index.name
    if isinstance(index, pd.MultiIndex):
        raise InputError(
            "the DataFrame has a MultiIndex; call reset_index() to make its levels columns, "
            "or reset_index(drop=True) to drop it"
        )
    if name is not None and not isinstance(name, str):
        raise InputError(
            f"the DataFrame's index is named {name!r} ({type(name).__name__}); names must be strings"
        )
    if isinstance(index, pd.RangeIndex):
        start, step = int(index.start), int(index.step)
        if (start, step, name) == (0, 1, None):
            return None
        return {"kind": "range", "start": start, "step": step, "name": name}, None
    dtype = index.dtype
    if not isinstance(dtype, np.dtype) or dtype.kind not in NUMERIC_KINDS:
        raise InputError(
            f"the DataFrame's index holds {dtype} values; only a RangeIndex or a numeric index is kept: "
            "call reset_index() to make it a column, or reset_index(drop=True) to drop it"
        )
    values = np.asarray(index.to_numpy())
    return {"kind": "table", "table": INDEX_TABLE, "name": name}, values


def _to_pandas(dataset: Dataset) -> Any:
    try:
        import pandas as pd
    except ImportError as exc:
        raise ConfigError(f"returning a pandas DataFrame needs pandas: {_INSTALL}") from exc
    table = dataset.table
    info = dataset.layout.get("pandas", {}) if dataset.format == PANDAS_FORMAT else {}
    index = _restore_index(dataset, info.get("index"), pd)
    frame = pd.DataFrame({name: table[name] for name in table.names}, index=index)
    for name, dtype in info.get("dtypes", {}).items():
        if name in frame.columns:
            frame[name] = frame[name].astype(dtype)
    return frame


def _restore_index(dataset: Dataset, info: Mapping[str, Any] | None, pd: Any) -> Any:
    rows = dataset.table.num_rows
    if info is None:
        return pd.RangeIndex(rows)
    if info["kind"] == "range":
        start, step = info["start"], info["step"]
        return pd.RangeIndex(start, start + step * rows, step, name=info.get("name"))
    aux = dataset.aux.get(info["table"])
    if aux is None or INDEX_COLUMN not in aux or aux.num_rows != rows:
        found = (
            "missing" if aux is None else f"{aux.num_rows} rows of columns {', '.join(aux.names) or 'none'}"
        )
        raise InputError(
            f"{dataset.source}: the DataFrame index kept as auxiliary table {info['table']!r} does not fit: "
            f"{found}, not {rows} rows of column {INDEX_COLUMN!r}"
        )
    return pd.Index(aux[INDEX_COLUMN], name=info.get("name"))


# ----------------------------------------------------------------------------- pyarrow


def _from_arrow(table: Any) -> Dataset:
    names = list(table.column_names)
    if not names:
        raise InputError("nothing to compress: the pyarrow Table has no columns")
    pairs = [(name, arrow_to_numpy(name, table.column(i), _ARROW)) for i, name in enumerate(names)]
    return Dataset(build_table(pairs, _ARROW), {}, {"format": ARROW_FORMAT})


# ----------------------------------------------------------------------------- awkward


def _from_awkward(array: Any, ak: Any) -> Dataset:
    types = ak.types
    content = array.type.content
    if isinstance(content, types.RecordType) and not content.is_tuple:
        fields = list(content.fields)
        if all(isinstance(t, types.NumpyType) for t in content.contents):
            return _awkward_records(array, content, ak)
        if len(fields) == 1 and _is_collection(content.contents[0], types):
            return _awkward_jagged(array[fields[0]], fields[0], content.contents[0].content, ak)
        jagged = [f for f, t in zip(fields, content.contents, strict=True) if _is_collection(t, types)]
        if jagged:
            others = [f for f in fields if f != jagged[0]]
            raise InputError(
                f"the awkward Array has fields {', '.join(map(repr, others))} next to the jagged collection "
                f"{jagged[0]!r}; give one collection alone (array[{jagged[0]!r}]) or flat records"
            )
        _check_fields(content, "the awkward Array", types)
    if isinstance(content, types.ListType) and _is_collection(content, types):
        return _awkward_jagged(array, None, content.content, ak)
    if isinstance(content, types.RecordType) and content.is_tuple:
        raise InputError("the awkward Array holds tuples (records without field names); name the fields")
    raise InputError(
        f"the awkward Array has type {_type_text(array.type)}; hepsqueeze takes {_AWKWARD_FORMS}"
    )


def _is_collection(tp: Any, types: Any) -> bool:
    """Whether ``tp`` is ``var * {named fields}`` (a list of records, not a string)."""
    return (
        isinstance(tp, types.ListType)
        and tp.parameter("__array__") is None
        and isinstance(tp.content, types.RecordType)
        and not tp.content.is_tuple
    )


def _check_fields(record: Any, what: str, types: Any) -> None:
    """InputError naming the first field of ``record`` that is not a number or a boolean."""
    if not record.fields:
        raise InputError(f"the records of {what} have no fields")
    for name, tp in zip(record.fields, record.contents, strict=True):
        if not isinstance(tp, types.NumpyType):
            raise InputError(
                f"field {name!r} of {what} has type {_type_text(tp)}; fields must be numbers or booleans "
                "(no lists, text, missing values or nested records)"
            )


def _awkward_records(array: Any, record: Any, ak: Any) -> Dataset:
    _check_fields(record, "the awkward Array", ak.types)
    table = build_table(((f, ak.to_numpy(array[f])) for f in record.fields), _AWKWARD)
    info: dict[str, Any] = {"kind": RECORDS}
    _record_name(info, record)
    return Dataset(table, {}, {"format": AWKWARD_FORMAT, AWKWARD_FORMAT: info})


def _awkward_jagged(jets: Any, collection: str | None, record: Any, ak: Any) -> Dataset:
    what = "the jagged collection" if collection is None else f"the jagged collection {collection!r}"
    _check_fields(record, what, ak.types)
    fields = list(record.fields)
    if EVENT_COLUMN in fields:
        raise InputError(
            f"{what} has a field named {EVENT_COLUMN!r}, the name of the event index hepsqueeze adds; "
            "rename the field"
        )
    events = len(jets)
    counts = np.asarray(ak.num(jets, axis=1), dtype=np.int64)
    flat = ak.flatten(jets, axis=1)
    event = np.repeat(np.arange(events, dtype=np.int64), counts)
    pairs = [(EVENT_COLUMN, event), *((f, ak.to_numpy(flat[f])) for f in fields)]
    table = build_table(pairs, _AWKWARD)
    info: dict[str, Any] = {
        "kind": JAGGED,
        "collection": collection,
        "events": events,
        "event_column": EVENT_COLUMN,
        "fields": fields,
    }
    _record_name(info, record)
    return Dataset(table, {}, {"format": AWKWARD_FORMAT, AWKWARD_FORMAT: info})


def _record_name(info: dict[str, Any], record: Any) -> None:
    name = record.parameter("__record__")
    if isinstance(name, str):
        info["record"] = name


def _to_awkward(dataset: Dataset) -> Any:
    try:
        import awkward as ak
    except ImportError as exc:
        raise ConfigError(f"returning an awkward Array needs awkward: {_INSTALL}") from exc
    info = dataset.layout.get(AWKWARD_FORMAT) if dataset.format == AWKWARD_FORMAT else None
    table = dataset.table
    if isinstance(info, Mapping) and info.get("kind") == JAGGED:
        return _restore_jagged(dataset, info, ak)
    if not table.names:
        raise InputError(f"{dataset.source} has no columns to make awkward records of")
    records = ak.zip({name: table[name] for name in table.names}, depth_limit=1)
    return _with_name(records, info, ak)


def _restore_jagged(dataset: Dataset, info: Mapping[str, Any], ak: Any) -> Any:
    table, source = dataset.table, dataset.source
    column, events = info["event_column"], info["events"]
    if column not in table:
        raise InputError(
            f"{source}: the event column {column!r} of its jagged awkward layout is missing "
            f"(columns: {', '.join(table.names) or 'none'})"
        )
    event = table[column]
    if event.dtype.kind not in "iu":
        raise InputError(f"{source}: the event column {column!r} holds {event.dtype} values, not integers")
    if event.size:
        if bool(np.any(event[1:] < event[:-1])):
            raise InputError(
                f"{source}: the event column {column!r} decreases; the rows of one event must be "
                "adjacent and the events in order"
            )
        low, high = int(event[0]), int(event[-1])
        if low < 0 or high >= events:
            raise InputError(
                f"{source}: the event column {column!r} holds {low if low < 0 else high}, "
                f"outside [0, {events}) (the layout's number of events)"
            )
    fields = [name for name in table.names if name != column]
    if not fields:
        raise InputError(f"{source}: the jagged collection has no fields besides the event column {column!r}")
    check_claimed_bytes(8 * (events + 1), f"the jagged awkward layout's {events} events", source)
    counts = np.bincount(event.astype(np.int64), minlength=events)
    records = _with_name(ak.zip({name: table[name] for name in fields}, depth_limit=1), info, ak)
    jagged = ak.unflatten(records, counts)
    collection = info.get("collection")
    return jagged if collection is None else ak.zip({collection: jagged}, depth_limit=1)


def _with_name(records: Any, info: Mapping[str, Any] | None, ak: Any) -> Any:
    name = None if info is None else info.get("record")
    return records if name is None else ak.with_name(records, name)


def _type_text(tp: Any) -> str:
    text = str(tp)
    return text if len(text) <= _TYPE_CHARS else text[: _TYPE_CHARS - 3] + "..."


__all__ = [
    "ARROW_FORMAT",
    "AWKWARD_FORMAT",
    "EVENT_COLUMN",
    "INDEX_COLUMN",
    "INDEX_TABLE",
    "JAGGED",
    "LIBRARIES",
    "PANDAS_FORMAT",
    "RECORDS",
    "Library",
    "from_dataset",
    "to_dataset",
]
