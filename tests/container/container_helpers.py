"""Shared by the container tests: sample arrays, a small reference container, and hand-built containers
(to reach states the writer refuses to produce)."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import numpy.typing as npt
import xxhash

from hepsqueeze.container import DTYPES, MAGIC, ContainerReader, ContainerWriter, container_bytes

INTEGER_DTYPES = sorted(d for d in DTYPES if np.dtype(d).kind in "iu")
SHAPES = [(), (0,), (1,), (7,), (0, 3), (5, 3), (2, 3, 4)]


def sample(dtype: str, shape: tuple[int, ...], seed: int = 0) -> npt.NDArray[Any]:
    """Values spanning the dtype's range, with NaN, infinities and -0.0 for floats."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    n = int(np.prod(shape))
    if dt.kind == "b":
        flat = rng.integers(0, 2, n).astype(bool)
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        flat = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
    else:
        flat = (rng.standard_normal(n) * 1e3).astype(dt)
        flat[: min(n, 4)] = np.array([np.nan, np.inf, -np.inf, -0.0], dtype=dt)[: min(n, 4)]
    return flat.reshape(shape)


def same(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> bool:
    """Identical dtype, shape and bytes (NaN payloads and -0.0 included)."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def read_all(reader: ContainerReader) -> list[npt.NDArray[Any]]:
    return [reader.read_array(s) for s in reader.sections]


# A small container with one section of each flavour: used by the truncation and corruption tests.


SMALL_ARRAYS: list[tuple[str, str, npt.NDArray[Any], dict[str, Any]]] = [
    ("latent", "latent", sample("<f4", (6, 3), 1), {"encoding": "zstd", "transform": "shuffle"}),
    ("latent", "half", sample("<f2", (4, 2), 2), {}),
    ("column", "event", np.arange(100, 108, dtype="<i8"), {"encoding": "zstd", "transform": "delta"}),
    ("column", "flag", np.array([True, False, True]), {"encoding": "zstd"}),
    ("column", "empty", np.zeros(0, dtype="<u2"), {}),
]


def build_small(writer: ContainerWriter) -> None:
    for kind, name, arr, kw in SMALL_ARRAYS:
        writer.add_array(kind, name, arr, unit="GeV", **kw)
    writer.add_bytes("model", "decoder", b"\x00model bytes\xff", chunk=2)


SMALL_HEADER = {"kind": "test", "rows": 6, "nested": {"list": [1, 2.5, None, True, "x"]}}
SMALL = container_bytes(SMALL_HEADER, build_small)


def decode_everything(data: bytes, *, verify: bool = True) -> tuple[dict[str, Any], list[npt.NDArray[Any]]]:
    with ContainerReader.from_bytes(data, name="mutant.hsqz", verify=verify) as reader:
        return reader.header, read_all(reader)


with ContainerReader.from_bytes(SMALL) as _r:
    SMALL_SECTIONS = list(_r.sections)
    SMALL_DECODED = read_all(_r)


# --------------------------------------------------------------------------------------------------
# Hand-built containers, to reach states the writer refuses to produce


def frame(desc: dict[str, Any] | bytes, payload: bytes = b"") -> bytes:
    """One section with a correct checksum (descriptor given as a dict or as raw bytes)."""
    raw = desc if isinstance(desc, bytes) else json.dumps(desc).encode()
    digest = xxhash.xxh64_intdigest(raw + payload)
    return (
        struct.pack("<I", len(raw))
        + raw
        + struct.pack("<Q", len(payload))
        + payload
        + struct.pack("<Q", digest)
    )


def preamble(header: dict[str, Any] | bytes | None = None, *, version: int = 1, reserved: int = 0) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header or {}).encode()
    return (
        MAGIC
        + struct.pack("<HHI", version, reserved, len(raw))
        + raw
        + struct.pack("<Q", xxhash.xxh64_intdigest(raw))
    )


def handmade(
    sections: list[tuple[dict[str, Any] | bytes, bytes]],
    *,
    header: dict[str, Any] | bytes | None = None,
    version: int = 1,
    end: dict[str, Any] | None = None,
    trailing: bytes = b"",
) -> bytes:
    body = b"".join(frame(d, p) for d, p in sections)
    end_desc = end if end is not None else {"kind": "end", "sections": len(sections)}
    return preamble(header, version=version) + body + frame(end_desc) + trailing


def desc(**overrides: Any) -> dict[str, Any]:
    """A valid descriptor of a raw float32 pair (payload ``PAIR``), with fields overridden."""
    base: dict[str, Any] = {
        "kind": "column",
        "name": "x",
        "chunk": 0,
        "encoding": "raw",
        "transform": None,
        "dtype": "<f4",
        "shape": [2],
        "nbytes": 8,
    }
    base.update(overrides)
    return base


PAIR = np.array([1.5, -2.0], dtype="<f4").tobytes()
