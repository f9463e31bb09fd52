"""The error-bounded jet codec as a :class:`~hepsqueeze.codecs.base.Codec` (id ``bounded-jets``).

The main table's four jet columns (E, pt, eta, phi, matched by name) are coded by
:mod:`hepsqueeze.codecs.bounded.payload`, each chunk's payload one ``column`` section named
``bounded`` with the extra ``{"codec": "bounded-jets"}``. The event column (if the table has one)
groups the jets of an event and is stored run-length coded by the file layer. Every decoded value
is checked against its bound in the column's own dtype; those that miss are stored exactly.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self

import numpy as np
import numpy.typing as npt

from hepsqueeze.codecs.base import (
    MAX_CHUNK_ROWS,
    RUNS_SUFFIX,
    ChunkPayload,
    Codec,
    Payload,
    SectionData,
    as_column_dtype,
    check_chunk_rows_limit,
    check_header_chunk_rows,
)
from hepsqueeze.codecs.bounded.bounds import VARIABLES, JetBounds
from hepsqueeze.codecs.bounded.payload import decode_jets, encode_jets_checked, payload_header
from hepsqueeze.errors import ColumnError, ConfigError, ContainerError, InputError, missing_column_message
from hepsqueeze.io.interpret import variable_of
from hepsqueeze.metrics.bound_check import misses

if TYPE_CHECKING:
    from hepsqueeze.container import ContainerReader, Section
    from hepsqueeze.io.table import Table

log = logging.getLogger(__name__)

CODEC_ID: Final = "bounded-jets"
#: Data format of the files written. 5: values that miss their bound in the column's dtype are
#: stored exactly (the exception stream); 4 (without) is read too.
BOUNDED_DATA_FORMAT: Final = 5
READ_DATA_FORMATS: Final = frozenset({4, 5})
PAYLOAD_SECTION: Final = "bounded"
DEFAULT_EVENT_COLUMN: Final = "event"


def match_columns(columns: Sequence[str] | None, names: Sequence[str], source: str) -> list[str]:
    """The table's columns for E, pt, eta and phi, in that order, matched by name, never by position.

    ``columns`` (default: ``E, pt, eta, phi``) may come in any order; each must name one variable,
    alone or after one collection prefix (``Jet_E, Jet_pt, Jet_eta, Jet_phi``), every variable
    exactly once. Raises :class:`ColumnError` otherwise (a mass is not an energy: it is refused)."""
    chosen = list(columns) if columns else list(VARIABLES)
    for c in chosen:
        if c not in names:
            raise ColumnError(missing_column_message(c, names, source), path=source, column=c)
    slots: dict[str, str] = {}
    for c in chosen:
        j = variable_of(c, VARIABLES)
        if j is None:
            raise ColumnError(
                f"column {c!r} of {source} is not one of the jet codec's variables {', '.join(VARIABLES)} "
                "(names must be the variable, optionally after a collection prefix such as Jet_; "
                "the codec bounds E and pt relatively and eta and phi absolutely, so a column is taken "
                "by its name only)",
                path=source,
                column=c,
            )
        v = VARIABLES[j]
        if v in slots:
            raise ColumnError(
                f"columns {slots[v]!r} and {c!r} of {source} both name the jet variable {v}",
                path=source,
                column=c,
            )
        slots[v] = c
    missing = [v for v in VARIABLES if v not in slots]
    if missing:
        raise ColumnError(
            f"no column of {source} is given for the jet variable(s) {', '.join(missing)}", path=source
        )
    prefixes = {slots[v][: len(slots[v]) - len(v)] for v in VARIABLES}
    if len(prefixes) > 1:
        raise ColumnError(
            f"the jet columns {', '.join(slots[v] for v in VARIABLES)} of {source} come from different "
            "collections",
            path=source,
        )
    return [slots[v] for v in VARIABLES]


@dataclass(frozen=True)
class BoundedChunk(ChunkPayload):
    """One chunk's payload bytes and the rows its header claims."""

    rows: int
    payload: bytes


@dataclass(frozen=True)
class BoundedJetCodec(Codec):
    """Every jet's E, pt (relative), eta and phi (absolute) within ``bounds``.

    ``event_column`` groups the jets of one event (contiguous rows, leading jet first); a table
    without such an integer column has every jet coded alone (``event_runs`` is then false)."""

    codec_id: ClassVar[str] = CODEC_ID
    data_formats: ClassVar[frozenset[int]] = READ_DATA_FORMATS

    bounds: JetBounds
    event_column: str = DEFAULT_EVENT_COLUMN
    event_runs: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.bounds, JetBounds):
            raise ConfigError(f"bounds must be JetBounds, got {type(self.bounds).__name__}")
        if not isinstance(self.event_column, str) or not self.event_column:
            raise ConfigError(f"the event column must be a name, got {self.event_column!r}")

    # -- configuration ---------------------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        return {
            "name": CODEC_ID,
            "bounds": self.bounds.to_dict(),
            "event_column": self.event_column if self.event_runs else None,
            "event_runs": self.event_runs,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        event_column = config.get("event_column")
        event_runs = config.get("event_runs")
        if event_column is not None and not (isinstance(event_column, str) and event_column):
            raise InputError(f"event column {event_column!r} is not a column name")
        if not isinstance(event_runs, bool) or (event_runs and event_column is None):
            raise InputError("event_runs without an event column")
        try:
            bounds = JetBounds.from_dict(config.get("bounds"))
        except (ContainerError, ConfigError) as exc:
            raise InputError(str(exc)) from None
        return cls(bounds, event_column if event_column is not None else DEFAULT_EVENT_COLUMN, event_runs)

    @property
    def variables(self) -> tuple[str, ...]:
        return VARIABLES

    @property
    def runs_column(self) -> str | None:
        return self.event_column if self.event_runs else None

    @property
    def reserved_names(self) -> frozenset[str]:
        """Section names this codec's sections take in a file."""
        return frozenset({PAYLOAD_SECTION, f"{self.event_column}{RUNS_SUFFIX}"})

    def exact_label(self, column: str, dtype: np.dtype[Any]) -> str:
        """How the report names the values of ``column`` stored exactly: they missed in its dtype."""
        return f"{column} ({dtype})"

    # -- writing ---------------------------------------------------------------------------------------

    def select(
        self, schema: Mapping[str, np.dtype[Any]], columns: Sequence[str] | None, source: str
    ) -> tuple[Self, list[str]]:
        chosen = match_columns(columns, list(schema), source)
        for name in chosen:
            if schema[name].kind not in "biuf":
                raise ColumnError(
                    f"column {name!r} of {source} has dtype {schema[name]}: not a number",
                    path=source,
                    column=name,
                )
        ev = self.event_column
        has_event = ev in schema and schema[ev].kind in "iu" and ev not in chosen
        return dataclasses.replace(self, event_runs=has_event), chosen

    def check_chunk_rows(self, chunk_rows: int) -> None:
        check_chunk_rows_limit(chunk_rows)

    def data_format(self, *, plain: bool, exceptions: bool | None) -> int:
        return BOUNDED_DATA_FORMAT

    def encode(self, part: Table, chosen: Sequence[str], *, chunk: int, start: int) -> Payload:
        with np.errstate(over="ignore", invalid="ignore"):
            x = part.stack(list(chosen), dtype=np.float32)
        if self.event_runs:
            event = part[self.event_column].astype(np.int64)
        else:
            event = np.arange(start, start + part.num_rows, dtype=np.int64)
        payload, decoded = encode_jets_checked(event, x, self.bounds)
        values: dict[str, npt.NDArray[Any]] = {}
        exact: dict[str, npt.NDArray[np.int64]] = {}
        for j, name in enumerate(chosen):
            original = part[name]
            values[name] = as_column_dtype(decoded[:, j], original.dtype)
            bound, floor = getattr(self.bounds, VARIABLES[j]), self.bounds.floor(VARIABLES[j])
            exact[name] = np.flatnonzero(misses(original, values[name], bound, floor)).astype(np.int64)
        section = SectionData("column", PAYLOAD_SECTION, data=payload, extras={"codec": CODEC_ID})
        inside = int(payload_header(payload)["exceptions"])
        return Payload((section,), values, exact, {"(jets)": inside} if inside else {})

    # -- reading ---------------------------------------------------------------------------------------

    def check_header(
        self, compressed: Sequence[str], dtypes: Mapping[str, np.dtype[Any]], chunk_rows: int | None
    ) -> None:
        check_header_chunk_rows(chunk_rows)
        if len(compressed) != len(VARIABLES):
            raise InputError(f"{len(compressed)} compressed columns; the jet codec codes {len(VARIABLES)}")
        if any(dtypes[c].kind not in "biuf" for c in compressed):
            raise InputError("a compressed column is not numeric")
        ev = self.event_column
        if self.event_runs and (ev in compressed or ev not in dtypes or dtypes[ev].kind not in "iu"):
            raise InputError(f"event column {ev!r} is not an integer passthrough column")

    def bind(self, reader: ContainerReader, header: Mapping[str, Any], model: Any = None) -> Self:
        if model is not None:
            log.info("%s was written by the error-bounded codec: the model is not used", reader.name)
        return self

    def is_payload(self, section: Section) -> bool:
        extras = section.extras
        return section.kind == "column" and extras.get("codec") == CODEC_ID and "exceptions" not in extras

    def read_payload(self, reader: ContainerReader, section: Section) -> BoundedChunk:
        payload = reader.read_bytes(section)
        try:
            rows = int(payload_header(payload)["rows"])
        except ContainerError as exc:
            raise reader.error(section, str(exc)) from None
        return BoundedChunk(rows, payload)

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
        if not isinstance(payload, BoundedChunk):
            raise TypeError(f"expected a BoundedChunk, got {type(payload).__name__}")
        if self.event_runs:
            event = passthrough[self.event_column].astype(np.int64)
        else:
            event = np.arange(start, start + payload.rows, dtype=np.int64)
        try:
            values = decode_jets(event, payload.payload)
        except (ContainerError, InputError) as exc:
            raise reader.error(section, str(exc)) from None
        return {name: as_column_dtype(values[:, j], dtypes[name]) for j, name in enumerate(compressed)}


__all__ = [
    "BOUNDED_DATA_FORMAT",
    "CODEC_ID",
    "MAX_CHUNK_ROWS",
    "PAYLOAD_SECTION",
    "READ_DATA_FORMATS",
    "BoundedChunk",
    "BoundedJetCodec",
    "match_columns",
]
