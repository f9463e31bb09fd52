"""Rate-distortion benchmark: every baseline at each error target, and the autoencoder at its own error.

:func:`run_benchmark` returns a JSON-able dict; :func:`write_benchmark` writes it as
``benchmark.json`` and ``benchmark.md``. Definitions used throughout:

- ratio: ``4 bytes x rows x columns / payload bytes`` (for the autoencoder the whole container file,
  decoder and headers included, as in the README; it holds only the compressed columns here, so it
  compares with the baselines, which store nothing else);
- bits per value: ``8 x payload bytes / (rows x columns)``;
- errors: per variable, the max of ``|residual|`` and the std of the signed residual, relative for
  E/pt/m and absolute otherwise (phi wrapped), over every row;
- speed: float32 bytes of the compressed columns (MB = 10^6 bytes) over the median in-process wall
  time of ``repeats`` runs. A bounded baseline's compression includes decoding and checking every
  column against its bound (that check is what guarantees the bound). The autoencoder's times include
  writing and reading its (temporary, page-cached) file.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import logging
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.baselines import (
    Baseline,
    ErrorBound,
    bounds_for,
    default_baselines,
    error_summary,
    read_payload,
)
from hepsqueeze.errors import ConfigError, HepsqueezeError
from hepsqueeze.evaluation.strict_json import json_safe
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.table import Table
from hepsqueeze.version import __version__

if TYPE_CHECKING:
    from hepsqueeze.models.model import CompressionModel

log = logging.getLogger(__name__)

BENCHMARK_FORMAT: Final = "hepsqueeze-benchmark"
BENCHMARK_VERSION: Final = 1
DEFAULT_ERRORS: Final = (1e-2, 3e-3, 1e-3, 3e-4)
LATENT_DTYPES: Final = ("float32", "float16")
_LIBRARIES: Final = ("numpy", "zstandard", "pysz", "zfpy", "fpzip", "torch")


def machine_info() -> dict[str, Any]:
    """Platform, CPU model and count, Python and library versions: where the numbers were measured."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 0
    versions: dict[str, str | None] = {"hepsqueeze": __version__}
    versions.update({lib: _version(lib) for lib in _LIBRARIES})
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "python": platform.python_version(),
        "versions": versions,
    }


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


#: Variables of the error-bounded jet codec, which the benchmark runs when the data has exactly these.
JET_VARIABLES: Final = ("E", "pt", "eta", "phi")


def run_benchmark(
    table: Table,
    columns: Sequence[str],
    variables: Sequence[str] | None = None,
    *,
    errors: Sequence[float] = DEFAULT_ERRORS,
    model: CompressionModel | None = None,
    repeats: int = 3,
    baselines: Sequence[Baseline] | None = None,
    latent_dtypes: Sequence[str] = LATENT_DTYPES,
    event: npt.ArrayLike | None = None,
) -> dict[str, Any]:
    """Measure every baseline at each error target in ``errors``, and ``model`` at its own error.

    ``columns`` of ``table`` are compressed; ``variables`` names them for the error conventions
    (default: the model's variables, else the column names). Lossless methods and float16 do not
    depend on the target and are run once (``reference``); bounded methods once per target
    (``targets``); the autoencoder once per latent dtype (``hepsqueeze``). When the variables are
    E, pt, eta, phi, the error-bounded jet codec runs at every target too (family ``hepsqueeze``,
    jets of one event coded together when ``event`` gives each row's event number). A method that
    fails is kept with ``status: "failed"`` and its message.
    """
    cols = list(columns)
    if variables is None:
        variables = list(model.variables) if model is not None else cols
    names = list(variables)
    if len(names) != len(cols):
        raise ConfigError(f"{len(cols)} columns ({', '.join(cols)}) but {len(names)} variables")
    if repeats < 1:
        raise ConfigError(f"repeats must be >= 1, got {repeats}")
    targets = [float(e) for e in errors]
    for e in targets:
        ErrorBound("relative", e)  # validates: finite, > 0, < 1
    x = table.stack(cols, dtype=np.float32)
    methods = list(baselines) if baselines is not None else default_baselines()
    result: dict[str, Any] = {
        "format": BENCHMARK_FORMAT,
        "version": BENCHMARK_VERSION,
        "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "data": {
            "source": table.source,
            "rows": int(x.shape[0]),
            "columns": cols,
            "variables": names,
            "float32_bytes": int(x.nbytes),
        },
        "settings": {"repeats": repeats, "errors": targets},
        "methods": [m.describe() for m in methods],
        "reference": [],
        "targets": [],
        "hepsqueeze": [],
    }
    for m in methods:
        if not m.bounded:
            log.info("benchmark: %s", m.name)
            result["reference"].append(_measure(m, x, names, None, repeats))
    for eps in targets:
        bounds = bounds_for(names, eps)
        rows = []
        for m in methods:
            if m.bounded:
                log.info("benchmark: %s at %g", m.name, eps)
                rows.append(_measure(m, x, names, bounds, repeats))
        if tuple(names) == JET_VARIABLES:
            log.info("benchmark: hepsqueeze bounded codec at %g", eps)
            rows.append(_measure_bounded(x, event, eps, repeats))
        result["targets"].append(
            {
                "error": eps,
                "bounds": {v: b.as_dict() for v, b in zip(names, bounds, strict=True)},
                "results": rows,
            }
        )
    if model is not None:
        for latent_dtype in latent_dtypes:
            log.info("benchmark: autoencoder %s with %s latents", model.name, latent_dtype)
            result["hepsqueeze"].append(
                _measure_autoencoder(
                    table, cols, names, model, latent_dtype=latent_dtype, repeats=repeats, x=x
                )
            )
    return json_safe(result)  # type: ignore[no-any-return]


def _timed(fn: Callable[[], Any], repeats: int) -> tuple[Any, float]:
    """The last result of ``fn`` and the median wall time (s) of ``repeats`` calls."""
    times = []
    out: Any = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def _row_common(
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.float32],
    variables: Sequence[str],
    *,
    nbytes: int,
    t_c: float,
    t_d: float,
) -> dict[str, Any]:
    summary = error_summary(x, y, variables)
    mb = x.nbytes / 1e6
    return {
        "status": "ok",
        "payload_bytes": nbytes,
        "ratio": x.nbytes / nbytes,
        "bits_per_value": 8.0 * nbytes / x.size,
        "max_error": {v: s["max"] for v, s in summary.items()},
        "std_error": {v: s["std"] for v, s in summary.items()},
        "compress_seconds": t_c,
        "decompress_seconds": t_d,
        "compress_MBps": mb / t_c if t_c > 0 else None,
        "decompress_MBps": mb / t_d if t_d > 0 else None,
    }


def _measure(
    method: Baseline,
    x: npt.NDArray[np.float32],
    variables: Sequence[str],
    bounds: Sequence[ErrorBound] | None,
    repeats: int,
) -> dict[str, Any]:
    base = {
        "method": method.name,
        "family": method.family,
        "lossless": method.lossless,
        "bounded": method.bounded,
    }
    try:
        payload, t_c = _timed(lambda: method.compress(x, variables, bounds), repeats)
        y, t_d = _timed(lambda: method.decompress(payload), repeats)
    except HepsqueezeError as exc:
        log.warning("benchmark: %s failed: %s", method.name, exc)
        return {**base, "status": "failed", "message": str(exc)}
    row = {**base, **_row_common(x, y, variables, nbytes=len(payload), t_c=t_c, t_d=t_d)}
    header, parts = read_payload(payload)
    row["column_bytes"] = {v: sum(len(p) for p in ps) for v, ps in zip(variables, parts, strict=True)}
    row["column_params"] = {v: c["params"] for v, c in zip(variables, header["columns"], strict=True)}
    if method.lossless:
        row["bit_exact"] = bool(np.array_equal(x.view(np.uint32), y.view(np.uint32)))
    if bounds is not None:
        row["within_bounds"] = all(
            row["max_error"][v] <= b.value for v, b in zip(variables, bounds, strict=True)
        )
    return row


def _measure_bounded(
    x: npt.NDArray[np.float32], event: npt.ArrayLike | None, eps: float, repeats: int
) -> dict[str, Any]:
    """The error-bounded jet codec at ``eps`` (relative on E and pt, absolute on eta and phi)."""
    from hepsqueeze.codecs.bounded.bounds import JetBounds
    from hepsqueeze.codecs.bounded.payload import decode_jets, encode_jets

    ev = np.arange(x.shape[0]) if event is None else np.asarray(event, dtype=np.int64)
    bounds = JetBounds.uniform(eps)
    name = "hepsqueeze bounded" + (" (event-level)" if event is not None else " (per jet)")
    payload, t_c = _timed(lambda: encode_jets(ev, x, bounds), repeats)
    y, t_d = _timed(lambda: decode_jets(ev, payload), repeats)
    row: dict[str, Any] = {"method": name, "family": "hepsqueeze", "lossless": False, "bounded": True}
    row.update(_row_common(x, y, JET_VARIABLES, nbytes=len(payload), t_c=t_c, t_d=t_d))
    row["within_bounds"] = all(row["max_error"][v] <= eps for v in JET_VARIABLES)
    return row


def _measure_autoencoder(
    table: Table,
    columns: Sequence[str],
    variables: Sequence[str],
    model: CompressionModel,
    *,
    latent_dtype: str,
    repeats: int,
    x: npt.NDArray[np.float32],
) -> dict[str, Any]:
    from hepsqueeze.codecs.autoencoder.codec import AutoencoderCodec
    from hepsqueeze.file import compress_dataset, decompress_dataset

    # Only the compressed columns go in the file, so its size compares with the baselines' payloads.
    sub = Dataset.from_table(table.select(columns))
    codec = AutoencoderCodec(model, latent_dtype)
    name = f"hepsqueeze {model.name} ({latent_dtype} latents)"
    with tempfile.TemporaryDirectory(prefix="hsq-bench-") as tmp:
        path = Path(tmp) / "bench.hsqz"

        def compress() -> Any:
            path.unlink(missing_ok=True)
            return compress_dataset(sub, codec, path, columns)

        try:
            report, t_c = _timed(compress, repeats)
            back, t_d = _timed(lambda: decompress_dataset(path).table, repeats)
        except HepsqueezeError as exc:
            log.warning("benchmark: %s failed: %s", name, exc)
            return {"method": name, "family": "autoencoder", "status": "failed", "message": str(exc)}
    y = back.stack(columns, dtype=np.float32)
    row: dict[str, Any] = {"method": name, "family": "autoencoder"}
    row.update(_row_common(x, y, variables, nbytes=int(report.file_bytes), t_c=t_c, t_d=t_d))
    row.update(
        {
            "lossless": False,
            "bounded": False,
            "model": model.name,
            "latent_dtype": latent_dtype,
            "latent_dim": model.latent_dim,
            "section_bytes": dict(report.section_bytes),
            "file_ratio": report.ratio,
            "note": "errors over every row, including those the model was trained on",
        }
    )
    return row


# --- output -------------------------------------------------------------------------------------


def write_benchmark(result: Mapping[str, Any], out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``benchmark.json`` and ``benchmark.md`` into ``out_dir`` (created); returns both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "benchmark.json"
    md_path = out / "benchmark.md"
    json_path.write_text(json.dumps(json_safe(result), indent=1, allow_nan=False) + "\n")
    md_path.write_text(benchmark_markdown(result))
    return json_path, md_path


def _fmt(value: Any, spec: str) -> str:
    if value is None:
        return "n/a"
    return format(value, spec)


def _table_lines(
    rows: Sequence[Mapping[str, Any]], variables: Sequence[str], bounds: Mapping[str, Any] | None
) -> list[str]:
    head = [
        "method",
        "ratio",
        "bits/value",
        *(f"max err {v}" for v in variables),
        "within",
        "compress MB/s",
        "decompress MB/s",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for r in rows:
        if r.get("status") != "ok":
            lines.append(f"| {r['method']} | failed: {r.get('message', '')} |" + " |" * (len(head) - 2))
            continue
        if r.get("lossless"):
            within = "lossless"
        elif bounds is None:
            within = "-"
        else:
            ok = all(
                r["max_error"].get(v) is not None and r["max_error"][v] <= bounds[v]["value"]
                for v in variables
            )
            within = "yes" if ok else "no"
        cells = [
            r["method"],
            _fmt(r.get("ratio"), ".3f"),
            _fmt(r.get("bits_per_value"), ".2f"),
            *(
                _fmt(r["max_error"].get(v), ".3g") if r["max_error"].get(v) is not None else "inf"
                for v in variables
            ),
            within,
            _fmt(r.get("compress_MBps"), ".1f"),
            _fmt(r.get("decompress_MBps"), ".1f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def benchmark_markdown(result: Mapping[str, Any]) -> str:
    """The benchmark as markdown: one table per error target (lossless methods, float16 and the
    autoencoder at its own error repeated in each), then the machine it ran on."""
    data = result["data"]
    variables = list(data["variables"])
    rel = [v for v in variables if any(t["bounds"][v]["kind"] == "relative" for t in result["targets"])]
    ab = [v for v in variables if v not in rel]
    lines = [
        f"# Compression benchmark: {data['rows']} rows x {len(variables)} columns ({', '.join(data['columns'])})",
        "",
        f"Source: `{data['source']}`. Ratio = float32 bytes / payload bytes; errors are max |residual| per "
        f"variable over every row (relative for {', '.join(rel) or 'none'}; absolute for {', '.join(ab) or 'none'}"
        "; phi wrapped at +-pi). Speeds: median of "
        f"{result['settings']['repeats']} in-process runs, MB of float32 input per second; bounded methods' "
        "compression includes checking every decoded value against its bound.",
        "",
    ]
    reference = list(result.get("reference", []))
    auto = list(result.get("hepsqueeze", []))
    for target in result["targets"]:
        lines += [f"## Max error {target['error']:g}", ""]
        rows = reference + list(target["results"]) + auto
        lines += _table_lines(rows, variables, target["bounds"])
        lines.append("")
    if auto:
        lines.append(
            "The autoencoder rows (`hepsqueeze ...`) have no target: they show its measured error, "
            "repeated in each table for comparison."
        )
        lines.append("")
    lines += machine_markdown(result["machine"], result["created_utc"])
    return "\n".join(lines)


def machine_markdown(machine: Mapping[str, Any], created_utc: str) -> list[str]:
    """The ``## Machine`` section of a benchmark's markdown: CPU, platform, Python, the versions of
    :func:`machine_info` (and any ``root_libraries``) and when it ran."""
    versions = {**machine["versions"], **machine.get("root_libraries", {})}
    listed = ", ".join(f"{k} {v}" for k, v in versions.items() if v)
    return [
        "## Machine",
        "",
        f"{machine['cpu']} ({machine['cpus_usable']} of {machine['cpu_count']} CPUs usable), "
        f"{machine['platform']}, Python {machine['python']}; {listed}. Run {created_utc}.",
        "",
    ]


# --- best baseline ------------------------------------------------------------------------------


def best_baseline_at(result: Mapping[str, Any], max_errors: Mapping[str, float]) -> dict[str, Any] | None:
    """The highest-ratio row of a benchmark ``result`` that is at least as accurate as ``max_errors``.

    Candidates: lossless rows, and bounded rows of every target whose bound for each variable is no
    larger than ``max_errors[variable]`` (the errors the row was *guaranteed*, not just measured).
    Returns the row (with ``"target"`` added for bounded ones) or ``None``.
    """
    variables = list(result["data"]["variables"])
    missing = [v for v in variables if v not in max_errors]
    if missing:
        raise ConfigError(f"no error given for variable(s) {', '.join(missing)}")
    best: dict[str, Any] | None = None
    candidates: list[dict[str, Any]] = [r for r in result.get("reference", []) if r.get("lossless")]
    for target in result["targets"]:
        if all(target["bounds"][v]["value"] <= max_errors[v] for v in variables):
            candidates += [
                {**r, "target": target["error"]}
                for r in target["results"]
                if r.get("within_bounds") and r.get("family") != "hepsqueeze"
            ]
    for row in candidates:
        if row.get("status") == "ok" and (best is None or row["ratio"] > best["ratio"]):
            best = row
    return best


def best_baseline(
    x: npt.ArrayLike,
    variables: Sequence[str],
    bounds: Sequence[ErrorBound],
    baselines: Sequence[Baseline] | None = None,
) -> tuple[str, float]:
    """Run every lossless and bounded baseline on ``x`` at ``bounds``; the best ``(name, ratio)``.

    Use :func:`hepsqueeze.baselines.bounds_from_errors` to make ``bounds`` from a model's measured
    errors. Methods that cannot meet the bounds are skipped.
    """
    arr = np.asarray(x, dtype=np.float32)
    best: tuple[str, float] = ("", 0.0)
    for m in baselines if baselines is not None else default_baselines():
        if not (m.lossless or m.bounded):
            continue
        try:
            size = len(m.compress(arr, variables, bounds))
        except HepsqueezeError as exc:
            log.info("best_baseline: %s skipped: %s", m.name, exc)
            continue
        ratio = arr.nbytes / size
        if ratio > best[1]:
            best = (m.name, ratio)
    if not best[0]:
        raise ConfigError("no baseline could compress the array")
    return best
