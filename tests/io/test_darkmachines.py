"""DarkMachines CSV: detection, byte-exact round trips, GeV tables, line-numbered errors."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hepsqueeze.api import compress, decompress_to_dataset
from hepsqueeze.codecs.autoencoder.exceptions import codec_inputs, codec_reconstruct
from hepsqueeze.errors import InputError
from hepsqueeze.io import Dataset, Table, detect_format, read_dataset, read_table, write_dataset
from hepsqueeze.io.formats.darkmachines import OBJECT_TYPES

SAMPLE = (
    "1;ttbar;1;72218.6;-1.44006;j,245592,165069,0.876619,-2.96097;b,53214.1,48012.7,0.45,1.2;"
    "e-,1e+06,23456.7,-0.1,3.14159;\n"
    "2;wjets;0.5;12000;0.3;\n"
    "\n"
    "3;ttbar;1;5000.5;2.1;m+,30000,29000,0.2,-0.5;g,15000,14999.9,1.5,0.0001\n"
    "4;z_jets;2.5e-05;1.5e+07;-3.14159;e+,41000,40000,-2.3,0.1;m-,1,1,0,0;\n"
)


def write(tmp_path: Path, text: str, name: str = "events.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def dm_file_from_jets(jets: Table, path: Path) -> Path:
    """Jets as DarkMachines lines: one line per event, jets as 'j' objects, MeV with 6 digits."""
    lines = []
    events = jets["event"]
    for ev in np.unique(events):
        rows = np.flatnonzero(events == ev)
        objs = [
            f"j,{jets['E'][r] * 1000.0:.6g},{jets['pt'][r] * 1000.0:.6g},{jets['eta'][r]:.6g},{jets['phi'][r]:.6g}"
            for r in rows
        ]
        lines.append(
            ";".join(
                [str(ev + 1), "ttbar" if ev < 40 else "qcd", "1", f"{(ev + 1) * 1234.5:.6g}", "0.5", *objs]
            )
            + ";"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def test_detected_and_read_in_gev(tmp_path: Path) -> None:
    path = write(tmp_path, SAMPLE)
    assert detect_format(path) == "darkmachines"
    ds = read_dataset(path)
    t = ds.table
    assert t.names == ("event", "process", "object", "E", "pt", "eta", "phi")
    np.testing.assert_array_equal(t["event"], [1, 1, 1, 3, 3, 4, 4])
    assert list(ds.labels("object")) == ["j", "b", "e-", "m+", "g", "e+", "m-"]
    assert list(ds.labels("process")) == ["ttbar"] * 5 + ["z_jets"] * 2
    assert t["E"][0] == pytest.approx(245.592)
    assert t["E"].dtype == np.float64
    assert t["eta"][0] == pytest.approx(0.876619)
    ev = ds.aux["events"]
    assert ev.names == ("event", "process", "weight", "MET", "METphi", "n_objects")
    np.testing.assert_array_equal(ev["n_objects"], [3, 0, 2, 2])
    assert ev["MET"][0] == pytest.approx(72.2186)
    assert list(ds.labels("process", "events")) == ["ttbar", "wjets", "ttbar", "z_jets"]
    assert ds.layout["categories"]["object"] == list(OBJECT_TYPES)
    # read_table gives the object table.
    assert read_table(path, columns=["pt", "object"]).names == ("pt", "object")
    # A plain CSV is still a plain CSV.
    plain = write(tmp_path, "a,b\n1,2\n", "plain.csv")
    assert detect_format(plain) == "csv"


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_unchanged_round_trip_is_byte_exact(tmp_path: Path, newline: str) -> None:
    text = SAMPLE.replace("\n", newline)
    path = write(tmp_path, text)
    ds = read_dataset(path)
    assert ds.layout["exact"]
    out = write_dataset(ds, tmp_path / "back.csv")
    assert out.read_bytes() == text.encode()
    # Without a final newline, and with other number formats (fixed decimals).
    fixed = "7;sig;1.000;100.50;0.25;j,2000.00,1000.00,0.500,-0.250\n8;sig;1.000;3.25;0.00;"
    path = write(tmp_path, fixed, "fixed.csv")
    out = write_dataset(read_dataset(path), tmp_path / "fixed-back.csv")
    assert out.read_text() == fixed


def test_compressed_round_trip_changes_only_kinematics(model, jets: Table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = dm_file_from_jets(jets, tmp_path / "jets.csv")
    ds = read_dataset(path)
    assert ds.layout["exact"]
    compress(ds, tmp_path / "jets.hsqz", model=model)
    back = decompress_to_dataset(tmp_path / "jets.hsqz")
    out = write_dataset(back, tmp_path / "back.csv")
    before = path.read_text().splitlines()
    after = out.read_text().splitlines()
    assert len(after) == len(before)
    changed = 0
    for a, b in zip(after, before, strict=True):
        fa, fb = a.split(";"), b.split(";")
        assert fa[:5] == fb[:5]  # event ID, process, weight, MET, METphi unchanged
        assert len(fa) == len(fb)
        for oa, ob in zip(fa[5:-1], fb[5:-1], strict=True):
            assert oa.split(",")[0] == ob.split(",")[0]  # object type unchanged
            changed += oa != ob
    assert changed > 0
    x = ds.table.stack(["E", "pt", "eta", "phi"], dtype=np.float64)
    expected = codec_reconstruct(model, x)[:, 1].astype(np.float64)
    # Exceptions (values outside the training range) come back exactly, in the column's own float64.
    exception_rows = codec_inputs(model, x)[1][1]
    expected[exception_rows] = x[exception_rows, 1]
    np.testing.assert_array_equal(back.table["pt"], expected)


def test_inexact_text_is_reported_and_values_kept(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = "1;p;1;100;0.5;j,1000,900,0.5,0.25;\n2;p;1;1.00e+02;0.5;j,1000,900,0.5,0.25;\n"
    path = write(tmp_path, text)
    with caplog.at_level(logging.WARNING):
        ds = read_dataset(path)
    assert "not its exact text" in caplog.text
    assert "MET" in caplog.text
    assert not ds.layout["exact"]
    back = read_dataset(write_dataset(ds, tmp_path / "back.csv"))
    np.testing.assert_array_equal(back.aux["events"]["MET"], ds.aux["events"]["MET"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1;p;1;2;3;\n2;p;1;2\n", r"line 2: expected 'event ID;process ID;.*found 4 field"),
        ("1;p;1;2;3;\n\nx;p;1;2;3;\n", r"line 3, field 1 \(event ID\): 'x' is not an integer"),
        ("1;p;1;2;3;j,1,2,3,4;q,1,2,3,4;\n", r"line 1, object 2: unknown object type 'q' \(known: j, b, e-"),
        ("1;p;1;2;3;j,1,2,3;\n", r"line 1, object 1: expected 'type,E,pt,eta,phi'"),
        ("1;p;1;2;3;\n2;p;1;2;3;j,1,2,3,4;j,1,abc,3,4;\n", r"line 2, object 2 \(pt\): 'abc' is not a number"),
        ("1;p;1;2;3;\n5;p;w;2;3;\n", r"line 2, field 3 \(event weight\): 'w' is not a number"),
        ("1;;1;2;3;\n", r"line 1, field 2 \(process ID\) is empty"),
        ("\n\n", r"holds no events"),
    ],
)
def test_malformed_lines_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError, match=message):
        read_dataset(path, format="darkmachines")


def test_written_to_other_formats_and_forced_formats(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ds = read_dataset(write(tmp_path, SAMPLE))
    with caplog.at_level(logging.WARNING):
        out = write_dataset(ds, tmp_path / "objects.parquet")
    assert "without its auxiliary table(s) events" in caplog.text
    assert read_table(out).names == ds.table.names
    # format="csv" writes the object table as a plain CSV, even to a .csv name.
    plain = write_dataset(ds, tmp_path / "plain.csv", format="csv")
    assert plain.read_text().startswith("event,process,object,E,pt,eta,phi\n")
    with pytest.raises(InputError, match=r"no 'events' table"):
        write_dataset(Dataset(ds.table), tmp_path / "x.csv", format="darkmachines")


# Magnitudes below ~1e-300 MeV would become subnormal in GeV and lose digits; no physics value is that small.
_finite = st.floats(min_value=-1e12, max_value=1e12).filter(lambda x: x == 0 or abs(x) > 1e-290)
_object = st.tuples(st.sampled_from(OBJECT_TYPES), _finite, _finite, _finite, _finite)
_event = st.tuples(
    st.integers(-(2**40), 2**40),
    st.sampled_from(["ttbar", "4top", "z_jets", "glgl1400_neutralino1100"]),
    _finite,
    _finite,
    _finite,
    st.lists(_object, max_size=4),
    st.booleans(),
)


@settings(max_examples=40, deadline=None)
@given(events=st.lists(_event, min_size=1, max_size=6), blank=st.booleans(), crlf=st.booleans())
def test_round_trip_property(events: list[tuple[object, ...]], blank: bool, crlf: bool) -> None:
    lines = []
    for ev, proc, w, met, phi, objs, trailing in events:
        items = [f"{t},{e:.6g},{p:.6g},{h:.6g},{f:.6g}" for t, e, p, h, f in objs]  # type: ignore[misc]
        lines.append(
            ";".join([str(ev), str(proc), f"{w:.6g}", f"{met:.6g}", f"{phi:.6g}", *items])
            + (";" if trailing else "")
        )
        if blank:
            lines.append("")
    newline = "\r\n" if crlf else "\n"
    text = newline.join(lines) + newline
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp), text)
        ds = read_dataset(path)
        assert ds.layout["exact"]
        assert write_dataset(ds, Path(tmp) / "back.csv").read_bytes() == text.encode()


def test_objects_picks_types_and_names_the_known_ones(tmp_path: Path) -> None:
    from hepsqueeze.errors import ColumnError

    ds = read_dataset(write(tmp_path, SAMPLE))
    labels = ds.labels("object")
    jets = ds.objects(["j", "b"])
    assert jets.num_rows == int(np.isin(labels, ["j", "b"]).sum())
    assert jets.names == ds.table.names
    with pytest.raises(ColumnError, match="types: j, b, e-"):
        ds.objects(["jet"])


def test_changed_values_are_written_with_the_digits_they_need(tmp_path: Path) -> None:
    """A value a lossy codec moved within its bound must not be moved further by the file's
    %.6g: it is written with the digits that read back as exactly that value."""
    ds = read_dataset(write(tmp_path, SAMPLE))
    table = ds.table
    cols = {n: np.array(table[n]) for n in table.names}
    rng = np.random.default_rng(0)
    for v in ("E", "pt"):
        cols[v] = cols[v] * (1 + rng.uniform(-1e-3, 1e-3, cols[v].size))  # decoded within 1e-3
    cols["eta"] = cols["eta"] + 3e-7
    changed = Dataset(Table(cols), ds.aux, ds.layout)
    out = tmp_path / "back.csv"
    write_dataset(changed, out)
    back = read_dataset(out).table
    for v in ("E", "pt", "eta", "phi"):
        ulps = np.abs(back[v] - cols[v]) / np.spacing(np.abs(cols[v]))
        assert float(ulps.max()) <= 1.0, v  # exact, or 1 ulp where no MeV text divides to the value
    # values the file held are still written with the file's own format, byte for byte
    same = tmp_path / "same.csv"
    write_dataset(ds, same)
    assert same.read_bytes() == SAMPLE.encode()
