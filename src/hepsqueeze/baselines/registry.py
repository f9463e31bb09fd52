"""The standard set of baselines, and lookup by name."""

from __future__ import annotations

from hepsqueeze.baselines.base import Baseline, Float32Array, payload_method
from hepsqueeze.baselines.lossless import FpzipLossless, Lzma, Zstd
from hepsqueeze.baselines.lossy import (
    DEFAULT_ZSTD_LEVEL,
    BitRound,
    Float16,
    FpzipReduced,
    Quantise,
    Sz3,
    Zfp,
)
from hepsqueeze.errors import ConfigError, nearest_names


def default_baselines(zstd_level: int = DEFAULT_ZSTD_LEVEL) -> list[Baseline]:
    """Every baseline the benchmark runs: lossless first, then float16, then the bounded methods.

    ``zstd_level`` is the zstd level of the lossy methods' final stage.
    """
    return [
        Zstd(3),
        Zstd(19),
        Zstd(3, byte_shuffle=True),
        Zstd(19, byte_shuffle=True),
        Lzma(9),
        FpzipLossless(),
        Float16(zstd_level),
        BitRound(zstd_level),
        Quantise(zstd_level),
        Sz3(),
        Zfp(),
        FpzipReduced(),
    ]


def get_baseline(name: str) -> Baseline:
    """The baseline called ``name`` (``zstd-<level>``, ``shuffle+zstd-<level>``, ``lzma-<preset>`` or a
    name from :func:`default_baselines`); raises :class:`ConfigError` naming the nearest."""
    for b in default_baselines():
        if b.name == name:
            return b
    for prefix, make in (("shuffle+zstd-", lambda n: Zstd(n, True)), ("zstd-", Zstd), ("lzma-", Lzma)):
        level = name.removeprefix(prefix)
        if level != name and level.isdigit():
            return make(int(level))
    names = [b.name for b in default_baselines()]
    near = nearest_names(name, names)
    hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
    raise ConfigError(f"unknown baseline {name!r} (available: {', '.join(names)}){hint}")


def decompress(payload: bytes) -> Float32Array:
    """Decompress any baseline payload, with the method named in its header."""
    return get_baseline(payload_method(payload)).decompress(payload)
