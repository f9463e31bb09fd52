"""Validation of a dataset's ``layout`` by type, before any writer uses it.

A layout comes from a reader (trusted) or from a compressed file's header (not trusted: a crafted
file can put anything there). :func:`check_layout` checks the keys the writers use, and the
format-specific keys of DarkMachines, ROOT, awkward and pandas layouts, so that a bad layout is one
:class:`~hepsqueeze.errors.InputError` naming the key, never a traceback or an allocation taken on
its word (a number format of a billion digits, a fixed-size array branch of a billion elements).
Keys a format does not use are not checked; missing keys take the writers' defaults.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from hepsqueeze.errors import InputError

#: Most significant digits of a ``g<p>`` number format (17 is enough for any float64).
MAX_SIGNIFICANT_DIGITS = 17
#: Most decimals of an ``f<d>`` number format.
MAX_FIXED_DECIMALS = 20
#: Most elements of a fixed-size ROOT array branch (``x[3]`` has 3; each becomes a column).
MAX_BRANCH_ELEMENTS = 1 << 16
#: Largest count or index a layout may hold (int64 range).
MAX_LAYOUT_INT = (1 << 63) - 1

#: Smallest and largest signed integer a layout may hold (int64 range: a pandas RangeIndex's start).
MIN_LAYOUT_SIGNED = -(1 << 63)
#: The kinds of in-memory awkward data a layout describes: flat records, or one jagged collection.
AWKWARD_KINDS = ("records", "jagged")
#: The kinds of pandas index a layout describes: a RangeIndex, or an index kept as an auxiliary table.
PANDAS_INDEX_KINDS = ("range", "table")
#: pandas' nullable extension dtypes a layout may ask a column to come back as.
PANDAS_NULLABLE_DTYPES = (
    "Int8",
    "Int16",
    "Int32",
    "Int64",
    "UInt8",
    "UInt16",
    "UInt32",
    "UInt64",
    "Float32",
    "Float64",
    "boolean",
)

_NUMBER_FORMAT = re.compile(r"([gf])([0-9]{1,3})|r")
_ROOT_KINDS = frozenset({"flat", "counter", "jagged"})
_NEWLINES = ("\n", "\r\n")


def check_number_format(code: object, what: str) -> str:
    """``code`` if it is a valid DarkMachines number format (``g1``-``g17``, ``f0``-``f20``, ``r``)."""
    if not isinstance(code, str):
        raise InputError(f"{what} must be a string such as 'g6', not {type(code).__name__}")
    match = _NUMBER_FORMAT.fullmatch(code)
    if match is None:
        raise InputError(f"{what} {code[:40]!r} is not a number format (g<digits>, f<decimals> or r)")
    if match.group(1) == "g" and not 1 <= int(match.group(2)) <= MAX_SIGNIFICANT_DIGITS:
        raise InputError(f"{what} {code!r} asks for 1 to {MAX_SIGNIFICANT_DIGITS} significant digits")
    if match.group(1) == "f" and not 0 <= int(match.group(2)) <= MAX_FIXED_DECIMALS:
        raise InputError(f"{what} {code!r} asks for more than {MAX_FIXED_DECIMALS} decimals")
    return code


class _Checker:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, key: str, problem: str) -> InputError:
        return InputError(f"layout of {self.where}: key {key!r} {problem}")

    def mapping(self, value: object, key: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(key, f"must be a JSON object, not {type(value).__name__}")
        bad = next((k for k in value if not isinstance(k, str)), None)
        if bad is not None:
            raise self.fail(key, f"has a key of type {type(bad).__name__}; keys must be strings")
        return value

    def items(self, value: object, key: str) -> list[Any]:
        if not isinstance(value, (list, tuple)):
            raise self.fail(key, f"must be a list, not {type(value).__name__}")
        return list(value)

    def string(self, value: object, key: str, none: bool = False) -> None:
        if not (isinstance(value, str) or (none and value is None)):
            raise self.fail(key, f"must be a string{' or null' if none else ''}, not {type(value).__name__}")

    def boolean(self, value: object, key: str) -> None:
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {type(value).__name__}")

    def count(self, value: object, key: str) -> int:
        if type(value) is not int or not 0 <= value <= MAX_LAYOUT_INT:
            raise self.fail(key, f"must be an integer in [0, 2**63), not {str(value)[:40]}")
        return value

    def integer(self, value: object, key: str) -> int:
        if type(value) is not int or not MIN_LAYOUT_SIGNED <= value <= MAX_LAYOUT_INT:
            raise self.fail(key, f"must be an integer in [-2**63, 2**63), not {str(value)[:40]}")
        return value

    def choice(self, value: object, key: str, choices: tuple[str, ...]) -> None:
        if not isinstance(value, str) or value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}, not {str(value)[:40]!r}")

    def optional(self, layout: Mapping[str, Any], key: str, check: Any) -> None:
        if key in layout:
            check(layout[key], key)


def check_layout(layout: object, where: str) -> dict[str, Any]:
    """Check a dataset layout's types; return it as a dict. :class:`InputError` names the bad key.

    ``where`` names the file (or data) in messages. Checked: the layout is a JSON object with
    string keys; ``format`` is a string; ``categories`` maps names to lists of strings; a
    DarkMachines layout's ``number_formats`` (valid formats of at most 17 significant digits or 20
    decimals), ``newline``, flags and line lists; a ROOT layout's ``tree``, ``title``,
    ``num_entries``, ``branches`` (name, kind, numeric dtype, fixed shape), ``collections`` and
    ``other_objects``; an awkward layout's ``awkward`` (kind, record name and, for a jagged
    collection, its field, number of events, event column and fields); a pandas layout's ``pandas``
    (``index``: a range's start, step and name or an auxiliary table's name; nullable ``dtypes``).
    """
    c = _Checker(where)
    if not isinstance(layout, Mapping):
        raise InputError(f"layout of {where} must be a JSON object, not {type(layout).__name__}")
    top = c.mapping(layout, "layout")
    c.optional(top, "format", c.string)
    if "categories" in top:
        for name, labels in c.mapping(top["categories"], "categories").items():
            for label in c.items(labels, f"categories.{name}"):
                c.string(label, f"categories.{name}")
    fmt = top.get("format")
    if fmt == "darkmachines":
        _check_darkmachines(c, top)
    elif fmt == "root":
        _check_root(c, top)
    elif fmt == "awkward":
        _check_awkward(c, top)
    elif fmt == "pandas":
        _check_pandas(c, top)
    return dict(top)


def _check_darkmachines(c: _Checker, layout: Mapping[str, Any]) -> None:
    if "number_formats" in layout:
        for key, code in c.mapping(layout["number_formats"], "number_formats").items():
            check_number_format(code, f"layout of {c.where}: key 'number_formats': format of {key!r}")
    if "newline" in layout and layout["newline"] not in _NEWLINES:
        raise c.fail("newline", f"must be '\\n' or '\\r\\n', not {str(layout['newline'])[:20]!r}")
    for key in ("final_newline", "trailing_semicolon", "exact"):
        c.optional(layout, key, c.boolean)
    for key in ("semicolon_exceptions", "blank_lines"):
        if key in layout:
            for item in c.items(layout[key], key):
                c.count(item, key)


def _check_root(c: _Checker, layout: Mapping[str, Any]) -> None:
    c.optional(layout, "tree", c.string)
    c.optional(layout, "title", c.string)
    c.optional(layout, "num_entries", c.count)
    if "other_objects" in layout:
        for item in c.items(layout["other_objects"], "other_objects"):
            c.string(item, "other_objects")
    if "collections" in layout:
        for counter, value in c.mapping(layout["collections"], "collections").items():
            key = f"collections.{counter}"
            info = c.mapping(value, key)
            c.string(info.get("table"), f"{key}.table", none=True)
            c.string(info.get("index"), f"{key}.index")
    if "branches" in layout:
        for i, branch in enumerate(c.items(layout["branches"], "branches")):
            key = f"branches[{i}]"
            b = c.mapping(branch, key)
            c.string(b.get("name"), f"{key}.name")
            kind = b.get("kind")
            if kind not in _ROOT_KINDS:
                raise c.fail(
                    f"{key}.kind", f"must be one of {', '.join(sorted(_ROOT_KINDS))}, not {str(kind)[:40]!r}"
                )
            _check_dtype(c, b.get("dtype"), f"{key}.dtype")
            if "table" in b:
                c.string(b["table"], f"{key}.table", none=True)
            if kind == "jagged":
                c.string(b.get("counter"), f"{key}.counter")
            if "shape" in b:
                elements = 1
                for d in c.items(b["shape"], f"{key}.shape"):
                    elements *= c.count(d, f"{key}.shape")
                    if elements > MAX_BRANCH_ELEMENTS:
                        raise c.fail(f"{key}.shape", f"has more than {MAX_BRANCH_ELEMENTS} elements")


def _check_awkward(c: _Checker, layout: Mapping[str, Any]) -> None:
    if "awkward" not in layout:
        return
    info = c.mapping(layout["awkward"], "awkward")
    c.choice(info.get("kind"), "awkward.kind", AWKWARD_KINDS)
    if "record" in info:
        c.string(info["record"], "awkward.record", none=True)
    if info["kind"] == "jagged":
        c.string(info.get("collection"), "awkward.collection", none=True)
        c.count(info.get("events"), "awkward.events")
        c.string(info.get("event_column"), "awkward.event_column")
        if "fields" in info:
            for name in c.items(info["fields"], "awkward.fields"):
                c.string(name, "awkward.fields")


def _check_pandas(c: _Checker, layout: Mapping[str, Any]) -> None:
    if "pandas" not in layout:
        return
    info = c.mapping(layout["pandas"], "pandas")
    if "index" in info:
        index = c.mapping(info["index"], "pandas.index")
        c.choice(index.get("kind"), "pandas.index.kind", PANDAS_INDEX_KINDS)
        if index["kind"] == "range":
            c.integer(index.get("start"), "pandas.index.start")
            if c.integer(index.get("step"), "pandas.index.step") == 0:
                raise c.fail("pandas.index.step", "must not be 0")
        else:
            c.string(index.get("table"), "pandas.index.table")
        c.string(index.get("name"), "pandas.index.name", none=True)
    if "dtypes" in info:
        for name, dtype in c.mapping(info["dtypes"], "pandas.dtypes").items():
            c.choice(dtype, f"pandas.dtypes.{name}", PANDAS_NULLABLE_DTYPES)


def _check_dtype(c: _Checker, value: object, key: str) -> None:
    if not isinstance(value, str) or len(value) > 16:
        raise c.fail(key, f"must be a numpy dtype string such as '<f4', not {str(value)[:40]!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # deprecated aliases are refused, not warned about
            dtype = np.dtype(value)
    except (TypeError, ValueError, SyntaxError, Warning):
        raise c.fail(key, f"{value!r} is not a numpy dtype") from None
    if dtype.kind not in "biuf" or dtype.subdtype is not None or dtype.names is not None:
        raise c.fail(key, f"{value!r} is not a numeric dtype")
