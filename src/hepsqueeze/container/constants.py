"""The container's named constants: magic bytes, versions, section kinds, encodings, byte layouts and limits.

The byte layout, field meanings and validation rules are in ``docs/container-format.md``; in short
(all integers little-endian)::

    MAGIC (9 bytes) | u16 version | u16 reserved=0 | u32 header_len | header JSON | u64 xxh64
    section*: u32 desc_len | desc JSON | u64 payload_len | payload | u64 xxh64(desc + payload)
    end:      a section {"kind": "end", "sections": <count>} with an empty payload, then end of file
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from enum import Enum
from typing import Final

__all__ = [
    "CHECKSUM",
    "DEFAULT_ZSTD_LEVEL",
    "DESC_LEN",
    "DTYPES",
    "ENCODINGS",
    "END_KEYS",
    "FORMAT_VERSION",
    "HEADER_LEN_AT",
    "KINDS_BY_VERSION",
    "KNOWN_KINDS",
    "LABEL_CHARS",
    "MAGIC",
    "MAX_CHUNK",
    "MAX_DESC_BYTES",
    "MAX_DESC_ITEMS",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_ITEMS",
    "MAX_NBYTES",
    "MAX_NDIM",
    "MAX_SECTIONS",
    "MAX_TOTAL_DESC_BYTES",
    "PAYLOAD_LEN",
    "PREAMBLE",
    "RESERVED_AT",
    "RESERVED_KEYS",
    "SECTION_FRAMING",
    "TRANSFORMS",
    "VERSION_AT",
    "ZSTD_MAX_RATIO",
    "Encoding",
    "SectionKind",
    "Transform",
]

MAGIC: Final = b"\x89HSQZ\r\n\x1a\n"
"""First 9 bytes of every container. As in PNG, the high byte, CR LF, ^Z and LF expose 7-bit and
text-mode transfers that would corrupt the file."""

FORMAT_VERSION: Final = 1
"""The container format version this hepsqueeze writes, and the newest it reads."""


class SectionKind(str, Enum):
    """A section's ``kind``; the value is the string stored in the descriptor."""

    LATENT = "latent"
    COLUMN = "column"
    MODEL = "model"
    WEIGHT = "weight"
    END = "end"
    """The last section of every container: the section count, with an empty payload."""


class Encoding(str, Enum):
    """A section's ``encoding``: how its payload is stored."""

    RAW = "raw"
    ZSTD = "zstd"


class Transform(str, Enum):
    """A section's ``transform``, applied before encoding (``null`` in the descriptor: none)."""

    DELTA = "delta"
    """First value, then differences (integer dtypes only)."""
    SHUFFLE = "shuffle"
    """Byte ``i`` of every element together."""


KNOWN_KINDS: frozenset[str] = frozenset(kind.value for kind in SectionKind)
"""Section kinds of format version 1."""

KINDS_BY_VERSION: Mapping[int, frozenset[str]] = {1: KNOWN_KINDS}
"""Section kinds allowed in a file of each format version; a new version adds an entry here."""

ENCODINGS: frozenset[str] = frozenset(encoding.value for encoding in Encoding)
TRANSFORMS: frozenset[str] = frozenset(transform.value for transform in Transform)
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
"""Longest section descriptor JSON."""
MAX_DESC_ITEMS: Final = 1 << 12
"""Most JSON values in one section descriptor (real ones hold about 20)."""
MAX_TOTAL_DESC_BYTES: Final = 256 << 20
"""Most descriptor JSON bytes in one container, all sections together."""
MAX_SECTIONS: Final = 1 << 20
"""Most sections in one container (the end section excluded)."""
MAX_NBYTES: Final = 1 << 40
"""Largest decoded size of one section."""
MAX_NDIM: Final = 32
"""Most dimensions of a section's array."""
ZSTD_MAX_RATIO: Final = 1 << 16
"""Largest decoded/stored size ratio accepted for a zstd section. zstd itself cannot exceed ~32768:1
(a 128 KiB block stored as a 4-byte RLE block), so this only rejects descriptors that lie about size."""
MAX_CHUNK: Final = (1 << 53) - 1
"""Largest ``chunk`` number: it stays exact in any JSON reader that parses numbers as doubles."""

DEFAULT_ZSTD_LEVEL: Final = 3
"""The zstd level of :meth:`~hepsqueeze.container.ContainerWriter.add_array` when none is given."""

RESERVED_KEYS: Final = frozenset(
    {"kind", "name", "chunk", "encoding", "transform", "dtype", "shape", "nbytes"}
)
"""The standard fields every data section descriptor holds; other keys are the section's extras."""
END_KEYS: Final = frozenset({"kind", "sections"})
"""The fields of the end section's descriptor, exactly."""

LABEL_CHARS: Final = 60
"""Longest quoted value in a message (see :func:`hepsqueeze.container.problems.short`)."""

# Byte layouts.
PREAMBLE: Final = struct.Struct(f"<{len(MAGIC)}sHHI")
"""The preamble: magic, format version, reserved (0), header length."""
VERSION_AT: Final = len(MAGIC)
"""Byte offset of the preamble's format version (for messages)."""
RESERVED_AT: Final = VERSION_AT + 2
"""Byte offset of the preamble's reserved field (for messages)."""
HEADER_LEN_AT: Final = VERSION_AT + 4
"""Byte offset of the preamble's header length (for messages)."""
DESC_LEN: Final = struct.Struct("<I")
"""A section's first field: the length of its descriptor JSON."""
PAYLOAD_LEN: Final = struct.Struct("<Q")
"""A section's stored payload length, after its descriptor."""
CHECKSUM: Final = struct.Struct("<Q")
"""The xxh64 digest after the header and after each section's payload."""
SECTION_FRAMING: Final = DESC_LEN.size + PAYLOAD_LEN.size + CHECKSUM.size
"""Bytes of a section besides its descriptor and payload: the smallest possible section."""
