"""The file layer's public helpers: unique section names, run lengths, regrouping a stream into
chunks, the exception stream's names and bit dtypes, column digests."""

from __future__ import annotations

import numpy as np
import pytest

from hepsqueeze.errors import InputError
from hepsqueeze.file.columns import rechunk, run_lengths, unique_name
from hepsqueeze.file.digest import column_digest, table_digests
from hepsqueeze.file.exceptions import bits_dtype, exception_names
from hepsqueeze.io.table import Table


def test_unique_names_are_primed_until_free() -> None:
    taken = {"E", "E'"}
    assert unique_name("E", taken) == "E''"
    assert unique_name("pt", taken) == "pt"
    assert taken == {"E", "E'", "E''", "pt"}
    assert exception_names("E", taken) == ("E#exceptions/rows", "E#exceptions/values")
    assert exception_names("E", taken) == ("E#exceptions/rows'", "E#exceptions/values'")


def test_run_lengths() -> None:
    values, lengths = run_lengths(np.array([3, 3, 3, 5, 7, 7], dtype=np.int64))
    assert values.tolist() == [3, 5, 7]
    assert lengths.tolist() == [3, 1, 2]
    assert lengths.dtype == np.uint32
    empty_values, empty_lengths = run_lengths(np.empty(0, np.int32))
    assert (empty_values.dtype, empty_values.size, empty_lengths.size) == (np.int32, 0, 0)


def test_rechunk_regroups_batches_of_any_size() -> None:
    t = Table({"a": np.arange(10, dtype=np.int64), "b": np.linspace(0, 1, 10)})
    schema = {n: t[n].dtype for n in t.names}
    batches = [t.slice(0, 3), t.slice(3, 3), t.slice(3, 9), t.slice(9, 10)]
    chunks = list(rechunk(batches, 4, schema, "s"))
    assert [c.num_rows for c in chunks] == [4, 4, 2]
    assert np.array_equal(np.concatenate([c["a"] for c in chunks]), t["a"])
    with pytest.raises(InputError, match=r"a batch of s has columns \(a int64\), not the announced schema"):
        list(rechunk([t.select(["a"])], 4, schema, "s"))


def test_bits_dtype_and_digests() -> None:
    assert [bits_dtype(np.dtype(d)).str for d in ("<f2", "<f4", "<f8", "|b1", "|i1")] == [
        "<u2",
        "<u4",
        "<u8",
        "|u1",
        "|u1",
    ]
    x = np.array([0.0, 1.5, np.nan], dtype="<f4")
    assert column_digest(x) == column_digest(x.astype(">f4"))  # any byte order in memory
    assert column_digest(x) != column_digest(np.array([-0.0, 1.5, np.nan], dtype="<f4"))  # the bits count
    assert table_digests(Table({"x": x})) == {"x": column_digest(x)}
