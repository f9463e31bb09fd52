"""The Python API: the command line's steps as functions on tables, numpy arrays and files.

>>> import hepsqueeze as hsq
>>> jets = hsq.generate("ttbar", events=200, seed=1)              # Table: event, E, pt, eta, phi
>>> model = hsq.train(jets, preset="ae4d-3", epochs=20)
>>> z = model.encode(jets.stack(model.columns))                    # (rows, 3) float32 latents
>>> x = model.decode(z)                                             # (rows, 4) float32, GeV / rad
>>> report = hsq.compress(jets, model, "jets.hsqz")
>>> back = hsq.decompress("jets.hsqz")
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.codec.compress import CompressionReport, compress_dataset, decompress_dataset, decompress_file
from hepsqueeze.datasets.config import JETS27D_COLUMNS
from hepsqueeze.errors import ColumnError, ConfigError, InputError
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table
from hepsqueeze.models.autoencoder import AutoencoderConfig
from hepsqueeze.models.model import CompressionModel
from hepsqueeze.models.presets import get_preset
from hepsqueeze.training.config import TrainConfig
from hepsqueeze.training.trainer import EpochReport, train_model

DEFAULT_VARIABLES = ("E", "pt", "eta", "phi")
TableLike = Table | Mapping[str, npt.NDArray[Any]] | str | os.PathLike[str]


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
    raise ConfigError(f"a model with {n_features} inputs needs its variable names (--variables)")


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


def compress(
    data: TableLike | Dataset,
    model: CompressionModel | str | os.PathLike[str],
    out: str | os.PathLike[str],
    columns: Sequence[str] | None = None,
    *,
    read_options: Mapping[str, Any] | None = None,
    **options: Any,
) -> CompressionReport:
    """Compress ``data`` (a table, dict of arrays, :class:`Dataset` or file path) into the file ``out``.

    A path is read with :func:`hepsqueeze.io.read_dataset` (``read_options``: ``tree``, ``names``, ...), so
    ROOT and DarkMachines files keep their structure; ``options`` as
    :func:`hepsqueeze.codec.compress.compress_dataset` (``latent_dtype``, ``embed_model``, ``force``).
    """
    info = dict(options.pop("input_info", {}) or {})
    if isinstance(data, Dataset):
        dataset = data
    elif isinstance(data, str | os.PathLike):
        from hepsqueeze.io import read_dataset

        dataset = read_dataset(data, columns=columns, **dict(read_options or {}))
        info.setdefault("path", Path(data).name)
        info.setdefault("size_bytes", Path(data).stat().st_size)
    else:
        dataset = Dataset.from_table(as_table(data))
    return compress_dataset(dataset, _model(model), out, columns, input_info=info, **options)


def decompress_to_dataset(
    path: str | os.PathLike[str], model: CompressionModel | str | os.PathLike[str] | None = None
) -> Dataset:
    """Everything stored in ``path``: the table plus auxiliary tables and the layout of the original file."""
    return decompress_dataset(path, None if model is None else _model(model))


def decompress(
    path: str | os.PathLike[str], model: CompressionModel | str | os.PathLike[str] | None = None
) -> Table:
    """The table stored in compressed file ``path``; ``model`` only for files without an embedded decoder."""
    return decompress_file(path, None if model is None else _model(model))
