"""The section transforms and encodings: round trips of every dtype, integer wrap-around."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from container_helpers import INTEGER_DTYPES, SHAPES, same, sample
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hepsqueeze.container import DTYPES, ContainerReader, ContainerWriter, container_bytes
from hepsqueeze.container.transform import decode_transform, encode_transform
from hepsqueeze.errors import ContainerError


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


@pytest.mark.parametrize("transform", [None, "delta", "shuffle"])
@pytest.mark.parametrize("dtype", [*INTEGER_DTYPES, "<f4", "<f8"])
def test_transforms_invert_and_keep_the_byte_size(dtype: str, transform: str | None) -> None:
    if transform == "delta" and np.dtype(dtype).kind not in "iu":
        return
    flat = sample(dtype, (11,), seed=3)
    encoded = encode_transform(flat, transform)
    assert encoded.nbytes == flat.nbytes
    assert encoded.flags.c_contiguous
    decoded = decode_transform(encoded.tobytes(), flat.dtype, transform)
    assert same(decoded, flat)
    assert decoded.flags.writeable


def test_transform_layouts() -> None:
    flat = np.array([5, 7, 4, 4], dtype="<i2")
    assert encode_transform(flat, "delta").tolist() == [5, 2, -3, 0]
    assert encode_transform(flat, "shuffle").tobytes() == bytes([5, 7, 4, 4, 0, 0, 0, 0])
    assert encode_transform(flat, None) is flat
