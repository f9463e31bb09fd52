"""Lossy baselines: float16, mantissa bit rounding, fpzip at reduced precision, uniform quantisation,
SZ3 and ZFP.

All but float16 keep every value within its bound. The float-format methods (bit rounding, fpzip)
choose how many mantissa bits to keep per column. The others work on each column's values in a
"working space" with one absolute bound: the values themselves for absolute bounds, ``ln|x|`` for
relative ones, where ``|y/x - 1| <= eps`` holds whenever ``|ln|y| - ln|x|| <= ln(1 + eps)`` (and the
float32 rounding of ``exp`` is covered by :data:`~hepsqueeze.baselines.base.LOG_MARGIN`). Values
``<= 0`` under a relative bound keep their sign (and exact zeros) in a small zstd-compressed int8 part,
which is omitted when every value is positive.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any, ClassVar, Final

import numpy as np

from hepsqueeze.baselines.base import (
    LOG_MARGIN,
    TIGHTEN,
    Array,
    Baseline,
    Float32Array,
    check_level,
    optional_module,
    shuffle,
    unshuffle,
    zstd_compress,
    zstd_decompress,
)
from hepsqueeze.baselines.lossless import fpzip_decode
from hepsqueeze.errors import ConfigError, ContainerError
from hepsqueeze.metrics.bounds import ErrorBound

MANTISSA_BITS: Final = 23  # float32
DEFAULT_ZSTD_LEVEL: Final = 19
_UINTS: Final = (np.uint8, np.uint16, np.uint32, np.uint64)


class Float16(Baseline):
    """Cast to IEEE float16 (11 significant bits, max 65504), byte-shuffle, zstd.

    Not bounded: the relative error is up to 2^-11 in the normal range, larger for subnormals, and
    values beyond 65504 become inf. The benchmark reports the error it makes.
    """

    name = "float16+zstd"
    family: ClassVar[str] = "float16"
    bounded: ClassVar[bool] = False

    def __init__(self, zstd_level: int = DEFAULT_ZSTD_LEVEL) -> None:
        self.zstd_level = check_level(zstd_level, 1, 22, "zstd level")

    def params(self) -> dict[str, Any]:
        return {"zstd_level": self.zstd_level}

    def _encode(
        self, col: Float32Array, variable: str, bound: ErrorBound | None, attempt: int
    ) -> tuple[dict[str, Any], list[bytes]]:
        with np.errstate(over="ignore"):
            half = col.astype(np.float16)
        return {}, [zstd_compress(shuffle(half), self.zstd_level)]

    def _decode(self, params: dict[str, Any], parts: list[bytes], rows: int) -> Float32Array:
        return unshuffle(zstd_decompress(parts[0]), np.float16, rows).astype(np.float32)


def _max_exponent(col: Float32Array) -> int | None:
    """``floor(log2(max |x|))`` of a column, ``None`` when every value is 0."""
    top = float(np.max(np.abs(col)))
    return math.frexp(top)[1] - 1 if top > 0 else None


def _clamp_bits(bits: float) -> int:
    return int(min(MANTISSA_BITS, max(0, math.ceil(bits))))


class BitRound(Baseline):
    """Mantissa bit rounding as ATLAS does for stored floats, then byte shuffle and zstd.

    Keeping ``m`` of the 23 mantissa bits and rounding (add half of the last kept bit, mask the rest)
    makes the relative error at most 2^-(m+1). ``m`` per column: the smallest with 2^-(m+1) <= eps for
    a relative bound; for an absolute bound ``a`` the smallest with 2^(e-m-1) <= a, ``e`` the binary
    exponent of the column's largest ``|x|``.
    """

    name = "bitround+zstd"
    family: ClassVar[str] = "bitround"

    def __init__(self, zstd_level: int = DEFAULT_ZSTD_LEVEL) -> None:
        self.zstd_level = check_level(zstd_level, 1, 22, "zstd level")

    def params(self) -> dict[str, Any]:
        return {"zstd_level": self.zstd_level}

    @staticmethod
    def mantissa_bits(col: Float32Array, bound: ErrorBound) -> int:
        """Mantissa bits to keep so that rounding alone respects ``bound``."""
        if bound.kind == "relative":
            return _clamp_bits(-math.log2(bound.value) - 1)
        e = _max_exponent(col)
        return 0 if e is None else _clamp_bits(e - 1 - math.log2(bound.value))

    def _encode(
        self, col: Float32Array, variable: str, bound: ErrorBound | None, attempt: int
    ) -> tuple[dict[str, Any], list[bytes]]:
        assert bound is not None
        bits = min(MANTISSA_BITS, self.mantissa_bits(col, bound) + attempt)
        drop = MANTISSA_BITS - bits
        u = col.view(np.uint32)
        if drop:
            half = np.uint32(1 << (drop - 1))
            mask = np.uint32(~((1 << drop) - 1) & 0xFFFFFFFF)
            # Adding half an LSB to the magnitude bits rounds to nearest; a carry into the exponent
            # is the correct result (the next power of two).
            u = (u + half) & mask
        return {"mantissa_bits": bits}, [zstd_compress(shuffle(u), self.zstd_level)]

    def _decode(self, params: dict[str, Any], parts: list[bytes], rows: int) -> Float32Array:
        return unshuffle(zstd_decompress(parts[0]), np.uint32, rows).view(np.float32)


class FpzipReduced(Baseline):
    """fpzip keeping ``9 + m`` of 32 bits (sign, exponent, ``m`` mantissa bits), which truncates.

    Truncation makes the error below one unit of the last kept bit: ``m`` is the smallest with
    2^-m <= eps (relative) or 2^(e-m) <= a (absolute, ``e`` the exponent of the largest ``|x|``).
    """

    name = "fpzip-reduced"
    family: ClassVar[str] = "fpzip"

    @staticmethod
    def mantissa_bits(col: Float32Array, bound: ErrorBound) -> int:
        """Mantissa bits fpzip keeps so that truncation respects ``bound``."""
        if bound.kind == "relative":
            return _clamp_bits(-math.log2(bound.value))
        e = _max_exponent(col)
        return 0 if e is None else _clamp_bits(e - math.log2(bound.value))

    def _encode(
        self, col: Float32Array, variable: str, bound: ErrorBound | None, attempt: int
    ) -> tuple[dict[str, Any], list[bytes]]:
        assert bound is not None
        bits = self.mantissa_bits(col, bound) + attempt
        # precision 0 is fpzip's lossless mode, used once every mantissa bit is kept.
        precision = 0 if bits >= MANTISSA_BITS else 9 + bits
        return {"precision": precision}, [optional_module("fpzip").compress(col, precision=precision)]

    def _decode(self, params: dict[str, Any], parts: list[bytes], rows: int) -> Float32Array:
        return fpzip_decode(parts[0], rows)


class WorkingSpaceBaseline(Baseline):
    """A method that compresses each column's working values (``x`` or ``ln|x|``) to an absolute bound."""

    @abstractmethod
    def _encode_working(self, w: Array, eb: float) -> tuple[dict[str, Any], list[bytes]]:
        """Encode working values ``w`` with max absolute error ``eb``."""

    @abstractmethod
    def _decode_working(self, params: dict[str, Any], parts: list[bytes], rows: int) -> Array:
        """Decode ``rows`` working values."""

    def _encode(
        self, col: Float32Array, variable: str, bound: ErrorBound | None, attempt: int
    ) -> tuple[dict[str, Any], list[bytes]]:
        assert bound is not None
        scale = TIGHTEN**attempt
        prefix: list[bytes] = []
        if bound.kind == "absolute":
            # The decoded value is rounded to float32: leave one float32 ulp of the largest value.
            top = float(np.max(np.abs(col)))
            eb = bound.value * scale - float(np.spacing(np.float32(top)))
            w: Array = col
            space = {"space": "linear", "signs": False}
        else:
            eb = math.log1p(bound.value) * scale - LOG_MARGIN
            mag = np.abs(col.astype(np.float64))
            positive = mag > 0
            signs = not bool((col > 0).all())
            if signs:
                prefix.append(zstd_compress(np.sign(col).astype(np.int8).tobytes(), 19))
            w = np.log(np.where(positive, mag, 1.0))
            if signs:
                # Zeros have no logarithm: give them a typical value so predictors are not disturbed.
                w[~positive] = float(np.median(w[positive])) if positive.any() else 0.0
            space = {"space": "log", "signs": signs}
        if not eb > 0:
            raise ConfigError(
                f"{self.name}: {bound.kind} bound {bound.value:g} is too small for float32 values "
                f"(max |x| {float(np.max(np.abs(col))):g})"
            )
        params, parts = self._encode_working(w, eb)
        return {**space, "eb": eb, "codec": params}, prefix + parts

    def _decode(self, params: dict[str, Any], parts: list[bytes], rows: int) -> Float32Array:
        signs = bool(params["signs"])
        w = self._decode_working(params["codec"], parts[1:] if signs else parts, rows)
        if w.shape != (rows,):
            raise ContainerError(f"{self.name}: column holds {w.shape} values, expected ({rows},)")
        if params["space"] == "linear":
            return w.astype(np.float32)
        y = np.exp(w.astype(np.float64))
        if signs:
            y *= np.frombuffer(zstd_decompress(parts[0]), dtype=np.int8)
        return y.astype(np.float32)


class Quantise(WorkingSpaceBaseline):
    """Uniform quantisation over the column's range (like ROOT's Float16_t / RNTuple Real32Quant),
    then byte shuffle and zstd.

    Integers ``q = round((w - min) / step)`` with ``step = 2 eb`` in the smallest unsigned type that
    holds them; decoding gives ``min + q step``, within ``eb`` of ``w``.
    """

    name = "quantise+zstd"
    family: ClassVar[str] = "quantise"

    def __init__(self, zstd_level: int = DEFAULT_ZSTD_LEVEL) -> None:
        self.zstd_level = check_level(zstd_level, 1, 22, "zstd level")

    def params(self) -> dict[str, Any]:
        return {"zstd_level": self.zstd_level}

    def _encode_working(self, w: Array, eb: float) -> tuple[dict[str, Any], list[bytes]]:
        v = np.asarray(w, dtype=np.float64)
        low = float(v.min())
        step = 2.0 * eb
        q = np.rint((v - low) / step)
        top = float(q.max())
        dtype = next(t for t in _UINTS if top <= np.iinfo(t).max)
        ints = q.astype(dtype)
        params = {
            "min": low,
            "step": step,
            "dtype": np.dtype(dtype).name,
            "bits": max(1, math.ceil(math.log2(top + 1))),
        }
        return params, [zstd_compress(shuffle(ints), self.zstd_level)]

    def _decode_working(self, params: dict[str, Any], parts: list[bytes], rows: int) -> Array:
        q = unshuffle(zstd_decompress(parts[0]), np.dtype(params["dtype"]), rows)
        return float(params["min"]) + q.astype(np.float64) * float(params["step"])


class Sz3(WorkingSpaceBaseline):
    """SZ3 (prediction + error-bounded quantisation + entropy coding) in absolute-error mode."""

    name = "sz3"
    family: ClassVar[str] = "sz3"

    def _encode_working(self, w: Array, eb: float) -> tuple[dict[str, Any], list[bytes]]:
        pysz = optional_module("pysz")
        cfg = pysz.szConfig()
        cfg.errorBoundMode = pysz.szErrorBoundMode.ABS
        cfg.absErrorBound = eb
        data = np.ascontiguousarray(w)
        packed, _ = pysz.sz.compress(data, cfg)
        return {"dtype": data.dtype.name}, [packed.tobytes()]

    def _decode_working(self, params: dict[str, Any], parts: list[bytes], rows: int) -> Array:
        pysz = optional_module("pysz")
        try:
            out, _ = pysz.sz.decompress(
                np.frombuffer(parts[0], dtype=np.uint8), np.dtype(params["dtype"]), (rows,)
            )
        except (ValueError, RuntimeError) as exc:
            raise ContainerError(f"corrupt SZ3 data in baseline payload ({exc})") from None
        return np.asarray(out)


class Zfp(WorkingSpaceBaseline):
    """ZFP (block transform codec) in fixed-accuracy mode: every value within ``tolerance``."""

    name = "zfp"
    family: ClassVar[str] = "zfp"

    def _encode_working(self, w: Array, eb: float) -> tuple[dict[str, Any], list[bytes]]:
        return {}, [optional_module("zfpy").compress_numpy(np.ascontiguousarray(w), tolerance=eb)]

    def _decode_working(self, params: dict[str, Any], parts: list[bytes], rows: int) -> Array:
        zfpy = optional_module("zfpy")
        try:
            out = zfpy.decompress_numpy(parts[0])
        except Exception as exc:  # zfpy raises bare exceptions on bad streams
            raise ContainerError(f"corrupt ZFP data in baseline payload ({exc})") from None
        return np.asarray(out).reshape(-1)
