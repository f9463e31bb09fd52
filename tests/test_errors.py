"""Errors carry where they happened as attributes, not only in the message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepsqueeze.container import ContainerReader, container_bytes
from hepsqueeze.errors import ColumnError, ContainerError, HepsqueezeError


def test_attributes_default_to_none() -> None:
    err = HepsqueezeError("something")
    assert (err.path, err.column, err.section, err.offset) == (None, None, None, None)
    assert str(err) == "something"


def test_container_errors_name_file_section_and_offset(tmp_path: Path) -> None:
    data = container_bytes({"kind": "test"}, lambda w: w.add_array("column", "x", np.arange(10)))
    path = tmp_path / "f.hsqz"
    path.write_bytes(data[:-3])
    with pytest.raises(ContainerError) as info:
        ContainerReader.open(path)
    assert info.value.path == str(path)
    assert isinstance(info.value.offset, int)
    assert f"byte {info.value.offset}" in str(info.value)
    path.write_bytes(data)
    with ContainerReader.open(path) as reader:
        sec = reader.sections[0]
        err = reader.error(sec, "bad")
    assert (err.path, err.section, err.offset) == (str(path), sec.index, sec.start)


def test_column_errors_name_the_column() -> None:
    from hepsqueeze.codecs.bounded.codec import match_columns

    with pytest.raises(ColumnError) as info:
        match_columns(["E", "pt", "eta", "mass"], ["E", "pt", "eta", "mass"], "jets.parquet")
    assert (info.value.column, info.value.path) == ("mass", "jets.parquet")
