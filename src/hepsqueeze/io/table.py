"""The in-memory table every reader returns and every writer takes: ordered named 1D numpy columns."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ColumnError, InputError, missing_column_message


@dataclass(frozen=True)
class Table:
    """Named, equal-length 1D numpy columns in a fixed order.

    ``source`` names where the table came from (a file path) and is used in error messages.
    """

    columns: Mapping[str, npt.NDArray[Any]]
    source: str = "<table>"
    _names: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cols = {str(k): np.asarray(v) for k, v in self.columns.items()}
        lengths = {name: arr.shape[0] if arr.ndim else -1 for name, arr in cols.items()}
        for name, arr in cols.items():
            if arr.ndim != 1:
                raise InputError(
                    f"column {name!r} in {self.source} has shape {arr.shape}; columns must be 1D"
                )
        if len(set(lengths.values())) > 1:
            raise InputError(f"columns in {self.source} have different lengths: {lengths}")
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "_names", tuple(cols))

    @property
    def names(self) -> tuple[str, ...]:
        """Column names, in order."""
        return self._names

    @property
    def num_rows(self) -> int:
        """Number of rows (0 for a table without columns)."""
        return int(next(iter(self.columns.values())).shape[0]) if self._names else 0

    def __getitem__(self, name: str) -> npt.NDArray[Any]:
        try:
            return self.columns[name]
        except KeyError:
            raise ColumnError(missing_column_message(name, self._names, self.source)) from None

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return self.num_rows

    def select(self, names: Iterable[str]) -> Table:
        """A table with only ``names``, in that order (raises :class:`ColumnError` naming the nearest)."""
        return Table({n: self[n] for n in names}, source=self.source)

    def slice(self, start: int, stop: int) -> Table:
        """Rows ``start:stop`` of every column (views, not copies)."""
        return Table({n: a[start:stop] for n, a in self.columns.items()}, source=self.source)

    def stack(self, names: Iterable[str], dtype: npt.DTypeLike = np.float32) -> npt.NDArray[Any]:
        """Columns ``names`` as one ``(rows, len(names))`` array of ``dtype``."""
        cols = [self[n] for n in names]
        if not cols:
            return np.empty((self.num_rows, 0), dtype=dtype)
        return np.stack([np.asarray(c, dtype=dtype) for c in cols], axis=1)

    @classmethod
    def concat(cls, tables: Iterable[Table]) -> Table:
        """Rows of several tables with the same column names, one after another."""
        parts = list(tables)
        if not parts:
            raise InputError("cannot concatenate zero tables")
        names = parts[0].names
        for t in parts[1:]:
            if t.names != names:
                raise InputError(f"cannot concatenate tables with columns {names} and {t.names}")
        return cls({n: np.concatenate([t[n] for t in parts]) for n in names}, source=parts[0].source)
