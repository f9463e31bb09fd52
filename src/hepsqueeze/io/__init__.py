"""Readers and writers for HEP data files.

One interface for every format: :func:`read_table` and :func:`write_table` pick the format from the
file extension (or content, for formats that register a sniffer) unless ``format=`` names one.
:func:`read_dataset` and :func:`write_dataset` carry a file's whole content (a ROOT tree's
collections and per-event branches, a DarkMachines file's objects and events) as a :class:`Dataset`,
so that it can be written back with the same structure. See ``docs/io.md``.
"""

from hepsqueeze.io import formats as _formats  # noqa: F401  (registers the built-in formats)
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.registry import (
    FORMATS,
    DatasetReader,
    DatasetWriter,
    Format,
    Reader,
    Writer,
    detect_format,
    get_format,
    read_dataset,
    read_table,
    register_format,
    write_dataset,
    write_table,
)
from hepsqueeze.io.source import input_size_bytes
from hepsqueeze.io.table import Table

__all__ = [
    "FORMATS",
    "Dataset",
    "DatasetReader",
    "DatasetWriter",
    "Format",
    "Reader",
    "Table",
    "Writer",
    "detect_format",
    "get_format",
    "input_size_bytes",
    "read_dataset",
    "read_table",
    "register_format",
    "write_dataset",
    "write_table",
]
