"""Compression codecs and the container format."""

from hepsqueeze.codec.container import (
    FORMAT_VERSION,
    KNOWN_KINDS,
    MAGIC,
    ContainerReader,
    ContainerWriter,
    Section,
    SectionSize,
    container_bytes,
    write_container,
)

__all__ = [
    "FORMAT_VERSION",
    "KNOWN_KINDS",
    "MAGIC",
    "ContainerReader",
    "ContainerWriter",
    "Section",
    "SectionSize",
    "container_bytes",
    "write_container",
]
