"""The container format: round trips, atomic output, and rejection of corrupt, truncated and hostile files."""

from __future__ import annotations

import contextlib
import io
import json
import struct
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import xxhash
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hepsqueeze.container import (
    DTYPES,
    FORMAT_VERSION,
    KNOWN_KINDS,
    MAGIC,
    MAX_DESC_BYTES,
    ContainerReader,
    ContainerWriter,
    Section,
    container_bytes,
    write_container,
)
from hepsqueeze.errors import ContainerError, ContainerVersionError, InputFileNotFoundError, OutputExistsError

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


def test_handmade_baseline_is_valid() -> None:
    with ContainerReader.from_bytes(handmade([(desc(), PAIR)])) as reader:
        assert reader.read_array(reader.sections[0]).tolist() == [1.5, -2.0]


# --------------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("encoding", ["raw", "zstd"])
@pytest.mark.parametrize("transform", [None, "delta", "shuffle"])
def test_round_trip_every_dtype_encoding_transform(dtype: str, encoding: str, transform: str | None) -> None:
    if transform == "delta" and np.dtype(dtype).kind not in "iu":
        with pytest.raises(ContainerError, match="delta"):
            container_bytes({}, lambda w: w.add_array("column", "x", sample(dtype, (3,)), transform="delta"))
        return
    arrays = {f"s{i}": sample(dtype, shape, seed=i) for i, shape in enumerate(SHAPES)}

    def build(writer: ContainerWriter) -> None:
        for name, arr in arrays.items():
            writer.add_array("column", name, arr, encoding=encoding, transform=transform)

    with ContainerReader.from_bytes(container_bytes({}, build)) as reader:
        for section in reader.sections:
            assert (section.dtype.str, section.encoding, section.transform) == (dtype, encoding, transform)
            out = reader.read_array(section)
            assert same(out, arrays[section.name]), section.name
            assert out.flags.writeable
            assert out.flags.c_contiguous


@given(
    arr=hnp.arrays(
        dtype=st.sampled_from(sorted(DTYPES)).map(np.dtype),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6),
    ),
    encoding=st.sampled_from(["raw", "zstd"]),
    transform=st.sampled_from([None, "delta", "shuffle"]),
    level=st.integers(-5, 9),
)
@settings(max_examples=60, deadline=None)
def test_array_round_trip_property(
    arr: npt.NDArray[Any], encoding: str, transform: str | None, level: int
) -> None:
    if transform == "delta" and arr.dtype.kind not in "iu":
        transform = "shuffle"
    data = container_bytes(
        {}, lambda w: w.add_array("latent", "z", arr, encoding=encoding, transform=transform, level=level)
    )
    with ContainerReader.from_bytes(data) as reader:
        assert same(reader.read_array(reader.get("latent", "z")), arr)


def test_big_endian_and_strided_input() -> None:
    big = np.arange(6, dtype=">i4").reshape(2, 3)
    strided = np.arange(20, dtype=np.float64).reshape(4, 5)[::2, ::-2]
    fortran = np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3))

    def build(writer: ContainerWriter) -> None:
        writer.add_array("column", "big", big, encoding="zstd", transform="delta")
        writer.add_array("column", "strided", strided, transform="shuffle")
        writer.add_array("column", "fortran", fortran)

    with ContainerReader.from_bytes(container_bytes({}, build)) as reader:
        out = reader.read_array(reader.get("column", "big"))
        assert out.dtype.str == "<i4"
        assert np.array_equal(out, big)
        assert np.array_equal(reader.read_array(reader.get("column", "strided")), strided)
        assert np.array_equal(reader.read_array(reader.get("column", "fortran")), fortran)


def test_highly_compressible_section_round_trips() -> None:
    zeros = np.zeros(1 << 20, dtype=np.float32)  # zstd's best case, about 32000:1
    with ContainerReader.from_bytes(
        container_bytes({}, lambda w: w.add_array("latent", "z", zeros, encoding="zstd"))
    ) as r:
        section = r.sections[0]
        assert section.length * 1000 < section.nbytes
        assert same(r.read_array(section), zeros)


def test_header_sections_and_extras_preserved() -> None:
    header = {
        "kind": "model",
        "name": "αβ ✓",
        "n": np.int64(7),
        "x": np.float32(0.5),
        "v": np.arange(3),
        "t": (1, 2),
    }

    def build(writer: ContainerWriter) -> None:
        writer.add_array(
            "weight", "enc.0.weight", np.ones((2, 2), np.float32), role="w", meta={"a": [1, None]}
        )
        writer.add_array(
            "latent", "z", np.ones(3, np.float16), chunk=3, encoding="zstd", scale=np.float64(2.0)
        )
        writer.add_bytes("model", "decoder", b"abc", encoding="zstd", level=19)

    with ContainerReader.from_bytes(container_bytes(header, build), name="m.hsqm") as reader:
        assert reader.header == {
            "kind": "model",
            "name": "αβ ✓",
            "n": 7,
            "x": 0.5,
            "v": [0, 1, 2],
            "t": [1, 2],
        }
        assert reader.version == FORMAT_VERSION
        weight, latent, model = reader.sections
        assert (weight.kind, weight.name, weight.chunk, weight.index) == ("weight", "enc.0.weight", 0, 0)
        assert weight.extras == {"role": "w", "meta": {"a": [1, None]}}
        assert weight.desc["role"] == "w"
        assert (latent.chunk, latent.shape, latent.dtype, latent.extras) == (
            3,
            (3,),
            np.dtype("<f2"),
            {"scale": 2.0},
        )
        assert reader.read_bytes(model) == b"abc"
        assert model.encoding == "zstd"
        assert model.transform is None
        assert reader.read_payload(model) != b"abc"  # still compressed
        assert repr(reader) == "ContainerReader('m.hsqm', version=1, sections=3)"


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


def test_layout_matches_the_specification() -> None:
    """Parse the bytes by hand, following docs/container-format.md."""
    data = container_bytes({"a": 1}, lambda w: w.add_bytes("model", "m", b"xyz"))
    assert data[:9] == MAGIC == b"\x89HSQZ\r\n\x1a\n"
    version, reserved, header_len = struct.unpack_from("<HHI", data, 9)
    assert (version, reserved) == (1, 0)
    header = data[17 : 17 + header_len]
    assert json.loads(header) == {"a": 1}
    pos = 17 + header_len
    assert struct.unpack_from("<Q", data, pos)[0] == xxhash.xxh64_intdigest(header)
    pos += 8
    descs = []
    while pos < len(data):
        (desc_len,) = struct.unpack_from("<I", data, pos)
        raw = data[pos + 4 : pos + 4 + desc_len]
        (payload_len,) = struct.unpack_from("<Q", data, pos + 4 + desc_len)
        payload_at = pos + 4 + desc_len + 8
        payload = data[payload_at : payload_at + payload_len]
        assert struct.unpack_from("<Q", data, payload_at + payload_len)[0] == xxhash.xxh64_intdigest(
            raw + payload
        )
        descs.append((json.loads(raw), payload))
        pos = payload_at + payload_len + 8
    assert pos == len(data)
    (model_desc, model_payload), (end_desc, end_payload) = descs
    assert model_desc == {
        "kind": "model",
        "name": "m",
        "chunk": 0,
        "encoding": "raw",
        "transform": None,
        "dtype": "|u1",
        "shape": [3],
        "nbytes": 3,
    }
    assert model_payload == b"xyz"
    assert (end_desc, end_payload) == ({"kind": "end", "sections": 1}, b"")


def test_sizes_account_for_every_byte(tmp_path: Path) -> None:
    path = tmp_path / "a.hsqz"
    with write_container(path, SMALL_HEADER) as writer:
        build_small(writer)
    assert writer.finished
    assert writer.bytes_written == path.stat().st_size
    with ContainerReader.open(path) as reader:
        assert reader.file_size == path.stat().st_size
        sizes = reader.section_sizes()
        assert sizes == writer.section_sizes()
        assert set(sizes) == {"header", "latent", "column", "model", "end"}
        assert sum(sizes.values()) == reader.file_size
        assert sizes["header"] == reader.header_size
        assert reader.section_details() == writer.section_details()
        latent = [d for d in reader.section_details() if d.kind == "latent"]
        assert [(d.name, d.decoded) for d in latent] == [("latent", 72), ("half", 16)]
        assert all(d.stored > d.payload for d in latent)
        assert reader.sections == writer.sections


# --------------------------------------------------------------------------------------------------
# Writer: atomic output and refusals


def test_write_container_failure_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "out.hsqz"

    def fail_midway() -> None:
        with write_container(path, {}) as writer:
            writer.add_array("latent", "z", np.ones(10, np.float32))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_midway()
    assert list(tmp_path.iterdir()) == []


def test_existing_file_is_not_overwritten_without_force(tmp_path: Path) -> None:
    path = tmp_path / "out.hsqz"
    path.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="already exists"), write_container(path, {}):
        pass
    assert path.read_bytes() == b"precious"
    with write_container(path, {"v": 2}, force=True) as writer:
        writer.add_bytes("model", "m", b"new")
    with ContainerReader.open(path) as reader:
        assert reader.header == {"v": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.hsqz"]


def test_writer_context_manager_finishes_only_on_success() -> None:
    good, bad = io.BytesIO(), io.BytesIO()
    with ContainerWriter(good, {}) as writer:
        writer.add_bytes("model", "m", b"1")
    with ContainerReader.from_bytes(good.getvalue()) as reader:
        assert len(reader.sections) == 1

    def fail_midway() -> None:
        with ContainerWriter(bad, {}) as writer:
            writer.add_bytes("model", "m", b"1")
            raise KeyError("x")

    with pytest.raises(KeyError):
        fail_midway()
    with pytest.raises(ContainerError, match="without an end section"):
        ContainerReader.from_bytes(bad.getvalue())


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda w: w.add_array("bogus", "x", np.ones(1)), "unknown section kind"),
        (lambda w: w.add_array("end", "x", np.ones(1)), "unknown section kind"),
        (lambda w: w.add_array("column", 3, np.ones(1)), "name must be a string"),
        (lambda w: w.add_array("column", "x", np.ones(1), chunk=-1), "chunk"),
        (lambda w: w.add_array("column", "x", np.ones(1), chunk=True), "chunk"),
        (lambda w: w.add_array("column", "x", np.array(["a"])), "cannot store dtype"),
        (lambda w: w.add_array("column", "x", np.ones(1, complex)), "cannot store dtype"),
        (lambda w: w.add_array("column", "x", np.array([object()])), "cannot store dtype"),
        (lambda w: w.add_array("column", "x", np.ones(1), encoding="lz4"), "unknown encoding"),
        (lambda w: w.add_array("column", "x", np.ones(1), transform="xor"), "unknown transform"),
        (lambda w: w.add_array("column", "x", np.ones(1), transform="delta"), "needs an integer"),
        (lambda w: w.add_array("column", "x", np.ones(1), encoding="zstd", level=99), "level"),
        (lambda w: w.add_array("column", "x", np.ones(1), nbytes=3), "clash"),
        (lambda w: w.add_array("column", "x", np.ones(1), note=float("nan")), "NaN"),
        (lambda w: w.add_array("column", "x", np.ones(1), note={1: 2}), "keys must be str"),
        (lambda w: w.add_array("column", "x", np.ones(1), note={1, 2}), "cannot be stored as JSON"),
        (lambda w: w.add_array("column", "x", np.ones(1), note="x" * MAX_DESC_BYTES), "size limits"),
        (lambda w: w.add_bytes("model", "x", "text"), "needs bytes"),
    ],
)
def test_writer_rejects_invalid_sections(call: Callable[[ContainerWriter], None], match: str) -> None:
    buffer = io.BytesIO()
    writer = ContainerWriter(buffer, {})
    before = buffer.tell()
    with pytest.raises(ContainerError, match=match):
        call(writer)
    assert buffer.tell() == before  # nothing written: the writer is still usable
    writer.add_bytes("model", "ok", b"1")
    writer.finish()
    with ContainerReader.from_bytes(buffer.getvalue()) as reader:
        assert [s.name for s in reader.sections] == ["ok"]


def test_writer_rejects_duplicates_bad_headers_and_use_after_finish() -> None:
    with pytest.raises(ContainerError, match="NaN"):
        ContainerWriter(io.BytesIO(), {"x": float("inf")})
    with pytest.raises(ContainerError, match="mapping"):
        ContainerWriter(io.BytesIO(), [1, 2])  # type: ignore[arg-type]
    writer = ContainerWriter(io.BytesIO(), {})
    writer.add_bytes("model", "m", b"1")
    writer.add_bytes("model", "m", b"1", chunk=1)
    with pytest.raises(ContainerError, match="already written"):
        writer.add_bytes("model", "m", b"2")
    writer.finish()
    writer.finish()  # idempotent
    with pytest.raises(ContainerError, match="finished"):
        writer.add_bytes("model", "n", b"1")


def test_writer_refuses_to_continue_after_a_write_error() -> None:
    class Failing(io.BytesIO):
        fail = False

        def write(self, data: Any) -> int:
            if self.fail:
                raise OSError("disk full")
            return super().write(data)

    stream = Failing()
    writer = ContainerWriter(stream, {})
    stream.fail = True
    with pytest.raises(OSError, match="disk full"):
        writer.add_bytes("model", "m", b"1")
    stream.fail = False
    with pytest.raises(ContainerError, match="failed earlier"):
        writer.add_bytes("model", "n", b"1")


# --------------------------------------------------------------------------------------------------
# Reader: truncation and corruption


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


# --------------------------------------------------------------------------------------------------
# Reader: versions, preamble and header


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


def test_unknown_kind_is_a_version_error() -> None:
    with pytest.raises(ContainerVersionError, match=r"section #1 \(kind='quantised'.*newer hepsqueeze"):
        ContainerReader.from_bytes(handmade([(desc(), PAIR), (desc(kind="quantised"), PAIR)]))
    assert "quantised" not in KNOWN_KINDS


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


@pytest.mark.parametrize(
    ("header", "match"),
    [
        (b"[1, 2]", "must be a JSON object"),
        (b'{"a": 1, "a": 2}', "duplicate key"),
        (b'{"a": NaN}', "NaN"),
        (b'{"a": 1e999}', "out of range"),
        (b'{"a": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (b'{"a": "\xff"}', "not valid UTF-8"),
        (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
        (b"", "not valid JSON"),
    ],
)
def test_invalid_header_json(header: bytes, match: str) -> None:
    with pytest.raises(ContainerError, match=rf"header at byte 17: .*{match}"):
        ContainerReader.from_bytes(handmade([], header=header))


def test_header_length_bounds() -> None:
    data = bytearray(SMALL)
    struct.pack_into("<I", data, 13, 0xFFFFFFFF)
    with pytest.raises(ContainerError, match=r"exceeds the .*limit"):
        ContainerReader.from_bytes(bytes(data))
    struct.pack_into("<I", data, 13, 60 << 20)
    with pytest.raises(ContainerError, match="truncated"):
        ContainerReader.from_bytes(bytes(data))


# --------------------------------------------------------------------------------------------------
# Reader: hostile descriptors (valid checksums, lying content)


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ((desc(nbytes=1 << 60, shape=[1 << 58]), PAIR), "nbytes"),
        ((desc(nbytes=(1 << 40) * 4, shape=[1 << 40]), PAIR), "nbytes"),
        ((desc(shape=[1 << 38, 1 << 38, 0], nbytes=0), b""), "too large"),
        ((desc(shape=[3]), PAIR), "needs 12 bytes but nbytes is 8"),
        ((desc(shape=[-2]), PAIR), "shape"),
        ((desc(shape=[2.0]), PAIR), "shape"),
        ((desc(shape="2"), PAIR), "shape"),
        ((desc(shape=[1] * 33, nbytes=4), PAIR[:4]), "shape"),
        ((desc(nbytes=16, shape=[4]), PAIR), "raw payload is 8 bytes"),
        ((desc(encoding="zstd", nbytes=1 << 30, shape=[1 << 28]), PAIR), "cannot decode to the claimed"),
        ((desc(chunk=True), PAIR), "chunk"),
        ((desc(chunk=-1), PAIR), "chunk"),
        ((desc(chunk=1.0), PAIR), "chunk"),
        ((desc(name=None), PAIR), "name"),
        ((desc(kind=7), PAIR), "kind"),
        ((desc(dtype="<c8", nbytes=16), PAIR + PAIR), "dtype"),
        ((desc(dtype=">f4"), PAIR), "dtype"),
        ((desc(dtype="O"), PAIR), "dtype"),
        ((desc(dtype="<f4 "), PAIR), "dtype"),
        ((desc(encoding="lz4"), PAIR), "unknown encoding"),
        ((desc(encoding=None), PAIR), "unknown encoding"),
        ((desc(transform="xor"), PAIR), "unknown transform"),
        ((desc(transform="delta"), PAIR), "needs an integer dtype"),
        (({k: v for k, v in desc().items() if k != "nbytes"}, PAIR), "lacks field"),
        ((b"[]", PAIR), "must be a JSON object"),
        ((b'{"kind": "column", "kind": "latent"}', PAIR), "duplicate key"),
        ((json.dumps(desc(note=float("nan"))).encode(), PAIR), "NaN"),
        ((b'{"a":' + b"[" * 200_000 + b"]" * 200_000 + b"}", PAIR), "nested too deeply"),
    ],
)
def test_hostile_descriptor_rejected_without_allocating(section: tuple[Any, bytes], match: str) -> None:
    data = handmade([section])
    tracemalloc.start()
    try:
        with pytest.raises(ContainerError, match=match):
            ContainerReader.from_bytes(data, name="evil.hsqz")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * len(data) + (4 << 20)


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


def test_delta_wraps_around_integer_limits() -> None:
    for dtype in INTEGER_DTYPES:
        info = np.iinfo(np.dtype(dtype))
        arr = np.array([info.max, info.min, info.max, 0, info.min], dtype=dtype)
        buffer = io.BytesIO()
        with ContainerWriter(buffer, {}) as writer:
            writer.add_array("column", "x", arr, transform="delta")
        data = buffer.getvalue()
        with ContainerReader.from_bytes(data) as reader:
            assert same(reader.read_array(reader.sections[0]), arr)
