"""The container's constants: enums and name sets agree, the byte layouts match the specification,
and the package exports what it always did."""

from __future__ import annotations

import hepsqueeze.container
from hepsqueeze.container import ENCODINGS, KINDS_BY_VERSION, KNOWN_KINDS, MAGIC, TRANSFORMS
from hepsqueeze.container.constants import (
    CHECKSUM,
    DESC_LEN,
    HEADER_LEN_AT,
    PAYLOAD_LEN,
    PREAMBLE,
    RESERVED_AT,
    SECTION_FRAMING,
    VERSION_AT,
    Encoding,
    SectionKind,
    Transform,
)


def test_enums_hold_the_strings_on_disk() -> None:
    assert {k.value for k in SectionKind} == KNOWN_KINDS == {"latent", "column", "model", "weight", "end"}
    assert {e.value for e in Encoding} == ENCODINGS == {"raw", "zstd"}
    assert {t.value for t in Transform} == TRANSFORMS == {"delta", "shuffle"}
    assert KINDS_BY_VERSION == {1: KNOWN_KINDS}
    assert all(type(name) is str for name in KNOWN_KINDS | ENCODINGS | TRANSFORMS)
    assert SectionKind.END == "end"


def test_layouts_match_the_specification() -> None:
    assert (len(MAGIC), VERSION_AT, RESERVED_AT, HEADER_LEN_AT, PREAMBLE.size) == (9, 9, 11, 13, 17)
    assert (DESC_LEN.size, PAYLOAD_LEN.size, CHECKSUM.size, SECTION_FRAMING) == (4, 8, 8, 20)


def test_package_exports() -> None:
    assert hepsqueeze.container.__all__ == [
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
    assert all(hasattr(hepsqueeze.container, name) for name in hepsqueeze.container.__all__)
