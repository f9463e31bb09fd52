"""Error-bounded and lossless coding of one column of a table, in the contexts of its events.

Every float column with a bound is quantised where its bound is uniform:

- absolute bound ``eps`` (in the column's unit): ``q = rint(x / step)``, ``step = 2 eps`` shrunk by
  a margin that covers the rounding of the decoded value to the column's dtype; decoded values are
  clipped to ``[min, max]`` of the chunk's values, which only ever moves a value towards its
  original and keeps an angle on the input's branch (``[0, 2 pi)`` stays there);
- relative bound ``eps``: the sign (zero, positive, negative; values within the absolute floor are
  zero) as one symbol, then ``q = rint(ln|x| / step)`` with ``step = 2 ln(1 + eps)``, shrunk likewise.

Integer and boolean columns, and float columns without a bound, are lossless: integers as symbols
(the same entropy coders), floats byte-shuffled and zstd-compressed.

Symbols are coded in contexts of the table's structure (:class:`Structure`): rows of one event (a
collection's objects, sorted as the file has them) by rank 1, 2, 3+; each column takes whichever
predictor is estimated smaller, the symbol itself (``RAW``) or its difference from the previous row
of the event (``DELTA``; for a table of one row per event, from the previous event). Values that
miss their bound once decoded in the column's dtype (NaN, inf, huge values, bounds finer than the
dtype) are stored exactly inside the column's payload. The payload records an xxh64 of the decoded
values, which the decoder checks.
"""

from __future__ import annotations

import dataclasses
import json
import math
import struct
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import xxhash
import zstandard

from hepsqueeze.codecs.bounded.column_bound import BoundMode, ColumnBound
from hepsqueeze.codecs.bounded.exact import exact_exp, exact_log
from hepsqueeze.codecs.bounded.groups import decode_groups, encode_groups
from hepsqueeze.codecs.bounded.learned import Conditional, decode_residuals, encode_residuals
from hepsqueeze.container.constants import Transform
from hepsqueeze.container.transform import decode_transform, encode_transform
from hepsqueeze.errors import ContainerError
from hepsqueeze.metrics.bound_check import bits, misses
from hepsqueeze.models.conditional.model import Prediction

COLUMN_MAGIC: Final = b"HSQC"
#: magic, bytes of the JSON header, of the side information (zstd), of the symbol stream
COLUMN_PREFIX: Final = struct.Struct("<4sIII")
#: Payload format of one column.
COLUMN_FORMAT: Final = 1
#: Largest |symbol| quantised; values further out are stored exactly.
MAX_SYMBOL: Final = 1 << 36
#: Most distinct symbols a column is coded by their index in (see _alphabet).
MAX_ALPHABET: Final = 4096
#: Integer columns whose symbols (or differences) span more than this are stored as zstd bytes.
MAX_INTEGER_SPAN: Final = 1 << 40
#: Rank contexts: the first, second and every later row of an event.
RANKS: Final = 16
#: The rank contexts a column may be coded in: the first, second and later rows of an event
#: (3), or every rank up to the 16th (16: the fixed order of a hard-process record, GenPart).
RANK_CHOICES: Final = (3, 16)
#: Estimated bits a context group costs beyond its symbols' entropy (its coder's table).
_GROUP_BITS: Final = 8 * 24
_TABLE_BITS_PER_SYMBOL: Final = 8 * 2
#: zstd level of lossless float columns and of the side information.
RAW_LEVEL: Final = 9
_MARGIN: Final = 1e-4
#: Unit roundoff of the dtypes a decoded value is rounded to.
_ROUNDOFF: Final = {2: 2.0**-11, 4: 2.0**-24, 8: 2.0**-53}
#: Fraction of values a few huge ones may push out of the step's margin (they become exceptions).
_OUTLIER_FRACTION: Final = 1e-4

I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]


class Kind(StrEnum):
    """How a column is coded (its payload header's ``kind``)."""

    ABSOLUTE = "absolute"  # quantised values
    RELATIVE = "relative"  # sign symbol and quantised logarithms
    INTEGER = "integer"  # integer symbols, lossless
    BYTES = "bytes"  # byte-shuffled zstd, lossless


class Predictor(IntEnum):
    """What a column's symbols are coded as."""

    RAW = 0
    DELTA = 1
    RELATION = 2  # the difference from the symbol of a prediction from other columns
    LEARNED = 3  # the residual from a learned model's location, coded with its distribution


#: The predictors tried on every column; RELATION only where a prediction is given.
_STRUCTURAL: Final = (Predictor.RAW, Predictor.DELTA)


@dataclass(frozen=True)
class Structure:
    """The events of a table's rows: ``first`` marks each event's first row, ``rank`` is 0, 1, 2
    (first, second, later) and ``start`` the index of each row's first row. A table of one row per
    event (``flat``) has DELTA predict from the previous row instead."""

    rows: int
    first: Mask
    rank: npt.NDArray[np.uint8]
    start: I64
    flat: bool
    #: the row order and group sizes of each number of rank contexts, computed once
    orders: dict[int, tuple[npt.NDArray[np.intp], list[int]]] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, event: npt.NDArray[Any] | None, rows: int) -> Structure:
        """The structure of rows grouped by equal consecutive ``event`` values (None: flat)."""
        if event is None or rows == 0:
            first = np.ones(rows, dtype=bool)
        else:
            first = np.empty(rows, dtype=bool)
            first[0] = True
            np.not_equal(event[1:], event[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        lengths = np.diff(np.append(starts, rows))
        start = np.repeat(starts, lengths).astype(np.int64)
        rank = np.minimum(np.arange(rows, dtype=np.int64) - start, RANKS - 1).astype(np.uint8)
        flat = bool(first.all())
        return cls(rows, first, rank, start, flat)

    def _rank_order(self, ranks: int) -> tuple[npt.NDArray[np.intp], list[int]]:
        found = self.orders.get(ranks)
        if found is None:
            capped = np.minimum(self.rank, ranks - 1)
            order = np.argsort(capped, kind="stable")
            counts = np.bincount(capped, minlength=ranks).tolist()
            found = self.orders[ranks] = (order, [int(c) for c in counts])
        return found

    def contexts(
        self, predictor: Predictor, ranks: int = RANK_CHOICES[0]
    ) -> tuple[npt.NDArray[np.intp] | None, list[int]]:
        """The order that puts the rows of each context group together (``None``: as they are)
        and the rows of each group."""
        if self.flat:
            if predictor != Predictor.DELTA:
                return None, [self.rows]
            return None, [min(1, self.rows), max(0, self.rows - 1)]
        return self._rank_order(ranks)

    def split(self, sym: I64, predictor: Predictor, ranks: int = RANK_CHOICES[0]) -> list[I64]:
        """``sym`` cut into its context groups."""
        order, counts = self.contexts(predictor, ranks)
        ordered = sym if order is None else sym[order]
        cuts = np.cumsum(counts)[:-1].tolist()
        return list(np.split(ordered, cuts))

    def join(self, groups: list[I64], predictor: Predictor, ranks: int = RANK_CHOICES[0]) -> I64:
        """Inverse of :meth:`split`."""
        order, _ = self.contexts(predictor, ranks)
        flat = np.concatenate(groups) if groups else np.zeros(0, dtype=np.int64)
        if order is None:
            return flat.astype(np.int64, copy=False)
        out = np.empty(self.rows, dtype=np.int64)
        out[order] = flat
        return out

    def residuals(self, q: I64, predictor: Predictor) -> I64:
        """The symbols a predictor codes for ``q`` (RELATION: ``q`` is already the difference)."""
        if predictor != Predictor.DELTA:
            return q
        d = np.empty_like(q)
        if q.size:
            d[0] = q[0]
            np.subtract(q[1:], q[:-1], out=d[1:])
            if not self.flat:
                d[self.first] = q[self.first]
        return d

    def restore(self, d: I64, predictor: Predictor) -> I64:
        """Inverse of :meth:`residuals`."""
        if predictor != Predictor.DELTA:
            return d
        cum = np.cumsum(d)
        if self.flat:
            return cum
        # an event's values are its first value plus the differences since: cum - cum before its start
        before = cum[self.start] - d[self.start]
        out: I64 = cum - before
        return out


def _entropy_bits(sym: I64) -> float:
    """The empirical entropy of ``sym`` in bits (a cost estimate of coding it)."""
    if sym.size == 0:
        return 0.0
    lo, hi = int(sym.min()), int(sym.max())
    if hi - lo > 1 << 20:
        return float(sym.size) * math.log2(hi - lo + 1)
    c = np.bincount(sym - lo)
    c = c[c > 0].astype(np.float64)
    n = float(sym.size)
    table = _GROUP_BITS + _TABLE_BITS_PER_SYMBOL * min(c.size, 128) if c.size > 1 else 0
    return float(n * math.log2(n) - (c * np.log2(c)).sum()) + table


@dataclass(frozen=True)
class Choice:
    """A column's predictor and rank contexts, and its symbols cut into their groups."""

    predictor: Predictor
    ranks: int
    groups: list[I64]


def _choose(q: I64, structure: Structure, zero: Mask | None = None, qp: I64 | None = None) -> Choice:
    """The predictor and rank contexts whose groups are estimated smallest (``zero``: rows whose
    symbol is free, set to what costs least: 0 for RAW, the previous row's for DELTA; ``qp``: the
    symbols of a prediction, for RELATION)."""
    best: tuple[float, Choice] | None = None
    for predictor in (*_STRUCTURAL, *((Predictor.RELATION,) if qp is not None else ())):
        sym = q - qp if predictor == Predictor.RELATION and qp is not None else q
        if zero is not None and zero.any():
            fill = predictor == Predictor.DELTA
            sym = _fill_zeros(sym, zero) if fill else np.where(zero, 0, sym)
        residuals = structure.residuals(sym, predictor)
        for ranks in RANK_CHOICES if not structure.flat else RANK_CHOICES[:1]:
            groups = structure.split(residuals, predictor, ranks)
            cost = sum(_entropy_bits(g) for g in groups)
            if best is None or cost < best[0]:
                best = (cost, Choice(predictor, ranks, groups))
    if best is None:  # pragma: no cover - Predictor is not empty
        raise RuntimeError("no predictor")
    return best[1]


def _digest(values: npt.NDArray[Any]) -> str:
    return xxhash.xxh64(np.ascontiguousarray(values).view(np.uint8).tobytes()).hexdigest()


def _steps(bound: ColumnBound, x: npt.NDArray[np.float64], finite: Mask, itemsize: int) -> float:
    u = _ROUNDOFF[itemsize]
    if bound.mode == BoundMode.RELATIVE:
        margin = min(0.5, _MARGIN + 2 * u / bound.value)
        return 2.0 * math.log1p(bound.value) * (1.0 - margin)
    size = np.abs(x[finite])
    top = float(size.max()) if size.size else 0.0
    if 2 * top * u / bound.value > 0.01 and size.size > 1:
        # a few huge values would shrink everyone's step: size it for all but a few of them;
        # the rest may miss their bound after rounding and are stored exactly
        k = size.size - 1 - int(size.size * _OUTLIER_FRACTION)
        top = float(np.partition(size, k)[k])
    margin = min(0.5, _MARGIN + 2 * top * u / bound.value)
    return 2.0 * bound.value * (1.0 - margin)


@dataclass(frozen=True)
class EncodedColumn:
    """A column's payload, the values it decodes to (exceptions restored) and how many values it
    stores exactly."""

    payload: bytes
    decoded: npt.NDArray[Any]
    exceptions: int
    #: what a decoder sees of the column before the next one: ``symbol * step`` in the coding
    #: domain for quantised columns (``ln|x|`` for relative bounds), the values otherwise
    domain: npt.NDArray[np.float64] | None = None

    @property
    def kind(self) -> Kind:
        return parse_column(self.payload, "").kind


def predicted_symbols(prediction: npt.NDArray[Any], step: float, relative: bool, exact: bool = True) -> I64:
    """The symbols of predicted values (0 where the prediction is not finite or not positive under
    a relative bound): what a RELATION column's symbols are coded as differences from. ``exact``:
    the logarithm of :func:`~hepsqueeze.codecs.bounded.exact.exact_log` (data format 7), else
    numpy's (files of format 6)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if relative:
            magnitude = np.abs(prediction.astype(np.float64))
            v = exact_log(magnitude) if exact else np.log(magnitude)
        else:
            v = prediction.astype(np.float64)
        v = np.divide(v, step)
        v[~np.isfinite(v)] = 0.0
        np.rint(v, out=v)
        np.clip(v, -MAX_SYMBOL, MAX_SYMBOL, out=v)
    out: I64 = v.astype(np.int64)
    return out


def encode_column(
    values: npt.NDArray[Any],
    bound: ColumnBound,
    structure: Structure,
    prediction: npt.NDArray[Any] | None = None,
    relation: list[str] | None = None,
    *,
    learned: Conditional | None = None,
) -> EncodedColumn:
    """Code one column (any numeric dtype) within ``bound`` in the contexts of ``structure``;
    ``prediction`` (float64, from other columns' decoded values as the decoder will compute it,
    described by ``relation`` in the payload header) is tried as a predictor too, and so are a
    learned model's ``learned`` predictions (of this column, in the domain of its bound)."""
    dtype = values.dtype
    if dtype.kind in "biu":
        return _encode_integer(values, structure, learned)
    if bound.mode == BoundMode.LOSSLESS or dtype.itemsize not in _ROUNDOFF:
        return _bytes_column(values)
    coded = _encode_quantised(values, bound, structure, prediction, relation, learned=learned)
    if coded.payload and len(coded.payload) <= values.nbytes // 2:
        return coded
    raw = _bytes_column(values)
    return raw if len(raw.payload) < len(coded.payload) else coded


def _pack(head: dict[str, Any], side: bytes, stream: bytes) -> bytes:
    text = json.dumps(head, separators=(",", ":")).encode()
    return COLUMN_PREFIX.pack(COLUMN_MAGIC, len(text), len(side), len(stream)) + text + side + stream


def _bytes_column(values: npt.NDArray[Any]) -> EncodedColumn:
    arr = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<"))
    planes = encode_transform(arr.reshape(-1), Transform.SHUFFLE)
    frame = zstandard.ZstdCompressor(level=RAW_LEVEL, write_checksum=True).compress(planes.tobytes())
    head = {"format": COLUMN_FORMAT, "kind": Kind.BYTES.value, "rows": int(arr.size), "dtype": arr.dtype.str}
    return EncodedColumn(_pack(head, frame, b""), np.array(values, copy=True), 0, _plain_domain(values))


def _plain_domain(values: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """The values of a lossless column as float64 (booleans as 0/1)."""
    arr = values.view(np.uint8) if values.dtype.kind == "b" else values
    with np.errstate(invalid="ignore", over="ignore"):
        out: npt.NDArray[np.float64] = arr.astype(np.float64)
    return out


def _encode_integer(
    values: npt.NDArray[Any], structure: Structure, learned: Conditional | None = None
) -> EncodedColumn:
    arr = values.view(np.uint8) if values.dtype.kind == "b" else values
    if arr.size and arr.dtype == np.uint64 and int(arr.max()) >= 1 << 63:
        return _bytes_column(values)
    q = arr.astype(np.int64)
    if q.size and int(q.max()) - int(q.min()) > MAX_INTEGER_SPAN:
        return _bytes_column(values)
    choice = _choose(q, structure)
    if any(g.size and int(g.max()) - int(g.min()) > MAX_INTEGER_SPAN for g in choice.groups):
        return _bytes_column(values)
    head = {
        "format": COLUMN_FORMAT,
        "kind": Kind.INTEGER.value,
        "rows": int(q.size),
        "dtype": values.dtype.str,
        "predictor": int(choice.predictor),
        "ranks": choice.ranks,
        "xxh64": _digest(values),
    }
    analytic = EncodedColumn(
        _pack(head, b"", encode_groups(choice.groups)), np.array(values, copy=True), 0, _plain_domain(values)
    )
    if learned is None or values.dtype.kind == "b":
        return analytic
    # integers are their own symbols: step 1, every row coded from the model
    fields, stream = _learned_stream(q, learned.prediction, 1.0, learned)
    coded = EncodedColumn(_pack({**head, **fields}, b"", stream), analytic.decoded, 0, analytic.domain)
    return coded if len(coded.payload) < len(analytic.payload) else analytic


def _learned_stream(
    q: I64, prediction: Prediction, step: float, learned: Conditional, signs: bytes = b""
) -> tuple[dict[str, Any], bytes]:
    """The payload header fields and the stream (sign groups, ANS words, escapes) of symbols ``q``
    coded with the model's ``prediction`` of them."""
    offset = learned.offset(step)
    words, escapes = encode_residuals(q, prediction, step, offset, learned.tables)
    fields = {
        "predictor": int(Predictor.LEARNED),
        "ranks": RANK_CHOICES[0],
        "learned": {"offset": offset, "signs": len(signs), "words": len(words), "escapes": int(escapes.size)},
    }
    return fields, signs + words + escapes.astype("<i8").tobytes()


@dataclass(frozen=True)
class Quantised:
    """A float column quantised within its bound: the symbols, the sign symbols (relative bounds),
    the rows whose symbol is free (zero or not finite), the step, the values it decodes to (before
    exceptions are restored) and the payload header's common fields."""

    q: I64
    sign: I64 | None
    zero: Mask
    step: float
    decoded: npt.NDArray[Any]
    head: dict[str, Any]

    @property
    def relative(self) -> bool:
        return self.sign is not None

    @property
    def domain(self) -> npt.NDArray[np.float64]:
        return self.q.astype(np.float64) * self.step


def quantise(values: npt.NDArray[Any], bound: ColumnBound) -> Quantised:
    """Quantise a float column (of a dtype with a unit roundoff) within an absolute or relative bound."""
    dtype = values.dtype
    with np.errstate(invalid="ignore"):  # signalling NaNs warn when cast; they are stored exactly
        x = values.astype(np.float64)
    finite = np.isfinite(x)
    relative = bound.mode == BoundMode.RELATIVE
    step = _steps(bound, x, finite, dtype.itemsize)
    head: dict[str, Any] = {
        "format": COLUMN_FORMAT,
        "kind": Kind.RELATIVE.value if relative else Kind.ABSOLUTE.value,
        "rows": int(x.size),
        "dtype": dtype.str,
        "step": step,
    }
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if relative:
            sign = np.where(x > 0, 1, np.where(x < 0, 2, 0)).astype(np.int64)
            zero = ~finite | (np.abs(x) <= bound.floor) | (x == 0)
            sign[zero] = 0
            mag = np.log(np.abs(x))
            mag[zero] = 0.0
            np.divide(mag, step, out=mag)
        else:
            sign = None
            zero = ~finite
            mag = np.divide(x, step)
            mag[zero] = 0.0
        np.rint(mag, out=mag)
        np.clip(mag, -MAX_SYMBOL, MAX_SYMBOL, out=mag)
        q = mag.astype(np.int64)
        if relative:
            decoded64 = exact_exp(
                q.astype(np.float64) * step
            )  # the same bits on every machine (head "exact")
            decoded64[sign == 2] *= -1.0
            decoded64[zero] = 0.0
            head["exact"] = True
        else:
            decoded64 = q.astype(np.float64) * step
    with np.errstate(over="ignore"):  # values past the dtype's range miss their bound: stored exactly
        decoded = decoded64.astype(dtype)
    if not relative:
        lo, hi = (float(x[finite].min()), float(x[finite].max())) if finite.any() else (0.0, 0.0)
        np.clip(decoded, dtype.type(lo), dtype.type(hi), out=decoded)
        head["clip"] = [lo, hi]
    return Quantised(q, sign, zero, step, decoded, head)


def _encode_quantised(
    values: npt.NDArray[Any],
    bound: ColumnBound,
    structure: Structure,
    prediction: npt.NDArray[Any] | None,
    relation: list[str] | None,
    *,
    learned: Conditional | None = None,
) -> EncodedColumn:
    qz = quantise(values, bound)
    head = dict(qz.head)
    # the symbols of zero (and non-finite) rows are free: the decoder sets those rows itself
    qp = predicted_symbols(prediction, qz.step, qz.relative) if prediction is not None else None
    decoded = qz.decoded
    side, count = _store_misses(values, decoded, bound)
    head.update({"exceptions": count, "xxh64": _digest(decoded)})
    best = _encode_analytic(qz, structure, qp, relation, head, side)
    # few distinct symbols over a wide span (values the input had rounded): their indices
    alphabet = _alphabet(qz.q, qz.zero) if qp is None else None
    if alphabet is not None:
        indexed = _encode_analytic(qz, structure, None, None, head, side, alphabet)
        best = indexed if len(indexed.payload) < len(best.payload) else best
    if learned is not None:
        coded = _encode_learned(qz, structure, learned, side, count)
        best = coded if len(coded.payload) < len(best.payload) else best
    return best


def _encode_analytic(  # noqa: PLR0917  (one column's parts, as _encode_quantised has them)
    qz: Quantised,
    structure: Structure,
    qp: I64 | None,
    relation: list[str] | None,
    common: dict[str, Any],
    side: bytes,
    alphabet: I64 | None = None,
) -> EncodedColumn:
    """The column coded as RAW, DELTA or RELATION symbols (or their indices in ``alphabet``)."""
    head = dict(common)
    q = qz.q if alphabet is None else np.searchsorted(alphabet, qz.q).clip(0, alphabet.size - 1)
    choice = _choose(q, structure, qz.zero, qp)
    if choice.predictor == Predictor.RELATION:
        head["relation"] = relation
    groups: list[I64] = []
    if qz.sign is not None:  # in the same rank contexts as the symbols
        groups.extend(structure.split(qz.sign, Predictor.RAW, choice.ranks))
    groups.extend(choice.groups)
    prefix = b""
    if alphabet is not None:
        prefix = zstandard.ZstdCompressor(level=RAW_LEVEL).compress(
            np.diff(alphabet, prepend=0).astype("<i8").tobytes()
        )
        head["alphabet"] = [int(alphabet.size), len(prefix)]
    head.update({"predictor": int(choice.predictor), "ranks": choice.ranks})
    # the symbols the decoder will have (free rows as the predictor fills them): its domain values
    q_dec = structure.restore(structure.join(choice.groups, choice.predictor, choice.ranks), choice.predictor)
    if choice.predictor == Predictor.RELATION and qp is not None:
        q_dec = q_dec + qp
    if alphabet is not None:
        q_dec = alphabet[q_dec]
    return EncodedColumn(
        _pack(head, side, prefix + encode_groups(groups)),
        qz.decoded,
        int(common["exceptions"]),
        q_dec.astype(np.float64) * qz.step,
    )


def _alphabet(q: I64, free: Mask) -> I64 | None:
    """The distinct coded symbols, sorted, when they are few and spread wide (else None)."""
    coded = q[~free]
    if coded.size < 64:
        return None
    lo, hi = int(coded.min()), int(coded.max())
    if hi - lo < 32:  # a narrow span: the coders handle it as it is
        return None
    distinct = np.unique(coded)
    if distinct.size > MAX_ALPHABET or (hi - lo + 1) < 4 * distinct.size:
        return None
    out: I64 = distinct.astype(np.int64)
    return out


def _encode_learned(
    qz: Quantised, structure: Structure, learned: Conditional, side: bytes, count: int
) -> EncodedColumn:
    """The column coded as residuals from a learned model's locations, with its distributions."""
    signs = b""
    if qz.sign is not None:
        signs = encode_groups(structure.split(qz.sign, Predictor.RAW, RANK_CHOICES[0]))
    rows = ~qz.zero if qz.relative else np.ones(qz.q.size, dtype=bool)
    fields, stream = _learned_stream(qz.q[rows], learned.select(rows), qz.step, learned, signs)
    # the header's keys in the order of files already written (their bytes are golden)
    head = {
        **qz.head,
        "predictor": fields["predictor"],
        "ranks": fields["ranks"],
        "exceptions": count,
        "xxh64": _digest(qz.decoded),
        "learned": fields["learned"],
    }
    return EncodedColumn(_pack(head, side, stream), qz.decoded, count, qz.domain)


def _store_misses(
    values: npt.NDArray[Any], decoded: npt.NDArray[Any], bound: ColumnBound
) -> tuple[bytes, int]:
    """Restore in ``decoded`` the values that miss their bound in the column's dtype; return them
    as the payload's side information (row steps, then the values; one zstd frame) and their count."""
    miss = np.flatnonzero(misses(values, decoded, bound.error_bound(), bound.floor))
    if not miss.size:
        return b"", 0
    decoded[miss] = values[miss]
    raw = np.ascontiguousarray(values[miss]).astype(values.dtype.newbyteorder("<"))
    side = zstandard.ZstdCompressor(level=RAW_LEVEL).compress(
        np.diff(miss, prepend=0).astype("<i8").tobytes() + raw.tobytes()
    )
    return side, int(miss.size)


def _fill_zeros(q: I64, zero: Mask) -> I64:
    """``q`` with every zero row holding the symbol of the row before it (0 at the start)."""
    if not zero.any():
        return q
    idx = np.where(~zero, np.arange(q.size), -1)
    np.maximum.accumulate(idx, out=idx)
    out = np.where(idx >= 0, q[np.maximum(idx, 0)], 0)
    return out.astype(np.int64)


# ----------------------------------------------------------------------------- decoding


@dataclass(frozen=True)
class ColumnHeader:
    """A column payload's header, checked: every field a decoder uses has its type and range
    (``predictor``, ``ranks`` and ``digest``: not for BYTES columns; ``step``, ``exceptions`` and
    ``clip``: quantised columns only, ``clip`` absolute ones)."""

    kind: Kind
    rows: int
    dtype: np.dtype[Any]
    head: dict[str, Any]
    side: bytes
    stream: bytes
    predictor: Predictor | None = None
    ranks: int = RANK_CHOICES[0]
    digest: str | None = None
    step: float = 1.0
    exceptions: int = 0
    clip: tuple[float, float] | None = None
    #: LEARNED columns: the scale-class offset, and the bytes of the sign groups and the ANS
    #: words and the number of escapes that make up the stream
    learned: tuple[int, int, int, int] | None = None
    #: symbols coded as indices into a stored sorted alphabet: its size and bytes (stream prefix)
    alphabet: tuple[int, int] | None = None
    #: relative columns of data format 7: exp and log of :mod:`~hepsqueeze.codecs.bounded.exact`
    exact: bool = False


#: The dtype kinds each kind of column payload may decode to.
_DTYPE_KINDS: Final = {Kind.ABSOLUTE: "f", Kind.RELATIVE: "f", Kind.INTEGER: "biu", Kind.BYTES: "biuf"}


def parse_column(payload: bytes, name: str) -> ColumnHeader:
    """The header of a column payload; :class:`ContainerError` naming the column if invalid."""
    if len(payload) < COLUMN_PREFIX.size or payload[:4] != COLUMN_MAGIC:
        raise ContainerError(f"column {name!r}: not a column payload (bad magic)")
    _, n_head, n_side, n_stream = COLUMN_PREFIX.unpack_from(payload)
    if COLUMN_PREFIX.size + n_head + n_side + n_stream != len(payload):
        raise ContainerError(f"column {name!r}: the payload's sizes do not add up")
    start = COLUMN_PREFIX.size
    try:
        head = json.loads(payload[start : start + n_head])
        kind = Kind(head["kind"])
        rows = head["rows"]
        dtype = np.dtype(head["dtype"])
    # numpy's dtype parser raises SyntaxError on texts such as ",f4"; json RecursionError on deep nesting
    except (ValueError, KeyError, TypeError, SyntaxError, RecursionError) as exc:
        raise ContainerError(f"column {name!r}: invalid payload header ({exc})") from None
    if head.get("format") != COLUMN_FORMAT:
        raise ContainerError(f"column {name!r}: payload format {head.get('format')!r}, this version reads 1")
    plain = dtype.fields is None and dtype.subdtype is None
    if type(rows) is not int or not 0 <= rows < 1 << 40 or not plain or dtype.kind not in _DTYPE_KINDS[kind]:
        raise ContainerError(f"column {name!r}: invalid rows or dtype in the payload header")
    side = payload[start + n_head : start + n_head + n_side]
    h = ColumnHeader(kind, rows, dtype, head, side, payload[start + n_head + n_side :])
    return h if kind == Kind.BYTES else _coded_fields(h, name)


def _coded_fields(h: ColumnHeader, name: str) -> ColumnHeader:
    """``h`` with the fields of a coded (not BYTES) column, each checked."""
    head = h.head
    try:
        predictor = Predictor(head["predictor"])
        ranks, digest = head["ranks"], head["xxh64"]
    except (KeyError, ValueError, TypeError) as exc:
        raise ContainerError(f"column {name!r}: invalid payload header ({exc})") from None
    if type(ranks) is not int or ranks not in RANK_CHOICES or not isinstance(digest, str):
        raise ContainerError(f"column {name!r}: invalid rank contexts or digest in the payload header")
    if h.kind == Kind.INTEGER:
        if predictor == Predictor.RELATION:
            raise ContainerError(f"column {name!r}: an integer column is not coded from a relation")
        learned_int = _learned_fields(h, name) if predictor == Predictor.LEARNED else None
        return dataclasses.replace(h, predictor=predictor, ranks=ranks, digest=digest, learned=learned_int)
    step, n_exc, clip = head.get("step"), head.get("exceptions"), head.get("clip")
    if type(step) is not float or not (math.isfinite(step) and step > 0):
        raise ContainerError(f"column {name!r}: invalid step in the payload header")
    if type(n_exc) is not int or not 0 <= n_exc <= h.rows:
        raise ContainerError(f"column {name!r}: invalid exception count in the payload header")
    if h.kind == Kind.ABSOLUTE and not (
        isinstance(clip, list) and len(clip) == 2 and all(type(c) is float for c in clip)
    ):
        raise ContainerError(f"column {name!r}: invalid clip range in the payload header")
    bounds = (clip[0], clip[1]) if h.kind == Kind.ABSOLUTE and isinstance(clip, list) else None
    learned = _learned_fields(h, name) if predictor == Predictor.LEARNED else None
    raw = head.get("alphabet")
    alphabet = None
    if raw is not None:
        if not (
            isinstance(raw, list)
            and len(raw) == 2
            and all(type(v) is int for v in raw)
            and 0 < raw[0] <= MAX_ALPHABET
            and 0 < raw[1] <= len(h.stream)
            and predictor in (Predictor.RAW, Predictor.DELTA)
        ):
            raise ContainerError(f"column {name!r}: invalid alphabet in the payload header")
        alphabet = (raw[0], raw[1])
    exact = head.get("exact", False)
    if type(exact) is not bool or (exact and h.kind != Kind.RELATIVE):
        raise ContainerError(f"column {name!r}: invalid exact flag in the payload header")
    return dataclasses.replace(
        h,
        exact=exact,
        alphabet=alphabet,
        predictor=predictor,
        ranks=ranks,
        digest=digest,
        step=step,
        exceptions=n_exc,
        clip=bounds,
        learned=learned,
    )


def _learned_fields(h: ColumnHeader, name: str) -> tuple[int, int, int, int]:
    raw = h.head.get("learned")
    keys = ("offset", "signs", "words", "escapes")
    if not (isinstance(raw, dict) and all(type(raw.get(k)) is int for k in keys)):
        raise ContainerError(f"column {name!r}: invalid learned fields in the payload header")
    offset, signs, words, escapes = (int(raw[k]) for k in keys)
    if min(signs, words, escapes) < 0 or escapes > h.rows or signs + words + 8 * escapes != len(h.stream):
        raise ContainerError(f"column {name!r}: the learned stream's sizes do not add up")
    if (signs > 0) != (h.kind == Kind.RELATIVE):
        raise ContainerError(f"column {name!r}: sign groups belong to relative columns only")
    return offset, signs, words, escapes


def decode_column(
    payload: bytes | ColumnHeader,
    name: str,
    structure: Structure,
    prediction: npt.NDArray[Any] | None = None,
    learned: Conditional | None = None,
) -> npt.NDArray[Any]:
    """The values of a column payload (of ``structure.rows`` rows; or of its header, already
    parsed), checked against its digest; ``prediction``: the values its header's ``relation``
    gives (RELATION columns); ``learned``: the model's predictions (LEARNED columns)."""
    return decode_column_domain(payload, name, structure, prediction, learned)[0]


def decode_column_domain(
    payload: bytes | ColumnHeader,
    name: str,
    structure: Structure,
    prediction: npt.NDArray[Any] | None = None,
    learned: Conditional | None = None,
) -> tuple[npt.NDArray[Any], npt.NDArray[np.float64]]:
    """:func:`decode_column`, and the column's domain values (see :attr:`EncodedColumn.domain`)."""
    h = payload if isinstance(payload, ColumnHeader) else parse_column(payload, name)
    if h.rows != structure.rows:
        raise ContainerError(f"column {name!r} holds {h.rows} rows, its table {structure.rows}")
    if h.kind == Kind.BYTES or h.predictor is None:
        values = _decode_bytes(h, name)
        return values, _plain_domain(values)
    predictor, ranks = h.predictor, h.ranks
    if predictor == Predictor.LEARNED and (learned is None or learned.prediction.location.shape != (h.rows,)):
        raise ContainerError(f"column {name!r} is coded with a model this file is not read with")
    if h.kind == Kind.INTEGER:
        if predictor == Predictor.LEARNED and learned is not None:
            q = _learned_integers(h, name, learned)
        else:
            counts = structure.contexts(predictor, ranks)[1]
            groups = decode_groups(h.stream, counts, [name] * len(counts))
            q = structure.restore(structure.join(groups, predictor, ranks), predictor)
        values = q.astype(h.dtype) if h.dtype.kind != "b" else q.astype(np.uint8).view(np.bool_)
        domain = q.astype(np.float64)
    else:
        if predictor == Predictor.LEARNED and learned is not None:
            q, sign = _learned_symbols(h, name, structure, learned)
        else:
            qp = None
            if predictor == Predictor.RELATION:
                if prediction is None or prediction.shape != (h.rows,):
                    raise ContainerError(f"column {name!r} is coded from a relation its table does not give")
                qp = predicted_symbols(prediction, h.step, h.kind == Kind.RELATIVE, h.exact)
            q, sign = _quantised_symbols(h, name, structure, (predictor, ranks), qp)
        values = _dequantise(h, name, q, sign)
        domain = q.astype(np.float64) * h.step
    if _digest(values) != h.digest:
        raise ContainerError(f"column {name!r} does not decode to the values it was written with")
    return values, domain


def _decode_bytes(h: ColumnHeader, name: str) -> npt.NDArray[Any]:
    size = h.dtype.itemsize
    want = h.rows * size
    try:
        if zstandard.frame_content_size(h.side) != want:
            raise ContainerError(f"column {name!r}: the stored bytes have the wrong size")
        data = zstandard.ZstdDecompressor().decompress(h.side, max_output_size=want)
    except zstandard.ZstdError as exc:
        raise ContainerError(f"column {name!r} is corrupt: {exc}") from None
    return decode_transform(data, h.dtype.newbyteorder("<"), Transform.SHUFFLE).astype(
        h.dtype.newbyteorder("=")
    )


def _quantised_symbols(
    h: ColumnHeader, name: str, structure: Structure, how: tuple[Predictor, int], qp: I64 | None
) -> tuple[I64, I64 | None]:
    """The symbols (and sign symbols of a relative column) of a RAW, DELTA or RELATION column."""
    predictor, ranks = how
    relative = h.kind == Kind.RELATIVE
    counts = structure.contexts(predictor, ranks)[1]
    sign_counts = structure.contexts(Predictor.RAW, ranks)[1] if relative else []
    stream, alphabet = h.stream, None
    if h.alphabet is not None:
        alphabet = _read_alphabet(h, name)
        stream = stream[h.alphabet[1] :]
    groups = decode_groups(stream, sign_counts + counts, [name] * (len(counts) + len(sign_counts)))
    q = structure.restore(structure.join(groups[len(sign_counts) :], predictor, ranks), predictor)
    if alphabet is not None:
        if q.size and (int(q.min()) < 0 or int(q.max()) >= alphabet.size):
            raise ContainerError(f"column {name!r}: symbol indices outside its alphabet")
        q = alphabet[q]
    if qp is not None:
        q = q + qp
    sign = structure.join(groups[: len(sign_counts)], Predictor.RAW, ranks) if relative else None
    return q, sign


def _read_alphabet(h: ColumnHeader, name: str) -> I64:
    """The sorted alphabet of an indexed column (the stream's zstd prefix: int64 steps)."""
    if h.alphabet is None:  # pragma: no cover - only called for indexed columns
        raise ContainerError(f"column {name!r}: no alphabet")
    size, nbytes = h.alphabet
    frame = h.stream[:nbytes]
    try:
        if zstandard.frame_content_size(frame) != 8 * size:
            raise ContainerError(f"column {name!r}: the alphabet has the wrong size")
        data = zstandard.ZstdDecompressor().decompress(frame, max_output_size=8 * size)
    except zstandard.ZstdError as exc:
        raise ContainerError(f"column {name!r}: the alphabet is corrupt ({exc})") from None
    steps = np.frombuffer(data, dtype="<i8").astype(np.int64)
    if steps.size > 1 and (steps[1:] <= 0).any():
        raise ContainerError(f"column {name!r}: the alphabet is not increasing")
    if (steps.size and abs(int(steps[0])) > MAX_SYMBOL) or int(steps.sum()) > 2 * MAX_SYMBOL:
        raise ContainerError(f"column {name!r}: the alphabet is out of range")
    out: I64 = np.cumsum(steps)
    return out


def _learned_symbols(
    h: ColumnHeader, name: str, structure: Structure, learned: Conditional
) -> tuple[I64, I64 | None]:
    """The symbols (and sign symbols) of a LEARNED column."""
    if h.learned is None:  # pragma: no cover - parse_column sets it for LEARNED columns
        raise ContainerError(f"column {name!r}: no learned fields")
    n_signs = h.learned[1]
    sign = None
    rows = np.ones(h.rows, dtype=bool)
    if h.kind == Kind.RELATIVE:
        counts = structure.contexts(Predictor.RAW, RANK_CHOICES[0])[1]
        sign = structure.join(decode_groups(h.stream[:n_signs], counts, [name] * len(counts)), Predictor.RAW)
        if sign.size and (int(sign.min()) < 0 or int(sign.max()) > 2):
            raise ContainerError(f"column {name!r}: invalid sign symbols")
        rows = sign != 0
    q = np.zeros(h.rows, dtype=np.int64)
    q[rows] = _learned_residuals(h, name, learned.select(rows), learned)
    return q, sign


def _learned_residuals(h: ColumnHeader, name: str, prediction: Prediction, learned: Conditional) -> I64:
    """The symbols a LEARNED column's ANS words and escapes (after its sign groups) decode to
    under ``prediction`` (its coded rows' predictions); inverse of :func:`_learned_stream`."""
    if h.learned is None:  # pragma: no cover - parse_column sets it for LEARNED columns
        raise ContainerError(f"column {name!r}: no learned fields")
    offset, n_signs, n_words, n_escapes = h.learned
    words = h.stream[n_signs : n_signs + n_words]
    escapes = np.frombuffer(h.stream[n_signs + n_words :], dtype="<i8", count=n_escapes).astype(np.int64)
    return decode_residuals(words, escapes, prediction, h.step, offset, learned.tables, name)


def _learned_integers(h: ColumnHeader, name: str, learned: Conditional) -> I64:
    """The values of a LEARNED integer column (step 1, no signs)."""
    q = _learned_residuals(h, name, learned.prediction, learned)
    info = np.iinfo(h.dtype) if h.dtype.kind in "iu" else None
    if info is not None and q.size and (int(q.min()) < info.min or int(q.max()) > info.max):
        raise ContainerError(f"column {name!r}: decoded values outside {h.dtype}")
    return q


def _dequantise(h: ColumnHeader, name: str, q: I64, sign: I64 | None) -> npt.NDArray[Any]:
    """The values of symbols ``q`` (and signs), clipped, with the exceptions restored."""
    step, n_exc = h.step, h.exceptions
    values: npt.NDArray[Any]
    with np.errstate(over="ignore", invalid="ignore"):
        if sign is not None:
            # files of format 6 were decoded with numpy's exp: their digests are of those values
            v = exact_exp(q.astype(np.float64) * step) if h.exact else np.exp(q * step)
            v[sign == 2] *= -1.0
            v[sign == 0] = 0.0
            values = v.astype(h.dtype)
        else:
            values = (q * step).astype(h.dtype)
            lo, hi = h.clip if h.clip is not None else (-math.inf, math.inf)
            np.clip(values, h.dtype.type(lo), h.dtype.type(hi), out=values)
    if n_exc:
        rows, exact = _exceptions(h, name, n_exc)
        values[rows] = exact
    return values


def _exceptions(h: ColumnHeader, name: str, n_exc: int) -> tuple[I64, npt.NDArray[Any]]:
    """The rows and exact values of a column's exceptions (one zstd frame: row steps, then values)."""
    want = n_exc * (8 + h.dtype.itemsize)
    try:
        if zstandard.frame_content_size(h.side) != want:
            raise ContainerError(f"column {name!r}: the exceptions have the wrong size")
        data = zstandard.ZstdDecompressor().decompress(h.side, max_output_size=want)
    except zstandard.ZstdError as exc:
        raise ContainerError(f"column {name!r}: the exceptions are corrupt ({exc})") from None
    rows = np.cumsum(np.frombuffer(data, dtype="<i8", count=n_exc))
    if rows.size and (int(rows[0]) < 0 or int(rows[-1]) >= h.rows or (np.diff(rows) <= 0).any()):
        raise ContainerError(f"column {name!r}: exception positions out of range")
    raw = np.frombuffer(data, dtype=h.dtype.newbyteorder("<"), count=n_exc, offset=8 * n_exc)
    return rows.astype(np.int64), raw.astype(h.dtype.newbyteorder("="))


def column_bits(payload: bytes, name: str) -> dict[str, Any]:
    """What a column payload holds: kind, rows, bytes, bits per value, exceptions, predictor."""
    h = parse_column(payload, name)
    return {
        "kind": h.kind.value,
        "rows": h.rows,
        "bytes": len(payload),
        "bits_per_value": 8 * len(payload) / h.rows if h.rows else 0.0,
        "exceptions": h.exceptions,
        "predictor": h.predictor.name.lower() if h.predictor is not None else None,
    }


def same_bits(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> bool:
    """Whether two arrays hold the same values bit for bit."""
    return a.dtype == b.dtype and a.shape == b.shape and bool((bits(a) == bits(b)).all())


__all__ = [
    "COLUMN_FORMAT",
    "COLUMN_MAGIC",
    "COLUMN_PREFIX",
    "ColumnHeader",
    "EncodedColumn",
    "Kind",
    "Predictor",
    "Quantised",
    "Structure",
    "column_bits",
    "decode_column",
    "decode_column_domain",
    "encode_column",
    "parse_column",
    "quantise",
    "same_bits",
]
