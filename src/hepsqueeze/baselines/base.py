"""The common interface of the baseline compressors, and the self-contained payload they write.

Every baseline compresses an ``(N, F)`` float32 array column by column (as ROOT and Parquet store
one branch or column at a time, and because each variable has its own error bound) into one payload:

    b"HSQB" | uint32 LE header length | JSON header | the columns' byte parts, in order

The JSON header holds the method name, the row count, the variables, and per column the parameters
and the length of each byte part, so :meth:`Baseline.decompress` needs nothing but the payload.

A bounded method checks every column after decoding it; a column over its bound is encoded again
more tightly (``attempt`` 1, 2, ...) and never returned above the bound.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import struct
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Final

import numpy as np
import numpy.typing as npt
import zstandard

from hepsqueeze.errors import ConfigError, ContainerError, HepsqueezeError, InputError
from hepsqueeze.metrics.bounds import ErrorBound, check_bounds, column_errors

log = logging.getLogger(__name__)

MAGIC: Final = b"HSQB"
FORMAT_VERSION: Final = 1
MAX_ATTEMPTS: Final = 12
# Relative bounds enforced in log space lose up to half a float32 ulp (2^-24 relative) when the value
# is rounded back to float32, plus float64 rounding in log/exp; 4 x 2^-24 covers both with room.
LOG_MARGIN: Final = 4.0 * 2.0**-24
# Each retry shrinks a continuous bound by this factor.
TIGHTEN: Final = 0.8

Array = npt.NDArray[Any]
Float32Array = npt.NDArray[np.float32]


class BoundViolationError(HepsqueezeError, RuntimeError):
    """A lossy method could not bring a column within its error bound."""


class Baseline(ABC):
    """A standard compressor of ``(rows, variables)`` float32 arrays.

    ``lossless`` methods return the input bit for bit; ``bounded`` methods keep every value of each
    variable within its :class:`~hepsqueeze.baselines.ErrorBound`; a method that is neither (float16)
    reports whatever error it makes.
    """

    name: str
    family: ClassVar[str]
    lossless: ClassVar[bool] = False
    bounded: ClassVar[bool] = True

    def params(self) -> dict[str, Any]:
        """The method's settings (levels, presets), for reports."""
        return {}

    def describe(self) -> dict[str, Any]:
        """Name, family, whether lossless/bounded, and settings: JSON-able."""
        return {
            "name": self.name,
            "family": self.family,
            "lossless": self.lossless,
            "bounded": self.bounded,
            "params": self.params(),
        }

    def compress(
        self, x: npt.ArrayLike, variables: Sequence[str], bounds: Sequence[ErrorBound] | None = None
    ) -> bytes:
        """Compress ``x`` ``(rows, len(variables))`` into a self-contained payload.

        ``bounds`` (one per variable) is required by bounded methods and ignored by the others. Raises
        :class:`InputError` for empty or non-finite input to a lossy method, :class:`ConfigError` for
        bad bounds, :class:`BoundViolationError` if a bound cannot be met.
        """
        arr = _as_table_array(x, variables)
        checked: tuple[ErrorBound | None, ...] = (
            check_bounds(variables, bounds) if self.bounded else (None,) * len(variables)
        )
        if not self.lossless:
            _require_finite(arr, variables)
        header_cols: list[dict[str, Any]] = []
        body: list[bytes] = []
        for j, (var, bound) in enumerate(zip(variables, checked, strict=True)):
            col = np.ascontiguousarray(arr[:, j])
            params, parts = self._encode_checked(col, var, bound)
            header_cols.append({"params": params, "parts": [len(p) for p in parts]})
            body.extend(parts)
        header = {
            "method": self.name,
            "version": FORMAT_VERSION,
            "rows": int(arr.shape[0]),
            "variables": list(variables),
            "columns": header_cols,
        }
        raw = json.dumps(header, separators=(",", ":")).encode()
        return b"".join([MAGIC, struct.pack("<I", len(raw)), raw, *body])

    def decompress(self, payload: bytes) -> Float32Array:
        """The ``(rows, variables)`` float32 array stored in ``payload`` by this method."""
        header, parts = read_payload(payload)
        if header["method"] != self.name:
            raise ContainerError(f"payload was written by {header['method']!r}, not {self.name!r}")
        rows = int(header["rows"])
        out = np.empty((rows, len(header["columns"])), dtype=np.float32)
        for j, (col, col_parts) in enumerate(zip(header["columns"], parts, strict=True)):
            out[:, j] = self._decode(col["params"], col_parts, rows)
        return out

    def _encode_checked(
        self, col: Float32Array, variable: str, bound: ErrorBound | None
    ) -> tuple[dict[str, Any], list[bytes]]:
        if bound is None:
            return self._encode(col, variable, None, 0)
        worst = math.inf
        for attempt in range(MAX_ATTEMPTS):
            params, parts = self._encode(col, variable, bound, attempt)
            back = self._decode(params, parts, col.shape[0])
            worst = float(column_errors(col, back, variable).max())
            if worst <= bound.value:
                return params, parts
            log.info(
                "%s: %s max error %.6g above its %s bound %.6g; encoding again more tightly",
                self.name,
                variable,
                worst,
                bound.kind,
                bound.value,
            )
        raise BoundViolationError(
            f"{self.name}: could not keep {variable!r} within its {bound.kind} bound {bound.value:g} "
            f"(max error {worst:.6g} after {MAX_ATTEMPTS} attempts)"
        )

    @abstractmethod
    def _encode(
        self, col: Float32Array, variable: str, bound: ErrorBound | None, attempt: int
    ) -> tuple[dict[str, Any], list[bytes]]:
        """Encode one column: JSON-able parameters and byte parts. ``attempt`` > 0 asks for tighter."""

    @abstractmethod
    def _decode(self, params: dict[str, Any], parts: list[bytes], rows: int) -> Float32Array:
        """Decode one column of ``rows`` values from what :meth:`_encode` returned."""


def read_payload(payload: bytes) -> tuple[dict[str, Any], list[list[bytes]]]:
    """Split a baseline payload into its JSON header and each column's byte parts."""
    data = bytes(payload)
    if len(data) < 8 or data[:4] != MAGIC:
        raise ContainerError("not a hepsqueeze baseline payload (bad magic)")
    (size,) = struct.unpack_from("<I", data, 4)
    try:
        header = json.loads(data[8 : 8 + size])
        if header["version"] > FORMAT_VERSION:
            raise ContainerError(
                f"baseline payload version {header['version']} is newer than this hepsqueeze"
            )
        pos = 8 + size
        columns: list[list[bytes]] = []
        for col in header["columns"]:
            parts = []
            for n in col["parts"]:
                if pos + n > len(data):
                    raise ContainerError("baseline payload is truncated")
                parts.append(data[pos : pos + n])
                pos += n
            columns.append(parts)
    except (KeyError, TypeError, ValueError) as exc:
        raise ContainerError(f"invalid baseline payload header ({exc})") from None
    return header, columns


def payload_method(payload: bytes) -> str:
    """The name of the method that wrote ``payload``."""
    return str(read_payload(payload)[0]["method"])


def _as_table_array(x: npt.ArrayLike, variables: Sequence[str]) -> Float32Array:
    arr = np.asarray(x)
    if arr.ndim != 2 or arr.shape[1] != len(variables):
        raise InputError(f"expected an array of shape (rows, {len(variables)}), got {arr.shape}")
    if arr.shape[0] == 0:
        raise InputError("the array has no rows: nothing to compress")
    if arr.dtype != np.float32:
        raise InputError(f"baselines compress float32 values, got {arr.dtype}")
    return arr


def _require_finite(arr: Float32Array, variables: Sequence[str]) -> None:
    finite = np.isfinite(arr)
    if not finite.all():
        j = int(np.nonzero(~finite.all(axis=0))[0][0])
        raise InputError(
            f"column {variables[j]!r} has {int((~finite[:, j]).sum())} NaN/inf values; "
            "lossy baselines need finite values"
        )


# --- byte-level helpers shared by the methods ---------------------------------------------------


def shuffle(arr: Array) -> bytes:
    """Byte shuffle (as in Blosc/HDF5): all first bytes, then all second bytes, ... of the values."""
    a = np.ascontiguousarray(arr)
    return a.view(np.uint8).reshape(a.shape[0], a.dtype.itemsize).T.tobytes()


def unshuffle(data: bytes, dtype: npt.DTypeLike, rows: int) -> Array:
    """Inverse of :func:`shuffle` for ``rows`` values of ``dtype``."""
    dt = np.dtype(dtype)
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size != rows * dt.itemsize:
        raise ContainerError(f"expected {rows * dt.itemsize} bytes of {dt}, got {raw.size}")
    return np.ascontiguousarray(raw.reshape(dt.itemsize, rows).T).view(dt).reshape(rows)


def zstd_compress(data: bytes, level: int) -> bytes:
    """One zstd frame at ``level`` (the content size is written, so decompression needs nothing)."""
    return zstandard.ZstdCompressor(level=level).compress(data)


def zstd_decompress(data: bytes) -> bytes:
    """Decompress one zstd frame."""
    try:
        return zstandard.ZstdDecompressor().decompress(data)
    except zstandard.ZstdError as exc:
        raise ContainerError(f"corrupt zstd data in baseline payload ({exc})") from None


def optional_module(name: str) -> Any:
    """Import one of the optional compressor libraries (pysz, zfpy, fpzip), or say how to get it.

    Imported on first use so that the lossless baselines, and the rest of hepsqueeze, work without them.
    """
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ConfigError(
            f"this baseline needs the {name!r} package: pip install 'hepsqueeze[baselines]' (or {name})"
        ) from None


def check_level(level: int, low: int, high: int, what: str) -> int:
    """Validate an integer compression level in ``[low, high]`` (raise :class:`ConfigError`)."""
    if isinstance(level, bool) or not isinstance(level, int) or not low <= level <= high:
        raise ConfigError(f"{what} must be an integer in [{low}, {high}], got {level!r}")
    return level
