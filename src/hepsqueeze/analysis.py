"""Compressed files read straight into the analysis stack: :func:`open` gives one awkward Array.

>>> import hepsqueeze as hsq
>>> events = hsq.open("nano.hsqz")                         # every event, as uproot + ak.zip give it
>>> jets = hsq.open("nano.hsqz", columns=["Jet"]).Jet      # only the Jet collection is decoded
>>> lead = jets.pt[:, :1]                                  # GeV, within the file's bound

How a file compressed from a ROOT TTree (NanoAOD) becomes records, one per event (entry):

- *collections*: the jagged branches counted by one counter branch (``Jet_pt[nJet]``,
  ``Jet_eta[nJet]``, ...) are one field, named after the prefix before the first ``_`` that they
  all share (``Jet``), holding each event's list of records whose fields are the branch names after
  that prefix (``events.Jet.pt``); branches without one shared prefix give a field named after the
  counter, with the branch names as fields. Counter branches are not fields: ``ak.num(events.Jet)``
  is ``nJet`` (:func:`open_branches` gives them);
- *flat branches* ``<X>_<rest>`` (``MET_pt``, ``MET_phi``) are the fields ``rest`` of a record
  ``X`` (``events.MET.pt``), as NanoEvents groups them, unless ``X`` is a collection's or another
  field's name (the branch then keeps its whole name as a field); other flat branches (``run``,
  ``event``) are fields of their own; a fixed-size array branch (``x[3]``) is a field of 3 values;
- fields come in the tree's branch order (a collection where its counter is).

Any other file gives one record per row of its main table (a Parquet file of jets: one record per
jet, ``event``, ``E``, ``pt``, ... as fields); data compressed from an awkward Array comes back in its
shape (a jagged collection jagged, empty events included; auxiliary tables other files keep are not
part of the records).

``columns`` names what to decode: branch names (``Jet_pt``, ``MET_pt``, ``run``), field names
(``Jet``, ``MET``) or field paths (``Jet.pt``); the result has only those fields, in the file's
order. Only the tables they live in are read (a collection needs its own table only, whose event
index gives the structure); within a table coded as one payload by the error-bounded codec every
column is decoded and those not asked for are dropped (its columns depend on each other); lossless
columns not asked for are not read. Every value is the one :func:`hepsqueeze.decompress` gives.

awkward is imported when a file is opened (the ``io`` extra).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from hepsqueeze.container import ContainerReader
from hepsqueeze.errors import ColumnError, ConfigError, InputError, KeyInFileError, nearest_names
from hepsqueeze.file.header import FileHeader, parse_header
from hepsqueeze.file.reader import open_file, read_columns
from hepsqueeze.io.interpret import native
from hepsqueeze.io.limits import check_claimed_bytes
from hepsqueeze.io.table import Table

#: What an item of the records is: a flat field, a record of flat branches, a jagged collection.
ItemKind = Literal["field", "record", "collection"]
#: Most names quoted in a message.
_QUOTED: Final = 12
_INSTALL: Final = "pip install 'hepsqueeze[io]'"


@dataclass(frozen=True)
class Leaf:
    """One field of the records: ``name`` in its record, from ``branch`` (the name in the file),
    stored as ``columns`` of ``table`` (``None``: the main table; several columns for a fixed-size
    array branch of inner ``shape``)."""

    name: str
    branch: str
    table: str | None
    columns: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: np.dtype[Any]


@dataclass(frozen=True)
class Item:
    """A top-level field: a flat ``field`` (one leaf), a ``record`` of flat branches or a jagged
    ``collection`` (the rows of ``table``; its ``index`` column gives each row's event)."""

    name: str
    kind: ItemKind
    leaves: tuple[Leaf, ...]
    table: str | None = None
    index: str | None = None
    counter: str | None = None
    counter_dtype: np.dtype[Any] | None = None
    record: str | None = None


#: A choice of fields: (item number, its leaves' numbers), in the file's order.
Selection = tuple[tuple[int, tuple[int, ...]], ...]


@dataclass(frozen=True)
class EventLayout:
    """How a compressed file's tables become records; built from the data header alone.

    ``events``: the number of records (entries); ``bare``: the array is its one collection itself
    (``N * var * {...}``, data compressed from such an awkward Array), not records of fields."""

    source: str
    events: int
    items: tuple[Item, ...]
    bare: bool = False
    record: str | None = None

    @classmethod
    def of_file(cls, path: str | os.PathLike[str]) -> EventLayout:
        """The layout of the file at ``path``: its header is read, no data."""
        with ContainerReader.open(path) as reader:
            return cls.from_header(parse_header(reader), reader.name)

    @classmethod
    def from_header(cls, header: FileHeader, source: str) -> EventLayout:
        """The layout a checked data header describes; :class:`InputError` if it names columns
        or tables the header does not list."""
        layout = header.layout
        schemas: dict[str | None, tuple[int, dict[str, np.dtype[Any]]]] = {
            None: (header.num_rows, dict(header.dtypes))
        }
        schemas.update({t.name: (t.num_rows, dict(t.columns)) for t in header.tables})
        fmt = layout.get("format")
        if fmt == "root" and "branches" in layout:
            plan = _root_layout(layout, source)
        elif fmt == "awkward" and isinstance(layout.get("awkward"), Mapping):
            plan = _awkward_layout(layout["awkward"], header, source)
        else:
            plan = _flat_layout(header, source)
        plan.check(schemas)
        return plan

    def check(self, schemas: Mapping[str | None, tuple[int, Mapping[str, np.dtype[Any]]]]) -> None:
        """Every table and column named is in ``schemas`` (table -> rows, column dtypes), with
        ``events`` rows for flat fields."""

        def where(table: str | None) -> str:
            return "the main table" if table is None else f"table {table!r}"

        for item in self.items:
            tables = {leaf.table for leaf in item.leaves} | (
                {item.table} if item.kind == "collection" else set()
            )
            for table in tables:
                if table not in schemas:
                    raise InputError(
                        f"{self.source}: the layout names {where(table)}, which the file does not hold"
                    )
                rows, dtypes = schemas[table]
                if item.kind != "collection" and rows != self.events:
                    raise InputError(
                        f"{self.source}: {where(table)} holds {rows} rows for {self.events} events"
                    )
                needed = [c for leaf in item.leaves if leaf.table == table for c in leaf.columns]
                if item.kind == "collection" and item.index is not None:
                    needed.append(item.index)
                    if item.index in dtypes and dtypes[item.index].kind not in "iu":
                        raise InputError(
                            f"{self.source}: the event index {item.index!r} of {item.name!r} holds "
                            f"{dtypes[item.index]} values, not integers"
                        )
                missing = [c for c in needed if c not in dtypes]
                if missing:
                    raise InputError(
                        f"{self.source}: the layout names column {missing[0]!r} of {where(table)}, "
                        "which the file does not hold"
                    )

    # -- choosing ------------------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Every name :meth:`select` takes: fields, branches (``Jet_pt``) and paths (``Jet.pt``)."""
        if self.bare:
            return [leaf.name for item in self.items for leaf in item.leaves]
        out: list[str] = []
        for item in self.items:
            out.append(item.name)
            for leaf in item.leaves:
                out += [leaf.branch] if item.kind == "field" else [leaf.branch, f"{item.name}.{leaf.name}"]
        return list(dict.fromkeys(out))

    def select(self, columns: Collection[str] | str | None) -> Selection:
        """The fields ``columns`` name (None: all). Raises :class:`KeyInFileError` naming every
        name the file does not hold, :class:`ColumnError` for a counter branch."""
        if columns is None:
            return tuple((i, tuple(range(len(item.leaves)))) for i, item in enumerate(self.items))
        if isinstance(columns, str):
            columns = [columns]
        if not all(isinstance(c, str) for c in columns):
            raise ConfigError(
                f"columns must be names (strings), got {list(columns)!r}"[:200], option="columns"
            )
        lookup = self._lookup()
        chosen: dict[int, set[int]] = {}
        missing: list[str] = []
        for name in columns:
            found = lookup.get(name)
            if found is None:
                counter = next((it for it in self.items if it.counter == name), None)
                if counter is not None:
                    raise ColumnError(
                        f"{name!r} in {self.source} is the counter of collection {counter.name!r}: ask for "
                        f"{counter.name!r} or its branches (ak.num(events.{counter.name}) gives {name})",
                        path=self.source,
                        column=name,
                    )
                missing.append(name)
                continue
            item, leaves = found
            chosen.setdefault(item, set()).update(leaves)
        if missing:
            raise _missing(missing, self.names(), self.source)
        return tuple((i, tuple(sorted(chosen[i]))) for i in range(len(self.items)) if i in chosen)

    def _lookup(self) -> dict[str, tuple[int, tuple[int, ...]]]:
        out: dict[str, tuple[int, tuple[int, ...]]] = {}
        for i, item in enumerate(self.items):
            every = tuple(range(len(item.leaves)))
            for j, leaf in enumerate(item.leaves):
                out.setdefault(leaf.branch, (i, (j,)))
                if self.bare:
                    out.setdefault(leaf.name, (i, (j,)))
                elif item.kind != "field":
                    out.setdefault(f"{item.name}.{leaf.name}", (i, (j,)))
            if not self.bare:
                out[item.name] = (i, every)
        return out

    def wanted(self, selection: Selection) -> dict[str | None, list[str]]:
        """The columns of each table that ``selection`` needs, in the file's order."""
        out: dict[str | None, list[str]] = {}
        for i, leaves in selection:
            item = self.items[i]
            if item.kind == "collection" and item.index is not None:
                out.setdefault(item.table, []).append(item.index)
            for j in leaves:
                leaf = item.leaves[j]
                out.setdefault(leaf.table, []).extend(leaf.columns)
        return {t: list(dict.fromkeys(c)) for t, c in out.items()}

    # -- building ------------------------------------------------------------------------------------

    def form(self, selection: Selection) -> Any:
        """The awkward form of :meth:`build`'s array for ``selection``, from the header alone."""
        return self.build(self._empty(selection), selection, events=0).layout.form

    def empty(self, selection: Selection) -> Any:
        """A length-zero array of :meth:`form`."""
        return self.build(self._empty(selection), selection, events=0)

    def _empty(self, selection: Selection) -> dict[str | None, Table]:
        dtypes: dict[tuple[str | None, str], np.dtype[Any]] = {}
        for i, leaves in selection:
            item = self.items[i]
            if item.kind == "collection" and item.index is not None:
                dtypes[(item.table, item.index)] = np.dtype(np.int64)
            for j in leaves:
                leaf = item.leaves[j]
                for c in leaf.columns:
                    dtypes[(leaf.table, c)] = leaf.dtype
        tables: dict[str | None, dict[str, npt.NDArray[Any]]] = {}
        for (table, column), dtype in dtypes.items():
            tables.setdefault(table, {})[column] = np.empty(0, dtype=dtype)
        return {t: Table(c, source=self.source) for t, c in tables.items()}

    def build(
        self, tables: Mapping[str | None, Table], selection: Selection, *, events: int | None = None
    ) -> Any:
        """The awkward Array of ``selection`` from decoded ``tables`` (:meth:`wanted`'s columns)."""
        ak = _awkward()
        n = self.events if events is None else events
        contents: list[Any] = []
        fields: list[str] = []
        for i, leaves in selection:
            item = self.items[i]
            if item.kind == "field":
                contents.append(self._leaf(tables, item.leaves[0], n))
            elif item.kind == "record":
                subs = [self._leaf(tables, item.leaves[j], n) for j in leaves]
                names = [item.leaves[j].name for j in leaves]
                contents.append(
                    ak.contents.RecordArray(subs, names, length=n, parameters=_named(item.record))
                )
            else:
                contents.append(self._collection(tables, item, leaves, n))
            fields.append(item.name)
        if self.bare:
            return (
                ak.Array(contents[0])
                if contents
                else ak.Array(self._collection(tables, self.items[0], (), n))
            )
        return ak.Array(ak.contents.RecordArray(contents, fields, length=n, parameters=_named(self.record)))

    def branches(
        self, tables: Mapping[str | None, Table], selection: Selection, *, events: int | None = None
    ) -> dict[str, Any]:
        """Branch name -> awkward Array, as uproot's ``arrays(how=dict)`` gives a tree's branches
        (with each collection's counter branch, in its dtype)."""
        ak = _awkward()
        n = self.events if events is None else events
        out: dict[str, Any] = {}
        for i, leaves in selection:
            item = self.items[i]
            if item.kind != "collection":
                for j in leaves:
                    out[item.leaves[j].branch] = ak.Array(self._leaf(tables, item.leaves[j], n))
                continue
            offsets = self._offsets(tables, item, n)
            if item.counter is not None:
                dtype = item.counter_dtype if item.counter_dtype is not None else np.dtype(np.int64)
                out[item.counter] = ak.Array(np.diff(offsets).astype(dtype))
            for j in leaves:
                leaf = item.leaves[j]
                inner = self._leaf(tables, leaf, int(offsets[-1]))
                out[leaf.branch] = ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets), inner))
        return out

    def _leaf(self, tables: Mapping[str | None, Table], leaf: Leaf, rows: int) -> Any:
        ak = _awkward()
        table = tables[leaf.table]
        arrays = [native(np.asarray(table[c])) for c in leaf.columns]
        values = (
            arrays[0] if not leaf.shape else np.stack(arrays, axis=1).reshape((table.num_rows, *leaf.shape))
        )
        if values.shape[0] != rows:
            raise InputError(
                f"{self.source}: field {leaf.branch!r} holds {values.shape[0]} values, not {rows}"
            )
        return ak.contents.NumpyArray(values)

    def _offsets(self, tables: Mapping[str | None, Table], item: Item, events: int) -> npt.NDArray[np.int64]:
        """Each event's first row in the collection's table, from its event index (checked)."""
        if item.index is None:
            raise InputError(f"{self.source}: collection {item.name!r} has no event index")
        index = tables[item.table][item.index]
        where = f"{self.source}: the event index {item.index!r} of {item.name!r}"
        if index.size:
            if bool(np.any(index[1:] < index[:-1])):
                raise InputError(f"{where} decreases; the rows of one event must be adjacent, in order")
            low, high = int(index[0]), int(index[-1])
            if low < 0 or high >= events:
                raise InputError(f"{where} holds {low if low < 0 else high}, outside [0, {events})")
        offsets = np.zeros(events + 1, dtype=np.int64)
        np.cumsum(np.bincount(index.astype(np.int64), minlength=events), out=offsets[1:])
        return offsets

    def _collection(
        self, tables: Mapping[str | None, Table], item: Item, leaves: Sequence[int], events: int
    ) -> Any:
        ak = _awkward()
        offsets = self._offsets(tables, item, events)
        rows = int(offsets[-1])
        subs = [self._leaf(tables, item.leaves[j], rows) for j in leaves]
        names = [item.leaves[j].name for j in leaves]
        records = ak.contents.RecordArray(subs, names, length=rows, parameters=_named(item.record))
        return ak.contents.ListOffsetArray(ak.index.Index64(offsets), records)


def _named(record: str | None) -> dict[str, Any] | None:
    return None if record is None else {"__record__": record}


def _missing(missing: Sequence[str], names: Sequence[str], source: str) -> KeyInFileError:
    near = nearest_names(missing[0], names)
    hint = f"; did you mean {', '.join(map(repr, near))}?" if near else ""
    shown = ", ".join(names[:_QUOTED]) + (", ..." if len(names) > _QUOTED else "")
    what = "column" if len(missing) == 1 else "columns"
    return KeyInFileError(
        f"{what} {', '.join(map(repr, missing))} not found in {source} (it holds {shown or 'none'}){hint}",
        keys=missing,
        path=source,
        option="columns",
    )


def _awkward() -> Any:
    try:
        import awkward as ak
    except ImportError as exc:
        raise ConfigError(f"reading a file as awkward arrays needs awkward: {_INSTALL}") from exc
    return ak


# ----------------------------------------------------------------------------- layouts


def _root_layout(layout: Mapping[str, Any], source: str) -> EventLayout:
    """NanoAOD records (module documentation) of a dataset read from a ROOT tree."""
    branches = list(layout["branches"])
    collections = dict(layout.get("collections", {}))
    events = int(layout.get("num_entries", 0))
    counters = {str(b["name"]): np.dtype(str(b["dtype"])) for b in branches if b["kind"] == "counter"}
    members: dict[str, list[Mapping[str, Any]]] = {}
    for b in branches:
        if b["kind"] == "jagged":
            members.setdefault(str(b["counter"]), []).append(b)
    flat = [b for b in branches if b["kind"] == "flat"]
    plain = {str(b["name"]) for b in flat}
    names: dict[str, str] = {}  # counter -> collection name
    for counter, group in members.items():
        prefixes = {str(b["name"]).split("_", 1)[0] for b in group}
        name = (
            prefixes.pop() if len(prefixes) == 1 and all(_parts(str(b["name"])) for b in group) else counter
        )
        names[counter] = name if name not in plain and name not in names.values() else counter
    taken = set(names.values()) | plain
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for b in flat:
        parts = _parts(str(b["name"]))
        if parts is not None and parts[0] not in taken:
            grouped.setdefault(parts[0], []).append(b)

    items: list[Item] = []
    done: set[str] = set()
    for b in branches:
        name, kind = str(b["name"]), str(b["kind"])
        if kind in ("counter", "jagged"):
            counter = name if kind == "counter" else str(b["counter"])
            if counter in done or counter not in members:
                continue
            done.add(counter)
            info = collections.get(counter)
            if not isinstance(info, Mapping):
                raise InputError(f"{source}: the layout has no collection for counter {counter!r}")
            prefix = names[counter]
            cut = len(prefix) + 1 if prefix != counter else 0
            leaves = tuple(_leaf(m, str(m["name"])[cut:], info.get("table")) for m in members[counter])
            items.append(
                Item(
                    prefix,
                    "collection",
                    leaves,
                    table=info.get("table"),
                    index=str(info["index"]),
                    counter=counter,
                    counter_dtype=counters.get(counter),
                )
            )
            continue
        parts = _parts(name)
        if parts is not None and parts[0] in grouped:
            head = parts[0]
            if head in done:
                continue
            done.add(head)
            leaves = tuple(_leaf(m, str(m["name"])[len(head) + 1 :], m.get("table")) for m in grouped[head])
            items.append(Item(head, "record", leaves))
        else:
            items.append(Item(name, "field", (_leaf(b, name, b.get("table")),)))
    return EventLayout(source, events, tuple(items))


def _parts(name: str) -> tuple[str, str] | None:
    """``(X, rest)`` of a branch named ``X_rest`` (both non-empty), else None."""
    head, sep, rest = name.partition("_")
    return (head, rest) if sep and head and rest else None


def _leaf(branch: Mapping[str, Any], name: str, table: Any) -> Leaf:
    bname = str(branch["name"])
    shape = tuple(int(d) for d in branch.get("shape", ()))
    # a fixed-size array branch x[2] is stored as the columns x[0], x[1] (as the ROOT reader names them)
    elements = ("".join(f"[{i}]" for i in idx) for idx in np.ndindex(*shape)) if shape else iter([""])
    columns = tuple(bname + suffix for suffix in elements)
    return Leaf(
        name, bname, None if table is None else str(table), columns, shape, np.dtype(str(branch["dtype"]))
    )


def _awkward_layout(info: Mapping[str, Any], header: FileHeader, source: str) -> EventLayout:
    """Data compressed from an awkward Array, in its shape (see :mod:`hepsqueeze.io.memory`)."""
    record = info.get("record")
    record = record if isinstance(record, str) else None
    if info.get("kind") != "jagged":
        flat = _flat_layout(header, source)
        return EventLayout(source, flat.events, flat.items, record=record)
    event = str(info.get("event_column"))
    leaves = tuple(
        Leaf(c.name, c.name, None, (c.name,), (), c.dtype) for c in header.columns if c.name != event
    )
    collection = info.get("collection")
    name = collection if isinstance(collection, str) else ""
    item = Item(name, "collection", leaves, table=None, index=event, record=record)
    return EventLayout(source, int(info.get("events", 0)), (item,), bare=not isinstance(collection, str))


def _flat_layout(header: FileHeader, source: str) -> EventLayout:
    """One record per row of the main table, a field per column."""
    items = tuple(
        Item(c.name, "field", (Leaf(c.name, c.name, None, (c.name,), (), c.dtype),)) for c in header.columns
    )
    return EventLayout(source, header.num_rows, items)


# ----------------------------------------------------------------------------- reading


def read_events(
    path: str | os.PathLike[str],
    columns: Collection[str] | str | None = None,
    *,
    model: Any = None,
    how: Literal["records", "branches"] = "records",
) -> Any:
    """:func:`open` (``how="records"``) or :func:`open_branches` (``how="branches"``)."""
    from hepsqueeze.api import decoder_model

    if how not in ("records", "branches"):
        raise ConfigError(f"how must be 'records' or 'branches', not {how!r}")
    with ContainerReader.open(path) as reader:
        layout = EventLayout.from_header(parse_header(reader), reader.name)
        selection = layout.select(columns)
        check_claimed_bytes(8 * (layout.events + 1), f"the layout's {layout.events} events", reader.name)
        opened = open_file(reader, None if model is None else decoder_model(model))
        tables = read_columns(opened, layout.wanted(selection))
    if how == "branches":
        return layout.branches(tables, selection)
    return layout.build(tables, selection)


def open(
    path: str | os.PathLike[str],
    columns: Collection[str] | str | None = None,
    *,
    model: Any = None,
) -> Any:
    """The events of compressed file ``path`` as one awkward Array (module documentation): for a
    NanoAOD file ``N * {run: uint32, ..., Jet: var * {pt: float32, ...}, MET: {pt: float32, ...}}``,
    for a flat table one record per row.

    ``columns``: the branches (``Jet_pt``), fields (``Jet``, ``MET``) or field paths (``Jet.pt``) to
    decode, default all; ``model``: the model a file written without it needs (an autoencoder
    file). Raises :class:`~hepsqueeze.errors.KeyInFileError` (``keys``, ``path``) naming every column
    the file does not hold.
    """
    return read_events(path, columns, model=model)


def open_branches(
    path: str | os.PathLike[str],
    columns: Collection[str] | str | None = None,
    *,
    model: Any = None,
) -> dict[str, Any]:
    """The branches of compressed file ``path`` one by one, as uproot's ``arrays(how=dict)`` gives
    them (``nJet``, ``Jet_pt`` jagged, ``MET_pt``, ...): what coffea's
    ``NanoEventsFactory.from_preloaded`` takes. ``columns`` and ``model`` as for :func:`open`."""
    result: dict[str, Any] = read_events(path, columns, model=model, how="branches")
    return result


__all__ = [
    "EventLayout",
    "Item",
    "Leaf",
    "Selection",
    "open",
    "open_branches",
    "read_events",
]
