"""Built-in file formats, one module each; importing this package registers them."""

from hepsqueeze.io.formats import csv, hdf5, npz, parquet
from hepsqueeze.io.registry import register_format

for _module in (parquet, csv, npz, hdf5):
    register_format(_module.FORMAT)

__all__ = ["csv", "hdf5", "npz", "parquet"]
