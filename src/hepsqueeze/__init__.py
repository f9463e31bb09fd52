"""hepsqueeze: compress HEP data with deep autoencoders, and show how much was lost.

The top-level names are imported lazily so that ``import hepsqueeze.datasets`` (used by generator
worker processes) does not pay for importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hepsqueeze.lazy import lazy_getattr
from hepsqueeze.version import __version__

_LAZY = {
    "compress": "hepsqueeze.api",
    "decompress": "hepsqueeze.api",
    "train": "hepsqueeze.api",
    "generate": "hepsqueeze.datasets",
    "generate_mixture": "hepsqueeze.datasets",
    "Table": "hepsqueeze.io.table",
    "Dataset": "hepsqueeze.io",
    "read_dataset": "hepsqueeze.io",
    "write_dataset": "hepsqueeze.io",
    "decompress_to_dataset": "hepsqueeze.api",
    "read_table": "hepsqueeze.io",
    "write_table": "hepsqueeze.io",
    "CompressionModel": "hepsqueeze.models",
    "load_model": "hepsqueeze.models",
    "save_model": "hepsqueeze.models",
    "TrainConfig": "hepsqueeze.training",
}

if TYPE_CHECKING:
    from hepsqueeze.api import compress, decompress, decompress_to_dataset, train
    from hepsqueeze.datasets import generate, generate_mixture
    from hepsqueeze.io import Dataset, read_dataset, read_table, write_dataset, write_table
    from hepsqueeze.io.table import Table
    from hepsqueeze.models import CompressionModel, load_model, save_model
    from hepsqueeze.training import TrainConfig


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = [
    "CompressionModel",
    "Dataset",
    "Table",
    "TrainConfig",
    "__version__",
    "compress",
    "decompress",
    "decompress_to_dataset",
    "generate",
    "generate_mixture",
    "load_model",
    "read_dataset",
    "read_table",
    "save_model",
    "train",
    "write_dataset",
    "write_table",
]
