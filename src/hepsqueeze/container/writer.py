"""Writing containers: :class:`ContainerWriter`, and :func:`write_container` (an atomic file) and
:func:`container_bytes` (in memory) around it.

The writer holds itself to the reader's rules (the same schema checks and limits), so it never
writes a file the reader refuses.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import xxhash
import zstandard

from hepsqueeze.atomic import atomic_open
from hepsqueeze.container.constants import (
    CHECKSUM,
    DEFAULT_ZSTD_LEVEL,
    DESC_LEN,
    DTYPES,
    ENCODINGS,
    FORMAT_VERSION,
    KNOWN_KINDS,
    MAGIC,
    MAX_CHUNK,
    MAX_DESC_BYTES,
    MAX_DESC_ITEMS,
    MAX_HEADER_BYTES,
    MAX_HEADER_ITEMS,
    MAX_SECTIONS,
    MAX_TOTAL_DESC_BYTES,
    PAYLOAD_LEN,
    PREAMBLE,
    RESERVED_KEYS,
    TRANSFORMS,
    Encoding,
    SectionKind,
    Transform,
)
from hepsqueeze.container.descriptor import (
    Section,
    SectionSize,
    check_data_desc,
    section_details,
    section_sizes,
)
from hepsqueeze.container.jsonio import check_items, encode_json, is_int, to_json
from hepsqueeze.container.problems import ProblemError, short
from hepsqueeze.container.transform import encode_transform
from hepsqueeze.errors import ContainerError

__all__ = ["ContainerWriter", "container_bytes", "write_container"]

_MIN_ZSTD_LEVEL = -(1 << 17)
"""The lowest (fastest) zstd level accepted, as zstd's own ``ZSTD_minCLevel``."""


class ContainerWriter:
    """Write a container to a binary stream, section by section.

    The preamble and header are written immediately; every ``add_*`` call writes one whole section;
    :meth:`finish` writes the end section, without which readers treat the file as truncated. The
    stream is not closed. Used as a context manager, it finishes on success and leaves the container
    unfinished (hence unreadable) when the body raises.
    """

    def __init__(self, stream: BinaryIO, header: Mapping[str, Any]) -> None:
        raw = _header_json(header)
        self.header: dict[str, Any] = json.loads(raw)
        """The header as stored (plain JSON types)."""
        self.sections: list[Section] = []
        """Sections written so far, in order (the end section excluded)."""
        self.bytes_written = 0
        """Bytes written to the stream so far."""
        self._stream = stream
        self._keys: set[tuple[str, str, int]] = set()
        self._desc_total = 0
        self._finished = False
        self._broken = False
        self._end_size = 0
        preamble = PREAMBLE.pack(MAGIC, FORMAT_VERSION, 0, len(raw))
        self._write(preamble, raw, CHECKSUM.pack(xxhash.xxh64_intdigest(raw)))
        self.header_size = self.bytes_written
        """Bytes taken by the preamble, header JSON and header checksum."""

    @property
    def finished(self) -> bool:
        """Whether the end section has been written."""
        return self._finished

    def add_array(
        self,
        kind: str,
        name: str,
        array: npt.ArrayLike,
        *,
        chunk: int = 0,
        encoding: str = "raw",
        level: int = DEFAULT_ZSTD_LEVEL,
        transform: str | None = None,
        **extra: Any,
    ) -> Section:
        """Write ``array`` as one section and return it.

        ``encoding`` is ``"raw"`` or ``"zstd"`` (at zstd ``level``); ``transform`` is ``None``,
        ``"delta"`` (integer dtypes) or ``"shuffle"``, applied to the C-order flattened array before
        encoding. Big-endian arrays are stored little-endian. ``extra`` keys (JSON values) are kept in
        the descriptor and come back in :attr:`Section.extras`.
        """
        where = f"section kind={short(kind)} name={short(name)} chunk={short(chunk)}"
        self._check_new_section(kind, name, chunk, extra, where)
        arr = np.asarray(array)
        dtype = _storable_dtype(arr.dtype, where)
        _check_encoding(encoding, transform, level, dtype, where)
        flat = np.ascontiguousarray(arr.reshape(-1), dtype=dtype)
        data = encode_transform(flat, transform).view(np.uint8).data
        if encoding == Encoding.ZSTD:
            # The frame records its content size; the reader requires it to equal nbytes.
            payload: bytes | memoryview = zstandard.ZstdCompressor(
                level=level, write_content_size=True
            ).compress(data)
        else:
            payload = data
        desc = {
            "kind": kind,
            "name": name,
            "chunk": chunk,
            "encoding": encoding,
            "transform": transform,
            "dtype": dtype.str,
            "shape": [int(d) for d in arr.shape],
            "nbytes": int(flat.nbytes),
        }
        return self._add(desc, payload, extra, where)

    def add_bytes(
        self,
        kind: str,
        name: str,
        payload: bytes | bytearray | memoryview,
        *,
        chunk: int = 0,
        encoding: str = "raw",
        level: int = DEFAULT_ZSTD_LEVEL,
        **extra: Any,
    ) -> Section:
        """Write opaque bytes (stored as a ``|u1`` array) as one section and return it."""
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise ContainerError(f"add_bytes needs bytes, not {type(payload).__name__}")
        data = np.frombuffer(payload, dtype=np.uint8)
        return self.add_array(kind, name, data, chunk=chunk, encoding=encoding, level=level, **extra)

    def finish(self) -> None:
        """Write the end section. Calling it again does nothing."""
        if self._finished:
            return
        self._check_open()
        raw = encode_json({"kind": SectionKind.END.value, "sections": len(self.sections)}, "end section")
        before = self.bytes_written
        self._write(
            DESC_LEN.pack(len(raw)), raw, PAYLOAD_LEN.pack(0), CHECKSUM.pack(xxhash.xxh64_intdigest(raw))
        )
        self._end_size = self.bytes_written - before
        self._finished = True

    def section_sizes(self) -> dict[str, int]:
        """Bytes written per section kind, plus ``"header"`` (preamble and header) and ``"end"``."""
        return section_sizes(self.header_size, self.sections, self._end_size)

    def section_details(self) -> list[SectionSize]:
        """Size accounting of each section written so far, in order."""
        return section_details(self.sections)

    def __enter__(self) -> ContainerWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.finish()

    def _check_open(self) -> None:
        if self._finished:
            raise ContainerError("container writer is finished; no more sections can be added")
        if self._broken:
            raise ContainerError("container writer failed earlier; the output is incomplete")

    def _check_new_section(
        self, kind: Any, name: Any, chunk: Any, extra: Mapping[str, Any], where: str
    ) -> None:
        # Checked before any encoding work, so a bad call fails fast and writes nothing.
        self._check_open()
        if not isinstance(kind, str) or kind == SectionKind.END or kind not in KNOWN_KINDS:
            known = ", ".join(sorted(KNOWN_KINDS - {SectionKind.END.value}))
            raise ContainerError(f"{where}: unknown section kind (known: {known})")
        if not isinstance(name, str):
            raise ContainerError(f"{where}: name must be a string")
        if not is_int(chunk) or not 0 <= chunk <= MAX_CHUNK:
            raise ContainerError(f"{where}: chunk must be an integer in [0, 2**53)")
        clash = sorted(RESERVED_KEYS & set(extra))
        if clash:
            raise ContainerError(f"{where}: extra keys {clash} clash with standard descriptor fields")
        key = (kind, name, chunk)
        if key in self._keys:
            raise ContainerError(f"{where}: a section with this kind, name and chunk was already written")
        if len(self.sections) >= MAX_SECTIONS:
            raise ContainerError(f"{where}: a container holds at most {MAX_SECTIONS} sections")

    def _add(
        self, desc: dict[str, Any], payload: bytes | memoryview, extra: Mapping[str, Any], where: str
    ) -> Section:
        kind, name, chunk = desc["kind"], desc["name"], desc["chunk"]
        full = {**desc, **to_json(dict(extra), f"{where} extra")}
        raw = encode_json(full, where)
        if len(raw) > MAX_DESC_BYTES or self._desc_total + len(raw) > MAX_TOTAL_DESC_BYTES:
            raise ContainerError(
                f"{where}: descriptor of {len(raw)} bytes exceeds the descriptor size limits"
            )
        try:
            check_items(raw, MAX_DESC_ITEMS, "descriptor")
            # Hold the writer to the reader's rules, so it can never write a file the reader rejects.
            check_data_desc(full, len(payload))
        except ProblemError as exc:
            raise ContainerError(f"{where}: {exc}") from None
        digest = xxhash.xxh64()
        digest.update(raw)
        digest.update(payload)
        start = self.bytes_written
        offset = start + DESC_LEN.size + len(raw) + PAYLOAD_LEN.size
        self._write(
            DESC_LEN.pack(len(raw)),
            raw,
            PAYLOAD_LEN.pack(len(payload)),
            payload,
            CHECKSUM.pack(digest.intdigest()),
        )
        section = Section(kind, name, chunk, json.loads(raw), offset, len(payload), len(self.sections), start)
        self.sections.append(section)
        self._keys.add((kind, name, chunk))
        self._desc_total += len(raw)
        return section

    def _write(self, *parts: bytes | memoryview) -> None:
        try:
            for part in parts:
                self._write_all(memoryview(part))
        except BaseException:
            # A partly written section cannot be taken back; refuse to continue.
            self._broken = True
            raise

    def _write_all(self, view: memoryview) -> None:
        while view.nbytes:
            written = self._stream.write(view)
            if not written:  # a non-blocking raw stream that would block
                raise ContainerError("output stream did not accept data (non-blocking stream?)")
            self.bytes_written += written
            view = view[written:]


def _header_json(header: Mapping[str, Any]) -> bytes:
    """The header's JSON as stored, checked against the reader's limits."""
    if not isinstance(header, Mapping):
        raise ContainerError(f"container header must be a mapping, not {type(header).__name__}")
    raw = encode_json(header, "header")
    if len(raw) > MAX_HEADER_BYTES:
        raise ContainerError(f"container header is {len(raw)} bytes of JSON; the limit is {MAX_HEADER_BYTES}")
    try:
        check_items(raw, MAX_HEADER_ITEMS, "container header")
    except ProblemError as exc:
        raise ContainerError(str(exc)) from None
    return raw


def _storable_dtype(dtype: np.dtype[Any], where: str) -> np.dtype[Any]:
    little = dtype.newbyteorder("<") if dtype.byteorder == ">" else dtype
    if little.str not in DTYPES:
        raise ContainerError(
            f"{where}: cannot store dtype {dtype} (storable: bool, int8-int64, uint8-uint64, float16-float64)"
        )
    return little


def _check_encoding(
    encoding: str, transform: str | None, level: int, dtype: np.dtype[Any], where: str
) -> None:
    """Check ``add_array``'s encoding, transform and zstd level for an array of ``dtype``."""
    if encoding not in ENCODINGS:
        raise ContainerError(
            f"{where}: unknown encoding {encoding!r} (known: {', '.join(sorted(ENCODINGS))})"
        )
    if transform is not None and transform not in TRANSFORMS:
        raise ContainerError(
            f"{where}: unknown transform {transform!r} (known: {', '.join(sorted(TRANSFORMS))})"
        )
    if transform == Transform.DELTA and dtype.kind not in "iu":
        raise ContainerError(f"{where}: transform 'delta' needs an integer array, not {dtype}")
    if not is_int(level) or not _MIN_ZSTD_LEVEL <= level <= zstandard.MAX_COMPRESSION_LEVEL:
        raise ContainerError(
            f"{where}: zstd level must be an integer up to {zstandard.MAX_COMPRESSION_LEVEL}"
        )


@contextlib.contextmanager
def write_container(
    path: str | os.PathLike[str],
    header: Mapping[str, Any],
    force: bool = False,
    verify: Callable[[Path], None] | None = None,
) -> Iterator[ContainerWriter]:
    """Write a container file atomically: it appears, finished, only if the block ends without error
    and ``verify`` (called with the finished temporary file: read it back, raise if wrong) passes.

    Raises :class:`~hepsqueeze.errors.OutputExistsError` if ``path`` exists and ``force`` is false.
    """
    with atomic_open(path, force, verify) as stream:
        writer = ContainerWriter(stream, header)
        yield writer
        writer.finish()


def container_bytes(header: Mapping[str, Any], build: Callable[[ContainerWriter], object]) -> bytes:
    """Build an in-memory container: ``build`` adds the sections; the finished bytes are returned.

    Used to embed one container (a model file) as a section of another.
    """
    buffer = io.BytesIO()
    writer = ContainerWriter(buffer, header)
    build(writer)
    writer.finish()
    return buffer.getvalue()
