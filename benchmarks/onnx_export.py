"""Issue 19: the zoo autoencoders exported to ONNX: sizes, onnxruntime vs torch on generated jets,
single-thread throughput, and what the networks cost on trigger hardware (the hls4ml route).

    .venv/bin/python benchmarks/onnx_export.py --out docs/onnx.md --json docs/onnx.json

For zoo:ae4d-3 and zoo:ae27d-20, on each model card's validation sample (generated here:
ttbar + QCD, seed 2, not the training seed): both exports (physical values in and out, the
normalisation in the graph; and ``--normalised``, the network alone), each checked on every jet of
the sample as ``hepsqueeze export`` checks its own batch; the round trip (onnxruntime encoder, then
decoder) against torch's; encode and decode throughput in rows/s with 1 thread, medians of
``--repeats`` runs of the whole sample, for the hepsqueeze API (``CompressionModel.encode``/
``decode``: input validation, numpy float64 normalisation, torch), the exported torch modules (the
same graph in torch) and onnxruntime; the ONNX operators of each graph; the multiplications per row.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime
import torch

from hepsqueeze.datasets import generate_mixture
from hepsqueeze.models.model import CompressionModel
from hepsqueeze.models.onnx_export import (
    TOLERANCE,
    export_modules,
    export_onnx,
    physical_difference,
    scaled_error,
    session,
)
from hepsqueeze.version import __version__
from hepsqueeze.zoo import card, load, model_path

MODELS = ("ae4d-3", "ae27d-20")
COMMAND = "`.venv/bin/python benchmarks/onnx_export.py --out docs/onnx.md --json docs/onnx.json`"


def sample(name: str, workers: int) -> tuple[npt.NDArray[np.float32], dict[str, Any]]:
    spec = dict(card(name).validation["sample"])
    jets = generate_mixture(
        processes=tuple(spec["processes"]),
        events_per_process=int(spec["events_per_process"]),
        seed=int(spec["seed"]),
        workers=workers,
        **dict(spec.get("overrides", {})),
    )
    model = load(name)
    return np.ascontiguousarray(jets.stack(model.columns), dtype=np.float32), spec


def median_rate(fn: Callable[[], object], rows: int, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return rows / statistics.median(times)


def torch_run(module: torch.nn.Module, data: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    with torch.no_grad():
        return module(torch.from_numpy(data)).numpy()  # type: ignore[no-any-return]


def ort_run(sess: Any, data: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return sess.run(None, {sess.get_inputs()[0].name: data})[0]  # type: ignore[no-any-return]


def multiplications(model: CompressionModel) -> dict[str, Any]:
    """Per row and part: the dense layers' multiply-accumulates, and the per-unit multiplies of
    BatchNorm (one scale each, once folded) and LeakyReLU (the slope, on negative inputs)."""
    out: dict[str, Any] = {}
    for part in ("encoder", "decoder"):
        seq = getattr(model.network, part)
        macs = sum(m.in_features * m.out_features for m in seq if isinstance(m, torch.nn.Linear))
        params = sum(p.numel() for p in seq.parameters())
        bn = sum(m.num_features for m in seq if isinstance(m, torch.nn.BatchNorm1d))
        act_units = 0
        for i, m in enumerate(seq):
            if isinstance(m, torch.nn.LeakyReLU):
                act_units += seq[i - 1].out_features
        widths = [m.in_features for m in seq if isinstance(m, torch.nn.Linear)]
        widths.append([m for m in seq if isinstance(m, torch.nn.Linear)][-1].out_features)
        out[part] = {
            "layers": "-".join(map(str, widths)),
            "dense_multiplications": macs,
            "batchnorm_multiplications": bn,
            "leaky_relu_units": act_units,
            "parameters": params,
        }
    return out


def wide_check(model: CompressionModel, out: Path) -> dict[str, Any]:
    """The export's check on 1000 rows drawn uniformly over [-1, 2] in normalised units (outside the
    training box), measured with a tolerance of 0.5 so that the figures come back."""
    y = np.random.default_rng(0).uniform(-1.0, 2.0, (1000, len(model.variables)))
    with np.errstate(over="ignore"):
        x = model.normaliser.inverse(y)
    for name in model.integer_variables:
        j = model.variables.index(name)
        x[:, j] = np.rint(x[:, j])
    ok = np.isfinite(x).all(axis=1)
    for j, t in enumerate(model.normaliser.transforms):
        if t.log:
            ok &= x[:, j] + t.log_offset > 0
    x = x[ok]
    exp = export_onnx(model, out, check_inputs=x, tolerance=0.5, force=True)
    return {
        "rows": len(x),
        "max_abs_latent": float(np.abs(model.encode(x)).max()),
        "encoder": {"max_abs_diff": exp.encoder.max_abs_diff, "max_error": exp.encoder.max_error},
        "decoder": {"max_abs_diff": exp.decoder.max_abs_diff, "max_error": exp.decoder.max_error},
    }


def operators(path: Path) -> dict[str, int]:
    return dict(sorted(Counter(n.op_type for n in onnx.load(str(path)).graph.node).items()))


def measure(name: str, tmp: Path, workers: int, repeats: int) -> dict[str, Any]:
    x, spec = sample(name, workers)
    model = load(name)
    model.validate_input(x)
    rows = len(x)
    res: dict[str, Any] = {
        "model": f"zoo:{name}",
        "nodes": list(model.config.nodes),
        "sample": {**spec, "rows": rows},
        "variables": len(model.variables),
        "latent_dim": model.latent_dim,
        "integer_variables": list(model.integer_variables),
        "multiplications": multiplications(model),
        "model_file_bytes": model_path(name).stat().st_size,
        "exports": {},
        "wide_check": wide_check(model, tmp / f"{name}-wide.onnx"),
    }
    z_api = model.encode(x)
    with torch.no_grad():
        y_ref = model.network.decode(torch.from_numpy(z_api)).numpy()
    for physical in (True, False):
        mode = "physical" if physical else "normalised"
        t0 = time.perf_counter()
        exp = export_onnx(model, tmp / f"{name}-{mode}.onnx", physical=physical, check_inputs=x, force=True)
        seconds = time.perf_counter() - t0
        enc_s, dec_s = session(exp.encoder.path, threads=1), session(exp.decoder.path, threads=1)
        enc_t, dec_t = export_modules(model, physical)
        feed = x if physical else model.normaliser.forward(x)
        back = ort_run(dec_s, ort_run(enc_s, feed))
        if physical:
            diff = physical_difference(model, back, model.normaliser.inverse(y_ref))
        else:
            diff = np.abs(back.astype(np.float64) - y_ref)
        rates = {
            "onnxruntime": {
                "encode": median_rate(lambda s=enc_s, f=feed: ort_run(s, f), rows, repeats),
                "decode": median_rate(lambda s=dec_s: ort_run(s, z_api), rows, repeats),
            },
            "torch": {
                "encode": median_rate(lambda m=enc_t, f=feed: torch_run(m, f), rows, repeats),
                "decode": median_rate(lambda m=dec_t: torch_run(m, z_api), rows, repeats),
            },
        }
        if physical:
            rates["hepsqueeze API"] = {
                "encode": median_rate(lambda: model.encode(x), rows, repeats),
                "decode": median_rate(lambda: model.decode(z_api), rows, repeats),
            }
        res["exports"][mode] = {
            "seconds": seconds,
            "encoder": {**exp.encoder.to_dict(), "operators": operators(exp.encoder.path)},
            "decoder": {**exp.decoder.to_dict(), "operators": operators(exp.decoder.path)},
            "round_trip": {
                "max_abs_diff": float(diff.max()),
                "max_error": float(scaled_error(diff, y_ref).max()),
            },
            "rows_per_second_1_thread": rates,
        }
        for part in ("encoder", "decoder"):
            res["exports"][mode][part]["path"] = Path(res["exports"][mode][part]["path"]).name
    return res


def markdown(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        "# ONNX export of the autoencoders",
        "",
        "`hepsqueeze export MODEL --format onnx -o m.onnx` writes `m.encoder.onnx` and `m.decoder.onnx` "
        "beside the `-o` path (MODEL: an autoencoder's `.hsqm` file or `zoo:NAME`). Conditional models of "
        "the error-bounded codec (`.hsqb`, `zoo:bounded-jets27d`) are refused: only autoencoders export, "
        "and `--format` takes `onnx` only.",
        "",
        "## What the graphs hold",
        "",
        "- **Physical values in, latents out, physical values back** (the default). Every normalisation "
        "hepsqueeze fits is `y = (g(x) - shift) / scale` per variable, `g` the identity or "
        "`log10(x + offset)`, so ONNX expresses all of them (Cast, Add, Log, Div, Where; Pow on the "
        "way back): the graphs compute it in float64, as `CompressionModel.encode`/`decode` do, and "
        "run the network in float32. The decoder rounds the integer variables (Round: half to even, "
        "as numpy.rint). Inputs and outputs are float32 and named `physical` and `latent`; the batch "
        "axis (`batch`) is dynamic.",
        "- **`--normalised`**: the network alone, on normalised values (`normalised` -> `latent` -> "
        "`normalised`), for tools that take no Log or Pow, such as hls4ml (below). Apply the "
        "normalisation from the metadata yourself.",
        "- The decoder's output constraints (a softplus floor, a clamped or sigmoid range) are part of "
        "its network and so of both kinds of graph. A model in the `mass` representation (preset "
        "`ae4d-3m`: the network sees m computed from E, pt and eta) exports with `--normalised` only; "
        "the physical graphs do not compute the representation and the command says so.",
        "- A graph cannot refuse input: where `hepsqueeze compress` refuses a NaN or a logged variable "
        "at or below its offset (e.g. pt <= 0), the physical encoder gives NaN latents for that row.",
        "- `metadata_props` of both files: `format` (`hepsqueeze-onnx/1`), `part`, `model_name`, "
        "`hepsqueeze_version`, `variables`, `columns`, `latent_dim`, `io`, `representation`, "
        "`normalisation_in_graph`, "
        "`normalisation` (the normaliser as JSON: scheme, per variable log/log_offset/shift/scale), "
        "`integer_variables`, `architecture`, `decoder_hash`.",
        "- Both files are written to temporary names, read back with `onnx.checker` (full check), "
        "their input and output names and batch axis checked, and run with onnxruntime on a check "
        "batch (batch sizes 1, 7 and the whole batch) against torch. They are published only if both "
        f"agree within {TOLERANCE:g}: the difference, in normalised units for decoded values "
        "(`tolerance * scale` in physical units for a linear variable, the relative difference "
        "`tolerance * scale * ln 10` for a logged one), over `max(1, |torch's value|)` (absolute for "
        "values within +-1, relative beyond; this is the `error` below). The command's check batch is "
        "1000 rows drawn uniformly over [0, 1] in normalised units; the library's `export_onnx` "
        "takes real rows (`check_inputs=`), as here.",
        "",
        f"Measured with {COMMAND} on {meta['machine']} (onnxruntime {meta['onnxruntime']}, "
        f"torch {meta['torch']}, onnx {meta['onnx']}, opset 17, hepsqueeze {meta['hepsqueeze']}); "
        f"{meta['seconds']:.0f} s. The cores were shared with other jobs: throughputs are medians of "
        f"{meta['repeats']} runs; between runs of this command in the same session one rate (ae4d-3's physical "
        "onnxruntime encoder) ranged from 248,421 to 631,392 rows/s: compare rates within one table, "
        "not across runs.",
        "",
        "## Sizes and agreement on generated jets",
        "",
        "Every jet of each model card's validation sample (seed 2; ae27d-20 on the 27-variable jets). "
        "Differences are onnxruntime minus torch, in latent units for the encoder and normalised units "
        "for the decoder; *round trip* is onnxruntime's encoder then decoder against torch's.",
        "",
        "| model | rows | graph | encoder bytes | decoder bytes | encoder max abs diff (error) "
        "| decoder max abs diff (error) | round trip max abs diff (error) |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for mode, e in r["exports"].items():
            lines.append(
                f"| {r['model']} | {r['sample']['rows']} | {mode} | {e['encoder']['bytes']:,} | "
                f"{e['decoder']['bytes']:,} | {e['encoder']['max_abs_diff']:.2g} ({e['encoder']['max_error']:.2g}) | "
                f"{e['decoder']['max_abs_diff']:.2g} ({e['decoder']['max_error']:.2g}) | "
                f"{e['round_trip']['max_abs_diff']:.2g} ({e['round_trip']['max_error']:.2g}) |"
            )
    sizes = ", ".join(f"{r['model']} {r['model_file_bytes']:,} bytes" for r in results)
    lines += [
        "",
        f"The files hold the weights as float32 (4 bytes per parameter) plus the graph; the model files "
        f"(`.hsqm`, encoder and decoder together, with history and training record): {sizes}.",
        "",
        "**Outside the training box** the absolute criterion alone would not hold: on 1000 rows drawn "
        "uniformly over [-1, 2] in normalised units (physical graphs, the same check run with the "
        "tolerance raised to 0.5 so that the figures come back):",
        "",
        "| model | rows | largest latent | encoder max abs diff (error) | decoder max abs diff (error) |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        w = r["wide_check"]
        lines.append(
            f"| {r['model']} | {w['rows']} | {w['max_abs_latent']:.4g} | "
            + " | ".join(
                f"{w[p]['max_abs_diff']:.2g} ({w[p]['max_error']:.2g})" for p in ("encoder", "decoder")
            )
            + " |"
        )
    lines += [
        "",
        "Far from its training data a network's latents grow (float32 spaces values near 1,000 by 6e-5) "
        "and the two runtimes' different summation orders differ by more than 1e-5, absolute and even "
        "relative: this is why the command checks on rows inside the training box, and why the error "
        "is relative for values beyond +-1. A check there that fails refuses the export; give real "
        "rows (`export_onnx(..., check_inputs=rows)`) to check on the data you will run.",
        "",
        "## Throughput, 1 thread",
        "",
        "Rows per second over the whole sample (torch.set_num_threads(1); onnxruntime with 1 intra-op "
        "thread). *hepsqueeze API*: `CompressionModel.encode`/`decode` (input checks, numpy float64 "
        "normalisation, torch); *torch*: the exported modules, the same graph run by torch.",
        "",
        "| model | graph | runtime | encode rows/s | decode rows/s |",
        "|---|---|---|---:|---:|",
    ]
    for r in results:
        for mode, e in r["exports"].items():
            for runtime, rate in e["rows_per_second_1_thread"].items():
                lines.append(
                    f"| {r['model']} | {mode} | {runtime} | {rate['encode']:,.0f} | {rate['decode']:,.0f} |"
                )
    lines += ["", "## ONNX operators", "", "| model | graph | encoder | decoder |", "|---|---|---|---|"]
    for r in results:
        for mode, e in r["exports"].items():
            ops = [
                ", ".join(f"{k} {v}" for k, v in e[p]["operators"].items()) for p in ("encoder", "decoder")
            ]
            lines.append(f"| {r['model']} | {mode} | {ops[0]} | {ops[1]} |")
    lines += [
        "",
        "## The hls4ml route to trigger hardware",
        "",
        "The seeds' network (ae4d-3) is of the size trigger hardware takes. What the networks cost per jet "
        "(multiplications are the dense layers' multiply-accumulates; BatchNorm adds one multiply "
        "per unit once folded into a scale and shift; LeakyReLU multiplies negative inputs by its "
        "slope):",
        "",
        "| model | part | layers | parameters | dense multiplications | BatchNorm multiplications "
        "| LeakyReLU units |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        for part, m in r["multiplications"].items():
            lines.append(
                f"| {r['model']} | {part} | {m['layers']} | {m['parameters']:,} | "
                f"{m['dense_multiplications']:,} | {m['batchnorm_multiplications']:,} | {m['leaky_relu_units']:,} |"
            )
    ae4d = next(r for r in results if r["model"] == "zoo:ae4d-3")["multiplications"]
    enc = ae4d["encoder"]["dense_multiplications"]
    lines += [
        "",
        f"The 4-200-200-20-3 encoder is {enc:,} multiplications per jet (4x200 + 200x200 + 200x20 + "
        "20x3), nine tenths of them in the 200x200 layer; the decoder mirrors it. With hls4ml's "
        "reuse factor R a layer needs about (multiplications / R) multipliers and R clock cycles "
        f"per input: fully parallel (R = 1) that is {enc:,} multipliers for the encoder alone, so on "
        "an FPGA of a few thousand DSP slices it needs a large reuse factor, fewer bits (hls4ml maps "
        "narrow fixed-point products onto LUTs) or pruning, typically quantisation-aware training "
        "(QKeras, HGQ, Brevitas -> QONNX). None of this is measured here.",
        "",
        "- hls4ml reads Keras, PyTorch, ONNX and QONNX models. Its ONNX parser goes through the "
        "`qonnx` package's cleaning (constant folding, shape inference); Gemm nodes, which torch's "
        "exporter writes for every Linear, must be turned into MatMul + Add (qonnx's `GemmToMatMul`). "
        "Its ONNX activation handlers include Relu, LeakyRelu, Elu, Selu, PRelu, Tanh, Sigmoid, "
        "Softmax, Softsign, Softplus and ThresholdedRelu, and BatchNormalization is parsed: every "
        "layer of the zoo networks (Linear, LeakyReLU, BatchNorm1d) is covered.",
        "- Log, Pow, Where and Cast to float64, which the physical graphs use for the normalisation, "
        "are not among those layers, and trigger firmware works in fixed point: export with "
        "`--normalised` and compute the normalisation (a log and an affine map per variable, from "
        "the metadata) upstream, or in a lookup table.",
        "- Alternatively hls4ml's PyTorch frontend takes the network directly "
        "(`hepsqueeze.models.onnx_export.export_modules(model, physical=False)` gives the two "
        "torch modules).",
        "- **hls4ml is not installed or tested here**: nothing on this page was synthesised, and the "
        "figures above are operation counts, not resource or latency estimates.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("docs/onnx.md"))
    p.add_argument("--json", type=Path, default=Path("docs/onnx.json"))
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--workers", type=int, default=2, help="generator processes (if not cached)")
    args = p.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        results = [measure(name, Path(tmp), args.workers, args.repeats) for name in MODELS]
    meta = {
        "machine": f"{platform.machine()} Linux, {os.cpu_count()} CPU cores, Python {sys.version.split()[0]}",
        "onnxruntime": onnxruntime.__version__,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "hepsqueeze": __version__,
        "repeats": args.repeats,
        "seconds": time.perf_counter() - t0,
        "command": COMMAND.strip("`"),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"meta": meta, "models": results}, indent=1) + "\n")
    args.out.write_text(markdown(results, meta))


if __name__ == "__main__":
    main()
