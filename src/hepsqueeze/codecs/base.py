"""What a codec is: the interface between a codec and the codec-agnostic file layer.

In the style of numcodecs: a codec is a small object with a ``codec_id``, :meth:`Codec.get_config`
(the JSON object a file's header stores under ``codec``, ``name`` being the id) and
:meth:`Codec.from_config`; :mod:`hepsqueeze.codecs.registry` maps a config back to its codec.
As CompressAI's ``compress`` returns byte strings and shapes, :meth:`Codec.encode` returns the
payload sections of one chunk (:class:`Payload`), and the file layer (:mod:`hepsqueeze.file`)
stores them next to the lossless columns, auxiliary tables and exception stream it writes for
every codec.

A codec's life in a file:

1. writing: :meth:`Codec.select` picks the columns it compresses (by name) and returns the codec
   configured for that table; :meth:`Codec.check_chunk_rows`, :meth:`Codec.data_format`,
   :meth:`Codec.header_entries` and :meth:`Codec.file_sections` shape the header and the sections
   written once; then :meth:`Codec.encode` for every chunk.
2. reading: :func:`~hepsqueeze.codecs.registry.get_codec` of the header's config,
   :meth:`Codec.check_header`, :meth:`Codec.bind` (for example, to load the embedded decoder),
   then per chunk :meth:`Codec.read_payload` and :meth:`Codec.decode`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ConfigError, InputError

if TYPE_CHECKING:
    from hepsqueeze.container import ContainerReader, Section
    from hepsqueeze.io.table import Table

#: Section-name suffix of the run lengths of a codec's run-length coded column
#: (:attr:`Codec.runs_column`), which the file layer writes and the codec must leave free.
RUNS_SUFFIX: Final = "#runs"
#: Largest ``chunk_rows`` any codec writes or reads: a chunk's rows are allocated (tens of bytes
#: each while decoding) before its payload proves it holds them.
MAX_CHUNK_ROWS: Final = 1 << 24
#: Section kinds a codec may use for its payload.
PAYLOAD_KINDS: frozenset[str] = frozenset({"latent", "column"})


@dataclass(frozen=True)
class SectionData:
    """One section for the file layer to write: an array (``add_array``) or bytes (``add_bytes``)."""

    kind: str
    name: str
    array: npt.NDArray[Any] | None = None
    data: bytes | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.array is None) == (self.data is None):
            raise ValueError("a section holds either an array or bytes")


@dataclass(frozen=True)
class Payload:
    """What a codec made of one chunk: its sections, what a reader will decode from them and
    the values that must be stored exactly instead.

    ``decoded`` maps each compressed column to the values a reader decodes, in the column's own
    dtype (before any exception is restored); ``exact`` maps a column to the rows (ascending,
    within the chunk) whose original values the file layer stores exactly; ``counts`` adds
    entries to the file's report of values stored exactly (for example values a codec stores
    exactly inside its own payload).
    """

    sections: tuple[SectionData, ...]
    decoded: Mapping[str, npt.NDArray[Any]]
    exact: Mapping[str, npt.NDArray[np.int64]]
    counts: Mapping[str, int] = field(default_factory=dict)


class ChunkPayload(abc.ABC):
    """A chunk's payload as read from a file, before decoding: ``rows`` is what it holds."""

    rows: int


class Codec(abc.ABC):
    """A codec of a table's compressed columns, one chunk of rows at a time."""

    #: The id stored as the ``name`` of the header's ``codec`` object.
    codec_id: ClassVar[str]
    #: Data formats of the files this codec writes and reads.
    data_formats: ClassVar[frozenset[int]]
    #: Section kinds written once per file (not per chunk), e.g. an embedded model.
    file_section_kinds: ClassVar[frozenset[str]] = frozenset()
    #: Whether this codec also codes the auxiliary tables (:meth:`encode_aux`); otherwise the file
    #: layer stores them losslessly.
    codes_tables: ClassVar[bool] = False

    # -- configuration ---------------------------------------------------------------------------------

    @abc.abstractmethod
    def get_config(self) -> dict[str, Any]:
        """The JSON object stored as the header's ``codec``; ``name`` is :attr:`codec_id`."""

    @classmethod
    @abc.abstractmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """The codec of a header's ``codec`` object; :class:`~hepsqueeze.errors.InputError` if invalid."""

    @property
    @abc.abstractmethod
    def variables(self) -> tuple[str, ...]:
        """The variables the compressed columns are, in the order of the header's ``compressed``."""

    @property
    def runs_column(self) -> str | None:
        """A passthrough column the file layer stores run-length coded (``None``: none)."""
        return None

    @property
    def reserved_names(self) -> frozenset[str]:
        """Section names this codec's sections take in a file (others are made unique against them)."""
        return frozenset()

    def exact_label(self, column: str, dtype: np.dtype[Any]) -> str:
        """How the report names the values of ``column`` that the file stores exactly."""
        return column

    # -- writing ---------------------------------------------------------------------------------------

    @abc.abstractmethod
    def select(
        self, schema: Mapping[str, np.dtype[Any]], columns: Sequence[str] | None, source: str
    ) -> tuple[Self, list[str]]:
        """The columns of ``schema`` to compress (in :attr:`variables` order, matched by name) and
        this codec configured for the table; :class:`~hepsqueeze.errors.ColumnError` if unusable."""

    @abc.abstractmethod
    def check_chunk_rows(self, chunk_rows: int) -> None:
        """Refuse (:class:`~hepsqueeze.errors.ConfigError`) a chunk size this codec cannot write."""

    @abc.abstractmethod
    def data_format(self, *, plain: bool, exceptions: bool | None) -> int:
        """The data format of a file: ``plain`` when the dataset is one table and nothing else,
        ``exceptions`` whether values are stored exactly (``None``: unknown, as in a stream)."""

    def prepare(self, table: Table, chosen: Sequence[str]) -> bool | None:
        """Look at a whole table before it is written (raise to refuse it); return whether it
        holds values the exception stream will store, or ``None`` if unknown."""
        return None

    def header_entries(self) -> dict[str, Any]:
        """Top-level header entries of this codec besides ``codec`` (written after it)."""
        return {}

    def file_sections(self) -> list[SectionData]:
        """Sections written once, before the first chunk."""
        return []

    @abc.abstractmethod
    def encode(self, part: Table, chosen: Sequence[str], *, chunk: int, start: int) -> Payload:
        """Encode one chunk: ``part`` holds its rows (all columns), rows ``start...`` of the table."""

    def with_tables(self, schemas: Mapping[str, Mapping[str, np.dtype[Any]]], source: str) -> Self:
        """This codec configured for the auxiliary tables of ``schemas`` (codecs that code them)."""
        return self

    def encode_aux(self, table: str, part: Table, *, chunk: int) -> Payload:
        """Encode one chunk of auxiliary table ``table`` (codecs with :attr:`codes_tables`); the
        sections must carry the extra ``table``, and ``Payload.exact`` must be empty."""
        raise NotImplementedError(f"the {self.codec_id} codec does not code auxiliary tables")

    def verification_model(self) -> Any:
        """What :meth:`bind` needs to decode the file just written, beyond the file itself (the
        model of a file written without it); ``None`` for codecs whose files are self-contained."""
        return None

    # -- reading ---------------------------------------------------------------------------------------

    def check_header(  # noqa: B027  (a no-op by default: most codecs have no header checks of their own)
        self, compressed: Sequence[str], dtypes: Mapping[str, np.dtype[Any]], chunk_rows: int | None
    ) -> None:
        """Refuse (:class:`~hepsqueeze.errors.InputError`) a header that does not fit this codec:
        ``compressed`` are its compressed columns, ``dtypes`` every column of the main table."""

    def bind(self, reader: ContainerReader, header: Mapping[str, Any], model: Any = None) -> Self:
        """This codec ready to decode the file of ``reader`` (``model``: a decoder given by the
        caller, for codecs that need one)."""
        return self

    @abc.abstractmethod
    def is_payload(self, section: Section) -> bool:
        """Whether ``section`` is one chunk's payload (as written by :meth:`encode`)."""

    def is_aux_payload(self, section: Section, table: str) -> bool:
        """Whether ``section`` is one chunk of auxiliary table ``table`` (codecs with :attr:`codes_tables`)."""
        return False

    def decode_chunk(
        self,
        payload: ChunkPayload,
        specs: Sequence[tuple[str, np.dtype[Any]]],
        reader: ContainerReader,
        section: Section,
    ) -> dict[str, npt.NDArray[Any]]:
        """The columns ``specs`` of one chunk of an auxiliary table, as :meth:`read_payload` read it
        (codecs with :attr:`codes_tables`)."""
        raise NotImplementedError(f"the {self.codec_id} codec does not code auxiliary tables")

    def planned_rows(self, reader: ContainerReader, section: Section) -> int | None:
        """The rows a payload section holds, if its descriptor says so (else ``None``); raises the
        reader's error for a descriptor that cannot be this codec's payload."""
        return None

    @abc.abstractmethod
    def read_payload(self, reader: ContainerReader, section: Section) -> ChunkPayload:
        """Read and check one chunk's payload section."""

    @abc.abstractmethod
    def decode(
        self,
        payload: ChunkPayload,
        passthrough: Mapping[str, npt.NDArray[Any]],
        dtypes: Mapping[str, np.dtype[Any]],
        compressed: Sequence[str],
        *,
        start: int,
        reader: ContainerReader,
        section: Section,
    ) -> dict[str, npt.NDArray[Any]]:
        """The compressed columns of one chunk in their dtypes, before exceptions are restored."""


def check_chunk_rows_limit(chunk_rows: int) -> None:
    """Refuse (:class:`~hepsqueeze.errors.ConfigError`) a chunk size that is not an integer in
    ``[1, MAX_CHUNK_ROWS]``."""
    if not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be positive, got {chunk_rows}")
    if chunk_rows > MAX_CHUNK_ROWS:
        raise ConfigError(f"chunk_rows must be at most {MAX_CHUNK_ROWS}, got {chunk_rows}")


def check_header_chunk_rows(chunk_rows: int | None) -> None:
    """Refuse (:class:`~hepsqueeze.errors.InputError`) a header's ``chunk_rows`` outside ``[1, MAX_CHUNK_ROWS]``."""
    if chunk_rows is None or not 1 <= chunk_rows <= MAX_CHUNK_ROWS:
        raise InputError(f"invalid chunk_rows {chunk_rows!r} (at most {MAX_CHUNK_ROWS})")


def as_column_dtype(values: npt.NDArray[Any], dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    """Decoded float values in a column's stored dtype: integers rounded to nearest and clipped
    to the dtype's range (a plain cast would truncate toward zero and wrap), booleans by > 0.5."""
    if dtype.kind == "b":
        return np.ascontiguousarray(values > 0.5)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = float(info.min), float(info.max)
        if int(hi) > info.max:  # 64-bit maxima round up in float64: clip just inside
            hi = float(np.nextafter(hi, 0.0))
        rounded = np.clip(np.rint(values.astype(np.float64)), lo, hi)
        return np.ascontiguousarray(np.nan_to_num(rounded, nan=0.0).astype(dtype))
    return np.ascontiguousarray(values.astype(dtype))


__all__ = [
    "MAX_CHUNK_ROWS",
    "PAYLOAD_KINDS",
    "RUNS_SUFFIX",
    "ChunkPayload",
    "Codec",
    "Payload",
    "SectionData",
    "as_column_dtype",
    "check_chunk_rows_limit",
    "check_header_chunk_rows",
]
