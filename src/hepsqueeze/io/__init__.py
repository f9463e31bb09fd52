"""Readers and writers for tabular HEP data."""

from hepsqueeze.io.table import Table

__all__ = ["Table"]
