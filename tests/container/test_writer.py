"""The container writer: what it stores, the byte layout, size accounting, atomic output and refusals."""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xxhash
from container_helpers import SMALL_HEADER, build_small

from hepsqueeze.container import (
    FORMAT_VERSION,
    MAGIC,
    MAX_DESC_BYTES,
    ContainerReader,
    ContainerWriter,
    container_bytes,
    write_container,
)
from hepsqueeze.errors import ContainerError, OutputExistsError


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
