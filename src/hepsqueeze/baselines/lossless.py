"""Lossless baselines: zstd (plain or byte-shuffled), lzma, fpzip. Every value comes back bit for bit."""

from __future__ import annotations

import lzma
from typing import Any, ClassVar

import numpy as np

from hepsqueeze.baselines.base import (
    Baseline,
    Float32Array,
    check_level,
    optional_module,
    shuffle,
    unshuffle,
    zstd_compress,
    zstd_decompress,
)
from hepsqueeze.errors import ContainerError
from hepsqueeze.metrics.bounds import ErrorBound


class Zstd(Baseline):
    """zstd at ``level`` on each column's float32 bytes, optionally byte-shuffled first.

    Shuffling groups the slowly varying sign/exponent bytes together, which is what ROOT's and
    Blosc's float compression rely on.
    """

    family: ClassVar[str] = "lossless"
    lossless: ClassVar[bool] = True
    bounded: ClassVar[bool] = False

    def __init__(self, level: int = 19, byte_shuffle: bool = False) -> None:
        self.level = check_level(level, 1, 22, "zstd level")
        self.byte_shuffle = bool(byte_shuffle)
        self.name = f"{'shuffle+' if byte_shuffle else ''}zstd-{level}"

    def params(self) -> dict[str, Any]:
        return {"level": self.level, "shuffle": self.byte_shuffle}

    def _encode(
        self, col: Float32Array, variable: str, bound: ErrorBound | None, attempt: int
    ) -> tuple[dict[str, Any], list[bytes]]:
        raw = shuffle(col) if self.byte_shuffle else col.tobytes()
        return {"shuffle": self.byte_shuffle}, [zstd_compress(raw, self.level)]

    def _decode(self, params: dict[str, Any], parts: list[bytes], rows: int) -> Float32Array:
        raw = zstd_decompress(parts[0])
        if params["shuffle"]:
            return unshuffle(raw, np.float32, rows)
        return _from_bytes(raw, rows)


class Lzma(Baseline):
    """xz/lzma at ``preset`` (0-9) on each column's float32 bytes (ROOT's strongest general codec)."""

    family: ClassVar[str] = "lossless"
    lossless: ClassVar[bool] = True
    bounded: ClassVar[bool] = False

    def __init__(self, preset: int = 9) -> None:
        self.preset = check_level(preset, 0, 9, "lzma preset")
        self.name = f"lzma-{preset}"

    def params(self) -> dict[str, Any]:
        return {"preset": self.preset}

    def _encode(
        self, col: Float32Array, variable: str, bound: ErrorBound | None, attempt: int
    ) -> tuple[dict[str, Any], list[bytes]]:
        return {}, [lzma.compress(col.tobytes(), preset=self.preset)]

    def _decode(self, params: dict[str, Any], parts: list[bytes], rows: int) -> Float32Array:
        try:
            raw = lzma.decompress(parts[0])
        except lzma.LZMAError as exc:
            raise ContainerError(f"corrupt lzma data in baseline payload ({exc})") from None
        return _from_bytes(raw, rows)


class FpzipLossless(Baseline):
    """fpzip at full precision: a predictive coder made for floating-point fields, lossless."""

    name = "fpzip"
    family: ClassVar[str] = "lossless"
    lossless: ClassVar[bool] = True
    bounded: ClassVar[bool] = False

    def _encode(
        self, col: Float32Array, variable: str, bound: ErrorBound | None, attempt: int
    ) -> tuple[dict[str, Any], list[bytes]]:
        return {}, [optional_module("fpzip").compress(col, precision=0)]

    def _decode(self, params: dict[str, Any], parts: list[bytes], rows: int) -> Float32Array:
        return fpzip_decode(parts[0], rows)


def fpzip_decode(data: bytes, rows: int) -> Float32Array:
    """Decode one fpzip stream of ``rows`` float32 values (fpzip returns a 4D array)."""
    fpzip = optional_module("fpzip")
    try:
        arr = np.asarray(fpzip.decompress(data), dtype=np.float32).reshape(-1)
    except fpzip.FpzipError as exc:
        raise ContainerError(f"corrupt fpzip data in baseline payload ({exc})") from None
    if arr.size != rows:
        raise ContainerError(f"fpzip column holds {arr.size} values, expected {rows}")
    return arr


def _from_bytes(raw: bytes, rows: int) -> Float32Array:
    arr = np.frombuffer(raw, dtype=np.float32)
    if arr.size != rows:
        raise ContainerError(f"column holds {arr.size} values, expected {rows}")
    return arr.copy()
