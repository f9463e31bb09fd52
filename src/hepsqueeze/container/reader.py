"""Reading containers: :class:`ContainerReader`.

A container is data, never code: it holds JSON and typed numeric arrays only. The reader checks every
length against the file size and fixed limits before reading, verifies every checksum, and rejects
anything it does not understand, so a corrupt or hostile file raises
:class:`~hepsqueeze.errors.ContainerError` rather than allocating unbounded memory or returning
wrong numbers.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path
from typing import Any, BinaryIO, Final, NoReturn

import numpy as np
import numpy.typing as npt
import xxhash
import zstandard

from hepsqueeze.container.constants import (
    CHECKSUM,
    DESC_LEN,
    FORMAT_VERSION,
    HEADER_LEN_AT,
    KINDS_BY_VERSION,
    MAGIC,
    MAX_DESC_BYTES,
    MAX_DESC_ITEMS,
    MAX_HEADER_BYTES,
    MAX_HEADER_ITEMS,
    MAX_SECTIONS,
    MAX_TOTAL_DESC_BYTES,
    PAYLOAD_LEN,
    PREAMBLE,
    RESERVED_AT,
    SECTION_FRAMING,
    VERSION_AT,
    Encoding,
    SectionKind,
)
from hepsqueeze.container.descriptor import (
    Section,
    SectionSize,
    check_data_desc,
    check_end_desc,
    check_kind,
    label,
    label_raw,
    section_details,
    section_sizes,
)
from hepsqueeze.container.jsonio import parse_json_object
from hepsqueeze.container.problems import ProblemError, VersionProblemError, short
from hepsqueeze.container.transform import decode_transform
from hepsqueeze.errors import ContainerError, ContainerVersionError, InputFileNotFoundError

__all__ = ["ContainerReader"]

_READ_BLOCK: Final = 1 << 20
"""Open-time verification streams payloads in blocks of this size."""

_FORMAT_HINTS: Final = (
    (b"PAR1", "a Parquet file"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
    (b"root", "a ROOT file"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"PK\x03\x04", "a zip archive (.npz or a PyTorch checkpoint?)"),
    (b"\x28\xb5\x2f\xfd", "a plain zstd stream"),
    (b"\x1f\x8b", "a gzip stream"),
)
"""Magic bytes of files mistaken for containers, named in the wrong-magic message."""


class ContainerReader:
    """Read and validate a container.

    Construction validates the whole file before anything is used: preamble, header, every section
    descriptor, and (with ``verify=True``, the default) every section checksum, streamed in bounded
    memory. :meth:`read_bytes`/:meth:`read_array` verify the section's checksum again as they read it,
    against the value recorded at open, so data is never decoded unverified, even with
    ``verify=False`` or if the file changes after opening. Every problem raises
    :class:`ContainerError` (:class:`ContainerVersionError` for newer versions and unknown section
    kinds) naming the file, the section and the byte offset.

    Use :meth:`open` or :meth:`from_bytes`; the constructor takes a seekable binary stream holding
    the container from offset 0. The reader is a context manager that closes its file.
    """

    def __init__(
        self, stream: BinaryIO, name: str = "<stream>", *, verify: bool = True, close_stream: bool = False
    ) -> None:
        self.name = name
        """The file name used in messages."""
        self.header: dict[str, Any] = {}
        self.version = 0
        self.sections: list[Section] = []
        self.header_size = 0
        """Bytes taken by the preamble, header JSON and header checksum."""
        self._stream = stream
        self._close_stream = close_stream
        self._closed = False
        self._lock = threading.Lock()  # seek+read pairs must not interleave between threads
        self._checksums: list[int] = []
        self._end_size = 0
        self._by_key: dict[tuple[str, str, int], Section] = {}
        try:
            self.file_size = stream.seek(0, os.SEEK_END)
            self._scan(verify)
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, verify: bool = True) -> ContainerReader:
        """Open and validate the container file at ``path``."""
        name = str(path)
        try:
            # Unbuffered: reads are large or few, and a buffer could serve stale bytes if the file
            # changes after opening, which the per-read checksum is meant to notice.
            stream = open(Path(path), "rb", buffering=0)  # noqa: SIM115 - the reader owns and closes it
        except FileNotFoundError:
            raise InputFileNotFoundError(f"container file {name!r} does not exist") from None
        except OSError as exc:
            raise ContainerError(f"cannot open container {name!r}: {exc.strerror or exc}") from None
        return cls(stream, name, verify=verify, close_stream=True)

    @classmethod
    def from_bytes(
        cls, data: bytes | bytearray | memoryview, name: str = "<bytes>", *, verify: bool = True
    ) -> ContainerReader:
        """Validate and read a container held in memory (for example an embedded model section)."""
        return cls(io.BytesIO(bytes(data)), name, verify=verify, close_stream=True)

    # -- queries ------------------------------------------------------------------------------------

    def find(self, kind: str, name: str | None = None, chunk: int | None = None) -> list[Section]:
        """Sections of ``kind`` (and ``name``/``chunk`` when given), in file order."""
        return [
            s
            for s in self.sections
            if s.kind == kind and (name is None or s.name == name) and (chunk is None or s.chunk == chunk)
        ]

    def get(self, kind: str, name: str, chunk: int = 0) -> Section:
        """The one section with this kind, name and chunk; ContainerError naming what exists if absent."""
        section = self._by_key.get((kind, name, chunk))
        if section is None:
            names = sorted({s.name for s in self.sections if s.kind == kind})
            have = ", ".join(short(n) for n in names[:20]) or "none"
            raise ContainerError(
                f"{self.name} has no {kind!r} section named {name!r} for chunk {chunk} "
                f"({kind!r} names: {have})"
            )
        return section

    def section_sizes(self) -> dict[str, int]:
        """Bytes per section kind, plus ``"header"`` (preamble and header) and ``"end"``.

        Every byte is counted once (framing and checksums included), so the values sum to
        :attr:`file_size`.
        """
        return section_sizes(self.header_size, self.sections, self._end_size)

    def section_details(self) -> list[SectionSize]:
        """Size accounting of every section (the end section excluded), in file order."""
        return section_details(self.sections)

    def error(self, section: Section | None, problem: str) -> ContainerError:
        """A :class:`ContainerError` for ``problem`` in ``section`` (``None``: the header).

        For callers that validate a section's content; the message names the file, the section and
        its byte offset, like the reader's own errors.
        """
        if section is None:
            return ContainerError(
                f"{self.name}: header at byte {PREAMBLE.size}: {problem}",
                path=self.name,
                offset=PREAMBLE.size,
            )
        return ContainerError(
            f"{self.name}: {label(section.index, section.desc)} at byte {section.start}: {problem}",
            path=self.name,
            section=section.index,
            offset=section.start,
        )

    # -- payloads -----------------------------------------------------------------------------------

    def read_payload(self, section: Section) -> bytes:
        """The section's stored payload, as in the file (still encoded), checksum verified."""
        return bytes(self._verified_payload(section))

    def read_bytes(self, section: Section) -> bytes:
        """The section's decoded bytes (encoding and transform undone), checksum verified."""
        return self._decode(section).tobytes()

    def read_array(self, section: Section) -> npt.NDArray[Any]:
        """The section's array: verified, decoded and reshaped. Allocates ``section.nbytes``.

        Callers that know what size to expect should compare ``section.shape`` before calling, as a
        legitimately compressed section can decode to far more bytes than it occupies in the file.
        """
        flat = self._decode(section)
        return flat.reshape(section.shape)

    # -- lifetime -----------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the underlying file (if the reader owns it)."""
        if not self._closed:
            self._closed = True
            if self._close_stream:
                self._stream.close()

    def __enter__(self) -> ContainerReader:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ContainerReader({self.name!r}, version={self.version}, sections={len(self.sections)})"

    # -- internals: reading -------------------------------------------------------------------------

    def _fail(self, where: str, offset: int, problem: str, *, version: bool = False) -> NoReturn:
        cls = ContainerVersionError if version else ContainerError
        raise cls(f"{self.name}: {where} at byte {offset}: {problem}", path=self.name, offset=offset)

    def _read_at(self, offset: int, size: int) -> bytes:
        self._stream.seek(offset)
        data = self._stream.read(size)
        if len(data) != size:  # lengths are checked against the size first, so the file shrank
            self._fail(
                "file", offset, f"expected {size} bytes but the file ended; did it change while reading?"
            )
        return data

    # -- internals: validation at open --------------------------------------------------------------

    def _scan(self, verify: bool) -> None:
        version, header_len = self._check_preamble()
        header_end = PREAMBLE.size + header_len + CHECKSUM.size
        self.header = self._read_header(header_len, header_end)
        self.version = version
        self.header_size = header_end
        self._scan_sections(header_end, verify)

    def _check_preamble(self) -> tuple[int, int]:
        """Check the magic bytes and the preamble; return the format version and the header length."""
        size = self.file_size
        head = self._read_at(0, min(size, PREAMBLE.size))
        if head[: len(MAGIC)] != MAGIC[: len(head)] or not head:
            if not head:
                self._fail("start of file", 0, "the file is empty, not a hepsqueeze container")
            hint = next(
                (f"; it looks like {what}" for magic, what in _FORMAT_HINTS if head.startswith(magic)), ""
            )
            self._fail("start of file", 0, f"not a hepsqueeze container (wrong magic bytes){hint}")
        if size < PREAMBLE.size:
            self._fail(
                "preamble",
                0,
                f"the file is truncated: only {size} bytes, the preamble needs {PREAMBLE.size}",
            )
        _, version, reserved, header_len = PREAMBLE.unpack(head)
        if version > FORMAT_VERSION:
            self._fail(
                "preamble",
                VERSION_AT,
                f"written in container format version {version}, but this hepsqueeze reads versions up to "
                f"{FORMAT_VERSION}; a newer hepsqueeze is needed to read it",
                version=True,
            )
        if version not in KINDS_BY_VERSION:
            self._fail("preamble", VERSION_AT, f"invalid container format version {version}")
        if reserved != 0:
            self._fail("preamble", RESERVED_AT, f"reserved field is {reserved}, must be 0")
        if header_len > MAX_HEADER_BYTES:
            self._fail(
                "preamble",
                HEADER_LEN_AT,
                f"header length {header_len} exceeds the {MAX_HEADER_BYTES}-byte limit",
            )
        return int(version), int(header_len)

    def _read_header(self, header_len: int, header_end: int) -> dict[str, Any]:
        """Read, verify and parse the header JSON, which ends (with its checksum) at ``header_end``."""
        size = self.file_size
        if header_end > size:
            self._fail(
                "header",
                PREAMBLE.size,
                f"truncated: header needs {header_len + CHECKSUM.size} bytes, {size - PREAMBLE.size} remain",
            )
        raw = self._read_at(PREAMBLE.size, header_len)
        (stored,) = CHECKSUM.unpack(self._read_at(PREAMBLE.size + header_len, CHECKSUM.size))
        if xxhash.xxh64_intdigest(raw) != stored:
            self._fail("header", PREAMBLE.size, "checksum mismatch; the file is corrupt")
        try:
            return parse_json_object(raw, "header", MAX_HEADER_ITEMS)
        except ProblemError as exc:
            self._fail("header", PREAMBLE.size, str(exc))

    def _scan_sections(self, pos: int, verify: bool) -> None:
        """Check every section from ``pos`` on, up to and including the end section."""
        desc_total = 0
        while True:
            index = len(self.sections)
            raw, payload_len = self._read_frame(pos, index, desc_total)
            desc_total += len(raw)
            offset = pos + DESC_LEN.size + len(raw) + PAYLOAD_LEN.size
            # Sections without payload (the end section) cost nothing to verify, and may never be read.
            stored = self._stored_checksum(raw, pos, offset, payload_len, verify or payload_len == 0)
            desc, kind = self._check_desc(raw, index, pos, payload_len)
            start, pos = pos, offset + payload_len + CHECKSUM.size
            if kind == SectionKind.END:
                self._end_size = pos - start
                if pos != self.file_size:
                    self._fail(
                        "end of container",
                        pos,
                        f"{self.file_size - pos} unexpected bytes after the end section",
                    )
                return
            self._add_section(
                Section(kind, desc["name"], desc["chunk"], desc, offset, payload_len, index, start)
            )
            self._checksums.append(stored)

    def _read_frame(self, pos: int, index: int, desc_total: int) -> tuple[bytes, int]:
        """Check the lengths of the section at ``pos``; return its raw descriptor and payload length.

        ``desc_total`` is the descriptor bytes of the sections before it.
        """
        size = self.file_size
        remaining = size - pos
        if remaining == 0:
            self._fail(
                f"section #{index}",
                pos,
                f"the file ends after {index} sections without an end section (truncated)",
            )
        if remaining < SECTION_FRAMING:
            self._fail(f"section #{index}", pos, f"truncated: only {remaining} bytes remain")
        (desc_len,) = DESC_LEN.unpack(self._read_at(pos, DESC_LEN.size))
        if desc_len > MAX_DESC_BYTES:
            self._fail(f"section #{index}", pos, f"descriptor length {desc_len} exceeds {MAX_DESC_BYTES}")
        if SECTION_FRAMING + desc_len > remaining:
            self._fail(f"section #{index}", pos, f"truncated: descriptor of {desc_len} bytes does not fit")
        if desc_total + desc_len > MAX_TOTAL_DESC_BYTES:
            self._fail(f"section #{index}", pos, f"descriptors exceed {MAX_TOTAL_DESC_BYTES} bytes in total")
        raw = self._read_at(pos + DESC_LEN.size, desc_len)
        payload_len_at = pos + DESC_LEN.size + desc_len
        (payload_len,) = PAYLOAD_LEN.unpack(self._read_at(payload_len_at, PAYLOAD_LEN.size))
        left = size - (payload_len_at + PAYLOAD_LEN.size) - CHECKSUM.size
        if payload_len > left:
            self._fail(
                label_raw(index, raw),
                payload_len_at,
                f"payload length {payload_len} exceeds the {max(left, 0)} bytes left (truncated or corrupt)",
            )
        return raw, int(payload_len)

    def _check_desc(self, raw: bytes, index: int, start: int, payload_len: int) -> tuple[dict[str, Any], str]:
        """Parse and check the descriptor of section ``index`` (starting at ``start``); return it and its kind."""
        desc_at = start + DESC_LEN.size
        try:
            desc = parse_json_object(raw, "descriptor", MAX_DESC_ITEMS)
        except ProblemError as exc:
            self._fail(f"section #{index}", desc_at, str(exc))
        try:
            kind = check_kind(desc, self.version)
            if kind == SectionKind.END:
                check_end_desc(desc, payload_len, index)
            else:
                check_data_desc(desc, payload_len)
        except ProblemError as exc:
            self._fail(label(index, desc), desc_at, str(exc), version=isinstance(exc, VersionProblemError))
        return desc, kind

    def _add_section(self, section: Section) -> None:
        """Record a checked data section, refusing one too many and duplicates."""
        where = label(section.index, section.desc)
        if section.index >= MAX_SECTIONS:
            self._fail(where, section.start, f"more than {MAX_SECTIONS} sections")
        key = (section.kind, section.name, section.chunk)
        if key in self._by_key:
            self._fail(where, section.start, f"duplicate of section #{self._by_key[key].index}")
        self.sections.append(section)
        self._by_key[key] = section

    def _stored_checksum(self, raw: bytes, start: int, offset: int, payload_len: int, verify: bool) -> int:
        """Read a section's stored checksum; with ``verify``, hash the section in bounded memory first."""
        (stored,) = CHECKSUM.unpack(self._read_at(offset + payload_len, CHECKSUM.size))
        if not verify:
            return int(stored)
        digest = xxhash.xxh64()
        digest.update(raw)
        self._stream.seek(offset)
        left = payload_len
        while left:
            block = self._stream.read(min(left, _READ_BLOCK))
            if not block:
                self._fail("file", offset + payload_len - left, "the file ended early; did it change?")
            digest.update(block)
            left -= len(block)
        if digest.intdigest() != stored:
            index = len(self.sections)
            self._fail(label_raw(index, raw), start, "checksum mismatch; the section is corrupt")
        return int(stored)

    # -- internals: reading sections ----------------------------------------------------------------

    def _verified_payload(self, section: Section) -> bytearray:
        if self._closed:
            raise ContainerError(f"{self.name}: the container reader is closed")
        if not (0 <= section.index < len(self.sections) and self.sections[section.index] == section):
            raise ContainerError(
                f"{self.name}: {label(section.index, section.desc)} is not from this container"
            )
        desc_start = section.start + DESC_LEN.size
        payload = bytearray(section.length)
        with self._lock:
            raw = self._read_at(desc_start, section.offset - PAYLOAD_LEN.size - desc_start)
            self._stream.seek(section.offset)
            view = memoryview(payload)
            while view.nbytes:
                got = self._stream.readinto(view)  # type: ignore[attr-defined]
                if not got:
                    self._fail(label(section.index, section.desc), section.offset, "the file ended early")
                view = view[got:]
        digest = xxhash.xxh64()
        digest.update(raw)
        digest.update(payload)
        if digest.intdigest() != self._checksums[section.index]:
            self._fail(
                label(section.index, section.desc),
                section.start,
                "checksum mismatch while reading; the file changed or is corrupt",
            )
        return payload

    def _decode(self, section: Section) -> npt.NDArray[Any]:
        """Verified, decoded, un-transformed 1D array of the section's dtype."""
        payload = self._verified_payload(section)
        data: bytes | bytearray = payload
        if section.encoding == Encoding.ZSTD:
            data = self._decompress(section, payload)
        flat = decode_transform(data, section.dtype, section.transform)
        if flat.dtype == np.bool_ and bool(np.any(flat.view(np.uint8) > 1)):
            # numpy bools must be 0 or 1; other byte values give inconsistent results.
            self._fail(
                label(section.index, section.desc),
                section.offset,
                "bool array holds bytes other than 0 and 1",
            )
        return flat

    def _decompress(self, section: Section, payload: bytearray) -> bytes:
        """Decode a zstd payload of exactly ``section.nbytes``, allocating no more than that."""
        where = label(section.index, section.desc)
        nbytes = section.nbytes
        try:
            # The frame must declare exactly nbytes, so the decoder never allocates more than that.
            declared = zstandard.frame_content_size(payload)
            if declared != nbytes:
                self._fail(where, section.offset, f"zstd frame declares {declared} bytes, expected {nbytes}")
            data = zstandard.ZstdDecompressor().decompress(
                payload, max_output_size=nbytes, allow_extra_data=False
            )
        except zstandard.ZstdError as exc:
            self._fail(where, section.offset, f"zstd payload cannot be decoded ({exc})")
        if len(data) != nbytes:
            self._fail(where, section.offset, f"zstd payload decoded to {len(data)} bytes, expected {nbytes}")
        return data
