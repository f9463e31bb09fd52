"""ROOT TTrees via uproot and awkward: flat trees and trees with jagged (NanoAOD-style) collections.

Reading (:meth:`Root.read_dataset`) sorts the tree's branches into

- *jagged* branches (``Jet_pt[nJet]``), grouped by their *counter* branch (``nJet``) into
  collections: each collection becomes a flat table with one row per element, an ``event`` column
  holding the entry number (``entry`` if a branch is already called ``event``), then its branches;
- *flat* per-entry branches (``run``, ``MET_pt``; fixed-size arrays ``x[3]`` as columns ``x[0]``,
  ``x[1]``, ``x[2]``), which form the ``events`` table.

The collection holding the columns to compress (``columns``, e.g. ``Jet_E, Jet_pt, Jet_eta,
Jet_phi``) is the main table; with no columns, the only collection is, or the flat branches when the
tree has no collection or several (then the first collection if there are no flat branches).
Everything else goes into auxiliary tables: ``events`` and one per other
collection, named after the branch prefix (``Muon``). Counter branches are not stored: the counts
come back from the entry numbers.

Writing a dataset read from ROOT rebuilds the tree with uproot's ``mktree``/``extend`` (in uproot
5.7 ``file[name] = {...}`` writes an RNTuple instead): same tree name and title, branch names and
order, counter branches and dtypes, every value as read. uproot writes counters as 32-bit signed
integers, so a ``UInt_t`` counter (NanoAOD's ``nJet/i``) comes back as ``Int_t`` with the same
values. Only the tree is written; other objects of the input file (histograms, other trees) are not.
Branch types uproot cannot write back (strings, ``std::vector`` without a counter branch,
doubly-jagged or object branches) are rejected by name; leave them out with ``branches=``.
"""

from __future__ import annotations

import importlib
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ColumnError, ConfigError, HepsqueezeError, InputError, missing_column_message
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.interpret import build_table, native, select_names
from hepsqueeze.io.limits import check_claimed_bytes
from hepsqueeze.io.registry import Format, get_option
from hepsqueeze.io.source import read_head
from hepsqueeze.io.table import Table

logger = logging.getLogger(__name__)

#: Name of the auxiliary table of flat per-entry branches.
EVENTS_TABLE = "events"
#: Tree name used when writing a table that did not come from ROOT.
DEFAULT_TREE = "events"
#: Entries per ``extend`` call: one basket per branch each, bounded memory for big trees.
EXTEND_ENTRIES = 100_000
_INDEX_NAMES = ("event", "entry", "entry_number")


#: Fewest bytes of one TKey record in a directory's key list: 18 fixed bytes, two 4-byte seek
#: addresses and three strings of at least their length byte.
MIN_KEY_BYTES = 29


def _module(name: str) -> ModuleType:
    # uproot and awkward are optional (the "io" extra); import them only when ROOT files are used.
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise ConfigError(
            f"ROOT support needs uproot and awkward: pip install 'hepsqueeze[io]' ({exc})"
        ) from exc
    if name == "uproot":
        _check_key_counts(module)
    return module


def _check_key_counts(uproot: ModuleType) -> None:
    """Make uproot refuse a directory claiming more keys than its key list can hold.

    uproot reads a directory's 4-byte key count and then loops that many times; fuzzing found a
    3 kB file claiming 2**31 keys that kept uproot busy (and growing) for minutes. The check uses
    uproot's own ``hook_before_keys`` hook and only ever rejects corrupt files.
    """
    directory = uproot.reading.ReadOnlyDirectory
    if getattr(directory, "_hepsqueeze_key_check", False):
        return
    previous = directory.hook_before_keys

    def hook_before_keys(self: Any, **kwargs: Any) -> None:
        num_keys, chunk, cursor = kwargs["num_keys"], kwargs["keys_chunk"], kwargs["keys_cursor"]
        room = int(chunk.stop) - int(cursor.index)
        if num_keys < 0 or num_keys * MIN_KEY_BYTES > room:
            raise ValueError(f"a directory claims {num_keys} keys but its key list has {room} bytes left")
        previous(self, **kwargs)

    directory.hook_before_keys = hook_before_keys
    directory._hepsqueeze_key_check = True


def sniff_root(path: Path) -> bool:
    """True if ``path`` starts with ROOT's file magic, whatever its extension."""
    return read_head(path, 4) == b"root"


@dataclass(frozen=True)
class _Branch:
    name: str
    kind: str  # "flat", "counter" or "jagged"
    dtype: np.dtype[Any]
    shape: tuple[int, ...]  # fixed inner shape of flat array branches, () for scalars
    counter: str | None  # counter branch of a jagged branch
    obj: Any  # the uproot TBranch


def _element_columns(name: str, shape: tuple[int, ...]) -> list[str]:
    """Column names of a fixed-size array branch: ``x[0]``, ``x[1]``, ... (``x[0][1]`` in 2D)."""
    if not shape:
        return [name]
    return [name + "".join(f"[{i}]" for i in idx) for idx in np.ndindex(*shape)]


def _classify(branch: Any, where: str) -> tuple[str, np.dtype[Any], tuple[int, ...], str | None]:
    """(kind, element dtype, inner shape, counter name) of a branch; InputError if hepsqueeze cannot keep it."""

    def unsupported(why: str) -> InputError:
        return InputError(
            f"branch {branch.name!r} in {where} has type {branch.typename} ({why}), which hepsqueeze cannot "
            "write back to ROOT; leave it out (branches=[...])",
            option="branches",
        )

    if len(branch.branches):
        raise unsupported("a split object with sub-branches")
    interp = branch.interpretation
    kind = type(interp).__name__
    if kind == "AsDtype":
        to = interp.to_dtype
        base, shape = (to.subdtype[0], tuple(to.subdtype[1])) if to.subdtype is not None else (to, ())
        if base.kind not in "biuf":
            raise unsupported(f"values of dtype {base}")
        return "flat", np.dtype(base.newbyteorder("=")), shape, None
    if kind == "AsJagged":
        content = interp.content
        to = getattr(content, "to_dtype", None)
        if (
            type(content).__name__ != "AsDtype"
            or to is None
            or to.subdtype is not None
            or to.kind not in "biuf"
        ):
            raise unsupported("variable-length lists of non-numeric or nested values")
        counter = branch.count_branch
        if counter is None:
            raise unsupported(
                "a std::vector without a counter branch; uproot writes variable-length branches only "
                "as counted arrays such as Jet_pt[nJet]"
            )
        return "jagged", np.dtype(to.newbyteorder("=")), (), str(counter.name)
    if kind == "AsStrings":
        raise unsupported("text")
    raise unsupported("nested or object data, e.g. doubly-jagged")


def _tree_names(file: Any) -> tuple[list[str], list[str], list[str]]:
    """(TTree paths, RNTuple paths, every other object's path) in the file, without cycles."""
    classes = file.classnames(cycle=False)
    trees = [k for k, c in classes.items() if c == "TTree"]
    ntuples = [k for k, c in classes.items() if "RNTuple" in c]
    others = [k for k, c in classes.items() if c not in ("TTree", "TDirectory") and "RNTuple" not in c]
    return list(dict.fromkeys(trees)), list(dict.fromkeys(ntuples)), list(dict.fromkeys(others))


def _choose_tree(path: Path, file: Any, tree: str | None) -> tuple[str, list[str]]:
    trees, ntuples, others = _tree_names(file)
    where = str(path)
    if tree is not None:
        if tree not in trees:
            hint = f"; {tree!r} is an RNTuple, which is not supported" if tree in ntuples else ""
            raise InputError(f"no TTree {tree!r} in {where!r} (TTrees: {', '.join(trees) or 'none'}){hint}")
        chosen = tree
    elif len(trees) == 1:
        chosen = trees[0]
    elif not trees:
        hint = f"; it holds RNTuple(s) {', '.join(ntuples)}, which are not supported" if ntuples else ""
        raise InputError(f"{where!r} holds no TTree{hint}")
    else:
        raise InputError(
            f"{where!r} holds several TTrees ({', '.join(trees)}); choose one (tree=...)", option="tree"
        )
    # Parent directories are recreated by mktree; everything else is not written back.
    rest = [k for k in trees + ntuples + others if k != chosen]
    return chosen, rest


def _collection_name(counter: str, members: Sequence[str], taken: set[str]) -> str:
    """An auxiliary table name for the collection counted by ``counter``: its branch prefix if shared."""
    prefixes = {m.split("_", 1)[0] for m in members if "_" in m}
    name = prefixes.pop() if len(prefixes) == 1 and all("_" in m for m in members) else counter
    while name in taken:
        name = f"{name}_"
    return name


def _branch_layout(b: _Branch, flat_table: str | None, table_of: Mapping[str, str | None]) -> dict[str, Any]:
    """A branch's entry in the layout: what ``mktree`` needs, and which table holds its values."""
    entry: dict[str, Any] = {"name": b.name, "kind": b.kind, "dtype": b.dtype.str}
    if b.shape:
        entry["shape"] = list(b.shape)
    if b.kind == "flat":
        entry["table"] = flat_table
    elif b.kind == "jagged":
        entry["counter"] = b.counter
        entry["table"] = table_of[str(b.counter)]
    return entry


def _index_name(members: Sequence[str]) -> str:
    return next(n for n in _INDEX_NAMES if n not in members)


def _kept_branches(
    all_branches: Mapping[str, Any], wanted: list[str] | None, where: str
) -> dict[str, _Branch]:
    """The branches to read, classified: those ``wanted`` (all when None), plus the counters they need."""
    names = list(all_branches)
    if wanted is not None:
        keep = set(select_names(names, wanted, where))
        names = [n for n in names if n in keep]
    branches: dict[str, _Branch] = {}
    counters: set[str] = set()
    for name in names:
        kind, dtype, shape, counter = _classify(all_branches[name], where)
        branches[name] = _Branch(name, kind, dtype, shape, counter, all_branches[name])
        if counter is not None:
            counters.add(counter)
    for counter in counters:
        # A kept jagged branch needs its counter, even when branches= left it out.
        if counter not in branches:
            if counter not in all_branches:
                raise InputError(f"{where}: counter branch {counter!r} is not a top-level branch")
            _, dtype, _, _ = _classify(all_branches[counter], where)
            branches[counter] = _Branch(counter, "counter", dtype, (), None, all_branches[counter])
        else:
            b = branches[counter]
            branches[counter] = _Branch(b.name, "counter", b.dtype, b.shape, None, b.obj)
    return branches


def _collections(order: Sequence[str], branches: Mapping[str, _Branch]) -> dict[str, list[str]]:
    """The jagged branches (in tree ``order``) by their counter branch."""
    groups: dict[str, list[str]] = {}
    for n in order:
        if branches[n].kind == "jagged":
            groups.setdefault(str(branches[n].counter), []).append(n)
    return groups


def _table_names(groups: Mapping[str, Sequence[str]], main_counter: str | None) -> dict[str, str | None]:
    """Each collection's table: None for the main one, else its branch prefix (never ``events``)."""
    taken = {EVENTS_TABLE}
    table_of: dict[str, str | None] = {}
    for counter, members in groups.items():
        if counter == main_counter:
            table_of[counter] = None
        else:
            table_of[counter] = _collection_name(counter, members, taken)
            taken.add(str(table_of[counter]))
    return table_of


def _read_flat(flat: Sequence[str], branches: Mapping[str, _Branch], where: str, *, source: str) -> Table:
    """The table of the flat branches; a fixed-size array branch gives one column per element."""
    pairs: list[tuple[str, npt.NDArray[Any]]] = []
    for n in flat:
        values = np.asarray(branches[n].obj.array(library="np"))
        if branches[n].shape:
            parts = values.reshape(values.shape[0], -1)
            pairs += [(c, parts[:, i]) for i, c in enumerate(_element_columns(n, branches[n].shape))]
        else:
            pairs.append((n, values))
    return build_table(pairs, where, source=source)


class Root:
    """Reader and writer for ``.root`` files holding TTrees."""

    # -- reading ------------------------------------------------------------------------------------

    def read(self, path: Path, columns: Sequence[str] | None, **options: Any) -> Table:
        """The main table of :meth:`read_dataset` (``columns`` also choose the collection), selected.

        With ``columns`` and no ``branches=``, only the branches behind those columns are read.
        """
        dataset = self._read(path, columns, options, only_columns=columns is not None)
        return dataset.table if columns is None else dataset.table.select(columns)

    def read_dataset(self, path: Path, columns: Sequence[str] | None, **options: Any) -> Dataset:
        """Read one TTree: main table, ``events`` and other collections as auxiliary tables, layout."""
        return self._read(path, columns, options, only_columns=False)

    def _read(
        self, path: Path, columns: Sequence[str] | None, options: Mapping[str, Any], *, only_columns: bool
    ) -> Dataset:
        uproot = _module("uproot")
        tree_opt = get_option(options, "tree", None, (str, type(None)), "root")
        wanted = _names_option(options, "branches")
        try:
            return self._read_file(uproot, path, columns, tree_opt, wanted, only_columns=only_columns)
        except HepsqueezeError:
            raise
        except MemoryError:
            raise InputError(
                f"cannot read {str(path)!r} as ROOT: it claims more memory than is available "
                "(a corrupt or hostile size field)"
            ) from None
        except Exception as exc:
            text = " ".join(str(exc).split())[:300]
            raise InputError(f"cannot read {str(path)!r} as ROOT: {type(exc).__name__}: {text}") from exc

    def _read_file(
        self,
        uproot: ModuleType,
        path: Path,
        columns: Sequence[str] | None,
        tree_opt: str | None,
        wanted: list[str] | None,
        *,
        only_columns: bool,
    ) -> Dataset:
        with uproot.open(path) as file:
            tree_name, rest = _choose_tree(path, file, tree_opt)
            tree = file[tree_name]
            where = f"{path} (tree {tree_name!r})"
            if only_columns and wanted is None and columns:
                wanted = _branches_behind(columns, [str(b.name) for b in tree.branches], where)
            return self._read_tree(
                path=path,
                tree=tree,
                tree_name=tree_name,
                rest=rest,
                columns=columns,
                wanted=wanted,
                where=where,
            )

    def _read_tree(
        self,
        *,
        path: Path,
        tree: Any,
        tree_name: str,
        rest: list[str],
        columns: Sequence[str] | None,
        wanted: list[str] | None,
        where: str,
    ) -> Dataset:
        all_branches = {str(b.name): b for b in tree.branches}
        if not all_branches:
            raise InputError(f"{where} has no branches")
        branches = _kept_branches(all_branches, wanted, where)
        order = [n for n in all_branches if n in branches]
        groups = _collections(order, branches)
        flat = [n for n in order if branches[n].kind == "flat"]
        main_counter = self._main_collection(branches, groups, flat, columns, where)
        num_entries = int(tree.num_entries)
        _check_read_size(branches, num_entries, where)
        table_of = _table_names(groups, main_counter)
        flat_table = None if main_counter is None else EVENTS_TABLE

        tables: dict[str | None, Table] = {}
        collections: dict[str, Any] = {}
        for counter, members in groups.items():
            index = _index_name(members)
            tables[table_of[counter]] = self._read_collection(
                members=members,
                counter=counter,
                index=index,
                branches=branches,
                num_entries=num_entries,
                where=where,
                source=str(path),
            )
            collections[counter] = {"table": table_of[counter], "index": index}
        if flat or main_counter is None:
            tables[flat_table] = _read_flat(flat, branches, where, source=str(path))

        layout: dict[str, Any] = {
            "format": "root",
            "tree": tree_name,
            "title": str(tree.title or ""),
            "num_entries": num_entries,
            "branches": [_branch_layout(branches[n], flat_table, table_of) for n in order],
            "collections": collections,
            "other_objects": rest,
        }
        main = tables.pop(None)
        aux = {str(k): t for k, t in tables.items() if k is not None}
        logger.debug("%s: main table %s, auxiliary tables %s", where, main.names, list(aux))
        return Dataset(main, aux, layout)

    @staticmethod
    def _main_collection(
        branches: Mapping[str, _Branch],
        groups: Mapping[str, list[str]],
        flat: list[str],
        columns: Sequence[str] | None,
        where: str,
    ) -> str | None:
        """Counter of the collection holding ``columns`` (None: the flat branches are the main table)."""

        def listing() -> str:
            return "; ".join(f"{c}: {', '.join(m)}" for c, m in groups.items())

        if not columns:
            # several collections: the per-event branches are the main table (one row per entry)
            # and every collection an auxiliary table, unless there are no flat branches
            if len(groups) > 1 and flat:
                return None
            return next(iter(groups), None)
        owners: dict[str, list[str]] = {}
        # "event" names both the entry-number column that reading adds and, in NanoAOD, a flat
        # branch; it decides the collection only when nothing else does.
        deciding = [c for c in columns if c not in _INDEX_NAMES] or list(columns)
        for col in deciding:
            # Element columns "x[1]" of a fixed-size array branch "x" belong to the flat branches.
            b = branches.get(col) or branches.get(col.split("[", 1)[0])
            if b is None:
                if col in _INDEX_NAMES:
                    continue
                raise ColumnError(missing_column_message(col, list(branches), where))
            if b.kind == "counter":
                raise ColumnError(
                    f"branch {col!r} in {where} is a counter branch; its values follow from the collection"
                )
            owners.setdefault(b.counter or "", []).append(col)
        if len(owners) > 1:
            found = "; ".join(f"{k or 'flat'}: {', '.join(v)}" for k, v in owners.items())
            raise ColumnError(
                f"the columns to compress in {where} belong to different collections ({found}); "
                "compress one collection (or only flat branches) at a time"
            )
        owner = next(iter(owners), "")
        if owner:
            return owner
        if not flat and groups:
            raise InputError(
                f"{where} has no flat branches; choose a collection's columns ({listing()})", option="columns"
            )
        return None

    @staticmethod
    def _read_collection(
        *,
        members: Sequence[str],
        counter: str,
        index: str,
        branches: Mapping[str, _Branch],
        num_entries: int,
        where: str,
        source: str,
    ) -> Table:
        ak = _module("awkward")
        counts: npt.NDArray[np.int64] | None = None
        pairs: list[tuple[str, npt.NDArray[Any]]] = []
        for name in members:
            jagged = branches[name].obj.array(library="ak")
            these = np.asarray(ak.to_numpy(ak.num(jagged, axis=1)), dtype=np.int64)
            if counts is None:
                counts = these
            elif not np.array_equal(counts, these):
                raise InputError(
                    f"branch {name!r} in {where} has other counts than {members[0]!r} (counter {counter!r})"
                )
            pairs.append((name, np.asarray(ak.to_numpy(ak.flatten(jagged, axis=1)))))
        assert counts is not None
        if counts.shape[0] != num_entries:
            raise InputError(
                f"branch {members[0]!r} in {where} has {counts.shape[0]} entries, the tree {num_entries}"
            )
        entries = np.repeat(np.arange(num_entries, dtype=np.int64), counts)
        return build_table([(index, entries), *pairs], where, source=source)

    # -- writing ------------------------------------------------------------------------------------

    def write(self, table: Table, path: Path, **options: Any) -> None:
        """Write ``table`` as a flat TTree, one branch per column (tree name from ``tree=``, default ``events``)."""
        tree_name = get_option(options, "tree", None, (str, type(None)), "root") or DEFAULT_TREE
        types = {n: native(table.columns[n]).dtype for n in table.names}
        data = {n: table.columns[n] for n in table.names}
        self._write_tree(
            path,
            tree_name=tree_name,
            title="",
            types=types,
            counter_of={},
            flat=data,
            jagged={},
            num_entries=table.num_rows,
        )

    def write_dataset(self, dataset: Dataset, path: Path, **options: Any) -> None:
        """Rebuild the TTree a dataset was read from (or write the main table flat for other datasets)."""
        layout = dataset.layout
        if layout.get("format") != "root":
            if dataset.aux:
                logger.warning(
                    "writing only the main table of %s to a flat TTree; its auxiliary table(s) %s are left out",
                    dataset.source,
                    ", ".join(dataset.aux),
                )
            self.write(dataset.table, path, **options)
            return
        tree_name = get_option(options, "tree", None, (str, type(None)), "root") or str(layout["tree"])
        try:
            plan = _Plan.from_dataset(dataset)
        except HepsqueezeError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"the ROOT layout of {dataset.source} is invalid ({exc!r})") from None
        if layout.get("other_objects"):
            logger.warning(
                "only tree %r is written; other objects of the original file are not: %s",
                tree_name,
                ", ".join(map(str, layout["other_objects"])),
            )
        self._write_tree(
            path,
            tree_name=tree_name,
            title=plan.title,
            types=plan.types,
            counter_of=plan.counter_of,
            flat=plan.flat,
            jagged=plan.jagged,
            num_entries=plan.num_entries,
        )

    @staticmethod
    def _write_tree(
        path: Path,
        *,
        tree_name: str,
        title: str,
        types: Mapping[str, Any],
        counter_of: Mapping[str, str],
        flat: Mapping[str, npt.NDArray[Any]],
        jagged: Mapping[str, tuple[npt.NDArray[Any], npt.NDArray[np.int64]]],
        num_entries: int,
    ) -> None:
        """Write the tree in chunks; ``jagged`` maps a branch to its values and their sorted entry numbers."""
        uproot = _module("uproot")
        ak = _module("awkward")
        with uproot.recreate(path) as file:
            tree = file.mktree(
                tree_name,
                dict(types),
                title=title,
                counter_name=lambda name: counter_of.get(name, "n" + name),
            )
            for start in range(0, num_entries, EXTEND_ENTRIES):
                stop = min(start + EXTEND_ENTRIES, num_entries)
                chunk: dict[str, Any] = {n: a[start:stop] for n, a in flat.items()}
                for name, (values, entries) in jagged.items():
                    offsets = np.searchsorted(entries, np.arange(start, stop + 1, dtype=np.int64))
                    chunk[name] = ak.unflatten(values[offsets[0] : offsets[-1]], np.diff(offsets))
                tree.extend(chunk)


@dataclass(frozen=True)
class _Plan:
    """What ``mktree``/``extend`` need to rebuild a tree from a dataset with a ROOT layout."""

    title: str
    num_entries: int
    types: dict[str, Any]
    counter_of: dict[str, str]
    flat: dict[str, npt.NDArray[Any]]
    jagged: dict[str, tuple[npt.NDArray[Any], npt.NDArray[np.int64]]]  # values, sorted entry numbers

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> _Plan:
        layout = dataset.layout
        n = int(layout["num_entries"])

        def table(name: str | None) -> Table:
            if name is None:
                return dataset.table
            if name not in dataset.aux:
                raise InputError(f"{dataset.source} lacks the auxiliary table {name!r} its ROOT layout needs")
            return dataset.aux[name]

        def column(t: Table, name: str, dtype: np.dtype[Any], what: str) -> npt.NDArray[Any]:
            if name not in t:
                raise InputError(f"{dataset.source} lacks column {name!r} ({what}) needed to write the tree")
            return np.asarray(t[name]).astype(dtype, copy=False)

        # Entry numbers of each collection's rows, sorted; the writer finds each chunk's offsets in
        # them, so memory does not grow with the number of entries the layout claims.
        entry_index: dict[str, npt.NDArray[np.int64]] = {}
        for counter, info in dict(layout["collections"]).items():
            t = table(info["table"])
            entries = column(t, str(info["index"]), np.dtype(np.int64), f"entry numbers of {counter}")
            if entries.size and (entries[0] < 0 or entries[-1] >= n or np.any(np.diff(entries) < 0)):
                raise InputError(
                    f"column {info['index']!r} of {dataset.source} must hold sorted entry numbers in 0..{n - 1}"
                )
            entry_index[str(counter)] = entries

        types: dict[str, Any] = {}
        counter_of: dict[str, str] = {}
        flat: dict[str, npt.NDArray[Any]] = {}
        jagged: dict[str, tuple[npt.NDArray[Any], npt.NDArray[np.int64]]] = {}
        for b in layout["branches"]:
            name, kind, dtype = str(b["name"]), str(b["kind"]), np.dtype(str(b["dtype"]))
            if kind == "counter":
                # Declared in place as a scalar integer; uproot turns it into the (int32) counter.
                types[name] = dtype
            elif kind == "flat":
                shape = tuple(int(d) for d in b.get("shape", ()))
                t = table(b["table"])
                if math.prod(shape) > len(t.names):
                    raise InputError(
                        f"branch {name!r} of {dataset.source} has shape {shape}, more elements than "
                        f"its table has columns"
                    )
                cols = [column(t, c, dtype, f"branch {name}") for c in _element_columns(name, shape)]
                values = cols[0] if not shape else np.stack(cols, axis=1).reshape((t.num_rows, *shape))
                if values.shape[0] != n:
                    raise InputError(
                        f"branch {name!r} of {dataset.source} has {values.shape[0]} entries, not {n}"
                    )
                types[name] = np.dtype((dtype, shape)) if shape else dtype
                flat[name] = values
            elif kind == "jagged":
                counter = str(b["counter"])
                t = table(b["table"])
                types[name] = f"var * {dtype.name}"
                counter_of[name] = counter
                if counter not in entry_index:
                    raise InputError(
                        f"the ROOT layout of {dataset.source} has no collection {counter!r} for branch {name!r}"
                    )
                values = column(t, name, dtype, f"branch {name}")
                if values.shape[0] != entry_index[counter].shape[0]:
                    raise InputError(
                        f"branch {name!r} of {dataset.source} has {values.shape[0]} values but its collection "
                        f"{counter!r} has {entry_index[counter].shape[0]} rows"
                    )
                jagged[name] = (values, entry_index[counter])
            else:
                raise ValueError(f"unknown branch kind {kind!r}")
        # What the tree costs per entry (a counter per collection, the flat values) must fit the
        # limit: a layout claiming 2**31 entries for a few rows would otherwise write gigabytes.
        per_entry = 4 * len(entry_index) + sum(
            a.dtype.itemsize * math.prod(a.shape[1:]) for a in flat.values()
        )
        check_claimed_bytes(n * per_entry, f"a tree of {n} entries ({per_entry} bytes each)", dataset.source)
        return cls(str(layout.get("title", "")), n, types, counter_of, flat, jagged)


def _check_read_size(branches: Mapping[str, _Branch], num_entries: int, where: str) -> None:
    """What reading ``branches`` will allocate, from the tree's claims, must fit the limit first."""
    if num_entries < 0:
        raise InputError(f"{where} claims {num_entries} entries")
    total = 0
    for b in branches.values():
        if b.kind == "jagged":
            # values as stored (after decompression), and an int64 count per entry
            total += int(b.obj.uncompressed_bytes) + 16 * num_entries
        else:
            total += num_entries * b.dtype.itemsize * math.prod(b.shape)
    check_claimed_bytes(total, f"reading {len(branches)} branch(es) of {num_entries} entries", where)


def _branches_behind(columns: Sequence[str], names: Sequence[str], where: str) -> list[str] | None:
    """The branches that table ``columns`` come from (``x[1]`` from ``x``); None: read all of them."""
    found: list[str] = []
    for col in columns:
        base = col if col in names else col.split("[", 1)[0]
        if base in names:
            found.append(base)
        elif col not in _INDEX_NAMES:
            raise ColumnError(missing_column_message(col, names, where))
    return list(dict.fromkeys(found)) or None


def _names_option(options: Mapping[str, Any], key: str) -> list[str] | None:
    """A list-of-names option given as a sequence of strings or one comma-separated string."""
    value = get_option(options, key, None, (list, tuple, str, type(None)), "root")
    if value is None:
        return None
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else list(value)
    if not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"option {key!r} must list non-empty names, got {value!r}")
    return names


FORMAT = Format(
    name="root",
    extensions=(".root",),
    reader=Root(),
    writer=Root(),
    read_options=frozenset({"tree", "branches"}),
    write_options=frozenset({"tree"}),
    sniff=sniff_root,
    description="ROOT TTree (uproot): flat or jagged collections; rebuilt with the same branches",
    dataset_reader=Root(),
    dataset_writer=Root(),
)
