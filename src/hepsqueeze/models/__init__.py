"""Autoencoder models, presets and model files."""

from hepsqueeze.models.autoencoder import Autoencoder, AutoencoderConfig
from hepsqueeze.models.io import decoder_bytes, decoder_hash, load_model, model_from_bytes, save_model
from hepsqueeze.models.model import CompressionModel
from hepsqueeze.models.presets import PRESETS, get_preset

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
