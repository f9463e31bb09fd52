"""Sizes a file claims are checked before allocating; layouts are checked by type (issue 14)."""

from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hepsqueeze.errors import ColumnError, ConfigError, HepsqueezeError, InputError
from hepsqueeze.io import Dataset, Table, detect_format, read_dataset, read_table, write_dataset, write_table
from hepsqueeze.io.layout import MAX_SIGNIFICANT_DIGITS, check_layout, check_number_format
from hepsqueeze.io.limits import MAX_DECOMPRESSED_BYTES_ENV, max_decompressed_bytes

DM_LINES = (
    "1;ttbar;1;52730.2;-1.2;j,261543,190334,-0.795,0.483;b,145120,121021,0.532,-2.51;\n"
    "2;z;0.5;10101.1;3.1;e-,50000,40000,0.1,0.2;\n"
)


def npy_bytes(header: str, body: bytes = b"") -> bytes:
    text = header.encode("latin1")
    text += b" " * (64 - (10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + body


# -- .npy and .npz ----------------------------------------------------------------------------------


def test_npy_header_claiming_1_46_tib_is_refused_before_allocating(tmp_path: Path) -> None:
    path = tmp_path / "bomb.npy"
    path.write_bytes(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (200000000000,), }"))
    assert path.stat().st_size == 128
    with pytest.raises(
        InputError, match=r"claims shape \(200000000000,\).*1600000000000 bytes.*0 bytes follow"
    ):
        read_table(path, names=["E"])


@pytest.mark.parametrize(
    ("header", "body", "match"),
    [
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", b"\0" * 15, "15 bytes follow"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", b"\0" * 17, "17 bytes follow"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (4,)", b"", "not a Python dict literal"),
        ("{'descr': " + "(" * 3000 + "'<f8'" + ")" * 3000 + ", 'shape': (4,), }", b"", "dict literal"),
        ("{'descr': 'x9', 'fortran_order': False, 'shape': (4,), }", b"", "invalid dtype"),
        ("{'descr': '<f4', 'fortran_order': 1, 'shape': (4,), }", b"", "fortran_order"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", b"", "shape"),
        ("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", b"\0" * 8, "object array"),
        ("{'descr': '|V0', 'fortran_order': False, 'shape': (1000000000000,), }", b"", "no bytes per value"),
    ],
)  # fmt: skip
def test_malformed_npy_headers_are_input_errors(tmp_path: Path, header: str, body: bytes, match: str) -> None:
    path = tmp_path / "x.npy"
    path.write_bytes(npy_bytes(header, body))
    with pytest.raises(InputError, match=match):
        read_table(path, names=["E"])


def test_npy_round_trips_still_work(tmp_path: Path) -> None:
    x = np.arange(12, dtype=">f8").reshape(3, 4)
    np.save(tmp_path / "a.npy", x)
    np.save(tmp_path / "f.npy", np.asfortranarray(x))
    for name in ("a.npy", "f.npy"):
        t = read_table(tmp_path / name, names="a,b,c,d")
        np.testing.assert_array_equal(t.stack(t.names, np.float64), x)


def _zip_with(member: str, data: bytes, declared: int | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member, data)
    raw = bytearray(buffer.getvalue())
    if declared is not None:  # patch the uncompressed size in the local and central headers
        struct.pack_into("<I", raw, 22, declared)
        central = raw.rfind(b"PK\x01\x02")
        struct.pack_into("<I", raw, central + 24, declared)
    return bytes(raw)


def test_npz_member_sizes_are_checked_against_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    array = npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (131072,), }", bytes(1 << 20))
    path = tmp_path / "zeros.npz"
    path.write_bytes(_zip_with("E.npy", array))
    assert path.stat().st_size < 5000  # 1 MiB of zeros
    assert read_table(path).num_rows == 131072
    monkeypatch.setenv(MAX_DECOMPRESSED_BYTES_ENV, str(1 << 19))
    with pytest.raises(InputError, match=r"claims 1048704 bytes .*limit.*HEPSQUEEZE_MAX_DECOMPRESSED_BYTES"):
        read_table(path)


def test_npz_member_whose_header_claims_more_than_its_size(tmp_path: Path) -> None:
    array = npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (137438953472,), }", bytes(64))
    path = tmp_path / "liar.npz"
    path.write_bytes(_zip_with("E.npy", array))
    with pytest.raises(InputError, match=r"column 'E'.*1099511627776 bytes\) but 64 bytes follow"):
        read_table(path)


def test_npz_member_declaring_a_huge_size(tmp_path: Path) -> None:
    array = npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", bytes(32))
    path = tmp_path / "declared.npz"
    path.write_bytes(_zip_with("E.npy", array, declared=0xFFFFFFF0))
    with pytest.raises(HepsqueezeError):
        read_table(path)


def test_limit_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAX_DECOMPRESSED_BYTES_ENV, raising=False)
    assert max_decompressed_bytes() == 4 << 30
    monkeypatch.setenv(MAX_DECOMPRESSED_BYTES_ENV, "12345")
    assert max_decompressed_bytes() == 12345
    for bad in ("-1", "0", "4G"):
        monkeypatch.setenv(MAX_DECOMPRESSED_BYTES_ENV, bad)
        with pytest.raises(ConfigError, match=MAX_DECOMPRESSED_BYTES_ENV):
            max_decompressed_bytes()


# -- HDF5 and Parquet -------------------------------------------------------------------------------


def test_hdf5_dataset_claiming_2_tib_in_a_small_file(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "claims.h5"
    with h5py.File(path, "w") as fh:
        fh.create_dataset("E", shape=(1 << 38,), dtype="<f8", chunks=(1 << 16,), compression="gzip")
    assert path.stat().st_size < 10_000
    with pytest.raises(InputError, match=r"claims 2199023255552 bytes.*limit"):
        read_table(path)


def test_duplicate_parquet_column_names_are_column_errors(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hepsqueeze.io.parquet_stream import parquet_batches

    path = tmp_path / "dup.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array([1.0]), pa.array([2.0])], names=["pt", "pt"]), path)
    for read in (lambda: read_table(path), lambda: read_dataset(path), lambda: parquet_batches(path, 10)):
        with pytest.raises(ColumnError, match=rf"column name 'pt' appears more than once in {path}"):
            read()


def test_parquet_read_checks_the_claimed_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_table(Table({"a": np.zeros(1000), "b": np.zeros(1000, np.int8)}), tmp_path / "t.parquet")
    monkeypatch.setenv(MAX_DECOMPRESSED_BYTES_ENV, "8000")
    with pytest.raises(InputError, match=r"1000 rows of 2 column\(s\) claims 9000 bytes"):
        read_table(path)
    assert read_table(path, columns=["a"]).num_rows == 1000


# -- sources: devices, FIFOs, binary data -----------------------------------------------------------


def test_character_devices_and_fifos_are_not_regular_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"'/dev/urandom' is a character device, not a regular file"):
        read_table("/dev/urandom", format="csv")
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"is a FIFO \(named pipe\), not a regular file"):
        read_dataset(fifo)


def test_binary_garbage_is_not_csv(tmp_path: Path) -> None:
    path = tmp_path / "garbage.csv"
    path.write_bytes(b"a,b\n1,2\n\x00\xff\xfe" + np.random.default_rng(0).bytes(300))
    with pytest.raises(InputError, match=r"holds binary data, not CSV text \(byte 8 "):
        read_table(path)


def test_csv_first_line_beyond_the_field_limit(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("a" * 200_000 + "\n1\n")
    with pytest.raises(InputError, match="header row"):
        read_table(path)


# -- DarkMachines: detection and layouts ------------------------------------------------------------


def test_darkmachines_first_line_over_64_kib_is_still_darkmachines(tmp_path: Path) -> None:
    objects = ";".join(["j,261543,190334,-0.795,0.483"] * 3000)
    path = tmp_path / "long.csv"
    path.write_text(f"1;ttbar;1;52730.2;-1.2;{objects};\n" + DM_LINES.splitlines(keepends=True)[1])
    assert len(path.read_text().splitlines()[0]) > 1 << 16
    assert detect_format(path) == "darkmachines"
    ds = read_dataset(path)
    assert ds.table.num_rows == 3001
    out = write_dataset(ds, tmp_path / "back.csv")
    assert out.read_bytes() == path.read_bytes()


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        ({"number_formats": {"E": "f100000000"}}, "'f100000000' is not a number format"),
        ({"number_formats": {"E": "g18"}}, "1 to 17 significant digits"),
        ({"number_formats": {"E": "f21"}}, "more than 20 decimals"),
        ({"number_formats": {"E": 6}}, "must be a string"),
        ({"number_formats": "g6"}, "key 'number_formats' must be a JSON object, not str"),
        ({"newline": "\n\n"}, "key 'newline'"),
        ({"blank_lines": ["a"]}, "key 'blank_lines'"),
        ({"semicolon_exceptions": [-1]}, "key 'semicolon_exceptions'"),
        ({"trailing_semicolon": "yes"}, "key 'trailing_semicolon'"),
        ({"categories": {"object": "jb"}}, "key 'categories.object' must be a list"),
    ],
)
def test_bad_darkmachines_layouts_are_input_errors(tmp_path: Path, edit: dict[str, Any], match: str) -> None:
    path = tmp_path / "dm.csv"
    path.write_text(DM_LINES)
    ds = read_dataset(path)
    layout = {**ds.layout, **edit}
    with pytest.raises(InputError, match=match):
        write_dataset(Dataset(ds.table, ds.aux, layout), tmp_path / "out.csv")


def test_layout_must_be_an_object() -> None:
    t = Table({"a": np.arange(2)})
    for bad in ("x", [1], 3):
        with pytest.raises(InputError, match=r"layout of .* must be a JSON object"):
            Dataset(t, {}, bad)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="key 'format' must be a string"):
        check_layout({"format": 1}, "f.hsqz")
    assert check_layout({"format": "x", "anything": [1, {"b": None}]}, "f.hsqz")["anything"][0] == 1


def test_number_formats() -> None:
    for good in ("g1", f"g{MAX_SIGNIFICANT_DIGITS}", "f0", "f20", "r"):
        assert check_number_format(good, "f") == good
    for bad in ("g0", "g18", "f21", "e6", "g", "f-1", "g06x", "rr"):
        with pytest.raises(InputError):
            check_number_format(bad, "f")


# -- ROOT layouts ------------------------------------------------------------------------------------


@pytest.fixture
def nano(tmp_path: Path) -> Dataset:
    ak = pytest.importorskip("awkward")
    uproot = pytest.importorskip("uproot")
    path = tmp_path / "nano.root"
    with uproot.recreate(path) as file:
        tree = file.mktree(
            "Events", {"run": np.int32, "Jet_pt": "var * float32"}, counter_name=lambda name: "nJet"
        )
        tree.extend({"run": np.array([1, 1, 2], np.int32), "Jet_pt": ak.Array([[5.0, 3.0], [], [2.5]])})
    return read_dataset(path, columns=["Jet_pt"])


def test_root_layout_claiming_2_31_entries(nano: Dataset, tmp_path: Path) -> None:
    layout = dict(nano.layout)
    layout["num_entries"] = 1 << 31
    with pytest.raises(InputError, match=r"branch 'run' .* has 3 entries, not 2147483648"):
        write_dataset(Dataset(nano.table, nano.aux, layout), tmp_path / "out.root")
    layout["branches"] = [b for b in layout["branches"] if b["kind"] != "flat"]
    with pytest.raises(InputError, match=r"a tree of 2147483648 entries .* claims 8589934592 bytes"):
        write_dataset(Dataset(nano.table, {}, layout), tmp_path / "out.root")


def test_root_trailing_empty_entries_are_written_in_chunks(nano: Dataset, tmp_path: Path) -> None:
    uproot = pytest.importorskip("uproot")
    layout = dict(nano.layout)
    layout["branches"] = [b for b in layout["branches"] if b["kind"] != "flat"]
    layout["num_entries"] = 250_003  # three chunks of EXTEND_ENTRIES, almost all empty
    out = write_dataset(Dataset(nano.table, {}, layout), tmp_path / "out.root")
    with uproot.open(out) as file:
        counts = file["Events"]["nJet"].array(library="np")
    assert counts.shape == (250_003,)
    assert counts[:3].tolist() == [2, 0, 1]
    assert int(counts.sum()) == 3


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        ({"num_entries": -1}, "key 'num_entries'"),
        ({"num_entries": "3"}, "key 'num_entries'"),
        ({"collections": [1]}, "key 'collections' must be a JSON object"),
        ({"branches": "run"}, "key 'branches' must be a list"),
        ({"other_objects": [1]}, "key 'other_objects'"),
        ({"tree": None}, "key 'tree'"),
    ],
)
def test_bad_root_layouts_are_input_errors(
    nano: Dataset, tmp_path: Path, edit: dict[str, Any], match: str
) -> None:
    with pytest.raises(InputError, match=match):
        Dataset(nano.table, nano.aux, {**nano.layout, **edit})


@pytest.mark.parametrize(
    ("branch", "match"),
    [
        ({"dtype": "|O"}, "not a numeric dtype"),
        ({"dtype": "(65536,65536)f8"}, "not a numpy dtype"),
        ({"dtype": "nonsense"}, "not a numpy dtype"),
        ({"kind": "weird"}, "kind"),
        ({"shape": [65536, 65536]}, "more than 65536 elements"),
        ({"name": 3}, "name"),
    ],
)
def test_bad_root_branches_are_input_errors(nano: Dataset, branch: dict[str, Any], match: str) -> None:
    layout = dict(nano.layout)
    layout["branches"] = [{**layout["branches"][0], **branch}, *layout["branches"][1:]]
    with pytest.raises(InputError, match=match):
        Dataset(nano.table, nano.aux, layout)


def test_hdf5_driver_information_block_is_refused(tmp_path: Path) -> None:
    """Found by fuzzing: a driver-info address in a 3 kB file made HDF5 take 4 GB while opening it."""
    pytest.importorskip("h5py")
    path = write_table(Table({"a": np.arange(3.0)}), tmp_path / "t.h5")
    data = bytearray(path.read_bytes())
    assert data[:8] == b"\x89HDF\r\n\x1a\n"
    assert data[8] == 0  # superblock version 0: the driver-info address is at byte 48
    assert data[48:56] == b"\xff" * 8
    data[48:56] = struct.pack("<Q", 115)
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="driver information block"):
        read_table(path)


def test_root_directory_claiming_2_31_keys_is_refused_quickly(tmp_path: Path) -> None:
    """Found by fuzzing: uproot looped over a claimed 2**31 keys for minutes on a 3 kB file."""
    uproot = pytest.importorskip("uproot")
    path = tmp_path / "keys.root"
    with uproot.recreate(path) as file:
        file.mktree("t", {"a": np.float64}).extend({"a": np.arange(3.0)})
    with uproot.open(path) as file:
        seek = int(file.file.root_directory._fSeekKeys)
    data = bytearray(path.read_bytes())
    (keylen,) = struct.unpack_from(">H", data, seek + 14)  # after fNbytes, fVersion, fObjlen, fDatime
    struct.pack_into(">i", data, seek + keylen, 0x7FFFFFFF)
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"claims 2147483647 keys"):
        read_table(path)
