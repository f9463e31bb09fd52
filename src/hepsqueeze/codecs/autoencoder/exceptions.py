"""Values an autoencoder must not be trusted with: found here, stored exactly by the file layer.

A value of a compressed column is an *exception* when it is

- not finite (NaN with any payload, +inf, -inf), also after the cast to float32 the model sees;
- subnormal (denormal) in its own dtype or in float32;
- outside the logarithm's domain of the model's normalisation (``x + log_offset <= 0``);
- outside the model's training range: the min-max of the training split, taken from
  ``model.training["input_range"]`` (``[[lo, hi], ...]`` in physical units, one pair per variable)
  when the model records it, else from the normaliser for variables it min-max scaled
  (``minmax``, and the logged or scaled variables of ``custom+minmax``): normalised values outside
  ``[0, 1]``. The bounds are exact, with no margin: the model never saw such a value, and storing a
  few values exactly costs a few bytes. Variables whose range is unknown (``standard``, ``custom``,
  ``none`` normalisations of models without ``input_range``) get no range check.

The file layer (:mod:`hepsqueeze.file.exceptions`) stores them per chunk and compressed column as
two ``column`` sections with the extras
``{"exceptions": "rows", "column": name}`` (int64 row indices within the chunk, ascending) and
``{"exceptions": "values", "column": name, "value_dtype": dtype}`` (the raw bit patterns of the
original values, as unsigned integers of the column's item size). The model encodes a stand-in
value instead (the value clipped into the training range, or the middle of the normalised range),
and decoding overwrites the decoded value with the stored bits, so the original comes back bit for
bit, NaN payloads and signed zeros included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import InputError
from hepsqueeze.preprocessing.normalisation import CUSTOM_RULES

if TYPE_CHECKING:  # readers of compressed files import this module without torch
    from hepsqueeze.models.model import CompressionModel

__all__ = [
    "ExceptionFinder",
    "count_outside_training_range",
    "codec_inputs",
    "codec_reconstruct",
    "training_range",
]

_TINY32: Final = float(np.finfo(np.float32).tiny)


@dataclass(frozen=True)
class _Variable:
    name: str
    log: bool
    log_offset: float
    bounds: tuple[float, float] | None
    """Training range in physical units, from the model's ``input_range``."""
    unit: tuple[float, float] | None
    """``(shift, scale)`` of a min-max fit, whose training range is normalised [0, 1]."""
    clip: tuple[float, float] | None
    """Approximate physical training range, for choosing stand-ins."""
    fill: float
    """Stand-in for a value that cannot be clipped: the middle of the range."""


def training_range(model: CompressionModel) -> list[tuple[float, float] | None]:
    """Per variable, the physical min-max of the model's training split (``None`` where unknown)."""
    raw = model.training.get("input_range") if isinstance(model.training, dict) else None
    n = len(model.variables)
    if not isinstance(raw, list) or len(raw) != n:
        return [None] * n
    out: list[tuple[float, float] | None] = []
    for pair in raw:
        ok = (
            isinstance(pair, list | tuple)
            and len(pair) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair)
            and bool(np.isfinite(np.asarray(pair, dtype=np.float64)).all())
            and pair[0] <= pair[1]
        )
        out.append((float(pair[0]), float(pair[1])) if ok else None)
    return out


def count_outside_training_range(model: CompressionModel, x: npt.NDArray[Any]) -> int | None:
    """How many values of ``x`` (rows, the model's variables) lie outside the model's training range
    (compared in float32, as the codec sees them); None where a variable's range is unknown."""
    limits = training_range(model)
    if any(pair is None for pair in limits):
        return None
    lo = np.array([pair[0] for pair in limits if pair is not None], dtype=np.float32)
    hi = np.array([pair[1] for pair in limits if pair is not None], dtype=np.float32)
    return int(np.count_nonzero((x < lo) | (x > hi)))


def _minmax_fitted(scheme: str, variable: str) -> bool:
    return scheme == "minmax" or (scheme == "custom+minmax" and variable.lower() in CUSTOM_RULES)


def _physical(g: float, log: bool, log_offset: float) -> float:
    with np.errstate(over="ignore"):
        return float(np.power(10.0, g) - log_offset) if log else g


class ExceptionFinder:
    """Find the exceptional values of a model's input columns and replace them with stand-ins."""

    def __init__(self, model: CompressionModel) -> None:
        norm = model.normaliser
        ranges = training_range(model)
        self.variables: list[_Variable] = []
        for j, t in enumerate(norm.transforms):
            var = norm.variables[j]
            bounds = ranges[j]
            unit = (t.shift, t.scale) if bounds is None and _minmax_fitted(norm.scheme, var) else None
            clip = bounds
            if unit is not None:
                ends = sorted(_physical(t.shift + k * t.scale, t.log, t.log_offset) for k in (0.0, 1.0))
                clip = (ends[0], ends[1])
            mid = _physical(t.shift + 0.5 * t.scale, t.log, t.log_offset)
            if bounds is not None:
                mid = 0.5 * (bounds[0] + bounds[1])
            if not np.isfinite(np.float32(mid)):
                mid = 1.0 - t.log_offset if t.log else 0.0
            self.variables.append(
                _Variable(var, t.log, t.log_offset, bounds, unit, clip, float(np.float32(mid)))
            )

    def mask(self, j: int, original: npt.NDArray[Any], x32: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
        """Exceptional entries of variable ``j``: ``original`` in its own dtype, ``x32`` as the model sees it."""
        v = self.variables[j]
        bad = ~np.isfinite(x32)
        bad |= (x32 != 0) & (np.abs(x32) < _TINY32)
        if original.dtype.kind == "f" and original.dtype != np.float32:
            tiny = float(np.finfo(original.dtype).tiny)
            bad |= (original != 0) & (np.abs(original) < tiny)
        x = x32.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            if v.log:
                bad |= ~(x + v.log_offset > 0)
            if v.bounds is not None:
                bad |= ~((x >= v.bounds[0]) & (x <= v.bounds[1]))
            elif v.unit is not None:
                shift, scale = v.unit
                g = np.log10(x + v.log_offset) if v.log else x
                y = (g - shift) / scale
                bad |= ~((y >= 0.0) & (y <= 1.0))
        return np.asarray(bad, dtype=np.bool_)

    def stand_in(self, j: int, values: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Values the model can take in place of the exceptional ``values`` of variable ``j``."""
        v = self.variables[j]
        out = np.full(values.shape, v.fill, dtype=np.float32)
        if v.clip is not None:
            lo, hi = np.float32(v.clip[0]), np.float32(v.clip[1])
            finite = np.nan_to_num(values, nan=v.fill, posinf=float(hi), neginf=float(lo))
            clipped = np.clip(finite, lo, hi).astype(np.float32)
            ok = ~self.mask(j, clipped, clipped)
            out[ok] = clipped[ok]
        return out

    def find(
        self, x32: npt.NDArray[np.float32], originals: Sequence[npt.NDArray[Any]]
    ) -> list[npt.NDArray[np.int64]]:
        """Row indices of the exceptions of each variable; ``x32`` (rows, vars) gets stand-ins in place."""
        rows = []
        for j in range(x32.shape[1]):
            bad = self.mask(j, originals[j], x32[:, j])
            idx = np.flatnonzero(bad).astype(np.int64)
            if idx.size:
                x32[idx, j] = self.stand_in(j, x32[idx, j])
            rows.append(idx)
        return rows

    def reject(
        self, j: int, column: str, original: npt.NDArray[Any], x32: npt.NDArray[np.float32], start: int
    ) -> None:
        """Strict mode: raise :class:`InputError` naming the first exception of variable ``j``, if any."""
        idx = np.flatnonzero(self.mask(j, original, x32))
        if not idx.size:
            return
        first = idx[0]
        value = float(x32[first])
        v = self.variables[j]
        if not np.isfinite(value):
            what = "NaN/inf values"
        elif v.log and not value + v.log_offset > 0:
            what = f"values <= {-v.log_offset + 0.0:g} (the normalisation takes their log)"
        elif self._denormal(original[first : first + 1], x32[first : first + 1]):
            what = "denormal (subnormal) values"
        else:
            what = "values outside the model's training range"
        raise InputError(
            f"column {column!r} has {idx.size} {what} (first at row {start + int(first)}: "
            f"{original[first].item()!r}); compress without strict checking to store such values exactly"
        )

    @staticmethod
    def _denormal(original: npt.NDArray[Any], x32: npt.NDArray[np.float32]) -> bool:
        if x32[0] != 0 and abs(float(x32[0])) < _TINY32:
            return True
        if original.dtype.kind == "f":
            return bool(original[0] != 0 and abs(original[0]) < np.finfo(original.dtype).tiny)
        return False


def codec_inputs(
    model: CompressionModel, x: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.float32], list[npt.NDArray[np.int64]]]:
    """The float32 values the encoder sees for ``x`` (rows, vars), and the exception rows of each variable.

    The stored latent codes are ``model.encode`` of the first: exceptions replaced by stand-ins.
    """
    with np.errstate(over="ignore"):
        data = np.array(x, dtype=np.float32, copy=True)
    rows = ExceptionFinder(model).find(data, [data[:, j].copy() for j in range(data.shape[1])])
    return data, rows


def codec_reconstruct(
    model: CompressionModel, x: npt.NDArray[Any], latent_dtype: str = "float32"
) -> npt.NDArray[np.float32]:
    """What compressing and decompressing ``x`` (rows, vars) gives back, as float32.

    :meth:`CompressionModel.reconstruct` of ``x`` with every exception replaced by its stand-in, then
    the exceptions put back exactly: the compressed columns of a decompressed float32 table equal
    this bit for bit (wider input dtypes get their exceptions back in their own dtype).
    """
    data, rows = codec_inputs(model, x)
    out = model.reconstruct(data, latent_dtype)
    with np.errstate(over="ignore"):
        original = np.asarray(x, dtype=np.float32)
    for j, idx in enumerate(rows):
        out[idx, j] = original[idx, j]
    return out
