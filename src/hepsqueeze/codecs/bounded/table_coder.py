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

from hepsqueeze.codecs.bounded.column_bound import LOSSLESS, ColumnBound
from hepsqueeze.codecs.bounded.column_coder import (
    EncodedColumn,
    Structure,
    column_bits,
    decode_column,
    encode_column,
    parse_column,
)
from hepsqueeze.codecs.bounded.payload import parallel_map
from hepsqueeze.errors import ContainerError

TABLE_MAGIC: Final = b"HSQT"
TABLE_PREFIX: Final = struct.Struct("<4sI")
TABLE_FORMAT: Final = 1
#: Longest JSON header of a table payload (names and sizes of its columns).
MAX_TABLE_HEADER: Final = 1 << 24

#: Exact relations between columns of one collection, by name (``PREFIX_TARGET = PREFIX_A op
#: PREFIX_B``, or without a prefix): a target is also tried coded as the difference from the
#: relation of the decoded A and B (the smaller is kept, so a relation that does not hold costs
#: nothing). ``tau21 = tau2 / tau1``, ``tau32 = tau3 / tau2``, ``lead_pt = lead_fraction * pt``.
RELATIONS: Final = (
    ("tau21", "/", "tau2", "tau1"),
    ("tau32", "/", "tau3", "tau2"),
    ("lead_pt", "*", "lead_fraction", "pt"),
)


def relations_of(columns: Mapping[str, npt.NDArray[Any]]) -> dict[str, list[str]]:
    """The relation (``[op, a, b]``) each target column of ``columns`` may be coded from."""
    out: dict[str, list[str]] = {}
    targets = set()
    for target, op, a, b in RELATIONS:
        for name in columns:
            if name != target and not name.endswith(f"_{target}"):
                continue
            prefix = name[: len(name) - len(target)]
            ca, cb = prefix + a, prefix + b
            if all(c in columns and columns[c].dtype.kind == "f" for c in (name, ca, cb)):
                out[name] = [op, ca, cb]
                targets.add(name)
    # a relation's inputs are decoded before it: none may be a target itself
    return {n: r for n, r in out.items() if not (set(r[1:]) & targets)}


def predict(relation: Sequence[str], decoded: Mapping[str, npt.NDArray[Any]]) -> npt.NDArray[np.float64]:
    """The values a relation gives from decoded columns (float64, IEEE: the same on every machine)."""
    op, a, b = relation
    x, y = decoded[a].astype(np.float64), decoded[b].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out: npt.NDArray[np.float64] = np.divide(x, y) if op == "/" else np.multiply(x, y)
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
    columns: Mapping[str, npt.NDArray[Any]], bounds: Mapping[str, ColumnBound], event: str | None
) -> EncodedTable:
    """Code every column of ``columns`` (equal lengths) within its bound (missing: lossless)."""
    names = list(columns)
    rows = len(next(iter(columns.values()))) if columns else 0
    structure = structure_of(columns, event, rows)
    flat = Structure.of(None, rows)

    relations = relations_of(columns)

    def one(name: str) -> EncodedColumn:
        context = flat if name == event else structure
        return encode_column(np.asarray(columns[name]), bounds.get(name, LOSSLESS), context)

    first = [n for n in names if n not in relations]
    done = dict(zip(first, parallel_map(one, first), strict=True))
    decoded = {n: c.decoded for n, c in done.items()}

    def related(name: str) -> EncodedColumn:
        rel = relations[name]
        values, bound = np.asarray(columns[name]), bounds.get(name, LOSSLESS)
        return encode_column(values, bound, structure, predict(rel, decoded), rel)

    later = [n for n in names if n in relations]
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


def decode_table(payload: bytes, specs: Sequence[tuple[str, np.dtype[Any]]]) -> dict[str, npt.NDArray[Any]]:
    """The columns of a table payload, which must be exactly ``specs`` (name, dtype) in order."""
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
    relation: dict[str, list[str]] = {}
    for n, h in headers.items():
        rel = h.head.get("relation")
        if rel is not None:
            if not (isinstance(rel, list) and len(rel) == 3 and rel[0] in ("/", "*")):
                raise ContainerError(f"column {n!r}: invalid relation {str(rel)[:60]}")
            relation[n] = [str(r) for r in rel]
    # a relation's inputs are decoded first: columns of the table that are no relation's target
    for n, rel in relation.items():
        if any(r not in parsed.columns or r in relation for r in rel[1:]):
            raise ContainerError(f"column {n!r}: its relation names columns the table cannot give first")
    rest = [n for n in parsed.columns if n != event and n not in relation]
    decoded = parallel_map(lambda n: decode_column(headers[n], n, structure), rest)
    out.update(zip(rest, decoded, strict=True))
    later = list(relation)
    decoded = parallel_map(
        lambda n: decode_column(headers[n], n, structure, predict(relation[n], out)), later
    )
    out.update(zip(later, decoded, strict=True))
    for name, dtype in specs:
        if out[name].dtype != dtype:
            raise ContainerError(f"column {name!r} decodes as {out[name].dtype}, the header says {dtype}")
    return {n: out[n] for n, _ in specs}


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
