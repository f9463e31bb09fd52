"""Shared pieces of the reliability tests: sample files, bitwise comparison, corruption campaigns."""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from hepsqueeze.codecs.autoencoder.codec import AutoencoderCodec
from hepsqueeze.errors import ContainerError
from hepsqueeze.file.reader import decompress_dataset
from hepsqueeze.file.writer import compress_dataset
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table
from hepsqueeze.models.autoencoder import Autoencoder, AutoencoderConfig
from hepsqueeze.models.model import CompressionModel
from hepsqueeze.preprocessing.normalisation import Normaliser

log = logging.getLogger(__name__)
VARIABLES = ("E", "pt", "eta", "phi")
ROOT = Path(__file__).resolve().parents[2]


def fuzz_module() -> ModuleType:
    """``fuzz/fuzz_container.py``, imported from its path."""
    spec = importlib.util.spec_from_file_location("fuzz_container", ROOT / "fuzz" / "fuzz_container.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_model(seed: int = 0) -> CompressionModel:
    rng = np.random.default_rng(seed)
    x = np.abs(rng.standard_normal((256, 4))).astype(np.float32) * 50 + 1
    torch.manual_seed(seed)
    net = Autoencoder(AutoencoderConfig((4, 6, 2, 6, 4)))
    return CompressionModel(
        net, Normaliser.fit("custom+minmax", VARIABLES, x), VARIABLES, VARIABLES, name="tiny"
    )


def sample_dataset(table: Table, with_aux: bool = True) -> Dataset:
    """``table`` with two exceptions planted and (optionally) an auxiliary table."""
    cols = {n: np.array(table[n]) for n in table.names}
    cols["pt"][0] = np.nan
    cols["eta"][1] = 1e9
    aux = (
        {"events": Table({"id": np.arange(7, dtype=np.int32), "w": np.linspace(0, 1, 7)})} if with_aux else {}
    )
    return Dataset(Table(cols), aux, {"format": "test"})


def tiny_table(rows: int = 20) -> Table:
    rng = np.random.default_rng(3)
    x = np.abs(rng.standard_normal((rows, 4))).astype(np.float32) * 50 + 1
    return Table(
        {"event": np.arange(rows, dtype=np.int64) // 2, **{v: x[:, j] for j, v in enumerate(VARIABLES)}}
    )


def write_sample(path: Path, model: CompressionModel, dataset: Dataset) -> bytes:
    compress_dataset(dataset, AutoencoderCodec(model), path, force=True)
    return path.read_bytes()


def _bits(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    return np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}") if a.dtype.itemsize else a


def same_dataset(a: Dataset, b: Dataset) -> bool:
    """Bit-for-bit equality of tables (names, dtypes, values), auxiliary tables and layout."""

    def same_table(x: Table, y: Table) -> bool:
        return x.names == y.names and all(
            x[n].dtype == y[n].dtype and np.array_equal(_bits(x[n]), _bits(y[n])) for n in x.names
        )

    return (
        same_table(a.table, b.table)
        and a.aux.keys() == b.aux.keys()
        and all(same_table(a.aux[k], b.aux[k]) for k in a.aux)
        and dict(a.layout) == dict(b.layout)
    )


@dataclass
class Campaign:
    """Outcome of a corruption campaign."""

    executions: int = 0
    detected: int = 0
    identical: int = 0
    failures: list[str] = field(default_factory=list)
    slowest_s: float = 0.0

    def line(self, what: str) -> str:
        return (
            f"{what}: {self.executions} executions, {self.detected} detected (ContainerError), "
            f"{self.identical} decoded identically, {len(self.failures)} failures, "
            f"slowest {self.slowest_s * 1e3:.1f} ms"
        )


def run_campaign(
    mutants: Callable[[], Any], reference: Dataset, scratch: Path, limit_s: float = 10.0
) -> Campaign:
    """Decode every mutant file; each must raise ContainerError or decode to exactly ``reference``."""
    result = Campaign()
    for label, data in mutants():
        scratch.write_bytes(data)
        start = time.perf_counter()
        try:
            back = decompress_dataset(scratch)
        except ContainerError:
            result.detected += 1
        except Exception as exc:
            result.failures.append(f"{label}: {type(exc).__name__}: {exc}")
        else:
            if same_dataset(back, reference):
                result.identical += 1
            else:
                result.failures.append(f"{label}: decoded to different data")
        elapsed = time.perf_counter() - start
        result.slowest_s = max(result.slowest_s, elapsed)
        if elapsed > limit_s:
            result.failures.append(f"{label}: took {elapsed:.1f} s")
        result.executions += 1
    return result


def boundaries(path: Path) -> list[int]:
    """Byte offsets where the container's structure changes: header, each section's fields, the end."""
    from hepsqueeze.container import ContainerReader

    with ContainerReader.open(path) as reader:
        cuts = {0, 9, 11, 13, 17, reader.header_size - 8, reader.header_size, reader.file_size}
        for s in reader.sections:
            cuts.update(
                {s.start, s.start + 4, s.offset - 8, s.offset, s.offset + s.length, s.offset + s.length + 8}
            )
        end_start = (
            max(s.offset + s.length + 8 for s in reader.sections) if reader.sections else reader.header_size
        )
        cuts.update({end_start, end_start + 4})
    return sorted(c for c in cuts if 0 <= c <= reader.file_size)
