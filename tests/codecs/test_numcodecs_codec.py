"""The numcodecs codec ``hepsqueeze.bounded`` (codecs.numcodecs_codec): its config through numcodecs'
registry, every decoded value within the bound in the array's own dtype (judged by ``misses``) or
bit-exact, damaged or hostile bytes refused with a ContainerError carrying the byte offset, zarr v3
and v2 arrays that use it, and the entry points that find it in a fresh interpreter."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hepsqueeze.errors import ConfigError, ContainerError, InputError
from hepsqueeze.metrics.bound_check import bits, misses
from hepsqueeze.metrics.bounds import ErrorBound

numcodecs = pytest.importorskip("numcodecs")
zarr = pytest.importorskip("zarr")

from hepsqueeze.codecs.numcodecs_codec import (  # noqa: E402  (after the optional imports)
    CODEC_ID,
    PREFIX,
    BoundedNumcodec,
    decode_array,
    parse_encoding,
    zarr_codec_class,
)

ABS = {"id": CODEC_ID, "max_error": 0.001, "relative": False}
REL = {"id": CODEC_ID, "max_error": 0.001, "relative": True}


def _check(x: npt.NDArray[Any], y: npt.NDArray[Any], config: dict[str, Any]) -> None:
    """``y`` is ``x`` decoded: same dtype and shape, every value within the bound or bit-exact."""
    assert y.dtype == x.dtype
    assert y.shape == x.shape
    kind = "relative" if config["relative"] else "absolute"
    wrong = misses(x.reshape(-1), y.reshape(-1), ErrorBound(kind, config["max_error"]))
    assert not wrong.any(), (x.reshape(-1)[wrong][:5], y.reshape(-1)[wrong][:5])


def _roundtrip(x: npt.NDArray[Any], config: dict[str, Any]) -> npt.NDArray[Any]:
    codec = numcodecs.get_codec(config)
    y: npt.NDArray[Any] = codec.decode(codec.encode(x))
    _check(x, y, config)
    return y


def _jets(n: int = 2000, seed: int = 0) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    pt = 20 + rng.exponential(40, n)
    return np.column_stack([pt, rng.uniform(-3, 3, n), rng.uniform(-np.pi, np.pi, n)]).astype(np.float32)


# ----------------------------------------------------------------------------- config


def test_get_codec_finds_it_and_the_config_round_trips() -> None:
    codec = numcodecs.get_codec(ABS)
    assert isinstance(codec, BoundedNumcodec)
    assert codec.codec_id == CODEC_ID
    assert codec.get_config() == ABS
    assert json.loads(json.dumps(codec.get_config())) == ABS
    again = BoundedNumcodec.from_config({k: v for k, v in ABS.items() if k != "id"})
    assert again == codec
    assert hash(again) == hash(codec)
    assert numcodecs.get_codec(codec.get_config()) == codec
    assert numcodecs.get_codec(REL) != codec
    assert numcodecs.get_codec({**ABS, "max_error": 0.01}) != codec
    assert codec != "not a codec"
    assert BoundedNumcodec(1).get_config() == {"id": CODEC_ID, "max_error": 1.0, "relative": False}
    assert repr(codec) == "BoundedNumcodec(max_error=0.001, relative=False)"


@pytest.mark.parametrize(
    "config",
    [
        {"max_error": 0},
        {"max_error": -1e-3},
        {"max_error": float("nan")},
        {"max_error": float("inf")},
        {"max_error": "1e-3"},
        {"max_error": True},
        {"max_error": 1e-3, "relative": "yes"},
        {"max_error": 1.0, "relative": True},
        {"max_error": 1e-3, "level": 3},
        {"relative": True},
        {"id": "zstd", "max_error": 1e-3},
    ],
)
def test_bad_configs_are_refused(config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        BoundedNumcodec.from_config(config)


# ----------------------------------------------------------------------------- within the bound


@pytest.mark.parametrize("config", [ABS, REL], ids=["absolute", "relative"])
@pytest.mark.parametrize("dtype", ["f2", "f4", "f8", ">f4", ">f8"])
@pytest.mark.parametrize("shape", [(3000,), (40, 75), (6, 5, 4, 3), (), (1,)])
def test_values_within_the_bound(config: dict[str, Any], dtype: str, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(1)
    x = (rng.normal(0, 50, shape) * rng.choice([1e-3, 1.0, 100.0], shape)).astype(dtype)
    _roundtrip(x, config)


def test_jets_compress_below_their_float32_bytes() -> None:
    x = _jets()
    codec = numcodecs.get_codec(ABS)
    encoded = codec.encode(x)
    assert len(encoded) < x.nbytes / 2
    _check(x, codec.decode(encoded), ABS)


@pytest.mark.parametrize("config", [ABS, REL], ids=["absolute", "relative"])
def test_non_contiguous_and_fortran_input(config: dict[str, Any]) -> None:
    x = _jets(3000).astype(np.float64)
    for view in (x[::3, 1:], x.T, np.asfortranarray(x), x[::-1], x[:, 0]):
        assert view.ndim == 1 or not view.flags.c_contiguous
        y = _roundtrip(view, config)
        assert y.flags.c_contiguous


@pytest.mark.parametrize("shape", [(0,), (0, 5), (3, 0), (0, 0, 2)])
def test_empty_arrays(shape: tuple[int, ...]) -> None:
    for dtype in ("f4", "f8"):
        y = _roundtrip(np.empty(shape, dtype), ABS)
        assert y.size == 0


@pytest.mark.parametrize("config", [ABS, REL], ids=["absolute", "relative"])
@pytest.mark.parametrize("dtype", ["f4", "f8"])
def test_special_values_come_back_bit_for_bit(config: dict[str, Any], dtype: str) -> None:
    info = np.finfo(dtype)
    specials = np.array(
        [
            np.nan,
            -np.nan,
            np.inf,
            -np.inf,
            0.0,
            -0.0,
            info.max,
            -info.max,
            info.tiny,
            info.smallest_subnormal,
        ],
        dtype=dtype,
    )
    width = np.dtype(dtype).itemsize * 8
    payloads = np.array(
        [0x7FC00001, 0x7F800001, 0xFFC12345] if width == 32 else [0x7FF8000000000001, 0x7FF0000000000001],
        dtype=f"u{width // 8}",
    ).view(dtype)  # quiet and signalling NaNs with payloads
    rng = np.random.default_rng(2)
    x = rng.normal(0, 10, 500).astype(dtype)
    x[rng.choice(500, specials.size + payloads.size, replace=False)] = np.concatenate([specials, payloads])
    y = _roundtrip(x, config)
    nonfinite = ~np.isfinite(x)
    assert (bits(y[nonfinite]) == bits(x[nonfinite])).all()


def test_decode_into_out() -> None:
    x = _jets(500)
    codec = numcodecs.get_codec(ABS)
    encoded = codec.encode(x)
    expected = codec.decode(encoded)
    out = np.empty_like(x)
    assert codec.decode(encoded, out=out) is out
    assert (bits(out) == bits(expected)).all()
    flat = np.empty(x.size, x.dtype)
    codec.decode(encoded, out=flat)
    assert (bits(flat) == bits(expected.reshape(-1))).all()
    raw = bytearray(x.nbytes)
    codec.decode(encoded, out=raw)
    assert bytes(raw) == expected.tobytes()
    with pytest.raises(InputError, match="out holds"):
        codec.decode(encoded, out=np.empty(x.size - 1, x.dtype))


def test_decode_takes_any_buffer() -> None:
    x = _jets(300)
    codec = numcodecs.get_codec(REL)
    encoded = codec.encode(x)
    for buf in (bytearray(encoded), memoryview(encoded), np.frombuffer(encoded, np.uint8)):
        _check(x, codec.decode(buf), REL)


def test_memoryview_of_floats_is_encoded_as_floats() -> None:
    x = _jets(200).reshape(-1)
    y = numcodecs.get_codec(ABS).decode(numcodecs.get_codec(ABS).encode(memoryview(x)))
    _check(x, y, ABS)


@pytest.mark.parametrize("values", [np.arange(10), np.zeros(4, np.complex64), b"abcd", np.array(["a"])])
def test_non_float_input_is_refused(values: Any) -> None:
    with pytest.raises(InputError, match="float"):
        numcodecs.get_codec(ABS).encode(values)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        st.sampled_from([np.dtype("f4"), np.dtype("f8"), np.dtype(">f8")]),
        hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=12),
        elements={"allow_nan": True, "allow_infinity": True, "allow_subnormal": True},
    ),
    st.sampled_from([1e-6, 1e-3, 0.1, 0.5, 10.0]),
    st.booleans(),
)
def test_bound_holds_for_any_array(x: npt.NDArray[Any], max_error: float, relative: bool) -> None:
    if relative and max_error >= 1:
        max_error = 0.5
    _roundtrip(x, {"id": CODEC_ID, "max_error": max_error, "relative": relative})


def test_a_wide_group_beside_many_zeros_round_trips() -> None:
    # a zarr edge chunk: values then fill zeros; the column coder once planned an ANS table for it
    # wider than its decoder reads (2247 bins): the block is read back before it is returned
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.uniform(-4.5, 4.5, 20000), np.zeros(20000)]).astype(np.float32)
    _roundtrip(x, ABS)


def test_a_block_that_does_not_read_back_is_stored_losslessly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from hepsqueeze.codecs import numcodecs_codec

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ContainerError("column payload: the descriptor of group 'block' is invalid")

    x = _jets(1000)
    monkeypatch.setattr(numcodecs_codec, "decode_column", broken)
    with caplog.at_level("WARNING", logger=numcodecs_codec.__name__):
        data = numcodecs.get_codec(ABS).encode(x)
    assert "stored losslessly" in caplog.text
    monkeypatch.undo()
    y = decode_array(data)
    assert (bits(y) == bits(x)).all()


# ----------------------------------------------------------------------------- hostile bytes


def _reseal(data: bytes | bytearray) -> bytes:
    """``data`` with its checksum recomputed: what a forger (not a bit flip) would write."""
    body = bytes(data[:-8])
    return body + xxhash.xxh64(body).digest()


def _refused(data: bytes) -> ContainerError:
    with pytest.raises(ContainerError) as info:
        decode_array(data)
    err = info.value
    assert isinstance(err, ValueError)
    assert isinstance(err.offset, int)
    assert 0 <= err.offset <= len(data)
    assert f"byte {err.offset}" in str(err)
    return err


def _small() -> tuple[npt.NDArray[np.float32], bytes]:
    x = _jets(40)
    x[3, 1] = np.nan
    return x, numcodecs.get_codec(ABS).encode(x)


def test_every_truncation_is_refused() -> None:
    _, data = _small()
    for n in range(len(data)):
        _refused(data[:n])
    _refused(data + b"\0")


def test_every_flipped_byte_is_refused() -> None:
    _, data = _small()
    for i in range(len(data)):
        for mask in (0x01, 0x80, 0xFF):
            damaged = bytearray(data)
            damaged[i] ^= mask
            _refused(bytes(damaged))


def _decoded_or_refused(data: bytes) -> npt.NDArray[Any] | None:
    """The decoded array, or None where a ContainerError with a byte offset refuses ``data``."""
    try:
        return decode_array(data)
    except ContainerError as err:
        if not isinstance(err.offset, int):
            raise
        return None


def test_forged_bytes_with_a_valid_checksum_never_decode_outside_the_bound() -> None:
    x, data = _small()
    kept = 0
    for i in range(len(data) - 8):
        for mask in (0x01, 0x10, 0xFF):
            damaged = bytearray(data)
            damaged[i] ^= mask
            forged = _reseal(damaged)
            y = _decoded_or_refused(forged)
            if y is not None:
                kept += 1
                _check(x, y, ABS)
    assert kept < len(data)  # nearly every change is caught by the header checks or the digests


def _forge_header(**fields: Any) -> bytes:
    """A valid-checksum encoding of one float32 whose header claims ``fields``."""
    _, data = _small()
    magic, version, dtype, mode, ndim, value = PREFIX.unpack_from(data)
    head = {"version": version, "dtype": dtype, "mode": mode, "ndim": ndim, "value": value, **fields}
    shape = fields.get("shape", (40, 3))
    rest = data[PREFIX.size + 8 * ndim :]
    body = PREFIX.pack(magic, head["version"], head["dtype"], head["mode"], len(shape), head["value"])
    body += b"".join(struct.pack("<Q", d) for d in shape) + rest[:-8]
    return _reseal(body + b"\0" * 8)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"version": 2}, "format version 2"),
        ({"dtype": b"<i4"}, "unsupported dtype"),
        ({"dtype": b"|O8"}, "unsupported dtype"),
        ({"mode": 7}, "unknown bound kind"),
        ({"value": -1.0}, "invalid bound"),
        ({"value": float("nan")}, "invalid bound"),
        ({"shape": (1 << 40,)}, "claims"),
        ({"shape": (1 << 30, 1 << 30, 0)}, "too large"),
        ({"shape": (2000, 3)}, "truncated|block"),
        ({"shape": (10, 3)}, "block 0"),
        ({"shape": (41, 3)}, "block 0"),
        ({"shape": (1,) * 65}, "dimensions"),
    ],
)
def test_hostile_headers_are_refused_before_allocating(fields: dict[str, Any], message: str) -> None:
    err = _refused(_forge_header(**fields))
    assert err.args[0].startswith(CODEC_ID)
    with pytest.raises(ContainerError, match=message):
        decode_array(_forge_header(**fields))


def test_a_claimed_size_beyond_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    x, data = _small()
    monkeypatch.setenv("HEPSQUEEZE_MAX_DECOMPRESSED_BYTES", str(x.nbytes - 1))
    with pytest.raises(ContainerError, match="HEPSQUEEZE_MAX_DECOMPRESSED_BYTES"):
        decode_array(data)


def test_header_describes_the_array() -> None:
    x, data = _small()
    enc = parse_encoding(data)
    assert enc.dtype == x.dtype
    assert enc.shape == x.shape
    assert enc.bound.value == 1e-3
    assert enc.bound.mode.value == "absolute"
    assert len(enc.blocks) == 1
    assert data[:4] == b"HSQN"


def test_arrays_longer_than_a_block_are_cut_into_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    from hepsqueeze.codecs import numcodecs_codec

    monkeypatch.setattr(numcodecs_codec, "MAX_CHUNK_ROWS", 1000)
    x = _jets(1500)
    data = numcodecs.get_codec(ABS).encode(x)
    assert len(parse_encoding(data).blocks) == 5
    _check(x, decode_array(data), ABS)


# ----------------------------------------------------------------------------- zarr


def test_zarr_v3_array_round_trip(tmp_path: Path) -> None:
    codec_class = zarr_codec_class()
    x = (_jets(5000).reshape(-1, 5) * np.float32(1.5)).astype(np.float32)
    path = tmp_path / "jets.zarr"
    array = zarr.create_array(
        store=str(path),
        shape=x.shape,
        chunks=(700, 4),  # edge chunks in both dimensions
        dtype="float32",
        serializer=codec_class(max_error=1e-3),
        compressors=None,
    )
    array[:] = x
    metadata = json.loads((path / "zarr.json").read_text())
    assert metadata["codecs"] == [
        {"name": CODEC_ID, "configuration": {"max_error": 0.001, "relative": False}}
    ]
    back = zarr.open_array(str(path), mode="r")
    _check(x, back[:], {"max_error": 1e-3, "relative": False})
    _check(x[100:900, 2:], back[100:900, 2:], {"max_error": 1e-3, "relative": False})
    chunk = (path / "c" / "0" / "0").read_bytes()
    assert parse_encoding(chunk).shape == (700, 4)


def test_zarr_v3_relative_float64_and_nan(tmp_path: Path) -> None:
    codec_class = zarr_codec_class()
    rng = np.random.default_rng(3)
    x = rng.lognormal(3, 2, (300, 7))
    x[5, 5] = np.nan
    x[6, 6] = -np.inf
    array = zarr.create_array(
        store=str(tmp_path / "r.zarr"),
        shape=x.shape,
        chunks=(128, 7),
        dtype="float64",
        serializer=codec_class(max_error=1e-4, relative=True),
    )  # zarr's default zstd after it
    array[:] = x
    _check(x, zarr.open_array(str(tmp_path / "r.zarr"), mode="r")[:], {"max_error": 1e-4, "relative": True})


def test_zarr_v3_refuses_integer_arrays(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="float"):
        zarr.create_array(
            store=str(tmp_path / "i.zarr"),
            shape=(10,),
            dtype="int32",
            serializer=zarr_codec_class()(max_error=1e-3),
        )


def test_zarr_v3_codec_config() -> None:
    codec_class = zarr_codec_class()
    codec = codec_class(max_error=0.01, relative=True)
    assert codec_class.from_dict(codec.to_dict()) == codec
    with pytest.raises(ConfigError):
        codec_class.from_dict({"name": CODEC_ID, "configuration": {"max_error": 0.01, "level": 1}})
    with pytest.raises(ConfigError):
        codec_class(max_error=0)


def test_zarr_v2_array_takes_the_numcodecs_codec(tmp_path: Path) -> None:
    x = _jets(3000)
    path = tmp_path / "v2.zarr"
    array = zarr.create_array(
        store=str(path),
        shape=x.shape,
        chunks=(1000, 3),
        dtype="float32",
        compressors=BoundedNumcodec(1e-3, relative=True),
        filters=None,
        zarr_format=2,
    )
    array[:] = x
    assert json.loads((path / ".zarray").read_text())["compressor"] == REL
    _check(x, zarr.open_array(str(path), mode="r")[:], REL)


# ----------------------------------------------------------------------------- entry points


def _run(code: str) -> str:
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def test_numcodecs_finds_the_codec_in_a_fresh_process() -> None:
    out = _run(
        "import sys, numpy as np\n"
        "from numcodecs.registry import get_codec\n"
        "assert 'hepsqueeze' not in sys.modules\n"
        f"codec = get_codec({ABS!r})\n"
        "x = np.linspace(0, 1, 100, dtype='f4')\n"
        "assert np.abs(codec.decode(codec.encode(x)) - x).max() <= 1e-3\n"
        "print(type(codec).__module__, 'zarr' in sys.modules)\n"
    )
    assert out.split() == ["hepsqueeze.codecs.numcodecs_codec", "False"]


def test_zarr_finds_the_codec_in_a_fresh_process(tmp_path: Path) -> None:
    x = _jets(1000)
    path = tmp_path / "fresh.zarr"
    array = zarr.create_array(
        store=str(path),
        shape=x.shape,
        chunks=(400, 3),
        dtype="float32",
        serializer=zarr_codec_class()(max_error=1e-3),
    )
    array[:] = x
    np.save(tmp_path / "x.npy", x)
    out = _run(
        "import sys, warnings, numpy as np\n"
        "warnings.simplefilter('error')\n"
        "import zarr\n"
        f"y = zarr.open_array({str(path)!r}, mode='r')[:]\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
        "assert np.abs(y - x).max() <= 1e-3\n"
        "print(type(zarr.open_array(" + repr(str(path)) + ").metadata.codecs[0]).__qualname__)\n"
    )
    assert out.split() == ["BoundedZarrCodec"]


def test_import_hepsqueeze_imports_neither_numcodecs_nor_zarr() -> None:
    out = _run(
        "import sys, hepsqueeze\ndir(hepsqueeze)\nprint('numcodecs' in sys.modules, 'zarr' in sys.modules)"
    )
    assert out.split() == ["False", "False"]
