"""The error-bounded codec as a numcodecs codec (``hepsqueeze.bounded``), and as a zarr v3 codec.

:class:`BoundedNumcodec` codes one float array (float16, float32 or float64, any shape and memory
layout) with the column coder of the bounded codec
(:func:`~hepsqueeze.codecs.bounded.column_coder.encode_column`, one value per row, no event
structure): every decoded value is within ``max_error`` of its original in the array's own dtype
(``|y - x| <= max_error``, or ``<= max_error * |x|`` with ``relative``), and values the coder cannot
bound (NaN with its payload, +-inf, values a rounding would push out) come back bit for bit. It is
found by ``numcodecs.get_codec({"id": "hepsqueeze.bounded", "max_error": 1e-3, "relative": False})``
through the ``numcodecs.codecs`` entry point; numcodecs is needed only by this module, which
``import hepsqueeze`` never imports.

:data:`BoundedZarrCodec` (built on first use, so that numcodecs users do not import zarr) is the
same coding as a zarr v3 array-to-bytes codec named ``hepsqueeze.bounded`` (registered through the
``zarr.codecs`` entry point): ``zarr.create_array(..., serializer=BoundedZarrCodec(max_error=...))``.
A zarr v2 array takes :class:`BoundedNumcodec` itself as its ``compressor``.

The encoded bytes are self-describing (version 1, little-endian):

- :data:`PREFIX`: magic ``HSQN``, format version, the dtype (``numpy`` text, e.g. ``<f4``), the
  bound (0 absolute, 1 relative), the number of dimensions and the bound's value;
- the shape (one uint64 per dimension), the values per block and the bytes of each block;
- the blocks: the values in C order, cut into blocks of at most
  :data:`~hepsqueeze.codecs.base.MAX_CHUNK_ROWS`, each one column payload;
- an xxh64 of everything before it.

The encoder reads every block back before it returns it (a block that does not decode to what the
coder promised, which would be a coder bug, is stored losslessly instead, with a logged warning).
A reader checks every size against the bytes before it allocates (a claimed size is also held to
:func:`~hepsqueeze.io.limits.max_decompressed_bytes`), the checksum before it decodes, and each
block's own digest of its decoded values; anything wrong is a
:class:`~hepsqueeze.errors.ContainerError` (a ``ValueError``) with the byte offset.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Self

import numpy as np
import numpy.typing as npt
import xxhash

from hepsqueeze.codecs.base import MAX_CHUNK_ROWS
from hepsqueeze.codecs.bounded.column_bound import LOSSLESS, BoundMode, ColumnBound
from hepsqueeze.codecs.bounded.column_coder import (
    COLUMN_PREFIX,
    Structure,
    decode_column,
    encode_column,
    parse_column,
    same_bits,
)
from hepsqueeze.errors import ConfigError, ContainerError, InputError
from hepsqueeze.io.limits import MAX_DECOMPRESSED_BYTES_ENV, max_decompressed_bytes

try:
    from numcodecs.abc import Codec as NumcodecsCodec  # type: ignore[import-untyped]
    from numcodecs.compat import (  # type: ignore[import-untyped]
        ensure_bytes,
        ensure_ndarray_like,
        ndarray_copy,
    )
except ImportError as exc:  # pragma: no cover - numcodecs is installed where this module is used
    raise ImportError(
        "the hepsqueeze.bounded numcodecs codec needs numcodecs (install hepsqueeze[zarr])"
    ) from exc

if TYPE_CHECKING:
    from zarr.abc.codec import ArrayBytesCodec

logger = logging.getLogger(__name__)

#: numcodecs codec id, and the name of the zarr v3 codec.
CODEC_ID: Final = "hepsqueeze.bounded"
MAGIC: Final = b"HSQN"
#: Format version of the encoded bytes.
FORMAT: Final = 1
#: magic, format version, dtype text, bound kind (0 absolute, 1 relative), dimensions, bound value
PREFIX: Final = struct.Struct("<4sH3sBBd")
#: values per block, then one uint64 per dimension and per block
_U64: Final = struct.Struct("<Q")
CHECKSUM_BYTES: Final = 8
#: The dtypes coded (native and byte-swapped).
DTYPES: Final = frozenset(np.dtype(f"{order}f{size}").str for order in "<>" for size in (2, 4, 8))
#: Most dimensions of an array (numpy's own limit).
MAX_NDIM: Final = 64
#: Largest product of an array's dimensions, zero dimensions counted as one (numpy refuses more).
_MAX_EXTENT: Final = 1 << 53
_MODES: Final = (BoundMode.ABSOLUTE, BoundMode.RELATIVE)


def _bound(max_error: Any, relative: Any) -> ColumnBound:
    if isinstance(max_error, bool) or not isinstance(max_error, int | float):
        raise ConfigError(f"max_error must be a number, got {max_error!r}")
    if not isinstance(relative, bool):
        raise ConfigError(f"relative must be true or false, got {relative!r}")
    return ColumnBound(BoundMode.RELATIVE if relative else BoundMode.ABSOLUTE, float(max_error))


class BoundedNumcodec(NumcodecsCodec):  # type: ignore[misc]
    """numcodecs codec ``hepsqueeze.bounded``: float arrays within ``max_error`` (absolute, or
    relative to each value with ``relative``), non-finite values bit for bit."""

    codec_id = CODEC_ID

    def __init__(self, max_error: float, relative: bool = False) -> None:
        self._bound = _bound(max_error, relative)
        self.max_error = self._bound.value
        self.relative = relative

    def get_config(self) -> dict[str, Any]:
        return {"id": CODEC_ID, "max_error": self.max_error, "relative": self.relative}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BoundedNumcodec:
        extra = set(config) - {"id", "max_error", "relative"}
        if extra:
            raise ConfigError(f"unknown {CODEC_ID} settings: {', '.join(sorted(extra))}")
        if config.get("id", CODEC_ID) != CODEC_ID:
            raise ConfigError(f"not a {CODEC_ID} config: id {config['id']!r}")
        if "max_error" not in config:
            raise ConfigError(f"a {CODEC_ID} config needs max_error")
        return cls(config["max_error"], config.get("relative", False))

    def __hash__(self) -> int:
        return hash((CODEC_ID, self.max_error, self.relative))

    def encode(self, buf: Any) -> bytes:
        """The bytes of float array ``buf`` (any shape, any memory layout)."""
        arr = ensure_ndarray_like(buf)
        if not isinstance(arr, np.ndarray):
            arr = np.asarray(arr)
        return encode_array(arr, self._bound)

    def decode(self, buf: Any, out: Any = None) -> Any:
        """The array of encoded bytes ``buf``, in its dtype and shape (copied into ``out`` if given,
        which must hold exactly its bytes)."""
        values = decode_array(ensure_bytes(buf))
        if out is None:
            return values
        target = ensure_ndarray_like(out)
        if target.nbytes != values.nbytes:
            raise InputError(
                f"out holds {target.nbytes} bytes, the decoded {values.dtype}{values.shape} {values.nbytes}"
            )
        return ndarray_copy(values, target)


def encode_array(values: npt.NDArray[Any], bound: ColumnBound) -> bytes:
    """The self-describing bytes of float array ``values`` coded within ``bound``."""
    dtype = values.dtype
    if dtype.str not in DTYPES:
        raise InputError(f"{CODEC_ID} codes float16, float32 and float64 arrays, got {dtype}")
    if bound.mode not in _MODES:
        raise ConfigError(f"{CODEC_ID} takes an absolute or relative bound, got {bound.describe()}")
    native = dtype.newbyteorder("=")
    flat = np.ascontiguousarray(values, dtype=native).reshape(-1)
    blocks = [_encode_block(flat[i : i + MAX_CHUNK_ROWS], bound) for i in range(0, flat.size, MAX_CHUNK_ROWS)]
    mode = _MODES.index(bound.mode)
    head = PREFIX.pack(MAGIC, FORMAT, dtype.str.encode(), mode, values.ndim, bound.value)
    sizes = [*values.shape, MAX_CHUNK_ROWS, *(len(b) for b in blocks)]
    body = head + b"".join(_U64.pack(s) for s in sizes) + b"".join(blocks)
    return body + xxhash.xxh64(body).digest()


def _encode_block(values: npt.NDArray[Any], bound: ColumnBound) -> bytes:
    """One block's column payload, read back before it is returned: a payload that does not decode
    to the values the coder promised (a coder bug) is replaced by the block stored losslessly."""
    structure = Structure.of(None, values.size)
    coded = encode_column(values, bound, structure)
    try:
        ok = same_bits(decode_column(coded.payload, "block", structure), coded.decoded)
        problem = "decodes to other values"
    except ContainerError as exc:
        ok, problem = False, str(exc)
    if ok:
        return coded.payload
    logger.warning(
        "%s: a block of %d values does not read back (%s); it is stored losslessly",
        CODEC_ID,
        values.size,
        problem,
    )
    return encode_column(values, LOSSLESS, structure).payload


@dataclass(frozen=True)
class Encoding:
    """The header of encoded bytes, checked: dtype, shape, bound, values per block and the
    ``(offset, bytes)`` of each block's payload."""

    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    bound: ColumnBound
    block_values: int
    blocks: tuple[tuple[int, int], ...]

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def _fail(message: str, offset: int) -> ContainerError:
    return ContainerError(f"{CODEC_ID} bytes: {message} (byte {offset})", offset=offset)


def _u64s(data: bytes, offset: int, count: int, what: str) -> list[int]:
    end = offset + _U64.size * count
    if end > len(data) - CHECKSUM_BYTES:
        raise _fail(f"truncated: {what} run past the end of the {len(data)} bytes", len(data))
    return [v for (v,) in _U64.iter_unpack(data[offset:end])]


def parse_encoding(data: bytes) -> Encoding:
    """The header of encoded bytes ``data``, every size checked against ``data`` and the checksum
    verified; :class:`ContainerError` with the byte offset if they are not what :func:`encode_array`
    writes."""
    dtype, bound, ndim = _parse_prefix(data)
    digest_at = len(data) - CHECKSUM_BYTES
    at = PREFIX.size
    *dims, block_values = _u64s(data, at, ndim + 1, "the shape")
    if math.prod(max(d, 1) for d in dims) > _MAX_EXTENT:
        raise _fail(f"shape {tuple(dims)} is too large", at)
    at += _U64.size * ndim
    if not 1 <= block_values <= MAX_CHUNK_ROWS:
        raise _fail(f"invalid values per block {block_values}", at)
    at += _U64.size
    size = math.prod(dims)
    limit = max_decompressed_bytes()
    if size * dtype.itemsize > limit:
        raise _fail(
            f"shape {tuple(dims)} claims {size * dtype.itemsize} bytes, more than the {limit} bytes "
            f"decoded data may take (raise {MAX_DECOMPRESSED_BYTES_ENV} if it is genuine)",
            PREFIX.size,
        )
    n_blocks = -(-size // block_values)
    # every block holds at least a column payload's prefix: the bytes bound the blocks claimed
    if n_blocks * (_U64.size + COLUMN_PREFIX.size) > digest_at - at:
        raise _fail(f"truncated: {n_blocks} blocks cannot fit in {len(data)} bytes", len(data))
    lengths = _u64s(data, at, n_blocks, "the block sizes")
    at += _U64.size * n_blocks
    blocks = []
    for length in lengths:
        if length > digest_at - at:
            raise _fail(f"truncated: a block of {length} bytes runs past the end", at)
        blocks.append((at, length))
        at += length
    if at != digest_at:
        raise _fail(f"{digest_at - at} bytes after the last block", at)
    return Encoding(dtype, tuple(dims), bound, block_values, tuple(blocks))


def _parse_prefix(data: bytes) -> tuple[np.dtype[Any], ColumnBound, int]:
    """The dtype, bound and dimensions of :data:`PREFIX`, after the magic, version and checksum."""
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise _fail("not hepsqueeze.bounded data (bad magic)", 0)
    if len(data) < PREFIX.size + CHECKSUM_BYTES:
        raise _fail(f"truncated: {len(data)} bytes, a header takes {PREFIX.size + CHECKSUM_BYTES}", len(data))
    _, version, dtype_text, mode, ndim, value = PREFIX.unpack_from(data)
    if version != FORMAT:
        raise _fail(f"format version {version}, this version of hepsqueeze reads {FORMAT}", 4)
    digest_at = len(data) - CHECKSUM_BYTES
    if xxhash.xxh64(data[:digest_at]).digest() != data[digest_at:]:
        raise _fail("checksum mismatch: the bytes are corrupt or truncated", digest_at)
    text = dtype_text.decode("latin-1")
    if text not in DTYPES:
        raise _fail(f"unsupported dtype {text!r}", 6)
    if mode >= len(_MODES):
        raise _fail(f"unknown bound kind {mode}", 9)
    if ndim > MAX_NDIM:
        raise _fail(f"{ndim} dimensions, at most {MAX_NDIM}", 10)
    try:
        bound = ColumnBound(_MODES[mode], value)
    except ConfigError as exc:
        raise _fail(f"invalid bound: {exc}", 11) from None
    return np.dtype(text), bound, ndim


def decode_array(data: bytes) -> npt.NDArray[Any]:
    """The array encoded in ``data`` (see :func:`encode_array`), in its dtype and shape."""
    enc = parse_encoding(data)
    native = enc.dtype.newbyteorder("=")
    parts = []
    for k, (at, length) in enumerate(enc.blocks):
        rows = min(enc.block_values, enc.size - k * enc.block_values)
        try:
            parts.append(_decode_block(data[at : at + length], f"block {k}", native, rows))
        except ContainerError as exc:
            raise _fail(f"block {k}: {exc}", at) from None
    flat = parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else np.empty(0, native)
    return flat.reshape(enc.shape).astype(enc.dtype, copy=False)


def _decode_block(payload: bytes, name: str, dtype: np.dtype[Any], rows: int) -> npt.NDArray[Any]:
    """One block's values, its column payload checked to hold ``rows`` values of ``dtype`` first."""
    head = parse_column(payload, name)
    if head.rows != rows or head.dtype != dtype:
        raise ContainerError(f"holds {head.dtype}[{head.rows}], the header says {dtype}[{rows}]")
    return decode_column(head, name, Structure.of(None, rows))


def zarr_codec_class() -> type[ArrayBytesCodec]:
    """The zarr v3 codec class (:data:`BoundedZarrCodec`); imports zarr."""
    return _zarr_codec_class()


@functools.cache
def _zarr_codec_class() -> type[ArrayBytesCodec]:
    from zarr.abc.codec import ArrayBytesCodec
    from zarr.core.common import parse_named_configuration

    if TYPE_CHECKING:
        from zarr.core.array_spec import ArraySpec
        from zarr.core.buffer import Buffer, NDBuffer

    @dataclass(frozen=True)
    class BoundedZarrCodec(ArrayBytesCodec):
        """zarr v3 array-to-bytes codec ``hepsqueeze.bounded`` (see :class:`BoundedNumcodec`)."""

        max_error: float
        relative: bool = False
        is_fixed_size = False

        def __init__(self, *, max_error: float, relative: bool = False) -> None:
            bound = _bound(max_error, relative)
            object.__setattr__(self, "max_error", bound.value)
            object.__setattr__(self, "relative", relative)

        @classmethod
        def from_dict(cls, data: dict[str, Any]) -> Self:
            _, raw = parse_named_configuration(data, CODEC_ID)
            config: dict[str, Any] = dict(raw or {})
            if set(config) - {"max_error", "relative"} or "max_error" not in config:
                raise ConfigError(f"invalid {CODEC_ID} configuration {config!r}")
            return cls(max_error=config["max_error"], relative=config.get("relative", False))

        def to_dict(self) -> dict[str, Any]:
            return {
                "name": CODEC_ID,
                "configuration": {"max_error": self.max_error, "relative": self.relative},
            }

        def validate(self, *, shape: Any, dtype: Any, chunk_grid: Any) -> None:
            native = dtype.to_native_dtype()
            if native.str not in DTYPES:
                raise InputError(f"{CODEC_ID} codes float16, float32 and float64 arrays, not {native}")

        async def _decode_single(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> NDBuffer:
            values = await asyncio.to_thread(decode_array, chunk_bytes.to_bytes())
            want = chunk_spec.dtype.to_native_dtype()
            if values.shape != chunk_spec.shape or values.dtype != want:
                raise ContainerError(
                    f"{CODEC_ID} chunk holds {values.dtype}{values.shape}, the array {want}{chunk_spec.shape}"
                )
            return chunk_spec.prototype.nd_buffer.from_numpy_array(values)

        async def _encode_single(self, chunk_array: NDBuffer, chunk_spec: ArraySpec) -> Buffer | None:
            values = np.asarray(chunk_array.as_ndarray_like())
            bound = _bound(self.max_error, self.relative)
            data = await asyncio.to_thread(encode_array, values, bound)
            return chunk_spec.prototype.buffer.from_bytes(data)

        def compute_encoded_size(self, input_byte_length: int, chunk_spec: ArraySpec) -> int:
            raise NotImplementedError(f"{CODEC_ID} output sizes depend on the values")

    BoundedZarrCodec.__module__ = __name__
    BoundedZarrCodec.__qualname__ = "BoundedZarrCodec"
    return BoundedZarrCodec


def __getattr__(name: str) -> Any:
    if name == "BoundedZarrCodec":
        return _zarr_codec_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CODEC_ID",
    "DTYPES",
    "FORMAT",
    "MAGIC",
    "PREFIX",
    "BoundedNumcodec",
    "Encoding",
    "decode_array",
    "encode_array",
    "parse_encoding",
    "zarr_codec_class",
]
