"""Error-bounded coding of jets (E, pt, eta, phi): uniform quantisation that meets a per-variable
bound by construction, then event-level context modelling and ANS entropy coding (``constriction``).

Every value is quantised in the space where its bound is uniform: ``ln x`` with step
``2 ln(1 + eps)`` for a relative bound, ``x`` with step ``2 eps`` for an absolute one (phi wraps at
+-pi), both shrunk by a margin that covers float32 rounding of the decoded value. E is coded as the
step from the massless prediction ``pt cosh(eta)`` of the already decoded pt and eta. The integer
symbols are coded with static tables fitted on the data and stored in the payload, by context:

- ``pt``: the leading jet of each event alone, the others as the step down from the previous jet
  (jets in descending pt make these small non-negative numbers);
- ``eta``: by rank in the event (1, 2, 3+);
- ``phi``: the leading jet alone, the others relative to it (back-to-back jets), by rank;
- ``E``: by |eta| and pt bin of the decoded jet.

Large alphabets are split into a tabled high part and ``k`` uniformly coded low bits, which keeps
the stored tables small at a negligible cost for smooth distributions. Values that cannot be
quantised (NaN, inf, values <= 0 under a relative bound) or that miss the bound after float32
rounding are stored exactly as exceptions. The decoder uses only IEEE float64 arithmetic, numpy's
``exp``/``log``/``cosh`` and integer tables; the payload records an xxh64 of the decoded values so a
decoder on another machine can prove it reproduced them bit for bit.

Files: :mod:`hepsqueeze.codec.bounded_file` (data format 4, ``hepsqueeze compress --max-error``).
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import xxhash
import zstandard

from hepsqueeze.baselines.bounds import ErrorBound
from hepsqueeze.errors import ConfigError, ContainerError, InputError

VARIABLES: Final = ("E", "pt", "eta", "phi")
FORMAT: Final = 1
MAGIC: Final = b"HSQB"
#: Largest tabled alphabet; wider symbol ranges code their low bits uniformly.
TABLE_BINS: Final = 1024
# Substitutes quantised in place of exception values (their exact bits are restored after decoding).
_SUBSTITUTE: Final = {"E": 1.0, "pt": 1.0, "eta": 0.0, "phi": 0.0}

I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class JetBounds:
    """The bound of each of E, pt (relative) and eta, phi (absolute)."""

    E: ErrorBound
    pt: ErrorBound
    eta: ErrorBound
    phi: ErrorBound

    def __post_init__(self) -> None:
        for name in ("E", "pt"):
            if getattr(self, name).kind != "relative":
                raise ConfigError(f"the bounded jet codec needs a relative bound on {name}")
        for name in ("eta", "phi"):
            if getattr(self, name).kind != "absolute":
                raise ConfigError(f"the bounded jet codec needs an absolute bound on {name}")
        if self.phi.value >= math.pi / 2:
            raise ConfigError(f"a phi bound of {self.phi.value} rad leaves nothing to code")

    @classmethod
    def uniform(cls, eps: float) -> JetBounds:
        """``eps`` relative on E and pt, ``eps`` absolute on eta and phi."""
        return cls(
            ErrorBound("relative", eps),
            ErrorBound("relative", eps),
            ErrorBound("absolute", eps),
            ErrorBound("absolute", eps),
        )

    def to_dict(self) -> dict[str, Any]:
        return {v: getattr(self, v).as_dict() for v in VARIABLES}

    @classmethod
    def from_dict(cls, data: Any) -> JetBounds:
        try:
            return cls(*(ErrorBound(str(data[v]["kind"]), float(data[v]["value"])) for v in VARIABLES))  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError) as exc:
            raise ContainerError(f"invalid bounds in bounded-codec payload: {exc}") from None


def _steps(bounds: JetBounds, x: F64) -> dict[str, float]:
    """Quantisation steps, shrunk so that float32 rounding of the decoded value stays in bound."""
    f32 = 2.0**-23
    out: dict[str, float] = {}
    for j, v in enumerate(VARIABLES):
        b = getattr(bounds, v)
        if b.kind == "relative":
            margin = min(0.5, 1e-4 + 2 * f32 / b.value)
            out[v] = 2.0 * math.log1p(b.value) * (1.0 - margin)
        else:
            col = x[:, j]
            finite = col[np.isfinite(col)]
            scale = max(float(np.abs(finite).max()) if finite.size else 0.0, math.pi if v == "phi" else 0.0)
            margin = min(0.5, 1e-4 + 2 * scale * f32 / b.value)
            out[v] = 2.0 * b.value * (1.0 - margin)
    return out


@dataclass
class _Quantised:
    q: dict[str, I64]
    decoded: F32


def _decode_pt_eta(q: dict[str, I64], steps: dict[str, float]) -> tuple[F32, F32]:
    pt32 = np.exp(q["pt"].astype(np.float64) * steps["pt"]).astype(np.float32)
    eta32 = (q["eta"].astype(np.float64) * steps["eta"]).astype(np.float32)
    return pt32, eta32


def _decode_rest(q: dict[str, I64], steps: dict[str, float], pt32: F32, eta32: F32) -> F32:
    # E's prediction uses the decoded float32 pt and eta, exactly what a decoder has.
    pred = np.log(pt32.astype(np.float64) * np.cosh(eta32.astype(np.float64)))
    e32 = np.exp(pred + q["E"].astype(np.float64) * steps["E"]).astype(np.float32)
    phi64 = q["phi"].astype(np.float64) * steps["phi"]
    phi64 = np.where(phi64 >= math.pi, phi64 - 2 * math.pi, phi64)
    phi64 = np.where(phi64 < -math.pi, phi64 + 2 * math.pi, phi64)
    out = np.empty((pt32.size, 4), dtype=np.float32)
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = e32, pt32, eta32, phi64
    return out


def _decode_values(q: dict[str, I64], steps: dict[str, float]) -> F32:
    """The float32 values the integer symbols stand for (the decoder's arithmetic, in one place)."""
    return _decode_rest(q, steps, *_decode_pt_eta(q, steps))


def _by_context(ctx: I64, n_ctx: int) -> list[I64]:
    """Row indices of each context value 0..n_ctx-1 (stable: rows keep their order)."""
    # uint8 keys let numpy use its radix sort (stable), several times faster than sorting int64
    keys = ctx.astype(np.uint8) if n_ctx <= 256 else ctx
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(ctx[order], np.arange(n_ctx + 1))
    return [order[bounds[c] : bounds[c + 1]] for c in range(n_ctx)]


def _quantise(x: F64, valid: npt.NDArray[np.bool_], steps: dict[str, float]) -> _Quantised:
    q: dict[str, I64] = {}
    for j, v in enumerate(VARIABLES):
        if v == "E":
            continue
        col = np.where(valid[:, j], x[:, j], _SUBSTITUTE[v])
        g = np.log(col) if v == "pt" else col
        q[v] = np.rint(g / steps[v]).astype(np.int64)
    pt32 = np.exp(q["pt"].astype(np.float64) * steps["pt"]).astype(np.float32)
    eta32 = (q["eta"].astype(np.float64) * steps["eta"]).astype(np.float32)
    pred = np.log(pt32.astype(np.float64) * np.cosh(eta32.astype(np.float64)))
    e = np.where(valid[:, 0], x[:, 0], np.exp(pred))
    q["E"] = np.rint((np.log(e) - pred) / steps["E"]).astype(np.int64)
    return _Quantised(q, _decode_values(q, steps))


def _violations(x: F64, y: F32, bounds: JetBounds) -> npt.NDArray[np.bool_]:
    """Values of ``y`` outside the bound around ``x`` (``(rows, 4)``); non-finite x count as outside."""
    yy = y.astype(np.float64)
    bad = np.zeros(x.shape, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        for j, v in enumerate(VARIABLES):
            b = getattr(bounds, v)
            d = yy[:, j] - x[:, j]
            if v == "phi":
                d = (d + math.pi) % (2 * math.pi) - math.pi
            err = np.abs(d) / np.abs(x[:, j]) if b.kind == "relative" else np.abs(d)
            bad[:, j] = ~(err <= b.value)
    return bad


def _structure(event: I64) -> tuple[npt.NDArray[np.bool_], I64, I64]:
    """Per row: first of its event run, index of that first row, rank in the run (0, 1, 2 = 3+)."""
    n = event.size
    first = np.ones(n, dtype=bool)
    if n > 1:
        first[1:] = event[1:] != event[:-1]
    start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    rank = np.minimum(np.arange(n) - start, 2)
    return first, start, rank


def _e_context(pt32: F32, eta32: F32) -> I64:
    eta_bin = np.minimum(np.abs(eta32.astype(np.float64)) // 0.5, 9).astype(np.int64)
    with np.errstate(divide="ignore"):
        pt_bin = np.clip((np.log(pt32.astype(np.float64)) - 3.0) // 0.5, 0, 9).astype(np.int64)
    return eta_bin * 10 + pt_bin


def _phi_period(steps: dict[str, float]) -> int:
    return math.ceil(2 * math.pi / steps["phi"]) + 2


#: Names of the symbol groups, in payload order (the payload stores groups by position): pt of
#: leading jets and steps down for the others, eta and phi by rank, E by context.
GROUP_NAMES: Final = (
    "pt/first",
    "pt/step",
    *(f"eta/{r}" for r in range(3)),
    *(f"phi/{r}" for r in range(3)),
    *(f"E/{c}" for c in range(100)),
)


def _groups(q: dict[str, I64], event: I64, steps: dict[str, float], decoded: F32) -> list[I64]:
    """The symbols of each group of :data:`GROUP_NAMES`, in that order."""
    first, start, rank = _structure(event)
    prev = np.empty_like(q["pt"])
    if prev.size:
        prev[1:] = q["pt"][:-1]
        prev[0] = 0
    d_pt = np.where(first, q["pt"], prev - q["pt"])
    d_phi = np.where(first, q["phi"], np.mod(q["phi"] - q["phi"][start], _phi_period(steps)))
    rows = _by_context(_e_context(decoded[:, 1], decoded[:, 2]), 100)
    return [
        d_pt[first],
        d_pt[~first],
        *(q["eta"][rank == r] for r in range(3)),
        *(d_phi[rank == r] for r in range(3)),
        *(q["E"][rows[c]] for c in range(100)),
    ]


def _split_bits(span: int, count: int) -> int:
    """Low bits coded uniformly so that the table has at most ``TABLE_BINS`` entries, and fewer for
    small groups (about one entry per 256 symbols): a table must cost less than the bits it saves."""
    limit = max(16, min(TABLE_BINS, count // 256))
    return max(0, int(span // limit).bit_length())


def _model(counts: npt.NDArray[np.uint32]) -> Any:
    import constriction

    return constriction.stream.model.Categorical(counts.astype(np.float64), perfect=False)


def encode_jets(event: npt.ArrayLike, x: npt.ArrayLike, bounds: JetBounds) -> bytes:
    """Code jets ``x`` ``(rows, 4)`` (E, pt GeV; eta; phi rad) within ``bounds``; ``event`` ``(rows,)``.

    The event column is not stored: the caller keeps it (the decoder needs it). Returns the payload.
    """
    import constriction

    ev = np.asarray(event, dtype=np.int64)
    original = np.asarray(x, dtype=np.float32)
    if original.ndim != 2 or original.shape[1] != 4 or ev.shape != (original.shape[0],):
        raise InputError(f"expected event (rows,) and values (rows, 4), got {ev.shape} and {original.shape}")
    data = original.astype(np.float64)
    # phi is coded in [-pi, pi): other conventions ([0, 2 pi)) come back wrapped, within the bound
    with np.errstate(invalid="ignore"):  # inf phi: kept as an exception
        data[:, 3] = (data[:, 3] + math.pi) % (2 * math.pi) - math.pi
    valid = np.isfinite(data)
    valid[:, :2] &= data[:, :2] > 0
    steps = _steps(bounds, np.where(valid, data, 0.0))
    quant = _quantise(data, valid, steps)
    exceptions = _violations(data, quant.decoded, bounds) | ~valid
    groups = _groups(quant.q, ev, steps, quant.decoded)

    # one descriptor (n, lo, k, bins) per group, stored as an int64 array (as JSON it would dominate)
    descs: list[tuple[int, int, int, int]] = []
    tables: list[npt.NDArray[np.uint32]] = []
    coder = constriction.stream.stack.AnsCoder()
    plans: list[tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], int, npt.NDArray[np.uint32]] | None] = []
    for sym in groups:
        if sym.size == 0:
            descs.append((0, 0, 0, 0))
            plans.append(None)
            continue
        lo, hi = int(sym.min()), int(sym.max())
        k = _split_bits(hi - lo, int(sym.size))
        rel = sym - lo
        high = (rel >> k).astype(np.int32)
        counts = np.bincount(high, minlength=int(high.max()) + 1).astype(np.uint32)
        descs.append((int(sym.size), lo, k, int(counts.size)))
        tables.append(counts)
        plans.append((high, (rel & ((1 << k) - 1)).astype(np.int32), k, counts))
    # ANS is a stack: encode the groups in reverse so that they decode in order (high, then low bits).
    for plan in reversed(plans):
        if plan is None:
            continue
        high, low, k, counts = plan
        if k:
            coder.encode_reverse(low, constriction.stream.model.Uniform(1 << k))
        if counts.size > 1:
            coder.encode_reverse(high, _model(counts))
    stream = coder.get_compressed().astype("<u4").tobytes()

    rows, cols = np.nonzero(exceptions)
    raw = original[rows, cols]
    header = {
        "format": FORMAT,
        "rows": int(ev.size),
        "bounds": bounds.to_dict(),
        "steps": steps,
        "groups": len(descs),
        "exceptions": int(rows.size),
        "decoded_xxh64": _digest(_apply_exceptions(quant.decoded, rows, cols, raw)),
    }
    desc_array = np.array(descs, dtype="<i8").reshape(-1, 4)
    table_bytes = desc_array.tobytes() + (np.concatenate(tables).astype("<u4").tobytes() if tables else b"")
    side = rows.astype("<i8").tobytes() + cols.astype("<u1").tobytes() + raw.astype("<f4").tobytes()
    blob = zstandard.ZstdCompressor(level=19).compress(table_bytes + side)
    head = json.dumps(header, separators=(",", ":")).encode()
    out: bytes = MAGIC + struct.pack("<III", len(head), len(blob), len(stream)) + head + blob + stream
    return out


def _apply_exceptions(decoded: F32, rows: I64, cols: npt.NDArray[Any], raw: F32) -> F32:
    out = decoded.copy()
    out[rows, cols] = raw
    return out


def _digest(values: F32) -> str:
    return xxhash.xxh64(np.ascontiguousarray(values, dtype="<f4").tobytes()).hexdigest()


def decode_jets(event: npt.ArrayLike, payload: bytes, *, verify: bool = True) -> F32:
    """Decode a payload of :func:`encode_jets` with the same ``event`` column: ``(rows, 4)`` float32.

    With ``verify``, the decoded values' xxh64 must equal the encoder's (bit-exact reproduction).
    Raises :class:`ContainerError` for a payload that is not valid (whatever is wrong in it).
    """
    ev = np.asarray(event, dtype=np.int64)
    header, descs, tables, side, stream = _parse(payload)
    n, steps, n_exceptions, digest = _check_header(header)
    if ev.shape != (n,):
        raise InputError(f"payload holds {n} jets but the event column has shape {ev.shape}")
    try:
        # garbage that passed the checks can overflow exp or give NaN contexts: the digest rejects it
        with np.errstate(all="ignore"):
            values = _decode_checked(
                ev, n=n, steps=steps, descs=descs, tables=tables, stream=stream, side=side, m=n_exceptions
            )
    except ValueError as exc:  # constriction: invalid tables or stream
        raise ContainerError(f"bounded-codec payload is invalid: {exc}") from None
    if verify and _digest(values) != digest:
        raise ContainerError(
            "decoded values differ from the encoder's (xxh64 mismatch): the payload is corrupt, or this "
            "machine's float arithmetic did not reproduce them bit for bit"
        )
    return values


def _check_header(header: Any) -> tuple[int, dict[str, float], int, str]:
    """``rows``, ``steps``, ``exceptions`` and ``decoded_xxh64`` of a payload header, checked."""
    try:
        n = header["rows"]
        steps = {v: float(header["steps"][v]) for v in VARIABLES}
        m = header["exceptions"]
        digest = header["decoded_xxh64"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ContainerError(f"bounded-codec payload header is invalid: missing or bad {exc}") from None
    if type(n) is not int or not 0 <= n < 1 << 40 or type(m) is not int or not 0 <= m <= 4 * n:
        raise ContainerError(f"bounded-codec payload header has rows {n!r} and exceptions {m!r}")
    if not all(math.isfinite(v) and v > 0 for v in steps.values()) or not isinstance(digest, str):
        raise ContainerError("bounded-codec payload header has invalid steps or digest")
    return n, steps, m, digest


def _decode_checked(
    ev: I64,
    *,
    n: int,
    steps: dict[str, float],
    descs: I64,
    tables: npt.NDArray[np.uint32],
    stream: npt.NDArray[np.uint32],
    side: bytes,
    m: int,
) -> F32:
    import constriction

    coder = constriction.stream.stack.AnsCoder(stream)
    decoded_groups: dict[str, I64] = {}
    offset = 0
    if len(GROUP_NAMES) != len(descs):
        raise ContainerError(
            f"bounded-codec payload has {len(descs)} groups, this version codes {len(GROUP_NAMES)}"
        )
    for name, (count, lo, k, bins) in zip(GROUP_NAMES, descs.tolist(), strict=True):
        if count == 0:
            decoded_groups[name] = np.zeros(0, dtype=np.int64)
            continue
        if not (0 <= k < 24 and 0 <= bins <= (1 << 24) and count <= n):
            raise ContainerError(f"bounded-codec payload: group {name!r} has invalid sizes")
        counts = tables[offset : offset + bins]
        offset += bins
        if counts.size != bins:
            raise ContainerError(f"bounded-codec payload: table of group {name!r} is truncated")
        high = (
            coder.decode(_model(counts), count).astype(np.int64)
            if bins > 1
            else np.zeros(count, dtype=np.int64)
        )
        low = (
            coder.decode(constriction.stream.model.Uniform(1 << k), count).astype(np.int64)
            if k
            else np.zeros(count, dtype=np.int64)
        )
        decoded_groups[name] = lo + (high << k) + low
    q = _rebuild(decoded_groups, ev, steps)
    pt32, eta32 = _decode_pt_eta(q, steps)
    # E was coded in contexts of the decoded pt and eta: place it now that they are known.
    q_e = np.zeros(n, dtype=np.int64)
    for c, rows_c in enumerate(_by_context(_e_context(pt32, eta32), 100)):
        part = decoded_groups[f"E/{c}"]
        if part.size != rows_c.size:
            raise ContainerError(
                f"bounded-codec payload: E context {c} holds {part.size} values, expected {rows_c.size}"
            )
        q_e[rows_c] = part
    q["E"] = q_e
    values = _decode_rest(q, steps, pt32, eta32)
    if len(side) != 13 * m:
        raise ContainerError(f"bounded-codec payload: {len(side)} bytes of exceptions for {m} values")
    rows = np.frombuffer(side[: 8 * m], dtype="<i8").astype(np.int64)
    cols = np.frombuffer(side[8 * m : 9 * m], dtype="<u1").astype(np.int64)
    raw = np.frombuffer(side[9 * m : 13 * m], dtype="<f4").astype(np.float32)
    if rows.size and (rows.min() < 0 or rows.max() >= n or cols.max() > 3):
        raise ContainerError("bounded-codec payload: exception positions out of range")
    return _apply_exceptions(values, rows, cols, raw)


def _rebuild(groups: dict[str, I64], event: I64, steps: dict[str, float]) -> dict[str, I64]:
    """Quantised pt, eta, phi from their per-context groups (E needs the decoded values first)."""
    first, start, rank = _structure(event)
    n = event.size
    d_pt = np.zeros(n, dtype=np.int64)
    _scatter(d_pt, first, groups["pt/first"], "pt/first")
    _scatter(d_pt, ~first, groups["pt/step"], "pt/step")
    # q_pt = leading value minus the cumulative steps since the event's first jet
    steps_cum = np.cumsum(np.where(first, 0, d_pt))
    q_pt = d_pt[start] - (steps_cum - steps_cum[start])
    q_eta = np.zeros(n, dtype=np.int64)
    d_phi = np.zeros(n, dtype=np.int64)
    for r in range(3):
        _scatter(q_eta, rank == r, groups[f"eta/{r}"], f"eta/{r}")
        _scatter(d_phi, rank == r, groups[f"phi/{r}"], f"phi/{r}")
    period = _phi_period(steps)
    lead = d_phi[start]
    q_phi = np.where(first, d_phi, np.mod(d_phi + lead, period))
    # back into the encoder's symmetric range: the leading jet's q is the reference
    q_phi = np.where(first, q_phi, _centre(q_phi, period))
    return {"pt": q_pt, "eta": q_eta, "phi": q_phi}


def _centre(q: I64, period: int) -> I64:
    half = period // 2
    return np.where(q > half, q - period, q)


def _scatter(target: I64, mask: npt.NDArray[np.bool_], values: I64, name: str) -> None:
    if values.size != int(mask.sum()):
        raise ContainerError(
            f"bounded-codec payload: group {name!r} holds {values.size} values, expected {mask.sum()}"
        )
    target[mask] = values


def _sizes(payload: bytes) -> tuple[int, int, int]:
    """Byte sizes of the JSON header, the zstd block and the ANS stream, checked against the payload."""
    if len(payload) < 16 or payload[:4] != MAGIC:
        raise ContainerError("not a bounded-codec payload (bad magic)")
    n_head, n_blob, n_stream = struct.unpack("<III", payload[4:16])
    if 16 + n_head + n_blob + n_stream != len(payload) or n_stream % 4:
        raise ContainerError(f"bounded-codec payload of {len(payload)} bytes does not match its sizes")
    return n_head, n_blob, n_stream


def payload_header(payload: bytes) -> dict[str, Any]:
    """The JSON header of a payload (rows, bounds, steps, exceptions, ...); ContainerError if invalid."""
    n_head = _sizes(payload)[0]
    try:
        header = json.loads(payload[16 : 16 + n_head])
    except ValueError as exc:
        raise ContainerError(f"bounded-codec payload is corrupt: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise ContainerError(f"bounded-codec payload format {found!r} (this version reads {FORMAT})")
    _check_header(header)
    return header


def _parse(
    payload: bytes,
) -> tuple[dict[str, Any], npt.NDArray[np.int64], npt.NDArray[np.uint32], bytes, npt.NDArray[np.uint32]]:
    n_head, n_blob, _ = _sizes(payload)
    header = payload_header(payload)
    try:
        blob = zstandard.ZstdDecompressor().decompress(
            payload[16 + n_head : 16 + n_head + n_blob], max_output_size=1 << 34
        )
    except zstandard.ZstdError as exc:
        raise ContainerError(f"bounded-codec payload is corrupt: {exc}") from None
    n_groups = header.get("groups", -1)
    n_groups = n_groups if type(n_groups) is int else -1
    if not 0 <= n_groups <= 1000 or len(blob) < 32 * n_groups:
        raise ContainerError("bounded-codec payload: invalid group table")
    descs = np.frombuffer(blob[: 32 * n_groups], dtype="<i8").astype(np.int64).reshape(-1, 4)
    body = blob[32 * n_groups :]
    total_bins = int(descs[:, 3].clip(0, 1 << 24).sum())
    if len(body) < 4 * total_bins:
        raise ContainerError("bounded-codec payload: tables are truncated")
    tables = np.frombuffer(body[: 4 * total_bins], dtype="<u4").astype(np.uint32)
    stream = np.frombuffer(payload[16 + n_head + n_blob :], dtype="<u4").astype(np.uint32)
    return header, descs, tables, body[4 * total_bins :], stream


def payload_stats(payload: bytes) -> dict[str, int]:
    """Byte counts of a payload's parts (header, tables + exceptions, entropy-coded stream)."""
    n_head, n_blob, n_stream = _sizes(payload)
    return {"header": 16 + n_head, "tables_and_exceptions": n_blob, "stream": n_stream, "total": len(payload)}


__all__ = ["JetBounds", "decode_jets", "encode_jets", "payload_header", "payload_stats"]
