"""A file's data as hepsqueeze compresses it: one row table, auxiliary tables and the file's layout.

Most formats hold one flat table. HEP files often hold more: a ROOT TTree with jagged per-event
collections (NanoAOD: ``nJet``, ``Jet_pt``, ... next to per-event ``run`` or ``MET_pt``), or a
DarkMachines CSV with objects and per-event quantities on one line. A :class:`Dataset` represents
all of them the same way:

- ``table``: the flat row table that gets compressed, one row per object (jet), with an ``event``
  index where the file is jagged;
- ``aux``: zero or more named auxiliary tables (per-event quantities, other collections), stored
  losslessly next to it;
- ``layout``: JSON-able facts needed to write the original file back (format, tree and branch
  names, counter branches, dtypes, number formatting), owned by the format that read it.

Plain formats (Parquet, CSV, npz, HDF5, ...) give a dataset with just ``table`` and a layout of
``{"format": name}``, so reading, compressing and writing is one code path for every format.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ColumnError, InputError
from hepsqueeze.io.layout import check_layout
from hepsqueeze.io.table import Table


@dataclass(frozen=True)
class Dataset:
    """The main row ``table``, named auxiliary tables ``aux`` and the JSON-able ``layout``.

    ``layout["format"]`` names the format the data came from (absent for data made in memory);
    ``layout["categories"]`` maps a column name to the labels its integer codes stand for (text
    columns such as DarkMachines object types are stored as codes; see :meth:`labels`).
    """

    table: Table
    aux: Mapping[str, Table] = field(default_factory=dict)
    layout: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.table, Table):
            raise InputError(f"a Dataset's table must be a Table, not {type(self.table).__name__}")
        aux: dict[str, Table] = {}
        for name, table in dict(self.aux).items():
            if not isinstance(name, str) or not name:
                raise InputError(f"auxiliary table names must be non-empty strings, got {name!r}")
            if not isinstance(table, Table):
                raise InputError(f"auxiliary table {name!r} must be a Table, not {type(table).__name__}")
            aux[name] = table
        check_layout(self.layout, self.table.source)  # by type: a crafted header's layout, too
        try:
            # Round trip through JSON: the layout goes into a container header, and a frozen copy
            # keeps later changes by the caller from altering a dataset already built.
            layout = json.loads(json.dumps(dict(self.layout), allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise InputError(f"the layout of {self.table.source} is not JSON-able: {exc}") from None
        object.__setattr__(self, "aux", MappingProxyType(aux))
        object.__setattr__(self, "layout", MappingProxyType(layout))

    @classmethod
    def from_table(cls, table: Table, format: str | None = None) -> Dataset:
        """A dataset holding just ``table`` (read as ``format``, if known)."""
        return cls(table, {}, {} if format is None else {"format": format})

    @property
    def source(self) -> str:
        """Where the data came from (the main table's source, usually a path)."""
        return self.table.source

    @property
    def format(self) -> str | None:
        """Name of the format the data was read from, or None."""
        value = self.layout.get("format")
        return value if isinstance(value, str) else None

    @property
    def is_plain(self) -> bool:
        """True when the dataset is one table and nothing else (no auxiliary tables, no layout beyond the format)."""
        return not self.aux and set(self.layout) <= {"format"}

    def with_table(self, table: Table) -> Dataset:
        """The same dataset with ``table`` as its main table (e.g. after decompression)."""
        return Dataset(table, self.aux, self.layout)

    def categories(self, column: str) -> tuple[str, ...] | None:
        """The labels of a coded text column (code i stands for label i), or None if it is not coded."""
        cats = self.layout.get("categories", {})
        found = cats.get(column) if isinstance(cats, Mapping) else None
        return None if found is None else tuple(str(c) for c in found)

    def labels(self, column: str, table: str | None = None) -> npt.NDArray[np.str_]:
        """The text values of coded ``column`` of the main table (or of auxiliary ``table``)."""
        source = self.table if table is None else self.aux.get(table)
        if source is None:
            raise ColumnError(
                f"no auxiliary table {table!r} in {self.source} (have: {', '.join(self.aux) or 'none'})"
            )
        cats = self.categories(column)
        if cats is None:
            raise ColumnError(f"column {column!r} of {self.source} is not a coded text column")
        codes = source[column]
        if codes.size and (codes.min() < 0 or codes.max() >= len(cats)):
            raise InputError(f"column {column!r} of {self.source} holds codes outside 0..{len(cats) - 1}")
        labels: npt.NDArray[np.str_] = np.asarray(cats, dtype=np.str_)[codes]
        return labels

    def objects(self, types: Sequence[str], column: str = "object") -> Table:
        """The main table's rows whose coded ``column`` has one of the labels ``types`` (e.g. ``j``, ``b``).

        For event files with several object types (DarkMachines: ``j b e- e+ m- m+ g``): train on
        some types, or one model per type. Raises :class:`ColumnError` naming the labels present.
        """
        cats = self.categories(column)
        if cats is None:
            raise ColumnError(
                f"{self.source} has no coded {column!r} column to pick object types from "
                f"(columns: {', '.join(self.table.names)})"
            )
        unknown = [t for t in types if t not in cats]
        if unknown:
            raise ColumnError(
                f"object type(s) {', '.join(map(repr, unknown))} not in {self.source} "
                f"(types: {', '.join(cats)})"
            )
        keep = np.isin(self.labels(column), list(types))
        return Table({n: self.table[n][keep] for n in self.table.names}, source=self.table.source)

    def summary(self) -> str:
        """One line: rows and columns of every table."""
        parts = [f"{self.table.num_rows} rows x {len(self.table.names)} columns"]
        parts += [f"{name}: {t.num_rows} rows x {len(t.names)} columns" for name, t in self.aux.items()]
        return "; ".join(parts)
