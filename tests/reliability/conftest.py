"""Fixtures for the reliability tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_helpers import sample_dataset, tiny_model, tiny_table, write_sample

from hepsqueeze.file.reader import decompress_dataset
from hepsqueeze.io.dataset import Dataset


@pytest.fixture(scope="session")
def tiny_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, Dataset]:
    """A small real compressed file (tiny model embedded, exceptions, an auxiliary table)."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.hsqz"
    data = write_sample(path, tiny_model(), sample_dataset(tiny_table()))
    return path, data, decompress_dataset(path)
