"""The error-bounded codec of every column of a file (id ``bounded``, data formats 6 and 7).

Every column of every table of a dataset (the main table and the auxiliary ones: a ROOT tree's
collections and per-event branches, DarkMachines objects and events) is coded by
:mod:`hepsqueeze.codecs.bounded.table_coder`, each float column within the bound that the
:class:`~hepsqueeze.codecs.bounded.precision.Precision` gives its name (never its position),
integer and boolean columns and float columns without a bound bit for bit. Each table is coded in
the contexts of its own events (its ``event`` column). Values that miss their bound once decoded
in the column's dtype are stored exactly inside the payload; the file layer decodes the finished
file before publishing it.

A chunk of the main table is one ``column`` section named ``bounded`` with the extra
``{"codec": "bounded"}``; a chunk of an auxiliary table one section with the extras
``{"codec": "bounded", "table": NAME}``. The header's ``codec`` holds the precision and the bound
each column was coded with.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self

import numpy as np
import numpy.typing as npt

from hepsqueeze.codecs.base import (
    MAX_CHUNK_ROWS,
    ChunkPayload,
    Codec,
    Payload,
    SectionData,
    check_chunk_rows_limit,
    check_header_chunk_rows,
)
from hepsqueeze.codecs.bounded.column_bound import LOSSLESS, ColumnBound
from hepsqueeze.codecs.bounded.precision import Precision
from hepsqueeze.codecs.bounded.table_coder import decode_table, encode_table, parse_table
from hepsqueeze.errors import (
    ColumnError,
    ConfigError,
    ContainerError,
    InputError,
    ModelError,
    missing_column_message,
)
from hepsqueeze.models.conditional.model import ConditionalModel

if TYPE_CHECKING:
    from hepsqueeze.container import ContainerReader, Section
    from hepsqueeze.io.table import Table

log = logging.getLogger(__name__)

CODEC_ID: Final = "bounded"
#: Data format of the files written: 7 (6, every column of every table coded by this codec; 7
#: adds columns coded with a learned conditional model, indexed alphabets, E from (pt, eta, m) and
#: smaller ANS splits, which a reader of 6 does not know). Files of 6 keep decoding.
DATA_FORMAT: Final = 7
READ_DATA_FORMATS: Final = frozenset({6, 7})
PAYLOAD_SECTION: Final = "bounded"
#: Name of the section that holds an embedded conditional model.
MODEL_SECTION: Final = "conditional"
DEFAULT_EVENT_COLUMN: Final = "event"

Bounds = Mapping[str, ColumnBound]


@dataclass(frozen=True)
class TableChunk(ChunkPayload):
    """One chunk's payload bytes and the rows its header claims."""

    rows: int
    payload: bytes


def _bounds_config(bounds: Bounds) -> dict[str, Any]:
    return {name: b.to_dict() for name, b in bounds.items()}


def _bounds_from_config(raw: Any, what: str) -> dict[str, ColumnBound]:
    if not isinstance(raw, dict):
        raise InputError(f"{what} is not an object")
    try:
        return {str(n): ColumnBound.from_dict(b) for n, b in raw.items()}
    except ContainerError as exc:
        raise InputError(f"{what}: {exc}") from None


@dataclass(frozen=True)
class BoundedCodec(Codec):
    """Every column within the bound ``precision`` gives its name; ``bounds`` (main table) and
    ``tables`` (auxiliary tables) are the bounds resolved for a dataset's columns."""

    codec_id: ClassVar[str] = CODEC_ID
    data_formats: ClassVar[frozenset[int]] = READ_DATA_FORMATS
    codes_tables: ClassVar[bool] = True
    file_section_kinds: ClassVar[frozenset[str]] = frozenset({"model"})

    precision: Precision
    event_column: str = DEFAULT_EVENT_COLUMN
    bounds: Bounds = field(default_factory=dict)
    tables: Mapping[str, Bounds] = field(default_factory=dict)
    #: a learned conditional model whose targets are tried on every table's columns of its names
    model: ConditionalModel | None = None
    #: store the model in the file (else only its name and sha256: a zoo model is found by name)
    embed_model: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.precision, Precision):
            raise ConfigError(f"precision must be a Precision, got {type(self.precision).__name__}")
        if not isinstance(self.event_column, str) or not self.event_column:
            raise ConfigError(f"the event column must be a name, got {self.event_column!r}")
        if self.model is not None and not isinstance(self.model, ConditionalModel):
            raise ConfigError(f"model must be a ConditionalModel, got {type(self.model).__name__}")

    # -- configuration ---------------------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        return {
            "name": CODEC_ID,
            "precision": self.precision.to_config(),
            "event_column": self.event_column,
            "bounds": _bounds_config(self.bounds),
            "tables": {t: _bounds_config(b) for t, b in self.tables.items()},
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        event = config.get("event_column")
        if not (isinstance(event, str) and event):
            raise InputError(f"event column {event!r} is not a column name")
        try:
            precision = Precision.from_config(config.get("precision"))
        except (ContainerError, ConfigError) as exc:
            raise InputError(f"invalid precision: {exc}") from None
        bounds = _bounds_from_config(config.get("bounds"), "codec bounds")
        raw_tables = config.get("tables")
        if not isinstance(raw_tables, dict):
            raise InputError("codec tables is not an object")
        tables = {str(t): _bounds_from_config(b, f"bounds of table {t!r}") for t, b in raw_tables.items()}
        return cls(precision, event, bounds, tables)

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(self.bounds)

    @property
    def reserved_names(self) -> frozenset[str]:
        return frozenset({PAYLOAD_SECTION})

    def exact_label(self, column: str, dtype: np.dtype[Any]) -> str:
        return f"{column} ({dtype})"

    def resolve(
        self, schema: Mapping[str, np.dtype[Any]], source: str, columns: Sequence[str] | None = None
    ) -> dict[str, ColumnBound]:
        """The bound of every column of ``schema``: from the precision for ``columns`` (default all),
        lossless for the others. :class:`ColumnError` if ``columns`` names a column not there, or
        (with ``require_bounds``) if a float column has no bound."""
        wanted = set(schema) if columns is None else set(columns)
        for name in wanted - set(schema):
            raise ColumnError(missing_column_message(name, list(schema), source), path=source, column=name)
        for name, dtype in schema.items():
            if dtype.kind not in "biuf":
                raise ColumnError(
                    f"column {name!r} of {source} has dtype {dtype}: not a number", path=source, column=name
                )
        floats = {n: d for n, d in schema.items() if n in wanted}
        self.precision.check(floats, source)
        out: dict[str, ColumnBound] = {}
        for name, dtype in schema.items():
            if name not in wanted:
                out[name] = LOSSLESS
                continue
            try:
                out[name] = self.precision.resolve(name, dtype)
            except ConfigError as exc:
                raise ColumnError(f"{source}: {exc}", path=source, column=name) from None
        return out

    # -- writing ---------------------------------------------------------------------------------------

    def select(
        self, schema: Mapping[str, np.dtype[Any]], columns: Sequence[str] | None, source: str
    ) -> tuple[Self, list[str]]:
        bounds = self.resolve(schema, source, columns)
        return dataclasses.replace(self, bounds=bounds), list(schema)

    def with_tables(self, schemas: Mapping[str, Mapping[str, np.dtype[Any]]], source: str) -> Self:
        """This codec with the bounds of every auxiliary table's columns resolved."""
        tables = {t: self.resolve(s, f"{source} (table {t!r})") for t, s in schemas.items()}
        return dataclasses.replace(self, tables=tables)

    def check_chunk_rows(self, chunk_rows: int) -> None:
        check_chunk_rows_limit(chunk_rows)

    def data_format(self, *, plain: bool, exceptions: bool | None) -> int:
        return DATA_FORMAT

    def header_entries(self) -> dict[str, Any]:
        if self.model is None:
            return {}
        return {"model": {"name": self.model.name, "sha256": self.model.hash, "embedded": self.embed_model}}

    def file_sections(self) -> list[SectionData]:
        if self.model is None or not self.embed_model:
            return []
        return [SectionData("model", MODEL_SECTION, data=self.model.to_bytes())]

    def verification_model(self) -> Any:
        return None if self.model is None or self.embed_model else self.model

    def _encode(self, part: Table, bounds: Bounds, extras: Mapping[str, Any]) -> Payload:
        columns = {n: part[n] for n in part.names}
        enc = encode_table(columns, bounds, self.event_column, self.model)
        section = SectionData(
            "column", PAYLOAD_SECTION, data=enc.payload, extras={"codec": CODEC_ID, **extras}
        )
        return Payload((section,), enc.decoded, {}, enc.exceptions)

    def encode(self, part: Table, chosen: Sequence[str], *, chunk: int, start: int) -> Payload:
        return self._encode(part, self.bounds, {})

    def encode_aux(self, table: str, part: Table, *, chunk: int) -> Payload:
        """Encode one chunk of auxiliary table ``table``."""
        return self._encode(part, self.tables.get(table, {}), {"table": table})

    # -- reading ---------------------------------------------------------------------------------------

    def check_header(
        self, compressed: Sequence[str], dtypes: Mapping[str, np.dtype[Any]], chunk_rows: int | None
    ) -> None:
        check_header_chunk_rows(chunk_rows)
        if list(compressed) != list(dtypes):
            raise InputError("the bounded codec codes every column of the main table")
        if list(self.bounds) != list(compressed):
            raise InputError("the codec's bounds do not list the compressed columns")

    def bind(self, reader: ContainerReader, header: Mapping[str, Any], model: Any = None) -> Self:
        info = header.get("model")
        embedded = reader.find("model")
        if info is None:
            if embedded:
                raise reader.error(embedded[0], "a model section in a file whose header names no model")
            return self
        if not (
            isinstance(info, dict)
            and isinstance(info.get("sha256"), str)
            and isinstance(info.get("name"), str)
        ):
            raise reader.error(None, "invalid data header: model is not an object with a name and a sha256")
        return dataclasses.replace(self, model=_bound_model(reader, info, model, embedded))

    def is_payload(self, section: Section) -> bool:
        extras = section.extras
        return section.kind == "column" and extras.get("codec") == CODEC_ID and "table" not in extras

    def is_aux_payload(self, section: Section, table: str) -> bool:
        """Whether ``section`` is a chunk of auxiliary table ``table``."""
        extras = section.extras
        return section.kind == "column" and extras.get("codec") == CODEC_ID and extras.get("table") == table

    def read_payload(self, reader: ContainerReader, section: Section) -> TableChunk:
        payload = reader.read_bytes(section)
        try:
            rows = parse_table(payload).rows
        except ContainerError as exc:
            raise reader.error(section, str(exc)) from None
        return TableChunk(rows, payload)

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
        return self.decode_chunk(payload, [(n, dtypes[n]) for n in compressed], reader, section)

    def decode_chunk(
        self,
        payload: ChunkPayload,
        specs: Sequence[tuple[str, np.dtype[Any]]],
        reader: ContainerReader,
        section: Section,
    ) -> dict[str, npt.NDArray[Any]]:
        """The columns ``specs`` of one chunk's payload (main or auxiliary table)."""
        if not isinstance(payload, TableChunk):
            raise TypeError(f"expected a TableChunk, got {type(payload).__name__}")
        try:
            return decode_table(payload.payload, specs, self.model)
        except (ContainerError, InputError) as exc:
            raise reader.error(section, str(exc)) from None


def _bound_model(
    reader: ContainerReader, info: Mapping[str, Any], model: Any, embedded: Sequence[Section]
) -> ConditionalModel:
    """The model a file was written with: the caller's, the embedded one or the zoo's, checked
    against the header's sha256."""
    from hepsqueeze.models.conditional.model import conditional_model_from_bytes

    want, name = str(info["sha256"]), str(info["name"])
    if len(embedded) > 1:
        raise reader.error(embedded[1], "more than one embedded model")
    found: ConditionalModel
    if isinstance(model, ConditionalModel):
        found = model
    elif embedded:
        try:
            found = conditional_model_from_bytes(
                reader.read_bytes(embedded[0]), f"{reader.name} (embedded model)"
            )
        except ModelError as exc:
            raise reader.error(embedded[0], f"the embedded model is invalid: {exc}") from None
    elif name.startswith("zoo:"):
        from hepsqueeze.zoo.conditional import load_bounded

        found = load_bounded(name)
    else:
        raise ModelError(
            f"{reader.name} was written without its model; give the model {name!r} (sha256 {want[:16]}...) "
            "to decompress it",
            path=reader.name,
        )
    if found.hash != want:
        raise ModelError(
            f"model {found.name!r} (sha256 {found.hash[:16]}...) is not the one {reader.name} was written with "
            f"({name!r}, sha256 {want[:16]}...)",
            path=reader.name,
        )
    return found


def column_sizes(path: str | os.PathLike[str]) -> dict[tuple[str | None, str], int]:
    """Bytes of each column's payloads in a ``bounded`` file, by (auxiliary table or None, column)."""
    from hepsqueeze.container import ContainerReader

    out: dict[tuple[str | None, str], int] = {}
    with ContainerReader.open(path) as reader:
        for sec in reader.sections:
            if sec.kind != "column" or sec.extras.get("codec") != CODEC_ID:
                continue
            table = sec.extras.get("table")
            try:
                columns = parse_table(reader.read_bytes(sec)).columns
            except ContainerError as exc:
                raise reader.error(sec, str(exc)) from None
            for name, payload in columns.items():
                key = (table if isinstance(table, str) else None, name)
                out[key] = out.get(key, 0) + len(payload)
    return out


def unbound_columns(header: Mapping[str, Any]) -> list[str]:
    """The float columns of a ``bounded`` file's data header that no precision term named (stored
    losslessly), as ``column`` (main table) or ``table/column``; empty for other codecs' files."""
    codec = header.get("codec")
    if not isinstance(codec, dict) or codec.get("name") != CODEC_ID:
        return []
    try:
        precision = Precision.from_config(codec.get("precision"))
        main = {str(c["name"]): np.dtype(c["dtype"]) for c in header.get("columns", [])}
        tables = {
            str(t["name"]): {str(c["name"]): np.dtype(c["dtype"]) for c in t["columns"]}
            for t in header.get("tables", [])
        }
    except (KeyError, TypeError, ValueError, ContainerError, ConfigError):
        return []
    out = list(precision.unbound(main))
    for name, schema in tables.items():
        out += [f"{name}/{c}" for c in precision.unbound(schema)]
    return out


__all__ = [
    "CODEC_ID",
    "DATA_FORMAT",
    "MAX_CHUNK_ROWS",
    "PAYLOAD_SECTION",
    "BoundedCodec",
    "TableChunk",
    "column_sizes",
    "unbound_columns",
]
