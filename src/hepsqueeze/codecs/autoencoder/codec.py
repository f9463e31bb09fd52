"""The autoencoder codec as a :class:`~hepsqueeze.codecs.base.Codec` (id ``autoencoder``).

Each chunk's payload is one ``latent`` section: the model's codes of the compressed columns
(float32, or float16). The decoder-only model file travels in a ``model`` section (unless
``embed_model`` is false; a zoo model is then found by name). Values the model must not be
trusted with (:mod:`hepsqueeze.codecs.autoencoder.exceptions`) are coded as stand-ins and stored
exactly by the file layer; with ``strict`` they are refused instead.

torch is imported only where a network is built or run: reading the header, choosing columns and
the configuration need none.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self

import numpy as np
import numpy.typing as npt

from hepsqueeze.codecs.autoencoder.exceptions import ExceptionFinder
from hepsqueeze.codecs.base import MAX_CHUNK_ROWS, ChunkPayload, Codec, Payload, SectionData, as_column_dtype
from hepsqueeze.errors import ConfigError, InputError, ModelError
from hepsqueeze.models.constants import EVAL_BATCH, LATENT_DTYPES

if TYPE_CHECKING:
    from hepsqueeze.container import ContainerReader, Section
    from hepsqueeze.io.table import Table
    from hepsqueeze.models.model import CompressionModel

log = logging.getLogger(__name__)

CODEC_ID: Final = "autoencoder"
#: Data formats written. 1: one plain table; 2: auxiliary tables and the layout; 3: the exception stream.
PLAIN_DATA_FORMAT: Final = 1
AUX_DATA_FORMAT: Final = 2
EXCEPTIONS_DATA_FORMAT: Final = 3
READ_DATA_FORMATS: Final = frozenset({PLAIN_DATA_FORMAT, AUX_DATA_FORMAT, EXCEPTIONS_DATA_FORMAT})
LATENT_SECTION: Final = "latent"
MODEL_SECTION: Final = "decoder"


def decoder_hash(model: CompressionModel) -> str:
    """The hash of a model's decoder, as the header records it."""
    from hepsqueeze.models.io import decoder_hash as model_decoder_hash

    return model_decoder_hash(model)


@dataclass(frozen=True)
class LatentChunk(ChunkPayload):
    """One chunk's latent codes (as float32)."""

    rows: int
    codes: npt.NDArray[np.float32]


@dataclass(frozen=True, eq=False)
class AutoencoderCodec(Codec):
    """The compressed columns coded by ``model``'s encoder, decoded by its decoder.

    ``latent_dtype``: ``float32`` or ``float16`` codes; ``embed_model``: store the decoder in the
    file; ``strict``: refuse NaN, infinities, denormals and values outside the training range
    instead of storing them exactly. Read from a file, ``model`` is ``None`` until :meth:`bind`."""

    codec_id: ClassVar[str] = CODEC_ID
    data_formats: ClassVar[frozenset[int]] = READ_DATA_FORMATS
    file_section_kinds: ClassVar[frozenset[str]] = frozenset({"model"})

    model: CompressionModel | None = None
    latent_dtype: str = "float32"
    embed_model: bool = True
    strict: bool = False
    latent_dim: int | None = None

    def __post_init__(self) -> None:
        if self.latent_dtype not in LATENT_DTYPES:
            raise ConfigError(
                f"unknown latent dtype {self.latent_dtype!r}; choose one of {', '.join(LATENT_DTYPES)}"
            )
        if self.model is not None:
            object.__setattr__(self, "latent_dim", self.model.latent_dim)
        elif self.latent_dim is not None and not (type(self.latent_dim) is int and self.latent_dim > 0):
            raise ConfigError(f"latent_dim must be a positive integer, got {self.latent_dim!r}")

    @property
    def network(self) -> CompressionModel:
        """The model; :class:`ModelError` if this codec was read from a file and not bound yet."""
        if self.model is None:
            raise ModelError("the autoencoder codec has no model (it was read from a header only)")
        return self.model

    @functools.cached_property
    def finder(self) -> ExceptionFinder:
        """The model's exception finder."""
        return ExceptionFinder(self.network)

    # -- configuration ---------------------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        return {"name": CODEC_ID, "latent_dtype": self.latent_dtype, "latent_dim": self.latent_dim}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        if config.get("latent_dtype") not in LATENT_DTYPES:
            raise InputError("codec.latent_dtype is missing or unknown")
        latent_dim = config.get("latent_dim")
        if latent_dim is not None and not (type(latent_dim) is int and 0 < latent_dim < 1 << 53):
            raise InputError(f"codec.latent_dim is {latent_dim!r}")
        return cls(None, str(config["latent_dtype"]), latent_dim=latent_dim)

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(self.network.variables)

    # -- writing ---------------------------------------------------------------------------------------

    def select(
        self, schema: Mapping[str, np.dtype[Any]], columns: Sequence[str] | None, source: str
    ) -> tuple[Self, list[str]]:
        return self, list(self.network.column_mapping(list(schema), columns, source))

    def check_chunk_rows(self, chunk_rows: int) -> None:
        if not isinstance(chunk_rows, int) or chunk_rows < EVAL_BATCH or chunk_rows % EVAL_BATCH:
            raise ConfigError(f"chunk_rows must be a positive multiple of {EVAL_BATCH}, got {chunk_rows}")
        if chunk_rows > MAX_CHUNK_ROWS:
            raise ConfigError(f"chunk_rows must be at most {MAX_CHUNK_ROWS}, got {chunk_rows}")

    def data_format(self, *, plain: bool, exceptions: bool | None) -> int:
        if exceptions is None:  # a stream: exceptions can turn up in any chunk
            return PLAIN_DATA_FORMAT if self.strict else EXCEPTIONS_DATA_FORMAT
        if exceptions:
            return EXCEPTIONS_DATA_FORMAT
        return PLAIN_DATA_FORMAT if plain else AUX_DATA_FORMAT

    def prepare(self, table: Table, chosen: Sequence[str]) -> bool | None:
        with np.errstate(over="ignore"):  # float64 values beyond float32 become inf: exceptions
            x = table.stack(list(chosen), dtype=np.float32)
        finder = self.finder
        if self.strict:
            self.network.validate_input(x, list(chosen))
            for j, name in enumerate(chosen):
                finder.reject(j, name, table[name], x[:, j], 0)
            return False
        return any(bool(finder.mask(j, table[n], x[:, j]).any()) for j, n in enumerate(chosen))

    def header_entries(self) -> dict[str, Any]:
        model = self.network
        return {
            "model": {
                "name": model.name,
                "decoder_hash": decoder_hash(model),
                "embedded": self.embed_model,
                "nodes": list(model.config.nodes),
            }
        }

    def file_sections(self) -> list[SectionData]:
        if not self.embed_model:
            return []
        from hepsqueeze.models.io import decoder_bytes

        return [SectionData("model", MODEL_SECTION, data=decoder_bytes(self.network))]

    def verification_model(self) -> Any:
        return None if self.embed_model else self.network

    def encode(self, part: Table, chosen: Sequence[str], *, chunk: int, start: int) -> Payload:
        model = self.network
        with np.errstate(over="ignore"):
            x = np.array(part.stack(list(chosen), dtype=np.float32), dtype=np.float32, copy=True)
        originals = [part[n] for n in chosen]
        if self.strict:
            for j, name in enumerate(chosen):
                self.finder.reject(j, name, originals[j], x[:, j], start)
            rows = [np.empty(0, np.int64)] * len(chosen)
        else:
            rows = self.finder.find(x, originals)
        z = model.encode(x)
        stored = z.astype(np.float16) if self.latent_dtype == "float16" else z
        if not np.isfinite(stored).all():
            raise InputError(
                f"latent codes of rows {start}..{start + part.num_rows} overflow {self.latent_dtype}; "
                "use float32 latents"
            )
        # what a reader will decode: the values checked in the finished file
        decoded = model.decode(stored.astype(np.float32)) if part.num_rows else x
        values = {n: as_column_dtype(decoded[:, j], originals[j].dtype) for j, n in enumerate(chosen)}
        exact = {n: rows[j] for j, n in enumerate(chosen)}
        return Payload((SectionData("latent", LATENT_SECTION, array=stored),), values, exact)

    # -- reading ---------------------------------------------------------------------------------------

    def bind(self, reader: ContainerReader, header: Mapping[str, Any], model: Any = None) -> Self:
        info = header.get("model")
        if not isinstance(info, dict):
            raise reader.error(None, "invalid data header: model is not an object")
        decoder = self._decoder(reader, info, model)
        compressed = header.get("compressed", {}).get("columns", [])
        if len(compressed) != len(decoder.variables):
            raise reader.error(
                None,
                f"{len(compressed)} compressed columns but the model has {len(decoder.variables)} variables",
            )
        if self.latent_dim is not None and self.latent_dim != decoder.latent_dim:
            raise reader.error(None, f"latent_dim {self.latent_dim} but the model's is {decoder.latent_dim}")
        return dataclasses.replace(self, model=decoder)

    @staticmethod
    def _decoder(reader: ContainerReader, info: Mapping[str, Any], model: Any) -> CompressionModel:
        stored_hash = info.get("decoder_hash")
        if model is not None:
            if decoder_hash(model) != stored_hash:
                raise ModelError(
                    f"model {model.name!r} does not match the one {reader.name} was compressed with "
                    f"({info.get('name')!r}, decoder hash {stored_hash})",
                    path=reader.name,
                )
            return model  # type: ignore[no-any-return]
        embedded = reader.find("model")
        name = info.get("name")
        if not embedded and isinstance(name, str) and name.startswith("zoo:"):
            # A model shipped with hepsqueeze need not travel with the file: take it from the zoo.
            from hepsqueeze.zoo import load as load_zoo_model

            return AutoencoderCodec._decoder(reader, info, load_zoo_model(name))
        if not embedded:
            raise ModelError(
                f"{reader.name} was written without its model; give the model {info.get('name')!r} "
                f"(decoder hash {stored_hash}) to decompress it",
                path=reader.name,
            )
        if len(embedded) > 1:
            raise reader.error(embedded[1], "more than one embedded model")
        from hepsqueeze.models.io import model_from_bytes

        try:
            decoder = model_from_bytes(reader.read_bytes(embedded[0]), f"{reader.name} (embedded model)")
        except ModelError as exc:
            raise reader.error(embedded[0], f"the embedded model is invalid: {exc}") from None
        if decoder_hash(decoder) != stored_hash:
            raise reader.error(embedded[0], "the embedded model does not match the header's decoder hash")
        return decoder

    def is_payload(self, section: Section) -> bool:
        return section.kind == "latent"

    def planned_rows(self, reader: ContainerReader, section: Section) -> int | None:
        dtype = np.dtype(self.latent_dtype)
        shape, dim = section.shape, self.network.latent_dim
        if section.name != LATENT_SECTION or len(shape) != 2 or shape[1] != dim or section.dtype != dtype:
            raise reader.error(
                section,
                f"latent codes have shape {shape} and dtype {section.dtype}, expected (rows, {dim}) {dtype}",
            )
        return int(shape[0])

    def read_payload(self, reader: ContainerReader, section: Section) -> LatentChunk:
        codes = reader.read_array(section).astype(np.float32)
        return LatentChunk(int(codes.shape[0]), codes)

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
        if not isinstance(payload, LatentChunk):
            raise TypeError(f"expected a LatentChunk, got {type(payload).__name__}")
        x = self.network.decode(payload.codes)
        return {name: as_column_dtype(x[:, j], dtypes[name]) for j, name in enumerate(compressed)}


__all__ = [
    "AUX_DATA_FORMAT",
    "CODEC_ID",
    "EXCEPTIONS_DATA_FORMAT",
    "PLAIN_DATA_FORMAT",
    "READ_DATA_FORMATS",
    "AutoencoderCodec",
    "LatentChunk",
    "decoder_hash",
]
