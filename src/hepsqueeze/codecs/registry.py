"""The codec registry: a header's ``codec`` object -> the codec that reads it.

Built-in codecs are registered by module path and imported on first use, so that reading a file
of one codec does not import the others (the autoencoder's network code in particular).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Final

from hepsqueeze.codecs.base import Codec
from hepsqueeze.errors import InputError

#: codec id -> "module:Class" of the built-in codecs.
BUILTIN_CODECS: Final[Mapping[str, str]] = {
    "autoencoder": "hepsqueeze.codecs.autoencoder.codec:AutoencoderCodec",
    "bounded": "hepsqueeze.codecs.bounded.table_codec:BoundedCodec",
    "bounded-jets": "hepsqueeze.codecs.bounded.codec:BoundedJetCodec",
}

_registered: dict[str, type[Codec]] = {}


def register_codec(cls: type[Codec]) -> type[Codec]:
    """Register a codec class under its ``codec_id`` (usable as a class decorator)."""
    existing = _registered.get(cls.codec_id)
    if existing is not None and existing is not cls:
        raise ValueError(f"codec id {cls.codec_id!r} is already registered by {existing.__qualname__}")
    _registered[cls.codec_id] = cls
    return cls


def codec_class(codec_id: str) -> type[Codec]:
    """The class registered under ``codec_id``; :class:`InputError` naming the known ids if none."""
    cls = _registered.get(codec_id)
    if cls is not None:
        return cls
    target = BUILTIN_CODECS.get(codec_id)
    if target is None:
        raise InputError(f"unknown codec {codec_id!r} (known: {', '.join(codec_ids())})")
    module, _, name = target.partition(":")
    found: type[Codec] = getattr(importlib.import_module(module), name)
    return register_codec(found)


def codec_ids() -> list[str]:
    """Every known codec id, sorted."""
    return sorted({*BUILTIN_CODECS, *_registered})


def get_codec(config: Mapping[str, Any]) -> Codec:
    """The codec of a header's ``codec`` object (its ``name`` is the codec id)."""
    if not isinstance(config, Mapping):
        raise InputError("the codec entry is not an object")
    codec_id = config.get("name")
    if not isinstance(codec_id, str):
        raise InputError(f"the codec entry has no name (got {codec_id!r})")
    return codec_class(codec_id).from_config(config)


__all__ = ["BUILTIN_CODECS", "codec_class", "codec_ids", "get_codec", "register_codec"]
