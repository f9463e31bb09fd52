"""The Python API: the command line's steps as functions on tables, numpy arrays and files.

>>> import hepsqueeze as hsq
>>> jets = hsq.generate("ttbar", events=200, seed=1)              # Table: event, E, pt, eta, phi
>>> model = hsq.train(jets, preset="ae4d-3", epochs=20)
>>> z = model.encode(jets.stack(model.columns))                    # (rows, 3) float32 latents
>>> x = model.decode(z)                                             # (rows, 4) float32, GeV / rad
>>> report = hsq.compress(jets, "jets.hsqz", model=model)          # or max_error="1e-3"
>>> back = hsq.decompress("jets.hsqz", library="pd")              # "table", "np", "pd" or "ak"
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.codecs.base import Codec
from hepsqueeze.codecs.bounded.precision import Precision
from hepsqueeze.datasets.config import JETS27D_COLUMNS
from hepsqueeze.errors import ColumnError, ConfigError, InputError, ModelError
from hepsqueeze.file.reader import decompress_dataset, file_info
from hepsqueeze.file.report import CompressionReport
from hepsqueeze.file.writer import DEFAULT_CHUNK_ROWS, compress_dataset, compress_parquet
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table

if TYPE_CHECKING:  # torch is imported only by the functions that train or run a network
    from hepsqueeze.codecs.bounded.precision import FloorSpec as PrecisionFloorSpec
    from hepsqueeze.codecs.bounded.precision import PrecisionSpec
    from hepsqueeze.codecs.bounded.spec import FloorSpec, MaxErrorSpec
    from hepsqueeze.models.autoencoder import AutoencoderConfig
    from hepsqueeze.models.conditional.model import ConditionalModel
    from hepsqueeze.models.model import CompressionModel
    from hepsqueeze.training.conditional import ConditionalTrainingConfig, TrainingResult
    from hepsqueeze.training.config import TrainConfig
    from hepsqueeze.training.trainer import EpochReport

DEFAULT_VARIABLES = ("E", "pt", "eta", "phi")
TableLike = Table | Mapping[str, npt.NDArray[Any]] | str | os.PathLike[str]
#: What :func:`compress` takes: a path, a Dataset, a Table, a dict of arrays, a pandas DataFrame,
#: a pyarrow Table or an awkward Array (the last three typed loosely: imported only when given).
DataLike = Dataset | TableLike | Any


def as_table(data: TableLike, columns: Sequence[str] | None = None) -> Table:
    """A :class:`Table` from a table, a mapping of column name -> 1D array, or a file path."""
    if isinstance(data, Table):
        return data
    if isinstance(data, str | os.PathLike):
        from hepsqueeze.io import read_table

        return read_table(data)
    if isinstance(data, Mapping):
        return Table(dict(data))
    raise InputError(
        f"cannot make a table from {type(data).__name__}; give a Table, a dict of arrays or a path"
    )


def default_variables(names: Sequence[str], n_features: int) -> tuple[str, ...]:
    """The model variables to use when none are given: (E, pt, eta, phi), or (m, pt, eta, phi) for ATLAS files."""
    if n_features == 4 and "E" not in names and "m" in names:
        return ("m", "pt", "eta", "phi")
    if n_features == 4:
        return DEFAULT_VARIABLES
    jets27d = tuple(c for c in JETS27D_COLUMNS if c != "event")
    if n_features == len(jets27d) and all(v in names for v in jets27d):
        return jets27d
    raise ConfigError(
        f"a model with {n_features} inputs needs its variable names (variables=...)", option="variables"
    )


def train(
    data: TableLike | npt.NDArray[Any],
    preset: str | AutoencoderConfig = "ae4d-3",
    *,
    variables: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    config: TrainConfig | None = None,
    progress: Callable[[EpochReport], None] | None = None,
    **train_options: Any,
) -> CompressionModel:
    """Train a model on ``data``: a table/dict/path (columns picked by ``columns``) or an ``(N, F)`` array.

    ``variables`` are the model's variable names (default ``E, pt, eta, phi``); ``columns`` the input
    columns mapped onto them in order (default: the columns named like the variables). Extra keyword
    arguments are :class:`TrainConfig` fields (``epochs``, ``lr``, ``normalisation``, ...).
    """
    from hepsqueeze.models.presets import get_preset
    from hepsqueeze.training.config import TrainConfig
    from hepsqueeze.training.trainer import train_model

    arch = get_preset(preset) if isinstance(preset, str) else preset
    name = preset if isinstance(preset, str) else "custom"
    tc = config if config is not None else TrainConfig(**train_options)
    if config is not None and train_options:
        raise ConfigError("give either config= or TrainConfig keyword arguments, not both")
    if isinstance(data, np.ndarray):
        if data.ndim != 2 or data.shape[1] != arch.n_features:
            raise InputError(f"expected an array of shape (rows, {arch.n_features}), got {data.shape}")
        var = tuple(variables) if variables else default_variables((), arch.n_features)
        cols = tuple(columns) if columns else var
        return train_model(data, var, cols, arch, tc, name=name, progress=progress)
    table = as_table(data)
    var = tuple(variables) if variables else default_variables(table.names, arch.n_features)
    cols = tuple(columns) if columns else var
    if len(var) != arch.n_features or len(cols) != arch.n_features:
        raise ColumnError(
            f"model {name!r} takes {arch.n_features} variables; got variables {', '.join(var)} "
            f"and columns {', '.join(cols)}"
        )
    x = table.select(cols).stack(cols, dtype=np.float32)
    integer = [v for v, c in zip(var, cols, strict=True) if table[c].dtype.kind in "iub"]
    return train_model(x, var, cols, arch, tc, name=name, progress=progress, integer_variables=integer)


def _model(model: CompressionModel | str | os.PathLike[str]) -> CompressionModel:
    from hepsqueeze.zoo import resolve_model

    return resolve_model(model)


def codec_for(
    *,
    max_error: MaxErrorSpec | PrecisionSpec | None = None,
    model: CompressionModel | str | os.PathLike[str] | None = None,
    precision: str | os.PathLike[str] | Precision | None = None,
    require_bounds: bool | None = None,
    abs_floor: FloorSpec | PrecisionFloorSpec | None = None,
    event_column: str | None = None,
    latent_dtype: str | None = None,
    embed_model: bool | None = None,
    strict: bool | None = None,
) -> Codec:
    """The codec that the options ask for: the error-bounded codec (``max_error`` and/or
    ``precision``, with ``require_bounds``, ``abs_floor`` and ``event_column``) or the autoencoder
    (``model``, with ``latent_dtype``, ``embed_model`` and ``strict``). Exactly one codec; an option
    of the other codec is refused, not ignored (``None`` means not given).

    ``max_error`` is one number for every float column (relative on energies, momenta and masses,
    absolute on the others) or ``PATTERN=BOUND`` terms by column name (see
    :mod:`hepsqueeze.codecs.bounded.precision`); ``precision`` a precision file (TOML) or a shipped
    preset (``"nanoaod"``), whose terms come after those of ``max_error``. A
    :class:`~hepsqueeze.codecs.bounded.bounds.JetBounds` as ``max_error`` gives the earlier
    four-column jet codec (files of which every version reads)."""
    bounded = max_error is not None or precision is not None
    if model is None and not bounded:
        raise ConfigError("give either a model (autoencoder codec) or a maximum error (error-bounded codec)")
    if bounded:
        autoencoder_only = (("latent_dtype", latent_dtype), ("strict", strict))
        given = [n for n, v in autoencoder_only if v is not None]
        if given:
            raise ConfigError(
                f"{', '.join(given)} apply to the autoencoder codec only, not with a maximum error"
            )
        codec = _bounded_codec(max_error, precision, require_bounds, abs_floor, event_column)
        if model is None:
            if embed_model is not None:
                raise ConfigError("embed_model applies to a model: give one (model=...)")
            return codec
        if not hasattr(codec, "model"):
            raise ConfigError("JetBounds give the four-column jet codec, which takes no model")
        return dataclasses.replace(
            codec,  # type: ignore[type-var]
            model=conditional_model(model),
            embed_model=True if embed_model is None else embed_model,
        )
    given = [
        n
        for n, v in (
            ("abs_floor", abs_floor),
            ("event_column", event_column),
            ("require_bounds", require_bounds),
        )
        if v is not None
    ]
    if given:
        raise ConfigError(f"{', '.join(given)} apply to the error-bounded codec only, not with a model")
    from hepsqueeze.codecs.autoencoder.codec import AutoencoderCodec

    return AutoencoderCodec(
        _model(model) if model is not None else None,
        latent_dtype if latent_dtype is not None else "float32",
        embed_model=True if embed_model is None else embed_model,
        strict=bool(strict),
    )


def conditional_model(model: Any) -> ConditionalModel:
    """A conditional model of the error-bounded codec from a model, a model file or ``zoo:NAME``."""
    from hepsqueeze.models.conditional.model import ConditionalModel as Conditional
    from hepsqueeze.models.conditional.model import is_conditional_model, load_conditional_model

    if isinstance(model, Conditional):
        return model
    if isinstance(model, str) and model.startswith("zoo:"):
        from hepsqueeze.zoo.conditional import load_bounded

        return load_bounded(model)
    if isinstance(model, str | os.PathLike):
        if Path(model).exists() and not is_conditional_model(model):
            raise ModelError(
                f"{str(model)!r} is not a conditional model of the error-bounded codec (an autoencoder "
                "model file codes without a maximum error); train one with train_bounded",
                path=str(model),
            )
        return load_conditional_model(model)
    raise ConfigError(
        f"with a maximum error, the model must be a conditional model, its file or zoo:NAME, not "
        f"{type(model).__name__}"
    )


def train_bounded(
    data: TableLike,
    *,
    max_error: MaxErrorSpec | PrecisionSpec | None = None,
    precision: str | os.PathLike[str] | Precision | None = None,
    event_column: str | None = None,
    config: ConditionalTrainingConfig | None = None,
    integer_targets: bool = True,
) -> TrainingResult:
    """Train a conditional model of the error-bounded codec on ``data`` (a table, dict or path) at
    the bounds ``max_error`` / ``precision`` give its columns (as :func:`compress` takes them): the
    float columns with a bound are targets, each given the columns before it, then the integer
    columns, each given every float column (``integer_targets=False``: the integer columns first,
    as contexts only). The result holds the model and its bits per value on held-out rows."""
    from hepsqueeze.codecs.bounded.table_codec import DEFAULT_EVENT_COLUMN, BoundedCodec
    from hepsqueeze.codecs.bounded.training import model_columns
    from hepsqueeze.training.conditional import ConditionalTrainingConfig as Config
    from hepsqueeze.training.conditional import train_conditional

    if max_error is None and precision is None:
        raise ConfigError("a conditional model is trained at bounds: give max_error or precision")
    codec = _bounded_codec(max_error, precision, None, None, event_column)
    if not isinstance(codec, BoundedCodec):
        raise ConfigError("JetBounds give the four-column jet codec, which takes no model")
    table = as_table(data)
    columns = {n: table[n] for n in table.names}
    source = str(data) if isinstance(data, str | os.PathLike) else "<training data>"
    bounds = codec.resolve({n: v.dtype for n, v in columns.items()}, source)
    event = event_column if event_column is not None else DEFAULT_EVENT_COLUMN
    prepared = model_columns(columns, bounds, event, integer_targets=integer_targets)
    return train_conditional(prepared, config or Config())


def _bounded_codec(
    max_error: Any, precision: Any, require_bounds: bool | None, abs_floor: Any, event_column: str | None
) -> Codec:
    from hepsqueeze.codecs.bounded.bounds import JetBounds

    if isinstance(max_error, JetBounds):
        from hepsqueeze.codecs.bounded.codec import DEFAULT_EVENT_COLUMN, BoundedJetCodec
        from hepsqueeze.codecs.bounded.spec import parse_max_error

        if precision is not None or require_bounds is not None:
            raise ConfigError("JetBounds give the four-column jet codec, which takes no precision file")
        bounds = parse_max_error(max_error, abs_floor)
        return BoundedJetCodec(bounds, event_column if event_column is not None else DEFAULT_EVENT_COLUMN)
    from hepsqueeze.codecs.bounded.precision import parse_precision
    from hepsqueeze.codecs.bounded.table_codec import DEFAULT_EVENT_COLUMN as EVENT
    from hepsqueeze.codecs.bounded.table_codec import BoundedCodec

    parsed = parse_precision(
        max_error, precision_file=precision, abs_floor=abs_floor, require_bounds=bool(require_bounds)
    )
    return BoundedCodec(parsed, event_column if event_column is not None else EVENT)


def compress(
    data: DataLike,
    path: str | os.PathLike[str] | CompressionModel | None = None,
    out: str | os.PathLike[str] | None = None,
    columns: Sequence[str] | None = None,
    *,
    max_error: MaxErrorSpec | PrecisionSpec | None = None,
    model: CompressionModel | str | os.PathLike[str] | None = None,
    precision: str | os.PathLike[str] | Precision | None = None,
    require_bounds: bool | None = None,
    abs_floor: FloorSpec | PrecisionFloorSpec | None = None,
    event_column: str | None = None,
    latent_dtype: str | None = None,
    embed_model: bool | None = None,
    strict: bool | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    stream: bool = False,
    force: bool = False,
    read_options: Mapping[str, Any] | None = None,
    input_info: Mapping[str, Any] | None = None,
) -> CompressionReport:
    """Compress ``data`` into the file ``path``, with the error-bounded codec (``max_error``: one
    number, ``"*_pt=1e-3r,*_eta=1e-3,Jet_mass=10b"`` terms by column name or a mapping, and/or
    ``precision``: a precision file or ``"nanoaod"``; every column of every table of the input) or
    an autoencoder (``model``: a model, a model file or ``zoo:NAME``).

    ``data``: a file path (read with :func:`hepsqueeze.io.read_dataset`, ``read_options``: ``tree``,
    ``names``, ...; ``stream=True`` streams a Parquet file in bounded memory), a :class:`Dataset`,
    a :class:`Table`, a dict of 1D arrays, a pandas DataFrame, a pyarrow Table, or an awkward
    Array of flat records or of one jagged collection ``N * var * {E, pt, eta, phi, ...}`` (the
    event index becomes the ``event`` column; :func:`decompress` with ``library="ak"`` gives the
    same shape back). ``columns`` are the columns to compress, matched to the codec's variables
    by name. Options of the other codec are refused (see :func:`codec_for`).

    The deprecated form ``compress(data, model, out, columns)`` still works.
    """
    if out is not None:
        warnings.warn(
            "compress(data, model, out) is deprecated: use compress(data, out, model=model)",
            DeprecationWarning,
            stacklevel=2,
        )
        if model is not None:
            raise ConfigError("give the model once: compress(data, out, model=model)")
        model, path = path, out
    if not isinstance(path, str | os.PathLike):
        raise ConfigError("compress needs the output path: compress(data, path, max_error=... or model=...)")
    codec = codec_for(
        max_error=max_error, model=model, precision=precision, require_bounds=require_bounds,
        abs_floor=abs_floor, event_column=event_column, latent_dtype=latent_dtype,
        embed_model=embed_model, strict=strict,
    )  # fmt: skip
    from hepsqueeze.io.registry import COMPRESSED_SUFFIX, check_output_name

    check_output_name(path, COMPRESSED_SUFFIX, force=force)
    info = dict(input_info or {})
    if isinstance(data, str | os.PathLike):
        from hepsqueeze.io import read_dataset
        from hepsqueeze.io.remote import local_input, source_name

        with local_input(data) as local:  # a URL is fetched into a temporary file first
            info.setdefault("path", source_name(data))
            info.setdefault("size_bytes", local.stat().st_size if local.exists() else 0)
            if stream:
                return compress_parquet(
                    local, codec, path, columns, chunk_rows=chunk_rows, force=force, input_info=info
                )
            dataset = read_dataset(local, columns=columns, **dict(read_options or {}))
    else:
        if stream:
            raise ConfigError("streaming reads a Parquet file: give its path")
        dataset = as_dataset(data)
    return compress_dataset(
        dataset, codec, path, columns, chunk_rows=chunk_rows, force=force, input_info=info
    )


@dataclass(frozen=True)
class HepsqueezeTreeMethod:
    """The error-bounded codec as a method of :func:`hepsqueeze.evaluation.tree_benchmark.run_tree_benchmark`:
    a ROOT file compressed at ``precision`` and decompressed back into a ROOT file."""

    precision: Precision
    tree: str | None = None
    name: str = "hepsqueeze"
    #: a conditional model (see :func:`conditional_model`), referenced or embedded
    model: Any = None
    embed_model: bool = False

    def compress(self, src: Path, out_dir: Path) -> Path:
        out = Path(out_dir) / "tree.hsqz"
        options = {"tree": self.tree} if self.tree is not None else {}
        learned: dict[str, Any] = {}
        if self.model is not None:
            learned = {"model": self.model, "embed_model": self.embed_model}
        compress(src, out, max_error=self.precision, force=True, read_options=options, **learned)
        return out

    def decompress(self, compressed: Path, out_dir: Path) -> Path:
        from hepsqueeze.io import write_dataset

        out = Path(out_dir) / "back.root"
        model = None if self.model is None else conditional_model(self.model)
        write_dataset(decompress_dataset(compressed, model), out)
        return out

    def branch_bytes(self, compressed: Path) -> dict[str, int]:
        """Bytes of each branch: its column's payloads; a collection's event index counts as its counter."""
        from hepsqueeze.codecs.bounded.table_codec import column_sizes

        header = file_info(compressed)["header"]
        counters = {
            str(v.get("table")): (str(k), str(v.get("index")))
            for k, v in header.get("layout", {}).get("collections", {}).items()
        }
        out: dict[str, int] = {}
        for (table, column), size in column_sizes(compressed).items():
            counter, index = counters.get(str(table), (None, None))
            name = counter if counter is not None and column == index else column
            out[name] = out.get(name, 0) + size
        return out


def as_dataset(data: DataLike) -> Dataset:
    """A :class:`Dataset` of in-memory ``data`` (see :func:`compress`)."""
    from hepsqueeze.io.memory import to_dataset

    return to_dataset(data)


def decoder_model(model: Any) -> Any:
    """The model a file written without it needs: a conditional model of the error-bounded codec
    (the object, its file or zoo:NAME; no torch) or an autoencoder (the object, its file or zoo:NAME)."""
    from hepsqueeze.models.conditional.model import ConditionalModel as Conditional
    from hepsqueeze.models.conditional.model import is_conditional_model
    from hepsqueeze.zoo.conditional import is_conditional_name

    if isinstance(model, Conditional):
        return model
    if isinstance(model, str) and is_conditional_name(model):
        return conditional_model(model)
    if isinstance(model, str | os.PathLike) and Path(model).exists() and is_conditional_model(model):
        return conditional_model(model)
    return _model(model)


def decompress_to_dataset(
    path: str | os.PathLike[str],
    model: CompressionModel | ConditionalModel | str | os.PathLike[str] | None = None,
) -> Dataset:
    """Everything stored in ``path``: the table plus auxiliary tables and the layout of the original
    file (``model``: the one a file written without it needs)."""
    return decompress_dataset(path, None if model is None else decoder_model(model))


def decompress(
    path: str | os.PathLike[str],
    model: CompressionModel | str | os.PathLike[str] | None = None,
    *,
    library: str = "table",
) -> Any:
    """The table stored in compressed file ``path``, as ``library`` gives it, as uproot's
    ``library=`` does: ``"table"`` (a :class:`Table`), ``"np"`` (a dict of numpy arrays), ``"pd"``
    (a pandas DataFrame) or ``"ak"`` (an awkward Array of the input's shape: a jagged collection
    comes back jagged). ``model`` only for autoencoder files written without their decoder."""
    dataset = decompress_to_dataset(path, model)
    if library == "table":
        return dataset.table
    from hepsqueeze.io.memory import from_dataset

    return from_dataset(dataset, library)
