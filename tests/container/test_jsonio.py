"""Strict JSON: header parsing through the reader, and the parsing and encoding helpers themselves."""

from __future__ import annotations

import json

import numpy as np
import pytest
from container_helpers import handmade

from hepsqueeze.container import ContainerReader
from hepsqueeze.container.jsonio import encode_json, is_int, json_items_bound, parse_json_object, to_json
from hepsqueeze.container.problems import ProblemError
from hepsqueeze.errors import ContainerError


@pytest.mark.parametrize(
    ("header", "match"),
    [
        (b"[1, 2]", "must be a JSON object"),
        (b'{"a": 1, "a": 2}', "duplicate key"),
        (b'{"a": NaN}', "NaN"),
        (b'{"a": 1e999}', "out of range"),
        (b'{"a": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (b'{"a": "\xff"}', "not valid UTF-8"),
        (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
        (b"", "not valid JSON"),
    ],
)
def test_invalid_header_json(header: bytes, match: str) -> None:
    with pytest.raises(ContainerError, match=rf"header at byte 17: .*{match}"):
        ContainerReader.from_bytes(handmade([], header=header))


def test_parse_json_object_is_strict() -> None:
    assert parse_json_object(b'{"a": [1, 2.5, null, true, "x"]}', "header", 10) == {
        "a": [1, 2.5, None, True, "x"]
    }
    with pytest.raises(
        ProblemError, match=r"^descriptor JSON is nested too deeply or too large: up to 4 values"
    ):
        parse_json_object(b'{"a": [1, 2]}', "descriptor", 3)
    with pytest.raises(ProblemError, match=r"^JSON contains Infinity, which is not allowed$"):
        parse_json_object(b'{"a": Infinity}', "header", 10)
    with pytest.raises(ProblemError, match=r"^JSON object has duplicate key 'k'$"):
        parse_json_object(b'{"k": 1, "k": 2}', "header", 10)


@pytest.mark.parametrize(
    "text",
    ['{"a": "x,y[z{"}', "[[[[]]]]", '{"a": {}, "b": [], "c": [1, {"d": 2}]}', "1", '""', "[1, 2, 3]"],
)
def test_items_bound_is_an_upper_bound(text: str) -> None:
    def count(value: object) -> int:
        if isinstance(value, dict):
            return 1 + sum(count(v) for v in value.values())
        if isinstance(value, list):
            return 1 + sum(count(v) for v in value)
        return 1

    assert json_items_bound(text.encode()) >= count(json.loads(text))


def test_to_json_converts_numpy_and_rejects_the_rest() -> None:
    value = {"i": np.int16(-3), "f": np.float32(0.5), "a": np.arange(3), "t": (1, (2,)), "b": np.bool_(True)}
    assert to_json(value, "x") == {"i": -3, "f": 0.5, "a": [0, 1, 2], "t": [1, [2]], "b": True}
    assert encode_json(value, "x") == b'{"i":-3,"f":0.5,"a":[0,1,2],"t":[1,[2]],"b":true}'
    with pytest.raises(ContainerError, match=r"^x\['l'\]\[1\] is nan; JSON cannot store NaN or infinity$"):
        to_json({"l": [1, float("nan")]}, "x")
    with pytest.raises(ContainerError, match=r"^x has key 1 of type int; keys must be str$"):
        to_json({1: 2}, "x")
    with pytest.raises(ContainerError, match=r"^x\[0\] has type set, which cannot be stored as JSON$"):
        to_json([{1}], "x")


def test_is_int_excludes_bool() -> None:
    assert is_int(0)
    assert not is_int(True)
    assert not is_int(1.0)
