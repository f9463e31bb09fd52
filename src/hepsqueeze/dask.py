"""Many compressed files as one dask-awkward Array: :func:`from_hsqz`, one partition per file.

>>> import hepsqueeze.dask
>>> events = hepsqueeze.dask.from_hsqz(["a.hsqz", "b.hsqz"])
>>> lead = events.Jet.pt[:, :1]                  # lazy; nothing is decoded yet
>>> lead.compute()                               # only the Jet table of each file is decoded

Each partition is :func:`hepsqueeze.open` of one file, so the records and the ``columns`` rule are
those of :mod:`hepsqueeze.analysis`. Building the collection reads every file's data header only
(the awkward form, the number of events: the partitions' divisions are known); no data is decoded
until a computation runs. The reading function supports dask-awkward's column projection: a
computation that touches only ``events.Jet.pt`` decodes only the tables that field needs (the
projected columns are what ``dask_awkward.necessary_columns`` reports). All files must give the
same form (the same branches and dtypes).

dask and dask-awkward are imported when :func:`from_hsqz` is called.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from hepsqueeze.analysis import EventLayout, Selection, read_events
from hepsqueeze.errors import ConfigError, InputError

_INSTALL = "pip install dask-awkward"

try:
    from dask_awkward.lib.io.columnar import ColumnProjectionMixin
except ImportError as exc:  # pragma: no cover - dask-awkward is in the dev environment
    raise ConfigError(f"reading files with dask needs dask-awkward: {_INSTALL} ({exc})") from exc


class HsqzReader(ColumnProjectionMixin):
    """Reads one file (one partition) as :func:`hepsqueeze.open` does, with the fields ``columns``
    (None: all); ``form`` is the awkward form it gives, known from the first file's header.

    dask-awkward calls :meth:`project_columns` with the field paths a computation touches
    (``Jet.pt``, ``run``): the projected reader decodes only the tables those need."""

    def __init__(self, layout: EventLayout, columns: tuple[str, ...] | None, model: Any) -> None:
        self.layout = layout
        self.columns = columns
        self.model = model
        self.selection: Selection = layout.select(columns)
        self.form = layout.form(self.selection)
        self.behavior: dict[str, Any] | None = None
        self.attrs: dict[str, Any] | None = None

    @property
    def use_optimization(self) -> bool:
        """Column projection is always on (dask-awkward asks)."""
        return True

    def project_columns(self, columns: frozenset[str]) -> HsqzReader:
        """A reader of only the fields ``columns``, in the file's order."""
        return HsqzReader(self.layout, tuple(sorted(columns)), self.model)

    def __call__(self, path: str) -> Any:
        events = read_events(path, self.columns, model=self.model)
        if events.layout.form != self.form:
            raise InputError(
                f"{path} gives other fields or dtypes than the first file of the collection "
                f"({self.layout.source}): read such files apart",
                path=str(path),
            )
        return events

    def __dask_tokenize__(self) -> Any:
        return (type(self).__name__, self.layout.source, self.columns, id(self.model))


def from_hsqz(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    columns: Collection[str] | str | None = None,
    *,
    model: Any = None,
) -> Any:
    """The events of compressed files ``paths`` (one path or a sequence) as one dask-awkward
    Array, one partition per file, in order; ``columns`` and ``model`` as for
    :func:`hepsqueeze.open`. Reads each file's header now (:class:`InputError` if files differ in
    their fields), its data when a computation needs it."""
    try:
        import dask_awkward as dak
        from dask.base import tokenize
    except ImportError as exc:
        raise ConfigError(f"reading files with dask needs dask-awkward: {_INSTALL}") from exc
    files = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not files:
        raise ConfigError("from_hsqz needs at least one file", option="paths")
    names = [str(Path(p)) for p in files]
    layouts = [EventLayout.of_file(p) for p in names]
    reader = HsqzReader(layouts[0], None if columns is None else _names(columns), model)
    for path, layout in zip(names[1:], layouts[1:], strict=True):
        if layout.form(layout.select(reader.columns)) != reader.form:
            raise InputError(
                f"{path} has other fields or dtypes than {names[0]}: one collection needs files of one form",
                path=path,
            )
    divisions = [0]
    for layout in layouts:
        divisions.append(divisions[-1] + layout.events)
    stats = [(n, os.stat(n).st_size, os.stat(n).st_mtime_ns) for n in names]
    token = tokenize(stats, reader.columns, id(model))
    # dask_awkward.from_map is public; its package does not declare the re-export for mypy
    return dak.from_map(  # type: ignore[attr-defined]
        reader, names, label="from-hsqz", token=token, divisions=tuple(divisions)
    )


def _names(columns: Collection[str] | str) -> tuple[str, ...]:
    return (columns,) if isinstance(columns, str) else tuple(columns)


__all__ = ["HsqzReader", "from_hsqz"]
