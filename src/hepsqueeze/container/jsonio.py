"""Strict JSON for headers and descriptors: parsing with item limits, and encoding of plain values.

Parsing rejects NaN and infinities, duplicate keys, invalid UTF-8 and anything but an object, and
bounds the number of values before parsing (parsed JSON takes far more memory than its text).
Encoding converts numpy scalars and arrays to plain JSON types and rejects everything else.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, NoReturn

import numpy as np

from hepsqueeze.container.constants import LABEL_CHARS
from hepsqueeze.container.problems import ProblemError, short
from hepsqueeze.errors import ContainerError

__all__ = ["check_items", "encode_json", "is_int", "json_items_bound", "parse_json_object", "to_json"]


# -- parsing ----------------------------------------------------------------------------------------


def _reject_constant(token: str) -> NoReturn:
    raise ProblemError(f"JSON contains {token}, which is not allowed")


def _parse_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise ProblemError(f"JSON number {token[:LABEL_CHARS]} is out of range")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ProblemError(f"JSON object has duplicate key {short(key)}")
        out[key] = value
    return out


def json_items_bound(raw: bytes | bytearray) -> int:
    """An upper bound on the number of JSON values in ``raw``, without parsing it.

    Every value after the first of an array or object follows a comma, and the first values are at
    most the number of arrays and objects; commas and brackets inside strings only raise the bound.
    """
    return raw.count(b",") + raw.count(b"[") + raw.count(b"{") + 1


def check_items(raw: bytes | bytearray, limit: int, what: str) -> None:
    """Raise :class:`ProblemError` if ``raw`` may hold more than ``limit`` JSON values."""
    bound = json_items_bound(raw)
    if bound > limit:
        raise ProblemError(
            f"{what} JSON is nested too deeply or too large: up to {bound} values (commas and brackets), "
            f"more than the limit of {limit}"
        )


def parse_json_object(raw: bytes, what: str, max_items: int) -> dict[str, Any]:
    """Strictly parse UTF-8 JSON that must be an object (no NaN, no duplicate keys, at most ``max_items`` values).

    Every failure raises :class:`ProblemError`, its message starting with ``what``.
    """
    check_items(raw, max_items, what)
    try:
        obj = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_reject_constant,
            parse_float=_parse_float,
        )
    except UnicodeDecodeError as exc:
        raise ProblemError(f"{what} is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise ProblemError(f"{what} JSON is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        raise ProblemError(f"{what} is not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise ProblemError(f"{what} must be a JSON object, not {type(obj).__name__}")
    return obj


def is_int(value: object) -> bool:
    """Whether ``value`` is an ``int`` and not a ``bool``.

    JSON true/false arrive as bool, a subclass of int; they are not valid counts or sizes.
    """
    return type(value) is int


# -- encoding ---------------------------------------------------------------------------------------


def to_json(value: Any, where: str) -> Any:
    """Return ``value`` as plain JSON types, converting numpy scalars/arrays; reject anything else.

    Raises :class:`~hepsqueeze.errors.ContainerError` naming ``where`` (and the key or index inside
    it) for NaN, infinities, non-string keys and values of other types.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        return to_json(value.item(), where)
    if isinstance(value, np.ndarray):
        return to_json(value.tolist(), where)
    if isinstance(value, (int, float)):
        return _json_number(value, where)
    if isinstance(value, Mapping):
        return _json_object(value, where)
    if isinstance(value, (list, tuple)):
        return [to_json(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise ContainerError(f"{where} has type {type(value).__name__}, which cannot be stored as JSON")


def _json_number(value: int | float, where: str) -> int | float:
    if isinstance(value, int):
        return int(value)
    if not math.isfinite(value):
        raise ContainerError(f"{where} is {value}; JSON cannot store NaN or infinity")
    return float(value)


def _json_object(value: Mapping[Any, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise ContainerError(f"{where} has key {key!r} of type {type(key).__name__}; keys must be str")
        out[key] = to_json(item, f"{where}[{key!r}]")
    return out


def encode_json(value: Mapping[str, Any], where: str) -> bytes:
    """Compact ASCII JSON of ``value`` (converted by :func:`to_json`), as stored in the file."""
    return json.dumps(to_json(value, where), separators=(",", ":"), allow_nan=False).encode("ascii")
