"""The end-to-end demo: the error-bounded codec against the standard compressors, then the seeds'
autoencoder and what it costs, then the evaluation report.

:func:`run_demo` generates one sample of ttbar + QCD jets with 27 variables per jet (Pythia 8 +
FastJet, cached in the generator's cache) and, in a work directory:

1. compresses its four-vectors (``event, E, pt, eta, phi``) with the error-bounded codec at
   ``max_error`` (relative on E and pt, absolute on eta and phi; ``event`` exactly), decompresses
   the file and checks every value of every column against its bound in the column's own dtype
   (:func:`hepsqueeze.metrics.bound_check.misses`); the same table goes through the ROOT-file
   benchmark (:func:`hepsqueeze.evaluation.tree_benchmark.run_tree_benchmark`: uproot ZSTD-9 and
   LZMA-9, NanoAOD mantissa rounding, quantisation + zstd, SZ3, ZFP, bit rounding, reduced fpzip,
   and the codec itself), every method storing every column and checked value by value at the same
   bounds;
2. optionally does the same on all 27 columns with the shipped conditional model
   ``zoo:bounded-jets27d`` (referenced, not embedded), beside the codec without it;
3. runs the seeds' autoencoder ``ae4d-3`` (the shipped ``zoo:ae4d-3``, or one trained briefly on
   the sample) on the four-vectors: files with and without the decoder embedded, the residuals, and
   the error-bounded codec at the autoencoder's own max error per variable;
4. writes the evaluation report of the error-bounded file (:func:`hepsqueeze.evaluation.report.evaluate`).

Ratios here are all one definition, so that every row compares: the bytes of the table's columns as
arrays in their own dtypes (``event`` int64, the floats float32) over the bytes stored. The default
seed (2) keeps the sample out of the shipped models' training data (seed 1).
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from hepsqueeze.api import HepsqueezeTreeMethod, compress, conditional_model, decompress, train
from hepsqueeze.baselines import BitRound, FpzipReduced, Zfp, bounds_from_errors
from hepsqueeze.codecs.bounded.column_bound import ColumnBound
from hepsqueeze.codecs.bounded.precision import Precision, parse_precision
from hepsqueeze.datasets import generate_mixture
from hepsqueeze.errors import ConfigError
from hepsqueeze.evaluation.report import evaluate
from hepsqueeze.evaluation.tree_benchmark import (
    BaselineTreeMethod,
    TreeBenchmarkConfig,
    TreeMethod,
    read_tree,
    run_tree_benchmark,
    tree_bounds,
)
from hepsqueeze.io import input_size_bytes, write_dataset, write_table
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table
from hepsqueeze.metrics.bound_check import bits, misses
from hepsqueeze.metrics.residuals import residual_summary
from hepsqueeze.models.io import save_model
from hepsqueeze.training.trainer import EpochReport

log = logging.getLogger(__name__)

#: The four-vector columns of stage 1 and of the autoencoder.
JET_COLUMNS: Final = ("event", "E", "pt", "eta", "phi")
#: The autoencoder's variables.
AE_VARIABLES: Final = ("E", "pt", "eta", "phi")
#: The shipped models the demo uses.
AUTOENCODER: Final = "zoo:ae4d-3"
LEARNED_MODEL: Final = "zoo:bounded-jets27d"
#: The ROOT-benchmark methods that are lossless (the others keep every value within its bound).
LOSSLESS_METHODS: Final = ("zstd9", "lzma9")
#: Names shown for the ROOT-benchmark methods.
METHOD_LABELS: Final = {
    "zstd9": "ROOT ZSTD-9",
    "lzma9": "ROOT LZMA-9",
    "nanoaod-lzma9": "NanoAOD bits + LZMA-9",
    "nanoaod-zstd9": "NanoAOD bits + ZSTD-9",
}
#: Largest absolute bound on an angle the codec takes is below pi/2; the autoencoder's own phi
#: error is capped here when the codec is run at it (a tighter bound).
_ANGLE_CAP: Final = 1.5

Stage = Callable[[str], None]


@dataclass(frozen=True)
class DemoConfig:
    """What the demo runs: ``events_per_process`` ttbar and as many QCD events at ``seed``
    (generated with ``workers`` processes); ``max_error`` the bound (relative on energies and
    momenta, absolute on the others); ``learned``: also the 27 columns with the shipped conditional
    model; ``epochs``: 0 runs the shipped ``zoo:ae4d-3``, more trains ``ae4d-3`` on the sample for
    that many epochs (at most ``max_train_seconds``); ``plots``: draw the report's plots;
    ``repeats``: timed runs of each benchmark method (median)."""

    events_per_process: int = 1000
    seed: int = 2
    max_error: float = 1e-3
    learned: bool = True
    epochs: int = 0
    max_train_seconds: float = 120.0
    workers: int = 2
    plots: bool = True
    repeats: int = 1

    def __post_init__(self) -> None:
        for name, low in (
            ("events_per_process", 1),
            ("seed", 0),
            ("epochs", 0),
            ("workers", 1),
            ("repeats", 1),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
        eps = self.max_error
        if isinstance(eps, bool) or not isinstance(eps, int | float) or not 0 < eps < 0.5:
            raise ConfigError(f"the demo's max error must be a number in (0, 0.5), got {eps!r}")
        object.__setattr__(self, "max_error", float(eps))
        secs = self.max_train_seconds
        if isinstance(secs, bool) or not isinstance(secs, int | float) or not secs > 0:
            raise ConfigError(f"max_train_seconds must be > 0, got {secs!r}")
        for name in ("learned", "plots"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be True or False, got {getattr(self, name)!r}")

    @property
    def jet_spec(self) -> str:
        """The four-vectors' bounds as ``--max-error`` terms (``event`` is an integer: exact)."""
        e = f"{self.max_error:g}"
        return f"E={e}r,pt={e}r,eta={e},phi={e}"


@dataclass(frozen=True)
class ColumnCheck:
    """One column of a decompressed file against its bound, in the column's own dtype.

    ``max_error``: the largest ``|y - x|`` (over ``|x|`` for a relative bound; values with ``x != 0``);
    ``worst``: the largest error over its allowance (at most 1 when the bound held; 0 for a column
    that came back bit for bit); ``misses``: values :func:`~hepsqueeze.metrics.bound_check.misses`
    rejects (for a lossless column: values that are not bit-identical)."""

    column: str
    dtype: str
    bound: str
    values: int
    max_error: float
    worst: float
    misses: int
    bit_exact: bool


@dataclass(frozen=True)
class MethodRow:
    """One method of the ROOT-file benchmark: ``kind`` is ``lossless``, ``bounded`` or
    ``hepsqueeze``; ``ratio``: the columns' array bytes over ``bytes`` (the method's files);
    ``misses``: values outside their bound over every column; ``status`` ``ok``, ``failed`` or
    ``skipped`` (with ``message``)."""

    name: str
    label: str
    kind: str
    status: str
    bytes: int | None = None
    ratio: float | None = None
    misses: int | None = None
    compress_mbps: float | None = None
    decompress_mbps: float | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.misses == 0 and self.bytes is not None


@dataclass(frozen=True)
class BoundedResult:
    """The error-bounded codec on one table: its file, the check of every column, and every method
    of the ROOT-file benchmark on the same table at the same bounds."""

    title: str
    max_error: str
    model: str | None
    rows: int
    columns: tuple[str, ...]
    raw_bytes: int
    path: Path
    file_bytes: int
    checks: tuple[ColumnCheck, ...]
    methods: tuple[MethodRow, ...]
    seconds: float

    @property
    def ratio(self) -> float:
        """The columns' array bytes over the file's bytes."""
        return self.raw_bytes / self.file_bytes

    @property
    def bound_held(self) -> bool:
        """Every value of every column met its bound (or came back bit for bit)."""
        return all(c.misses == 0 for c in self.checks)

    def best_standard(self) -> MethodRow | None:
        """The smallest standard method that kept every value within its bound."""
        rows = [m for m in self.methods if m.kind != "hepsqueeze" and m.ok]
        return min(rows, key=lambda m: m.bytes or 0) if rows else None

    def method(self, name: str) -> MethodRow | None:
        return next((m for m in self.methods if m.name == name), None)


@dataclass(frozen=True)
class AtErrorResult:
    """The error-bounded codec at the autoencoder's own max error per variable."""

    max_error: str
    path: Path
    file_bytes: int
    ratio: float
    bound_held: bool


@dataclass(frozen=True)
class AutoencoderResult:
    """The seeds' autoencoder on the four-vectors: two files (decoder embedded or not), the
    residuals per variable (``mean``, ``std``, ``max_abs``, ``kind``: relative or absolute), and
    the error-bounded codec at its own error."""

    model: str
    trained: bool
    epochs: int
    seconds_train: float
    val_mse: float | None
    rows: int
    raw_bytes: int
    path: Path
    file_bytes: int
    path_without_decoder: Path
    file_bytes_without_decoder: int
    section_bytes: Mapping[str, int]
    residuals: Mapping[str, Mapping[str, Any]]
    passthrough_identical: bool
    at_own_error: AtErrorResult
    seconds: float

    @property
    def ratio(self) -> float:
        """With the decoder embedded: the columns' array bytes over the file's bytes."""
        return self.raw_bytes / self.file_bytes

    @property
    def ratio_without_decoder(self) -> float:
        return self.raw_bytes / self.file_bytes_without_decoder


@dataclass(frozen=True)
class DemoResult:
    """Everything the demo measured (bytes, seconds), in the order it shows it."""

    config: DemoConfig
    workdir: Path
    sample: str
    seconds_generate: float
    jets: BoundedResult
    learned: BoundedResult | None
    autoencoder: AutoencoderResult
    report_dir: Path
    report_index: Path
    report_plots: int
    seconds_report: float
    seconds_total: float


def run_demo(
    workdir: Path,
    config: DemoConfig | None = None,
    *,
    on_stage: Stage | None = None,
    generation_progress: Callable[[int, int], None] | None = None,
    progress: Callable[[EpochReport], None] | None = None,
) -> DemoResult:
    """Run every step of the demo in ``workdir`` (its files are overwritten); see the module's
    docstring. ``on_stage`` is told each step as it starts (default: the log),
    ``generation_progress`` the events generated, ``progress`` each training epoch."""
    cfg = config if config is not None else DemoConfig()
    if not isinstance(cfg, DemoConfig):
        raise ConfigError(f"config must be a DemoConfig, got {type(cfg).__name__}")
    stage: Stage = on_stage or (lambda s: log.info("%s", s))
    t_start = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)

    n = cfg.events_per_process
    stage(
        f"generating {n} ttbar + {n} QCD events, seed {cfg.seed} (Pythia 8 + FastJet; cached after the first run)"
    )
    t0 = time.perf_counter()
    sample = generate_mixture(
        events_per_process=n, seed=cfg.seed, workers=cfg.workers, kind="jets27d", progress=generation_progress
    )
    seconds_generate = time.perf_counter() - t0
    jets = sample.select(list(JET_COLUMNS))
    data_path = write_table(jets, workdir / "jets.parquet", force=True)

    stage(
        f"error-bounded codec on {jets.num_rows} jets at {cfg.jet_spec} (event exact), against the standard compressors"
    )
    jet_result, back = _bounded(
        jets,
        parse_precision(cfg.jet_spec),
        workdir,
        "jets",
        title=f"{len(JET_COLUMNS)} columns ({', '.join(JET_COLUMNS)})",
        spec=cfg.jet_spec,
        repeats=cfg.repeats,
        input_info={"path": data_path.name, "size_bytes": input_size_bytes(data_path)},
    )
    write_table(back, workdir / "jets-decompressed.parquet", force=True)

    learned = None
    if cfg.learned:
        spec = f"{cfg.max_error:g}"
        stage(
            f"the same on all {len(sample.names)} columns at {spec}, with the learned model {LEARNED_MODEL}"
        )
        learned, _ = _bounded(
            sample,
            parse_precision(spec),
            workdir,
            "jets27d",
            title=f"{len(sample.names)} columns (27 variables per jet and event)",
            spec=spec,
            repeats=cfg.repeats,
            model=LEARNED_MODEL,
        )

    auto = _autoencoder(jets, cfg, workdir, stage, progress)

    stage("writing the evaluation report of the error-bounded file")
    t0 = time.perf_counter()
    report_dir = workdir / "report"
    written = evaluate(jets, back, report_dir, container=jet_result.path, plots=cfg.plots, force=True)
    seconds_report = time.perf_counter() - t0
    return DemoResult(
        config=cfg,
        workdir=workdir,
        sample=sample.source,
        seconds_generate=seconds_generate,
        jets=jet_result,
        learned=learned,
        autoencoder=auto,
        report_dir=report_dir,
        report_index=report_dir / "index.html",
        report_plots=len(written.get("plots", [])),
        seconds_report=seconds_report,
        seconds_total=time.perf_counter() - t_start,
    )


# --- stage 1: the error-bounded codec and the standard compressors ---------------------------------


def raw_bytes(table: Table) -> int:
    """The bytes of the table's columns as arrays in their own dtypes."""
    return sum(int(table[c].nbytes) for c in table.names)


def _bounded(
    table: Table,
    precision: Precision,
    workdir: Path,
    stem: str,
    *,
    title: str,
    spec: str,
    repeats: int,
    model: str | None = None,
    input_info: Mapping[str, Any] | None = None,
) -> tuple[BoundedResult, Table]:
    t0 = time.perf_counter()
    learned: dict[str, Any] = {}
    if model is not None:
        learned = {"model": conditional_model(model), "embed_model": False}
    report = compress(
        table,
        workdir / f"{stem}.hsqz",
        max_error=precision,
        force=True,
        input_info=input_info,
        **learned,
    )
    back = decompress(report.path)
    checks = check_columns(table, back, precision.resolve)
    methods = compare_methods(table, precision, repeats=repeats, model=learned.get("model"))
    result = BoundedResult(
        title=title,
        max_error=spec,
        model=model,
        rows=table.num_rows,
        columns=tuple(table.names),
        raw_bytes=raw_bytes(table),
        path=report.path,
        file_bytes=report.file_bytes,
        checks=checks,
        methods=methods,
        seconds=time.perf_counter() - t0,
    )
    log.info(
        "%s: ratio %.3f, bound held on every value: %s", report.path.name, result.ratio, result.bound_held
    )
    return result, back


def check_columns(
    original: Table, decoded: Table, bound_of: Callable[[str, np.dtype[Any]], ColumnBound]
) -> tuple[ColumnCheck, ...]:
    """Every column of ``decoded`` against ``original`` under ``bound_of(name, dtype)``."""
    return tuple(
        check_column(name, original[name], decoded[name], bound_of(name, original[name].dtype))
        for name in original.names
    )


def check_column(
    name: str, x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], bound: ColumnBound
) -> ColumnCheck:
    """One column against its bound, in its own dtype (see :class:`ColumnCheck`)."""
    if x.shape != y.shape or x.dtype != y.dtype:
        return ColumnCheck(
            name, str(x.dtype), bound.describe(), int(x.size), math.inf, math.inf, int(x.size), False
        )
    exact = bits(x) == bits(y)
    bit_exact = bool(exact.all())
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        a, b = x.astype(np.float64), y.astype(np.float64)
        finite = np.isfinite(a)
        d = np.where(exact, 0.0, np.abs(b - a))
        if bound.lossless:
            wrong = int((~exact).sum())
            err = float(d[finite].max()) if finite.any() and not bit_exact else 0.0
            return ColumnCheck(
                name,
                str(x.dtype),
                bound.describe(),
                int(x.size),
                err,
                0.0 if bit_exact else math.inf,
                wrong,
                bit_exact,
            )
        eb = bound.error_bound()
        wrong = int(misses(x, y, eb, bound.floor).sum())
        if eb.kind == "relative":
            allowed = np.maximum(eb.value * np.abs(a), bound.floor)
            nonzero = finite & (a != 0)
            rel = d[nonzero] / np.abs(a[nonzero])
            err = float(rel.max()) if rel.size else 0.0
        else:
            allowed = np.full_like(a, eb.value)
            err = float(d[finite].max()) if finite.any() else 0.0
        frac = np.where(d == 0, 0.0, d / allowed)[finite]
    worst = float(frac.max()) if frac.size else 0.0
    return ColumnCheck(name, str(x.dtype), bound.describe(), int(x.size), err, worst, wrong, bit_exact)


def compare_methods(
    table: Table, precision: Precision, *, repeats: int = 1, model: Any = None
) -> tuple[MethodRow, ...]:
    """Every method of the ROOT-file benchmark on ``table`` (written as a flat ROOT tree), at
    ``precision``'s bounds, with ZFP, bit rounding and reduced fpzip beside the built-in ones, and
    the error-bounded codec (and with ``model``, the codec with that conditional model)."""
    with tempfile.TemporaryDirectory(prefix="hepsqueeze-demo-") as tmp:
        root = Path(tmp) / "table.root"
        write_dataset(Dataset.from_table(table), root)
        content = read_tree(root)
        bounds = tree_bounds(content, precision.resolve)
        extra: list[TreeMethod] = [
            BaselineTreeMethod(b.name, b, bounds, content.name) for b in (Zfp(), BitRound(), FpzipReduced())
        ]
        extra.append(HepsqueezeTreeMethod(precision, tree=content.name))
        if model is not None:
            extra.append(
                HepsqueezeTreeMethod(precision, tree=content.name, name="hepsqueeze+model", model=model)
            )
        result = run_tree_benchmark(
            root,
            precision.resolve,
            extra=extra,
            config=TreeBenchmarkConfig(repeats=repeats, tree=content.name),
        )
    payload = int(result["input"]["payload_bytes"])
    rows = []
    for r in result["methods"]:
        name = str(r["name"])
        kind = (
            "hepsqueeze"
            if name.startswith("hepsqueeze")
            else "lossless"
            if name in LOSSLESS_METHODS
            else "bounded"
        )
        label = METHOD_LABELS.get(name, name)
        if r.get("status") != "ok":
            rows.append(MethodRow(name, label, kind, str(r.get("status")), message=str(r.get("message", ""))))
            continue
        size = int(r["bytes"])
        rows.append(
            MethodRow(
                name,
                label,
                kind,
                "ok",
                bytes=size,
                ratio=payload / size if size else None,
                misses=int(r["misses"]),
                compress_mbps=r.get("compress_MBps"),
                decompress_mbps=r.get("decompress_MBps"),
            )
        )
    return tuple(sorted(rows, key=lambda m: (m.bytes is None, m.bytes or 0)))


# --- stage 2: the seeds' autoencoder ------------------------------------------------------------------


def _autoencoder(
    jets: Table,
    cfg: DemoConfig,
    workdir: Path,
    stage: Stage,
    progress: Callable[[EpochReport], None] | None,
) -> AutoencoderResult:
    from hepsqueeze.zoo import resolve_model

    t0 = time.perf_counter()
    if cfg.epochs:
        stage(
            f"training ae4d-3 on {jets.num_rows} jets "
            f"({cfg.epochs} epochs at most, {cfg.max_train_seconds:g} s at most)"
        )
        model = train(
            jets,
            "ae4d-3",
            epochs=cfg.epochs,
            batch_size=512,
            patience=60,
            seed=cfg.seed,
            max_seconds=cfg.max_train_seconds,
            progress=progress,
        )
        save_model(model, workdir / "ae4d-3.hsqm", force=True)
        name = "ae4d-3 (trained on this sample)"
        epochs = int(model.training["epochs_run"])
        seconds_train = float(model.training["seconds"])
        val = model.training.get("best_val_mse_normalised")
        val_mse = float(val) if val is not None else None
    else:
        stage(
            f"the seeds' autoencoder {AUTOENCODER} (shipped, trained on other events) on the same {jets.num_rows} jets"
        )
        model = resolve_model(AUTOENCODER)
        name, epochs, seconds_train, val_mse = AUTOENCODER, 0, 0.0, None
    embedded = compress(jets, workdir / "jets-ae4d-3.hsqz", model=model, force=True)
    without = compress(
        jets, workdir / "jets-ae4d-3-no-decoder.hsqz", model=model, embed_model=False, force=True
    )
    back = decompress(embedded.path)
    cols = list(model.columns)
    residuals = residual_summary(jets.stack(cols), back.stack(cols), model.variables)
    identical = all(np.array_equal(jets[c], back[c]) for c in embedded.passthrough_columns)
    at_error = _at_own_error(jets, residuals, model.variables, workdir)
    return AutoencoderResult(
        model=name,
        trained=bool(cfg.epochs),
        epochs=epochs,
        seconds_train=seconds_train,
        val_mse=val_mse,
        rows=jets.num_rows,
        raw_bytes=raw_bytes(jets),
        path=embedded.path,
        file_bytes=embedded.file_bytes,
        path_without_decoder=without.path,
        file_bytes_without_decoder=without.file_bytes,
        section_bytes=dict(embedded.section_bytes),
        residuals=residuals,
        passthrough_identical=identical,
        at_own_error=at_error,
        seconds=time.perf_counter() - t0,
    )


def _round_down(value: float) -> str:
    """``value`` to three significant digits, rounded down (a bound no looser than ``value``)."""
    text = f"{value:.3g}"
    if float(text) > value:
        text = f"{float(text) - 10.0 ** (math.floor(math.log10(value)) - 2):.3g}"
    return text


def _at_own_error(
    jets: Table, residuals: Mapping[str, Mapping[str, Any]], variables: Sequence[str], workdir: Path
) -> AtErrorResult:
    """The error-bounded codec at the autoencoder's max error per variable (a relative bound at
    most :data:`~hepsqueeze.metrics.bounds.RELATIVE_CAP`, an angle's below pi/2)."""
    measured = {v: float(residuals[v]["max_abs"]) for v in variables}
    bounds = bounds_from_errors(variables, measured)
    terms = []
    for v, b in zip(variables, bounds, strict=True):
        value = b.value if b.kind == "relative" else min(b.value, _ANGLE_CAP)
        terms.append(f"{v}={_round_down(value)}{'r' if b.kind == 'relative' else ''}")
    spec = ",".join(terms)
    precision = parse_precision(spec)
    report = compress(jets, workdir / "jets-at-ae-error.hsqz", max_error=precision, force=True)
    back = decompress(report.path)
    held = all(c.misses == 0 for c in check_columns(jets, back, precision.resolve))
    return AtErrorResult(spec, report.path, report.file_bytes, raw_bytes(jets) / report.file_bytes, held)


__all__ = [
    "AtErrorResult",
    "AutoencoderResult",
    "BoundedResult",
    "ColumnCheck",
    "DemoConfig",
    "DemoResult",
    "MethodRow",
    "check_column",
    "check_columns",
    "compare_methods",
    "raw_bytes",
    "run_demo",
]
