"""Error-bounded coding of jets (E, pt, eta, phi): uniform quantisation that meets a per-variable
bound by construction, then event-level context modelling and entropy coding.

Every value is quantised in the space where its bound is uniform: ``ln x`` with step
``2 ln(1 + eps)`` for a relative bound, ``x`` with step ``2 eps`` for an absolute one (phi wraps at
+-pi), both shrunk by a margin that covers float32 rounding of the decoded value. E is coded as the
step from the massless prediction ``pt cosh(eta)`` of the already decoded pt and eta. The integer
symbols are split into groups by context, each with its own statistics:

- ``pt``: the leading jet of each event alone, the others as the step down from the previous jet
  (jets in descending pt make these small non-negative numbers);
- ``eta``: by rank in the event (1, 2, 3+);
- ``phi``: the leading jet alone, the others relative to it (back-to-back jets), by rank;
- ``E``: by |eta| and pt bin of the jet (100 contexts).

Two entropy coders, both libraries: groups with small alphabets (most E contexts) use
``constriction``'s ANS with a count table fitted on the data and stored in the payload; groups with
wider alphabets (pt, eta, phi) are split into a 7-bit high part and low bits and coded by zstd's
Huffman literal coder (level 1, where it finds no matches), whose 128 kB blocks carry their own
tables. The Huffman coder costs ~1% more bytes than static ANS on these groups but decodes ~30x
faster (constriction's categorical decoder searches its table per symbol: 25-40 ns for 64-1024
bins, ~4 symbols per jet), which is what lets the codec run faster than SZ3; a wide group still
takes ANS where that is estimated 3% smaller (peaked symbols, coarse bounds). Payloads of more than
:data:`BLOCK_ROWS` rows are cut into blocks coded on parallel threads. Symbols outside a
group's central range (at most 1e-4 of them) are escaped and stored exactly, so that an outlier does
not widen everyone's alphabet.

Values that cannot be quantised (NaN, inf, values <= 0 under a relative bound) or that miss the
bound after float32 rounding are stored exactly as exceptions. The decoder uses only IEEE float64
arithmetic, numpy's ``exp``/``cosh`` and integer operations; the payload records an xxh64 of the
decoded values so a decoder on another machine can prove it reproduced them bit for bit.

Files: :mod:`hepsqueeze.codecs.bounded.codec` (the codec in the file layer, data format 5).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import struct
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt
import xxhash
import zstandard

from hepsqueeze.codecs.bounded.bounds import VARIABLES, JetBounds
from hepsqueeze.cores import usable_cores
from hepsqueeze.errors import ConfigError, ContainerError, InputError
from hepsqueeze.metrics.bound_check import bits
from hepsqueeze.metrics.delta_phi import wrap_phi

#: Payload format written. 3: phi is coded around the branch the input uses ([-pi, pi) or
#: [0, 2 pi), ``phi_offset``) and decoded on it without wrapping; values off it are exceptions.
FORMAT: Final = 3
#: Payload formats read (2: phi decoded wrapped into [-pi, pi)).
READ_FORMATS: Final = (2, 3)
#: Largest |symbol| quantised: values further out (huge |eta| or pt, bounds far below a value's
#: precision) are exceptions, so symbols, their differences and low-bit counts stay well inside
#: int64 and the reader's 40-bit limit.
MAX_SYMBOL: Final = 1 << 36
MAGIC: Final = b"HSQB"
#: Magic of a payload of several blocks (each a payload of its own, starting with MAGIC).
BLOCKS_MAGIC: Final = b"HSQK"
#: Magic of a block stored losslessly (bounds finer than float32 can use: see _encode_block).
RAW_MAGIC: Final = b"HSQR"
_RAW_LEVEL: Final = 9
#: Rows above which a payload is cut into blocks, coded and decoded in parallel threads.
BLOCK_ROWS: Final = 1 << 18
#: Groups whose central range has at most this many symbols are ANS-coded, wider ones Huffman-coded.
#: 16: ANS where Huffman loses most (peaked E contexts); measured on 1M jets at 1e-3, 64 gives
#: 0.2% smaller files but decodes 20% slower (constriction holds the GIL, so it also serialises
#: the threads).
ANS_MAX_BINS: Final = 16
#: Wider groups take ANS only where its estimated size is below this fraction of Huffman's.
ANS_GAIN: Final = 0.97
#: Largest ANS table; wider symbol ranges code their low bits uniformly.
TABLE_BINS: Final = 1024
#: constriction's uniform model takes at most 2^24 values; wider low parts go to Huffman.
ANS_LOW_BITS: Final = 16
#: At most this fraction of a group's symbols is escaped (stored exactly) to keep its range narrow.
ESCAPE_FRACTION: Final = 1e-4
#: zstd level of the Huffman-coded groups: level 1 spends no effort on matches that are not there.
HUFFMAN_LEVEL: Final = 1
# Side information (descriptors, tables, escapes, exceptions): compressed hard in small blocks,
# where it weighs; level 19 takes ~8 ms on a large block's 20 kB, level 9 0.7 ms for ~0.02% more.
_SIDE_LEVEL_SMALL: Final = 19
_SIDE_LEVEL: Final = 9
_SMALL_BLOCK: Final = 1 << 16


class Coder(IntEnum):
    """How a group's symbols are entropy coded (the descriptor's ``coder`` field)."""

    NONE = 0  # every symbol the same: nothing stored
    ANS = 1  # constriction's ANS with a count table in the payload
    HUFFMAN = 2  # zstd's Huffman literal coder, one or two frames


#: Byte layouts. A block payload: magic, then the sizes of the JSON header, of the zstd side
#: information and of the entropy-coded stream, then those three.
BLOCK_PREFIX: Final = struct.Struct("<4sIII")
#: A multi-block payload: magic and the block count, then (rows, bytes) of each block as two
#: little-endian uint64, then the blocks.
BLOCKS_PREFIX: Final = struct.Struct("<4sI")
BLOCKS_ENTRY: Final = struct.Struct("<QQ")
#: A raw (lossless float32) payload: magic and the row count, then one zstd frame.
RAW_PREFIX: Final = struct.Struct("<4sQ")
MAGIC_BYTES: Final = 4
#: Most blocks a multi-block payload may hold.
MAX_BLOCKS: Final = 1 << 20
#: Huffman groups: high codes 0..126, 127 = escape. A 7-bit high part keeps zstd's Huffman stage
# worth its while on near-uniform groups (phi), where with 8 bits it stores blocks raw (-1.0% size).
ESC_HIGH: Final = 127
# Substitutes quantised in place of exception values (their exact bits are restored after decoding).
_SUBSTITUTE: Final = {"E": 1.0, "pt": 1.0, "eta": 0.0, "phi": 0.0}
_DESC: Final = 6  # count, lo, k, coder, bins, escapes

log = logging.getLogger(__name__)

I64 = npt.NDArray[np.int64]
#: Symbol arrays: int32 when every symbol of a block fits (half the memory traffic), else int64.
Ints = npt.NDArray[np.signedinteger[Any]]
# Symbols below this in magnitude make a block "narrow" (int32; differences and sums stay in range).
_NARROW: Final = 2**29
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
_T = TypeVar("_T")


# ----------------------------------------------------------------------------- quantisation


def quantisation_steps(
    bounds: JetBounds, cols: list[F64], valid: list[Mask], phi_top: float
) -> dict[str, float]:
    """Quantisation steps, shrunk so that float32 rounding of the decoded value stays in bound
    (``phi_top``: the largest |phi| decoded, pi or 2 pi)."""
    f32 = 2.0**-23
    out: dict[str, float] = {}
    for j, v in enumerate(VARIABLES):
        b = getattr(bounds, v)
        if b.kind == "relative":
            margin = min(0.5, 1e-4 + 2 * f32 / b.value)
            out[v] = 2.0 * math.log1p(b.value) * (1.0 - margin)
        else:
            size = np.abs(cols[j])
            top = float(np.max(size, where=valid[j], initial=0.0))
            if 2 * top * f32 / b.value > 0.01:
                # a few huge values would shrink everyone's step: size it for all but 1e-4 of
                # them; the rest may miss the bound after rounding and become exceptions
                finite = size[valid[j]]
                k = finite.size - 1 - int(finite.size * 1e-4)
                top = float(np.partition(finite, k)[k])
            scale = max(top, phi_top if v == "phi" else 0.0)
            margin = min(0.5, 1e-4 + 2 * scale * f32 / b.value)
            out[v] = 2.0 * b.value * (1.0 - margin)
    return out


# In place where possible: fresh megabyte arrays cost page faults, a large part of these passes.
def _pt_eta(q_pt: npt.NDArray[Any], q_eta: npt.NDArray[Any], steps: dict[str, float]) -> tuple[F32, F32]:
    g = np.multiply(q_pt, steps["pt"])
    pt32 = np.exp(g, out=g).astype(np.float32)
    eta32 = np.multiply(q_eta, steps["eta"], out=g).astype(np.float32)
    return pt32, eta32


def _prediction(pt32: F32, eta32: F32) -> F64:
    """The massless energy ``pt cosh(eta)`` of the decoded float32 pt and eta (GeV)."""
    c = eta32.astype(np.float64)
    np.cosh(c, out=c)
    return np.multiply(c, pt32, out=c)


def _energy(pred: F64, q_e: npt.NDArray[Any], steps: dict[str, float]) -> F32:
    r = np.multiply(q_e, steps["E"])
    np.exp(r, out=r)
    e32: F32 = np.multiply(r, pred, out=r).astype(np.float32)
    return e32


#: The interval of decoded phi of each branch (offset 0: [-pi, pi]; offset pi: [0, 2 pi]), as the
#: float32 values nearest the ends: clipping there only ever moves a value towards its original.
_PHI_RANGE: Final = {
    0.0: (float(np.float32(-math.pi)), float(np.float32(math.pi))),
    math.pi: (0.0, float(np.float32(2 * math.pi))),
}


def _phi(q_phi: npt.NDArray[Any], steps: dict[str, float], offset: float | None) -> F32:
    """Decoded phi: on the input's branch (``offset`` 0 or pi, payload format 3), or wrapped into
    [-pi, pi) (``None``: payload format 2)."""
    phi64 = q_phi * steps["phi"]
    if offset is None:
        np.subtract(phi64, 2 * math.pi, out=phi64, where=phi64 >= math.pi)
        np.add(phi64, 2 * math.pi, out=phi64, where=phi64 < -math.pi)
        return phi64.astype(np.float32)
    lo, hi = _PHI_RANGE[offset]
    phi64 += offset
    np.clip(phi64, lo, hi, out=phi64)
    return phi64.astype(np.float32)


def _phi_offset(phi: F64, valid: Mask) -> float:
    """pi where every finite phi lies in [0, 2 pi) and some beyond pi (the [0, 2 pi) convention),
    else 0 ([-pi, pi))."""
    finite = phi[valid]
    if (
        finite.size
        and float(finite.min()) >= 0.0
        and _PHI_RANGE[0.0][1] < float(finite.max()) <= _PHI_RANGE[math.pi][1]
    ):
        return math.pi
    return 0.0


def _assemble(e32: F32, pt32: F32, eta32: F32, phi32: F32) -> F32:
    out = np.empty((pt32.size, 4), dtype=np.float32)
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = e32, pt32, eta32, phi32
    return out


def _quantise(
    cols: list[F64], valid: list[Mask], steps: dict[str, float], phi_offset: float
) -> tuple[dict[str, Ints], F32, bool]:
    """The integer symbols of every value (whole float64 numbers, then int32 if all are narrow),
    the float32 values they decode to, and whether the symbols are narrow. ``cols[3]`` is phi
    already shifted and wrapped into [-pi, pi) (see :func:`_encode_quantised`)."""
    f: dict[str, F64] = {}
    for j, v in enumerate(VARIABLES[1:], start=1):
        col = np.where(valid[j], cols[j], _SUBSTITUTE[v])
        g = np.log(col, out=col) if v == "pt" else col
        f[v] = np.rint(np.divide(g, steps[v], out=g), out=g)
        # beyond MAX_SYMBOL: the substitute's symbol (0); the value becomes an exception
        f[v][~(np.abs(f[v]) <= MAX_SYMBOL)] = 0.0
        f[v] += 0.0  # -0.0 -> 0.0: the decoder's integers have no sign of zero
    # huge |eta| or pt overflow the prediction to inf (or 0): E is stored as an exception then
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        pt32, eta32 = _pt_eta(f["pt"], f["eta"], steps)
        pred = _prediction(pt32, eta32)
        ratio = np.where(valid[0], cols[0] / pred, 1.0)
        q_e = np.rint(np.log(ratio) / steps["E"])
    f["E"] = np.where(np.abs(q_e) <= MAX_SYMBOL, q_e, 0.0)  # NaN compares false: 0
    narrow = _phi_period(steps) < _NARROW and all(
        float(a.max(initial=0.0)) < _NARROW and float(a.min(initial=0.0)) > -_NARROW for a in f.values()
    )
    dtype = np.int32 if narrow else np.int64
    q: dict[str, Ints] = {v: a.astype(dtype) for v, a in f.items()}
    with np.errstate(over="ignore", invalid="ignore"):
        values = _assemble(_energy(pred, f["E"], steps), pt32, eta32, _phi(f["phi"], steps, phi_offset))
    return q, values, narrow


def _violations(cols: list[F64], y: F32, bounds: JetBounds) -> Mask:
    """Values of ``y`` outside the bound around the inputs (``(rows, 4)``); non-finite inputs too.
    phi too is compared without wrapping: a value must come back on its own branch."""
    bad = np.zeros(y.shape, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        for j, v in enumerate(VARIABLES):
            b = getattr(bounds, v)
            x = cols[j]
            d = np.abs(y[:, j].astype(np.float64) - x)
            err = d / np.abs(x) if b.kind == "relative" else d
            bad[:, j] = ~(err <= b.value)
            if bounds.floor(v):
                bad[:, j] &= ~(d <= bounds.floor(v))
    return bad


# ----------------------------------------------------------------------------- contexts


@dataclass
class _Runs:
    """The event structure of the rows: runs of equal event numbers."""

    first: npt.NDArray[np.intp]  # index of each run's first row
    start: npt.NDArray[np.intp]  # per row: index of its run's first row
    order: npt.NDArray[np.intp]  # rows by rank in their run (0, 1, 2 = 3+), stable
    counts: list[int]  # rows of rank 0, 1, 2+


def _structure(event: I64) -> _Runs:
    n = event.size
    is_first = np.ones(n, dtype=bool)
    if n > 1:
        np.not_equal(event[1:], event[:-1], out=is_first[1:])
    first = np.flatnonzero(is_first)
    lengths = np.diff(first, append=n)
    start = np.repeat(first, lengths)
    second = first[lengths >= 2] + 1
    rest = is_first
    rest[second] = True  # rows of rank >= 2: neither first nor second
    rest = np.flatnonzero(~rest)
    return _Runs(first, start, np.concatenate([first, second, rest]), [first.size, second.size, rest.size])


def _e_context(q_pt: Ints, q_eta: Ints, steps: dict[str, float]) -> npt.NDArray[np.uint8]:
    """E context 0..99 from the integer symbols: |eta| in ~0.5 bins (10) x ln pt in ~0.5 bins from
    ln pt = 3 (10). Lookup tables on the clipped symbols: integer division is slow in numpy."""
    qe = max(1, round(0.5 / steps["eta"]))
    qp = max(1, round(0.5 / steps["pt"]))
    q3 = round(3.0 / steps["pt"])
    if 10 * max(qe, qp) <= 1 << 16:
        eta_tab = (np.abs(np.arange(-9 * qe, 9 * qe + 1)) // qe * 10).astype(np.uint8)
        pt_tab = (np.arange(10 * qp) // qp).astype(np.uint8)
        eta_bin = eta_tab[np.minimum(np.maximum(q_eta, -9 * qe), 9 * qe) + 9 * qe]
        pt_bin = pt_tab[np.minimum(np.maximum(q_pt - q3, 0), 10 * qp - 1)]
    else:  # tiny steps: the same bins by division
        eta_bin = (np.minimum(np.abs(q_eta.astype(np.int64)) // qe, 9) * 10).astype(np.uint8)
        pt_bin = np.minimum(np.maximum(q_pt.astype(np.int64) - q3, 0) // qp, 9).astype(np.uint8)
    ctx: npt.NDArray[np.uint8] = eta_bin + pt_bin
    return ctx


def _context_order(ctx: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.intp], I64]:
    """Rows sorted by context (stable, radix sort on uint8) and the row count of each context."""
    return np.argsort(ctx, kind="stable"), np.bincount(ctx, minlength=100).astype(np.int64)


def _phi_period(steps: dict[str, float]) -> int:
    return math.ceil(2 * math.pi / steps["phi"]) + 2


def _centre(q: Ints, period: int) -> Ints:
    """``q`` (in ``(-1.5 period, 1.5 period)``) mapped into ``[half - period + 1, half]``, in place."""
    half = period // 2
    np.subtract(q, period, out=q, where=q > half)
    np.add(q, period, out=q, where=q <= half - period)
    return q


#: Names of the symbol groups, in payload order (the payload stores groups by position): pt of
#: leading jets and steps down for the others, eta (contexts by rank gain < 0.1%), phi by rank,
#: E by context.
GROUP_NAMES: Final = (
    "pt/first",
    "pt/step",
    "eta",
    *(f"phi/{r}" for r in range(3)),
    *(f"E/{c}" for c in range(100)),
)


def _groups(q: dict[str, Ints], event: I64, steps: dict[str, float]) -> list[Ints]:
    """The symbols of each group of :data:`GROUP_NAMES`, in that order."""
    runs = _structure(event)
    first, (n0, n1, _) = runs.first, runs.counts
    q_pt = q["pt"]
    d_pt = np.empty_like(q_pt)
    if q_pt.size:
        np.subtract(q_pt[:-1], q_pt[1:], out=d_pt[1:])
        d_pt[first] = q_pt[first]
    d_phi = _centre(q["phi"] - q["phi"][runs.start], _phi_period(steps))
    d_phi[first] = q["phi"][first]
    pt_r, phi_r = d_pt[runs.order], d_phi[runs.order]
    e_rows, e_counts = _context_order(_e_context(q_pt, q["eta"], steps))
    e_sorted = q["E"][e_rows]
    e_cuts = np.cumsum(e_counts)[:-1]
    return [
        pt_r[:n0],
        pt_r[n0:],
        q["eta"],
        *np.split(phi_r, (n0, n0 + n1)),
        *np.split(e_sorted, e_cuts),
    ]


# ----------------------------------------------------------------------------- entropy coding


@dataclass
class GroupPlan:
    """How one group is coded: ``sym = lo + (high << k) + low``, escapes stored exactly."""

    count: int
    lo: int = 0
    k: int = 0
    coder: Coder = Coder.NONE
    table: npt.NDArray[np.uint32] | None = None  # ANS: counts of codes 0..bins-1 (last = escape)
    codes: npt.NDArray[np.int32] | None = None  # ANS high codes
    low: npt.NDArray[np.int32] | None = None  # ANS low bits (k of them, uniform)
    frames: tuple[bytes, ...] = ()  # Huffman: zstd frame of the high part, packed low bits
    escapes: Ints | None = None

    def descriptor(self) -> tuple[int, int, int, int, int, int]:
        bins = 0 if self.table is None else int(self.table.size)
        n_esc = 0 if self.escapes is None else int(self.escapes.size)
        return (self.count, self.lo, self.k, self.coder, bins, n_esc)


def _central_range(sym: Ints) -> tuple[int, int]:
    """``[lo, hi]`` holding all but at most ``ESCAPE_FRACTION`` of the symbols, trimmed evenly."""
    lo, hi = int(sym.min()), int(sym.max())
    budget = int(sym.size * ESCAPE_FRACTION)
    if budget == 0 or hi - lo < ANS_MAX_BINS:
        return lo, hi
    if hi - lo < 1 << 22:
        cdf = np.cumsum(np.bincount(sym - lo))
        low_cut = int(np.searchsorted(cdf, budget // 2, side="right"))
        high_cut = int(np.searchsorted(cdf, sym.size - (budget - budget // 2), side="left"))
        return lo + low_cut, lo + max(high_cut, low_cut)
    part = np.partition(sym, (budget // 2, sym.size - 1 - (budget - budget // 2)))
    return int(part[budget // 2]), int(part[sym.size - 1 - (budget - budget // 2)])


def plan_group(sym: Ints) -> GroupPlan:
    """Huffman for wide groups unless ANS (with the count table it must store) would be clearly
    smaller, which happens where symbols carry few bits (peaked steps, coarse bounds)."""
    if sym.size == 0:
        return GroupPlan(0)
    lo, hi = _central_range(sym)
    rel = sym - lo
    outside = (rel < 0) | (rel > hi - lo)
    escapes = sym[outside] if outside.any() else None
    if escapes is not None:
        rel[outside] = 0  # a placeholder: the escape code says where the stored symbol goes
    width = hi - lo + 1
    if width == 1 and escapes is None:
        return GroupPlan(sym.size, lo)  # one value: nothing to code
    k_ans = _split_bits(width - 1, rel.size)
    if width <= ANS_MAX_BINS:
        return _ans_plan(rel, outside, escapes, lo, width, k=k_ans)
    huffman = _huffman_plan(rel, outside, escapes, lo, width)
    if k_ans > ANS_LOW_BITS:
        return huffman
    # the ANS table from the placeholders' histogram, without building the codes
    table = np.bincount(rel >> k_ans, minlength=((width - 1) >> k_ans) + 2).astype(np.uint32)
    n_esc = 0 if escapes is None else escapes.size
    table[0] -= n_esc
    table[-1] = n_esc
    if _ans_bytes(table, k_ans) < ANS_GAIN * sum(map(len, huffman.frames)):
        return _ans_plan(rel, outside, escapes, lo, width, k=k_ans)
    return huffman


def plan_group_sized(sym: Ints) -> GroupPlan:
    """:func:`plan_group`, or an ANS plan with fewer low bits where its estimated bytes (table
    included) are smaller: peaked symbols over a wide span in small groups, whose low bits are far
    from uniform. (The codec of every column uses it; the jet codec keeps :func:`plan_group`, so
    its files stay byte for byte as they were.)"""
    base = plan_group(sym)
    if sym.size == 0 or base.coder == Coder.NONE:
        return base
    lo, hi = _central_range(sym)
    width = hi - lo + 1
    if width <= ANS_MAX_BINS or width > 1 << 16:
        return base
    rel = sym - lo
    outside = (rel < 0) | (rel > hi - lo)
    escapes = sym[outside] if outside.any() else None
    if escapes is not None:
        rel[outside] = 0
    n_esc = 0 if escapes is None else escapes.size
    best: tuple[float, int] | None = None
    for k in range(_split_bits(width - 1, rel.size) + 1):
        if ((width - 1) >> k) + 2 > TABLE_BINS + 2:
            continue  # readers take at most TABLE_BINS + 2 bins (a larger table never decoded)
        table = np.bincount(rel >> k, minlength=((width - 1) >> k) + 2).astype(np.uint32)
        table[0] -= n_esc
        table[-1] = n_esc
        cost = _ans_bytes(table, k)
        if best is None or cost < best[0]:
            best = (cost, k)
    if best is None:
        return base
    if base.coder == Coder.ANS and base.table is not None:
        base_cost = _ans_bytes(base.table, base.k)
    else:
        base_cost = float(sum(map(len, base.frames)))
    if best[0] >= ANS_GAIN * base_cost:
        return base
    return _ans_plan(rel, outside, escapes, lo, width, k=best[1])


def _ans_plan(rel: Ints, outside: Mask, escapes: Ints | None, lo: int, width: int, *, k: int) -> GroupPlan:
    top = ((width - 1) >> k) + 1  # the escape code
    high = (rel >> k).astype(np.int32)
    low = (rel & ((1 << k) - 1)).astype(np.int32) if k else None
    if escapes is not None:
        high[outside] = top
    table = np.bincount(high, minlength=top + 1).astype(np.uint32)
    return GroupPlan(rel.size, lo, k, Coder.ANS, table, high, low=low, escapes=escapes)


def _huffman_plan(rel: Ints, outside: Mask, escapes: Ints | None, lo: int, width: int) -> GroupPlan:
    k = max(0, (width - 1).bit_length() - 7)
    if (width - 1) >> k >= ESC_HIGH:
        k += 1
    high = (rel >> k).astype(np.uint8)
    if escapes is not None:
        high[outside] = ESC_HIGH
    zc = zstandard.ZstdCompressor(level=HUFFMAN_LEVEL, write_checksum=False)
    frames = (zc.compress(high.tobytes()), *((pack_low(rel, k),) if k else ()))
    return GroupPlan(rel.size, lo, k, Coder.HUFFMAN, frames=frames, escapes=escapes)


# The low bits are close to uniform: packed k bits per symbol they cost exactly k bits. (Huffman
# coding them as bytes costs up to 1.5x that where k is 1-2: zstd finds spurious matches.) They are
# stored as k bit planes, which numpy packs and unpacks ~10x faster than one interleaved stream.
def pack_low(rel: Ints, k: int) -> bytes:
    """The low ``k`` bits of every symbol as ``k`` bit planes (least significant first), each
    ``ceil(n / 8)`` bytes, bits in little-endian order."""
    low = (rel & ((1 << k) - 1)).astype(f"<u{_low_itemsize(k)}")
    return b"".join(np.packbits((low >> j) & 1, bitorder="little").tobytes() for j in range(k))


def unpack_low(data: bytes, count: int, k: int) -> npt.NDArray[np.unsignedinteger[Any]]:
    """Inverse of :func:`pack_low` (``data`` must be ``k * ceil(count / 8)`` bytes)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    size = (count + 7) // 8
    out: npt.NDArray[np.unsignedinteger[Any]] = np.zeros(count, dtype=f"<u{_low_itemsize(k)}")
    for j in range(k):
        plane = np.unpackbits(buf[j * size : (j + 1) * size], count=count, bitorder="little")
        out |= plane.astype(out.dtype) << j
    return out


def _low_itemsize(k: int) -> int:
    return next(size for size in (1, 2, 4, 8) if 8 * size >= k)


def _split_bits(span: int, count: int) -> int:
    """Low bits coded uniformly so that an ANS table has at most ``TABLE_BINS`` entries, and fewer for
    small groups (about one per 256 symbols): a table must cost less than the bits it saves."""
    limit = max(16, min(TABLE_BINS, count // 256))
    return max(0, int(span // limit).bit_length())


def _ans_bytes(table: npt.NDArray[np.uint32], k: int) -> float:
    """Estimated bytes of ANS codes with this count table: their empirical entropy, ``k`` low bits
    each, and the table itself."""
    c = table[table > 0].astype(np.float64)
    n = float(c.sum())
    return (n * math.log2(n) - float((c * np.log2(c)).sum()) + n * k) / 8 + 2 * table.size


def ans_model(counts: npt.NDArray[np.uint32]) -> Any:
    """constriction's categorical model of a count table (as the encoder and decoder build it)."""
    import constriction

    return constriction.stream.model.Categorical(counts.astype(np.float64), perfect=False)


def entropy_code(plans: list[GroupPlan]) -> tuple[bytes, list[int], bytes]:
    """The ANS words, the byte length of every Huffman frame, and the frames."""
    import constriction

    coder = constriction.stream.stack.AnsCoder()
    # ANS is a stack: encode the groups in reverse so that they decode in order (high, then low bits).
    for p in reversed(plans):
        if p.coder != Coder.ANS or p.table is None:
            continue
        if p.low is not None:
            coder.encode_reverse(p.low, constriction.stream.model.Uniform(1 << p.k))
        if p.table.size > 1:
            coder.encode_reverse(p.codes, ans_model(p.table))
    words = coder.get_compressed().astype("<u4").tobytes()
    frames = [f for p in plans for f in p.frames]
    return words, [len(f) for f in frames], b"".join(frames)


def encode_jets(
    event: npt.ArrayLike,
    x: npt.ArrayLike,
    bounds: JetBounds,
    *,
    block_rows: int = BLOCK_ROWS,
    threads: int | None = None,
) -> bytes:
    """Code jets ``x`` ``(rows, 4)`` (E, pt GeV; eta; phi rad) within ``bounds``; ``event`` ``(rows,)``.

    The event column is not stored: the caller keeps it (the decoder needs it). More than
    ``block_rows`` rows are cut, at event boundaries, into blocks of about equal size that are coded
    independently, on ``threads`` threads (default: the CPUs this process may use). The blocks
    depend on the data only, so the payload is the same on every machine. Returns the payload,
    which has been decoded and checked against every bound before it is returned.
    """
    return encode_jets_checked(event, x, bounds, block_rows=block_rows, threads=threads)[0]


def encode_jets_checked(
    event: npt.ArrayLike,
    x: npt.ArrayLike,
    bounds: JetBounds,
    *,
    block_rows: int = BLOCK_ROWS,
    threads: int | None = None,
) -> tuple[bytes, F32]:
    """:func:`encode_jets`, and the ``(rows, 4)`` float32 values that the payload decodes to (decoded
    from its bytes: what :func:`decode_jets` returns)."""
    ev = np.asarray(event, dtype=np.int64)
    original = np.asarray(x, dtype=np.float32)
    if original.ndim != 2 or original.shape[1] != 4 or ev.shape != (original.shape[0],):
        raise InputError(f"expected event (rows,) and values (rows, 4), got {ev.shape} and {original.shape}")
    if block_rows < 1:
        raise ConfigError(f"block_rows must be positive, got {block_rows}")
    cuts = block_cuts(ev, block_rows)
    if len(cuts) == 2:
        return _encode_block(ev, original, bounds)
    spans = list(itertools.pairwise(cuts))
    coded = parallel_map(
        lambda s: _encode_block(ev[s[0] : s[1]], original[s[0] : s[1]], bounds), spans, threads
    )
    blocks = [p for p, _ in coded]
    table = np.array([(b - a, len(p)) for (a, b), p in zip(spans, blocks, strict=True)], dtype="<u8")
    payload = BLOCKS_PREFIX.pack(BLOCKS_MAGIC, len(blocks)) + table.tobytes() + b"".join(blocks)
    return payload, np.concatenate([v for _, v in coded])


def block_cuts(event: I64, block_rows: int) -> list[int]:
    """Row indices ``[0, ..., rows]`` that cut the rows into blocks at event boundaries."""
    n = event.size
    blocks = -(-n // block_rows)
    if blocks <= 1:
        return [0, n]
    starts = np.flatnonzero(event[1:] != event[:-1]) + 1
    want = [i * n // blocks for i in range(1, blocks)]
    snapped = [int(starts[j]) if j < starts.size else n for j in np.searchsorted(starts, want)]
    return sorted({0, n, *(c for c in snapped if 0 < c < n)})


def _workers(threads: int | None) -> int:
    """``threads``, else ``$HEPSQUEEZE_THREADS``, else the CPUs this process may use."""
    if threads is not None:
        if threads < 1:
            raise ConfigError(f"threads must be positive, got {threads}")
        return threads
    setting = os.environ.get(THREADS_VARIABLE)
    if setting is not None and setting.strip():
        try:
            value = int(setting)
        except ValueError:
            value = 0
        if value < 1:
            raise ConfigError(f"{THREADS_VARIABLE} must be a positive integer, got {setting!r}")
        return value
    return usable_cores()


#: The environment variable that sets the codec's default thread count (as OMP_NUM_THREADS does
#: OpenMP's): a Dask worker of N on one machine gets cores / N.
THREADS_VARIABLE: Final = "HEPSQUEEZE_THREADS"


def parallel_map(fn: Callable[[Any], _T], items: Sequence[Any], threads: int | None = None) -> list[_T]:
    """``fn`` over ``items`` (in order) on a thread pool of ``threads`` (default: one per usable
    core): numpy, zstd and most of the work release the GIL."""
    workers = min(len(items), _workers(threads))
    if workers <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))


def _encode_block(ev: I64, original: F32, bounds: JetBounds) -> tuple[bytes, F32]:
    """The payload of one block and the values it decodes to, proven by decoding it.

    The quantised payload is decoded here, from its bytes, and must reproduce the encoder's values
    bit for bit and meet every bound; if it does not (a case the quantiser did not foresee), or if
    storing the float32 values exactly is smaller, the block is stored exactly instead."""
    coded: bytes | None
    try:
        coded, _ = _encode_quantised(ev, original, bounds)  # its values: checked by the digest below
    except _UnquantisableError as exc:
        log.debug("a block of %d jets is stored exactly: %s", ev.size, exc)
        coded = None
    except (OverflowError, ValueError, zstandard.ZstdError) as exc:
        log.warning("a block of %d jets cannot be quantised (%s): stored exactly", ev.size, exc)
        coded = None
    if coded is not None:
        try:
            back = _decode_block(ev, coded, verify=True)
        except (ContainerError, InputError) as exc:
            log.warning("a quantised block of %d jets does not decode (%s): stored exactly", ev.size, exc)
            coded = None
        else:
            # the digest proved back == decoded bit for bit; now every value against its bound
            miss = _violations([original[:, j].astype(np.float64) for j in range(4)], back, bounds)
            if (miss & ~(bits(original) == bits(back))).any():  # exceptions come back bit for bit
                log.warning("a quantised block of %d jets misses its bounds: stored exactly", ev.size)
                coded = None
    # Bounds near float32 precision cost more than the values themselves: store them exactly
    # (within any bound) if that is smaller, so the codec never does worse than lossless.
    if coded is None or len(coded) > original.nbytes // 2:
        raw = _raw_payload(original)
        if coded is None or len(raw) < len(coded):
            if _raw_values(raw, ev.size).tobytes() != np.ascontiguousarray(original).tobytes():
                raise ContainerError("internal error: an exactly stored block does not decode to its values")
            return raw, np.array(original, dtype=np.float32)
    return coded, back


class _UnquantisableError(Exception):
    """Bounds too fine for the symbol range: the block is stored exactly."""


def _raw_payload(original: F32) -> bytes:
    """The float32 values losslessly: byte-shuffled (byte planes), zstd."""
    planes = np.ascontiguousarray(original, dtype="<f4").view(np.uint8).reshape(-1, 4).T
    # with zstd's content checksum: a damaged payload fails to decode instead of changing values
    zc = zstandard.ZstdCompressor(level=_RAW_LEVEL, write_checksum=True)
    frame = zc.compress(np.ascontiguousarray(planes).tobytes())
    return RAW_PREFIX.pack(RAW_MAGIC, original.shape[0]) + frame


def _raw_values(payload: bytes, expected_rows: int) -> F32:
    if len(payload) < RAW_PREFIX.size:
        raise ContainerError("bounded-codec raw payload is truncated")
    _, rows = RAW_PREFIX.unpack_from(payload)
    if rows != expected_rows:
        raise InputError(f"payload holds {rows} jets but the event column has {expected_rows} rows")
    frame = payload[RAW_PREFIX.size :]
    try:
        if zstandard.frame_content_size(frame) != 16 * rows:
            raise ContainerError("bounded-codec raw payload does not hold its rows")
        planes = np.frombuffer(zstandard.ZstdDecompressor().decompress(frame), dtype=np.uint8)
    except zstandard.ZstdError as exc:
        raise ContainerError(f"bounded-codec raw payload is corrupt: {exc}") from None
    values: F32 = np.ascontiguousarray(planes.reshape(4, -1).T).view("<f4").reshape(-1, 4).astype(np.float32)
    return values


def _encode_quantised(ev: I64, original: F32, bounds: JetBounds) -> tuple[bytes, F32]:
    """The quantised payload of one block and the values it decodes to."""
    cols = [original[:, j].astype(np.float64) for j in range(4)]
    valid = [np.isfinite(c) for c in cols]
    # phi is coded as phi - offset in [-pi, pi) and decoded on the input's branch ([-pi, pi) or
    # [0, 2 pi)); values off the branch (beyond it, or huge) fail the unwrapped check: exceptions
    offset = _phi_offset(cols[3], valid[3])
    shifted = wrap_phi(cols[3] - offset)
    floored: dict[str, npt.NDArray[np.intp]] = {}
    for j, v in enumerate(VARIABLES[:2]):
        valid[j] &= cols[j] > 0
        if bounds.floor(v):
            low = np.abs(cols[j]) <= bounds.floor(v)
            if low.any():  # decoded as 0, within the floor: positions only
                floored[v] = np.flatnonzero(low)
                valid[j] &= ~low
    coding = [*cols[:3], shifted]
    steps = quantisation_steps(bounds, coding, valid, math.pi + offset)
    if _phi_period(steps) > MAX_SYMBOL:
        raise _UnquantisableError(
            f"a phi step of {steps['phi']:.3g} rad gives more than {MAX_SYMBOL} symbols"
        )
    q, decoded, narrow = _quantise(coding, valid, steps, offset)
    _apply_floors(decoded, floored)
    exceptions = _violations(cols, decoded, bounds)
    plans = [plan_group(s) for s in _groups(q, ev, steps)]
    words, frame_lengths, frames = entropy_code(plans)

    rows, which = np.nonzero(exceptions) if exceptions.any() else (np.zeros(0, np.intp),) * 2
    raw = original[rows, which]
    decoded[rows, which] = raw
    header = {
        "format": FORMAT,
        "rows": int(ev.size),
        "bounds": bounds.to_dict(),
        "steps": steps,
        "groups": len(plans),
        "frames": len(frame_lengths),
        "ans_bytes": len(words),
        "narrow": narrow,
        "exceptions": int(rows.size),
        "floored": {v: int(r.size) for v, r in floored.items()},
        "decoded_xxh64": _digest(decoded),
        "phi_offset": offset,
    }
    tables = [p.table for p in plans if p.table is not None]
    escapes = [p.escapes for p in plans if p.escapes is not None]
    side = b"".join(
        [
            np.array([p.descriptor() for p in plans], dtype="<i8").tobytes(),
            np.array(frame_lengths, dtype="<i8").tobytes(),
            np.concatenate(tables).astype("<u4").tobytes() if tables else b"",
            np.concatenate(escapes).astype("<i8").tobytes() if escapes else b"",
            rows.astype("<i8").tobytes(),
            which.astype("<u1").tobytes(),
            raw.astype("<f4").tobytes(),
            *(np.diff(floored[v], prepend=0).astype("<i8").tobytes() for v in VARIABLES[:2] if v in floored),
        ]
    )
    level = _SIDE_LEVEL_SMALL if ev.size < _SMALL_BLOCK else _SIDE_LEVEL
    blob = zstandard.ZstdCompressor(level=level).compress(side)
    head = json.dumps(header, separators=(",", ":")).encode()
    stream = words + frames
    out: bytes = BLOCK_PREFIX.pack(MAGIC, len(head), len(blob), len(stream)) + head + blob + stream
    return out, decoded


def _apply_floors(values: F32, floored: dict[str, npt.NDArray[Any]]) -> None:
    for j, v in enumerate(VARIABLES[:2]):
        if v in floored:
            values[floored[v], j] = 0.0


def _digest(values: F32) -> str:
    return xxhash.xxh64(np.ascontiguousarray(values, dtype="<f4").tobytes()).hexdigest()


# ----------------------------------------------------------------------------- decoding


def decode_jets(
    event: npt.ArrayLike, payload: bytes, *, verify: bool = True, threads: int | None = None
) -> F32:
    """Decode a payload of :func:`encode_jets` with the same ``event`` column: ``(rows, 4)`` float32.

    With ``verify``, the decoded values' xxh64 must equal the encoder's (bit-exact reproduction).
    Blocks are decoded on ``threads`` threads (default: the CPUs this process may use). Raises
    :class:`ContainerError` for a payload that is not valid (whatever is wrong in it).
    """
    ev = np.asarray(event, dtype=np.int64)
    blocks = _blocks(payload)
    if blocks is None:
        return _decode_block(ev, payload, verify)
    total = payload_header(payload)["rows"]  # checks the block table against the blocks' headers
    if ev.shape != (total,):
        raise InputError(f"payload holds {total} jets but the event column has shape {ev.shape}")
    cuts = np.cumsum([0, *(rows for rows, _ in blocks)]).tolist()

    def part(i: int) -> F32:
        try:
            return _decode_block(ev[cuts[i] : cuts[i + 1]], blocks[i][1], verify)
        except InputError:
            raise ContainerError(f"bounded-codec payload: block {i} does not hold its rows") from None

    parts = parallel_map(part, list(range(len(blocks))), threads)
    return np.concatenate(parts) if parts else np.zeros((0, 4), dtype=np.float32)


def _blocks(payload: bytes) -> list[tuple[int, bytes]] | None:
    """The (rows, payload) of each block of a multi-block payload; None for a single block."""
    if payload[:MAGIC_BYTES] != BLOCKS_MAGIC:
        return None
    if len(payload) < BLOCKS_PREFIX.size:
        raise ContainerError("bounded-codec payload is truncated")
    _, count = BLOCKS_PREFIX.unpack_from(payload)
    if not 1 <= count <= MAX_BLOCKS or len(payload) < BLOCKS_PREFIX.size + BLOCKS_ENTRY.size * count:
        raise ContainerError(f"bounded-codec payload has an invalid block count {count}")
    table = np.frombuffer(payload, dtype="<u8", count=2 * count, offset=BLOCKS_PREFIX.size).reshape(-1, 2)
    offset = BLOCKS_PREFIX.size + BLOCKS_ENTRY.size * count
    if int(table[:, 1].sum()) != len(payload) - offset or int(table[:, 0].max()) > 1 << 40:
        raise ContainerError("bounded-codec payload: the block sizes do not match the payload")
    out = []
    for rows, size in table.tolist():
        out.append((rows, payload[offset : offset + size]))
        offset += size
    return out


def _decode_block(ev: I64, payload: bytes, verify: bool) -> F32:
    if ev.ndim != 1:
        raise InputError(f"the event column must be one-dimensional, got shape {ev.shape}")
    if payload[:MAGIC_BYTES] == RAW_MAGIC:
        return _raw_values(payload, ev.size)
    # the rows are checked against the event column (memory the caller holds) before anything
    # the payload claims is allocated
    parsed = parse_block(payload, ev.size)
    try:
        # garbage that passed the checks can overflow exp or give NaN: the digest rejects it
        with np.errstate(all="ignore"):
            values = _decode_checked(ev, parsed)
    # constriction or zstd: invalid tables or stream; numpy: an offset too wide for the symbol dtype
    except (ValueError, OverflowError, zstandard.ZstdError) as exc:
        raise ContainerError(f"bounded-codec payload is invalid: {exc}") from None
    if verify and _digest(values) != parsed.digest:
        raise ContainerError(
            "decoded values differ from the encoder's (xxh64 mismatch): the payload is corrupt, or this "
            "machine's float arithmetic did not reproduce them bit for bit"
        )
    return values


@dataclass
class ParsedBlock:
    """One block's payload, parsed and checked (before its groups are decoded)."""

    rows: int
    steps: dict[str, float]
    digest: str
    descs: list[list[int]]
    frame_lengths: list[int]
    tables: npt.NDArray[np.uint32]
    escapes: I64
    exc_rows: I64
    exc_cols: I64
    exc_raw: F32
    words: npt.NDArray[np.uint32]
    frames: bytes
    dtype: type[np.signedinteger[Any]]
    floored: dict[str, I64]
    phi_offset: float | None  # None: format 2 (phi wrapped into [-pi, pi))


def _decode_groups(p: ParsedBlock) -> list[Ints]:
    return decode_group_stream(
        GroupStream(p.descs, p.frame_lengths, p.tables, p.escapes, p.words, p.frames), p.dtype, GROUP_NAMES
    )


@dataclass(frozen=True)
class GroupStream:
    """Entropy-coded symbol groups as parsed from a payload: one descriptor per group (count, lo,
    k, coder, bins, escapes), the byte length of every Huffman frame, the ANS count tables and
    escaped symbols of all groups in order, the ANS words and the concatenated frames."""

    descs: list[list[int]]
    frame_lengths: list[int]
    tables: npt.NDArray[np.uint32]
    escapes: I64
    words: npt.NDArray[np.uint32]
    frames: bytes


def decode_group_stream(s: GroupStream, dt: type[np.signedinteger[Any]], names: Sequence[str]) -> list[Ints]:
    """The symbols of every group of ``s`` (``names``: one per group, for messages); descriptors
    must have been checked against the payload's sizes. :class:`ContainerError` if inconsistent."""
    import constriction

    ans = constriction.stream.stack.AnsCoder(s.words)
    zd = zstandard.ZstdDecompressor()
    out: list[Ints] = []
    t_off = e_off = f_off = 0
    frame = iter(s.frame_lengths)
    for name, (count, lo, k, coder, bins, n_esc) in zip(names, s.descs, strict=True):
        if coder == Coder.NONE:
            out.append(np.full(count, lo, dtype=dt))
            continue
        if coder == Coder.ANS:
            table = s.tables[t_off : t_off + bins]
            t_off += bins
            codes = (
                ans.decode(ans_model(table), count).astype(dt, copy=False)
                if bins > 1
                else np.zeros(count, dt)
            )
            esc = codes == bins - 1
            if k:
                codes <<= k
                codes += ans.decode(constriction.stream.model.Uniform(1 << k), count).astype(dt, copy=False)
            sym = lo + codes
        else:
            length = next(frame, -1)
            chunk = s.frames[f_off : f_off + length]
            f_off += length
            # the frame states its size: check it before zstd allocates that much
            if length < 0 or zstandard.frame_content_size(chunk) != count:
                raise ContainerError(f"bounded-codec payload: a frame of group {name!r} has a wrong size")
            high = np.frombuffer(zd.decompress(chunk), dtype=np.uint8)
            sym = (high.astype(dt) << k) + lo
            if k:
                length = next(frame, -1)
                if length != k * ((count + 7) // 8):
                    raise ContainerError(
                        f"bounded-codec payload: the low bits of group {name!r} are truncated"
                    )
                sym += unpack_low(s.frames[f_off : f_off + length], count, k).astype(dt)
                f_off += length
            esc = high == ESC_HIGH if n_esc else None
        if n_esc:
            if esc is None or int(np.count_nonzero(esc)) != n_esc:
                raise ContainerError(f"bounded-codec payload: group {name!r} has a wrong escape count")
            sym[esc] = s.escapes[e_off : e_off + n_esc]
            e_off += n_esc
        out.append(sym)
    return out


def _decode_checked(ev: I64, p: ParsedBlock) -> F32:
    n = ev.size
    groups = _decode_groups(p)
    runs = _structure(ev)
    first, start, order, counts = runs.first, runs.start, runs.order, runs.counts
    expect = [counts[0], n - counts[0], n, *counts]
    for name, g, c in zip(GROUP_NAMES, groups, expect, strict=False):
        if g.size != c:
            raise ContainerError(f"bounded-codec payload: group {name!r} holds {g.size} values, expected {c}")
    steps, dt = p.steps, p.dtype
    d_pt = np.empty(n, dtype=dt)
    d_pt[order] = np.concatenate(groups[:2])
    q_eta = groups[2]
    d_phi = np.empty(n, dtype=dt)
    d_phi[order] = np.concatenate(groups[3:6])
    # q_pt = leading value minus the cumulative steps since the event's first jet (sums over the
    # block in int64: they can leave the int32 range even where every symbol is narrow)
    d_pt[first] = -d_pt[first]
    cum = np.cumsum(d_pt, dtype=np.int64)
    q_pt = (cum[start] - d_pt[start] - cum).astype(dt)  # lead - (the steps after the first row)
    period = _phi_period(steps)
    q_phi = _centre(d_phi + d_phi[start], period)
    q_phi[first] = d_phi[first]
    pt32, eta32 = _pt_eta(q_pt, q_eta, steps)
    # E was coded in contexts of the decoded pt and eta: place it now that they are known.
    e_rows, e_counts = _context_order(_e_context(q_pt, q_eta, steps))
    e_groups = groups[6:]
    if [g.size for g in e_groups] != e_counts.tolist():
        raise ContainerError("bounded-codec payload: E context sizes do not match the decoded jets")
    q_e = np.empty(n, dtype=dt)
    q_e[e_rows] = np.concatenate(e_groups) if e_groups else np.zeros(0, dt)
    values = _assemble(
        _energy(_prediction(pt32, eta32), q_e, steps), pt32, eta32, _phi(q_phi, steps, p.phi_offset)
    )
    if p.exc_rows.size and (p.exc_rows.min() < 0 or p.exc_rows.max() >= n or p.exc_cols.max() > 3):
        raise ContainerError("bounded-codec payload: exception positions out of range")
    for rows in p.floored.values():
        if rows.size and (rows[0] < 0 or rows[-1] >= n or (np.diff(rows) <= 0).any()):
            raise ContainerError("bounded-codec payload: floored positions out of range")
    _apply_floors(values, p.floored)
    values[p.exc_rows, p.exc_cols] = p.exc_raw
    return values


# ----------------------------------------------------------------------------- parsing


def _sizes(payload: bytes) -> tuple[int, int, int]:
    """Byte sizes of the JSON header, the zstd block and the stream, checked against the payload."""
    if len(payload) < BLOCK_PREFIX.size or payload[:MAGIC_BYTES] != MAGIC:
        raise ContainerError("not a bounded-codec payload (bad magic)")
    _, n_head, n_blob, n_stream = BLOCK_PREFIX.unpack_from(payload)
    if BLOCK_PREFIX.size + n_head + n_blob + n_stream != len(payload):
        raise ContainerError(f"bounded-codec payload of {len(payload)} bytes does not match its sizes")
    return n_head, n_blob, n_stream


def payload_header(payload: bytes) -> dict[str, Any]:
    """The JSON header of a payload (rows, bounds, steps, exceptions, ...); ContainerError if invalid.

    For a payload of several blocks: the first block's header with ``rows`` and ``exceptions`` of
    all of them and ``blocks``, their number."""
    blocks = _blocks(payload)
    if blocks is None:
        return _block_header(payload)
    headers = [_block_header(p) for _, p in blocks]
    if [h["rows"] for h in headers] != [rows for rows, _ in blocks]:
        raise ContainerError("bounded-codec payload: block row counts do not match their headers")
    return {
        **headers[0],
        "rows": sum(h["rows"] for h in headers),
        "exceptions": sum(h["exceptions"] for h in headers),
        "blocks": len(headers),
    }


def _block_header(payload: bytes) -> dict[str, Any]:
    if payload[:MAGIC_BYTES] == RAW_MAGIC and len(payload) >= RAW_PREFIX.size:
        rows = RAW_PREFIX.unpack_from(payload)[1]
        return {"format": FORMAT, "rows": rows, "exceptions": 0, "lossless": True}
    n_head = _sizes(payload)[0]
    try:
        header = json.loads(payload[BLOCK_PREFIX.size : BLOCK_PREFIX.size + n_head])
    except ValueError as exc:
        raise ContainerError(f"bounded-codec payload is corrupt: {exc}") from None
    found = header.get("format") if isinstance(header, dict) else None
    if type(found) is not int or found not in READ_FORMATS:
        raise ContainerError(
            f"bounded-codec payload format {found!r} (this version reads "
            f"{', '.join(map(str, READ_FORMATS))}; format 1 came from development versions of "
            "hepsqueeze 0.1: compress the source again; newer formats need a newer hepsqueeze)"
        )
    checked: dict[str, Any] = header
    _check_header(checked)
    return checked


def _int(header: dict[str, Any], key: str, limit: int) -> int:
    value = header.get(key)
    if type(value) is not int or not 0 <= value <= limit:
        raise ContainerError(f"bounded-codec payload header has an invalid {key!r}: {value!r}")
    return value


def _check_header(header: dict[str, Any]) -> tuple[int, dict[str, float], int, str]:
    """``rows``, ``steps``, ``exceptions`` and ``decoded_xxh64`` of a payload header, checked."""
    n = _int(header, "rows", 1 << 40)
    m = _int(header, "exceptions", 4 * n)
    try:
        steps = {v: float(header["steps"][v]) for v in VARIABLES}
        digest = header["decoded_xxh64"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ContainerError(f"bounded-codec payload header is invalid: missing or bad {exc}") from None
    if not all(math.isfinite(v) and v > 0 for v in steps.values()) or not isinstance(digest, str):
        raise ContainerError("bounded-codec payload header has invalid steps or digest")
    return n, steps, m, digest


def parse_block(payload: bytes, expected_rows: int) -> ParsedBlock:
    """Parse one block's payload (not a payload of several blocks) of ``expected_rows`` jets: its
    header, group descriptors, tables, escapes and exceptions, each checked against the sizes the
    header allows; :class:`ContainerError` (or :class:`InputError` for another row count) if invalid."""
    n_head, n_blob, n_stream = _sizes(payload)
    header = _block_header(payload)
    n, steps, m, digest = _check_header(header)
    if n != expected_rows:
        raise InputError(f"payload holds {n} jets but the event column has {expected_rows} rows")
    offset: float | None = None
    if header["format"] >= 3:
        offset = header.get("phi_offset")
        if type(offset) is not float or offset not in _PHI_RANGE:
            raise ContainerError(f"bounded-codec payload header has an invalid 'phi_offset': {offset!r}")
    if _int(header, "groups", 1000) != len(GROUP_NAMES):
        raise ContainerError(
            f"bounded-codec payload has {header['groups']} groups, this version codes {len(GROUP_NAMES)}"
        )
    n_frames = _int(header, "frames", 10_000)
    ans_bytes = _int(header, "ans_bytes", n_stream)
    blob = payload[BLOCK_PREFIX.size + n_head : BLOCK_PREFIX.size + n_head + n_blob]
    try:
        # the side information's size is known from the header up to the tables and escapes: the
        # frame must state its size, within that bound, before zstd allocates anything
        size = zstandard.frame_content_size(blob)
        limit = _side_limit(n, m, n_frames)
        if not 0 <= size <= limit:
            raise ContainerError(
                f"bounded-codec payload: side information of {size} bytes (unknown: -1), at most {limit} fit"
            )
        side = zstandard.ZstdDecompressor().decompress(blob, max_output_size=size)
    except zstandard.ZstdError as exc:
        raise ContainerError(f"bounded-codec payload is corrupt: {exc}") from None
    reader = _Reader(side)
    descs = reader.array("<i8", _DESC * len(GROUP_NAMES)).reshape(-1, _DESC).tolist()
    frame_lengths = reader.array("<i8", n_frames).tolist()
    for count, _lo, k, coder, bins, n_esc in descs:
        if not (
            0 <= count <= n
            and 0 <= k <= (ANS_LOW_BITS if coder == Coder.ANS else 40)
            and coder in (Coder.NONE, Coder.ANS, Coder.HUFFMAN)
            and 0 <= bins <= TABLE_BINS + 2
            and 0 <= n_esc <= count
        ):
            raise ContainerError("bounded-codec payload: a group descriptor is invalid")
    wanted_frames = sum(1 + (d[2] > 0) for d in descs if d[3] == Coder.HUFFMAN)
    if wanted_frames != n_frames or min(frame_lengths, default=0) < 0:
        raise ContainerError("bounded-codec payload: the frame table does not match the groups")
    if sum(frame_lengths) + ans_bytes != n_stream or ans_bytes % 4:
        raise ContainerError("bounded-codec payload: the stream sizes do not add up")
    tables = reader.array("<u4", sum(d[4] for d in descs)).astype(np.uint32)
    escapes = reader.array("<i8", sum(d[5] for d in descs)).astype(np.int64)
    exc_rows = reader.array("<i8", m).astype(np.int64)
    exc_cols = reader.array("<u1", m).astype(np.int64)
    exc_raw = reader.array("<f4", m).astype(np.float32)
    counts = header.get("floored", {})
    if not isinstance(counts, dict) or not set(counts) <= set(VARIABLES[:2]):
        raise ContainerError("bounded-codec payload header has an invalid 'floored'")
    floored = {
        v: np.cumsum(reader.array("<i8", _int(counts, v, n)), dtype=np.int64)
        for v in VARIABLES[:2]
        if v in counts
    }
    if reader.offset != len(side):
        raise ContainerError("bounded-codec payload: side information has trailing bytes")
    start = BLOCK_PREFIX.size + n_head + n_blob
    words = np.frombuffer(payload[start : start + ans_bytes], dtype="<u4").astype(np.uint32)
    return ParsedBlock(
        n, steps, digest, descs, frame_lengths, tables, escapes, exc_rows, exc_cols, exc_raw,
        words, payload[start + ans_bytes :], np.int32 if header.get("narrow") is True else np.int64,
        floored, offset,
    )  # fmt: skip


def _side_limit(rows: int, exceptions: int, frames: int) -> int:
    """Most bytes the side information of a block of ``rows`` jets can hold: descriptors, frame
    lengths, count tables, escapes (at most every symbol), exceptions, floored positions."""
    groups = len(GROUP_NAMES)
    return (
        8 * (_DESC * groups + frames)
        + 4 * groups * (TABLE_BINS + 2)
        + 8 * 4 * rows
        + 17 * exceptions
        + 16 * rows
    )


class _Reader:
    """Consecutive typed arrays from the side information, each checked to be complete."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def array(self, dtype: str, count: int) -> npt.NDArray[Any]:
        size = np.dtype(dtype).itemsize * count
        if count < 0 or self.offset + size > len(self.data):
            raise ContainerError("bounded-codec payload: side information is truncated")
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.offset)
        self.offset += size
        return out


def payload_stats(payload: bytes) -> dict[str, int]:
    """Byte counts of a payload's parts (header, tables + exceptions, entropy-coded stream)."""
    blocks = _blocks(payload)
    if blocks is not None:
        stats = [payload_stats(p) for _, p in blocks]
        out = {k: sum(s[k] for s in stats) for k in ("header", "tables_and_exceptions", "stream")}
        out["header"] += len(payload) - sum(s["total"] for s in stats)  # the block table
        return {**out, "total": len(payload), "blocks": len(stats)}
    if payload[:MAGIC_BYTES] == RAW_MAGIC:
        raw = RAW_PREFIX.size
        return {
            "header": raw,
            "tables_and_exceptions": 0,
            "stream": len(payload) - raw,
            "total": len(payload),
        }
    n_head, n_blob, n_stream = _sizes(payload)
    head = BLOCK_PREFIX.size + n_head
    return {"header": head, "tables_and_exceptions": n_blob, "stream": n_stream, "total": len(payload)}


__all__ = [
    "MAX_SYMBOL",
    "decode_jets",
    "encode_jets",
    "encode_jets_checked",
    "parallel_map",
    "payload_header",
    "payload_stats",
]
