"""hepsqueeze.open: a compressed file as one awkward Array of events, as uproot and NanoEvents see it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

import hepsqueeze as hsq
from analysis_helpers import MAX_ERROR, nano_tree
from hepsqueeze import analysis
from hepsqueeze.analysis import EventLayout, open_branches
from hepsqueeze.errors import ColumnError, KeyInFileError
from hepsqueeze.io import write_dataset
from hepsqueeze.io.table import Table


@pytest.fixture(scope="module")
def nano(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(the ROOT file, its compressed file, the decompressed ROOT file)."""
    d = tmp_path_factory.mktemp("analysis")
    src = nano_tree(d / "nano.root")
    out = d / "nano.hsqz"
    hsq.compress(src, out, max_error=MAX_ERROR)
    back = d / "back.root"
    write_dataset(hsq.decompress_to_dataset(out), back)
    return src, out, back


def uproot_events(path: Path) -> Any:
    """uproot's arrays of the tree grouped by hand as NanoAOD users do: collections and MET zipped."""
    with uproot.open(path) as f:
        a = f["Events"].arrays()

    def fields(prefix: str) -> dict[str, Any]:
        return {k[len(prefix) + 1 :]: a[k] for k in a.fields if k.startswith(prefix + "_")}

    return ak.zip(
        {
            "run": a.run,
            "luminosityBlock": a.luminosityBlock,
            "event": a.event,
            "Jet": ak.zip(fields("Jet")),
            "Muon": ak.zip(fields("Muon")),
            "MET": ak.zip(fields("MET")),
            "HLT": ak.zip(fields("HLT")),
            "beamspot": a.beamspot,
        },
        depth_limit=1,
    )


def leaves(array: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf field of nested records, by its dotted path."""
    out: dict[str, Any] = {}
    for field in ak.fields(array):
        sub = array[field]
        path = f"{prefix}{field}"
        if ak.fields(sub):
            out.update(leaves(sub, path + "."))
        else:
            out[path] = sub
    return out


def test_open_gives_what_uproot_gives_for_the_decompressed_file(nano: tuple[Path, Path, Path]) -> None:
    _, out, back = nano
    events = hsq.open(out)
    expected = uproot_events(back)
    assert str(events.type) == str(expected.type)
    assert events.fields == ["run", "luminosityBlock", "event", "Jet", "Muon", "MET", "HLT", "beamspot"]
    assert ak.array_equal(events, expected)
    with uproot.open(back) as f:
        assert ak.array_equal(ak.num(events.Jet), f["Events"]["nJet"].array(), dtype_exact=False)


def test_open_values_are_within_the_bounds_of_the_original(nano: tuple[Path, Path, Path]) -> None:
    src, out, _ = nano
    events, original = leaves(hsq.open(out)), leaves(uproot_events(src))
    assert events.keys() == original.keys()
    for path, values in events.items():
        got = ak.to_numpy(ak.flatten(values, axis=None))
        want = ak.to_numpy(ak.flatten(original[path], axis=None))
        assert got.dtype == want.dtype, path
        name = path.rsplit(".", 1)[-1]
        if want.dtype.kind != "f":
            assert np.array_equal(got, want), path
        elif name in ("pt", "mass"):
            assert np.all(np.abs(got.astype(np.float64) - want) <= 1e-3 * np.abs(want.astype(np.float64))), (
                path
            )
        elif name == "phi":
            diff = np.angle(np.exp(1j * (got.astype(np.float64) - want)))
            assert np.all(np.abs(diff) <= 1e-3 + 1e-6), path
        else:
            assert np.all(np.abs(got.astype(np.float64) - want) <= 1e-3), path


def test_columns_give_the_same_values_for_fewer_fields(nano: tuple[Path, Path, Path]) -> None:
    _, out, _ = nano
    full = hsq.open(out)
    some = hsq.open(out, columns=["MET", "Jet_pt", "Jet.eta", "run"])
    assert some.fields == ["run", "Jet", "MET"]  # the file's order
    assert some.Jet.fields == ["pt", "eta"]
    assert ak.array_equal(some.Jet, full.Jet[["pt", "eta"]])
    assert ak.array_equal(some.MET, full.MET)
    assert ak.array_equal(hsq.open(out, columns="Muon").Muon, full.Muon)
    assert hsq.open(out, columns=[]).fields == []
    assert len(hsq.open(out, columns=[])) == len(full)


def test_columns_decode_only_the_tables_they_need(
    nano: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out, _ = nano
    asked: list[dict[Any, Any]] = []
    real = analysis.read_columns

    def spy(opened: Any, wanted: Any) -> Any:
        asked.append(dict(wanted))
        return real(opened, wanted)

    monkeypatch.setattr(analysis, "read_columns", spy)
    hsq.open(out, columns=["Jet_pt"])
    hsq.open(out, columns=["MET_pt", "run"])
    assert asked[0] == {"Jet": ["event", "Jet_pt"]}  # its table only; event: the entry index
    assert asked[1] == {None: ["run", "MET_pt"]}


def test_the_form_comes_from_the_header(nano: tuple[Path, Path, Path]) -> None:
    _, out, _ = nano
    layout = EventLayout.of_file(out)
    assert layout.events == 300
    for columns in (None, ["Jet"], ["MET_pt", "beamspot"]):
        assert layout.form(layout.select(columns)) == hsq.open(out, columns=columns).layout.form


def test_open_branches_gives_uprootsbranches(nano: tuple[Path, Path, Path]) -> None:
    _, out, back = nano
    got = open_branches(out)
    with uproot.open(back) as f:
        want = f["Events"].arrays(how=dict)
    assert set(got) == set(want)
    for name, values in want.items():
        assert str(got[name].type) == str(values.type), name
        assert ak.array_equal(got[name], values), name
    assert set(open_branches(out, columns=["Jet_pt"])) == {"nJet", "Jet_pt"}


def test_missing_columns_are_named_in_one_error(nano: tuple[Path, Path, Path]) -> None:
    _, out, _ = nano
    with pytest.raises(KeyInFileError, match=r"'Jet_ptt', 'Tau'.*did you mean 'Jet_pt'") as info:
        hsq.open(out, columns=["Jet_ptt", "Jet_eta", "Tau"])
    assert info.value.keys == ("Jet_ptt", "Tau")
    assert (info.value.path, info.value.column) == (str(out), "Jet_ptt")
    with pytest.raises(ColumnError, match="counter of collection 'Jet'"):
        hsq.open(out, columns=["nJet"])


def test_a_flat_jets_file_gives_one_record_per_jet(jets: Table, tmp_path: Path) -> None:
    out = tmp_path / "jets.hsqz"
    hsq.compress(jets, out, max_error="1e-3")
    records = hsq.open(out)
    assert (
        str(records.type)
        == f"{jets.num_rows} * {{event: int64, E: float32, pt: float32, eta: float32, phi: float32}}"
    )
    back = hsq.decompress(out, library="np")
    for name in jets.names:
        assert np.array_equal(ak.to_numpy(records[name]), back[name])
    pt = hsq.open(out, columns=["pt"])
    assert pt.fields == ["pt"]
    assert np.array_equal(ak.to_numpy(pt.pt), back["pt"])


def test_an_autoencoder_file(
    jets: Table, tiny_model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "ae.hsqz"
    hsq.compress(jets, out, model=tiny_model)
    back = hsq.decompress(out, library="np")
    records = hsq.open(out)
    assert records.fields == list(back)
    for name, values in back.items():
        assert np.array_equal(ak.to_numpy(records[name]), values)
    from hepsqueeze.codecs.autoencoder.codec import AutoencoderCodec

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the network ran for a lossless column")

    monkeypatch.setattr(AutoencoderCodec, "decode", refuse)
    event = hsq.open(out, columns=["event"])  # a passthrough column: the network does not run
    assert np.array_equal(ak.to_numpy(event.event), back["event"])


def test_awkward_data_comes_back_in_its_shape(tmp_path: Path) -> None:
    jets = ak.Array([[{"pt": 50.0, "eta": 0.5}], [], [{"pt": 30.0, "eta": -1.0}, {"pt": 20.0, "eta": 2.0}]])
    jets = ak.values_astype(jets, np.float32)
    for data in (jets, ak.zip({"Jet": jets}, depth_limit=1)):
        out = tmp_path / "ak.hsqz"
        hsq.compress(data, out, max_error="1e-3", force=True)
        got = hsq.open(out)
        assert str(got.type) == str(data.type)
        assert ak.array_equal(got, hsq.decompress(out, library="ak"))
    assert hsq.open(out, columns=["Jet.pt"]).Jet.fields == ["pt"]


@pytest.mark.filterwarnings("ignore:Missing cross-reference index:RuntimeWarning")
def test_coffea_nanoevents_from_preloaded(nano: tuple[Path, Path, Path]) -> None:
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory
    from coffea.nanoevents.mapping.preloaded import SimplePreloadedColumnSource

    _, out, _ = nano
    branches = open_branches(out)
    source = SimplePreloadedColumnSource(branches, "nano-hsqz", len(branches["run"]), "Events")
    events = NanoEventsFactory.from_preloaded(source, schemaclass=NanoAODSchema).events()
    mine = hsq.open(out)
    assert ak.array_equal(events.Jet.pt, mine.Jet.pt)
    assert ak.array_equal(events.MET.pt, mine.MET.pt)
    assert ak.all(abs(events.Jet.eta - mine.Jet.eta) == 0)


def test_a_bare_collection_names_its_fields(tmp_path: Path) -> None:
    jets = ak.values_astype(ak.Array([[{"pt": 50.0, "eta": 0.5}], []]), np.float32)
    out = tmp_path / "bare.hsqz"
    hsq.compress(jets, out, max_error="1e-3")
    assert hsq.open(out, columns=["pt"]).fields == ["pt"]
    with pytest.raises(KeyInFileError, match=r"'phi' not found .* \(it holds pt, eta\)"):
        hsq.open(out, columns=["phi"])


def test_an_event_index_that_does_not_fit_is_an_input_error(nano: tuple[Path, Path, Path]) -> None:
    from hepsqueeze.errors import InputError

    _, out, _ = nano
    layout = EventLayout.of_file(out)
    chosen = layout.select(["Jet_pt"])
    pt = np.ones(2, dtype=np.float32)
    for index, match in (([3, 1], "decreases"), ([0, 300], r"holds 300, outside \[0, 300\)")):
        tables = {"Jet": Table({"event": np.array(index, dtype=np.int64), "Jet_pt": pt})}
        with pytest.raises(InputError, match=match):
            layout.build(tables, chosen)
