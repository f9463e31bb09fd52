"""Model files: architecture, normalisation, history and weights in a hepsqueeze container.

A model file is a container (see ``docs/container-format.md``) whose JSON header describes the model
and whose ``weight`` sections hold every tensor as a plain little-endian array. No code is loaded:
the network is rebuilt from the header's layer sizes (checked against limits first) and the arrays
are copied in after their names, dtypes and shapes are checked.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch
import xxhash

from hepsqueeze.container import ContainerReader, ContainerWriter, container_bytes, write_container
from hepsqueeze.errors import ConfigError, ContainerError, InputFileNotFoundError, ModelError
from hepsqueeze.models.autoencoder import Autoencoder, AutoencoderConfig
from hepsqueeze.models.model import CompressionModel
from hepsqueeze.preprocessing.normalisation import Normaliser

MODEL_KIND: Final = "hepsqueeze-model"
MODEL_FORMAT: Final = 1
PARTS: Final = ("encoder", "decoder")


def _part_state(model: CompressionModel, parts: tuple[str, ...]) -> dict[str, torch.Tensor]:
    state = model.network.state_dict()
    return {k: v for k, v in state.items() if k.split(".", 1)[0] in parts}


def decoder_hash(model: CompressionModel) -> str:
    """xxh64 (hex) of everything decoding depends on: config, normaliser, variables, decoder weights."""
    h = xxhash.xxh64()
    desc = {
        "config": model.config.to_dict(),
        "normaliser": model.normaliser.to_dict(),
        "variables": list(model.variables),
    }
    if model.integer_variables:  # only when present, so hashes of earlier models stay valid
        desc["integer_variables"] = list(model.integer_variables)
    h.update(json.dumps(desc, sort_keys=True).encode())
    for key, tensor in sorted(_part_state(model, ("decoder",)).items()):
        h.update(key.encode())
        h.update(np.ascontiguousarray(tensor.cpu().numpy()).tobytes())
    return h.hexdigest()


def _header(model: CompressionModel, parts: tuple[str, ...]) -> dict[str, Any]:
    return {
        "kind": MODEL_KIND,
        "model_format": MODEL_FORMAT,
        "name": model.name,
        "parts": list(parts),
        "config": model.config.to_dict(),
        "normaliser": model.normaliser.to_dict(),
        "variables": list(model.variables),
        "columns": list(model.columns),
        "integer_variables": list(model.integer_variables),
        "decoder_hash": decoder_hash(model),
        "history": _finite_history(model.history) if "encoder" in parts else {},
        "training": model.training if "encoder" in parts else {},
    }


def _finite_history(history: dict[str, list[float]]) -> dict[str, list[float | None]]:
    """The loss history for JSON: a non-finite value (the epoch a training diverged) as null."""
    return {k: [x if math.isfinite(x) else None for x in v] for k, v in history.items()}


def _write(writer: ContainerWriter, model: CompressionModel, parts: tuple[str, ...]) -> None:
    for key, tensor in _part_state(model, parts).items():
        writer.add_array("weight", key, tensor.detach().cpu().numpy())


def save_model(model: CompressionModel, path: str | os.PathLike[str], force: bool = False) -> Path:
    """Write the full model (encoder and decoder) to ``path`` atomically."""
    if not model.has_encoder:
        raise ModelError(f"model {model.name!r} holds only its decoder and cannot be saved as a full model")
    with write_container(path, _header(model, PARTS), force=force) as writer:
        _write(writer, model, PARTS)
    return Path(path)


def decoder_bytes(model: CompressionModel) -> bytes:
    """The decoder-only model file as bytes, for embedding in a compressed file."""
    return container_bytes(_header(model, ("decoder",)), lambda w: _write(w, model, ("decoder",)))


def load_model(path: str | os.PathLike[str]) -> CompressionModel:
    """Read a model file written by :func:`save_model`."""
    p = Path(path)
    if not p.exists():
        raise InputFileNotFoundError(f"model file {str(p)!r} does not exist")
    try:
        with ContainerReader.open(p) as reader:
            return _from_reader(reader, str(p))
    except ContainerError as exc:
        raise ModelError(f"model file {str(p)!r} is not a valid hepsqueeze model: {exc}") from None


def model_from_bytes(data: bytes, source: str) -> CompressionModel:
    """Read a model embedded as bytes (e.g. the decoder inside a compressed file); ``source`` names it."""
    try:
        reader = ContainerReader.from_bytes(data, name=source)
    except ContainerError as exc:
        raise ModelError(f"embedded model in {source} is not valid: {exc}") from None
    with reader:
        return _from_reader(reader, source)


def _from_reader(reader: ContainerReader, source: str) -> CompressionModel:
    header = reader.header
    if header.get("kind") != MODEL_KIND:
        raise ModelError(f"{source} is a hepsqueeze file but not a model (kind {header.get('kind')!r})")
    if not isinstance(header.get("model_format"), int) or header["model_format"] > MODEL_FORMAT:
        raise ModelError(
            f"{source} has model format {header.get('model_format')!r}; this hepsqueeze reads up to "
            f"{MODEL_FORMAT}: upgrade hepsqueeze"
        )
    try:
        parts = tuple(header["parts"])
        if not parts or any(p not in PARTS for p in parts):
            raise ModelError(f"{source}: invalid model parts {parts!r}")
        config = _config(header["config"])
        normaliser = Normaliser.from_dict(header["normaliser"])
        variables = tuple(str(v) for v in header["variables"])
        columns = tuple(str(c) for c in header["columns"])
        integer = header.get("integer_variables", [])
        if not isinstance(integer, list) or not all(isinstance(v, str) for v in integer):
            raise ModelError(f"{source}: integer_variables must be a list of variable names")
        name = str(header["name"])
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise ModelError(f"{source}: invalid model header: {exc}") from None

    # Check the stored weights against the architecture before building it, so that a header
    # describing a huge network without the weights to match allocates nothing.
    expected = _expected_shapes(config, parts)
    sections = {s.name: s for s in reader.find("weight")}
    missing = sorted(set(expected) - set(sections))
    extra = sorted(set(sections) - set(expected))
    if missing or extra:
        raise ModelError(
            f"{source}: weights do not match the architecture (missing {missing}, unexpected {extra})"
        )
    arrays: dict[str, torch.Tensor] = {}
    for key, shape in expected.items():
        s = sections[key]
        if tuple(s.desc.get("shape", ())) != shape:
            raise ModelError(
                f"{source}: weight {key!r} has shape {s.desc.get('shape')}, expected {list(shape)}"
            )
        arr = reader.read_array(s)
        want = np.int64 if key.endswith("num_batches_tracked") else np.float32
        if arr.dtype != want:
            raise ModelError(f"{source}: weight {key!r} has dtype {arr.dtype}, expected {np.dtype(want)}")
        arrays[key] = torch.from_numpy(arr.copy())
    net = Autoencoder(config)
    net.load_state_dict(arrays, strict=False)
    model = CompressionModel(
        net,
        normaliser,
        variables,
        columns,
        name=name,
        history=_history(header.get("history"), source),
        training=_training(header.get("training"), source),
        has_encoder="encoder" in parts,
        integer_variables=tuple(integer),
    )
    stored = header.get("decoder_hash")
    if stored != decoder_hash(model):
        raise ModelError(f"{source}: decoder hash {stored!r} does not match its weights; the file is corrupt")
    return model


def _config(data: Any) -> AutoencoderConfig:
    """The stored architecture; its output constraints must have their numbers (ConfigError)."""
    config = AutoencoderConfig.from_dict(data)
    if not config.resolved:
        raise ConfigError("the output constraints have no numbers")
    return config


def _history(value: object, source: str) -> dict[str, list[float]]:
    """The stored loss history: a JSON object of number lists (ModelError otherwise)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(v, list)
        and all(x is None or (isinstance(x, int | float) and not isinstance(x, bool)) for x in v)
        for v in value.values()
    ):
        raise ModelError(f"{source}: invalid model header: history must map names to lists of numbers")
    return {str(k): [math.nan if x is None else float(x) for x in v] for k, v in value.items()}


def _training(value: object, source: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ModelError(f"{source}: invalid model header: training must be a JSON object")
    return dict(value)


def _expected_shapes(config: AutoencoderConfig, parts: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    # Built on the meta device: shapes only, no memory.
    with torch.device("meta"):
        net = Autoencoder(config)
    return {k: tuple(v.shape) for k, v in net.state_dict().items() if k.split(".", 1)[0] in parts}
