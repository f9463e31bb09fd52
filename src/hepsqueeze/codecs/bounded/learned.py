"""Coding a column's symbols with a learned conditional model's distributions.

A target column's symbols ``q`` are coded as residuals ``r = q - rint(location / step)`` from the
model's predicted location, each with the table of its predicted scale class (see
:mod:`hepsqueeze.models.conditional.shape`). The rows of one class are coded together, classes in
increasing order, with constriction's ANS coder: a class's table codes the residual's high part
``r >> b``, and its low ``b`` bits are coded uniformly; a high part beyond the table is an escape,
and the whole residual is stored (int64) after the ANS words. The quantiser gives the error bound,
whatever the model predicts: a bad prediction costs bits, never accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ContainerError
from hepsqueeze.models.conditional.model import ConditionalModel, Prediction, class_offset, scale_classes
from hepsqueeze.models.conditional.shape import SCALE_CLASSES

I64 = npt.NDArray[np.int64]
#: Largest |location symbol| (as the quantiser's MAX_SYMBOL).
MAX_LOCATION: Final = 1 << 36
#: Offsets a payload may give (classes are clipped to 0..SCALE_CLASSES-1 anyway).
MAX_OFFSET: Final = 1 << 12

Tables = Callable[[int], tuple[Any, int, int]]


@dataclass(frozen=True, eq=False)
class Conditional:
    """A model's predictions for one target column of one chunk, and its tables."""

    model: ConditionalModel
    target: str
    prediction: Prediction

    def offset(self, step: float) -> int:
        """The scale-class offset of this column coded with ``step`` (the encoder's; stored)."""
        return max(-MAX_OFFSET, min(MAX_OFFSET, class_offset(self.model.spec(self.target).std, step)))

    def select(self, rows: npt.NDArray[np.bool_]) -> Prediction:
        p = self.prediction
        return Prediction(p.location[rows], p.log2_scale[rows])

    def tables(self, k: int) -> tuple[Any, int, int]:
        """constriction's model of class ``k``, its radius and its split bits."""
        return self.model.coder_table(self.target, k)


def _locations(prediction: Prediction, step: float) -> I64:
    with np.errstate(invalid="ignore", over="ignore"):
        mu = np.rint(prediction.location / step)
        mu[~np.isfinite(mu)] = 0.0
        np.clip(mu, -MAX_LOCATION, MAX_LOCATION, out=mu)
    return mu.astype(np.int64)


def _classes(k: I64) -> tuple[npt.NDArray[np.intp], I64, I64]:
    """The rows in class order (stable), the classes present and where each one's rows start and end."""
    # int16 keys: numpy sorts them stably by radix, several times faster than int64
    order = np.argsort(k.astype(np.int16), kind="stable")
    counts = np.bincount(k, minlength=SCALE_CLASSES)
    ks = np.flatnonzero(counts)
    ends = np.cumsum(counts)
    bounds = np.append(ends[ks] - counts[ks], order.size if ks.size else 0)
    return order, ks.astype(np.int64), bounds.astype(np.int64)


def encode_residuals(
    q: I64, prediction: Prediction, step: float, offset: int, tables: Tables
) -> tuple[bytes, I64]:
    """The ANS words of symbols ``q`` under ``prediction``, and the escaped residuals."""
    import constriction

    r = q - _locations(prediction, step)
    order, ks, bounds = _classes(scale_classes(prediction, offset))
    coder = constriction.stream.stack.AnsCoder()
    escapes: list[I64] = []
    plans = []
    for c, a, b_end in zip(ks.tolist(), bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        model, radius, bits = tables(int(c))
        rc = r[order[a:b_end]]
        high = rc >> bits
        inside = np.abs(high) <= radius
        sym = np.where(inside, high + radius, 2 * radius + 1).astype(np.int32)
        low = (rc & ((1 << bits) - 1)).astype(np.int32) if bits else None
        escapes.append(rc[~inside])
        plans.append((model, sym, low, bits))
    for model, sym, low, bits in reversed(plans):  # a stack: the first class decodes first
        if low is not None:
            coder.encode_reverse(low, constriction.stream.model.Uniform(1 << bits))
        coder.encode_reverse(sym, model)
    words = coder.get_compressed().astype("<u4").tobytes()
    return words, np.concatenate(escapes) if escapes else np.zeros(0, np.int64)


def decode_residuals(  # noqa: PLR0917  (the inverse of encode_residuals, argument for argument)
    words: bytes, escapes: I64, prediction: Prediction, step: float, offset: int, tables: Tables, name: str
) -> I64:
    """Inverse of :func:`encode_residuals`: the symbols."""
    import constriction

    if len(words) % 4:
        raise ContainerError(f"column {name!r}: the learned stream is not whole words")
    if not -MAX_OFFSET <= offset <= MAX_OFFSET:
        raise ContainerError(f"column {name!r}: invalid scale-class offset {offset}")
    mu = _locations(prediction, step)
    order, ks, bounds = _classes(scale_classes(prediction, offset))
    coder = constriction.stream.stack.AnsCoder(np.frombuffer(words, dtype="<u4").astype(np.uint32))
    r = np.empty(mu.size, dtype=np.int64)
    used = 0
    try:
        for c, a, b_end in zip(ks.tolist(), bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            if not 0 <= c < SCALE_CLASSES:  # pragma: no cover - scale_classes clips
                raise ContainerError(f"column {name!r}: scale class {c} out of range")
            model, radius, bits = tables(int(c))
            count = b_end - a
            sym = np.asarray(coder.decode(model, count), dtype=np.int64)
            high = sym - radius
            if bits:
                low = np.asarray(
                    coder.decode(constriction.stream.model.Uniform(1 << bits), count), dtype=np.int64
                )
                rc = (high << bits) | low
            else:
                rc = high
            esc = sym == 2 * radius + 1
            n_esc = int(esc.sum())
            if used + n_esc > escapes.size:
                raise ContainerError(f"column {name!r}: more escapes than the payload stores")
            rc[esc] = escapes[used : used + n_esc]
            used += n_esc
            r[order[a:b_end]] = rc
    except (ValueError, RuntimeError, OverflowError) as exc:
        raise ContainerError(f"column {name!r}: the learned stream is corrupt ({exc})") from None
    if used != escapes.size:
        raise ContainerError(f"column {name!r}: the payload stores escapes it does not use")
    out: I64 = mu + r
    return out


__all__ = ["Conditional", "decode_residuals", "encode_residuals"]
