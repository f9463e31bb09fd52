"""Round trips and error reporting of hepsqueeze.io readers and writers."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hepsqueeze.errors import (
    ColumnError,
    ConfigError,
    HepsqueezeError,
    InputError,
    InputFileNotFoundError,
    OutputExistsError,
)
from hepsqueeze.io import FORMATS, Table, detect_format, input_size_bytes, read_table, write_table

EXACT = ["parquet", "npz", "hdf5"]
EXT = {"parquet": ".parquet", "csv": ".csv", "npz": ".npz", "hdf5": ".h5"}


def mixed(rows: int = 5) -> Table:
    rng = np.random.default_rng(rows)
    return Table(
        {
            "pt": rng.standard_normal(rows).astype(np.float32) * np.float32(1e3),
            "eta": rng.standard_normal(rows),
            "n_jets": rng.integers(-5, 5, rows, dtype=np.int64),
            "charge": rng.integers(-1, 2, rows).astype(np.int8),
            "run": rng.integers(0, 60000, rows).astype(np.uint16),
            "is_mu": rng.random(rows) < 0.5,
            "half": rng.standard_normal(rows).astype(np.float16),
        },
        source="mixed",
    )


def assert_same(a: Table, b: Table) -> None:
    assert a.names == b.names
    for name in a.names:
        assert a[name].dtype == b[name].dtype, name
        np.testing.assert_array_equal(a[name], b[name])


@pytest.mark.parametrize("fmt", EXACT)
@pytest.mark.parametrize("rows", [5, 0])
def test_exact_round_trip(tmp_path: Path, fmt: str, rows: int) -> None:
    table = mixed(rows)
    out = write_table(table, tmp_path / f"t{EXT[fmt]}")
    assert out == tmp_path / f"t{EXT[fmt]}"
    back = read_table(out)
    assert_same(table, back)
    assert back.source == str(out)


def test_csv_round_trip_documented_changes(tmp_path: Path) -> None:
    table = Table(
        {
            "f32": np.array([0.1, 2.0, np.nan, np.inf, -3.5e-30], np.float32),
            "f64": np.array([0.1, 2.0, -np.inf, 1e300, 5e-324]),
            "i8": np.array([1, -2, 3, 4, 5], np.int8),
            "b": np.array([True, False, True, True, False]),
        }
    )
    path = write_table(table, tmp_path / "t.csv")
    back = read_table(path)
    assert back.names == table.names
    assert [back[n].dtype for n in back.names] == [np.float64, np.float64, np.int64, np.bool_]
    np.testing.assert_array_equal(back["f64"], table["f64"])  # float64: exact
    np.testing.assert_array_equal(back["f32"].astype(np.float32), table["f32"])  # exact after casting
    np.testing.assert_array_equal(back["i8"], table["i8"])
    np.testing.assert_array_equal(back["b"], table["b"])
    as32 = read_table(path, columns=["f32", "i8"], float_dtype="float32")
    assert as32["f32"].dtype == np.float32
    assert as32["i8"].dtype == np.int64
    np.testing.assert_array_equal(as32["f32"], table["f32"])
    with pytest.raises(InputError, match=r"column 'f64' .* beyond the float32 range"):
        read_table(path, float_dtype="float32")
    with pytest.raises(ConfigError, match=r"float_dtype"):
        read_table(path, float_dtype="float16")


def test_csv_integral_floats_stay_floats(tmp_path: Path) -> None:
    path = write_table(Table({"x": np.array([0.0, 2.0, -3.0])}), tmp_path / "t.csv")
    assert path.read_text().splitlines() == ["x", "0.0", "2.0", "-3.0"]
    assert read_table(path)["x"].dtype == np.float64


def test_csv_empty_table_reads_as_float(tmp_path: Path) -> None:
    path = write_table(mixed(0), tmp_path / "t.csv")
    back = read_table(path)
    assert back.names == mixed(0).names
    assert all(back[n].dtype == np.float64 and len(back[n]) == 0 for n in back.names)


def test_csv_quoted_header_and_delimiter(tmp_path: Path) -> None:
    table = Table({'a,"b': np.arange(3), "c d": np.ones(3)})
    path = write_table(table, tmp_path / "t.csv")
    assert_same(Table({'a,"b': np.arange(3), "c d": np.ones(3)}), read_table(path))
    semi = write_table(table, tmp_path / "s.csv", delimiter=";")
    assert semi.read_text().splitlines()[1] == "0;1.0"
    assert read_table(semi, delimiter=";").names == table.names


@pytest.mark.parametrize("fmt", [*EXACT, "csv"])
def test_column_selection_order(tmp_path: Path, fmt: str) -> None:
    path = write_table(mixed(), tmp_path / f"t{EXT[fmt]}")
    back = read_table(path, columns=["is_mu", "pt"])
    assert back.names == ("is_mu", "pt")
    np.testing.assert_array_equal(back["is_mu"], mixed()["is_mu"])
    assert read_table(path, columns=[]).names == ()


@pytest.mark.parametrize("fmt", [*EXACT, "csv"])
def test_missing_column_names_nearest(tmp_path: Path, fmt: str) -> None:
    path = write_table(mixed(), tmp_path / f"t{EXT[fmt]}")
    with pytest.raises(ColumnError, match=r"'pz' not found in .*t\..*did you mean 'pt'"):
        read_table(path, columns=["pt", "pz"])


def test_column_requested_twice_or_as_string(tmp_path: Path) -> None:
    path = write_table(mixed(), tmp_path / "t.npz")
    with pytest.raises(ColumnError, match=r"more than once"):
        read_table(path, columns=["pt", "pt"])
    with pytest.raises(ConfigError, match=r"list of names"):
        read_table(path, columns="pt")


def test_explicit_format_and_aliases(tmp_path: Path) -> None:
    path = write_table(mixed(), tmp_path / "data.bin", format="npz")
    assert_same(mixed(), read_table(path, format="npz"))
    assert detect_format(path, "PQ") == "parquet"
    assert detect_format(path, ".h5") == "hdf5"
    assert detect_format(tmp_path / "X.HDF5") == "hdf5"
    assert FORMATS["parquet"] == (".parquet", ".pq")
    assert set(FORMATS) >= {"parquet", "csv", "npz", "hdf5"}
    with pytest.raises(ConfigError, match=r"unknown format 'feather'.*parquet"):
        read_table(path, format="feather")


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("a\n1\n")
    with pytest.raises(
        InputError, match=r"data\.txt.*known formats: parquet \(\.parquet, \.pq\).*format=\.\.\."
    ):
        read_table(path)
    with pytest.raises(InputError, match=r"format=\.\.\."):
        write_table(mixed(), tmp_path / "out.dat")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileNotFoundError, match=r"nope.parquet"):
        read_table(tmp_path / "nope.parquet")
    with pytest.raises(FileNotFoundError):
        input_size_bytes(tmp_path / "nope.parquet")
    with pytest.raises(InputError, match=r"directory"):
        read_table(tmp_path)


def test_input_size_bytes(tmp_path: Path) -> None:
    path = write_table(mixed(100), tmp_path / "t.npz")
    assert input_size_bytes(path) == path.stat().st_size > 0


@pytest.mark.parametrize("fmt", [*EXACT, "csv"])
@pytest.mark.parametrize("content", [b"", b"\x89garbage" * 50])
def test_corrupt_file_is_input_error(tmp_path: Path, fmt: str, content: bytes) -> None:
    path = tmp_path / f"bad{EXT[fmt]}"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"bad\.") as info:
        read_table(path)
    assert "\n" not in str(info.value)


def test_truncated_npz_and_parquet(tmp_path: Path) -> None:
    for ext in (".npz", ".parquet"):
        good = write_table(mixed(1000), tmp_path / f"t{ext}")
        data = good.read_bytes()
        bad = tmp_path / f"cut{ext}"
        bad.write_bytes(data[: len(data) // 2] + data[-30:])
        with pytest.raises(InputError, match=r"cut"):
            read_table(bad)


def test_csv_errors_name_the_line(tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n1,2,3\n")
    with pytest.raises(InputError, match=r"ragged\.csv.*Row #3"):
        read_table(ragged)
    text = tmp_path / "text.csv"
    text.write_text("a,b\n1,2\n2,x\n")
    with pytest.raises(InputError, match=r"column 'b' in .*text\.csv holds text, e.g. 'x' on line 3"):
        read_table(text)
    gaps = tmp_path / "gaps.csv"
    gaps.write_text("a,b\n1,2\n2,\n")
    with pytest.raises(InputError, match=r"column 'b' .* 1 empty cell\(s\), the first on line 3"):
        read_table(gaps)
    nan = tmp_path / "nan.csv"
    nan.write_text("a\nnan\n-inf\n")
    assert np.isnan(read_table(nan)["a"][0])


def test_npz_shape_length_and_dtype_errors(tmp_path: Path) -> None:
    two_d = tmp_path / "2d.npz"
    np.savez(two_d, a=np.zeros(3), jets=np.zeros((3, 2)))
    with pytest.raises(InputError, match=r"column 'jets' .* shape \(3, 2\)"):
        read_table(two_d)
    assert read_table(two_d, columns=["a"]).names == ("a",)
    uneven = tmp_path / "uneven.npz"
    np.savez(uneven, a=np.zeros(3), b=np.zeros(4))
    with pytest.raises(InputError, match=r"column 'b' .* 4 rows but column 'a' has 3"):
        read_table(uneven)
    text = tmp_path / "text.npz"
    np.savez(text, a=np.zeros(2), name=np.array(["x", "y"]))
    with pytest.raises(InputError, match=r"column 'name' .* text"):
        read_table(text)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, a=np.zeros(2), obj=np.array([{}, None], dtype=object))
    with pytest.raises(InputError, match=r"column 'obj' .* object array"):
        read_table(pickled)


def test_npz_awkward_names_and_byte_order(tmp_path: Path) -> None:
    table = Table({"file": np.arange(2), "x.npy": np.ones(2), "x": np.zeros(2), "allow_pickle": np.ones(2)})
    assert_same(table, read_table(write_table(table, tmp_path / "t.npz")))
    big = tmp_path / "big.npz"
    np.savez(big, x=np.arange(3, dtype=">f8"))
    back = read_table(big)["x"]
    assert back.dtype == np.float64
    assert back.dtype.isnative
    np.testing.assert_array_equal(back, [0.0, 1.0, 2.0])


def test_npz_compression(tmp_path: Path) -> None:
    table = Table({"z": np.zeros(10_000)})
    small = write_table(table, tmp_path / "c.npz", compression="deflate")
    plain = write_table(table, tmp_path / "p.npz")
    assert small.stat().st_size < plain.stat().st_size
    assert_same(table, read_table(small))
    with zipfile.ZipFile(small) as zf:
        assert zf.namelist() == ["z.npy"]
    with pytest.raises(ConfigError, match=r"npz compression"):
        write_table(table, tmp_path / "x.npz", compression="lzma")


def test_hdf5_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as fh:
        fh["a"] = np.zeros(3)
        fh["b"] = np.zeros(4)
        fh["m"] = np.zeros((3, 3))
        fh["s"] = np.array([b"x", b"y", b"z"])
        fh.create_group("sub")["c"] = np.zeros(3)
    with pytest.raises(InputError, match=r"column 'b' .* 4 rows but column 'a' has 3"):
        read_table(path, columns=["a", "b"])
    with pytest.raises(InputError, match=r"column 'm' .* shape \(3, 3\)"):
        read_table(path, columns=["m"])
    with pytest.raises(InputError, match=r"column 's' .* bytes"):
        read_table(path, columns=["s"])
    assert read_table(path, group="sub").names == ("c",)
    with pytest.raises(InputError, match=r"group 'nope' not found .*bad\.h5.*sub"):
        read_table(path, group="nope")
    with pytest.raises(InputError, match=r"is not a group"):
        read_table(path, group="a")


def test_hdf5_group_option(tmp_path: Path) -> None:
    path = write_table(mixed(), tmp_path / "g.hdf5", group="events/reco", compression="gzip")
    assert_same(mixed(), read_table(path, group="/events/reco"))
    with pytest.raises(InputError, match=r"no datasets.*subgroups: events.*group="):
        read_table(path)
    with pytest.raises(InputError, match=r"column name 'a/b' .* HDF5"):
        write_table(Table({"a/b": np.zeros(1)}), tmp_path / "slash.h5")
    assert not (tmp_path / "slash.h5").exists()
    with pytest.raises(InputError, match=r"column name 'a\\x00' .* HDF5"):
        write_table(Table({"a\x00": np.zeros(1)}), tmp_path / "nul.h5")
    with pytest.raises(InputError, match=r"column name 'a\\x00' .* npz"):
        write_table(Table({"a\x00": np.zeros(1)}), tmp_path / "nul.npz")


def test_parquet_nulls_strings_and_pandas_index(tmp_path: Path) -> None:
    path = tmp_path / "n.parquet"
    pq.write_table(pa.table({"a": [1, None, 3], "s": ["x", "y", "z"]}), path)
    with pytest.raises(InputError, match=r"column 'a' .* 1 missing"):
        read_table(path, columns=["a"])
    with pytest.raises(InputError, match=r"column 's' .* type string"):
        read_table(path, columns=["s"])
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"x": [1.5, 2.5]}, index=pd.Index([10, 20], name="event"))
    frame.to_parquet(tmp_path / "pd.parquet")
    back = read_table(tmp_path / "pd.parquet")
    assert back.names == ("x",)


def test_parquet_compression_option(tmp_path: Path) -> None:
    path = write_table(mixed(), tmp_path / "z.pq", compression="zstd")
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
    assert_same(mixed(), read_table(path))
    with pytest.raises(ConfigError, match=r"compression 'bogus'"):
        write_table(mixed(), tmp_path / "b.pq", compression="bogus")
    assert not (tmp_path / "b.pq").exists()


def test_unknown_and_mistyped_options(tmp_path: Path) -> None:
    path = write_table(mixed(), tmp_path / "t.h5")
    with pytest.raises(ConfigError, match=r"unknown option 'gruop' for reading hdf5; known options: group"):
        read_table(path, gruop="x")
    with pytest.raises(ConfigError, match=r"option 'group' for hdf5 must be str"):
        read_table(path, group=3)
    with pytest.raises(ConfigError, match=r"known options: none"):
        read_table(tmp_path / "t.h5", format="parquet", group="x")


@pytest.mark.parametrize("fmt", [*EXACT, "csv"])
def test_no_overwrite_without_force(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"t{EXT[fmt]}"
    path.write_bytes(b"keep")
    with pytest.raises(OutputExistsError, match=r"overwriting was not asked for"):
        write_table(mixed(), path)
    assert path.read_bytes() == b"keep"
    write_table(mixed(), path, force=True)
    assert read_table(path).names == mixed().names


@pytest.mark.parametrize("fmt", [*EXACT, "csv"])
def test_failed_write_leaves_nothing(tmp_path: Path, fmt: str) -> None:
    bad: dict[str, Any] = {"a": np.zeros(2), "name": np.array(["x", "y"])}
    with pytest.raises(InputError, match=r"column 'name' .* text"):
        write_table(Table(bad), tmp_path / f"t{EXT[fmt]}")
    with pytest.raises(InputError, match=r"no columns"):
        write_table(Table({}), tmp_path / f"t{EXT[fmt]}")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_existing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_table(mixed(), tmp_path / "t.npz")
    before = path.read_bytes()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ValueError("boom")

    monkeypatch.setattr(np.lib.format, "write_array", broken)
    with pytest.raises(
        InputError, match=r"cannot write table from mixed to .*t\.npz' as npz: ValueError: boom"
    ):
        write_table(mixed(), path, force=True)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.npz"]


def test_all_errors_are_hepsqueeze_errors(tmp_path: Path) -> None:
    path = tmp_path / "x.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)  # valid signature, broken superblock
    with pytest.raises(HepsqueezeError):
        read_table(path)
