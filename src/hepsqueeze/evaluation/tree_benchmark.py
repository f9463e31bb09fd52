"""The ROOT-file benchmark: every branch of a physicist's tree, within the precision they state.

:func:`run_tree_benchmark` measures, in one run and on one TTree (``Events`` by default), every
method below, and checks every value of every decompressed file against its branch's
:class:`~hepsqueeze.codecs.bounded.column_bound.ColumnBound` with
:func:`~hepsqueeze.metrics.bound_check.misses`, the one judge of a decoded value:

- ``zstd9``, ``lzma9``: the tree rewritten by uproot, lossless, with ZSTD or LZMA level 9;
- ``nanoaod-lzma9``, ``nanoaod-zstd9``: NanoAOD practice: each float branch rounded to the fewest
  mantissa bits that meet its bound (:func:`fewest_mantissa_bits`, checked with ``misses`` by
  :func:`checked_mantissa_bits`), round to nearest even (:func:`nanoaod_round`), then written by
  uproot with LZMA-9 or ZSTD-9; integer, boolean, counter and lossless branches untouched;
- ``quantise+zstd`` (alias ``quantize+zstd``), ``sz3``: the bounded baselines of
  :mod:`hepsqueeze.baselines` on each float32 branch's flattened values, every other branch (and a
  float branch they cannot bound) stored with zstd, lossless; each branch's output is checked with
  ``misses`` (in the compression time) and asked of the baseline again at half and a quarter of
  the bound before the branch is stored losslessly; ``sz3`` is skipped, and reported as such, when
  ``pysz`` is not installed;
- any number of caller's methods (the hepsqueeze codec): objects of the :class:`TreeMethod`
  protocol, passed as ``extra``.

Definitions:

- ``bytes``: the compressed file's size on disk (a directory: its files added up);
  ``ratio``: input file bytes / method bytes; ``ratio_vs_payload``: payload bytes / method bytes;
  ``ratio_vs_nanoaod_lzma9``: ``nanoaod-lzma9`` bytes / method bytes (how much better than NanoAOD
  practice at the same bounds);
- payload: the bytes of every branch's values as arrays (a jagged branch: its elements; counters
  included), the MB (10^6 bytes) of the MB/s figures;
- ``compress_s``: median wall time of ``repeats`` calls of ``compress(input file, empty dir)``,
  reading the input included; ``decompress_s``: median of ``decompress`` followed by reading every
  branch of the returned ROOT file with uproot (for the uproot methods ``decompress`` is the
  identity, so this is reading the tree; the baselines' write an uncompressed ROOT file);
- per branch: ``bytes`` (uproot files: the branch's ``compressed_bytes``, TKey headers of its
  baskets included; the baselines: the branch's part of the file; a caller's method: its optional
  ``branch_bytes``), ``max_error`` (relative for a relative bound, over non-zero finite values;
  absolute otherwise), ``misses`` (values ``misses`` rejects; for lossless branches values that
  differ) and ``bit_exact``; a method is ``within_bound`` when no value of any branch misses (a
  branch missing from its file, or with another number of values, misses with every value);
- structure: branch names in order, each branch's kind (flat, jagged, counter), counter and dtype,
  the tree's name and entries; uproot writes counters as ``Int_t``, so a counter whose integer type
  changed (NanoAOD's ``UInt_t nJet``) is listed under ``counter_dtype_changes`` without failing
  ``structure_ok`` (its values are still checked exactly).

:func:`nanoaod_round` rounds to nearest, ties to even, carrying into the exponent as IEEE rounding
does; CMSSW's ``MiniFloatConverter::reduceMantissaToNbitsRounding`` rounds ties away from zero and
saturates at the top of a binade instead, which can exceed the ``2**-(bits + 1)`` bound.

The whole tree is held in memory. Branches other than numeric scalars and counted jagged arrays
(strings, ``std::vector`` without a counter, fixed-size arrays, objects) are refused by name.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.metadata
import importlib.util
import json
import logging
import math
import os
import shutil
import statistics
import struct
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Final, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import zstandard

from hepsqueeze.atomic import atomic_open
from hepsqueeze.baselines import Baseline, BoundViolationError, ErrorBound, Quantise, Sz3
from hepsqueeze.codecs.bounded.column_bound import LOSSLESS, BoundMode, ColumnBound
from hepsqueeze.errors import (
    ConfigError,
    ContainerError,
    HepsqueezeError,
    InputError,
    InputFileNotFoundError,
    nearest_names,
)
from hepsqueeze.evaluation.benchmark import machine_info, machine_markdown
from hepsqueeze.evaluation.strict_json import json_safe, write_json
from hepsqueeze.metrics.bound_check import bits as bit_patterns
from hepsqueeze.metrics.bound_check import misses

log = logging.getLogger(__name__)

TREE_BENCHMARK_FORMAT: Final = "hepsqueeze-tree-benchmark"
TREE_BENCHMARK_VERSION: Final = 1
#: The tree benchmarked when the file has it and none is named.
DEFAULT_TREE: Final = "Events"
#: Entries per ``extend`` call when rewriting a tree: one basket per branch each.
BASKET_ENTRIES: Final = 100_000
#: The zstd level of the baselines' final stage and of the branches they store losslessly.
BASELINE_ZSTD_LEVEL: Final = 19
#: The method the ``ratio_vs_nanoaod_lzma9`` column divides by.
NANOAOD_REFERENCE: Final = "nanoaod-lzma9"
#: The built-in methods, in the order they run.
BUILTIN_METHODS: Final = ("zstd9", "lzma9", "nanoaod-lzma9", "nanoaod-zstd9", "quantise+zstd", "sz3")
DEFAULT_METHODS: Final = BUILTIN_METHODS
#: Other spellings of built-in method names.
METHOD_ALIASES: Final = {"quantize+zstd": "quantise+zstd"}
#: Mantissa bits of the float dtypes :func:`nanoaod_round` takes.
MANTISSA_BITS: Final = {np.dtype(np.float32): 23, np.dtype(np.float64): 52}
#: Magic of the baselines' tree files.
BASELINE_MAGIC: Final = b"HSQT"
BASELINE_FILE_VERSION: Final = 1
_ALGORITHMS: Final = ("zstd", "lzma", "zlib", "lz4")
#: Tighter bounds asked of a baseline whose output ``misses`` rejects, before storing losslessly.
_RETRY_FACTORS: Final = (0.5, 0.25)
_LIBRARIES: Final = ("uproot", "awkward")

Array = npt.NDArray[Any]


# --- the method protocol --------------------------------------------------------------------------


@runtime_checkable
class TreeMethod(Protocol):
    """A way of compressing a ROOT file's tree, as the benchmark runs it.

    ``compress`` writes the compressed form of the tree of ``src`` into the empty directory
    ``out_dir`` and returns its path (a file, or a directory whose files are counted);
    ``decompress`` turns that back into a ROOT file with the same tree (in ``out_dir``, or the
    compressed file itself where it is one) and returns its path. A method may also have
    ``branch_bytes(compressed) -> dict[str, int]`` (bytes per branch) and
    ``branch_storage(compressed) -> dict[str, str]`` (how each branch was stored); the benchmark
    uses them where present.
    """

    @property
    def name(self) -> str: ...

    def compress(self, src: Path, out_dir: Path) -> Path: ...

    def decompress(self, compressed: Path, out_dir: Path) -> Path: ...


# --- a tree in memory -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeBranch:
    """One branch: its name, the dtype of its values, and for a jagged branch its counter."""

    name: str
    dtype: np.dtype[Any]
    counter: str | None = None
    is_counter: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"a branch name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.dtype, np.dtype) or self.dtype.kind not in "biuf" or self.dtype.shape:
            raise ConfigError(f"branch {self.name!r}: not a numeric scalar dtype: {self.dtype!r}")
        object.__setattr__(self, "dtype", self.dtype.newbyteorder("="))
        if self.counter is not None and (not isinstance(self.counter, str) or not self.counter):
            raise ConfigError(f"branch {self.name!r}: a counter must be a branch name, got {self.counter!r}")
        if self.is_counter and (self.counter is not None or self.dtype.kind not in "iu"):
            raise ConfigError(f"branch {self.name!r}: a counter is a flat integer branch")

    @property
    def kind(self) -> str:
        """``"counter"``, ``"jagged"`` or ``"flat"``."""
        if self.is_counter:
            return "counter"
        return "jagged" if self.counter is not None else "flat"


@dataclass(frozen=True, eq=False)
class TreeContent:
    """A tree's branches (in order) and their values: a flat or counter branch has one value per
    entry, a jagged branch all its elements, entry after entry (the counter gives the splits)."""

    name: str
    entries: int
    branches: tuple[TreeBranch, ...]
    values: Mapping[str, Array]
    title: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"a tree name must be a non-empty string, got {self.name!r}")
        if isinstance(self.entries, bool) or not isinstance(self.entries, int) or self.entries < 0:
            raise ConfigError(f"entries must be an integer >= 0, got {self.entries!r}")
        object.__setattr__(self, "branches", tuple(self.branches))
        object.__setattr__(self, "values", dict(self.values))
        by_name = {b.name: b for b in self.branches}
        if len(by_name) != len(self.branches):
            raise ConfigError(f"tree {self.name!r} names a branch twice")
        if set(self.values) != set(by_name):
            raise ConfigError(f"tree {self.name!r}: the values do not match the branches")
        for b in self.branches:
            v = self.values[b.name]
            if not isinstance(v, np.ndarray) or v.ndim != 1 or v.dtype != b.dtype:
                raise ConfigError(f"branch {b.name!r}: expected a 1-d {b.dtype} array")
            if b.counter is None:
                if v.shape[0] != self.entries:
                    raise InputError(f"branch {b.name!r} has {v.shape[0]} values for {self.entries} entries")
                continue
            counter = by_name.get(b.counter)
            if counter is None or not counter.is_counter:
                raise ConfigError(f"branch {b.name!r}: its counter {b.counter!r} is not a counter branch")
            counts = self.values[b.counter]
            if counts.size and int(counts.min()) < 0:
                raise InputError(f"counter {b.counter!r} has negative counts")
            if v.shape[0] != int(counts.sum(dtype=np.int64)):
                raise InputError(
                    f"branch {b.name!r}: {v.shape[0]} values, but its counter adds up to {counts.sum()}"
                )

    @property
    def payload_bytes(self) -> int:
        """The bytes of every branch's values as arrays."""
        return sum(int(v.nbytes) for v in self.values.values())

    def branch(self, name: str) -> TreeBranch:
        for b in self.branches:
            if b.name == name:
                return b
        raise InputError(f"tree {self.name!r} has no branch {name!r}")

    def replace_values(self, values: Mapping[str, Array]) -> TreeContent:
        """The same tree with some branches' values replaced."""
        return TreeContent(self.name, self.entries, self.branches, {**self.values, **values}, self.title)


def _module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigError(
            f"the ROOT benchmark needs uproot and awkward: pip install 'hepsqueeze[io]' ({exc})"
        ) from exc


def _native(arr: Array) -> Array:
    a = np.asarray(arr)
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return np.ascontiguousarray(a)


def _tree_name(file: Any, wanted: str | None, path: Path) -> str:
    trees: list[str] = sorted(
        {str(k).rsplit(";", 1)[0] for k, c in file.classnames().items() if c == "TTree"}
    )
    if wanted is not None:
        if wanted not in trees:
            near = nearest_names(wanted, trees)
            hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
            raise InputError(f"{path}: no TTree {wanted!r} (trees: {', '.join(trees) or 'none'}){hint}")
        return wanted
    if DEFAULT_TREE in trees:
        return DEFAULT_TREE
    if len(trees) == 1:
        return trees[0]
    raise InputError(f"{path}: name the tree to benchmark (trees: {', '.join(trees) or 'none'})")


def _branch_layout(tree: Any, uproot: ModuleType) -> list[TreeBranch]:
    """The tree's branches as :class:`TreeBranch` (counters marked), or :class:`InputError`."""
    names = [b.name for b in tree.branches]
    counters: dict[str, str | None] = {}
    dtypes: dict[str, np.dtype[Any]] = {}
    bad: list[str] = []
    for b in tree.branches:
        interp = b.interpretation
        leaf = b.count_leaf
        if b.branches:
            bad.append(f"{b.name} (split object)")
        elif isinstance(interp, uproot.AsDtype) and not interp.inner_shape and leaf is None:
            dtypes[b.name], counters[b.name] = np.dtype(interp.to_dtype), None
        elif (
            isinstance(interp, uproot.AsJagged)
            and isinstance(interp.content, uproot.AsDtype)
            and not interp.content.inner_shape
            and not interp.header_bytes
            and leaf is not None
            and leaf.member("fName") in names
        ):
            dtypes[b.name], counters[b.name] = np.dtype(interp.content.to_dtype), str(leaf.member("fName"))
        else:
            bad.append(f"{b.name} ({b.typename})")
    if bad:
        raise InputError(
            "the tree benchmark takes numeric scalar branches and jagged branches with a counter; "
            f"not {', '.join(bad)}"
        )
    used = {c for c in counters.values() if c is not None}
    wrong = [c for c in sorted(used) if counters[c] is not None or dtypes[c].kind not in "iu"]
    if wrong:
        raise InputError(f"counter branch(es) {', '.join(wrong)} are not flat integer branches")
    return [TreeBranch(n, dtypes[n], counters[n], n in used) for n in names]


def _read_values(tree: Any, layout: Sequence[TreeBranch], ak: ModuleType, src: Path) -> dict[str, Array]:
    values: dict[str, Array] = {}
    for b in layout:
        if b.counter is None:
            values[b.name] = _native(tree[b.name].array(library="np")).astype(b.dtype, copy=False)
            continue
        jagged = tree[b.name].array(library="ak")
        values[b.name] = _native(ak.to_numpy(ak.flatten(jagged, axis=1))).astype(b.dtype, copy=False)
        counts = np.asarray(ak.num(jagged, axis=1))
        if not np.array_equal(counts, tree[b.counter].array(library="np")):
            raise InputError(f"{src}: branch {b.name!r} does not match its counter {b.counter!r}")
    return values


def read_tree(path: str | os.PathLike[str], tree: str | None = None) -> TreeContent:
    """Every branch of ``tree`` (default: ``Events``, or the file's only TTree) of a ROOT file."""
    src = Path(path)
    if not src.is_file():
        raise InputFileNotFoundError(f"no such ROOT file: {src}")
    uproot, ak = _module("uproot"), _module("awkward")
    try:
        with uproot.open(src) as file:
            name = _tree_name(file, tree, src)
            t = file[name]
            layout = _branch_layout(t, uproot)
            values = _read_values(t, layout, ak, src)
            title = str(t.title or "")
            entries = int(t.num_entries)
    except HepsqueezeError:
        raise
    except Exception as exc:  # uproot raises many kinds on a file it cannot read
        raise InputError(f"cannot read the tree of {src}: {type(exc).__name__}: {exc}") from exc
    return TreeContent(name, entries, tuple(layout), values, title)


def tree_branch_bytes(path: str | os.PathLike[str], tree: str | None = None) -> dict[str, int]:
    """Each branch's ``compressed_bytes`` in a ROOT file (its baskets, TKey headers included)."""
    uproot = _module("uproot")
    src = Path(path)
    try:
        with uproot.open(src) as file:
            t = file[_tree_name(file, tree, src)]
            return {b.name: int(b.compressed_bytes) for b in t.branches}
    except HepsqueezeError:
        raise
    except Exception as exc:  # as in read_tree
        raise InputError(f"cannot read the tree of {src}: {type(exc).__name__}: {exc}") from exc


def _write_groups(content: TreeContent) -> list[tuple[str, str | None, list[str]]]:
    """``(mktree key, counter, branches)`` in the tree's order: a flat branch alone, a counter's
    jagged branches as one record (uproot writes the counter, then them)."""
    groups: list[tuple[str, str | None, list[str]]] = []
    members: dict[str, list[str]] = {}
    for b in content.branches:
        counter = b.name if b.is_counter else b.counter
        if counter is None:
            groups.append((b.name, None, [b.name]))
            continue
        if counter not in members:
            members[counter] = []
            groups.append((f"{counter}\x00", counter, members[counter]))
        if not b.is_counter:
            members[counter].append(b.name)
    return groups


def write_tree(
    content: TreeContent,
    path: str | os.PathLike[str],
    *,
    algorithm: str | None = None,
    level: int = 9,
    basket_entries: int = BASKET_ENTRIES,
) -> Path:
    """Write ``content`` as a TTree with uproot (``mktree``, then ``extend`` by ``basket_entries``),
    compressed with ``algorithm`` (``zstd``, ``lzma``, ``zlib``, ``lz4``; ``None``: uncompressed) at
    ``level``: the same tree name and title, branch names and order, counters and dtypes (counters
    as ``Int_t``, which uproot always writes). Returns the path."""
    if algorithm is not None and algorithm not in _ALGORITHMS:
        raise ConfigError(f"unknown ROOT compression {algorithm!r} (use one of {', '.join(_ALGORITHMS)})")
    if basket_entries < 1:
        raise ConfigError(f"basket entries must be >= 1, got {basket_entries}")
    uproot, ak = _module("uproot"), _module("awkward")
    out = Path(path)
    compression = (
        None
        if algorithm is None
        else {"zstd": uproot.ZSTD, "lzma": uproot.LZMA, "zlib": uproot.ZLIB, "lz4": uproot.LZ4}[algorithm](
            level
        )
    )
    data: dict[str, Any] = {}
    counter_of: dict[str, str] = {}
    for key, counter, names in _write_groups(content):
        if counter is None:
            data[key] = content.values[key]
            continue
        counts = content.values[counter].astype(np.int64)
        if not names:  # a counter whose branches are elsewhere: cannot happen for a read tree
            raise InputError(f"counter {counter!r} counts no branch")
        counter_of[key] = counter
        data[key] = ak.zip({n: ak.unflatten(content.values[n], counts) for n in names})
    types = {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in data.items()}
    with uproot.recreate(out, compression=compression) as file:
        tree = file.mktree(
            content.name,
            types,
            title=content.title,
            counter_name=lambda key: counter_of.get(key, "n" + key),
            field_name=lambda outer, inner: inner,
        )
        for start in range(0, content.entries, basket_entries):
            stop = min(content.entries, start + basket_entries)
            tree.extend({k: v[start:stop] for k, v in data.items()})
    return out


# --- mantissa rounding ------------------------------------------------------------------------------


def _mantissa_bits_of(dtype: np.dtype[Any]) -> int:
    bits = MANTISSA_BITS.get(np.dtype(dtype).newbyteorder("="))
    if bits is None:
        raise InputError(f"mantissa rounding takes float32 or float64 values, got {dtype}")
    return bits


def nanoaod_round(values: npt.ArrayLike, bits: int) -> Array:
    """``values`` rounded to ``bits`` mantissa bits (float32: 0-23, float64: 0-52), to nearest with
    ties to even, on the values' bit patterns (a tie goes to the even pattern: with 0 bits, the even
    exponent field); a carry into the exponent gives the next power of two (the largest values may
    round to inf). NaN, inf and zeros are returned untouched, as is
    everything at the dtype's full width. A new array, in native byte order."""
    arr = _native(np.asarray(values))
    width = _mantissa_bits_of(arr.dtype)
    if isinstance(bits, bool) or not isinstance(bits, int | np.integer) or not 0 <= bits <= width:
        raise ConfigError(f"mantissa bits must be an integer in [0, {width}] for {arr.dtype}, got {bits!r}")
    out = arr.copy()
    shift = width - int(bits)
    if shift == 0 or out.size == 0:
        return out
    utype = np.uint32 if arr.dtype.itemsize == 4 else np.uint64
    u: Any = out.view(utype)
    exponent = utype(((1 << (arr.dtype.itemsize * 8 - 1 - width)) - 1) << width)
    one, keep = utype(1), utype(shift)
    half_less = utype((1 << (shift - 1)) - 1)
    mask = utype(~((1 << shift) - 1) & ((1 << (arr.dtype.itemsize * 8)) - 1))
    finite = (u & exponent) != exponent
    # ties to even: add just under half an LSB, plus the kept LSB itself
    rounded = ((u + half_less + ((u >> keep) & one)) & mask).astype(utype, copy=False)
    np.copyto(u, rounded, where=finite)
    return out


def _fewest(limit: int, bound: float, exponent: int) -> int:
    """Fewest ``N`` in ``[0, limit]`` with ``2**(exponent - N - 1) <= bound`` (``limit`` if none)."""
    for n in range(limit + 1):
        if math.ldexp(1.0, exponent - n - 1) <= bound:
            return n
    return limit


def fewest_mantissa_bits(bound: ColumnBound, values: npt.ArrayLike) -> int | None:
    """The fewest mantissa bits rounding may keep under ``bound`` (``None`` for a lossless bound).

    Relative ``eps``: the fewest ``N`` with ``2**-(N+1) <= eps``; absolute ``eps`` on values whose
    largest finite ``|x|`` is ``A``: the fewest with ``2**(floor(log2 A) - N - 1) <= eps`` (0 when
    every value is 0); a relative bound with an absolute floor takes the fewer of the two. Capped at
    the dtype's mantissa width (23 for float32, 52 for float64), which keeps every value.
    """
    if not isinstance(bound, ColumnBound):
        raise ConfigError(f"expected a ColumnBound, got {type(bound).__name__}")
    if bound.lossless:
        return None
    arr = np.asarray(values)
    width = _mantissa_bits_of(arr.dtype)

    def absolute(eps: float) -> int:
        finite = np.abs(arr[np.isfinite(arr)])
        top = float(finite.max()) if finite.size else 0.0
        return 0 if top == 0 else _fewest(width, eps, math.frexp(top)[1] - 1)

    if bound.mode == BoundMode.ABSOLUTE:
        return absolute(bound.value)
    relative = _fewest(width, bound.value, 0)
    return min(relative, absolute(bound.floor)) if bound.floor else relative


def checked_mantissa_bits(bound: ColumnBound, values: npt.ArrayLike) -> int | None:
    """:func:`fewest_mantissa_bits`, raised one bit at a time until ``misses`` accepts every value
    rounded with :func:`nanoaod_round` (where the formula's bound is met only to the last ulp, or
    subnormals or overflow break it); the dtype's full width always passes."""
    n = fewest_mantissa_bits(bound, values)
    if n is None:
        return None
    arr = _native(np.asarray(values))
    width = _mantissa_bits_of(arr.dtype)
    eb = bound.error_bound()
    while n < width and bool(misses(arr, nanoaod_round(arr, n), eb, bound.floor).any()):
        n += 1
    return n


def round_tree(content: TreeContent, bits: Mapping[str, int]) -> TreeContent:
    """``content`` with each branch named in ``bits`` rounded to that many mantissa bits."""
    return content.replace_values({name: nanoaod_round(content.values[name], n) for name, n in bits.items()})


def tree_bounds(
    content: TreeContent, bound_of: Callable[[str, np.dtype[Any]], ColumnBound]
) -> dict[str, ColumnBound]:
    """Each branch's bound: ``bound_of(name, dtype)`` for float branches; integer, boolean and
    counter branches are lossless whatever it says."""
    out: dict[str, ColumnBound] = {}
    for b in content.branches:
        if b.is_counter or b.dtype.kind != "f":
            out[b.name] = LOSSLESS
            continue
        bound = bound_of(b.name, b.dtype)
        if not isinstance(bound, ColumnBound):
            raise ConfigError(f"bound_of({b.name!r}) gave {type(bound).__name__}, not a ColumnBound")
        out[b.name] = bound
    return out


def mantissa_plan(content: TreeContent, bounds: Mapping[str, ColumnBound]) -> dict[str, int]:
    """The mantissa bits NanoAOD practice keeps on each float branch with a bound
    (:func:`checked_mantissa_bits`; the dtype's full width where no fewer meet the bound)."""
    plan: dict[str, int] = {}
    for b in content.branches:
        bound = bounds[b.name]
        if b.dtype in MANTISSA_BITS and not bound.lossless:
            n = checked_mantissa_bits(bound, content.values[b.name])
            if n is not None:
                plan[b.name] = n
    return plan


# --- built-in methods -------------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise ConfigError(f"a method name must be a non-empty string, got {name!r}")


@dataclass(frozen=True)
class UprootRewrite:
    """The tree rewritten by uproot with ``algorithm`` at ``level``, each branch in
    ``mantissa_bits`` rounded first (NanoAOD practice); ``decompress`` is the identity."""

    name: str
    algorithm: str
    level: int = 9
    tree: str | None = None
    mantissa_bits: Mapping[str, int] = field(default_factory=dict)
    basket_entries: int = BASKET_ENTRIES

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.algorithm not in _ALGORITHMS:
            raise ConfigError(
                f"unknown ROOT compression {self.algorithm!r} (use one of {', '.join(_ALGORITHMS)})"
            )
        if isinstance(self.level, bool) or not isinstance(self.level, int) or not 1 <= self.level <= 9:
            raise ConfigError(f"ROOT compression level must be 1-9, got {self.level!r}")
        if (
            isinstance(self.basket_entries, bool)
            or not isinstance(self.basket_entries, int)
            or self.basket_entries < 1
        ):
            raise ConfigError(f"basket entries must be an integer >= 1, got {self.basket_entries!r}")
        object.__setattr__(self, "mantissa_bits", dict(self.mantissa_bits))

    def compress(self, src: Path, out_dir: Path) -> Path:
        content = read_tree(src, self.tree)
        if self.mantissa_bits:
            content = round_tree(content, self.mantissa_bits)
        return write_tree(
            content,
            out_dir / "tree.root",
            algorithm=self.algorithm,
            level=self.level,
            basket_entries=self.basket_entries,
        )

    def decompress(self, compressed: Path, out_dir: Path) -> Path:
        return compressed

    def branch_bytes(self, compressed: Path) -> dict[str, int]:
        return tree_branch_bytes(compressed, self.tree)

    def branch_storage(self, compressed: Path) -> dict[str, str]:
        how = f"{self.algorithm}-{self.level}"
        return {
            name: f"{self.mantissa_bits[name]} mantissa bits, {how}" if name in self.mantissa_bits else how
            for name in tree_branch_bytes(compressed, self.tree)
        }


def _baseline_variable(bound: ColumnBound) -> str:
    # the baselines check their output with the error convention of a variable's name: "pt" is
    # relative, "eta" absolute without wrapping (the bound check here is `misses` anyway)
    return "pt" if bound.mode == BoundMode.RELATIVE else "eta"


@dataclass(frozen=True)
class BaselineTreeMethod:
    """A bounded baseline on each float32 branch's flattened values, every other branch (and one
    the baseline cannot bound, or that has NaN/inf) with zstd, lossless, in one file:
    ``HSQT | uint32 LE header length | JSON header | each branch's bytes``. ``decompress`` writes an
    uncompressed ROOT file."""

    name: str
    baseline: Baseline
    bounds: Mapping[str, ColumnBound]
    tree: str | None = None
    zstd_level: int = BASELINE_ZSTD_LEVEL
    basket_entries: int = BASKET_ENTRIES

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.baseline, Baseline) or not self.baseline.bounded:
            raise ConfigError(f"{self.name}: needs a bounded baseline, got {self.baseline!r}")
        if (
            isinstance(self.zstd_level, bool)
            or not isinstance(self.zstd_level, int)
            or not 1 <= self.zstd_level <= 22
        ):
            raise ConfigError(f"zstd level must be 1-22, got {self.zstd_level!r}")
        bounds = dict(self.bounds)
        for name, bound in bounds.items():
            if not isinstance(bound, ColumnBound):
                raise ConfigError(f"{self.name}: the bound of {name!r} is not a ColumnBound")
        object.__setattr__(self, "bounds", bounds)

    def _encode(self, values: Array, bound: ColumnBound) -> tuple[str, bytes]:
        lossless = zstandard.ZstdCompressor(level=self.zstd_level)
        if bound.lossless or values.dtype != np.float32 or values.size == 0:
            return "zstd", lossless.compress(values.tobytes())
        if not bool(np.isfinite(values).all()):
            return "zstd (NaN/inf)", lossless.compress(values.tobytes())
        variable = _baseline_variable(bound)
        eb = bound.error_bound()
        for factor in (1.0, *_RETRY_FACTORS):
            try:
                payload = self.baseline.compress(
                    values.reshape(-1, 1), [variable], [ErrorBound(eb.kind, eb.value * factor)]
                )
            except (BoundViolationError, ConfigError, InputError) as exc:
                log.info("%s: stored losslessly (%s)", self.name, exc)
                return "zstd (not bounded)", lossless.compress(values.tobytes())
            back = self.baseline.decompress(payload)[:, 0]
            if not bool(misses(values, back, eb, bound.floor).any()):
                return self.baseline.name, payload
        return "zstd (not bounded)", lossless.compress(values.tobytes())

    def compress(self, src: Path, out_dir: Path) -> Path:
        content = read_tree(src, self.tree)
        parts: list[bytes] = []
        entries: list[dict[str, Any]] = []
        for b in content.branches:
            stored, part = self._encode(content.values[b.name], self.bounds.get(b.name, LOSSLESS))
            parts.append(part)
            entries.append(
                {
                    "name": b.name,
                    "dtype": b.dtype.str,
                    "counter": b.counter,
                    "is_counter": b.is_counter,
                    "values": int(content.values[b.name].shape[0]),
                    "stored": stored,
                    "lossless": stored.startswith("zstd"),
                    "bytes": len(part),
                }
            )
        header = {
            "version": BASELINE_FILE_VERSION,
            "method": self.name,
            "tree": content.name,
            "title": content.title,
            "entries": content.entries,
            "branches": entries,
        }
        raw = json.dumps(header, separators=(",", ":")).encode()
        out = out_dir / "tree.hsqt"
        with out.open("wb") as fh:
            fh.write(BASELINE_MAGIC + struct.pack("<I", len(raw)) + raw)
            for part in parts:
                fh.write(part)
        return out

    def _read(self, compressed: Path) -> tuple[dict[str, Any], list[bytes]]:
        data = compressed.read_bytes()
        if len(data) < 8 or data[:4] != BASELINE_MAGIC:
            raise ContainerError(f"{compressed}: not a baseline tree file")
        (size,) = struct.unpack_from("<I", data, 4)
        try:
            header = json.loads(data[8 : 8 + size])
            pos, parts = 8 + size, []
            for entry in header["branches"]:
                parts.append(data[pos : pos + int(entry["bytes"])])
                pos += int(entry["bytes"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ContainerError(f"{compressed}: invalid baseline tree header ({exc})") from None
        if pos != len(data):
            raise ContainerError(f"{compressed}: {len(data) - pos} bytes more or fewer than the header says")
        return header, parts

    def decompress(self, compressed: Path, out_dir: Path) -> Path:
        header, parts = self._read(compressed)
        branches, values = [], {}
        for entry, part in zip(header["branches"], parts, strict=True):
            dtype = np.dtype(entry["dtype"])
            if entry["lossless"] is True:
                arr = np.frombuffer(zstandard.ZstdDecompressor().decompress(part), dtype=dtype).copy()
            else:
                arr = self.baseline.decompress(part)[:, 0].astype(dtype)
            if arr.shape[0] != int(entry["values"]):
                raise ContainerError(f"{compressed}: branch {entry['name']!r} holds {arr.shape[0]} values")
            branches.append(TreeBranch(entry["name"], dtype, entry["counter"], bool(entry["is_counter"])))
            values[entry["name"]] = _native(arr)
        content = TreeContent(
            header["tree"], int(header["entries"]), tuple(branches), values, header["title"]
        )
        return write_tree(content, out_dir / "tree.root", basket_entries=self.basket_entries)

    def branch_bytes(self, compressed: Path) -> dict[str, int]:
        return {e["name"]: int(e["bytes"]) for e in self._read(compressed)[0]["branches"]}

    def branch_storage(self, compressed: Path) -> dict[str, str]:
        return {e["name"]: str(e["stored"]) for e in self._read(compressed)[0]["branches"]}


# --- configuration ---------------------------------------------------------------------------------


def _canonical_method(name: str) -> str:
    canonical = METHOD_ALIASES.get(name, name)
    if canonical not in BUILTIN_METHODS:
        near = nearest_names(name, [*BUILTIN_METHODS, *METHOD_ALIASES])
        hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
        raise ConfigError(
            f"unknown tree benchmark method {name!r} (available: {', '.join(BUILTIN_METHODS)}){hint}"
        )
    return canonical


@dataclass(frozen=True)
class TreeBenchmarkConfig:
    """How :func:`run_tree_benchmark` runs: ``repeats`` timed runs of each step (median reported),
    the tree (``None``: ``Events``, or the file's only TTree), the built-in methods to run (names of
    :data:`BUILTIN_METHODS`, or ``quantize+zstd``), entries per basket of the rewritten trees, and
    the zstd level of the baselines' lossless parts and final stage."""

    repeats: int = 3
    tree: str | None = None
    methods: tuple[str, ...] = DEFAULT_METHODS
    basket_entries: int = BASKET_ENTRIES
    baseline_zstd_level: int = BASELINE_ZSTD_LEVEL

    def __post_init__(self) -> None:
        if isinstance(self.repeats, bool) or not isinstance(self.repeats, int) or self.repeats < 1:
            raise ConfigError(f"repeats must be an integer >= 1, got {self.repeats!r}")
        if self.tree is not None and (not isinstance(self.tree, str) or not self.tree):
            raise ConfigError(f"tree must be a non-empty name or None, got {self.tree!r}")
        if isinstance(self.methods, str) or not isinstance(self.methods, Sequence):
            raise ConfigError(f"methods must be a sequence of names, got {self.methods!r}")
        methods = tuple(_canonical_method(m) for m in self.methods)
        if len(set(methods)) != len(methods):
            raise ConfigError(f"a method is named twice in {list(self.methods)}")
        object.__setattr__(self, "methods", methods)
        if (
            isinstance(self.basket_entries, bool)
            or not isinstance(self.basket_entries, int)
            or self.basket_entries < 1
        ):
            raise ConfigError(f"basket entries must be an integer >= 1, got {self.basket_entries!r}")
        level = self.baseline_zstd_level
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 22:
            raise ConfigError(f"zstd level must be 1-22, got {level!r}")


def _builtin(
    name: str,
    config: TreeBenchmarkConfig,
    tree: str,
    bounds: Mapping[str, ColumnBound],
    plan: Mapping[str, int],
) -> TreeMethod | str:
    """The built-in method ``name``, or why it is skipped."""
    basket = config.basket_entries
    if name in ("zstd9", "lzma9"):
        return UprootRewrite(name, name[:-1], 9, tree=tree, basket_entries=basket)
    if name.startswith("nanoaod-"):
        algorithm = name.removeprefix("nanoaod-")[:-1]
        return UprootRewrite(name, algorithm, 9, tree=tree, mantissa_bits=plan, basket_entries=basket)
    level = config.baseline_zstd_level
    if name == "sz3":
        if importlib.util.find_spec("pysz") is None:
            return "SZ3 is not installed (pip install pysz)"
        return BaselineTreeMethod(name, Sz3(), bounds, tree, level, basket)
    return BaselineTreeMethod(name, Quantise(level), bounds, tree, level, basket)


# --- measuring --------------------------------------------------------------------------------------


def _timed_runs(fn: Callable[[Path], Any], root: Path, repeats: int) -> tuple[Any, float]:
    """The last result of ``fn(empty dir)`` and the median wall time of ``repeats`` calls; the
    directories of the earlier calls are removed."""
    times: list[float] = []
    out: Any = None
    for i in range(repeats):
        run_dir = root / f"run{i}"
        run_dir.mkdir(parents=True)
        t0 = time.perf_counter()
        out = fn(run_dir)
        times.append(time.perf_counter() - t0)
        if i < repeats - 1:
            shutil.rmtree(run_dir)
    return out, statistics.median(times)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _equal_values(x: Array, y: Array) -> npt.NDArray[np.bool_]:
    """Where two integer or boolean arrays of different dtypes hold the same number."""
    big = "u" if x.dtype.kind == y.dtype.kind == "u" else "i"
    if big == "i" and np.dtype(np.uint64) in (x.dtype, y.dtype):
        fits_x = x.dtype != np.uint64 or bool((x <= np.iinfo(np.int64).max).all())
        fits_y = y.dtype != np.uint64 or bool((y <= np.iinfo(np.int64).max).all())
        if not (fits_x and fits_y):
            return np.zeros(x.shape, dtype=bool)
    wide = np.uint64 if big == "u" else np.int64
    return np.asarray(x.astype(wide) == y.astype(wide))


def _max_error(x: Array, y: Array, bound: ColumnBound) -> float:
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        a, b = x.astype(np.float64), y.astype(np.float64)
        ok = np.isfinite(a) & np.isfinite(b)
        d = np.abs(b - a)
        if bound.mode == BoundMode.RELATIVE:
            ok &= a != 0
            d = d / np.abs(np.where(ok, a, 1.0))
    d = d[ok]
    return float(d.max()) if d.size else 0.0


def compare_branch(original: Array, decoded: Array, bound: ColumnBound) -> dict[str, Any]:
    """One branch's values against its bound: ``max_error``, ``misses``, ``bit_exact``."""
    if decoded.shape != original.shape:
        return {
            "max_error": None,
            "misses": int(original.size),
            "bit_exact": False,
            "problem": f"{decoded.shape[0]} values for {original.shape[0]}",
        }
    same_dtype = original.dtype == decoded.dtype
    bit_exact = same_dtype and bool(np.array_equal(bit_patterns(original), bit_patterns(decoded)))
    if bit_exact:
        return {"max_error": 0.0, "misses": 0, "bit_exact": True}
    if bound.lossless or original.dtype.kind != "f":
        if same_dtype:
            wrong = int((bit_patterns(original) != bit_patterns(decoded)).sum())
        elif original.dtype.kind in "biu" and decoded.dtype.kind in "biu":
            wrong = int((~_equal_values(original, decoded)).sum())
        else:
            wrong = int(original.size)
    elif original.dtype.kind == decoded.dtype.kind:
        wrong = int(misses(original, decoded, bound.error_bound(), bound.floor).sum())
    else:
        wrong = int(original.size)
    return {"max_error": _max_error(original, decoded, bound), "misses": wrong, "bit_exact": False}


def compare_structure(original: TreeContent, decoded: TreeContent) -> dict[str, Any]:
    """The decoded tree's structure against the input's: ``ok`` and what differs."""
    names = [b.name for b in original.branches]
    back = [b.name for b in decoded.branches]
    by_name = {b.name: b for b in decoded.branches}
    missing = [n for n in names if n not in by_name]
    extra = [n for n in back if n not in set(names)]
    type_changes, counter_dtype_changes, kind_changes = [], [], []
    for b in original.branches:
        d = by_name.get(b.name)
        if d is None:
            continue
        if (b.kind, b.counter) != (d.kind, d.counter):
            kind_changes.append(
                {"branch": b.name, "input": [b.kind, b.counter], "output": [d.kind, d.counter]}
            )
        if b.dtype != d.dtype:
            change = {"branch": b.name, "input": b.dtype.name, "output": d.dtype.name}
            if b.is_counter and d.is_counter and d.dtype.kind in "iu":
                counter_dtype_changes.append(change)
            else:
                type_changes.append(change)
    same_order = names == back
    out = {
        "tree_ok": decoded.name == original.name,
        "entries_ok": decoded.entries == original.entries,
        "order_ok": same_order,
        "missing": missing,
        "extra": extra,
        "kind_changes": kind_changes,
        "type_changes": type_changes,
        "counter_dtype_changes": counter_dtype_changes,
    }
    out["ok"] = bool(
        out["tree_ok"]
        and out["entries_ok"]
        and same_order
        and not (missing or extra or kind_changes or type_changes)
    )
    return out


def _optional_call(method: TreeMethod, attr: str, compressed: Path) -> dict[str, Any] | None:
    fn = getattr(method, attr, None)
    if not callable(fn):
        return None
    try:
        got = fn(compressed)
    except HepsqueezeError as exc:
        log.warning("tree benchmark: %s.%s failed: %s", method.name, attr, exc)
        return None
    if not isinstance(got, Mapping):
        log.warning("tree benchmark: %s.%s returned %s, not a mapping", method.name, attr, type(got).__name__)
        return None
    return {str(k): v for k, v in got.items()}


def _measure(
    method: TreeMethod,
    src: Path,
    original: TreeContent,
    *,
    bounds: Mapping[str, ColumnBound],
    repeats: int,
    work: Path,
    keep: bool,
) -> dict[str, Any]:
    row: dict[str, Any] = {"name": method.name}
    try:
        compressed, t_c = _timed_runs(lambda d: Path(method.compress(src, d)), work / "compressed", repeats)

        def decode(d: Path) -> tuple[Path, TreeContent]:
            out = Path(method.decompress(compressed, d))
            return out, read_tree(out, original.name)

        (_, decoded), t_d = _timed_runs(decode, work / "decompressed", repeats)
        size = _size(compressed)
    except (HepsqueezeError, OSError) as exc:
        log.warning("tree benchmark: %s failed: %s", method.name, exc)
        return {**row, "status": "failed", "message": f"{type(exc).__name__}: {exc}"}
    mb = original.payload_bytes / 1e6
    per_bytes = _optional_call(method, "branch_bytes", compressed)
    storage = _optional_call(method, "branch_storage", compressed)
    branches: dict[str, dict[str, Any]] = {}
    for b in original.branches:
        if b.name in decoded.values:
            entry = compare_branch(original.values[b.name], decoded.values[b.name], bounds[b.name])
        else:
            entry = {
                "max_error": None,
                "misses": int(original.values[b.name].size),
                "bit_exact": False,
                "problem": "missing",
            }
        entry["bytes"] = None if per_bytes is None else per_bytes.get(b.name)
        if storage is not None and b.name in storage:
            entry["stored"] = storage[b.name]
        branches[b.name] = entry
    structure = compare_structure(original, decoded)
    total_misses = sum(e["misses"] for e in branches.values())
    known = [e["bytes"] for e in branches.values() if isinstance(e["bytes"], int)]
    row.update(
        {
            "status": "ok",
            "bytes": size,
            "compress_s": t_c,
            "decompress_s": t_d,
            "compress_MBps": mb / t_c if t_c > 0 else None,
            "decompress_MBps": mb / t_d if t_d > 0 else None,
            "within_bound": total_misses == 0,
            "misses": total_misses,
            "bit_exact": all(e["bit_exact"] for e in branches.values()),
            "structure_ok": structure["ok"],
            "structure": structure,
            "other_bytes": size - sum(known) if len(known) == len(branches) else None,
            "branches": branches,
        }
    )
    if keep:
        row["compressed"] = str(compressed)
    return row


@contextmanager
def _work_area(work_dir: Path | None) -> Iterator[Path]:
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="hsq-tree-bench-") as tmp:
            yield Path(tmp)
        return
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    yield Path(tempfile.mkdtemp(prefix="tree-benchmark-", dir=work_dir))


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:60] or "method"


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def run_tree_benchmark(
    path: str | os.PathLike[str],
    bound_of: Callable[[str, np.dtype[Any]], ColumnBound],
    *,
    extra: Sequence[TreeMethod] = (),
    config: TreeBenchmarkConfig | None = None,
    work_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Benchmark the built-in methods of ``config`` and the ``extra`` ones on the tree of the ROOT
    file ``path``, each branch under ``bound_of(name, dtype)`` (see the module's docstring for the
    definitions). ``work_dir``: where the compressed and decompressed files go (kept, in a new
    ``tree-benchmark-*`` directory, each method's row naming its ``compressed`` file); default a
    temporary directory, removed. A method that fails is
    kept with ``status: "failed"`` and its message, one that cannot run with ``"skipped"``.

    Returns a JSON-able dict: ``format``, ``version``, ``created_utc``, ``machine``, ``settings``,
    ``input`` (path, bytes, tree, entries, payload and tree bytes, each branch's kind, dtype,
    counter, values, bytes, bound and NanoAOD mantissa bits) and ``methods`` (one row each).
    """
    cfg = config if config is not None else TreeBenchmarkConfig()
    if not isinstance(cfg, TreeBenchmarkConfig):
        raise ConfigError(f"config must be a TreeBenchmarkConfig, got {type(cfg).__name__}")
    src = Path(path)
    content = read_tree(src, cfg.tree)
    bounds = tree_bounds(content, bound_of)
    plan = mantissa_plan(content, bounds)
    input_bytes = src.stat().st_size
    in_branch_bytes = tree_branch_bytes(src, content.name)
    methods: list[TreeMethod | tuple[str, str]] = []
    for name in cfg.methods:
        built = _builtin(name, cfg, content.name, bounds, plan)
        methods.append((name, built) if isinstance(built, str) else built)
    for method in extra:
        if not isinstance(method, TreeMethod):
            raise ConfigError(f"{method!r} is not a TreeMethod (name, compress, decompress)")
        _check_name(method.name)
        methods.append(method)
    names = [m[0] if isinstance(m, tuple) else m.name for m in methods]
    if len(set(names)) != len(names):
        raise ConfigError(f"two methods have the same name: {names}")
    rows: list[dict[str, Any]] = []
    with _work_area(Path(work_dir) if work_dir is not None else None) as work:
        for i, m in enumerate(methods):
            if isinstance(m, tuple):
                log.info("tree benchmark: %s skipped: %s", m[0], m[1])
                rows.append({"name": m[0], "status": "skipped", "message": m[1]})
                continue
            log.info("tree benchmark: %s", m.name)
            run_dir = work / f"{i:02d}-{_slug(m.name)}"
            rows.append(
                _measure(
                    m,
                    src,
                    content,
                    bounds=bounds,
                    repeats=cfg.repeats,
                    work=run_dir,
                    keep=work_dir is not None,
                )
            )
    reference = next((r for r in rows if r["name"] == NANOAOD_REFERENCE and r["status"] == "ok"), None)
    for r in rows:
        if r["status"] != "ok":
            continue
        r["ratio"] = input_bytes / r["bytes"] if r["bytes"] else None
        r["ratio_vs_payload"] = content.payload_bytes / r["bytes"] if r["bytes"] else None
        r["ratio_vs_nanoaod_lzma9"] = reference["bytes"] / r["bytes"] if reference and r["bytes"] else None
    result: dict[str, Any] = {
        "format": TREE_BENCHMARK_FORMAT,
        "version": TREE_BENCHMARK_VERSION,
        "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {**machine_info(), "root_libraries": {lib: _version(lib) for lib in _LIBRARIES}},
        "settings": {
            "repeats": cfg.repeats,
            "methods": [*cfg.methods, *(m.name for m in extra)],
            "basket_entries": cfg.basket_entries,
            "baseline_zstd_level": cfg.baseline_zstd_level,
            "reference": NANOAOD_REFERENCE,
        },
        "input": {
            "path": str(src),
            "bytes": input_bytes,
            "tree": content.name,
            "entries": content.entries,
            "payload_bytes": content.payload_bytes,
            "tree_bytes": sum(in_branch_bytes.values()),
            "branches": [
                {
                    "name": b.name,
                    "kind": b.kind,
                    "dtype": b.dtype.name,
                    "counter": b.counter,
                    "values": int(content.values[b.name].size),
                    "nbytes": int(content.values[b.name].nbytes),
                    "bytes": in_branch_bytes.get(b.name),
                    "bound": bounds[b.name].describe(),
                    "bound_spec": bounds[b.name].to_dict(),
                    "mantissa_bits": plan.get(b.name),
                }
                for b in content.branches
            ],
        },
        "methods": rows,
    }
    return json_safe(result)  # type: ignore[no-any-return]


# --- output -----------------------------------------------------------------------------------------


def _fmt(value: Any, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def tree_benchmark_markdown(result: Mapping[str, Any]) -> str:
    """The benchmark as markdown: a whole-file table (one row per method), a per-branch table
    (bytes per method), the branches that missed their bound, and the machine."""
    inp = result["input"]
    rows = list(result["methods"])
    lines = [
        f"# ROOT file benchmark: `{inp['path']}`",
        "",
        f"Tree `{inp['tree']}`: {inp['entries']} entries, {len(inp['branches'])} branches; "
        f"{inp['bytes']} bytes on disk, {inp['payload_bytes']} bytes of values. Ratio: input file bytes / "
        f"method bytes; vs `{result['settings']['reference']}`: its bytes / method bytes. Times: median of "
        f"{result['settings']['repeats']} runs (compress: input file to compressed file; decompress: to the "
        "tree's arrays read back from a ROOT file); MB/s of the values' bytes. Within bound: every value "
        "of every branch checked against its bound, and the tree's structure compared with the input's.",
        "",
        "| method | bytes | ratio | vs NanoAOD LZMA-9 | within bound | misses | structure | "
        "compress s | decompress s | compress MB/s | decompress MB/s |",
        "|---|---:|---:|---:|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"| {r['name']} | {r['status']}: {r.get('message', '')} |" + " |" * 9)
            continue
        within = ("yes (bit-exact)" if r["bit_exact"] else "yes") if r["within_bound"] else "**no**"
        cells = [
            r["name"],
            str(r["bytes"]),
            _fmt(r.get("ratio"), ".3f"),
            _fmt(r.get("ratio_vs_nanoaod_lzma9"), ".3f"),
            within,
            str(r["misses"]),
            "same" if r["structure_ok"] else "**differs**",
            _fmt(r["compress_s"], ".3g"),
            _fmt(r["decompress_s"], ".3g"),
            _fmt(r.get("compress_MBps"), ".1f"),
            _fmt(r.get("decompress_MBps"), ".1f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    ok = [r for r in rows if r["status"] == "ok"]
    lines += [
        "",
        "## Bytes per branch",
        "",
        "| branch | dtype | bound | NanoAOD bits | input | " + " | ".join(r["name"] for r in ok) + " |",
        "|---|---|---|---:|---:|" + "---:|" * len(ok),
    ]
    for b in inp["branches"]:
        cells = [
            b["name"],
            b["dtype"] + (f"[{b['counter']}]" if b["counter"] else ""),
            b["bound"],
            _fmt(b["mantissa_bits"], "d") if b["mantissa_bits"] is not None else "-",
            _fmt(b["bytes"], "d"),
            *(_fmt(r["branches"][b["name"]]["bytes"], "d") for r in ok),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    other_in = inp["bytes"] - inp["tree_bytes"]
    lines.append(
        "| (rest of the file) | | | | "
        + " | ".join([str(other_in), *(_fmt(r.get("other_bytes"), "d") for r in ok)])
        + " |"
    )
    lines.append(
        "| **total** | | | | " + " | ".join([str(inp["bytes"]), *(str(r["bytes"]) for r in ok)]) + " |"
    )
    bad = [
        (r["name"], name, e)
        for r in ok
        for name, e in r["branches"].items()
        if e["misses"] or e.get("problem")
    ]
    differs = [r for r in ok if not r["structure_ok"]]
    if bad or differs:
        lines += ["", "## Out of bound", ""]
        lines += [
            f"- {m}: `{name}` {e['misses']} values out of bound (max error {_fmt(e['max_error'], '.3g')})"
            + (f", {e['problem']}" if e.get("problem") else "")
            for m, name, e in bad
        ]
        for r in differs:
            s = r["structure"]
            what = {k: s[k] for k in ("missing", "extra", "kind_changes", "type_changes") if s[k]}
            flags = [k for k in ("tree_ok", "entries_ok", "order_ok") if not s[k]]
            lines.append(f"- {r['name']}: structure differs: {', '.join([*flags, json.dumps(what)])}")
    lines += ["", *machine_markdown(result["machine"], result["created_utc"])]
    return "\n".join(lines)


def write_tree_benchmark(result: Mapping[str, Any], out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``tree_benchmark.json`` (strict JSON) and ``tree_benchmark.md`` into ``out_dir``
    (created); returns both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = write_json(out / "tree_benchmark.json", result)
    md_path = out / "tree_benchmark.md"
    with atomic_open(md_path, force=True) as fh:
        fh.write(tree_benchmark_markdown(result).encode("utf-8"))
    return json_path, md_path


__all__ = [
    "BASELINE_ZSTD_LEVEL",
    "BASKET_ENTRIES",
    "BUILTIN_METHODS",
    "DEFAULT_METHODS",
    "DEFAULT_TREE",
    "METHOD_ALIASES",
    "NANOAOD_REFERENCE",
    "TREE_BENCHMARK_FORMAT",
    "TREE_BENCHMARK_VERSION",
    "BaselineTreeMethod",
    "TreeBenchmarkConfig",
    "TreeBranch",
    "TreeContent",
    "TreeMethod",
    "UprootRewrite",
    "checked_mantissa_bits",
    "compare_branch",
    "compare_structure",
    "fewest_mantissa_bits",
    "mantissa_plan",
    "nanoaod_round",
    "read_tree",
    "round_tree",
    "run_tree_benchmark",
    "tree_benchmark_markdown",
    "tree_bounds",
    "tree_branch_bytes",
    "write_tree",
    "write_tree_benchmark",
]
