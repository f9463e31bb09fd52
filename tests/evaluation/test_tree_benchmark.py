"""The ROOT-file benchmark: every method on a small NanoAOD-like tree, each value checked against its
bound; NanoAOD mantissa rounding; the structure and value comparisons; the outputs."""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from hepsqueeze.codecs.bounded.column_bound import LOSSLESS, BoundMode, ColumnBound
from hepsqueeze.errors import ConfigError, InputError, InputFileNotFoundError
from hepsqueeze.evaluation import tree_benchmark as tb
from hepsqueeze.evaluation.tree_benchmark import (
    BUILTIN_METHODS,
    TreeBenchmarkConfig,
    TreeBranch,
    TreeContent,
    checked_mantissa_bits,
    compare_branch,
    compare_structure,
    fewest_mantissa_bits,
    nanoaod_round,
    read_tree,
    run_tree_benchmark,
    tree_benchmark_markdown,
    write_tree,
    write_tree_benchmark,
)

ENTRIES = 300
EPS = 1e-3
HAVE_SZ3 = importlib.util.find_spec("pysz") is not None


def write_nano(path: Path, seed: int = 11, entries: int = ENTRIES) -> Path:
    """A NanoAOD-like Events tree: event ids, two collections with counters, flat MET branches."""
    rng = np.random.default_rng(seed)
    n_jet = rng.integers(0, 7, entries)
    n_mu = rng.integers(0, 3, entries)

    def jagged(counts: Any, values: Any, dtype: Any = np.float32) -> Any:
        return ak.unflatten(np.asarray(values, dtype=dtype), counts)

    nj, nm = int(n_jet.sum()), int(n_mu.sum())
    data = {
        "run": np.full(entries, 1, np.uint32),
        "luminosityBlock": (np.arange(entries) // 100 + 1).astype(np.uint32),
        "event": np.arange(entries, dtype=np.uint64) + 123_456,
        "Jet": ak.zip(
            {
                "pt": jagged(n_jet, 15 + rng.exponential(30, nj)),
                "eta": jagged(n_jet, rng.normal(0, 2, nj)),
                "phi": jagged(n_jet, rng.uniform(-np.pi, np.pi, nj)),
                "mass": jagged(n_jet, rng.exponential(8, nj)),
            }
        ),
        "Muon": ak.zip(
            {
                "pt": jagged(n_mu, 3 + rng.exponential(20, nm)),
                "eta": jagged(n_mu, rng.normal(0, 1.5, nm)),
                "phi": jagged(n_mu, rng.uniform(-np.pi, np.pi, nm)),
                "charge": jagged(n_mu, rng.choice([-1, 1], nm), np.int32),
            }
        ),
        "MET_pt": rng.exponential(40, entries).astype(np.float32),
        "MET_phi": rng.uniform(-np.pi, np.pi, entries).astype(np.float32),
        "MET_sumEt": (300 + rng.exponential(400, entries)).astype(np.float32),
        "Flag_goodVertices": rng.random(entries) > 0.1,
        "Generator_weight": rng.normal(1, 0.1, entries),  # float64, lossless (no term names it)
    }
    with uproot.recreate(path) as f:
        f.mktree("Events", {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in data.items()})
        f["Events"].extend(data)
    return path


def bound_of(name: str, dtype: np.dtype[Any]) -> ColumnBound:
    if dtype.kind != "f":
        return LOSSLESS
    if name.endswith(("_pt", "_mass")) or name == "MET_sumEt":
        return ColumnBound(BoundMode.RELATIVE, EPS)
    if name.endswith(("_eta", "_phi")):
        return ColumnBound(BoundMode.ABSOLUTE, EPS, angle=name.endswith("_phi"))
    return LOSSLESS


class CopyMethod:
    """A method that keeps the file as it is."""

    name = "copy"

    def compress(self, src: Path, out_dir: Path) -> Path:
        return Path(shutil.copy(src, out_dir / "copy.root"))

    def decompress(self, compressed: Path, out_dir: Path) -> Path:
        return compressed


class PerturbMethod(CopyMethod):
    """A method whose decompressed file has one Jet_pt value 1% off and one event number off by 1."""

    name = "perturb"

    def decompress(self, compressed: Path, out_dir: Path) -> Path:
        content = read_tree(compressed)
        pt = content.values["Jet_pt"].copy()
        pt[3] *= np.float32(1.01)
        event = content.values["event"].copy()
        event[5] += 1
        return write_tree(content.replace_values({"Jet_pt": pt, "event": event}), out_dir / "back.root")


@pytest.fixture(scope="module")
def nano(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_nano(tmp_path_factory.mktemp("nano") / "nano.root")


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("work")


@pytest.fixture(scope="module")
def result(nano: Path, work: Path) -> dict[str, Any]:
    return run_tree_benchmark(
        nano,
        bound_of,
        extra=[CopyMethod(), PerturbMethod()],
        config=TreeBenchmarkConfig(repeats=1),
        work_dir=work,
    )


def rows(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in result["methods"]}


# --- the whole benchmark ----------------------------------------------------------------------------


def test_every_method_runs_in_order(result: dict[str, Any]) -> None:
    assert [r["name"] for r in result["methods"]] == [*BUILTIN_METHODS, "copy", "perturb"]
    assert result["format"] == tb.TREE_BENCHMARK_FORMAT
    assert "cpu" in result["machine"]
    assert result["machine"]["root_libraries"]["uproot"] == uproot.__version__


def test_input_description(result: dict[str, Any], nano: Path) -> None:
    inp = result["input"]
    assert inp["tree"] == "Events"
    assert inp["entries"] == ENTRIES
    assert inp["bytes"] == nano.stat().st_size
    names = [b["name"] for b in inp["branches"]]
    assert names == [b.name for b in uproot.open(nano)["Events"].branches]
    by = {b["name"]: b for b in inp["branches"]}
    assert by["nJet"]["kind"] == "counter"
    assert by["Jet_pt"] == {**by["Jet_pt"], "kind": "jagged", "counter": "nJet", "dtype": "float32"}
    assert by["Jet_pt"]["bound"] == "0.001 relative"
    assert by["Jet_phi"]["bound"] == "0.001 absolute (angle)"
    assert by["event"]["bound"] == "lossless"
    assert by["Generator_weight"]["dtype"] == "float64"
    assert inp["payload_bytes"] == sum(b["nbytes"] for b in inp["branches"])


def test_builtin_methods_meet_every_bound(result: dict[str, Any]) -> None:
    for name in BUILTIN_METHODS:
        row = rows(result)[name]
        if name == "sz3" and not HAVE_SZ3:
            assert row["status"] == "skipped"
            continue
        assert row["status"] == "ok", row
        assert row["within_bound"] is True
        assert row["misses"] == 0
        assert row["structure_ok"] is True
        assert row["ratio"] > 0
        assert row["ratio_vs_nanoaod_lzma9"] > 0
        assert row["compress_s"] >= 0
        assert row["decompress_s"] >= 0
        for branch, entry in row["branches"].items():
            assert entry["misses"] == 0, (name, branch)
            assert isinstance(entry["bytes"], int)
            assert entry["bytes"] > 0
        assert row["other_bytes"] == row["bytes"] - sum(e["bytes"] for e in row["branches"].values())
    assert rows(result)["nanoaod-lzma9"]["ratio_vs_nanoaod_lzma9"] == 1.0


def test_lossless_methods_are_bit_exact(result: dict[str, Any]) -> None:
    for name in ("zstd9", "lzma9", "copy"):
        row = rows(result)[name]
        assert row["bit_exact"] is True
        assert all(e["bit_exact"] and e["max_error"] == 0 for e in row["branches"].values())


def test_integer_and_lossless_branches_stay_exact_in_every_method(result: dict[str, Any]) -> None:
    exact = [b["name"] for b in result["input"]["branches"] if b["bound"] == "lossless"]
    assert {"run", "event", "nJet", "Muon_charge", "Flag_goodVertices", "Generator_weight"} <= set(exact)
    for row in result["methods"]:
        if row["status"] != "ok" or row["name"] == "perturb":
            continue
        for name in exact:
            assert row["branches"][name]["bit_exact"] is True, (row["name"], name)


def test_bounded_branches_use_their_bound(result: dict[str, Any]) -> None:
    row = rows(result)["quantise+zstd"]
    for name in ("Jet_pt", "Jet_eta", "Muon_phi", "MET_sumEt"):
        assert 0 < row["branches"][name]["max_error"] <= EPS
        assert row["branches"][name]["stored"] == "quantise+zstd"
    assert row["branches"]["event"]["stored"] == "zstd"


def test_nanoaod_rounding_uses_the_expected_bits(result: dict[str, Any], nano: Path) -> None:
    original = read_tree(nano)
    by = {b["name"]: b for b in result["input"]["branches"]}
    # relative 1e-3: 2**-10 <= 1e-3 < 2**-9
    assert by["Jet_pt"]["mantissa_bits"] == 9
    assert by["MET_sumEt"]["mantissa_bits"] == 9
    # absolute 1e-3 on values below 2**e: 2**(e - N - 1) <= 1e-3
    for name in ("Jet_eta", "Jet_phi", "Muon_eta", "MET_phi"):
        top = float(np.abs(original.values[name]).max())
        e = math.frexp(top)[1] - 1
        assert by[name]["mantissa_bits"] == math.ceil(e - 1 - math.log2(EPS)), name
    assert by["Jet_phi"]["mantissa_bits"] == 10  # |phi| in [2, 4): 2**(1 - 10 - 1) < 1e-3
    assert by["event"]["mantissa_bits"] is None
    assert by["Generator_weight"]["mantissa_bits"] is None
    # the written file holds exactly the rounded values, and they meet the bound
    back = read_tree(rows(result)["nanoaod-lzma9"]["compressed"])
    for name, bits in ((n, b["mantissa_bits"]) for n, b in by.items() if b["mantissa_bits"] is not None):
        expected = nanoaod_round(original.values[name], bits)
        assert np.array_equal(back.values[name].view(np.uint32), expected.view(np.uint32)), name
        assert not (back.values[name].view(np.uint32) & np.uint32((1 << (23 - bits)) - 1)).any()
    assert rows(result)["nanoaod-lzma9"]["branches"]["Jet_pt"]["stored"] == "9 mantissa bits, lzma-9"


def test_nanoaod_is_smaller_than_lossless(result: dict[str, Any]) -> None:
    assert rows(result)["nanoaod-lzma9"]["bytes"] < rows(result)["lzma9"]["bytes"]
    assert rows(result)["nanoaod-zstd9"]["bytes"] < rows(result)["zstd9"]["bytes"]


def test_extra_method_is_measured(result: dict[str, Any], nano: Path) -> None:
    row = rows(result)["copy"]
    assert row["status"] == "ok"
    assert row["bytes"] == nano.stat().st_size
    assert row["ratio"] == 1.0
    assert row["within_bound"] is True
    assert row["structure_ok"] is True
    # no branch_bytes: only the total
    assert all(e["bytes"] is None for e in row["branches"].values())
    assert row["other_bytes"] is None


def test_a_broken_bound_is_reported(result: dict[str, Any]) -> None:
    row = rows(result)["perturb"]
    assert row["status"] == "ok"
    assert row["within_bound"] is False
    assert row["misses"] == 2
    assert row["branches"]["Jet_pt"]["misses"] == 1
    assert row["branches"]["Jet_pt"]["max_error"] == pytest.approx(0.01, rel=1e-3)
    assert row["branches"]["event"]["misses"] == 1
    assert row["branches"]["event"]["bit_exact"] is False
    assert row["branches"]["Jet_eta"]["misses"] == 0
    assert row["structure_ok"] is True  # uproot rewrote it with the same structure


def test_markdown_renders(result: dict[str, Any]) -> None:
    md = tree_benchmark_markdown(result)
    assert md.startswith("# ROOT file benchmark")
    assert "| method | bytes | ratio |" in md
    assert "## Bytes per branch" in md
    assert "| Jet_pt | float32[nJet] | 0.001 relative | 9 |" in md
    assert "| perturb |" in md
    assert "**no**" in md
    assert "perturb: `Jet_pt` 1 values out of bound" in md
    assert "## Machine" in md


def test_write_strict_json_and_markdown(result: dict[str, Any], tmp_path: Path) -> None:
    json_path, md_path = write_tree_benchmark(result, tmp_path / "out")
    assert json_path.name == "tree_benchmark.json"
    assert md_path.name == "tree_benchmark.md"

    def no_constant(name: str) -> None:
        raise AssertionError(f"non-strict JSON constant {name}")

    loaded = json.loads(json_path.read_text(), parse_constant=no_constant)
    assert [r["name"] for r in loaded["methods"]] == [r["name"] for r in result["methods"]]
    assert md_path.read_text() == tree_benchmark_markdown(result)


def test_sz3_missing_is_skipped(nano: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(tb.importlib.util, "find_spec", lambda name: None if name == "pysz" else real(name))
    result = run_tree_benchmark(
        nano, bound_of, config=TreeBenchmarkConfig(repeats=1, methods=("zstd9", "sz3"))
    )
    sz3 = rows(result)["sz3"]
    assert sz3["status"] == "skipped"
    assert "pysz" in sz3["message"]
    assert rows(result)["zstd9"]["ratio_vs_nanoaod_lzma9"] is None  # the reference was not run
    assert "| sz3 | skipped:" in tree_benchmark_markdown(result)


def test_failing_method_is_kept(nano: Path) -> None:
    class Broken(CopyMethod):
        name = "broken"

        def decompress(self, compressed: Path, out_dir: Path) -> Path:
            return out_dir / "nothing.root"

    result = run_tree_benchmark(
        nano, bound_of, extra=[Broken()], config=TreeBenchmarkConfig(repeats=1, methods=())
    )
    (row,) = result["methods"]
    assert row["status"] == "failed"
    assert "nothing.root" in row["message"]
    assert "| broken | failed:" in tree_benchmark_markdown(result)


# --- NanoAOD rounding -------------------------------------------------------------------------------


def f32(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float32)


def test_round_half_to_even() -> None:
    # 1 mantissa bit keeps 1.0, 1.5, 2.0: 1.25 and 1.75 are ties
    assert nanoaod_round(f32(1.25, 1.75, 1.3, 1.2), 1).tolist() == [1.0, 2.0, 1.5, 1.0]
    assert nanoaod_round(f32(-1.25, -1.75, -1.3), 1).tolist() == [-1.0, -2.0, -1.5]
    # 0 bits: powers of two; a tie goes to the even bit pattern, here the even exponent field
    # (3 between 2 and 4: 2; 1.5 between 1 and 2: 2; 0.75 between 0.5 and 1: 0.5)
    assert nanoaod_round(f32(3.0, 1.5, 5.0, 0.75, 6.0), 0).tolist() == [2.0, 2.0, 4.0, 0.5, 8.0]


def test_carry_into_the_exponent() -> None:
    assert nanoaod_round(f32(1.99), 2).tolist() == [2.0]
    top = np.finfo(np.float32).max
    assert np.isposinf(nanoaod_round(f32(top), 0)[0])
    assert np.isneginf(nanoaod_round(f32(-top), 5)[0])


def test_full_width_is_identity() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal(1000).astype(np.float32)
    assert np.array_equal(nanoaod_round(x, 23).view(np.uint32), x.view(np.uint32))
    y = rng.standard_normal(1000)
    assert np.array_equal(nanoaod_round(y, 52).view(np.uint64), y.view(np.uint64))
    out = nanoaod_round(x, 23)
    assert out is not x


def test_zeros_and_non_finite_untouched() -> None:
    nan_payload = np.array([0x7FC01234, 0xFF800001], dtype=np.uint32).view(np.float32)
    x = np.concatenate([f32(0.0, -0.0, np.inf, -np.inf, np.nan), nan_payload])
    for bits in (0, 5, 22):
        assert np.array_equal(nanoaod_round(x, bits).view(np.uint32), x.view(np.uint32))


def test_round_matches_exact_reference() -> None:
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(20_000) * np.exp(rng.uniform(-20, 20, 20_000))).astype(np.float32)
    for bits in (0, 1, 7, 12, 22):
        _, exponent = np.frexp(x.astype(np.float64))
        ulp = np.ldexp(1.0, exponent - 1 - bits)
        expected = (np.round(x.astype(np.float64) / ulp) * ulp).astype(np.float32)  # ties to even
        assert np.array_equal(nanoaod_round(x, bits), expected), bits
        err = np.abs(nanoaod_round(x, bits).astype(np.float64) - x) / np.abs(x)
        assert err.max() <= 2.0 ** -(bits + 1)


def test_float64_and_byte_order() -> None:
    assert nanoaod_round(np.array([1.25, -1.75]), 1).tolist() == [1.0, -2.0]
    big = f32(1.25, 1.75).astype(">f4")
    out = nanoaod_round(big, 1)
    assert out.dtype == np.float32
    assert out.tolist() == [1.0, 2.0]


def test_round_rejects_bad_input() -> None:
    with pytest.raises(ConfigError):
        nanoaod_round(f32(1.0), 24)
    with pytest.raises(ConfigError):
        nanoaod_round(f32(1.0), -1)
    with pytest.raises(InputError):
        nanoaod_round(np.arange(3), 3)


def test_fewest_mantissa_bits() -> None:
    x = f32(0.5, -3.0, 3.14159, 0.0)
    assert fewest_mantissa_bits(ColumnBound(BoundMode.RELATIVE, 1e-3), x) == 9
    assert fewest_mantissa_bits(ColumnBound(BoundMode.RELATIVE, 2.0**-10), x) == 9
    assert fewest_mantissa_bits(ColumnBound(BoundMode.RELATIVE, 0.6), x) == 0
    assert fewest_mantissa_bits(ColumnBound(BoundMode.RELATIVE, 1e-12), x) == 23
    assert fewest_mantissa_bits(ColumnBound(BoundMode.RELATIVE, 1e-12), x.astype(np.float64)) == 39
    # max |x| in [2, 4): 2**(1 - N - 1) <= 1e-3
    assert fewest_mantissa_bits(ColumnBound(BoundMode.ABSOLUTE, 1e-3), x) == 10
    assert fewest_mantissa_bits(ColumnBound(BoundMode.ABSOLUTE, 1e-3), np.append(x, np.inf)) == 10
    assert fewest_mantissa_bits(ColumnBound(BoundMode.ABSOLUTE, 1e-3), f32(0.0, -0.0)) == 0
    # a relative bound with a floor takes the fewer bits of the two rules
    assert fewest_mantissa_bits(ColumnBound(BoundMode.RELATIVE, 1e-6, floor=0.5), x) == 1
    assert fewest_mantissa_bits(ColumnBound(BoundMode.RELATIVE, 0.1, floor=1e-6), x) == 3
    assert fewest_mantissa_bits(LOSSLESS, x) is None
    with pytest.raises(InputError):
        fewest_mantissa_bits(ColumnBound(BoundMode.RELATIVE, 1e-3), np.arange(4))


def test_checked_bits_raise_where_rounding_overflows() -> None:
    top = f32(np.finfo(np.float32).max, 1.0)
    bound = ColumnBound(BoundMode.RELATIVE, 0.4)
    assert fewest_mantissa_bits(bound, top) == 1
    assert checked_mantissa_bits(bound, top) == 23  # every fewer rounds the largest value to inf
    assert checked_mantissa_bits(bound, f32(1.0, 3.0)) == 1
    assert checked_mantissa_bits(LOSSLESS, top) is None


# --- comparisons and reading ------------------------------------------------------------------------


def tiny_tree(counter_dtype: Any = np.int32, order: tuple[str, ...] = ("nJet", "Jet_pt", "x")) -> TreeContent:
    branches = {
        "nJet": TreeBranch("nJet", np.dtype(counter_dtype), is_counter=True),
        "Jet_pt": TreeBranch("Jet_pt", np.dtype(np.float32), counter="nJet"),
        "x": TreeBranch("x", np.dtype(np.float32)),
    }
    values = {
        "nJet": np.array([1, 0, 2], dtype=counter_dtype),
        "Jet_pt": f32(10.0, 20.0, 30.0),
        "x": f32(1.0, 2.0, 3.0),
    }
    return TreeContent("Events", 3, tuple(branches[n] for n in order), values)


def test_structure_tolerates_counter_width_only() -> None:
    same = compare_structure(tiny_tree(), tiny_tree())
    assert same["ok"]
    uint = compare_structure(tiny_tree(np.uint32), tiny_tree(np.int32))
    assert uint["ok"]
    assert uint["counter_dtype_changes"] == [{"branch": "nJet", "input": "uint32", "output": "int32"}]
    reordered = compare_structure(tiny_tree(), tiny_tree(order=("x", "nJet", "Jet_pt")))
    assert not reordered["ok"]
    assert not reordered["order_ok"]
    small = tiny_tree()
    dropped = TreeContent("Events", 3, small.branches[:2], {k: small.values[k] for k in ("nJet", "Jet_pt")})
    assert compare_structure(small, dropped)["missing"] == ["x"]
    assert not compare_structure(small, dropped)["ok"]


def test_compare_branch() -> None:
    rel = ColumnBound(BoundMode.RELATIVE, 1e-3)
    x = f32(100.0, 200.0, 0.0)
    assert compare_branch(x, x.copy(), rel) == {"max_error": 0.0, "misses": 0, "bit_exact": True}
    near = compare_branch(x, f32(100.05, 200.0, 0.0), rel)
    assert near["misses"] == 0
    assert near["max_error"] == pytest.approx(5e-4, rel=1e-3)
    assert compare_branch(x, f32(100.2, 200.0, 1e-30), rel)["misses"] == 2
    assert compare_branch(x, x[:2], rel)["misses"] == 3
    counts = np.array([1, 2], dtype=np.uint32)
    assert compare_branch(counts, counts.astype(np.int32), LOSSLESS)["misses"] == 0
    assert compare_branch(counts, np.array([1, 3], dtype=np.int32), LOSSLESS)["misses"] == 1
    assert compare_branch(f32(1.0), np.array([1.0]), LOSSLESS)["misses"] == 1


def test_write_and_read_keep_the_tree(tmp_path: Path) -> None:
    content = tiny_tree()
    back = read_tree(write_tree(content, tmp_path / "t.root", algorithm="zstd", level=5, basket_entries=2))
    assert compare_structure(content, back)["ok"]
    for name in content.values:
        assert np.array_equal(back.values[name], content.values[name])
    assert uproot.open(tmp_path / "t.root")["Events"]["Jet_pt"].num_baskets == 2


def test_read_errors(tmp_path: Path, nano: Path) -> None:
    with pytest.raises(InputFileNotFoundError):
        read_tree(tmp_path / "none.root")
    with pytest.raises(InputError, match=r"no TTree 'Evnts'.*did you mean 'Events'"):
        read_tree(nano, "Evnts")
    two = tmp_path / "two.root"
    with uproot.recreate(two) as f:
        f.mktree("a", {"x": np.float32})
        f.mktree("b", {"x": np.float32})
    with pytest.raises(InputError, match="name the tree"):
        read_tree(two)
    assert read_tree(two, "b").entries == 0


def test_config_validation() -> None:
    assert TreeBenchmarkConfig(methods=("quantize+zstd",)).methods == ("quantise+zstd",)
    with pytest.raises(ConfigError, match="repeats"):
        TreeBenchmarkConfig(repeats=0)
    with pytest.raises(ConfigError, match="did you mean"):
        TreeBenchmarkConfig(methods=("zstd-9",))
    with pytest.raises(ConfigError, match="twice"):
        TreeBenchmarkConfig(methods=("sz3", "sz3"))
    with pytest.raises(ConfigError):
        TreeBenchmarkConfig(tree="")


def test_duplicate_method_names_are_refused(nano: Path) -> None:
    class Named(CopyMethod):
        name = "zstd9"

    with pytest.raises(ConfigError, match="same name"):
        run_tree_benchmark(nano, bound_of, extra=[Named()], config=TreeBenchmarkConfig(repeats=1))
