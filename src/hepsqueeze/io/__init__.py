"""Readers and writers for tabular HEP data.

One interface for every format: :func:`read_table` and :func:`write_table` pick the format from the
file extension (or content, for formats that register a sniffer) unless ``format=`` names one.
"""

from hepsqueeze.io import formats as _formats  # noqa: F401  (registers the built-in formats)
from hepsqueeze.io.registry import (
    FORMATS,
    Format,
    Reader,
    Writer,
    detect_format,
    get_format,
    read_table,
    register_format,
    write_table,
)
from hepsqueeze.io.source import input_size_bytes
from hepsqueeze.io.table import Table

__all__ = [
    "FORMATS",
    "Format",
    "Reader",
    "Table",
    "Writer",
    "detect_format",
    "get_format",
    "input_size_bytes",
    "read_table",
    "register_format",
    "write_table",
]
