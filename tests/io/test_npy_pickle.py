""".npy arrays with names=, npz holding one 2D array, and pandas pickles behind allow_pickle."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hepsqueeze.errors import ConfigError, InputError
from hepsqueeze.io import Table, read_dataset, read_table, write_table


def test_npy_2d_needs_names(tmp_path: Path) -> None:
    data = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.save(tmp_path / "a.npy", data)
    with pytest.raises(
        InputError, match=r"shape \(4, 3\) without column names; give its 3 column name\(s\) \(names="
    ):
        read_table(tmp_path / "a.npy")
    t = read_table(tmp_path / "a.npy", names=["E", "pt", "eta"])
    assert t.names == ("E", "pt", "eta")
    np.testing.assert_array_equal(t["pt"], data[:, 1])
    assert read_table(tmp_path / "a.npy", names="E, pt,eta", columns=["eta"]).names == ("eta",)
    with pytest.raises(InputError, match=r"3 column\(s\) but 2 names"):
        read_table(tmp_path / "a.npy", names=["E", "pt"])
    with pytest.raises(InputError, match=r"repeat"):
        read_table(tmp_path / "a.npy", names=["E", "E", "pt"])
    with pytest.raises(ConfigError, match=r"option 'names' for npy"):
        read_table(tmp_path / "a.npy", names=[1, 2, 3])
    np.save(tmp_path / "c.npy", np.zeros((2, 2, 2)))
    with pytest.raises(InputError, match=r"only 1D and 2D"):
        read_table(tmp_path / "c.npy", names=["a", "b"])


def test_npy_write_round_trips(tmp_path: Path) -> None:
    same = Table({"a": np.arange(3.0), "b": np.ones(3)})
    write_table(same, tmp_path / "same.npy")
    assert np.load(tmp_path / "same.npy").shape == (3, 2)
    back = read_table(tmp_path / "same.npy", names=["a", "b"])
    np.testing.assert_array_equal(back["a"], same["a"])
    mixed = Table({"event": np.arange(3), "pt": np.ones(3, np.float32), "ok": np.array([True, False, True])})
    write_table(mixed, tmp_path / "mixed.npy")
    back = read_table(tmp_path / "mixed.npy")  # a structured array names its fields
    assert back.names == mixed.names
    assert [back[n].dtype for n in back.names] == [mixed[n].dtype for n in mixed.names]
    assert read_table(tmp_path / "mixed.npy", names=["e", "p", "o"]).names == ("e", "p", "o")


def test_npy_object_array_is_not_unpickled(tmp_path: Path) -> None:
    np.save(tmp_path / "o.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match=r"object array"):
        read_table(tmp_path / "o.npy", names=["x"])


def test_npz_with_one_2d_array(tmp_path: Path) -> None:
    np.savez(tmp_path / "one.npz", np.arange(6.0).reshape(3, 2))
    t = read_table(tmp_path / "one.npz", names=["x", "y"])
    np.testing.assert_array_equal(t["y"], [1.0, 3.0, 5.0])
    np.savez(tmp_path / "two.npz", x=np.zeros(2), y=np.ones(2))
    with pytest.raises(InputError, match=r"holds 2 arrays"):
        read_table(tmp_path / "two.npz", names=["a", "b"])


class _Trap:
    """Unpickling this object creates a file: evidence that code from a pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (str(self.marker),))


def test_pickle_needs_allow_pickle(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    frame = pd.DataFrame(
        {"E": np.arange(3, dtype=np.float32), "pt": [1.0, 2.0, 3.0], "n": pd.array([1, 2, 3], "Int64")}
    )
    frame.to_pickle(tmp_path / "jets.pkl")
    with pytest.raises(InputError, match=r"runs code from the file.*allow_pickle=True"):
        read_table(tmp_path / "jets.pkl")
    with caplog.at_level(logging.WARNING):
        t = read_table(tmp_path / "jets.pkl", allow_pickle=True)
    assert "unpickling" in caplog.text
    assert t.names == ("E", "pt", "n")
    assert t["E"].dtype == np.float32
    assert t["n"].dtype == np.int64
    assert read_dataset(tmp_path / "jets.pkl", allow_pickle=True).format == "pickle"
    # Without allow_pickle nothing in the file runs.
    marker = tmp_path / "ran"
    (tmp_path / "trap.pkl").write_bytes(pickle.dumps(_Trap(marker)))
    with pytest.raises(InputError, match=r"allow_pickle=True"):
        read_table(tmp_path / "trap.pkl")
    assert not marker.exists()
    # With it, a pickle that is not a DataFrame is rejected after loading.
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(InputError, match=r"pickled list, not a pandas DataFrame"):
        read_table(tmp_path / "list.pkl", allow_pickle=True)


def test_pickle_with_missing_values_and_other_formats(tmp_path: Path) -> None:
    pd.DataFrame({"n": pd.array([1, None], "Int64")}).to_pickle(tmp_path / "na.pkl")
    with pytest.raises(InputError, match=r"column 'n' .* 1 missing"):
        read_table(tmp_path / "na.pkl", allow_pickle=True)
    # allow_pickle is harmless for formats that never unpickle; None options count as not given.
    path = write_table(Table({"a": np.zeros(2)}), tmp_path / "a.parquet")
    assert read_table(path, allow_pickle=True, tree=None, names=None).names == ("a",)
    with pytest.raises(ConfigError, match=r"unknown option 'tree' for reading parquet"):
        read_table(path, tree="Events")
    write_table(Table({"a": np.zeros(2)}), tmp_path / "b.parquet", tree=None)
    with pytest.raises(ConfigError, match=r"unknown option 'tree' for writing parquet"):
        write_table(Table({"a": np.zeros(2)}), tmp_path / "c.parquet", tree="Events")
    with pytest.raises(ConfigError, match=r"'pickle' can be read but not written"):
        write_table(Table({"a": np.zeros(2)}), tmp_path / "a.pkl")
