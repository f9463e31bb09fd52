"""The error-bounded codec of every column (codecs.bounded.table_codec, id ``bounded``) through the
file layer, the API and the command line: each column decodes within the bound its *name* gives,
in its own dtype (never by position, never wrapped like an angle unless it is one), integers and
booleans bit for bit, every table of a dataset back in order, and hostile files refused with one
line naming the file."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import struct
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import numpy.typing as npt
import pytest
import uproot
import xxhash

import hepsqueeze
from hepsqueeze.cli import main
from hepsqueeze.codecs.bounded.column_bound import LOSSLESS, BoundMode, ColumnBound
from hepsqueeze.codecs.bounded.column_coder import same_bits
from hepsqueeze.codecs.bounded.precision import parse_precision, preset
from hepsqueeze.codecs.bounded.table_codec import BoundedCodec, column_sizes, unbound_columns
from hepsqueeze.codecs.registry import get_codec
from hepsqueeze.container import ContainerReader, Section
from hepsqueeze.container.constants import CHECKSUM, DESC_LEN, PAYLOAD_LEN, PREAMBLE
from hepsqueeze.errors import ColumnError, ContainerError, VerificationError
from hepsqueeze.file.reader import decompress_dataset, file_info
from hepsqueeze.file.writer import compress_dataset
from hepsqueeze.io import read_dataset, write_dataset
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table
from hepsqueeze.metrics.bound_check import misses

NANO_TERMS = "*_pt=1e-3r,*_mass=1e-3r,*_eta=1e-3,*_phi=1e-3"
TWO_PI = 2 * math.pi


# ----------------------------------------------------------------------------- helpers


def header_bounds(path: Path) -> tuple[dict[str, ColumnBound], dict[str, dict[str, ColumnBound]]]:
    """The bounds a file's header says each column was coded with (main table, auxiliary tables)."""
    codec = file_info(path)["header"]["codec"]
    assert codec["name"] == "bounded"
    main_bounds = {n: ColumnBound.from_dict(b) for n, b in codec["bounds"].items()}
    tables = {t: {n: ColumnBound.from_dict(b) for n, b in bs.items()} for t, bs in codec["tables"].items()}
    return main_bounds, tables


def assert_within(original: Table, decoded: Table, bounds: Mapping[str, ColumnBound], what: str = "") -> None:
    """Every column of ``decoded``: the names, order and dtypes of ``original``, within its bound
    or bit-exact (integers, booleans and unbound floats always bit-exact)."""
    assert decoded.names == original.names, what
    assert decoded.num_rows == original.num_rows, what
    for name in original.names:
        x, y = original[name], decoded[name]
        assert y.dtype == x.dtype, f"{what}{name}: {y.dtype} != {x.dtype}"
        bound = bounds[name]
        if bound.lossless or x.dtype.kind != "f":
            assert same_bits(y, x), f"{what}{name} is not bit-exact"
        else:
            missed = misses(x, y, bound.error_bound(), bound.floor)
            assert not missed.any(), f"{what}{name}: {x[missed][:4]} decoded as {y[missed][:4]}"


def expected(name: str, dtype: np.dtype[Any], spec: str) -> ColumnBound:
    return parse_precision(spec).resolve(name, dtype)


def events(rng: np.random.Generator, n_events: int, most: int = 6) -> npt.NDArray[np.int64]:
    return np.repeat(np.arange(n_events, dtype=np.int64), rng.integers(1, most + 1, n_events))


def jet_table(
    rng: np.random.Generator, order: tuple[str, ...], prefix: str = "", n_events: int = 400
) -> Table:
    """Jets of the given column order (event index last): E, pt, eta, phi, mass as physics has them."""
    ev = events(rng, n_events)
    n = ev.size
    pt = (15 + rng.exponential(40, n)).astype(np.float32)
    eta = rng.normal(0, 2, n).astype(np.float32)
    mass = rng.uniform(0.5, 200, n).astype(np.float32)
    values = {
        "pt": pt,
        "eta": eta,
        "phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32),
        "mass": mass,
        "E": (pt * np.cosh(eta) + mass).astype(np.float32),
    }
    return Table({**{prefix + c: values[c] for c in order}, "event": ev})


def compress_table(table: Table, path: Path, max_error: Any, **kwargs: Any) -> Table:
    hepsqueeze.compress(table, path, max_error=max_error, **kwargs)
    return hepsqueeze.decompress_to_dataset(path).table


# ----------------------------------------------------------------------------- 1. names, not positions


@pytest.mark.parametrize(
    "order",
    [("phi", "mass", "eta", "pt"), ("E", "pt", "eta", "phi"), ("eta", "E", "phi", "pt", "mass")],
    ids="-".join,
)
@pytest.mark.parametrize("spec", ["1e-3", "E=1e-3r,pt=1e-3r,mass=1e-3r,eta=1e-3,phi=1e-3"])
def test_reordered_columns_meet_the_bound_of_their_name(
    order: tuple[str, ...], spec: str, tmp_path: Path
) -> None:
    """The old 4-column jet codec read columns by position: phi, mass, eta, pt coded as E, pt, eta,
    phi put an angle's bound on masses. Now each column is bounded by its name."""
    table = jet_table(np.random.default_rng(1), order)
    out = tmp_path / "jets.hsqz"
    back = compress_table(table, out, spec)
    bounds, _ = header_bounds(out)
    for name in order:
        assert bounds[name] == dataclasses.replace(expected(name, table[name].dtype, spec), term=None)
    for name in ("E", "pt", "mass"):
        if name in order:
            assert bounds[name] == ColumnBound(BoundMode.RELATIVE, 1e-3), name
            rel = np.abs(back[name].astype(np.float64) - table[name]) / table[name]
            assert rel.max() <= 1e-3, name
    for name in ("eta", "phi"):
        assert bounds[name] == ColumnBound(BoundMode.ABSOLUTE, 1e-3, angle=name == "phi"), name
        assert np.abs(back[name].astype(np.float64) - table[name]).max() <= 1e-3, name
    assert_within(table, back, bounds)


def test_the_jet_codecs_terms_leave_an_unnamed_mass_exact(tmp_path: Path) -> None:
    """The jet codec's text names E, pt, eta, phi: given phi, mass, eta, pt, the mass is not coded as
    the third of four positions but named by no term, so it is stored bit for bit (and listed)."""
    table = jet_table(np.random.default_rng(21), ("phi", "mass", "eta", "pt"))
    out = tmp_path / "jet-text.hsqz"
    back = compress_table(table, out, "E=1e-3r,pt=1e-3r,eta=1e-3,phi=1e-3")
    bounds, _ = header_bounds(out)
    assert bounds["mass"].lossless
    assert same_bits(back["mass"], table["mass"])
    assert unbound_columns(file_info(out)["header"]) == ["mass"]
    assert_within(table, back, bounds)


def test_nanoaod_order_masses_are_relative_and_never_wrapped(tmp_path: Path) -> None:
    table = jet_table(np.random.default_rng(2), ("pt", "eta", "phi", "mass"), prefix="Jet_")
    assert table.names[:4] == ("Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass")
    out = tmp_path / "nano.hsqz"
    back = compress_table(table, out, "1e-3")
    x, y = table["Jet_mass"].astype(np.float64), back["Jet_mass"].astype(np.float64)
    assert x.max() > 150
    assert (np.abs(y - x) <= 1e-3 * x).all()  # 200 GeV comes back ~200 GeV, not 200 - 64 pi
    assert np.abs(y.max() - x.max()) <= 1e-3 * x.max()
    bounds, _ = header_bounds(out)
    assert bounds["Jet_mass"] == ColumnBound(BoundMode.RELATIVE, 1e-3)
    assert bounds["Jet_pt"] == ColumnBound(BoundMode.RELATIVE, 1e-3)
    assert bounds["Jet_eta"] == ColumnBound(BoundMode.ABSOLUTE, 1e-3)
    assert bounds["Jet_phi"] == ColumnBound(BoundMode.ABSOLUTE, 1e-3, angle=True)
    assert_within(table, back, bounds)


@pytest.mark.parametrize("name", ["phi", "Jet_phi", "METphi"])
def test_phi_in_zero_two_pi_stays_on_its_branch(name: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    phi = rng.uniform(0, TWO_PI, 5000).astype(np.float32)
    phi[:3] = [0.0, np.nextafter(np.float32(TWO_PI), np.float32(0)), 1e-6]
    table = Table({name: phi, "pt": (20 + rng.exponential(30, phi.size)).astype(np.float32)})
    back = compress_table(table, tmp_path / "phi.hsqz", "1e-3")
    y = back[name]
    assert y.min() >= 0, "an input in [0, 2 pi) came back below 0"
    assert y.max() < TWO_PI + 1e-3
    assert np.abs(y.astype(np.float64) - phi).max() <= 1e-3


def test_a_column_named_like_an_angle_beyond_pi_is_not_wrapped(tmp_path: Path) -> None:
    """``Jet_phi`` holding eta-like values in [-5, 5]: absolute 1e-3, no wrapping by 2 pi."""
    rng = np.random.default_rng(4)
    x = rng.uniform(-5, 5, 5000).astype(np.float32)
    x[:2] = [-5.0, 5.0]
    table = Table({"Jet_phi": x, "event": np.arange(x.size) // 3})
    back = compress_table(table, tmp_path / "wide.hsqz", "*_phi=1e-3")
    y = back["Jet_phi"]
    assert np.abs(y.astype(np.float64) - x).max() <= 1e-3
    assert y.min() >= x.min()
    assert y.max() <= x.max()
    assert (np.abs(x) > math.pi).sum() > 1000
    assert (np.abs(y) > math.pi).sum() == (np.abs(x) > math.pi).sum()


# ----------------------------------------------------------------------------- 2. integers, unbound, presets


def mixed_table(rng: np.random.Generator, n: int = 2000) -> Table:
    return Table(
        {
            "event": np.repeat(np.arange(n // 4), 4).astype(np.uint64) + np.uint64(2**63),
            "Jet_pt": (15 + rng.exponential(30, n)).astype(np.float32),
            "Jet_eta": rng.normal(0, 2, n).astype(np.float32),
            "Jet_phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32),
            "Jet_btagDeepB": rng.random(n).astype(np.float32),
            "Jet_weight": rng.normal(1, 0.2, n),
            "Jet_hadronFlavour": rng.choice(np.array([0, 4, 5], dtype=np.int32), n),
            "Jet_nConstituents": rng.integers(1, 60, n).astype(np.uint8),
            "Jet_id": rng.integers(-(2**62), 2**62, n),
            "Jet_isTight": rng.random(n) > 0.3,
            "Jet_half": rng.normal(0, 1, n).astype(np.float16),
        }
    )


def test_catch_all_term_leaves_integers_and_booleans_exact(tmp_path: Path) -> None:
    table = mixed_table(np.random.default_rng(5))
    out = tmp_path / "all.hsqz"
    back = compress_table(table, out, "*=1e-3")
    bounds, _ = header_bounds(out)
    for name in table.names:
        if table[name].dtype.kind == "f":
            assert bounds[name] == ColumnBound(BoundMode.ABSOLUTE, 1e-3, angle=name == "Jet_phi"), name
        else:
            assert bounds[name] == LOSSLESS, name
            assert same_bits(back[name], table[name]), name
    assert_within(table, back, bounds)
    assert unbound_columns(file_info(out)["header"]) == []


def test_terms_naming_some_float_columns_leave_the_others_exact_and_listed(tmp_path: Path) -> None:
    table = mixed_table(np.random.default_rng(6))
    out = tmp_path / "some.hsqz"
    back = compress_table(table, out, "Jet_pt=1e-3r,Jet_eta=1e-3")
    bounds, _ = header_bounds(out)
    unbound = [n for n in table.names if table[n].dtype.kind == "f" and n not in ("Jet_pt", "Jet_eta")]
    assert unbound_columns(file_info(out)["header"]) == unbound
    for name in unbound:
        assert bounds[name].lossless, name
        assert same_bits(back[name], table[name]), name
    assert_within(table, back, bounds)


def test_unbound_columns_of_auxiliary_tables(tmp_path: Path) -> None:
    ds = nano_dataset(np.random.default_rng(7))
    out = tmp_path / "aux.hsqz"
    compress_dataset(ds, BoundedCodec(parse_precision("Jet_pt=1e-3r")), out)
    listed = unbound_columns(file_info(out)["header"])
    assert "MET_pt" in listed
    assert "Jet/Jet_eta" in listed
    assert "Jet/Jet_pt" not in listed
    assert "Pileup/Pileup_nTrueInt" in listed
    assert "Jet/event" not in listed
    assert unbound_columns({"codec": {"name": "autoencoder"}}) == []
    assert unbound_columns({}) == []


def test_require_bounds_refuses_an_unnamed_float_column(tmp_path: Path) -> None:
    table = mixed_table(np.random.default_rng(8))
    out = tmp_path / "req.hsqz"
    with pytest.raises(ColumnError, match="Jet_phi") as info:
        hepsqueeze.compress(table, out, max_error="Jet_pt=1e-3r,Jet_eta=1e-3", require_bounds=True)
    assert info.value.column == "Jet_phi"
    assert "\n" not in str(info.value)
    assert not out.exists()
    # a default number names every float column: nothing to refuse
    hepsqueeze.compress(table, out, max_error="1e-3", require_bounds=True)
    # so does naming the rest, lossless included
    hepsqueeze.compress(
        table, tmp_path / "ok.hsqz", max_error="Jet_*=1e-3,Jet_weight=lossless", require_bounds=True
    )


def test_require_bounds_names_an_auxiliary_table_column(tmp_path: Path) -> None:
    ds = nano_dataset(np.random.default_rng(9))
    codec = BoundedCodec(parse_precision("MET_*=1e-3", require_bounds=True))
    with pytest.raises(ColumnError, match="Jet_pt"):
        compress_dataset(ds, codec, tmp_path / "aux-req.hsqz")


def test_nanoaod_preset_resolves_and_round_trips(tmp_path: Path) -> None:
    ds = nano_dataset(np.random.default_rng(10))
    out = tmp_path / "preset.hsqz"
    hepsqueeze.compress(ds, out, precision="nanoaod")
    back = hepsqueeze.decompress_to_dataset(out)
    main_bounds, tables = header_bounds(out)
    nano = preset("nanoaod")
    for table, bounds, got in [(ds.table, main_bounds, back.table)] + [
        (ds.aux[t], tables[t], back.aux[t]) for t in ds.aux
    ]:
        for name in table.names:
            assert bounds[name] == dataclasses.replace(nano.resolve(name, table[name].dtype), term=None), name
        assert_within(table, got, bounds)
    assert tables["Jet"]["Jet_pt"].bits == 10
    assert tables["Jet"]["Jet_phi"].angle
    assert tables["Jet"]["Jet_phi"].mode == BoundMode.ABSOLUTE
    assert tables["Muon"]["Muon_pt"].lossless  # NanoAOD keeps muon pt in full


# ----------------------------------------------------------------------------- 3. datasets


def nano_dataset(rng: np.random.Generator, n_events: int = 300, empty: bool = False) -> Dataset:
    """A main per-event table, a collection with an ``event`` column, a per-event table, and
    (``empty``) a collection without rows."""
    main_table = Table(
        {
            "run": np.full(n_events, 1, np.uint32),
            "event": np.arange(n_events, dtype=np.uint64) + 10**9,
            "MET_pt": rng.exponential(40, n_events).astype(np.float32),
            "MET_phi": rng.uniform(-np.pi, np.pi, n_events).astype(np.float32),
            "Flag_good": rng.random(n_events) > 0.1,
        }
    )
    ev = np.repeat(np.arange(n_events, dtype=np.int64), rng.integers(0, 6, n_events))
    n = ev.size
    jet = Table(
        {
            "event": ev,
            "Jet_pt": (15 + rng.exponential(30, n)).astype(np.float32),
            "Jet_eta": rng.normal(0, 2, n).astype(np.float32),
            "Jet_phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32),
            "Jet_mass": rng.exponential(8, n).astype(np.float32),
            "Jet_btagDeepB": rng.random(n).astype(np.float32),
            "Jet_hadronFlavour": rng.choice(np.array([0, 4, 5], dtype=np.int32), n),
        }
    )
    mu_ev = np.repeat(np.arange(n_events, dtype=np.int64), rng.integers(0, 3, n_events))
    muon = Table(
        {
            "event": mu_ev,
            "Muon_pt": (3 + rng.exponential(20, mu_ev.size)).astype(np.float32),
            "Muon_eta": rng.normal(0, 1.5, mu_ev.size).astype(np.float32),
            "Muon_phi": rng.uniform(-np.pi, np.pi, mu_ev.size).astype(np.float32),
            "Muon_charge": rng.choice(np.array([-1, 1], dtype=np.int32), mu_ev.size),
        }
    )
    pileup = Table(
        {
            "Pileup_nTrueInt": rng.normal(30, 5, n_events).astype(np.float32),
            "Pileup_nPU": rng.integers(0, 80, n_events).astype(np.int32),
            "HLT_IsoMu24": rng.random(n_events) > 0.5,
        }
    )
    aux = {"Jet": jet, "Muon": muon, "Pileup": pileup}
    if empty:
        aux["Tau"] = Table({"event": np.zeros(0, np.int64), "Tau_pt": np.zeros(0, np.float32)})
    return Dataset(main_table, aux)


def assert_dataset_within(ds: Dataset, back: Dataset, path: Path) -> None:
    main_bounds, tables = header_bounds(path)
    assert list(back.aux) == list(ds.aux)
    assert_within(ds.table, back.table, main_bounds, "main table: ")
    for name, table in ds.aux.items():
        assert_within(table, back.aux[name], tables[name], f"{name}: ")


@pytest.mark.parametrize("chunk_rows", [1 << 20, 97, 1])
def test_every_table_of_a_dataset_comes_back(chunk_rows: int, tmp_path: Path) -> None:
    ds = nano_dataset(np.random.default_rng(11), n_events=300 if chunk_rows > 1 else 20, empty=True)
    out = tmp_path / "ds.hsqz"
    codec = BoundedCodec(parse_precision(NANO_TERMS))
    report = compress_dataset(ds, codec, out, chunk_rows=chunk_rows)
    assert report.auxiliary_rows == {n: t.num_rows for n, t in ds.aux.items()}
    back = decompress_dataset(out)
    assert_dataset_within(ds, back, out)
    assert back.aux["Tau"].num_rows == 0
    assert back.aux["Tau"].names == ("event", "Tau_pt")
    main_bounds, tables = header_bounds(out)
    assert main_bounds["MET_phi"].angle
    assert tables["Jet"]["Jet_mass"].mode == BoundMode.RELATIVE
    sizes = column_sizes(out)
    assert ("Jet", "Jet_pt") in sizes
    assert (None, "MET_pt") in sizes
    assert all(v > 0 for v in sizes.values())


def test_several_chunks_keep_one_chunks_bounds(tmp_path: Path) -> None:
    ds = nano_dataset(np.random.default_rng(12))
    one, many = tmp_path / "one.hsqz", tmp_path / "many.hsqz"
    codec = BoundedCodec(parse_precision(NANO_TERMS))
    compress_dataset(ds, codec, one)
    compress_dataset(ds, codec, many, chunk_rows=64)
    assert header_bounds(one) == header_bounds(many)
    with ContainerReader.open(many) as reader:
        jet_chunks = [s for s in reader.sections if s.extras.get("table") == "Jet"]
    assert len(jet_chunks) > 1
    assert_dataset_within(ds, decompress_dataset(many), many)
    assert_dataset_within(ds, decompress_dataset(one), one)


def test_codec_config_round_trips_after_select(tmp_path: Path) -> None:
    ds = nano_dataset(np.random.default_rng(13))
    codec = BoundedCodec(parse_precision(NANO_TERMS + ",Jet_btag*=10b", abs_floor="*_pt=0.5"))
    schema = {n: ds.table[n].dtype for n in ds.table.names}
    chosen, names = codec.select(schema, None, "nano")
    assert names == list(ds.table.names)
    chosen = chosen.with_tables({t: {c: a[c].dtype for c in a.names} for t, a in ds.aux.items()}, "nano")
    config = chosen.get_config()
    again = get_codec(json.loads(json.dumps(config)))
    assert isinstance(again, BoundedCodec)
    assert again.get_config() == config
    assert again.precision == chosen.precision
    assert again.event_column == chosen.event_column

    def plain(bounds: Mapping[str, ColumnBound]) -> dict[str, ColumnBound]:
        return {n: dataclasses.replace(b, term=None) for n, b in bounds.items()}  # the term is not stored

    assert plain(again.bounds) == plain(chosen.bounds)
    assert {t: plain(b) for t, b in again.tables.items()} == {t: plain(b) for t, b in chosen.tables.items()}
    assert chosen.tables["Jet"]["Jet_btagDeepB"].bits == 10
    assert chosen.tables["Jet"]["Jet_pt"].floor == 0.5


def test_a_flat_table_with_nan_inf_and_extremes(tmp_path: Path) -> None:
    rng = np.random.default_rng(14)
    n = 3000
    pt = (15 + rng.exponential(30, n)).astype(np.float32)
    pt[[0, 1, 2, 3, 4]] = [np.nan, np.inf, 0.0, -3.0, 3e38]
    eta = rng.normal(0, 2, n)
    eta[[5, 6]] = [-np.inf, 1e300]
    table = Table({"pt": pt, "eta": eta, "phi": rng.uniform(0, TWO_PI, n).astype(np.float16)})
    out = tmp_path / "extremes.hsqz"
    report = hepsqueeze.compress(table, out, max_error="1e-3")
    back = hepsqueeze.decompress_to_dataset(out).table
    bounds, _ = header_bounds(out)
    assert_within(table, back, bounds)
    assert report.exceptions["pt"] >= 2  # NaN and inf, stored exactly inside the payload
    assert report.exceptions["eta"] >= 2  # -inf and 1e300
    assert back["phi"].min() >= 0


def test_streaming_a_parquet_file_decodes_as_the_whole_table(tmp_path: Path) -> None:
    """compress(stream=True) regroups batches into chunks of chunk_rows: the same values as the
    in-memory path, bit for bit, with another event column name."""
    from hepsqueeze.io import write_table

    rng = np.random.default_rng(22)
    n = 5000
    table = Table(
        {
            "evt": np.repeat(np.arange(n // 5, dtype=np.int64), 5),
            "Jet_pt": (15 + rng.exponential(30, n)).astype(np.float32),
            "Jet_phi": rng.uniform(0, TWO_PI, n).astype(np.float32),
            "Jet_flag": rng.random(n) > 0.5,
        }
    )
    src = write_table(table, tmp_path / "jets.parquet")
    decoded = []
    for stream in (False, True):
        out = tmp_path / f"stream-{stream}.hsqz"
        hepsqueeze.compress(src, out, max_error="1e-3", stream=stream, chunk_rows=700, event_column="evt")
        assert file_info(out)["header"]["codec"]["event_column"] == "evt"
        back = hepsqueeze.decompress_to_dataset(out).table
        bounds, _ = header_bounds(out)
        assert_within(table, back, bounds)
        assert back["Jet_phi"].min() >= 0
        decoded.append(back)
    for name in table.names:
        assert same_bits(decoded[0][name], decoded[1][name]), name


def test_the_writer_decodes_the_file_before_publishing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader that decodes other values than the writer meant: nothing is published."""
    from hepsqueeze.codecs.bounded.table_coder import decode_table as real

    def wrong(payload: bytes, specs: Any, model: Any = None) -> dict[str, npt.NDArray[Any]]:
        out = real(payload, specs, model)
        if "MET_pt" in out:
            out["MET_pt"] = out["MET_pt"].copy()
            out["MET_pt"][0] += 1
        return out

    monkeypatch.setattr("hepsqueeze.codecs.bounded.table_codec.decode_table", wrong)
    out = tmp_path / "never.hsqz"
    with pytest.raises(VerificationError):
        compress_dataset(nano_dataset(np.random.default_rng(15)), BoundedCodec(parse_precision("1e-3")), out)
    assert not out.exists()
    assert not list(tmp_path.iterdir())


# ----------------------------------------------------------------------------- 4. ROOT


def write_nano_root(path: Path, entries: int = 150, seed: int = 16) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n_jet = rng.integers(0, 6, entries)
    n_mu = rng.integers(0, 3, entries)
    nj, nm = int(n_jet.sum()), int(n_mu.sum())

    def jagged(counts: Any, values: Any, dtype: Any = np.float32) -> Any:
        return ak.unflatten(np.asarray(values, dtype=dtype), counts)

    data = {
        "run": np.full(entries, 1, np.uint32),
        "luminosityBlock": (np.arange(entries) // 50 + 1).astype(np.uint32),
        "event": np.arange(entries, dtype=np.uint64) + 123_456_789,
        "Jet": ak.zip(
            {
                "pt": jagged(n_jet, 15 + rng.exponential(30, nj)),
                "eta": jagged(n_jet, rng.normal(0, 2, nj)),
                "phi": jagged(n_jet, rng.uniform(-np.pi, np.pi, nj)),
                "mass": jagged(n_jet, rng.uniform(0, 200, nj)),
                "hadronFlavour": jagged(n_jet, rng.choice([0, 4, 5], nj), np.int32),
            }
        ),
        "Muon": ak.zip(
            {
                "pt": jagged(n_mu, 3 + rng.exponential(20, nm)),
                "eta": jagged(n_mu, rng.normal(0, 1.5, nm)),
                "phi": jagged(n_mu, rng.uniform(0, 2 * np.pi, nm)),  # the [0, 2 pi) branch
                "charge": jagged(n_mu, rng.choice([-1, 1], nm), np.int32),
            }
        ),
        "MET_pt": rng.exponential(40, entries).astype(np.float32),
        "MET_phi": rng.uniform(-np.pi, np.pi, entries).astype(np.float32),
    }
    with uproot.recreate(path) as f:
        f.mktree("Events", {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in data.items()})
        f["Events"].extend(data)
    return data


ROOT_BOUNDS = {
    "pt": ColumnBound(BoundMode.RELATIVE, 1e-3),
    "mass": ColumnBound(BoundMode.RELATIVE, 1e-3),
    "eta": ColumnBound(BoundMode.ABSOLUTE, 1e-3),
    "phi": ColumnBound(BoundMode.ABSOLUTE, 1e-3),
}


def test_a_nanoaod_like_root_tree_round_trips(tmp_path: Path) -> None:
    src, out, back = tmp_path / "nano.root", tmp_path / "nano.hsqz", tmp_path / "back.root"
    write_nano_root(src)
    hepsqueeze.compress(src, out, max_error=NANO_TERMS)
    write_dataset(hepsqueeze.decompress_to_dataset(out), back)
    with uproot.open(src) as fa, uproot.open(back) as fb:
        ta, tb = fa["Events"], fb["Events"]
        assert list(tb.keys()) == list(ta.keys())
        assert list(ta.keys())[:4] == ["run", "luminosityBlock", "event", "nJet"]
        assert tb.num_entries == ta.num_entries
        for key in list(ta.keys()):
            assert tb[key].typename == ta[key].typename, key
            a, b = ta[key].array(library="ak"), tb[key].array(library="ak")
            if key.startswith("n") and key[1:] in ("Jet", "Muon"):
                assert tb[key].typename == "int32_t"
                assert np.array_equal(np.asarray(a), np.asarray(b)), key
                continue
            if a.ndim > 1:
                assert np.array_equal(ak.to_numpy(ak.num(a)), ak.to_numpy(ak.num(b))), key
                x, y = ak.to_numpy(ak.flatten(a)), ak.to_numpy(ak.flatten(b))
            else:
                x, y = ak.to_numpy(a), ak.to_numpy(b)
            assert x.dtype == y.dtype, key
            if x.dtype.kind != "f":
                assert same_bits(y, x), key
                continue
            bound = ROOT_BOUNDS[key.rsplit("_", 1)[1]]
            assert not misses(x, y, bound.error_bound()).any(), key
            if key == "Muon_phi":
                assert y.min() >= 0
                assert y.max() < TWO_PI + 1e-3


def test_a_root_tree_read_as_a_dataset(tmp_path: Path) -> None:
    src, out = tmp_path / "nano.root", tmp_path / "nano.hsqz"
    write_nano_root(src, entries=80, seed=17)
    ds = read_dataset(src)
    hepsqueeze.compress(src, out, max_error=NANO_TERMS)
    back = hepsqueeze.decompress_to_dataset(out)
    assert dict(back.layout) == dict(ds.layout)
    assert_dataset_within(ds, back, out)
    assert unbound_columns(file_info(out)["header"]) == []


# ----------------------------------------------------------------------------- 5. hostile files


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hostile") / "good.hsqz"
    compress_dataset(
        nano_dataset(np.random.default_rng(18), n_events=60), BoundedCodec(parse_precision("1e-3")), out
    )
    return out


def one_line_error(path: Path, *, at_byte: bool = True) -> ContainerError:
    with pytest.raises(ContainerError) as info:
        decompress_dataset(path)
    message = str(info.value)
    assert "\n" not in message, message
    assert str(path) in message, message
    assert not at_byte or "at byte" in message, message
    return info.value


def bounded_sections(path: Path) -> list[Section]:
    with ContainerReader.open(path) as reader:
        found = [s for s in reader.sections if s.extras.get("codec") == "bounded"]
    assert found
    assert all(s.encoding == "raw" for s in found)
    return found


def with_payload(data: bytes, section: Section, payload: bytes) -> bytes:
    """The file ``data`` with ``section``'s payload replaced (same length) and its checksum fixed,
    as a hostile file would have it."""
    assert len(payload) == section.length
    out = bytearray(data)
    out[section.offset : section.offset + section.length] = payload
    desc = bytes(out[section.start + DESC_LEN.size : section.offset - PAYLOAD_LEN.size])
    end = section.offset + section.length
    out[end : end + CHECKSUM.size] = CHECKSUM.pack(xxhash.xxh64_intdigest(desc + payload))
    return bytes(out)


def with_section(data: bytes, section: Section, payload: bytes) -> bytes:
    """The file ``data`` with ``section``'s payload replaced by one of any length (descriptor,
    lengths and checksum fixed)."""
    desc = {**section.desc, "shape": [len(payload)], "nbytes": len(payload)}
    raw = json.dumps(desc, separators=(",", ":")).encode()
    framed = DESC_LEN.pack(len(raw)) + raw + PAYLOAD_LEN.pack(len(payload)) + payload
    end = section.offset + section.length + CHECKSUM.size
    return data[: section.start] + framed + CHECKSUM.pack(xxhash.xxh64_intdigest(raw + payload)) + data[end:]


def with_header(data: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    """The file ``data`` with its header JSON changed and its checksum fixed."""
    magic, version, reserved, length = PREAMBLE.unpack_from(data)
    header = json.loads(data[PREAMBLE.size : PREAMBLE.size + length])
    change(header)
    raw = json.dumps(header, separators=(",", ":")).encode()
    rest = data[PREAMBLE.size + length + CHECKSUM.size :]
    return (
        PREAMBLE.pack(magic, version, reserved, len(raw))
        + raw
        + CHECKSUM.pack(xxhash.xxh64_intdigest(raw))
        + rest
    )


def test_the_helpers_rewrite_faithfully(written: Path, tmp_path: Path) -> None:
    data = written.read_bytes()
    sec = bounded_sections(written)[1]
    same = tmp_path / "same.hsqz"
    same.write_bytes(
        with_header(with_payload(data, sec, data[sec.offset : sec.offset + sec.length]), lambda h: None)
    )
    a, b = decompress_dataset(written), decompress_dataset(same)
    for name in a.aux:
        for col in a.aux[name].names:
            assert same_bits(a.aux[name][col], b.aux[name][col])


def test_truncated_files_are_one_line_errors(written: Path, tmp_path: Path) -> None:
    data = written.read_bytes()
    sections = bounded_sections(written)
    cuts = {0, 5, PREAMBLE.size, PREAMBLE.size + 10, len(data) - 1, len(data) - 30}
    cuts |= {s.offset + s.length // 2 for s in sections} | {s.start + 2 for s in sections}
    bad = tmp_path / "cut.hsqz"
    for cut in sorted(cuts):
        bad.write_bytes(data[:cut])
        one_line_error(bad, at_byte=cut > 0)


def test_flipped_bytes_fail_their_checksum(written: Path, tmp_path: Path) -> None:
    data = written.read_bytes()
    bad = tmp_path / "flip.hsqz"
    sec = bounded_sections(written)[0]
    for at in (PREAMBLE.size + 3, PREAMBLE.size + 200, sec.offset + 1, sec.offset + sec.length - 1):
        damaged = bytearray(data)
        damaged[at] ^= 0x20
        bad.write_bytes(bytes(damaged))
        assert "corrupt" in str(one_line_error(bad))


def test_damaged_payloads_with_valid_checksums(written: Path, tmp_path: Path) -> None:
    """A hostile file: bytes of a bounded payload changed, checksums fixed. The codec's own checks
    refuse it with one line naming the file, the section and its offset, or it decodes to the very
    values written (never others)."""
    data = written.read_bytes()
    good = decompress_dataset(written)
    bad = tmp_path / "hostile.hsqz"
    for sec in bounded_sections(written):
        payload = data[sec.offset : sec.offset + sec.length]
        avoid = {m.end() for m in re.finditer(rb'"dtype":"', payload)}  # where '<' -> ',' is a SyntaxError
        for at in range(0, sec.length, max(1, sec.length // 60)):
            if at in avoid:  # test_a_dtype_numpy_cannot_parse_in_a_file
                continue
            damaged = bytearray(payload)
            damaged[at] ^= 0xFF
            bad.write_bytes(with_payload(data, sec, bytes(damaged)))
            try:
                back = decompress_dataset(bad)
            except ContainerError as exc:
                message = str(exc)
                assert "\n" not in message, message
                assert str(bad) in message, message
                assert "at byte" in message, message
                continue
            for name, table in good.aux.items():
                for col in table.names:
                    assert same_bits(back.aux[name][col], table[col]), (sec.name, at, col)
            for col in good.table.names:
                assert same_bits(back.table[col], good.table[col]), (sec.name, at, col)


def test_a_dtype_numpy_cannot_parse_in_a_file(written: Path, tmp_path: Path) -> None:
    data = written.read_bytes()
    sec = bounded_sections(written)[1]
    payload = bytearray(data[sec.offset : sec.offset + sec.length])
    at = payload.index(b'"dtype":"<f4"') + len(b'"dtype":"')
    payload[at] = ord(",")
    bad = tmp_path / "dtype.hsqz"
    bad.write_bytes(with_payload(data, sec, bytes(payload)))
    one_line_error(bad)


@pytest.mark.skipif(sys.platform != "linux", reason="limits the address space with resource.setrlimit")
def test_an_auxiliary_chunk_claiming_huge_rows_allocates_nothing(written: Path, tmp_path: Path) -> None:
    data = written.read_bytes()
    sec = next(s for s in bounded_sections(written) if s.extras.get("table") == "Jet")
    payload = data[sec.offset : sec.offset + sec.length]
    (n_head,) = struct.unpack_from("<I", payload, 4)
    head = json.loads(payload[8 : 8 + n_head])
    head["rows"] = 1 << 34
    text = json.dumps(head).encode()
    bomb = tmp_path / "bomb.hsqz"
    bomb.write_bytes(
        with_section(data, sec, payload[:4] + struct.pack("<I", len(text)) + text + payload[8 + n_head :])
    )
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))\n"
        "from hepsqueeze.errors import ContainerError\n"
        "from hepsqueeze.file.reader import decompress_dataset\n"
        "try:\n"
        "    decompress_dataset(sys.argv[1])\n"
        "except ContainerError:\n"
        "    print('ContainerError')\n"
        "except BaseException as exc:\n"
        "    print(type(exc).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(bomb)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.stdout.strip() == "ContainerError", done.stdout + done.stderr[-500:]


@pytest.mark.parametrize(
    "change",
    [
        lambda h: h["codec"]["bounds"]["MET_pt"].update(value=-1.0),
        lambda h: h["codec"]["bounds"]["MET_pt"].update(mode="bogus"),
        lambda h: h["codec"]["bounds"]["MET_pt"].update(value=5.0),
        lambda h: h["codec"]["bounds"]["MET_pt"].update(bits=99),
        lambda h: h["codec"]["bounds"]["MET_pt"].update(unknown=1),
        lambda h: h["codec"]["bounds"].update(MET_pt="1e-3"),
        lambda h: h["codec"]["bounds"].pop("MET_pt"),
        lambda h: h["codec"]["tables"]["Jet"].update(Jet_pt={"mode": "relative", "value": math.inf}),
        lambda h: h["codec"]["tables"].update(Jet=[]),
        lambda h: h["codec"].update(tables=None),
        lambda h: h["codec"]["precision"].update(default=7),
        lambda h: h["codec"]["precision"].update(terms=[{"pattern": "x"}]),
        lambda h: h["codec"].update(event_column=""),
        lambda h: h["codec"].update(precision=None),
    ],
    ids=[
        "negative",
        "mode",
        "relative>=1",
        "bits",
        "key",
        "text",
        "missing",
        "inf",
        "table-list",
        "tables-null",
        "default",
        "term",
        "event",
        "precision",
    ],
)
def test_a_header_with_a_bad_bound_is_a_one_line_error(
    change: Callable[[dict[str, Any]], None], written: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "header.hsqz"
    bad.write_bytes(with_header(written.read_bytes(), change))
    error = one_line_error(bad)
    assert "header" in str(error)


# ----------------------------------------------------------------------------- 6. command line


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, " ".join(captured.out.split()), " ".join(captured.err.split())


def test_cli_lists_the_lossless_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / "nano.root", tmp_path / "cli.hsqz"
    write_nano_root(src, entries=60, seed=19)
    code, stdout, err = run(["compress", str(src), "-o", str(out), "--max-error", "Jet_pt=1e-3r"], capsys)
    assert code == 0, err
    assert "stored losslessly" in stdout
    listed = stdout.split("stored losslessly (no bound given):", 1)[1]
    for name in ("MET_pt", "MET_phi", "Jet/Jet_eta", "Jet/Jet_mass", "Muon/Muon_pt"):
        assert name in listed, name
    assert "Jet/Jet_pt" not in listed
    assert "Jet/Jet_hadronFlavour" not in listed
    back = hepsqueeze.decompress_to_dataset(out)
    ds = read_dataset(src)
    assert same_bits(back.aux["Jet"]["Jet_eta"], ds.aux["Jet"]["Jet_eta"])


def test_cli_require_bounds_names_a_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / "nano.root", tmp_path / "req.hsqz"
    write_nano_root(src, entries=30, seed=20)
    code, _, err = run(
        ["compress", str(src), "-o", str(out), "--max-error", "Jet_pt=1e-3r", "--require-bounds"], capsys
    )
    assert code == 1
    assert "MET_pt" in err or "Jet_eta" in err, err
    assert not out.exists()
    code, _, err = run(
        ["compress", str(src), "-o", str(out), "--max-error", "1e-3", "--require-bounds"], capsys
    )
    assert code == 0, err


@pytest.mark.parametrize("suffix", [".root", ".parquet"])
def test_cli_nanoaod_preset(suffix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / f"nano{suffix}", tmp_path / "preset.hsqz"
    if suffix == ".root":
        write_nano_root(src, entries=60, seed=21)
    else:
        from hepsqueeze.io import write_table

        write_table(nano_dataset(np.random.default_rng(21)).aux["Jet"], src)
    code, _, err = run(["compress", str(src), "-o", str(out), "--precision", "nanoaod"], capsys)
    assert code == 0, err
    ds, back = read_dataset(src), decompress_dataset(out)
    assert_dataset_within(ds, back, out)
    _, tables = header_bounds(out)
    main_bounds, _ = header_bounds(out)
    jet = tables.get("Jet", main_bounds)
    assert jet["Jet_pt"].bits == 10
    assert jet["Jet_mass"].bits == 10
