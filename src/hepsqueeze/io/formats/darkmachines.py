"""DarkMachines (PhenoML) CSV: one event per line, its objects inline, energies and momenta in MeV.

A line is ``event ID;process ID;event weight;MET;METphi;obj1,E1,pt1,eta1,phi1;obj2,...;`` with
object types ``j``, ``b``, ``e-``, ``e+``, ``m-``, ``m+``, ``g`` (jet, b-jet, electron, positron,
muon, antimuon, photon). Reading gives

- the main table, one row per object: ``event`` (int64 event ID), ``process`` (int32 code),
  ``object`` (int8 code), ``E``, ``pt`` (GeV), ``eta``, ``phi`` (float64);
- the ``events`` table, one row per line: ``event``, ``process``, ``weight``, ``MET`` (GeV),
  ``METphi``, ``n_objects`` (int32, the number of objects on the line).

Text columns are stored as integer codes; the labels are in the layout's ``categories``
(:meth:`Dataset.labels` decodes them): object codes are fixed (``j`` = 0 ... ``g`` = 6), process
codes number the process IDs in order of first appearance. Values are float64 so that the text
of every number can be reproduced: the reader finds, per field, the printf-style format that
writes the file's text back (``%.6g``, C++'s default, for the published files) and records it with
the line structure (trailing ``;``, blank lines, line endings) in the layout. Writing an unchanged
dataset therefore gives the same bytes; after compression only E, pt, eta and phi differ. Files
whose text no single format reproduces are written with the precision given, and reading says so.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import InputError
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.interpret import build_table, select_names
from hepsqueeze.io.registry import Format
from hepsqueeze.io.source import read_head
from hepsqueeze.io.table import Table

logger = logging.getLogger(__name__)

#: Object type labels, in code order.
OBJECT_TYPES: tuple[str, ...] = ("j", "b", "e-", "e+", "m-", "m+", "g")
_OBJECT_CODES = {t: i for i, t in enumerate(OBJECT_TYPES)}
#: Name of the per-event auxiliary table.
EVENTS_TABLE = "events"
#: The file stores MeV; tables hold GeV, the unit models use.
MEV_PER_GEV = 1000.0
_EVENT_FIELDS = ("event ID", "process ID", "event weight", "MET", "METphi")
#: Numeric fields: (table column, description in messages, MeV in the file).
_EVENT_NUMBERS = (
    ("weight", "field 3 (event weight)", False),
    ("MET", "field 4 (MET)", True),
    ("METphi", "field 5 (METphi)", False),
)
_OBJECT_NUMBERS = (("E", "(E)", True), ("pt", "(pt)", True), ("eta", "(eta)", False), ("phi", "(phi)", False))
_INT_TEXT = re.compile(r"-?[0-9]+")
#: Values tried when looking for a field's number format; the whole column is then verified.
_SAMPLE = 2000
_DEFAULT_FORMAT = "g6"


def _render(code: str, values: npt.NDArray[np.float64]) -> list[str]:
    """``values`` as text in format ``code``: ``g<p>`` (printf %.pg), ``f<d>`` (%.df) or ``r`` (repr)."""
    if code == "r":
        return [repr(v) for v in values.tolist()]
    spec = f"%.{int(code[1:])}{code[0]}"
    return [spec % v for v in values.tolist()]


def _render_exact(code: str, values: npt.NDArray[np.float64], mev: bool) -> list[str]:
    """``values`` (table units) as text in format ``code`` where that text reads back as exactly
    the value, and otherwise as the shortest text that does (see :func:`_exact_text`).

    The file's own format reproduces every value read from it; a value changed in between (a
    lossy codec's decoded value) would be moved by the format's rounding (up to 5e-6 relative for
    ``%.6g``), possibly out of the bound it was decoded within: it gets more digits instead."""
    texts = _render(code, _in_file_units(values, mev))
    with np.errstate(over="ignore", invalid="ignore"):
        back = _in_table_units(np.array([float(t) for t in texts], dtype=np.float64), mev)
    same = (back == values) | (np.isnan(back) & np.isnan(values))
    for i in np.flatnonzero(~same).tolist():
        texts[i] = _exact_text(float(values[i]), mev)
    return texts


#: Neighbouring file-unit values tried to find a text that reads back as a table value exactly.
_EXACT_STEPS: Final = 4


def _exact_text(value: float, mev: bool) -> str:
    """The shortest text of a file-unit value that the reader turns into exactly ``value``. In GeV
    fields (no unit change) that is ``repr``; in MeV fields the reader divides by 1000, and the
    file-unit neighbours of ``1000 value`` are tried; about 2% of values have no float64 that
    divides to them exactly, and take the nearest (1 ulp, 1.1e-16 relative)."""
    if not mev or not math.isfinite(value):
        return repr(value)
    start = value * MEV_PER_GEV
    candidates = [start]
    up = down = start
    for _ in range(_EXACT_STEPS):
        up, down = math.nextafter(up, math.inf), math.nextafter(down, -math.inf)
        candidates += [up, down]
    for y in candidates:
        if float(repr(y)) / MEV_PER_GEV == value:
            return repr(y)
    return repr(start)


_CANDIDATES = (
    _DEFAULT_FORMAT,
    *(f"g{p}" for p in range(1, 18) if p != 6),
    *(f"f{d}" for d in range(13)),
    "r",
)


def _significant_digits(token: str) -> int:
    mantissa = token.strip().lstrip("+-").lower().split("e", 1)[0].replace(".", "").lstrip("0")
    return max(1, min(17, len(mantissa)))


def _find_format(tokens: Sequence[str], values: npt.NDArray[np.float64]) -> tuple[str, bool]:
    """A format writing ``values`` as exactly ``tokens`` (True), else the precision given (False)."""
    if not tokens:
        return _DEFAULT_FORMAT, True
    sample_tokens, sample_values = list(tokens[:_SAMPLE]), values[:_SAMPLE]
    for code in _CANDIDATES:
        if _render(code, sample_values) == sample_tokens:
            if len(tokens) <= _SAMPLE or _render(code, values) == list(tokens):
                return code, True
            break
    digits = max(_significant_digits(t) for t in tokens)
    return f"g{digits}", False


@dataclass
class _Parsed:
    """Tokens of a file, column by column, and the facts needed to write it back."""

    lines: list[int] = field(default_factory=list)  # 0-based line index of each event
    events: list[str] = field(default_factory=list)
    processes: list[str] = field(default_factory=list)
    event_numbers: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k, _, _ in _EVENT_NUMBERS})
    counts: list[int] = field(default_factory=list)
    trailing: list[bool] = field(default_factory=list)
    objects: list[int] = field(default_factory=list)
    object_numbers: dict[str, list[str]] = field(
        default_factory=lambda: {k: [] for k, _, _ in _OBJECT_NUMBERS}
    )
    blank_lines: list[int] = field(default_factory=list)
    inexact: list[str] = field(default_factory=list)


def _parse_line(content: str, lineno: int, where: str, parsed: _Parsed) -> None:
    """Add the tokens of one event line (1-based ``lineno``) to ``parsed``; InputError if malformed."""
    fields = content.split(";")
    trailing = len(fields) > 1 and fields[-1] == ""
    if trailing:
        fields.pop()
    if len(fields) < len(_EVENT_FIELDS):
        raise InputError(
            f"{where}, line {lineno}: expected 'event ID;process ID;event weight;MET;METphi;objects...' "
            f"but found {len(fields)} field(s): {content[:80]!r}"
        )
    event = fields[0]
    if not _INT_TEXT.fullmatch(event.strip()):
        raise InputError(f"{where}, line {lineno}, field 1 (event ID): {event[:40]!r} is not an integer")
    if not fields[1].strip():
        raise InputError(f"{where}, line {lineno}, field 2 (process ID) is empty")
    objects = []
    for k, obj in enumerate(fields[5:], start=1):
        parts = obj.split(",")
        if len(parts) != 5:
            raise InputError(
                f"{where}, line {lineno}, object {k}: expected 'type,E,pt,eta,phi' but found {obj[:60]!r}"
            )
        kind = parts[0].strip()
        if kind not in _OBJECT_CODES:
            raise InputError(
                f"{where}, line {lineno}, object {k}: unknown object type {parts[0][:20]!r} "
                f"(known: {', '.join(OBJECT_TYPES)})"
            )
        if kind != parts[0]:
            parsed.inexact.append(f"spaces around object type on line {lineno}")
        objects.append((_OBJECT_CODES[kind], parts[1:]))
    parsed.lines.append(lineno - 1)
    parsed.events.append(event)
    parsed.processes.append(fields[1])
    for (key, _, _), token in zip(_EVENT_NUMBERS, fields[2:5], strict=True):
        parsed.event_numbers[key].append(token)
    parsed.counts.append(len(objects))
    parsed.trailing.append(trailing)
    for code, numbers in objects:
        parsed.objects.append(code)
        for (key, _, _), token in zip(_OBJECT_NUMBERS, numbers, strict=True):
            parsed.object_numbers[key].append(token)


def _parse_text(text: str, where: str) -> tuple[_Parsed, str, bool]:
    """Parse a whole file: (tokens, newline, whether the file ends with one)."""
    parsed = _Parsed()
    lines = text.split("\n")
    final_newline = lines[-1] == ""
    if final_newline:
        lines.pop()
    crlf = sum(line.endswith("\r") for line in lines)
    if 0 < crlf < len(lines):
        parsed.inexact.append("a mix of CRLF and LF line endings")
    newline = "\r\n" if lines and crlf * 2 > len(lines) else "\n"
    for index, line in enumerate(lines):
        content = line[:-1] if line.endswith("\r") else line
        if not content.strip():
            if content:
                parsed.inexact.append(f"white space on blank line {index + 1}")
            parsed.blank_lines.append(index)
            continue
        _parse_line(content, index + 1, where, parsed)
    return parsed, newline, final_newline


def _to_floats(
    tokens: Sequence[str], parsed: _Parsed, what: str, where: str, per_object: bool
) -> npt.NDArray[np.float64]:
    try:
        return np.fromiter(map(float, tokens), dtype=np.float64, count=len(tokens))
    except ValueError:
        pass
    # Find the first bad token to name its line; this path runs only for broken files.
    bad = next(i for i, token in enumerate(tokens) if not _is_number(token))
    line, place = _locate(parsed, bad, per_object)
    raise InputError(f"{where}, line {line}, {place}{what}: {tokens[bad][:40]!r} is not a number")


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _locate(parsed: _Parsed, i: int, per_object: bool) -> tuple[int, str]:
    """(1-based line, ``"object k "`` or ``""``) of the i-th event (or object, with ``per_object``)."""
    if not per_object:
        return parsed.lines[i] + 1, ""
    ends = np.cumsum(parsed.counts)
    event = int(np.searchsorted(ends, i, side="right"))
    first = int(ends[event] - parsed.counts[event])
    return parsed.lines[event] + 1, f"object {i - first + 1} "


#: Bytes read to recognise a DarkMachines file; its first line may be longer (see sniff_darkmachines).
SNIFF_BYTES = 1 << 16


def sniff_darkmachines(path: Path) -> bool:
    """True if the first non-blank line of ``path`` is a valid DarkMachines event line.

    Only :data:`SNIFF_BYTES` are read; a first line longer than that is judged by its complete
    fields (up to its last ``;`` within them), so the answer does not depend on the line's length.
    """
    head = read_head(path, SNIFF_BYTES)
    if not head or b";" not in head:
        return False
    text = head.decode("utf-8", errors="replace")
    lines = text.split("\n")
    cut = len(head) == SNIFF_BYTES
    found = next(((i, line) for i, line in enumerate(lines) if line.strip()), None)
    if found is None:
        return False
    index, first = found
    if cut and index == len(lines) - 1:
        # The line goes on past the bytes read: keep its complete fields.
        if ";" not in first:
            return False
        first = first[: first.rindex(";") + 1]
    first = first.rstrip("\r")
    parsed = _Parsed()
    try:
        _parse_line(first, 1, str(path), parsed)
    except InputError:
        return False
    groups = (*parsed.event_numbers.values(), *parsed.object_numbers.values())
    return all(_is_number(token) for tokens in groups for token in tokens)


class DarkMachines:
    """Reader and writer for DarkMachines CSV files (detected from content)."""

    def read(self, path: Path, columns: Sequence[str] | None, **options: Any) -> Table:
        """The per-object table of :meth:`read_dataset`, with ``columns`` selected."""
        dataset = self.read_dataset(path, columns, **options)
        return dataset.table if columns is None else dataset.table.select(columns)

    def read_dataset(self, path: Path, columns: Sequence[str] | None, **options: Any) -> Dataset:
        """Parse the file into the per-object table, the ``events`` table and the layout."""
        where = str(path)
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise InputError(f"{where}, line {line}: not UTF-8 text (byte {exc.start})") from None
        parsed, newline, final_newline = _parse_text(text, where)
        if not parsed.events:
            raise InputError(f"{where} holds no events (no non-blank lines)")

        events = _ints(parsed.events, parsed, where)
        categories: dict[str, int] = {}
        process_codes = np.fromiter(
            (categories.setdefault(p, len(categories)) for p in parsed.processes),
            dtype=np.int32,
            count=len(parsed.processes),
        )
        counts = np.asarray(parsed.counts, dtype=np.int32)
        formats: dict[str, str] = {}
        reasons = list(parsed.inexact)
        event_columns: list[tuple[str, npt.NDArray[Any]]] = [("event", events), ("process", process_codes)]
        for key, what, mev in _EVENT_NUMBERS:
            tokens = parsed.event_numbers[key]
            value = _in_table_units(_to_floats(tokens, parsed, what, where, per_object=False), mev)
            formats[key], ok = _find_format(tokens, _in_file_units(value, mev))
            if not ok:
                reasons.append(f"{key} values are not written in one number format")
            event_columns.append((key, value))
        event_columns.append(("n_objects", counts))
        object_columns: list[tuple[str, npt.NDArray[Any]]] = [
            ("event", np.repeat(events, counts)),
            ("process", np.repeat(process_codes, counts)),
            ("object", np.asarray(parsed.objects, dtype=np.int8)),
        ]
        for key, what, mev in _OBJECT_NUMBERS:
            tokens = parsed.object_numbers[key]
            value = _in_table_units(_to_floats(tokens, parsed, what, where, per_object=True), mev)
            formats[key], ok = _find_format(tokens, _in_file_units(value, mev))
            if not ok:
                reasons.append(f"object {key} values are not written in one number format")
            object_columns.append((key, value))
        if any(str(v) != t for v, t in zip(events.tolist(), parsed.events, strict=True)):
            reasons.append("event IDs with leading zeros, signs or spaces")
        exact = not reasons
        if not exact:
            logger.warning(
                "%s: writing this file back keeps its values to the precision given but not its exact text (%s)",
                where,
                "; ".join(dict.fromkeys(reasons)),
            )
        trailing = sum(parsed.trailing) * 2 >= len(parsed.trailing)
        layout: dict[str, Any] = {
            "format": "darkmachines",
            "categories": {"process": list(categories), "object": list(OBJECT_TYPES)},
            "number_formats": formats,
            "newline": newline,
            "final_newline": final_newline,
            "trailing_semicolon": trailing,
            "semicolon_exceptions": [i for i, t in enumerate(parsed.trailing) if t != trailing],
            "blank_lines": parsed.blank_lines,
            "exact": exact,
        }
        main = build_table(object_columns, where)
        if columns is not None:
            select_names(main.names, columns, where)
        return Dataset(main, {EVENTS_TABLE: build_table(event_columns, where)}, layout)

    def write_dataset(self, dataset: Dataset, path: Path, **options: Any) -> None:
        """Write one line per event of the ``events`` table, its objects from the main table."""
        layout = dataset.layout
        where = dataset.source
        objects = dataset.table
        events = dataset.aux.get(EVENTS_TABLE)
        if events is None:
            raise InputError(
                f"{where} has no {EVENTS_TABLE!r} table (event, process, weight, MET, METphi); "
                "a DarkMachines file can only be written from data read from one"
            )
        _require(objects, ("object", "E", "pt", "eta", "phi"), where, "object")
        _require(events, ("event", "process", "weight", "MET", "METphi"), where, EVENTS_TABLE)
        offsets = _offsets(objects, events, where)
        processes = _labels(dataset, events, "process", None, where)
        kinds = _labels(dataset, objects, "object", OBJECT_TYPES, where)
        formats = layout.get("number_formats", {})

        def text(t: Table, key: str, mev: bool) -> list[str]:
            code = str(formats.get(key, _DEFAULT_FORMAT))
            return _render_exact(code, np.asarray(t[key], dtype=np.float64), mev)

        ids = [str(v) for v in np.asarray(events["event"]).astype(np.int64).tolist()]
        heads = [ids, processes] + [text(events, key, mev) for key, _, mev in _EVENT_NUMBERS]
        numbers = [text(objects, key, mev) for key, _, mev in _OBJECT_NUMBERS]
        items = [",".join(parts) for parts in zip(kinds, *numbers, strict=True)]
        trailing = bool(layout.get("trailing_semicolon", True))
        flips = {int(i) for i in layout.get("semicolon_exceptions", [])}
        blanks = sorted(int(i) for i in layout.get("blank_lines", []))
        out = _interleave(
            (
                ";".join([*head, *items[offsets[i] : offsets[i + 1]]])
                + (";" if trailing != (i in flips) else "")
                for i, head in enumerate(zip(*heads, strict=True))
            ),
            blanks,
        )
        newline = str(layout.get("newline", "\n"))
        body = newline.join(out) + (newline if layout.get("final_newline", True) else "")
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(body)


def _in_table_units(values: npt.NDArray[np.float64], mev: bool) -> npt.NDArray[np.float64]:
    """Values as the table holds them: GeV for fields the file gives in MeV."""
    return values / MEV_PER_GEV if mev else values


def _in_file_units(values: npt.NDArray[np.float64], mev: bool) -> npt.NDArray[np.float64]:
    """Table values as the writer puts them in the file (MeV): the format search must see the same."""
    return values * MEV_PER_GEV if mev else values


def _ints(tokens: Sequence[str], parsed: _Parsed, where: str) -> npt.NDArray[np.int64]:
    try:
        return np.fromiter(map(int, tokens), dtype=np.int64, count=len(tokens))
    except OverflowError:
        big = next(i for i, t in enumerate(tokens) if not -(2**63) <= int(t) < 2**63)
        raise InputError(
            f"{where}, line {parsed.lines[big] + 1}, field 1 (event ID): {tokens[big][:40]!r} does not fit in 64 bits"
        ) from None


def _require(table: Table, names: Iterable[str], where: str, what: str) -> None:
    missing = [n for n in names if n not in table]
    if missing:
        raise InputError(
            f"the {what} table of {where} lacks column(s) {', '.join(missing)} needed for DarkMachines"
        )


def _offsets(objects: Table, events: Table, where: str) -> npt.NDArray[np.int64]:
    """Start of each event's objects in the main table (n_objects, else matched by event ID)."""
    n = events.num_rows
    if "n_objects" in events:
        counts = np.asarray(events["n_objects"]).astype(np.int64)
        if np.any(counts < 0) or int(counts.sum()) != objects.num_rows:
            raise InputError(
                f"n_objects of {where} sums to {int(counts.sum())} but there are {objects.num_rows} objects"
            )
    else:
        if "event" not in objects:
            raise InputError(
                f"the object table of {where} needs an 'event' column (or the events table n_objects)"
            )
        ids = np.asarray(events["event"])
        order = np.argsort(ids, kind="stable")
        if np.any(np.diff(ids[order]) == 0):
            raise InputError(f"event IDs of {where} repeat; give the events table an n_objects column")
        obj = np.asarray(objects["event"])
        pos = np.searchsorted(ids[order], obj)
        pos = np.minimum(pos, n - 1)
        if np.any(ids[order][pos] != obj):
            raise InputError(f"objects of {where} belong to event IDs missing from the events table")
        line = order[pos]
        if np.any(np.diff(line) < 0):
            raise InputError(f"objects of {where} are not in the order of their events")
        counts = np.bincount(line, minlength=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def _labels(
    dataset: Dataset, table: Table, column: str, default: tuple[str, ...] | None, where: str
) -> list[str]:
    cats = dataset.categories(column) or default
    if cats is None:
        raise InputError(f"{where} has no categories for the coded column {column!r}")
    codes = np.asarray(table[column]).astype(np.int64)
    if codes.size and (codes.min() < 0 or codes.max() >= len(cats)):
        raise InputError(f"column {column!r} of {where} holds codes outside 0..{len(cats) - 1}")
    bad = [c for c in cats if not c or any(ch in c for ch in ";\n\r")]
    if bad:
        raise InputError(f"{column} label {bad[0]!r} of {where} cannot be written in a DarkMachines line")
    return [cats[c] for c in codes.tolist()]


def _interleave(lines: Iterable[str], blanks: Sequence[int]) -> list[str]:
    """``lines`` with empty lines put back at the original line indices ``blanks`` (sorted)."""
    out: list[str] = []
    pending = list(reversed(blanks))
    for line in lines:
        while pending and pending[-1] == len(out):
            out.append("")
            pending.pop()
        out.append(line)
    out.extend("" for _ in pending)
    return out


FORMAT = Format(
    name="darkmachines",
    extensions=(),
    reader=DarkMachines(),
    sniff=sniff_darkmachines,
    description="DarkMachines (PhenoML) CSV, one event per line; objects + per-event table; text round trip",
    dataset_reader=DarkMachines(),
    dataset_writer=DarkMachines(),
    shared_extensions=(".csv",),
)
