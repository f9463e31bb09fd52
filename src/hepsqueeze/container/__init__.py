"""The container: the byte format every hepsqueeze file (data and models) is written in.

See ``docs/container-format.md``. :class:`ContainerWriter` appends checksummed sections after a
JSON header and publishes the file atomically; :class:`ContainerReader` checks every byte it
hands out and names the section and offset of any problem.

Modules, by job:

- :mod:`~hepsqueeze.container.constants`: magic bytes, versions, section kinds, encodings,
  transforms, byte layouts and limits;
- :mod:`~hepsqueeze.container.problems`: the internal validation failure and message quoting;
- :mod:`~hepsqueeze.container.jsonio`: strict JSON parsing (with item limits) and encoding;
- :mod:`~hepsqueeze.container.descriptor`: :class:`Section`, :class:`SectionSize`, the descriptor
  checks shared by the reader and the writer, section labels;
- :mod:`~hepsqueeze.container.transform`: the ``delta`` and ``shuffle`` transforms;
- :mod:`~hepsqueeze.container.writer`: :class:`ContainerWriter`, :func:`write_container`,
  :func:`container_bytes`;
- :mod:`~hepsqueeze.container.reader`: :class:`ContainerReader`.
"""

from hepsqueeze.container.constants import (
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
)
from hepsqueeze.container.descriptor import Section, SectionSize
from hepsqueeze.container.reader import ContainerReader
from hepsqueeze.container.writer import ContainerWriter, container_bytes, write_container

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
