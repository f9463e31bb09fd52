"""A self-describing stream of entropy-coded integer symbol groups, for the column codec.

Each group (the symbols of one context) is planned by :func:`~hepsqueeze.codecs.bounded.payload.plan_group`
(ANS with a count table for narrow alphabets, zstd's Huffman literal coder for wide ones, rare
outliers escaped and stored exactly) exactly as the jet codec's groups are. The bytes are

- :data:`GROUPS_PREFIX`: magic, number of groups, bytes of the zstd side information, of the ANS
  words and of the Huffman frames;
- the side information (zstd): one descriptor per group (count, lo, k, coder, bins, escapes) as
  int64, the byte length of every Huffman frame, the ANS count tables, the escaped symbols;
- the ANS words, then the frames.

The reader knows how many symbols each group holds (:func:`decode_groups` takes the counts) and
checks every size against them before anything is allocated.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import zstandard

from hepsqueeze.codecs.bounded.payload import (
    ANS_LOW_BITS,
    TABLE_BINS,
    Coder,
    GroupStream,
    decode_group_stream,
    entropy_code,
    plan_group_sized,
)
from hepsqueeze.errors import ContainerError

GROUPS_MAGIC: Final = b"HSQG"
#: magic, groups, side bytes, ANS bytes, frame bytes
GROUPS_PREFIX: Final = struct.Struct("<4sIIII")
#: Fields of a group descriptor: count, lo, k, coder, bins, escapes.
DESCRIPTOR_FIELDS: Final = 6
#: Most low bits a Huffman-coded group may carry (symbols up to 2^47 wide).
MAX_LOW_BITS: Final = 40
#: Most groups one stream holds.
MAX_GROUPS: Final = 1 << 12
_SIDE_LEVEL: Final = 9

I64 = npt.NDArray[np.int64]


def encode_groups(groups: Sequence[npt.NDArray[np.signedinteger[Any]]]) -> bytes:
    """The stream of ``groups`` (int64 symbols, any sizes, empty ones included)."""
    if len(groups) > MAX_GROUPS:
        raise ValueError(f"at most {MAX_GROUPS} groups, got {len(groups)}")
    plans = [plan_group_sized(np.asarray(g, dtype=np.int64)) for g in groups]
    words, frame_lengths, frames = entropy_code(plans)
    tables = [p.table for p in plans if p.table is not None]
    escapes = [p.escapes for p in plans if p.escapes is not None]
    side = b"".join(
        [
            np.array([p.descriptor() for p in plans], dtype="<i8").reshape(-1).tobytes(),
            np.array(frame_lengths, dtype="<i8").tobytes(),
            np.concatenate(tables).astype("<u4").tobytes() if tables else b"",
            np.concatenate(escapes).astype("<i8").tobytes() if escapes else b"",
        ]
    )
    blob = zstandard.ZstdCompressor(level=_SIDE_LEVEL).compress(side)
    return (
        GROUPS_PREFIX.pack(GROUPS_MAGIC, len(plans), len(blob), len(words), len(frames))
        + blob
        + words
        + frames
    )


def decode_groups(data: bytes, counts: Sequence[int], names: Sequence[str]) -> list[I64]:
    """The symbols of each group of ``data``; ``counts`` are the symbols each must hold and
    ``names`` name them in messages. :class:`ContainerError` for anything inconsistent."""
    if len(data) < GROUPS_PREFIX.size or data[:4] != GROUPS_MAGIC:
        raise ContainerError("column payload: the symbol stream has a bad magic")
    _, n_groups, n_side, n_ans, n_frames = GROUPS_PREFIX.unpack_from(data)
    if n_groups != len(counts):
        raise ContainerError(f"column payload: {n_groups} symbol groups, expected {len(counts)}")
    if GROUPS_PREFIX.size + n_side + n_ans + n_frames != len(data) or n_ans % 4:
        raise ContainerError("column payload: the symbol stream's sizes do not add up")
    start = GROUPS_PREFIX.size
    blob = data[start : start + n_side]
    total = sum(counts)
    limit = 8 * (DESCRIPTOR_FIELDS + 2) * n_groups + 4 * n_groups * (TABLE_BINS + 2) + 8 * total
    try:
        size = zstandard.frame_content_size(blob)
        if not 0 <= size <= limit:
            raise ContainerError(f"column payload: side information of {size} bytes, at most {limit} fit")
        side = zstandard.ZstdDecompressor().decompress(blob, max_output_size=size)
    except zstandard.ZstdError as exc:
        raise ContainerError(f"column payload is corrupt: {exc}") from None
    n_desc = DESCRIPTOR_FIELDS * n_groups
    if len(side) < 8 * n_desc:
        raise ContainerError("column payload: side information is truncated")
    descs = np.frombuffer(side, dtype="<i8", count=n_desc).reshape(-1, DESCRIPTOR_FIELDS).tolist()
    for (count, _lo, k, coder, bins, n_esc), want, name in zip(descs, counts, names, strict=True):
        ok = (
            count == want
            and coder in (Coder.NONE, Coder.ANS, Coder.HUFFMAN)
            and 0 <= k <= (ANS_LOW_BITS if coder == Coder.ANS else MAX_LOW_BITS)
            and 0 <= bins <= TABLE_BINS + 2
            and 0 <= n_esc <= count
        )
        if not ok:
            raise ContainerError(f"column payload: the descriptor of group {name!r} is invalid")
    n_frame_lengths = sum(1 + (d[2] > 0) for d in descs if d[3] == Coder.HUFFMAN)
    n_tables = sum(d[4] for d in descs)
    n_escapes = sum(d[5] for d in descs)
    if len(side) != 8 * (n_desc + n_frame_lengths) + 4 * n_tables + 8 * n_escapes:
        raise ContainerError("column payload: side information has the wrong size")
    offset = 8 * n_desc
    frame_lengths = np.frombuffer(side, dtype="<i8", count=n_frame_lengths, offset=offset).tolist()
    offset += 8 * n_frame_lengths
    tables = np.frombuffer(side, dtype="<u4", count=n_tables, offset=offset).astype(np.uint32)
    offset += 4 * n_tables
    escapes = np.frombuffer(side, dtype="<i8", count=n_escapes, offset=offset).astype(np.int64)
    if min(frame_lengths, default=0) < 0 or sum(frame_lengths) != n_frames:
        raise ContainerError("column payload: the frame table does not match the frames")
    start += n_side
    words = np.frombuffer(data, dtype="<u4", count=n_ans // 4, offset=start).astype(np.uint32)
    frames = data[start + n_ans :]
    stream = GroupStream(descs, frame_lengths, tables, escapes, words, frames)
    try:
        return [g.astype(np.int64, copy=False) for g in decode_group_stream(stream, np.int64, names)]
    except (ValueError, RuntimeError, zstandard.ZstdError) as exc:  # constriction's decoder errors
        raise ContainerError(f"column payload: the symbol stream is corrupt ({exc})") from None


__all__ = [
    "DESCRIPTOR_FIELDS",
    "GROUPS_MAGIC",
    "GROUPS_PREFIX",
    "MAX_GROUPS",
    "decode_groups",
    "encode_groups",
]
