"""Truncated and corrupted compressed files: every fault is a ContainerError, never wrong data."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from reliability_helpers import ROOT, boundaries, fuzz_module, run_campaign, sample_dataset

from hepsqueeze.codecs.autoencoder.codec import AutoencoderCodec
from hepsqueeze.file.reader import decompress_dataset
from hepsqueeze.file.writer import compress_dataset
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table

log = logging.getLogger(__name__)
TinyFile = tuple[Path, bytes, Dataset]


def truncations(path: Path, data: bytes, randoms: int, seed: int) -> Iterator[tuple[str, bytes]]:
    cuts = {c + d for c in boundaries(path) for d in (-1, 0, 1)}
    cuts |= {int(c) for c in np.random.default_rng(seed).integers(0, len(data), randoms)}
    for cut in sorted(c for c in cuts if 0 <= c < len(data)):
        yield f"truncated at {cut}", data[:cut]


def flips(data: bytes, count: int, seed: int) -> Iterator[tuple[str, bytes]]:
    rng = np.random.default_rng(seed)
    for pos, xor in zip(rng.integers(0, len(data), count), rng.integers(1, 256, count), strict=True):
        mutant = bytearray(data)
        mutant[pos] ^= int(xor)
        yield f"byte {pos} ^ {xor:#04x}", bytes(mutant)


def test_truncation_at_every_section_boundary(tiny_file: TinyFile, tmp_path: Path) -> None:
    path, data, reference = tiny_file
    result = run_campaign(lambda: truncations(path, data, 300, 1), reference, tmp_path / "t.hsqz")
    log.info(result.line("truncation (tiny file)"))
    assert result.failures == []
    assert result.detected == result.executions > 300


def test_random_byte_flips(tiny_file: TinyFile, tmp_path: Path) -> None:
    _, data, reference = tiny_file
    result = run_campaign(lambda: flips(data, 2500, 2), reference, tmp_path / "f.hsqz")
    log.info(result.line(f"byte flips ({len(data)}-byte tiny file)"))
    assert result.failures == []
    assert result.executions == 2500


def test_fuzz_target_on_seeds_and_repaired_mutants(tmp_path: Path) -> None:
    """The fuzz target without atheris: seeds, then mutants with checksums recomputed."""
    fuzz = fuzz_module()
    seeds = [p.read_bytes() for p in fuzz.make_corpus(tmp_path / "corpus")]
    rng = np.random.default_rng(3)
    runs = 0
    for seed in seeds:
        fuzz.check(seed)
        for _ in range(150):
            mutant = bytearray(seed)
            for pos in rng.integers(1, len(mutant), int(rng.integers(1, 4))):
                mutant[pos] = int(rng.integers(0, 256))
            mutant[0] = 1  # repair the checksums so that the mutation reaches the parsers behind them
            fuzz.check(bytes(mutant))  # raises anything but ContainerError/ModelError
            runs += 1
    assert runs == 150 * len(seeds)


@pytest.fixture(scope="module")
def real_file(model, jets: Table, tmp_path_factory: pytest.TempPathFactory) -> TinyFile:  # type: ignore[no-untyped-def]
    """The session's trained ae4d-3 model on generated jets: decoder embedded, exceptions, aux table."""
    path = tmp_path_factory.mktemp("real") / "jets.hsqz"
    compress_dataset(sample_dataset(jets), AutoencoderCodec(model), path)
    return path, path.read_bytes(), decompress_dataset(path)


@pytest.mark.slow
def test_real_file_truncations_and_10000_flips(real_file: TinyFile, tmp_path: Path) -> None:
    path, data, reference = real_file
    cut = run_campaign(lambda: truncations(path, data, 1000, 4), reference, tmp_path / "t.hsqz")
    log.warning(cut.line(f"truncation ({len(data)}-byte ae4d-3 file)"))
    flip = run_campaign(lambda: flips(data, 12000, 5), reference, tmp_path / "f.hsqz")
    log.warning(flip.line(f"byte flips ({len(data)}-byte ae4d-3 file)"))
    assert cut.failures == []
    assert flip.failures == []
    assert cut.detected == cut.executions
    assert flip.executions >= 10_000


@pytest.mark.slow
def test_atheris_short_run(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    script = ROOT / "fuzz" / "fuzz_container.py"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    subprocess.run([sys.executable, str(script), "--make-corpus", str(corpus)], check=True, env=env)
    runs = int(os.environ.get("HEPSQUEEZE_FUZZ_RUNS", "20000"))
    proc = subprocess.run(
        [sys.executable, str(script), str(corpus), f"-atheris_runs={runs}", "-max_len=8192",
         f"-artifact_prefix={tmp_path}/", "-print_final_stats=1"],
        check=False, capture_output=True, text=True, env=env, timeout=1800,
    )  # fmt: skip
    tail = proc.stderr[-3000:]
    stats = [line for line in proc.stderr.splitlines() if line.startswith(("stat::", "Done"))]
    log.warning("atheris: %s", "; ".join(stats))
    assert proc.returncode == 0, tail
    assert "Done" in proc.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-"))]
    shutil.rmtree(corpus)


def _jet_codec_file(directory: Path) -> Path:
    """A four-column jet codec file with everything its format has: three quantised chunks, event
    runs, float64/float16 columns with values stored exactly for their dtype, phi in [0, 2 pi), a
    NaN, a sentinel eta, a passthrough column and an auxiliary table."""
    from hepsqueeze.codecs.bounded.codec import BoundedJetCodec
    from hepsqueeze.codecs.bounded.spec import parse_max_error

    rng = np.random.default_rng(11)
    n = 6000
    pt = 20 + rng.exponential(40, n)
    eta = rng.uniform(-4, 4, n)
    cols = {
        "event": np.arange(n, dtype=np.int64) // 4,
        "E": pt * np.cosh(eta) * rng.uniform(1, 1.05, n),  # float64
        "pt": pt.astype(np.float32),
        "eta": eta.astype(np.float16),
        "phi": rng.uniform(0, 2 * np.pi, n).astype(np.float32),
        "flag": rng.integers(0, 4, n).astype(np.int8),
    }
    cols["E"][7] = np.nan
    cols["eta"][9] = np.finfo(np.float16).max
    aux = {"events": Table({"id": np.arange(7, dtype=np.int32), "w": np.linspace(0, 1, 7)})}
    path = directory / "b.hsqz"
    codec = BoundedJetCodec(parse_max_error("1e-3"))
    compress_dataset(Dataset(Table(cols), aux, {"format": "test"}), codec, path, chunk_rows=2000)
    return path


def _column_codec_file(directory: Path) -> Path:
    """A file of the codec of every column (data format 6) with everything it codes: three chunks
    of a collection (pt sorted in events, masses with zeros, phi in [0, 2 pi), tau1/tau2/tau21 for a
    relation, a NaN, float16/float64 columns, a lossless float column, integers), and a per-event
    auxiliary table coded by the codec too (MET, a bool, an unsigned event number)."""
    from hepsqueeze.codecs.bounded.precision import parse_precision
    from hepsqueeze.codecs.bounded.table_codec import BoundedCodec

    rng = np.random.default_rng(12)
    n = 6000
    event = np.arange(n, dtype=np.int64) // 4
    pt = np.sort(20 + rng.exponential(40, n).reshape(-1, 4), axis=1)[:, ::-1].reshape(-1)
    tau1 = rng.uniform(0.1, 0.5, n).astype(np.float32)
    tau2 = (tau1 * rng.uniform(0.2, 0.9, n)).astype(np.float32)
    cols = {
        "event": event,
        "Jet_pt": pt.astype(np.float32),
        "Jet_eta": rng.uniform(-4, 4, n).astype(np.float16),
        "Jet_phi": rng.uniform(0, 2 * np.pi, n).astype(np.float32),
        "Jet_mass": np.where(rng.random(n) < 0.2, 0.0, pt * 0.1).astype(np.float64),
        "Jet_tau1": tau1,
        "Jet_tau2": tau2,
        "Jet_tau21": (tau2 / tau1).astype(np.float32),
        "Jet_raw": rng.normal(0, 1, n).astype(np.float32),
        "Jet_hadronFlavour": rng.choice([0, 4, 5], n).astype(np.int32),
    }
    cols["Jet_pt"][7] = np.nan
    m = n // 4
    aux = {
        "events": Table(
            {
                "event": np.arange(m, dtype=np.uint64) + 3_000_000_001,
                "MET_pt": rng.exponential(30, m).astype(np.float32),
                "MET_phi": rng.uniform(-np.pi, np.pi, m).astype(np.float32),
                "pass": rng.random(m) < 0.5,
            }
        )
    }
    path = directory / "c.hsqz"
    spec = "*_pt=1e-3r,*_mass=1e-3r,*_eta=1e-3,*_phi=1e-3,Jet_tau*=1e-3"  # Jet_raw: no term, lossless
    codec = BoundedCodec(parse_precision(spec))
    compress_dataset(Dataset(Table(cols), aux, {"format": "test"}), codec, path, chunk_rows=2000)
    return path


def _learned_codec_file(directory: Path) -> Path:
    """A file of the codec of every column (data format 7) whose columns are coded with an
    embedded conditional model (trained here in a second on the file's own jets)."""
    import dataclasses

    import hepsqueeze
    from hepsqueeze.codecs.bounded.precision import parse_precision
    from hepsqueeze.codecs.bounded.table_codec import BoundedCodec
    from hepsqueeze.training.conditional import ConditionalTrainingConfig

    rng = np.random.default_rng(13)
    n = 4000
    pt = rng.lognormal(3.5, 0.5, n).astype(np.float32)
    count = rng.poisson(5 + pt / 8).astype(np.int32)
    tau1 = (0.4 / np.sqrt(count + 1) + rng.normal(0, 0.01, n)).astype(np.float32)
    cols: dict[str, npt.NDArray[Any]] = {
        "event": np.arange(n, dtype=np.int64) // 3,
        "pt": pt,
        "eta": rng.normal(0, 1.5, n).astype(np.float32),
        "n": count,
        "tau1": tau1,
        "tau2": (tau1 * rng.uniform(0.3, 0.9, n)).astype(np.float32),
        "width": (tau1 * 0.8 + rng.normal(0, 0.005, n)).astype(np.float32),
    }
    cols["pt"][11] = np.nan
    config = ConditionalTrainingConfig(hidden=8, epochs=2, batch=64, learning_rate=1e-2, threads=1)
    model = hepsqueeze.train_bounded(cols, max_error="1e-3", config=config).model
    path = directory / "l.hsqz"
    codec = dataclasses.replace(BoundedCodec(parse_precision("1e-3")), model=model, embed_model=True)
    compress_dataset(Dataset(Table(cols), {}, {"format": "test"}), codec, path, chunk_rows=2000)
    assert b'"predictor":3' in path.read_bytes()  # columns coded with the model: what is attacked
    return path


#: The error-bounded codecs whose files are attacked, by codec id (and with a conditional model).
_BOUNDED_FILES = {
    "bounded-jets": _jet_codec_file,
    "bounded": _column_codec_file,
    "bounded+model": _learned_codec_file,
}


@pytest.fixture(scope="module", params=sorted(_BOUNDED_FILES))
def bounded_file(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> TinyFile:
    """A file of each error-bounded codec (``request.param`` is its codec id)."""
    path = _BOUNDED_FILES[request.param](tmp_path_factory.mktemp(request.param))
    return path, path.read_bytes(), decompress_dataset(path)


def _payload_ranges(path: Path) -> list[tuple[int, int]]:
    from hepsqueeze.codecs.bounded.codec import CODEC_ID as JET_CODEC_ID
    from hepsqueeze.codecs.bounded.table_codec import CODEC_ID as COLUMN_CODEC_ID
    from hepsqueeze.container import ContainerReader

    ids = {JET_CODEC_ID, COLUMN_CODEC_ID}
    with ContainerReader.open(path) as reader:  # the payloads are known by their extra, not by their name
        return [(s.offset, s.offset + s.length) for s in reader.sections if s.extras.get("codec") in ids]


def forged(path: Path, data: bytes, count: int, seed: int) -> Iterator[tuple[str, bytes]]:
    """Mutations inside the codec's payloads with every container checksum recomputed: only the
    payload's own digest of the decoded values stands between them and wrong data."""
    fuzz = fuzz_module()
    ranges = _payload_ranges(path)
    rng = np.random.default_rng(seed)
    for _ in range(count):
        lo, hi = ranges[int(rng.integers(0, len(ranges)))]
        mutant = bytearray(data)
        for pos in rng.integers(lo, hi, int(rng.integers(1, 4))):
            mutant[pos] ^= int(rng.integers(1, 256))
        yield f"forged payload mutant {_}", fuzz.repair_checksums(bytes(mutant))


def test_bounded_file_truncations_flips_and_forged_payloads(bounded_file: TinyFile, tmp_path: Path) -> None:
    path, data, reference = bounded_file
    cut = run_campaign(lambda: truncations(path, data, 200, 6), reference, tmp_path / "t.hsqz")
    log.warning(cut.line(f"truncation ({len(data)}-byte bounded file)"))
    flip = run_campaign(lambda: flips(data, 1500, 7), reference, tmp_path / "f.hsqz")
    log.warning(flip.line(f"byte flips ({len(data)}-byte bounded file)"))
    forge = run_campaign(lambda: forged(path, data, 600, 8), reference, tmp_path / "g.hsqz")
    log.warning(forge.line(f"forged-checksum payload mutants ({len(data)}-byte bounded file)"))
    assert cut.failures == []
    assert flip.failures == []
    assert forge.failures == []
    assert cut.detected == cut.executions
    assert flip.detected == flip.executions


@pytest.mark.slow
def test_bounded_file_long_campaigns(bounded_file: TinyFile, tmp_path: Path) -> None:
    path, data, reference = bounded_file
    flip = run_campaign(lambda: flips(data, 12000, 9), reference, tmp_path / "f.hsqz")
    log.warning(flip.line(f"byte flips ({len(data)}-byte bounded file)"))
    forge = run_campaign(lambda: forged(path, data, 10000, 10), reference, tmp_path / "g.hsqz")
    log.warning(forge.line(f"forged-checksum payload mutants ({len(data)}-byte bounded file)"))
    assert flip.failures == []
    assert forge.failures == []
