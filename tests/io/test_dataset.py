"""Dataset: the one code path for plain and multi-table formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepsqueeze.errors import ColumnError, ConfigError, InputError
from hepsqueeze.io import Dataset, Table, read_dataset, write_dataset, write_table


def test_plain_formats_give_a_plain_dataset(tmp_path: Path) -> None:
    table = Table({"event": np.arange(3), "pt": np.ones(3, np.float32)})
    path = write_table(table, tmp_path / "t.h5")
    ds = read_dataset(path, columns=["pt"])
    assert ds.format == "hdf5"
    assert ds.is_plain
    assert not ds.aux
    assert ds.table.names == table.names  # columns name what to compress; every column is read
    assert ds.source == str(path)
    with pytest.raises(ColumnError, match=r"did you mean 'pt'"):
        read_dataset(path, columns=["ptt"])
    with pytest.raises(ConfigError, match=r"list of names"):
        read_dataset(path, columns="pt")
    out = write_dataset(ds, tmp_path / "back.parquet")
    assert read_dataset(out).table.names == table.names


def test_dataset_checks_and_labels() -> None:
    main = Table({"kind": np.array([1, 0, 1], np.int8)})
    layout = {"format": "x", "categories": {"kind": ["a", "b"]}}
    ds = Dataset(main, {"events": Table({"w": np.ones(2)})}, layout)
    layout["format"] = "changed"  # the dataset keeps its own copy
    assert ds.format == "x"
    assert not ds.is_plain
    assert list(ds.labels("kind")) == ["b", "a", "b"]
    assert ds.categories("w") is None
    with pytest.raises(ColumnError, match=r"not a coded text column"):
        ds.labels("w", "events")
    with pytest.raises(ColumnError, match=r"no auxiliary table 'nope'"):
        ds.labels("kind", "nope")
    assert ds.with_table(Table({"kind": np.array([0], np.int8)})).aux.keys() == ds.aux.keys()
    assert "events: 2 rows x 1 columns" in ds.summary()
    with pytest.raises(InputError, match=r"not JSON-able"):
        Dataset(main, {}, {"bad": object()})
    with pytest.raises(InputError, match=r"not JSON-able"):
        Dataset(main, {}, {"bad": float("nan")})
    with pytest.raises(InputError, match=r"non-empty strings"):
        Dataset(main, {"": main})
    with pytest.raises(InputError, match=r"codes outside"):
        Dataset(main, {}, {"categories": {"kind": ["a"]}}).labels("kind")
