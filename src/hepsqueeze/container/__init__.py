"""The container: the byte format every hepsqueeze file (data and models) is written in.

See ``docs/container-format.md``. :class:`ContainerWriter` appends checksummed sections after a
JSON header and publishes the file atomically; :class:`ContainerReader` checks every byte it
hands out and names the section and offset of any problem.
"""

from hepsqueeze.container.format import (
    DTYPES,
    ENCODINGS,
    FORMAT_VERSION,
    KINDS_BY_VERSION,
    KNOWN_KINDS,
    MAGIC,
    MAX_DESC_BYTES,
    MAX_DESC_ITEMS,
    MAX_HEADER_BYTES,
    MAX_HEADER_ITEMS,
    MAX_NBYTES,
    MAX_NDIM,
    MAX_SECTIONS,
    MAX_TOTAL_DESC_BYTES,
    TRANSFORMS,
    ZSTD_MAX_RATIO,
    ContainerReader,
    ContainerWriter,
    Section,
    SectionSize,
    container_bytes,
    write_container,
)

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
