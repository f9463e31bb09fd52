"""Constants of the autoencoder codec that readers need without importing torch."""

from __future__ import annotations

from typing import Final

#: Rows per forward pass at inference. Compression chunks are a multiple of it, so the container
#: path and ``reconstruct`` run the very same batches and give bit-identical results on one machine.
EVAL_BATCH: Final = 1 << 16
#: Storage dtypes of latent codes.
LATENT_DTYPES: Final = ("float32", "float16")

__all__ = ["EVAL_BATCH", "LATENT_DTYPES"]
