"""Built-in file formats, one module each; importing this package registers them."""

from hepsqueeze.io.formats import csv, darkmachines, hdf5, npy, npz, pandas_pickle, parquet, root
from hepsqueeze.io.registry import register_format

# Content sniffers (DarkMachines in ".csv" files, ROOT's magic) run before extensions decide.
for _module in (parquet, csv, npz, hdf5, npy, root, darkmachines, pandas_pickle):
    register_format(_module.FORMAT)

__all__ = ["csv", "darkmachines", "hdf5", "npy", "npz", "pandas_pickle", "parquet", "root"]
