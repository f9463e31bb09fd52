"""Autoencoder models, presets and model files.

Names are imported lazily: :mod:`hepsqueeze.models.constants` (and readers of compressed files that
need no network) must not pay for importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hepsqueeze.lazy import lazy_dir, lazy_getattr

_LOCATIONS = {
    "Autoencoder": "hepsqueeze.models.autoencoder",
    "AutoencoderConfig": "hepsqueeze.models.autoencoder",
    "CompressionModel": "hepsqueeze.models.model",
    "PRESETS": "hepsqueeze.models.presets",
    "decoder_bytes": "hepsqueeze.models.io",
    "decoder_hash": "hepsqueeze.models.io",
    "get_preset": "hepsqueeze.models.presets",
    "load_model": "hepsqueeze.models.io",
    "model_from_bytes": "hepsqueeze.models.io",
    "save_model": "hepsqueeze.models.io",
}

if TYPE_CHECKING:
    from hepsqueeze.models.autoencoder import Autoencoder, AutoencoderConfig
    from hepsqueeze.models.io import decoder_bytes, decoder_hash, load_model, model_from_bytes, save_model
    from hepsqueeze.models.model import CompressionModel
    from hepsqueeze.models.presets import PRESETS, get_preset


__getattr__ = lazy_getattr(__name__, _LOCATIONS)
__dir__ = lazy_dir(globals(), _LOCATIONS)


__all__ = [
    "PRESETS",
    "Autoencoder",
    "AutoencoderConfig",
    "CompressionModel",
    "decoder_bytes",
    "decoder_hash",
    "get_preset",
    "load_model",
    "model_from_bytes",
    "save_model",
]
