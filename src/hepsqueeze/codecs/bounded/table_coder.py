"""One table's rows (a chunk of a collection, or of the per-event table) as one payload: every
column coded by :mod:`hepsqueeze.codecs.bounded.column_coder` in the contexts of the table's events.

The payload is :data:`TABLE_PREFIX` (magic, bytes of the JSON header), the header (format, rows,
the event column and each column's name and payload bytes, in order), then the column payloads.
The event column (integers, lossless) is coded first and alone: it gives the structure (which rows
belong to one event) every other column is coded in. Columns are coded and decoded on a thread
pool (:func:`~hepsqueeze.codecs.bounded.payload.parallel_map`).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.codecs.bounded.column_bound import LOSSLESS, BoundMode, ColumnBound
from hepsqueeze.codecs.bounded.column_coder import (
    ColumnHeader,
    EncodedColumn,
    Kind,
    Predictor,
    Structure,
    column_bits,
    decode_column,
    decode_column_domain,
    encode_column,
    parse_column,
)
from hepsqueeze.codecs.bounded.exact import exact_exp
from hepsqueeze.codecs.bounded.learned import Conditional
from hepsqueeze.codecs.bounded.payload import parallel_map
from hepsqueeze.errors import ContainerError
from hepsqueeze.models.conditional.intnet import Backend
from hepsqueeze.models.conditional.model import ColumnSpec, ConditionalModel, Domain, Inputs

TABLE_MAGIC: Final = b"HSQT"
TABLE_PREFIX: Final = struct.Struct("<4sI")
TABLE_FORMAT: Final = 1
#: Longest JSON header of a table payload (names and sizes of its columns).
MAX_TABLE_HEADER: Final = 1 << 24

#: Exact relations between columns of one collection, by name (``PREFIX_TARGET = op(PREFIX_A,
#: PREFIX_B, ...)``, or without a prefix): a target is also tried coded as the difference from the
#: relation of the decoded inputs (the smaller is kept, so a relation that does not hold costs
#: nothing). ``tau21 = tau2 / tau1``, ``tau32 = tau3 / tau2``, ``lead_pt = lead_fraction * pt``,
#: ``E = sqrt((pt cosh eta)^2 + m^2)`` (op ``E``, inputs pt, eta and m or mass).
RELATIONS: Final = (
    ("tau21", "/", "tau2", "tau1"),
    ("tau32", "/", "tau3", "tau2"),
    ("lead_pt", "*", "lead_fraction", "pt"),
    ("E", "E", "pt", "eta", "m"),
    ("E", "E", "pt", "eta", "mass"),
)
#: Inputs of each relation's op.
ARITY: Final = {"/": 2, "*": 2, "E": 3}


def relations_of(columns: Mapping[str, npt.NDArray[Any]]) -> dict[str, list[str]]:
    """The relation (``[op, inputs...]``) each target column of ``columns`` may be coded from."""
    out: dict[str, list[str]] = {}
    targets = set()
    for target, op, *inputs in RELATIONS:
        for name in columns:
            if name in out or (name != target and not name.endswith(f"_{target}")):
                continue
            prefix = name[: len(name) - len(target)]
            names = [prefix + i for i in inputs]
            if all(c in columns and columns[c].dtype.kind == "f" for c in (name, *names)):
                out[name] = [op, *names]
                targets.add(name)
    # a relation's inputs are decoded before it: none may be a target itself
    return {n: r for n, r in out.items() if not (set(r[1:]) & targets)}


def predict(relation: Sequence[str], decoded: Mapping[str, npt.NDArray[Any]]) -> npt.NDArray[np.float64]:
    """The values a relation gives from decoded columns (float64; additions, multiplications,
    divisions and square roots only, which IEEE 754 rounds exactly: the same on every machine)."""
    op, *inputs = relation
    x, y, *rest = (decoded[a].astype(np.float64) for a in inputs)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if op == "E":
            e = exact_exp(y)
            p = x * (0.5 * (e + 1.0 / e))
            out: npt.NDArray[np.float64] = np.sqrt(p * p + rest[0] * rest[0])
        else:
            out = np.divide(x, y) if op == "/" else np.multiply(x, y)
    return out


def structure_of(columns: Mapping[str, npt.NDArray[Any]], event: str | None, rows: int) -> Structure:
    """The structure of a table whose events are the runs of ``event`` (if it has that column)."""
    values = columns.get(event) if event is not None else None
    return Structure.of(values if values is not None and values.dtype.kind in "iu" else None, rows)


@dataclass(frozen=True)
class EncodedTable:
    """A table payload, the values it decodes to, values stored exactly and bytes per column."""

    payload: bytes
    decoded: dict[str, npt.NDArray[Any]]
    exceptions: dict[str, int]
    column_bytes: dict[str, int]


def encode_table(
    columns: Mapping[str, npt.NDArray[Any]],
    bounds: Mapping[str, ColumnBound],
    event: str | None,
    model: ConditionalModel | None = None,
    backend: Backend = "numpy",
) -> EncodedTable:
    """Code every column of ``columns`` (equal lengths) within its bound (missing: lossless); the
    targets of ``model`` are also tried coded with its predictions (the smaller is kept)."""
    names = list(columns)
    rows = len(next(iter(columns.values()))) if columns else 0
    structure = structure_of(columns, event, rows)
    flat = Structure.of(None, rows)

    relations = relations_of(columns)
    modelled = [c.name for c in model.columns if c.name in columns and c.name != event] if model else []

    def one(name: str) -> EncodedColumn:
        context = flat if name == event else structure
        return encode_column(np.asarray(columns[name]), bounds.get(name, LOSSLESS), context)

    first = [n for n in names if n not in relations and n not in modelled]
    done = dict(zip(first, parallel_map(one, first), strict=True))
    decoded = {n: c.decoded for n, c in done.items()}
    if model is not None:
        # the model's columns in its order: each target sees the columns before it
        inputs = model.inputs(rows)
        for name in modelled:
            spec = model.spec(name)
            values, bound = np.asarray(columns[name]), bounds.get(name, LOSSLESS)
            rel = relations.get(name)
            prediction = predict(rel, decoded) if rel and all(r in decoded for r in rel[1:]) else None
            learned = None
            if spec.target and _codes(spec, bound, values.dtype):
                learned = Conditional(model, name, model.predict(name, inputs, backend))
            enc = encode_column(
                values, bound, structure, prediction, rel if prediction is not None else None, learned=learned
            )
            done[name], decoded[name] = enc, enc.decoded
            if enc.domain is not None and _usable(spec, enc.kind, values.dtype):
                inputs.set(name, enc.domain)

    def related(name: str) -> EncodedColumn:
        rel = relations[name]
        values, bound = np.asarray(columns[name]), bounds.get(name, LOSSLESS)
        return encode_column(values, bound, structure, predict(rel, decoded), rel)

    later = [n for n in names if n in relations and n not in done]
    done.update(zip(later, parallel_map(related, later), strict=True))
    coded = [done[n] for n in names]
    head = {
        "format": TABLE_FORMAT,
        "rows": rows,
        "event": event if event in columns else None,
        "columns": [[n, len(c.payload)] for n, c in zip(names, coded, strict=True)],
    }
    text = json.dumps(head, separators=(",", ":")).encode()
    payload = b"".join([TABLE_PREFIX.pack(TABLE_MAGIC, len(text)), text, *(c.payload for c in coded)])
    return EncodedTable(
        payload,
        {n: c.decoded for n, c in zip(names, coded, strict=True)},
        {n: c.exceptions for n, c in zip(names, coded, strict=True) if c.exceptions},
        {n: len(c.payload) for n, c in zip(names, coded, strict=True)},
    )


def _codes(spec: ColumnSpec, bound: ColumnBound, dtype: np.dtype[Any]) -> bool:
    """Whether a model target can code a column with this bound: its domain is the bound's."""
    if spec.domain == Domain.INTEGER:
        return dtype.kind in "iu"
    if dtype.kind != "f":
        return False
    if bound.mode == BoundMode.ABSOLUTE:
        return spec.domain == Domain.LINEAR
    return bound.mode == BoundMode.RELATIVE and spec.domain == Domain.LOG


def _usable(spec: ColumnSpec, kind: Kind, dtype: np.dtype[Any]) -> bool:
    """Whether a column coded as ``kind`` gives the model its input in the model's domain."""
    if spec.domain == Domain.INTEGER:
        return kind == Kind.INTEGER
    if spec.domain == Domain.LINEAR:
        return kind == Kind.ABSOLUTE or (kind == Kind.BYTES and dtype.kind == "f")
    return kind == Kind.RELATIVE


@dataclass(frozen=True)
class TablePayload:
    """A table payload's header, checked, and its column payloads by name."""

    rows: int
    event: str | None
    columns: dict[str, bytes]


def parse_table(payload: bytes) -> TablePayload:
    """The header and column payloads of a table payload; :class:`ContainerError` if invalid."""
    if len(payload) < TABLE_PREFIX.size or payload[:4] != TABLE_MAGIC:
        raise ContainerError("not a bounded table payload (bad magic)")
    n_head = TABLE_PREFIX.unpack_from(payload)[1]
    if n_head > min(MAX_TABLE_HEADER, len(payload) - TABLE_PREFIX.size):
        raise ContainerError("bounded table payload: the header is truncated")
    try:
        head = json.loads(payload[TABLE_PREFIX.size : TABLE_PREFIX.size + n_head])
        rows, event, listed = head["rows"], head["event"], head["columns"]
        entries = [(str(n), int(b)) for n, b in listed]
    # int(1e400) overflows; json raises RecursionError on deep nesting
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as exc:
        raise ContainerError(f"bounded table payload: invalid header ({exc})") from None
    if head.get("format") != TABLE_FORMAT:
        raise ContainerError(f"bounded table payload format {head.get('format')!r}: this version reads 1")
    if type(rows) is not int or not 0 <= rows < 1 << 40 or not (event is None or isinstance(event, str)):
        raise ContainerError("bounded table payload: invalid rows or event column")
    offset = TABLE_PREFIX.size + n_head
    out: dict[str, bytes] = {}
    for name, size in entries:
        if size < 0 or name in out or offset + size > len(payload):
            raise ContainerError(f"bounded table payload: column {name!r} is repeated or truncated")
        out[name] = payload[offset : offset + size]
        offset += size
    if offset != len(payload):
        raise ContainerError("bounded table payload has trailing bytes")
    if event is not None and event not in out:
        raise ContainerError(f"bounded table payload: event column {event!r} is not among its columns")
    return TablePayload(rows, event, out)


def decode_table(
    payload: bytes,
    specs: Sequence[tuple[str, np.dtype[Any]]],
    model: ConditionalModel | None = None,
    backend: Backend = "numpy",
) -> dict[str, npt.NDArray[Any]]:
    """The columns of a table payload, which must be exactly ``specs`` (name, dtype) in order;
    ``model``: the conditional model its LEARNED columns were coded with."""
    parsed = parse_table(payload)
    if [n for n, _ in specs] != list(parsed.columns):
        raise ContainerError(
            f"bounded table payload holds columns {list(parsed.columns)[:8]}, expected {[n for n, _ in specs][:8]}"
        )
    headers = {n: parse_column(p, n) for n, p in parsed.columns.items()}  # each parsed once
    flat = Structure.of(None, parsed.rows)
    out: dict[str, npt.NDArray[Any]] = {}
    event = parsed.event
    if event is not None:
        out[event] = decode_column(headers[event], event, flat)
    structure = structure_of(out, event, parsed.rows)
    relation = _relations(headers)
    learned = [n for n, h in headers.items() if h.predictor == Predictor.LEARNED]
    if learned and model is None:
        raise ContainerError(f"column {learned[0]!r} is coded with a model this file is not read with")
    if model is not None and any(n not in model.names or not model.spec(n).target for n in learned):
        raise ContainerError("a column coded with a model is not one of the model's targets")
    modelled = (
        [c.name for c in model.columns if c.name in parsed.columns and c.name != event] if model else []
    )
    domains: dict[str, npt.NDArray[np.float64]] = {}
    inputs = model.inputs(parsed.rows) if model is not None else None

    def plain(n: str) -> tuple[npt.NDArray[Any], npt.NDArray[np.float64]]:
        return decode_column_domain(headers[n], n, structure)

    rest = [n for n in parsed.columns if n != event and n not in relation and n not in learned]
    for n, (values, domain) in zip(rest, parallel_map(plain, rest), strict=True):
        out[n], domains[n] = values, domain
    # the columns that need others first: the model's in its order, then the rest; each as soon
    # as what it needs is decoded
    pending = [n for n in modelled if n not in out] + [
        n for n in relation if n not in out and n not in modelled
    ]
    while pending:
        ready = next((n for n in pending if _ready(n, headers[n], relation, modelled, out)), None)
        if ready is None:
            raise ContainerError(f"column {pending[0]!r} needs columns the table cannot give first")
        pending.remove(ready)
        h = headers[ready]
        prediction = predict(relation[ready], out) if ready in relation else None
        cond = None
        if h.predictor == Predictor.LEARNED and model is not None and inputs is not None:
            _fill(inputs, ready, modelled, headers, domains)
            cond = Conditional(model, ready, model.predict(ready, inputs, backend))
        out[ready], domains[ready] = decode_column_domain(h, ready, structure, prediction, cond)
    if event is not None:
        domains[event] = out[event].astype(np.float64)
    for name, dtype in specs:
        if out[name].dtype != dtype:
            raise ContainerError(f"column {name!r} decodes as {out[name].dtype}, the header says {dtype}")
    return {n: out[n] for n, _ in specs}


def _relations(headers: Mapping[str, ColumnHeader]) -> dict[str, list[str]]:
    """The relation each column's header names, checked: a known op, its inputs other columns of the table."""
    out: dict[str, list[str]] = {}
    for n, h in headers.items():
        rel = h.head.get("relation")
        if rel is None:
            continue
        if not (isinstance(rel, list) and rel and rel[0] in ARITY and len(rel) == 1 + ARITY[rel[0]]):
            raise ContainerError(f"column {n!r}: invalid relation {str(rel)[:60]}")
        if any(r not in headers or r == n for r in rel[1:]):
            raise ContainerError(f"column {n!r}: its relation names columns the table does not hold")
        out[n] = [str(r) for r in rel]
    return out


def _ready(
    name: str,
    h: ColumnHeader,
    relation: Mapping[str, list[str]],
    modelled: Sequence[str],
    out: Mapping[str, Any],
) -> bool:
    if name in relation and not all(r in out for r in relation[name][1:]):
        return False
    if h.predictor == Predictor.LEARNED:
        return all(c in out for c in modelled[: modelled.index(name)])
    return True


def _fill(
    inputs: Inputs,
    target: str,
    modelled: Sequence[str],
    headers: Mapping[str, ColumnHeader],
    domains: Mapping[str, npt.NDArray[np.float64]],
) -> None:
    """Set in ``inputs`` the columns before ``target`` that the table holds in the model's domain."""
    model = inputs.model
    for name in modelled[: modelled.index(target)]:
        spec, h = model.spec(name), headers[name]
        if name not in inputs.present and _usable(spec, h.kind, h.dtype):
            inputs.set(name, domains[name])


def table_bits(payload: bytes) -> dict[str, dict[str, Any]]:
    """What each column of a table payload holds (see :func:`~hepsqueeze.codecs.bounded.column_coder.column_bits`)."""
    parsed = parse_table(payload)
    return {n: column_bits(p, n) for n, p in parsed.columns.items()}


__all__ = [
    "RELATIONS",
    "TABLE_FORMAT",
    "TABLE_MAGIC",
    "TABLE_PREFIX",
    "EncodedTable",
    "TablePayload",
    "decode_table",
    "encode_table",
    "parse_table",
    "predict",
    "relations_of",
    "structure_of",
    "table_bits",
]
