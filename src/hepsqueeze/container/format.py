"""The hepsqueeze container: a versioned, self-describing, checksummed file of JSON-described sections.

Compressed datasets and model files both use it. The byte layout, field meanings and validation rules
are in ``docs/container-format.md``; in short (all integers little-endian)::

    MAGIC (9 bytes) | u16 version | u16 reserved=0 | u32 header_len | header JSON | u64 xxh64
    section*: u32 desc_len | desc JSON | u64 payload_len | payload | u64 xxh64(desc + payload)
    end:      a section {"kind": "end", "sections": <count>} with an empty payload, then end of file

A container is data, never code: it holds JSON and typed numeric arrays only. The reader checks every
length against the file size and fixed limits before reading, verifies every checksum, and rejects
anything it does not understand, so a corrupt or hostile file raises :class:`ContainerError` rather
than allocating unbounded memory or returning wrong numbers.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import struct
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final, NoReturn

import numpy as np
import numpy.typing as npt
import xxhash
import zstandard

from hepsqueeze.atomic import atomic_open
from hepsqueeze.errors import ContainerError, ContainerVersionError, InputFileNotFoundError

__all__ = [
    "DTYPES",
    "ENCODINGS",
    "FORMAT_VERSION",
    "KINDS_BY_VERSION",
    "KNOWN_KINDS",
    "MAGIC",
    "MAX_DESC_BYTES",
    "MAX_DESC_ITEMS",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_ITEMS",
    "MAX_NBYTES",
    "MAX_NDIM",
    "MAX_SECTIONS",
    "MAX_TOTAL_DESC_BYTES",
    "TRANSFORMS",
    "ZSTD_MAX_RATIO",
    "ContainerReader",
    "ContainerWriter",
    "Section",
    "SectionSize",
    "container_bytes",
    "write_container",
]

MAGIC: Final = b"\x89HSQZ\r\n\x1a\n"
"""First 9 bytes of every container. As in PNG, the high byte, CR LF, ^Z and LF expose 7-bit and
text-mode transfers that would corrupt the file."""

FORMAT_VERSION: Final = 1
"""The container format version this hepsqueeze writes, and the newest it reads."""

KNOWN_KINDS: frozenset[str] = frozenset({"latent", "column", "model", "weight", "end"})
"""Section kinds of format version 1."""

KINDS_BY_VERSION: Mapping[int, frozenset[str]] = {1: KNOWN_KINDS}
"""Section kinds allowed in a file of each format version; a new version adds an entry here."""

ENCODINGS: frozenset[str] = frozenset({"raw", "zstd"})
TRANSFORMS: frozenset[str] = frozenset({"delta", "shuffle"})
DTYPES: frozenset[str] = frozenset(
    {"|b1", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "<f2", "<f4", "<f8"}
)
"""Storable numpy dtypes (``dtype.str``): bool, integers and floats, little-endian only."""

# Limits a reader enforces before reading or allocating anything; the writer enforces the same ones
# so that it never produces a file the reader refuses.
MAX_HEADER_BYTES: Final = 64 << 20
"""Longest header JSON. Real headers take a few kB (a NanoAOD layout of 1500 branches ~ 200 kB)."""
MAX_HEADER_ITEMS: Final = 1 << 18
"""Most JSON values (objects, arrays, entries and scalars) in a header. Parsed JSON takes far more
memory than its text (a dict of 1M short keys: 18 MiB of text, 240 MiB while parsing, 6 s); with at
most 2**18 values, the parsed header is bounded by a small multiple of its bytes (long strings) plus
about 60 MB (many small values), and parses in about a second at most."""
MAX_DESC_BYTES: Final = 1 << 20
MAX_DESC_ITEMS: Final = 1 << 12
"""Most JSON values in one section descriptor (real ones hold about 20)."""
MAX_TOTAL_DESC_BYTES: Final = 256 << 20
MAX_SECTIONS: Final = 1 << 20
MAX_NBYTES: Final = 1 << 40
MAX_NDIM: Final = 32
ZSTD_MAX_RATIO: Final = 1 << 16
"""Largest decoded/stored size ratio accepted for a zstd section. zstd itself cannot exceed ~32768:1
(a 128 KiB block stored as a 4-byte RLE block), so this only rejects descriptors that lie about size."""

DEFAULT_ZSTD_LEVEL: Final = 3

_RESERVED_KEYS: Final = frozenset(
    {"kind", "name", "chunk", "encoding", "transform", "dtype", "shape", "nbytes"}
)
_END_KEYS: Final = frozenset({"kind", "sections"})
_MAX_CHUNK: Final = (1 << 53) - 1  # stays exact in any JSON reader that parses numbers as doubles
_PREAMBLE: Final = struct.Struct(f"<{len(MAGIC)}sHHI")  # magic, format version, reserved, header length
_VERSION_AT: Final = len(MAGIC)  # byte offsets of the preamble fields, for messages
_RESERVED_AT: Final = _VERSION_AT + 2
_HEADER_LEN_AT: Final = _VERSION_AT + 4
_U32: Final = struct.Struct("<I")
_U64: Final = struct.Struct("<Q")
_READ_BLOCK: Final = 1 << 20  # open-time verification streams payloads in blocks of this size
_LABEL_CHARS: Final = 60

_FORMAT_HINTS: Final = (
    (b"PAR1", "a Parquet file"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
    (b"root", "a ROOT file"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"PK\x03\x04", "a zip archive (.npz or a PyTorch checkpoint?)"),
    (b"\x28\xb5\x2f\xfd", "a plain zstd stream"),
    (b"\x1f\x8b", "a gzip stream"),
)


@dataclass(frozen=True)
class Section:
    """One section of a container: its descriptor and where its payload lies.

    ``offset`` is the byte offset of the payload from the start of the container and ``length`` the
    stored (possibly compressed) payload length; ``start`` is the offset of the section's first byte
    (its ``desc_len`` field) and ``index`` its position among the container's sections.
    """

    kind: str
    name: str
    chunk: int
    desc: dict[str, Any] = field(compare=False, repr=False)
    offset: int
    length: int
    index: int
    start: int

    @property
    def dtype(self) -> np.dtype[Any]:
        """The decoded array's dtype."""
        return np.dtype(str(self.desc["dtype"]))

    @property
    def shape(self) -> tuple[int, ...]:
        """The decoded array's shape."""
        return tuple(self.desc["shape"])

    @property
    def nbytes(self) -> int:
        """The decoded size in bytes (what :meth:`ContainerReader.read_array` allocates)."""
        return int(self.desc["nbytes"])

    @property
    def encoding(self) -> str:
        """``"raw"`` or ``"zstd"``."""
        return str(self.desc["encoding"])

    @property
    def transform(self) -> str | None:
        """``None``, ``"delta"`` or ``"shuffle"``."""
        value = self.desc["transform"]
        return None if value is None else str(value)

    @property
    def extras(self) -> dict[str, Any]:
        """The descriptor's free keys (everything but the standard fields)."""
        return {k: v for k, v in self.desc.items() if k not in _RESERVED_KEYS}

    @property
    def stored_size(self) -> int:
        """Bytes the whole section occupies in the file, framing and checksum included."""
        return self.offset + self.length + 8 - self.start


@dataclass(frozen=True)
class SectionSize:
    """Size accounting of one section (for ``hepsqueeze info``)."""

    kind: str
    name: str
    chunk: int
    stored: int
    """Bytes in the file, descriptor, framing and checksum included."""
    payload: int
    """Stored payload bytes (after compression)."""
    decoded: int
    """Decoded payload bytes."""


def _details(sections: list[Section]) -> list[SectionSize]:
    return [SectionSize(s.kind, s.name, s.chunk, s.stored_size, s.length, s.nbytes) for s in sections]


def _sizes(header_size: int, sections: list[Section], end_size: int) -> dict[str, int]:
    sizes = {"header": header_size}
    for s in sections:
        sizes[s.kind] = sizes.get(s.kind, 0) + s.stored_size
    if end_size:
        sizes["end"] = end_size
    return sizes


# --------------------------------------------------------------------------------------------------
# JSON and descriptor validation, shared by the reader and the writer


class _ProblemError(Exception):
    """Internal: a validation failure, re-raised as ContainerError with the file and location."""


class _VersionProblemError(_ProblemError):
    """Internal: something only a newer format version allows."""


def _reject_constant(token: str) -> NoReturn:
    raise _ProblemError(f"JSON contains {token}, which is not allowed")


def _parse_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise _ProblemError(f"JSON number {token[:_LABEL_CHARS]} is out of range")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _ProblemError(f"JSON object has duplicate key {_short(key)}")
        out[key] = value
    return out


def _json_items_bound(raw: bytes | bytearray) -> int:
    """An upper bound on the number of JSON values in ``raw``, without parsing it.

    Every value after the first of an array or object follows a comma, and the first values are at
    most the number of arrays and objects; commas and brackets inside strings only raise the bound.
    """
    return raw.count(b",") + raw.count(b"[") + raw.count(b"{") + 1


def _check_items(raw: bytes | bytearray, limit: int, what: str) -> None:
    bound = _json_items_bound(raw)
    if bound > limit:
        raise _ProblemError(
            f"{what} JSON is nested too deeply or too large: up to {bound} values (commas and brackets), "
            f"more than the limit of {limit}"
        )


def _parse_json_object(raw: bytes, what: str, max_items: int) -> dict[str, Any]:
    """Strictly parse UTF-8 JSON that must be an object (no NaN, no duplicate keys, at most ``max_items`` values)."""
    _check_items(raw, max_items, what)
    try:
        obj = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_reject_constant,
            parse_float=_parse_float,
        )
    except UnicodeDecodeError as exc:
        raise _ProblemError(f"{what} is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise _ProblemError(f"{what} JSON is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        raise _ProblemError(f"{what} is not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise _ProblemError(f"{what} must be a JSON object, not {type(obj).__name__}")
    return obj


def _to_json(value: Any, where: str) -> Any:
    """Return ``value`` as plain JSON types, converting numpy scalars/arrays; reject anything else."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        return _to_json(value.item(), where)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ContainerError(f"{where} is {value}; JSON cannot store NaN or infinity")
        return float(value)
    if isinstance(value, np.ndarray):
        return _to_json(value.tolist(), where)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ContainerError(
                    f"{where} has key {key!r} of type {type(key).__name__}; keys must be str"
                )
            out[key] = _to_json(item, f"{where}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_to_json(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise ContainerError(f"{where} has type {type(value).__name__}, which cannot be stored as JSON")


def _encode_json(value: Mapping[str, Any], where: str) -> bytes:
    return json.dumps(_to_json(value, where), separators=(",", ":"), allow_nan=False).encode("ascii")


def _is_int(value: object) -> bool:
    # JSON true/false arrive as bool, a subclass of int; they are not valid counts or sizes.
    return type(value) is int


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 3] + "..."


def _check_kind(desc: Mapping[str, Any], version: int) -> str:
    kind = desc.get("kind")
    if not isinstance(kind, str):
        raise _ProblemError(f"descriptor field 'kind' must be a string, not {_short(kind)}")
    allowed = KINDS_BY_VERSION[version]
    if kind not in allowed:
        raise _VersionProblemError(
            f"section kind {_short(kind)} is unknown to container format version {version} "
            f"(known: {', '.join(sorted(allowed))}); it may need a newer hepsqueeze"
        )
    return kind


def _check_end_desc(desc: Mapping[str, Any], payload_len: int, count: int) -> None:
    keys = set(desc)
    if keys != _END_KEYS:
        raise _ProblemError(
            f"end section descriptor must hold exactly 'kind' and 'sections', not {_short(sorted(keys))}"
        )
    claimed = desc["sections"]
    if not _is_int(claimed):
        raise _ProblemError(f"end section field 'sections' must be an integer, not {_short(claimed)}")
    if claimed != count:
        raise _ProblemError(f"end section says there are {claimed} sections but {count} precede it")
    if payload_len != 0:
        raise _ProblemError(f"end section has a {payload_len}-byte payload; it must be empty")


def _check_data_desc(desc: Mapping[str, Any], payload_len: int) -> None:
    """Validate a (non-end) section descriptor against the schema and its stored payload length."""
    missing = [key for key in sorted(_RESERVED_KEYS) if key not in desc]
    if missing:
        raise _ProblemError(f"descriptor lacks field(s) {', '.join(missing)}")
    if not isinstance(desc["name"], str):
        raise _ProblemError(f"descriptor field 'name' must be a string, not {_short(desc['name'])}")
    chunk = desc["chunk"]
    if not _is_int(chunk) or not 0 <= chunk <= _MAX_CHUNK:
        raise _ProblemError(f"descriptor field 'chunk' must be an integer in [0, 2**53), not {_short(chunk)}")
    encoding = desc["encoding"]
    if not isinstance(encoding, str) or encoding not in ENCODINGS:
        raise _ProblemError(f"unknown encoding {_short(encoding)} (known: {', '.join(sorted(ENCODINGS))})")
    transform = desc["transform"]
    if transform is not None and (not isinstance(transform, str) or transform not in TRANSFORMS):
        raise _ProblemError(
            f"unknown transform {_short(transform)} (known: null, {', '.join(sorted(TRANSFORMS))})"
        )
    dtype_str = desc["dtype"]
    if not isinstance(dtype_str, str) or dtype_str not in DTYPES:
        raise _ProblemError(
            f"dtype {_short(dtype_str)} is not allowed (allowed: {', '.join(sorted(DTYPES))})"
        )
    dtype = np.dtype(dtype_str)
    if transform == "delta" and dtype.kind not in "iu":
        raise _ProblemError(f"transform 'delta' needs an integer dtype, not {dtype_str}")
    shape = desc["shape"]
    if not isinstance(shape, list) or len(shape) > MAX_NDIM or not all(_is_int(d) and d >= 0 for d in shape):
        raise _ProblemError(
            f"descriptor field 'shape' must be a list of at most {MAX_NDIM} non-negative integers, "
            f"not {_short(shape)}"
        )
    nbytes = desc["nbytes"]
    if not _is_int(nbytes) or not 0 <= nbytes <= MAX_NBYTES:
        raise _ProblemError(
            f"descriptor field 'nbytes' must be an integer in [0, 2**40], not {_short(nbytes)}"
        )
    # Python integers cannot overflow, and bounding the non-zero extents keeps numpy's own size
    # arithmetic safe for shapes such as [0, 2**62].
    if math.prod(max(d, 1) for d in shape) > MAX_NBYTES:
        raise _ProblemError(f"shape {_short(shape)} is too large")
    expected = math.prod(shape) * dtype.itemsize
    if expected != nbytes:
        raise _ProblemError(
            f"shape {_short(shape)} of {dtype_str} needs {expected} bytes but nbytes is {nbytes}"
        )
    if encoding == "raw" and payload_len != nbytes:
        raise _ProblemError(f"raw payload is {payload_len} bytes but nbytes is {nbytes}")
    if encoding == "zstd" and nbytes > ZSTD_MAX_RATIO * payload_len:
        raise _ProblemError(
            f"zstd payload of {payload_len} bytes cannot decode to the claimed {nbytes} bytes"
        )


def _label(index: int, desc: Mapping[str, Any] | None) -> str:
    """``section #3 (kind='latent', name='z', chunk=0)``, from whatever of the descriptor is usable."""
    if not isinstance(desc, Mapping):
        return f"section #{index}"
    parts = []
    for key in ("kind", "name", "chunk"):
        value = desc.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            parts.append(f"{key}={_short(value)}")
    return f"section #{index} ({', '.join(parts)})" if parts else f"section #{index}"


def _label_raw(index: int, raw: bytes) -> str:
    # Best effort for messages about sections whose descriptor is not yet trusted.
    try:
        return _label(index, _parse_json_object(raw, "descriptor", MAX_DESC_ITEMS))
    except _ProblemError:
        return f"section #{index}"


# --------------------------------------------------------------------------------------------------
# Array encoding


def _storable_dtype(dtype: np.dtype[Any], where: str) -> np.dtype[Any]:
    little = dtype.newbyteorder("<") if dtype.byteorder == ">" else dtype
    if little.str not in DTYPES:
        raise ContainerError(
            f"{where}: cannot store dtype {dtype} (storable: bool, int8-int64, uint8-uint64, float16-float64)"
        )
    return little


def _encode_transform(flat: npt.NDArray[Any], transform: str | None) -> npt.NDArray[Any]:
    """Apply a transform to a contiguous 1D array; return a contiguous 1D array of the same byte size."""
    if transform == "delta":
        # First value, then differences; integer array arithmetic wraps silently, cumsum undoes it.
        out = np.empty_like(flat)
        out[:1] = flat[:1]
        np.subtract(flat[1:], flat[:-1], out=out[1:])
        return out
    if transform == "shuffle":
        # Byte i of every element together: exponents and high mantissa bytes compress far better.
        return np.ascontiguousarray(flat.view(np.uint8).reshape(-1, flat.dtype.itemsize).T).reshape(-1)
    return flat


def _decode_transform(
    data: bytes | bytearray, dtype: np.dtype[Any], transform: str | None
) -> npt.NDArray[Any]:
    """Undo a transform on decoded bytes; return a writable 1D array of ``dtype``."""
    if transform == "delta":
        flat = np.cumsum(np.frombuffer(data, dtype=dtype), dtype=dtype)
    elif transform == "shuffle":
        planes = np.frombuffer(data, dtype=np.uint8).reshape(dtype.itemsize, -1)
        flat = np.ascontiguousarray(planes.T).reshape(-1).view(dtype)
    else:
        flat = np.frombuffer(data, dtype=dtype)
    # Views of immutable bytes are read-only (also after a transpose that needed no copy), and
    # callers such as torch.from_numpy want writable arrays.
    return flat if flat.flags.writeable else flat.copy()


# --------------------------------------------------------------------------------------------------
# Writer


class ContainerWriter:
    """Write a container to a binary stream, section by section.

    The preamble and header are written immediately; every ``add_*`` call writes one whole section;
    :meth:`finish` writes the end section, without which readers treat the file as truncated. The
    stream is not closed. Used as a context manager, it finishes on success and leaves the container
    unfinished (hence unreadable) when the body raises.
    """

    def __init__(self, stream: BinaryIO, header: Mapping[str, Any]) -> None:
        if not isinstance(header, Mapping):
            raise ContainerError(f"container header must be a mapping, not {type(header).__name__}")
        raw = _encode_json(header, "header")
        if len(raw) > MAX_HEADER_BYTES:
            raise ContainerError(
                f"container header is {len(raw)} bytes of JSON; the limit is {MAX_HEADER_BYTES}"
            )
        try:
            _check_items(raw, MAX_HEADER_ITEMS, "container header")
        except _ProblemError as exc:
            raise ContainerError(str(exc)) from None
        self.header: dict[str, Any] = json.loads(raw)
        """The header as stored (plain JSON types)."""
        self.sections: list[Section] = []
        """Sections written so far, in order (the end section excluded)."""
        self.bytes_written = 0
        """Bytes written to the stream so far."""
        self._stream = stream
        self._keys: set[tuple[str, str, int]] = set()
        self._desc_total = 0
        self._finished = False
        self._broken = False
        self._end_size = 0
        preamble = _PREAMBLE.pack(MAGIC, FORMAT_VERSION, 0, len(raw))
        self._write(preamble, raw, _U64.pack(xxhash.xxh64_intdigest(raw)))
        self.header_size = self.bytes_written
        """Bytes taken by the preamble, header JSON and header checksum."""

    @property
    def finished(self) -> bool:
        """Whether the end section has been written."""
        return self._finished

    def add_array(
        self,
        kind: str,
        name: str,
        array: npt.ArrayLike,
        *,
        chunk: int = 0,
        encoding: str = "raw",
        level: int = DEFAULT_ZSTD_LEVEL,
        transform: str | None = None,
        **extra: Any,
    ) -> Section:
        """Write ``array`` as one section and return it.

        ``encoding`` is ``"raw"`` or ``"zstd"`` (at zstd ``level``); ``transform`` is ``None``,
        ``"delta"`` (integer dtypes) or ``"shuffle"``, applied to the C-order flattened array before
        encoding. Big-endian arrays are stored little-endian. ``extra`` keys (JSON values) are kept in
        the descriptor and come back in :attr:`Section.extras`.
        """
        where = f"section kind={_short(kind)} name={_short(name)} chunk={_short(chunk)}"
        self._check_new_section(kind, name, chunk, extra, where)
        arr = np.asarray(array)
        dtype = _storable_dtype(arr.dtype, where)
        if encoding not in ENCODINGS:
            raise ContainerError(
                f"{where}: unknown encoding {encoding!r} (known: {', '.join(sorted(ENCODINGS))})"
            )
        if transform is not None and transform not in TRANSFORMS:
            raise ContainerError(
                f"{where}: unknown transform {transform!r} (known: {', '.join(sorted(TRANSFORMS))})"
            )
        if transform == "delta" and dtype.kind not in "iu":
            raise ContainerError(f"{where}: transform 'delta' needs an integer array, not {dtype}")
        if not _is_int(level) or not -(1 << 17) <= level <= zstandard.MAX_COMPRESSION_LEVEL:
            raise ContainerError(
                f"{where}: zstd level must be an integer up to {zstandard.MAX_COMPRESSION_LEVEL}"
            )
        flat = np.ascontiguousarray(arr.reshape(-1), dtype=dtype)
        data = _encode_transform(flat, transform).view(np.uint8).data
        if encoding == "zstd":
            # The frame records its content size; the reader requires it to equal nbytes.
            payload: bytes | memoryview = zstandard.ZstdCompressor(
                level=level, write_content_size=True
            ).compress(data)
        else:
            payload = data
        desc = {
            "kind": kind,
            "name": name,
            "chunk": chunk,
            "encoding": encoding,
            "transform": transform,
            "dtype": dtype.str,
            "shape": [int(d) for d in arr.shape],
            "nbytes": int(flat.nbytes),
        }
        return self._add(desc, payload, extra, where)

    def add_bytes(
        self,
        kind: str,
        name: str,
        payload: bytes | bytearray | memoryview,
        *,
        chunk: int = 0,
        encoding: str = "raw",
        level: int = DEFAULT_ZSTD_LEVEL,
        **extra: Any,
    ) -> Section:
        """Write opaque bytes (stored as a ``|u1`` array) as one section and return it."""
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise ContainerError(f"add_bytes needs bytes, not {type(payload).__name__}")
        data = np.frombuffer(payload, dtype=np.uint8)
        return self.add_array(kind, name, data, chunk=chunk, encoding=encoding, level=level, **extra)

    def finish(self) -> None:
        """Write the end section. Calling it again does nothing."""
        if self._finished:
            return
        self._check_open()
        raw = _encode_json({"kind": "end", "sections": len(self.sections)}, "end section")
        before = self.bytes_written
        self._write(_U32.pack(len(raw)), raw, _U64.pack(0), _U64.pack(xxhash.xxh64_intdigest(raw)))
        self._end_size = self.bytes_written - before
        self._finished = True

    def section_sizes(self) -> dict[str, int]:
        """Bytes written per section kind, plus ``"header"`` (preamble and header) and ``"end"``."""
        return _sizes(self.header_size, self.sections, self._end_size)

    def section_details(self) -> list[SectionSize]:
        """Size accounting of each section written so far, in order."""
        return _details(self.sections)

    def __enter__(self) -> ContainerWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.finish()

    def _check_open(self) -> None:
        if self._finished:
            raise ContainerError("container writer is finished; no more sections can be added")
        if self._broken:
            raise ContainerError("container writer failed earlier; the output is incomplete")

    def _check_new_section(
        self, kind: Any, name: Any, chunk: Any, extra: Mapping[str, Any], where: str
    ) -> None:
        # Checked before any encoding work, so a bad call fails fast and writes nothing.
        self._check_open()
        if not isinstance(kind, str) or kind == "end" or kind not in KNOWN_KINDS:
            known = ", ".join(sorted(KNOWN_KINDS - {"end"}))
            raise ContainerError(f"{where}: unknown section kind (known: {known})")
        if not isinstance(name, str):
            raise ContainerError(f"{where}: name must be a string")
        if not _is_int(chunk) or not 0 <= chunk <= _MAX_CHUNK:
            raise ContainerError(f"{where}: chunk must be an integer in [0, 2**53)")
        clash = sorted(_RESERVED_KEYS & set(extra))
        if clash:
            raise ContainerError(f"{where}: extra keys {clash} clash with standard descriptor fields")
        key = (kind, name, chunk)
        if key in self._keys:
            raise ContainerError(f"{where}: a section with this kind, name and chunk was already written")
        if len(self.sections) >= MAX_SECTIONS:
            raise ContainerError(f"{where}: a container holds at most {MAX_SECTIONS} sections")

    def _add(
        self, desc: dict[str, Any], payload: bytes | memoryview, extra: Mapping[str, Any], where: str
    ) -> Section:
        kind, name, chunk = desc["kind"], desc["name"], desc["chunk"]
        full = {**desc, **_to_json(dict(extra), f"{where} extra")}
        raw = _encode_json(full, where)
        if len(raw) > MAX_DESC_BYTES or self._desc_total + len(raw) > MAX_TOTAL_DESC_BYTES:
            raise ContainerError(
                f"{where}: descriptor of {len(raw)} bytes exceeds the descriptor size limits"
            )
        try:
            _check_items(raw, MAX_DESC_ITEMS, "descriptor")
            # Hold the writer to the reader's rules, so it can never write a file the reader rejects.
            _check_data_desc(full, len(payload))
        except _ProblemError as exc:
            raise ContainerError(f"{where}: {exc}") from None
        digest = xxhash.xxh64()
        digest.update(raw)
        digest.update(payload)
        start = self.bytes_written
        offset = start + 4 + len(raw) + 8
        self._write(_U32.pack(len(raw)), raw, _U64.pack(len(payload)), payload, _U64.pack(digest.intdigest()))
        section = Section(kind, name, chunk, json.loads(raw), offset, len(payload), len(self.sections), start)
        self.sections.append(section)
        self._keys.add((kind, name, chunk))
        self._desc_total += len(raw)
        return section

    def _write(self, *parts: bytes | memoryview) -> None:
        try:
            for part in parts:
                self._write_all(memoryview(part))
        except BaseException:
            # A partly written section cannot be taken back; refuse to continue.
            self._broken = True
            raise

    def _write_all(self, view: memoryview) -> None:
        while view.nbytes:
            written = self._stream.write(view)
            if not written:  # a non-blocking raw stream that would block
                raise ContainerError("output stream did not accept data (non-blocking stream?)")
            self.bytes_written += written
            view = view[written:]


@contextlib.contextmanager
def write_container(
    path: str | os.PathLike[str],
    header: Mapping[str, Any],
    force: bool = False,
    verify: Callable[[Path], None] | None = None,
) -> Iterator[ContainerWriter]:
    """Write a container file atomically: it appears, finished, only if the block ends without error
    and ``verify`` (called with the finished temporary file: read it back, raise if wrong) passes.

    Raises :class:`~hepsqueeze.errors.OutputExistsError` if ``path`` exists and ``force`` is false.
    """
    with atomic_open(path, force, verify) as stream:
        writer = ContainerWriter(stream, header)
        yield writer
        writer.finish()


def container_bytes(header: Mapping[str, Any], build: Callable[[ContainerWriter], object]) -> bytes:
    """Build an in-memory container: ``build`` adds the sections; the finished bytes are returned.

    Used to embed one container (a model file) as a section of another.
    """
    buffer = io.BytesIO()
    writer = ContainerWriter(buffer, header)
    build(writer)
    writer.finish()
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------
# Reader


class ContainerReader:
    """Read and validate a container.

    Construction validates the whole file before anything is used: preamble, header, every section
    descriptor, and (with ``verify=True``, the default) every section checksum, streamed in bounded
    memory. :meth:`read_bytes`/:meth:`read_array` verify the section's checksum again as they read it,
    against the value recorded at open, so data is never decoded unverified, even with
    ``verify=False`` or if the file changes after opening. Every problem raises
    :class:`ContainerError` (:class:`ContainerVersionError` for newer versions and unknown section
    kinds) naming the file, the section and the byte offset.

    Use :meth:`open` or :meth:`from_bytes`; the constructor takes a seekable binary stream holding
    the container from offset 0. The reader is a context manager that closes its file.
    """

    def __init__(
        self, stream: BinaryIO, name: str = "<stream>", *, verify: bool = True, close_stream: bool = False
    ) -> None:
        self.name = name
        """The file name used in messages."""
        self.header: dict[str, Any] = {}
        self.version = 0
        self.sections: list[Section] = []
        self.header_size = 0
        """Bytes taken by the preamble, header JSON and header checksum."""
        self._stream = stream
        self._close_stream = close_stream
        self._closed = False
        self._lock = threading.Lock()  # seek+read pairs must not interleave between threads
        self._checksums: list[int] = []
        self._end_size = 0
        self._by_key: dict[tuple[str, str, int], Section] = {}
        try:
            self.file_size = stream.seek(0, os.SEEK_END)
            self._scan(verify)
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, verify: bool = True) -> ContainerReader:
        """Open and validate the container file at ``path``."""
        name = str(path)
        try:
            # Unbuffered: reads are large or few, and a buffer could serve stale bytes if the file
            # changes after opening, which the per-read checksum is meant to notice.
            stream = open(Path(path), "rb", buffering=0)  # noqa: SIM115 - the reader owns and closes it
        except FileNotFoundError:
            raise InputFileNotFoundError(f"container file {name!r} does not exist") from None
        except OSError as exc:
            raise ContainerError(f"cannot open container {name!r}: {exc.strerror or exc}") from None
        return cls(stream, name, verify=verify, close_stream=True)

    @classmethod
    def from_bytes(
        cls, data: bytes | bytearray | memoryview, name: str = "<bytes>", *, verify: bool = True
    ) -> ContainerReader:
        """Validate and read a container held in memory (for example an embedded model section)."""
        return cls(io.BytesIO(bytes(data)), name, verify=verify, close_stream=True)

    # -- queries ------------------------------------------------------------------------------------

    def find(self, kind: str, name: str | None = None, chunk: int | None = None) -> list[Section]:
        """Sections of ``kind`` (and ``name``/``chunk`` when given), in file order."""
        return [
            s
            for s in self.sections
            if s.kind == kind and (name is None or s.name == name) and (chunk is None or s.chunk == chunk)
        ]

    def get(self, kind: str, name: str, chunk: int = 0) -> Section:
        """The one section with this kind, name and chunk; ContainerError naming what exists if absent."""
        section = self._by_key.get((kind, name, chunk))
        if section is None:
            names = sorted({s.name for s in self.sections if s.kind == kind})
            have = ", ".join(_short(n) for n in names[:20]) or "none"
            raise ContainerError(
                f"{self.name} has no {kind!r} section named {name!r} for chunk {chunk} "
                f"({kind!r} names: {have})"
            )
        return section

    def section_sizes(self) -> dict[str, int]:
        """Bytes per section kind, plus ``"header"`` (preamble and header) and ``"end"``.

        Every byte is counted once (framing and checksums included), so the values sum to
        :attr:`file_size`.
        """
        return _sizes(self.header_size, self.sections, self._end_size)

    def section_details(self) -> list[SectionSize]:
        """Size accounting of every section (the end section excluded), in file order."""
        return _details(self.sections)

    def error(self, section: Section | None, problem: str) -> ContainerError:
        """A :class:`ContainerError` for ``problem`` in ``section`` (``None``: the header).

        For callers that validate a section's content; the message names the file, the section and
        its byte offset, like the reader's own errors.
        """
        if section is None:
            return ContainerError(f"{self.name}: header at byte {_PREAMBLE.size}: {problem}")
        return ContainerError(
            f"{self.name}: {_label(section.index, section.desc)} at byte {section.start}: {problem}"
        )

    # -- payloads -----------------------------------------------------------------------------------

    def read_payload(self, section: Section) -> bytes:
        """The section's stored payload, as in the file (still encoded), checksum verified."""
        return bytes(self._verified_payload(section))

    def read_bytes(self, section: Section) -> bytes:
        """The section's decoded bytes (encoding and transform undone), checksum verified."""
        return self._decode(section).tobytes()

    def read_array(self, section: Section) -> npt.NDArray[Any]:
        """The section's array: verified, decoded and reshaped. Allocates ``section.nbytes``.

        Callers that know what size to expect should compare ``section.shape`` before calling, as a
        legitimately compressed section can decode to far more bytes than it occupies in the file.
        """
        flat = self._decode(section)
        return flat.reshape(section.shape)

    # -- lifetime -----------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the underlying file (if the reader owns it)."""
        if not self._closed:
            self._closed = True
            if self._close_stream:
                self._stream.close()

    def __enter__(self) -> ContainerReader:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ContainerReader({self.name!r}, version={self.version}, sections={len(self.sections)})"

    # -- internals ----------------------------------------------------------------------------------

    def _fail(self, where: str, offset: int, problem: str, *, version: bool = False) -> NoReturn:
        cls = ContainerVersionError if version else ContainerError
        raise cls(f"{self.name}: {where} at byte {offset}: {problem}")

    def _read_at(self, offset: int, size: int) -> bytes:
        self._stream.seek(offset)
        data = self._stream.read(size)
        if len(data) != size:  # lengths are checked against the size first, so the file shrank
            self._fail(
                "file", offset, f"expected {size} bytes but the file ended; did it change while reading?"
            )
        return data

    def _scan(self, verify: bool) -> None:
        size = self.file_size
        head = self._read_at(0, min(size, _PREAMBLE.size))
        if head[: len(MAGIC)] != MAGIC[: len(head)] or not head:
            if not head:
                self._fail("start of file", 0, "the file is empty, not a hepsqueeze container")
            hint = next(
                (f"; it looks like {what}" for magic, what in _FORMAT_HINTS if head.startswith(magic)), ""
            )
            self._fail("start of file", 0, f"not a hepsqueeze container (wrong magic bytes){hint}")
        if size < _PREAMBLE.size:
            self._fail(
                "preamble",
                0,
                f"the file is truncated: only {size} bytes, the preamble needs {_PREAMBLE.size}",
            )
        _, version, reserved, header_len = _PREAMBLE.unpack(head)
        if version > FORMAT_VERSION:
            self._fail(
                "preamble",
                _VERSION_AT,
                f"written in container format version {version}, but this hepsqueeze reads versions up to "
                f"{FORMAT_VERSION}; a newer hepsqueeze is needed to read it",
                version=True,
            )
        if version not in KINDS_BY_VERSION:
            self._fail("preamble", _VERSION_AT, f"invalid container format version {version}")
        if reserved != 0:
            self._fail("preamble", _RESERVED_AT, f"reserved field is {reserved}, must be 0")
        if header_len > MAX_HEADER_BYTES:
            self._fail(
                "preamble",
                _HEADER_LEN_AT,
                f"header length {header_len} exceeds the {MAX_HEADER_BYTES}-byte limit",
            )
        header_end = _PREAMBLE.size + header_len + 8
        if header_end > size:
            self._fail(
                "header",
                _PREAMBLE.size,
                f"truncated: header needs {header_len + 8} bytes, {size - _PREAMBLE.size} remain",
            )
        raw = self._read_at(_PREAMBLE.size, header_len)
        (stored,) = _U64.unpack(self._read_at(_PREAMBLE.size + header_len, 8))
        if xxhash.xxh64_intdigest(raw) != stored:
            self._fail("header", _PREAMBLE.size, "checksum mismatch; the file is corrupt")
        try:
            self.header = _parse_json_object(raw, "header", MAX_HEADER_ITEMS)
        except _ProblemError as exc:
            self._fail("header", _PREAMBLE.size, str(exc))
        self.version = version
        self.header_size = header_end
        self._scan_sections(header_end, verify)

    def _scan_sections(self, pos: int, verify: bool) -> None:
        size = self.file_size
        desc_total = 0
        while True:
            index = len(self.sections)
            start = pos
            remaining = size - pos
            if remaining == 0:
                self._fail(
                    f"section #{index}",
                    pos,
                    f"the file ends after {index} sections without an end section (truncated)",
                )
            if remaining < 4 + 8 + 8:
                self._fail(f"section #{index}", pos, f"truncated: only {remaining} bytes remain")
            (desc_len,) = _U32.unpack(self._read_at(pos, 4))
            if desc_len > MAX_DESC_BYTES:
                self._fail(f"section #{index}", pos, f"descriptor length {desc_len} exceeds {MAX_DESC_BYTES}")
            if 4 + desc_len + 8 + 8 > remaining:
                self._fail(
                    f"section #{index}", pos, f"truncated: descriptor of {desc_len} bytes does not fit"
                )
            desc_total += desc_len
            if desc_total > MAX_TOTAL_DESC_BYTES:
                self._fail(
                    f"section #{index}", pos, f"descriptors exceed {MAX_TOTAL_DESC_BYTES} bytes in total"
                )
            raw = self._read_at(pos + 4, desc_len)
            (payload_len,) = _U64.unpack(self._read_at(pos + 4 + desc_len, 8))
            offset = pos + 4 + desc_len + 8
            if payload_len > size - offset - 8:
                self._fail(
                    _label_raw(index, raw),
                    pos + 4 + desc_len,
                    f"payload length {payload_len} exceeds the {max(size - offset - 8, 0)} bytes left "
                    "(truncated or corrupt)",
                )
            # Sections without payload (the end section) cost nothing to verify, and may never be read.
            stored = self._stored_checksum(raw, start, offset, payload_len, verify or payload_len == 0)
            try:
                desc = _parse_json_object(raw, "descriptor", MAX_DESC_ITEMS)
            except _ProblemError as exc:
                self._fail(f"section #{index}", pos + 4, str(exc))
            where = _label(index, desc)
            try:
                kind = _check_kind(desc, self.version)
                if kind == "end":
                    _check_end_desc(desc, payload_len, index)
                else:
                    _check_data_desc(desc, payload_len)
            except _ProblemError as exc:
                self._fail(where, pos + 4, str(exc), version=isinstance(exc, _VersionProblemError))
            pos = offset + payload_len + 8
            if kind == "end":
                self._end_size = pos - start
                if pos != size:
                    self._fail(
                        "end of container", pos, f"{size - pos} unexpected bytes after the end section"
                    )
                return
            if index >= MAX_SECTIONS:
                self._fail(where, start, f"more than {MAX_SECTIONS} sections")
            key = (kind, desc["name"], desc["chunk"])
            if key in self._by_key:
                self._fail(where, start, f"duplicate of section #{self._by_key[key].index}")
            section = Section(kind, desc["name"], desc["chunk"], desc, offset, payload_len, index, start)
            self.sections.append(section)
            self._checksums.append(stored)
            self._by_key[key] = section

    def _stored_checksum(self, raw: bytes, start: int, offset: int, payload_len: int, verify: bool) -> int:
        """Read a section's stored checksum; with ``verify``, hash the section in bounded memory first."""
        (stored,) = _U64.unpack(self._read_at(offset + payload_len, 8))
        if not verify:
            return int(stored)
        digest = xxhash.xxh64()
        digest.update(raw)
        self._stream.seek(offset)
        left = payload_len
        while left:
            block = self._stream.read(min(left, _READ_BLOCK))
            if not block:
                self._fail("file", offset + payload_len - left, "the file ended early; did it change?")
            digest.update(block)
            left -= len(block)
        if digest.intdigest() != stored:
            index = len(self.sections)
            self._fail(_label_raw(index, raw), start, "checksum mismatch; the section is corrupt")
        return int(stored)

    def _verified_payload(self, section: Section) -> bytearray:
        if self._closed:
            raise ContainerError(f"{self.name}: the container reader is closed")
        if not (0 <= section.index < len(self.sections) and self.sections[section.index] == section):
            raise ContainerError(
                f"{self.name}: {_label(section.index, section.desc)} is not from this container"
            )
        desc_start = section.start + 4
        payload = bytearray(section.length)
        with self._lock:
            raw = self._read_at(desc_start, section.offset - 8 - desc_start)
            self._stream.seek(section.offset)
            view = memoryview(payload)
            while view.nbytes:
                got = self._stream.readinto(view)  # type: ignore[attr-defined]
                if not got:
                    self._fail(_label(section.index, section.desc), section.offset, "the file ended early")
                view = view[got:]
        digest = xxhash.xxh64()
        digest.update(raw)
        digest.update(payload)
        if digest.intdigest() != self._checksums[section.index]:
            self._fail(
                _label(section.index, section.desc),
                section.start,
                "checksum mismatch while reading; the file changed or is corrupt",
            )
        return payload

    def _decode(self, section: Section) -> npt.NDArray[Any]:
        """Verified, decoded, un-transformed 1D array of the section's dtype."""
        payload = self._verified_payload(section)
        where = _label(section.index, section.desc)
        nbytes = section.nbytes
        data: bytes | bytearray = payload
        if section.encoding == "zstd":
            try:
                # The frame must declare exactly nbytes, so the decoder never allocates more than that.
                declared = zstandard.frame_content_size(payload)
                if declared != nbytes:
                    self._fail(
                        where, section.offset, f"zstd frame declares {declared} bytes, expected {nbytes}"
                    )
                data = zstandard.ZstdDecompressor().decompress(
                    payload, max_output_size=nbytes, allow_extra_data=False
                )
            except zstandard.ZstdError as exc:
                self._fail(where, section.offset, f"zstd payload cannot be decoded ({exc})")
            if len(data) != nbytes:
                self._fail(
                    where, section.offset, f"zstd payload decoded to {len(data)} bytes, expected {nbytes}"
                )
        flat = _decode_transform(data, section.dtype, section.transform)
        if flat.dtype == np.bool_ and bool(np.any(flat.view(np.uint8) > 1)):
            # numpy bools must be 0 or 1; other byte values give inconsistent results.
            self._fail(where, section.offset, "bool array holds bytes other than 0 and 1")
        return flat
