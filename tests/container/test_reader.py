"""The container reader: queries, truncation and corruption, versions, the preamble and header, and hostile
structure and payloads."""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xxhash
import zstandard
from container_helpers import (
    PAIR,
    SMALL,
    SMALL_DECODED,
    SMALL_HEADER,
    SMALL_SECTIONS,
    decode_everything,
    desc,
    frame,
    handmade,
    preamble,
    same,
)

from hepsqueeze.container import (
    FORMAT_VERSION,
    MAGIC,
    MAX_DESC_BYTES,
    ContainerReader,
    ContainerWriter,
    Section,
    container_bytes,
)
from hepsqueeze.errors import ContainerError, ContainerVersionError, InputFileNotFoundError


def test_handmade_baseline_is_valid() -> None:
    with ContainerReader.from_bytes(handmade([(desc(), PAIR)])) as reader:
        assert reader.read_array(reader.sections[0]).tolist() == [1.5, -2.0]


def test_highly_compressible_section_round_trips() -> None:
    zeros = np.zeros(1 << 20, dtype=np.float32)  # zstd's best case, about 32000:1
    with ContainerReader.from_bytes(
        container_bytes({}, lambda w: w.add_array("latent", "z", zeros, encoding="zstd"))
    ) as r:
        section = r.sections[0]
        assert section.length * 1000 < section.nbytes
        assert same(r.read_array(section), zeros)


def test_find_and_get() -> None:
    def build(writer: ContainerWriter) -> None:
        for chunk in range(3):
            writer.add_array("latent", "latent", np.full(2, chunk, np.float32), chunk=chunk)
            writer.add_array("column", "event", np.arange(2), chunk=chunk)
            writer.add_array("column", "flag", np.zeros(2, bool), chunk=chunk)

    with ContainerReader.from_bytes(container_bytes({}, build)) as reader:
        assert [s.chunk for s in reader.find("latent")] == [0, 1, 2]
        assert [s.name for s in reader.find("column", chunk=1)] == ["event", "flag"]
        assert len(reader.find("column", "flag")) == 3
        assert reader.find("model") == []
        assert reader.read_array(reader.get("latent", "latent", 2)).tolist() == [2.0, 2.0]
        with pytest.raises(
            ContainerError, match=r"no 'column' section named 'evnt' for chunk 0 .*'event', 'flag'"
        ):
            reader.get("column", "evnt")


def test_nested_container_round_trip() -> None:
    model = container_bytes(
        {"kind": "model"}, lambda w: w.add_array("weight", "w", np.eye(3, dtype=np.float32))
    )
    outer = container_bytes(
        {"kind": "data"}, lambda w: w.add_bytes("model", "decoder", model, encoding="zstd")
    )
    with ContainerReader.from_bytes(outer) as reader:
        inner_bytes = reader.read_bytes(reader.get("model", "decoder"))
    assert inner_bytes == model
    with ContainerReader.from_bytes(inner_bytes, name="data.hsqz (embedded model)") as inner:
        assert inner.header == {"kind": "model"}
        assert np.array_equal(inner.read_array(inner.get("weight", "w")), np.eye(3))


def test_empty_container_and_zero_rows() -> None:
    with ContainerReader.from_bytes(container_bytes({}, lambda w: None)) as reader:
        assert reader.sections == []
        assert reader.header == {}
    data = container_bytes(
        {}, lambda w: w.add_array("latent", "z", np.zeros((0, 4), np.float32), encoding="zstd")
    )
    with ContainerReader.from_bytes(data) as reader:
        assert reader.read_array(reader.sections[0]).shape == (0, 4)


def test_truncation_at_every_byte_boundary() -> None:
    for n in range(len(SMALL)):
        for verify in (True, False):
            with pytest.raises(ContainerError):
                ContainerReader.from_bytes(SMALL[:n], verify=verify)


def test_random_byte_flips_never_pass_unnoticed() -> None:
    """Every byte is covered by a check, so every flip must be detected, and only as ContainerError."""
    rng = np.random.default_rng(20240611)
    # Every position with three patterns, plus random extra positions/patterns: >= 2000 mutants.
    cases = [(pos, xor) for pos in range(len(SMALL)) for xor in (0x01, 0x80, int(rng.integers(1, 256)))]
    cases += [
        (int(p), int(x))
        for p, x in zip(rng.integers(0, len(SMALL), 500), rng.integers(1, 256, 500), strict=True)
    ]
    assert len(cases) >= 2000
    survivors = []
    for pos, xor in cases:
        mutant = bytearray(SMALL)
        mutant[pos] ^= xor
        for verify in (True, False):
            try:
                header, arrays = decode_everything(bytes(mutant), verify=verify)
            except ContainerError:
                continue
            # Reaching here means nothing noticed: the data must at least be unchanged.
            assert header == SMALL_HEADER, (pos, xor)
            assert all(same(a, b) for a, b in zip(arrays, SMALL_DECODED, strict=True)), (pos, xor)
            survivors.append((pos, xor, verify))
    assert survivors == []


def test_corruption_behind_valid_checksums_raises_only_container_errors() -> None:
    """A hostile writer can fix up checksums; parsing and decoding must still fail cleanly."""
    rng = np.random.default_rng(7)
    tried = 0
    for section in SMALL_SECTIONS:
        desc_at = section.start + 4
        end = section.offset + section.length  # descriptor, payload_len and payload
        for pos in range(desc_at, end):
            if section.offset - 8 <= pos < section.offset:
                continue  # the payload length is bounded by the file size; covered elsewhere
            for xor in (0x01, int(rng.integers(1, 256))):
                mutant = bytearray(SMALL)
                mutant[pos] ^= xor
                covered = bytes(mutant[desc_at : section.offset - 8]) + bytes(mutant[section.offset : end])
                struct.pack_into("<Q", mutant, end, xxhash.xxh64_intdigest(covered))
                tried += 1
                with contextlib.suppress(ContainerError):
                    decode_everything(bytes(mutant))
    # The header too.
    header_len = struct.unpack_from("<I", SMALL, 13)[0]
    for pos in range(17, 17 + header_len):
        mutant = bytearray(SMALL)
        mutant[pos] ^= int(rng.integers(1, 256))
        struct.pack_into(
            "<Q", mutant, 17 + header_len, xxhash.xxh64_intdigest(bytes(mutant[17 : 17 + header_len]))
        )
        tried += 1
        with contextlib.suppress(ContainerError):
            decode_everything(bytes(mutant))
    assert tried > 1000


def test_error_names_file_section_and_offset() -> None:
    mutant = bytearray(SMALL)
    second = SMALL_SECTIONS[1]
    mutant[second.offset] ^= 0xFF
    with pytest.raises(ContainerError) as info:
        ContainerReader.from_bytes(bytes(mutant), name="run7.hsqz")
    message = str(info.value)
    assert message.startswith("run7.hsqz: section #1 (kind='latent', name='half', chunk=0)")
    assert f"at byte {second.start}" in message
    assert "checksum mismatch" in message


def test_verify_false_still_verifies_each_section_on_read() -> None:
    mutant = bytearray(SMALL)
    third = SMALL_SECTIONS[2]
    mutant[third.offset] ^= 0x10
    with ContainerReader.from_bytes(bytes(mutant), verify=False) as reader:
        assert same(reader.read_array(reader.sections[0]), SMALL_DECODED[0])
        with pytest.raises(ContainerError, match=r"section #2 .*checksum mismatch"):
            reader.read_array(reader.sections[2])


def test_file_changed_after_open_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "a.hsqz"
    path.write_bytes(SMALL)
    with ContainerReader.open(path) as reader:
        data = bytearray(SMALL)
        data[SMALL_SECTIONS[0].offset] ^= 1
        path.write_bytes(bytes(data))
        with pytest.raises(ContainerError, match="changed or is corrupt"):
            reader.read_array(reader.sections[0])
        path.write_bytes(SMALL[:100])
        with pytest.raises(ContainerError, match="file ended"):
            reader.read_array(reader.sections[3])


def test_sections_of_other_readers_and_closed_readers() -> None:
    other = container_bytes({}, lambda w: w.add_bytes("model", "m", b"12345678" * 20))
    with ContainerReader.from_bytes(other) as a, ContainerReader.from_bytes(SMALL) as b:
        with pytest.raises(ContainerError, match="is not from this container"):
            b.read_bytes(a.sections[0])
        forged = Section("model", "m", 0, {}, 5, 3, 99, 0)
        with pytest.raises(ContainerError, match="is not from this container"):
            b.read_bytes(forged)
    with pytest.raises(ContainerError, match="closed"):
        b.read_array(b.sections[0])


def test_newer_version_is_a_version_error() -> None:
    data = bytearray(SMALL)
    struct.pack_into("<H", data, 9, FORMAT_VERSION + 1)
    with pytest.raises(ContainerVersionError, match=r"version 2.*newer hepsqueeze"):
        ContainerReader.from_bytes(bytes(data), name="future.hsqz")


def test_version_zero_and_reserved_field_are_rejected() -> None:
    data = bytearray(SMALL)
    struct.pack_into("<H", data, 9, 0)
    with pytest.raises(ContainerError, match="invalid container format version 0"):
        ContainerReader.from_bytes(bytes(data))
    data = bytearray(SMALL)
    struct.pack_into("<H", data, 11, 1)
    with pytest.raises(ContainerError, match="reserved field"):
        ContainerReader.from_bytes(bytes(data))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty"),
        (b"PAR1" + bytes(40), "Parquet"),
        (b"\x89HDF\r\n\x1a\n" + bytes(40), "HDF5"),
        (b"\x80\x04\x95" + bytes(40), "not a hepsqueeze container"),
        (MAGIC[:5], "truncated"),
        (MAGIC.replace(b"\r\n", b"\n") + bytes(40), "wrong magic"),
    ],
)
def test_not_a_container(data: bytes, match: str) -> None:
    with pytest.raises(ContainerError, match=match):
        ContainerReader.from_bytes(data)


def test_open_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputFileNotFoundError, match="does not exist"):
        ContainerReader.open(tmp_path / "missing.hsqz")
    with pytest.raises(ContainerError, match="cannot open"):
        ContainerReader.open(tmp_path)


def test_header_length_bounds() -> None:
    data = bytearray(SMALL)
    struct.pack_into("<I", data, 13, 0xFFFFFFFF)
    with pytest.raises(ContainerError, match=r"exceeds the .*limit"):
        ContainerReader.from_bytes(bytes(data))
    struct.pack_into("<I", data, 13, 60 << 20)
    with pytest.raises(ContainerError, match="truncated"):
        ContainerReader.from_bytes(bytes(data))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: handmade([(desc(), PAIR)], end={"kind": "end", "sections": 2}), "2 sections but 1 precede"),
        (lambda: handmade([(desc(), PAIR)], end={"kind": "end", "sections": True}), "must be an integer"),
        (lambda: handmade([(desc(), PAIR)], end={"kind": "end", "sections": 1, "x": 1}), "exactly"),
        (lambda: handmade([(desc(), PAIR)], trailing=b"\x00"), "1 unexpected bytes after the end section"),
        (lambda: preamble() + frame(desc(), PAIR), "without an end section"),
        (
            lambda: preamble() + frame(desc(), PAIR) + frame({"kind": "end", "sections": 1}, b"x"),
            "must be empty",
        ),
        (lambda: handmade([(desc(), PAIR), (desc(), PAIR)]), "duplicate of section #0"),
        (lambda: preamble() + struct.pack("<I", MAX_DESC_BYTES + 1) + bytes(40), "descriptor length"),
        (
            lambda: preamble() + struct.pack("<I", 2) + b"{}" + struct.pack("<Q", 1 << 62) + bytes(40),
            "payload length",
        ),
        (lambda: handmade([(desc(), PAIR)], version=1, header=b'{"a":1}')[:-1], "truncated"),
    ],
)
def test_hostile_structure_rejected(make: Callable[[], bytes], match: str) -> None:
    with pytest.raises(ContainerError, match=match):
        ContainerReader.from_bytes(make())


def zstd_section(payload: bytes, nbytes: int, **overrides: Any) -> bytes:
    return handmade([(desc(encoding="zstd", nbytes=nbytes, shape=[nbytes // 4], **overrides), payload)])


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (zstd_section(b"\x00" * 16, 8), "cannot be decoded"),
        (
            zstd_section(zstandard.ZstdCompressor(write_content_size=False).compress(PAIR), 8),
            "declares -1 bytes",
        ),
        (zstd_section(zstandard.ZstdCompressor().compress(PAIR + PAIR), 8), "declares 16 bytes, expected 8"),
        (zstd_section(zstandard.ZstdCompressor().compress(PAIR) * 2, 8), "cannot be decoded"),
        (zstd_section(zstandard.ZstdCompressor().compress(PAIR)[:-2], 8), "cannot be decoded"),
        (handmade([(desc(dtype="|b1", shape=[2], nbytes=2), b"\x01\x02")]), "bool array"),
    ],
)
def test_hostile_payload_fails_on_read(data: bytes, match: str) -> None:
    with ContainerReader.from_bytes(data, name="evil.hsqz") as reader:
        with pytest.raises(ContainerError, match=rf"evil.hsqz: section #0 .*{match}"):
            reader.read_array(reader.sections[0])
        with pytest.raises(ContainerError, match=match):
            reader.read_bytes(reader.sections[0])
