"""Section descriptors: :class:`Section`, :class:`SectionSize`, the schema checks shared by the reader
and the writer, and the labels that name a section in messages."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hepsqueeze.container.constants import (
    CHECKSUM,
    DTYPES,
    ENCODINGS,
    END_KEYS,
    KINDS_BY_VERSION,
    MAX_CHUNK,
    MAX_DESC_ITEMS,
    MAX_NBYTES,
    MAX_NDIM,
    RESERVED_KEYS,
    TRANSFORMS,
    ZSTD_MAX_RATIO,
    Encoding,
    Transform,
)
from hepsqueeze.container.jsonio import is_int, parse_json_object
from hepsqueeze.container.problems import ProblemError, VersionProblemError, short

__all__ = [
    "Section",
    "SectionSize",
    "check_data_desc",
    "check_end_desc",
    "check_kind",
    "label",
    "label_raw",
    "section_details",
    "section_sizes",
]


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
        return {k: v for k, v in self.desc.items() if k not in RESERVED_KEYS}

    @property
    def stored_size(self) -> int:
        """Bytes the whole section occupies in the file, framing and checksum included."""
        return self.offset + self.length + CHECKSUM.size - self.start


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


def section_details(sections: list[Section]) -> list[SectionSize]:
    """The size accounting of each of ``sections``, in order."""
    return [SectionSize(s.kind, s.name, s.chunk, s.stored_size, s.length, s.nbytes) for s in sections]


def section_sizes(header_size: int, sections: list[Section], end_size: int) -> dict[str, int]:
    """Bytes per section kind, plus ``"header"`` and (when written) ``"end"``."""
    sizes = {"header": header_size}
    for s in sections:
        sizes[s.kind] = sizes.get(s.kind, 0) + s.stored_size
    if end_size:
        sizes["end"] = end_size
    return sizes


# -- checks -----------------------------------------------------------------------------------------


def check_kind(desc: Mapping[str, Any], version: int) -> str:
    """The descriptor's kind; :class:`VersionProblemError` if format ``version`` does not have it."""
    kind = desc.get("kind")
    if not isinstance(kind, str):
        raise ProblemError(f"descriptor field 'kind' must be a string, not {short(kind)}")
    allowed = KINDS_BY_VERSION[version]
    if kind not in allowed:
        raise VersionProblemError(
            f"section kind {short(kind)} is unknown to container format version {version} "
            f"(known: {', '.join(sorted(allowed))}); it may need a newer hepsqueeze"
        )
    return kind


def check_end_desc(desc: Mapping[str, Any], payload_len: int, count: int) -> None:
    """Validate the end section's descriptor: exactly its two keys, ``count`` sections, no payload."""
    keys = set(desc)
    if keys != END_KEYS:
        raise ProblemError(
            f"end section descriptor must hold exactly 'kind' and 'sections', not {short(sorted(keys))}"
        )
    claimed = desc["sections"]
    if not is_int(claimed):
        raise ProblemError(f"end section field 'sections' must be an integer, not {short(claimed)}")
    if claimed != count:
        raise ProblemError(f"end section says there are {claimed} sections but {count} precede it")
    if payload_len != 0:
        raise ProblemError(f"end section has a {payload_len}-byte payload; it must be empty")


def check_data_desc(desc: Mapping[str, Any], payload_len: int) -> None:
    """Validate a (non-end) section descriptor against the schema and its stored payload length."""
    dtype = _check_fields(desc)
    _check_size(desc, dtype, payload_len)


def _check_fields(desc: Mapping[str, Any]) -> np.dtype[Any]:
    """Check the fields other than the shape and sizes; return the dtype."""
    missing = [key for key in sorted(RESERVED_KEYS) if key not in desc]
    if missing:
        raise ProblemError(f"descriptor lacks field(s) {', '.join(missing)}")
    if not isinstance(desc["name"], str):
        raise ProblemError(f"descriptor field 'name' must be a string, not {short(desc['name'])}")
    chunk = desc["chunk"]
    if not is_int(chunk) or not 0 <= chunk <= MAX_CHUNK:
        raise ProblemError(f"descriptor field 'chunk' must be an integer in [0, 2**53), not {short(chunk)}")
    encoding = desc["encoding"]
    if not isinstance(encoding, str) or encoding not in ENCODINGS:
        raise ProblemError(f"unknown encoding {short(encoding)} (known: {', '.join(sorted(ENCODINGS))})")
    transform = desc["transform"]
    if transform is not None and (not isinstance(transform, str) or transform not in TRANSFORMS):
        raise ProblemError(
            f"unknown transform {short(transform)} (known: null, {', '.join(sorted(TRANSFORMS))})"
        )
    dtype_str = desc["dtype"]
    if not isinstance(dtype_str, str) or dtype_str not in DTYPES:
        raise ProblemError(f"dtype {short(dtype_str)} is not allowed (allowed: {', '.join(sorted(DTYPES))})")
    dtype = np.dtype(dtype_str)
    if transform == Transform.DELTA and dtype.kind not in "iu":
        raise ProblemError(f"transform 'delta' needs an integer dtype, not {dtype_str}")
    return dtype


def _check_size(desc: Mapping[str, Any], dtype: np.dtype[Any], payload_len: int) -> None:
    """Check the shape and nbytes against each other, the dtype and the stored payload length."""
    shape = desc["shape"]
    if not isinstance(shape, list) or len(shape) > MAX_NDIM or not all(is_int(d) and d >= 0 for d in shape):
        raise ProblemError(
            f"descriptor field 'shape' must be a list of at most {MAX_NDIM} non-negative integers, "
            f"not {short(shape)}"
        )
    nbytes = desc["nbytes"]
    if not is_int(nbytes) or not 0 <= nbytes <= MAX_NBYTES:
        raise ProblemError(f"descriptor field 'nbytes' must be an integer in [0, 2**40], not {short(nbytes)}")
    # Python integers cannot overflow, and bounding the non-zero extents keeps numpy's own size
    # arithmetic safe for shapes such as [0, 2**62].
    if math.prod(max(d, 1) for d in shape) > MAX_NBYTES:
        raise ProblemError(f"shape {short(shape)} is too large")
    expected = math.prod(shape) * dtype.itemsize
    if expected != nbytes:
        raise ProblemError(
            f"shape {short(shape)} of {desc['dtype']} needs {expected} bytes but nbytes is {nbytes}"
        )
    encoding = desc["encoding"]
    if encoding == Encoding.RAW and payload_len != nbytes:
        raise ProblemError(f"raw payload is {payload_len} bytes but nbytes is {nbytes}")
    if encoding == Encoding.ZSTD and nbytes > ZSTD_MAX_RATIO * payload_len:
        raise ProblemError(f"zstd payload of {payload_len} bytes cannot decode to the claimed {nbytes} bytes")


# -- labels -----------------------------------------------------------------------------------------


def label(index: int, desc: Mapping[str, Any] | None) -> str:
    """``section #3 (kind='latent', name='z', chunk=0)``, from whatever of the descriptor is usable."""
    if not isinstance(desc, Mapping):
        return f"section #{index}"
    parts = []
    for key in ("kind", "name", "chunk"):
        value = desc.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            parts.append(f"{key}={short(value)}")
    return f"section #{index} ({', '.join(parts)})" if parts else f"section #{index}"


def label_raw(index: int, raw: bytes) -> str:
    """:func:`label` of a descriptor not yet trusted (its raw JSON): best effort, for messages."""
    try:
        return label(index, parse_json_object(raw, "descriptor", MAX_DESC_ITEMS))
    except ProblemError:
        return f"section #{index}"
