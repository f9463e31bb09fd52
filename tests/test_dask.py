"""hepsqueeze.dask.from_hsqz: many compressed files as one dask-awkward Array, one partition each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import dask
import dask_awkward as dak
import numpy as np
import pytest

import hepsqueeze as hsq
from analysis_helpers import MAX_ERROR, nano_tree
from hepsqueeze import analysis
from hepsqueeze.dask import from_hsqz
from hepsqueeze.errors import InputError, KeyInFileError


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("dask")
    out = []
    for i, events in enumerate((120, 80, 150)):
        src = nano_tree(d / f"nano{i}.root", events=events, seed=10 + i)
        out.append(d / f"nano{i}.hsqz")
        hsq.compress(src, out[-1], max_error=MAX_ERROR)
    return out


@pytest.fixture(autouse=True)
def synchronous() -> Any:
    with dask.config.set(scheduler="sync"):
        yield


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[dict[Any, Any]]:
    """The tables and columns each read decodes."""
    found: list[dict[Any, Any]] = []
    real = analysis.read_columns

    def spy(opened: Any, wanted: Any) -> Any:
        found.append(dict(wanted))
        return real(opened, wanted)

    monkeypatch.setattr(analysis, "read_columns", spy)
    return found


def test_compute_is_the_concatenation_of_open(files: list[Path]) -> None:
    events = from_hsqz(files)
    assert events.npartitions == 3
    assert events.divisions == (0, 120, 200, 350)
    expected = ak.concatenate([hsq.open(f) for f in files])
    got = events.compute()
    assert str(got.type) == str(expected.type)
    assert ak.array_equal(got, expected)
    assert ak.array_equal(from_hsqz(files[1]).compute(), hsq.open(files[1]))


def test_building_reads_headers_only(files: list[Path], asked: list[dict[Any, Any]]) -> None:
    events = from_hsqz(files, columns=["Jet", "MET"])
    assert events.fields == ["Jet", "MET"]
    assert events._meta.Jet.fields == ["pt", "eta", "phi", "mass", "btag", "nConst"]
    lead = events.Jet.pt[:, :1]
    assert dak.necessary_columns(lead)[events.name] == frozenset({"Jet.pt"})
    assert asked == []  # nothing decoded so far


def test_projection_decodes_only_what_a_computation_touches(
    files: list[Path], asked: list[dict[Any, Any]]
) -> None:
    events = from_hsqz(files)
    met = (events.MET.pt * 2).compute()
    assert asked == [{None: ["MET_pt"]}] * 3  # the per-event table only, in each file
    assert ak.array_equal(met, ak.concatenate([hsq.open(f).MET.pt * 2 for f in files]))


def test_a_leading_jet_histogram(files: list[Path]) -> None:
    events = from_hsqz(files)
    jets = events.Jet[ak.num(events.Jet) > 0]
    lead = jets.pt[:, 0].compute()
    counts, _ = np.histogram(ak.to_numpy(lead), bins=20, range=(0.0, 400.0))
    every = ak.concatenate([hsq.open(f, columns=["Jet_pt"]).Jet.pt for f in files])
    want, _ = np.histogram(ak.to_numpy(ak.firsts(every)[ak.num(every) > 0]), bins=20, range=(0.0, 400.0))
    assert counts.tolist() == want.tolist()
    assert counts.sum() == int(ak.sum(ak.num(every) > 0))


def test_files_of_other_forms_are_refused(files: list[Path], tmp_path: Path) -> None:
    from hepsqueeze.io.table import Table

    flat = tmp_path / "flat.hsqz"
    hsq.compress(Table({"event": np.arange(5), "pt": np.ones(5, np.float32)}), flat, max_error="1e-3")
    with pytest.raises(KeyInFileError, match="'Jet'"):
        from_hsqz([files[0], flat], columns=["Jet"])
    with pytest.raises(InputError, match="other fields or dtypes"):
        from_hsqz([files[0], flat])


def test_coffea_vector_behaviour_on_the_collection(files: list[Path]) -> None:
    from coffea.nanoevents.methods import vector

    events = from_hsqz(files)
    jets = dak.with_name(events.Jet, "PtEtaPhiMLorentzVector", behavior=vector.behavior)
    two = jets[dak.num(jets) >= 2]
    mjj = (two[:, 0] + two[:, 1]).mass
    assert dak.necessary_columns(mjj)[events.name] == frozenset({"Jet.pt", "Jet.eta", "Jet.phi", "Jet.mass"})
    eager = ak.with_name(
        ak.concatenate([hsq.open(f).Jet for f in files]), "PtEtaPhiMLorentzVector", behavior=vector.behavior
    )
    pairs = eager[ak.num(eager) >= 2]
    assert ak.array_equal(mjj.compute(), (pairs[:, 0] + pairs[:, 1]).mass)
