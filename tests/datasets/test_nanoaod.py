"""Tests of kind ``nanoaod``: the NanoAOD-style ROOT tree from Pythia 8 + FastJet, and its CLI."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from hepsqueeze.cli import main
from hepsqueeze.datasets import (
    JETS27D_COLUMNS,
    NANOAOD_BRANCHES,
    GeneratorConfig,
    cache_path,
    generate,
    generate_dataset,
    generate_nanoaod,
    nanoaod,
)
from hepsqueeze.datasets import config as config_module
from hepsqueeze.datasets.physics import (
    Particles,
    cone_pt_sums,
    hadron_flavours,
    isolated_mask,
    missing_et,
    visible_met,
)
from hepsqueeze.errors import ConfigError, GeneratorError
from hepsqueeze.io import read_dataset, write_dataset
from hepsqueeze.io.dataset import Dataset

COLLECTIONS = ("Jet", "Muon", "Electron", "Photon", "GenPart")


def massless(rows: list[tuple[float, float, float, int, bool]]) -> Particles:
    """Massless particles from (pt, eta, phi, pid, visible)."""
    pt, eta, phi = (np.array([r[k] for r in rows], dtype=np.float64) for k in range(3))
    pid = np.array([r[3] for r in rows], dtype=np.int64)
    return Particles(
        px=pt * np.cos(phi),
        py=pt * np.sin(phi),
        pz=pt * np.sinh(eta),
        e=pt * np.cosh(eta),
        pid=pid,
        charged=np.isin(np.abs(pid), (11, 13, 211)),
        visible=np.array([r[4] for r in rows], dtype=np.bool_),
    )


# --- without Pythia ------------------------------------------------------------------------------


def test_branch_order_and_dtypes() -> None:
    names = list(NANOAOD_BRANCHES)
    assert names[:4] == ["run", "luminosityBlock", "event", "nJet"]
    groups: list[str] = []
    for name in names[3:]:
        group = name[1:] if name[1:] in COLLECTIONS and name[0] == "n" else name.split("_")[0]
        if not groups or groups[-1] != group:
            groups.append(group)
    assert groups == ["Jet", "Muon", "Electron", "Photon", "MET", "GenMET", "GenPart"]
    assert names[4:8] == ["Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass"]
    assert NANOAOD_BRANCHES["run"] == np.uint32
    assert NANOAOD_BRANCHES["luminosityBlock"] == np.uint32
    assert NANOAOD_BRANCHES["event"] == np.uint64
    assert NANOAOD_BRANCHES["Jet_nConstituents"] == np.uint8
    assert NANOAOD_BRANCHES["Jet_hadronFlavour"] == np.int32
    assert NANOAOD_BRANCHES["GenPart_genPartIdxMother"] == np.int16
    for name, dtype in NANOAOD_BRANCHES.items():
        if dtype.kind == "f":
            assert dtype == np.float32, name
        if name.startswith("n") and name[1:] in COLLECTIONS:
            assert dtype == np.int32, name
    # Every jets27d variable but E (NanoAOD stores the mass) and b_label (hadronFlavour) is there.
    renamed = {"m": "mass", "n_constituents": "nConstituents"}
    for column in set(JETS27D_COLUMNS) - {"event", "E", "b_label"}:
        assert f"Jet_{renamed.get(column, column)}" in NANOAOD_BRANCHES, column
    for name in ("tau1", "tau2", "tau3", "tau21", "tau32", "lead_pt", "lead_fraction", "area"):
        assert f"Jet_{name}" in NANOAOD_BRANCHES
    for obj in ("Muon", "Electron", "Photon"):
        for suffix in ("pt", "eta", "phi", "mass", "charge", "pdgId", "pfRelIso03_all"):
            assert f"{obj}_{suffix}" in NANOAOD_BRANCHES


def test_counter_of() -> None:
    assert nanoaod.counter_of("Jet_pt") == "nJet"
    assert nanoaod.counter_of("GenPart_genPartIdxMother") == "nGenPart"
    assert nanoaod.counter_of("MET_pt") is None
    assert nanoaod.counter_of("nJet") is None
    assert nanoaod.counter_of("run") is None


def test_event_numbers() -> None:
    index = np.arange(3, dtype=np.int64)
    assert nanoaod.event_numbers(3, index).tolist() == [3_000_000_001, 3_000_000_002, 3_000_000_003]
    assert nanoaod.event_numbers(0, index).tolist() == [1, 2, 3]
    big = nanoaod.event_numbers(2**63 - 1, np.array([10**9 - 1], dtype=np.int64))
    assert big.dtype == np.uint64
    assert int(big[0]) == ((2**63 - 1) % 10**10) * 10**9 + 10**9


def test_cone_sums_agree_with_isolation() -> None:
    p = massless(
        [
            (50.0, 0.0, 0.0, 13, True),  # muon with 2 GeV around: isolated
            (2.0, 0.1, 0.1, 211, True),
            (30.0, 1.0, 2.0, 11, True),  # electron with 10 GeV around: not isolated
            (10.0, 1.1, 2.1, 211, True),
            (40.0, 1.0, 2.05, 12, False),  # a neutrino is never in the cone
        ]
    )
    sums = cone_pt_sums(p, np.array([0, 2], dtype=np.intp))
    np.testing.assert_allclose(sums, [2.0, 10.0])
    assert isolated_mask(p)[[0, 2]].tolist() == [True, False]
    assert cone_pt_sums(p, np.array([], dtype=np.intp)).shape == (0,)


def test_hadron_flavours() -> None:
    jets_eta, jets_phi = np.array([0.0, 1.0, -1.0, 2.0]), np.array([0.0, 1.0, 3.1, -2.0])
    flavours = hadron_flavours(
        jets_eta,
        jets_phi,
        b_eta=np.array([0.1]),
        b_phi=np.array([0.0]),
        c_eta=np.array([0.0, 1.1, -1.0]),
        c_phi=np.array([0.1, 1.0, -3.1]),  # the last one across phi = pi
    )
    assert flavours.dtype == np.int32
    assert flavours.tolist() == [5, 4, 4, 0]
    none = hadron_flavours(
        jets_eta, jets_phi, b_eta=np.empty(0), b_phi=np.empty(0), c_eta=np.empty(0), c_phi=np.empty(0)
    )
    assert none.tolist() == [0, 0, 0, 0]


def test_visible_met() -> None:
    p = massless(
        [
            (30.0, 0.0, 0.0, 211, True),
            (10.0, 1.0, math.pi / 2, 22, True),
            (100.0, 6.0, 1.0, 211, True),  # beyond |eta| < 5
            (25.0, 0.0, math.pi, 12, False),
        ]
    )
    met, phi, sum_et = visible_met(p)
    assert met == pytest.approx(math.hypot(30.0, 10.0))
    assert phi == pytest.approx(math.atan2(-10.0, -30.0))
    assert sum_et == pytest.approx(40.0)
    assert missing_et(p) == pytest.approx((25.0, math.pi))
    assert visible_met(massless([(5.0, 7.0, 0.0, 211, True)])) == (0.0, 0.0, 0.0)


def test_dataset_checks_counts() -> None:
    columns = {name: np.zeros(1, dtype=dtype) for name, dtype in NANOAOD_BRANCHES.items()}
    for name in NANOAOD_BRANCHES:
        if nanoaod.counter_of(name) is not None:
            columns[name] = np.zeros(0, dtype=NANOAOD_BRANCHES[name])
    dataset = nanoaod.nanoaod_dataset(columns, "<test>")
    assert dataset.layout["num_entries"] == 1
    assert set(dataset.aux) == {"events", "Muon", "Electron", "Photon", "GenPart"}
    columns["nJet"] = np.ones(1, dtype=np.int32)  # one jet claimed, no jet values
    with pytest.raises(GeneratorError, match="Jet_pt"):
        nanoaod.nanoaod_dataset(columns, "<test>")


def test_config_and_cache_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="at most"):
        GeneratorConfig("ttbar", 10**9 + 1, 1, kind="nanoaod")
    nano = GeneratorConfig("ttbar", 10, 1, kind="nanoaod")
    others = [GeneratorConfig("ttbar", 10, 1, kind=k) for k in ("jets", "jets27d", "events")]
    before = [c.cache_key() for c in [nano, *others]]
    assert len(set(before)) == 4
    assert cache_path(nano, "/c").name == f"ttbar-nanoaod-{nano.cache_key()}.root"
    # The NanoAOD code version enters the nanoaod key only.
    monkeypatch.setattr(config_module, "NANOAOD_CODE_VERSION", "changed")
    after = [c.cache_key() for c in [nano, *others]]
    assert after[0] != before[0]
    assert after[1:] == before[1:]


def test_wrong_kinds_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="generate_nanoaod"):
        generate(GeneratorConfig("qcd", 1, 1, kind="nanoaod"), cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="kind 'nanoaod'"):
        generate_nanoaod(GeneratorConfig("qcd", 1, 1, kind="jets"), cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="kind 'nanoaod'"):
        nanoaod.generate_nanoaod_block(GeneratorConfig("qcd", 1, 1), 0, 1)


# --- with Pythia ---------------------------------------------------------------------------------

pythia_needed = pytest.mark.usefixtures("generator_available")


@pytest.fixture(scope="module")
def generator_available() -> None:
    for module in ("pythia8mc", "fastjet", "uproot", "awkward"):
        pytest.importorskip(module)


TTBAR = GeneratorConfig("ttbar", events=20, seed=3, block_events=10, kind="nanoaod")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache-nanoaod")


@pytest.fixture(scope="module")
def sample(generator_available: None, cache_dir: Path) -> Dataset:
    return generate_nanoaod(TTBAR, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def root_file(sample: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(sample, tmp_path_factory.mktemp("nanoaod") / "ttbar.root")


@pytest.fixture(scope="module")
def arrays(root_file: Path) -> dict[str, Any]:
    """Every branch as uproot reads it: numpy for flat branches, awkward for jagged ones."""
    import uproot

    with uproot.open(root_file) as file:
        tree = file["Events"]
        return {str(b.name): b.array(library="ak") for b in tree.branches}


def flat(values: Any) -> npt.NDArray[Any]:
    import awkward as ak

    return np.asarray(ak.to_numpy(ak.flatten(values, axis=None)))


def branch_dtype(branch: Any) -> np.dtype[Any]:
    interp = branch.interpretation
    to: np.dtype[Any] = interp.content.to_dtype if type(interp).__name__ == "AsJagged" else interp.to_dtype
    return to.newbyteorder("=")


@pythia_needed
def test_tree_branches_and_dtypes(root_file: Path) -> None:
    import uproot

    with uproot.open(root_file) as file:
        assert file.classnames(cycle=False) == {"Events": "TTree"}
        tree = file["Events"]
        assert tree.title == "Events"
        assert tree.num_entries == TTBAR.events
        assert [str(b.name) for b in tree.branches] == list(NANOAOD_BRANCHES)
        assert {str(b.name): branch_dtype(b) for b in tree.branches} == NANOAOD_BRANCHES
        for b in tree.branches:
            counter = nanoaod.counter_of(str(b.name))
            jagged = type(b.interpretation).__name__ == "AsJagged"
            assert jagged == (counter is not None), b.name
            if jagged:
                assert str(b.count_branch.name) == counter


@pythia_needed
def test_read_dataset_round_trip(sample: Dataset, root_file: Path) -> None:
    back = read_dataset(root_file, columns=["Jet_pt"])
    assert back.table.names[0] == "event"
    assert set(back.aux) == {"events", "Muon", "Electron", "Photon", "GenPart"}
    assert back.aux["events"].names == (
        "run",
        "luminosityBlock",
        "event",
        *(n for n in NANOAOD_BRANCHES if n.startswith(("MET_", "GenMET_"))),
    )
    assert_datasets_equal(back, sample)


@pythia_needed
def test_counters_match_jagged_lengths(arrays: dict[str, Any]) -> None:
    import awkward as ak

    for name, values in arrays.items():
        counter = nanoaod.counter_of(name)
        if counter is not None:
            assert np.array_equal(ak.to_numpy(ak.num(values, axis=1)), ak.to_numpy(arrays[counter])), name
    assert ak.sum(arrays["nJet"]) > 2 * TTBAR.events  # ttbar: several jets per event
    assert ak.sum(arrays["nGenPart"]) > 0
    assert ak.sum(arrays["nMuon"]) + ak.sum(arrays["nElectron"]) > 0


@pythia_needed
def test_event_ids(arrays: dict[str, Any]) -> None:
    assert np.all(flat(arrays["run"]) == 1)
    assert np.all(flat(arrays["luminosityBlock"]) == 1)
    expected = 3 * 10**9 + np.arange(1, TTBAR.events + 1)
    assert flat(arrays["event"]).tolist() == expected.tolist()


@pythia_needed
def test_ranges(arrays: dict[str, Any]) -> None:
    for name, values in arrays.items():
        v = flat(values)
        if v.dtype.kind == "f":
            assert np.all(np.isfinite(v)), name
        if name.endswith("_phi") and name != "Jet_width_phi":
            assert np.all(np.abs(v) <= np.float32(math.pi)), name
        if name.endswith(("_mass", "_pt", "_sumEt", "_pfRelIso03_all", "_area")):
            assert np.all(v >= 0), name
        if name.endswith("_eta") and not name.startswith("GenPart"):
            assert np.all(np.abs(v) < 4.5), name
    assert np.all(np.abs(flat(arrays["GenPart_eta"])) <= nanoaod.GEN_BEAM_ETA)
    met, sum_et = flat(arrays["MET_pt"]), flat(arrays["MET_sumEt"])
    assert np.all(sum_et >= met * (1 - 1e-6))
    assert np.all(flat(arrays["GenMET_pt"]) >= 0)


@pythia_needed
def test_jets(arrays: dict[str, Any]) -> None:
    pt = arrays["Jet_pt"]
    for event_pt in pt:
        values = np.asarray(event_pt)
        assert np.all(np.diff(values) <= 0), "jets by descending pt"
    assert np.all(flat(pt) > TTBAR.jet_pt_min)
    flavours = flat(arrays["Jet_hadronFlavour"])
    assert set(flavours.tolist()) <= {0, 4, 5}
    assert np.any(flavours == 5)  # two b-quarks per ttbar event
    n = flat(arrays["Jet_nConstituents"]).astype(np.int64)
    assert np.all(n >= 1)
    assert np.all(flat(arrays["Jet_n_charged"]) <= n)
    assert np.all(flat(arrays["Jet_n90"]) <= n)
    assert np.all(flat(arrays["Jet_lead_pt"]) <= flat(pt) * (1 + 1e-5))
    assert np.all(flat(arrays["Jet_area"]) > 0)


@pythia_needed
def test_jets_are_the_jets27d_jets(sample: Dataset, cache_dir: Path) -> None:
    jets27d = generate(
        GeneratorConfig("ttbar", events=20, seed=3, block_events=10, kind="jets27d"), cache_dir=cache_dir
    )
    jets = sample.table
    assert np.array_equal(jets["event"], jets27d["event"])
    for suffix, column in nanoaod.JET_FROM_JETS27D.items():
        expected = jets27d[column]
        if suffix == "nConstituents":
            expected = np.minimum(expected, 255).astype(np.uint8)
        assert np.array_equal(jets[f"Jet_{suffix}"], expected), suffix
    assert np.array_equal(jets["Jet_hadronFlavour"] == 5, jets27d["b_label"] == 1)


@pythia_needed
def test_leptons_and_photons(arrays: dict[str, Any]) -> None:
    for name, pid, pt_min in (("Muon", 13, 3.0), ("Electron", 11, 3.0), ("Photon", 22, 5.0)):
        pdg = flat(arrays[f"{name}_pdgId"])
        assert np.all(np.abs(pdg) == pid), name
        assert np.all(flat(arrays[f"{name}_pt"]) > pt_min), name
        assert np.all(np.abs(flat(arrays[f"{name}_eta"])) < 2.5), name
        for event_pt in arrays[f"{name}_pt"]:
            assert np.all(np.diff(np.asarray(event_pt)) <= 0), name
        charge = flat(arrays[f"{name}_charge"])
        expected = np.zeros_like(pdg) if pid == 22 else -np.sign(pdg)
        assert np.array_equal(charge, expected), name
    np.testing.assert_allclose(flat(arrays["Muon_mass"]), 0.10566, rtol=1e-3)
    np.testing.assert_allclose(flat(arrays["Electron_mass"]), 0.000511, rtol=1e-2)
    assert np.all(flat(arrays["Photon_mass"]) == 0)


@pythia_needed
def test_gen_particles(arrays: dict[str, Any]) -> None:
    for k in range(TTBAR.events):
        pid, status, mother, eta = (
            np.asarray(arrays[f"GenPart_{name}"][k])
            for name in ("pdgId", "status", "genPartIdxMother", "eta")
        )
        assert np.all((mother >= -1) & (mother < np.arange(mother.size))), "mothers come first"
        assert status[:2].tolist() == [21, 21]  # the incoming partons, along the beams
        assert mother[:2].tolist() == [-1, -1]
        assert np.abs(eta[:2]).tolist() == [nanoaod.GEN_BEAM_ETA] * 2
        assert np.all((status >= 21) & (status <= 29))
        assert sorted(pid[np.abs(pid) == 6].tolist()) == [-6, 6]  # ttbar


@pythia_needed
def test_same_seed_same_sample(sample: Dataset) -> None:
    assert_datasets_equal(generate_nanoaod(TTBAR, use_cache=False), sample)


@pythia_needed
def test_cache_hit_does_not_run_pythia(
    sample: Dataset, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: Any) -> None:
        raise AssertionError("the generator ran despite a cached sample")

    monkeypatch.setattr(nanoaod, "generate_nanoaod_block", fail)
    cached = generate_dataset(TTBAR, cache_dir=cache_dir)
    assert np.array_equal(cached.table["Jet_pt"], sample.table["Jet_pt"])
    assert cache_path(TTBAR, cache_dir).is_file()


def assert_datasets_equal(mine: Dataset, theirs: Dataset) -> None:
    assert dict(mine.layout) == dict(theirs.layout)
    assert set(mine.aux) == set(theirs.aux)
    for a, b in [(mine.table, theirs.table)] + [(mine.aux[k], theirs.aux[k]) for k in mine.aux]:
        assert a.names == b.names
        for name in a.names:
            assert a[name].dtype == b[name].dtype, name
            assert np.array_equal(a[name], b[name]), name


QCD = GeneratorConfig("qcd", events=4, seed=2, block_events=2, kind="nanoaod")


@pythia_needed
def test_corrupt_cache_seeds_and_empty_samples(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = cache_path(QCD, tmp_path)
    path.write_bytes(b"not a root file")
    with caplog.at_level(logging.WARNING, logger="hepsqueeze.datasets"):
        regenerated = generate_nanoaod(QCD, cache_dir=tmp_path)
    assert any("regenerating" in r.getMessage() for r in caplog.records)
    assert path.read_bytes().startswith(b"root")
    assert_datasets_equal(regenerated, generate_nanoaod(QCD, use_cache=False))
    other_seed = generate_nanoaod(GeneratorConfig("qcd", 4, seed=5, kind="nanoaod"), use_cache=False)
    ours, theirs = regenerated.aux["events"]["event"], other_seed.aux["events"]["event"]
    assert not set(ours.tolist()) & set(theirs.tolist())
    assert not np.array_equal(regenerated.aux["events"]["MET_pt"], other_seed.aux["events"]["MET_pt"])
    for _ in range(2):  # generated, then read back from the cache
        empty = generate_nanoaod(GeneratorConfig("qcd", 0, seed=2, kind="nanoaod"), cache_dir=tmp_path)
        assert empty.layout["num_entries"] == 0
        assert empty.table.num_rows == 0
        assert all(t.num_rows == 0 for t in empty.aux.values())


@pytest.mark.slow
@pythia_needed
def test_workers_give_identical_output() -> None:
    assert_datasets_equal(
        generate_nanoaod(QCD, workers=2, use_cache=False), generate_nanoaod(QCD, use_cache=False)
    )


# --- the command line ----------------------------------------------------------------------------


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@pythia_needed
def test_cli_generate_nanoaod(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEPSQUEEZE_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "x.root"
    code, stdout, err = run(
        ["generate", "ttbar", "--kind", "nanoaod", "--events", "3", "--seed", "2", "-o", str(out)], capsys
    )
    assert code == 0, err
    assert "3 ttbar events" in " ".join(stdout.split())
    back = read_dataset(out, columns=["Jet_pt"])
    assert back.layout["tree"] == "Events"
    assert back.layout["num_entries"] == 3
    assert [b["name"] for b in back.layout["branches"]] == list(NANOAOD_BRANCHES)


@pytest.mark.parametrize(
    ("output", "extra", "fragment"),
    [("x.parquet", [], ".root"), ("x.csv", [], ".root"), ("x.root", ["--format", "parquet"], "--format")],
)
def test_cli_refuses_outputs_other_than_root(
    output: str, extra: list[str], fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / output
    code, _, err = run(
        ["generate", "ttbar", "--kind", "nanoaod", "--events", "2", "-o", str(out), *extra], capsys
    )
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert "Traceback" not in err
    assert not out.exists()
