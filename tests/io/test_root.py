"""ROOT TTrees: jagged collections flattened and rebuilt, passthrough branches bit-exact, clear errors."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import numpy.typing as npt
import pytest
import uproot

from hepsqueeze.api import compress, decompress_to_dataset
from hepsqueeze.codecs.autoencoder.exceptions import codec_reconstruct
from hepsqueeze.errors import ColumnError, InputError
from hepsqueeze.io import Table, detect_format, read_dataset, read_table, write_dataset, write_table

JET_COLUMNS = ["Jet_E", "Jet_pt", "Jet_eta", "Jet_phi"]
COUNTERS = {"Jet_E": "nJet", "Jet_pt": "nJet", "Jet_eta": "nJet", "Jet_phi": "nJet", "Jet_btag": "nJet"}
COUNTERS |= {"Jet_nConst": "nJet", "Muon_pt": "nMuon", "Muon_charge": "nMuon"}


def nano_file(jets: Table, path: Path, extra: dict[str, Any] | None = None) -> Path:
    """A NanoAOD-like tree 'Events': per-event branches, jets grouped by event, muons, a 3-vector."""
    rng = np.random.default_rng(5)
    counts = np.bincount(jets["event"], minlength=int(jets["event"].max()) + 2)  # last event: no jets
    n = counts.shape[0]
    n_mu = rng.integers(0, 3, n)
    mu = int(n_mu.sum())
    jet_values = {f"Jet_{c}": ak.unflatten(jets[c], counts) for c in ("E", "pt", "eta", "phi")}
    data: dict[str, Any] = {
        "run": np.full(n, 355100, dtype=np.uint32),
        "event": np.arange(1000, 1000 + n, dtype=np.uint64),
        "nJet": counts.astype(np.uint32),
        **jet_values,
        "Jet_btag": ak.unflatten(rng.random(jets.num_rows).astype(np.float32), counts),
        "Jet_nConst": ak.unflatten(rng.integers(1, 60, jets.num_rows).astype(np.int16), counts),
        "MET_pt": np.asarray(rng.random(n) * 100, dtype=np.float32),
        "MET_sig": np.where(rng.random(n) < 0.1, np.nan, rng.standard_normal(n)),  # NaNs pass through
        "pass_trigger": rng.random(n) < 0.5,
        "nMuon": n_mu.astype(np.int32),
        "Muon_pt": ak.unflatten(rng.random(mu).astype(np.float32) * 50, n_mu),
        "Muon_charge": ak.unflatten(rng.choice(np.array([-1, 1], dtype=np.int32), mu), n_mu),
        "beamspot": rng.standard_normal((n, 3)),
        **(extra or {}),
    }
    types = {
        k: (v.type.content if isinstance(v, ak.Array) else np.dtype((v.dtype, v.shape[1:])))
        for k, v in data.items()
    }
    with uproot.recreate(path) as f:
        tree = f.mktree("Events", types, title="Events", counter_name=lambda b: COUNTERS.get(b, "n" + b))
        tree.extend({k: v for k, v in data.items() if k not in ("nJet", "nMuon")})
    return path


@pytest.fixture(scope="module")
def nano(jets: Table, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return nano_file(jets, tmp_path_factory.mktemp("root") / "nano.root")


def branches(path: Path, tree: str = "Events") -> dict[str, tuple[str, Any]]:
    """Branch name -> (type name, values as numpy / awkward)."""
    with uproot.open(path) as f:
        t = f[tree]
        return {b.name: (b.typename, b.array(library="ak")) for b in t.branches}


def same_bits(a: Any, b: Any) -> bool:
    flat_a: npt.NDArray[Any] = ak.to_numpy(ak.flatten(a, axis=None))
    flat_b: npt.NDArray[Any] = ak.to_numpy(ak.flatten(b, axis=None))
    return flat_a.dtype == flat_b.dtype and flat_a.tobytes() == flat_b.tobytes()


def test_read_flattens_the_chosen_collection(nano: Path, jets: Table) -> None:
    assert detect_format(nano) == "root"
    ds = read_dataset(nano, columns=JET_COLUMNS)
    assert ds.table.names == ("event", "Jet_E", "Jet_pt", "Jet_eta", "Jet_phi", "Jet_btag", "Jet_nConst")
    np.testing.assert_array_equal(ds.table["event"], jets["event"])
    np.testing.assert_array_equal(ds.table["Jet_pt"], jets["pt"])
    assert ds.table["Jet_nConst"].dtype == np.int16
    assert set(ds.aux) == {"events", "Muon"}
    events = ds.aux["events"]
    assert events.names == (
        "run",
        "event",
        "MET_pt",
        "MET_sig",
        "pass_trigger",
        "beamspot[0]",
        "beamspot[1]",
        "beamspot[2]",
    )
    assert events["event"].dtype == np.uint64
    assert ds.aux["Muon"].names == ("event", "Muon_pt", "Muon_charge")
    assert ds.layout["tree"] == "Events"
    # read_table gives the main table, columns selected.
    assert read_table(nano, columns=["Jet_pt", "event"]).names == ("Jet_pt", "event")


def test_unchanged_round_trip_is_identical(nano: Path, tmp_path: Path) -> None:
    ds = read_dataset(nano, columns=JET_COLUMNS)
    out = write_dataset(ds, tmp_path / "back.root")
    before, after = branches(nano), branches(out)
    assert list(after) == list(before)
    for name, (typename, values) in before.items():
        assert after[name][0] == typename, name
        assert same_bits(after[name][1], values), name


def test_compressed_round_trip_rebuilds_the_tree(model, nano: Path, tmp_path: Path, jets: Table) -> None:  # type: ignore[no-untyped-def]
    ds = read_dataset(nano, columns=JET_COLUMNS)
    packed = tmp_path / "nano.hsqz"
    rep = compress(ds, packed, columns=JET_COLUMNS, model=model)
    assert rep.compressed_columns == tuple(JET_COLUMNS)
    assert rep.auxiliary_rows == {"events": ds.aux["events"].num_rows, "Muon": ds.aux["Muon"].num_rows}
    out = write_dataset(decompress_to_dataset(packed), tmp_path / "back.root")
    before, after = branches(nano), branches(out)
    with uproot.open(out) as f:
        assert f.keys(cycle=False) == ["Events"]
    assert list(after) == list(before)
    assert [t for t, _ in after.values()] == [t for t, _ in before.values()]
    assert ak.to_list(after["nJet"][1]) == ak.to_list(before["nJet"][1])
    assert ak.all(ak.num(after["Jet_pt"][1]) == ak.num(before["Jet_pt"][1]))
    for name in before:
        if name not in JET_COLUMNS:
            assert same_bits(after[name][1], before[name][1]), name
    recon = codec_reconstruct(model, jets.stack(["E", "pt", "eta", "phi"]))
    for i, name in enumerate(JET_COLUMNS):
        np.testing.assert_array_equal(ak.to_numpy(ak.flatten(after[name][1])), recon[:, i])


def test_flat_tree_and_tree_option(tmp_path: Path, jets: Table) -> None:
    path = write_table(jets, tmp_path / "flat.root", tree="jets")
    with uproot.open(path) as f:
        assert f.keys(cycle=False) == ["jets"]
    back = read_dataset(path)
    assert back.table.names == jets.names
    assert not back.aux
    for n in jets.names:
        np.testing.assert_array_equal(back.table[n], jets[n])
    # A file with two trees needs tree=.
    with uproot.recreate(tmp_path / "two.root") as f:
        f.mktree("a", {"x": np.float32}).extend({"x": np.zeros(3, np.float32)})
        f.mktree("b", {"y": np.int64}).extend({"y": np.arange(2)})
    with pytest.raises(InputError, match=r"several TTrees \(a, b\); choose one \(tree=\.\.\.\)") as info:
        read_table(tmp_path / "two.root")
    assert info.value.option == "tree"
    assert read_table(tmp_path / "two.root", tree="b").names == ("y",)
    with pytest.raises(InputError, match=r"no TTree 'c' .*\(TTrees: a, b\)"):
        read_table(tmp_path / "two.root", tree="c")


def test_unwritable_branch_is_named(jets: Table, tmp_path: Path) -> None:
    n = int(jets["event"].max()) + 2
    path = nano_file(jets, tmp_path / "s.root", {"label": ak.Array(["x"] * n)})
    with pytest.raises(InputError, match=r"branch 'label' .* \(text\).* \(branches=\[\.\.\.\]\)") as info:
        read_dataset(path, columns=JET_COLUMNS)
    assert info.value.option == "branches"
    keep = [b for b in branches(path) if b != "label"]
    ds = read_dataset(path, columns=JET_COLUMNS, branches=keep)
    assert "label" not in ds.aux["events"]
    # read_table reads only the branches behind the columns asked for.
    assert read_table(path, columns=JET_COLUMNS).names == tuple(JET_COLUMNS)
    assert read_table(path, columns=["beamspot[1]", "run"]).names == ("beamspot[1]", "run")
    with pytest.raises(ColumnError, match=r"did you mean 'MET_pt'"):
        read_table(path, columns=["MET_ptt"])


def test_collection_choice_errors(nano: Path) -> None:
    # several collections and no columns: the flat branches are the main table, every collection aux
    whole = read_dataset(nano)
    assert "MET_pt" in whole.table.names
    assert {"Jet", "Muon"} <= set(whole.aux)
    with pytest.raises(ColumnError, match=r"different collections"):
        read_dataset(nano, columns=["Jet_pt", "Muon_pt", "Jet_eta", "Jet_phi"])
    with pytest.raises(ColumnError, match=r"'nJet' .* counter branch"):
        read_dataset(nano, columns=["nJet"])
    with pytest.raises(ColumnError, match=r"did you mean 'Jet_pt'"):
        read_dataset(nano, columns=["Jet_ptt"])
    # Flat branches as the main table: every collection becomes an auxiliary table.
    flat = read_dataset(nano, columns=["MET_pt"])
    assert flat.table.num_rows == flat.layout["num_entries"]
    assert set(flat.aux) == {"Jet", "Muon"}


def test_not_a_tree_and_corrupt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with uproot.recreate(tmp_path / "h.root") as f:
        f["hist"] = np.histogram(np.arange(5.0), bins=2)
    with pytest.raises(InputError, match=r"holds no TTree"):
        read_table(tmp_path / "h.root")
    bad = tmp_path / "bad.dat"
    bad.write_bytes(b"root" + b"\x00" * 40)
    assert detect_format(bad) == "root"
    with pytest.raises(InputError, match=r"bad\.dat") as info:
        read_table(bad)
    assert "\n" not in str(info.value)


def test_other_datasets_write_a_flat_tree(
    tmp_path: Path, jets: Table, caplog: pytest.LogCaptureFixture
) -> None:
    from hepsqueeze.io import Dataset

    ds = Dataset(jets, {"events": Table({"w": np.ones(3)})}, {"format": "parquet"})
    with caplog.at_level(logging.WARNING):
        out = write_dataset(ds, tmp_path / "x.root")
    assert "auxiliary table(s) events are left out" in caplog.text
    assert read_table(out).names == jets.names
