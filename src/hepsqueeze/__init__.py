"""hepsqueeze: compress HEP data with error-bounded coding or learned models, and show what was lost.

>>> import hepsqueeze as hsq
>>> hsq.compress("jets.parquet", "jets.hsqz", max_error="1e-3")      # or model="zoo:ae4d-3"
>>> df = hsq.decompress("jets.hsqz", library="pd")                    # "table", "np", "pd", "ak"

The top-level names are imported lazily (``dir(hepsqueeze)`` lists them all), so that
``import hepsqueeze`` and the error-bounded codec never import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hepsqueeze.lazy import lazy_dir, lazy_getattr
from hepsqueeze.version import __version__

_LAZY = {
    "compress": "hepsqueeze.api",
    "decompress": "hepsqueeze.api",
    "train": "hepsqueeze.api",
    "train_bounded": "hepsqueeze.api",
    "compress_many": "hepsqueeze.batch",
    "decompress_many": "hepsqueeze.batch",
    "load_conditional_model": "hepsqueeze.models.conditional.model",
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
    "CompressionReport": "hepsqueeze.file.report",
    "file_info": "hepsqueeze.file.reader",
    "get_codec": "hepsqueeze.codecs.registry",
    "open": "hepsqueeze.analysis",
}

if TYPE_CHECKING:
    from hepsqueeze.analysis import open
    from hepsqueeze.api import compress, decompress, decompress_to_dataset, train, train_bounded
    from hepsqueeze.batch import compress_many, decompress_many
    from hepsqueeze.codecs.registry import get_codec
    from hepsqueeze.datasets import generate, generate_mixture
    from hepsqueeze.file.reader import file_info
    from hepsqueeze.file.report import CompressionReport
    from hepsqueeze.io import Dataset, read_dataset, read_table, write_dataset, write_table
    from hepsqueeze.io.table import Table
    from hepsqueeze.models import CompressionModel, load_model, save_model
    from hepsqueeze.models.conditional.model import load_conditional_model
    from hepsqueeze.training import TrainConfig


__getattr__ = lazy_getattr(__name__, _LAZY)
__dir__ = lazy_dir(globals(), _LAZY)


__all__ = [
    "CompressionModel",
    "CompressionReport",
    "Dataset",
    "Table",
    "TrainConfig",
    "__version__",
    "compress",
    "compress_many",
    "decompress",
    "decompress_many",
    "decompress_to_dataset",
    "file_info",
    "generate",
    "generate_mixture",
    "get_codec",
    "load_conditional_model",
    "load_model",
    "open",
    "read_dataset",
    "read_table",
    "save_model",
    "train",
    "train_bounded",
    "write_dataset",
    "write_table",
]
