"""Issue 9: would a learned predictor (an autoencoder) make the error-bounded codec smaller?

    .venv/bin/python benchmarks/learned_predictor.py --out docs/benchmarks/learned_predictor

Every method codes the same held-out ttbar + QCD jets within ``--eps`` (relative on E and pt,
absolute on eta and phi) with the codec's quantisation steps and entropy coders (zstd Huffman and
constriction ANS, through :mod:`hepsqueeze.codecs.bounded.payload`); only the prediction the symbols are
coded against differs:

- ``hepsqueeze``: the shipped codec (analytic prediction, event-level contexts); ``per jet``: the
  same with every jet its own event.
- autoencoder predictors: the latents are quantised (step 1 after the encoder's own scaling; for the
  MSE-trained seeds' model, the best of a scanned step) and coded one group per dimension; pt, eta
  and phi are coded as the quantised step from the decoder's prediction, E as in the codec (from
  the decoded pt and eta, 100 contexts), so the autoencoder gets the same physics for free.
- ``rd-*`` models are trained on the estimate of exactly these bits (rate-distortion training at a
  fixed distortion): latents with additive uniform noise (quantisation-aware training, as in
  CompressAI's entropy bottleneck) under a learned 4-component logistic mixture per dimension, and
  the residuals under a learned discretised Laplace per variable.

Train: the first ``--train-jets`` jets of the cached sample; test: the last ``--test-jets`` (other
events). Ratio = 16 bytes per jet / coded bytes: without the model, and with its float32 decoder
weights as a file would embed them. Decoder speed: the decoder network alone on the test latents
(torch, CPU, every thread), MB/s of float32 jets. Every decoded value is checked against the bound.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import zstandard
from torch import nn

from hepsqueeze.codecs.bounded import payload as bounded
from hepsqueeze.codecs.bounded.bounds import JetBounds
from hepsqueeze.datasets import generate_mixture
from hepsqueeze.metrics.delta_phi import wrap_phi
from hepsqueeze.zoo import load

VARIABLES = ("E", "pt", "eta", "phi")


def coded_bytes(groups: list[np.ndarray]) -> int:
    """Bytes of the symbol groups through the codec's coders (stream + compressed tables)."""
    plans = [bounded.plan_group(np.ascontiguousarray(g, dtype=np.int64)) for g in groups]
    words, _, frames = bounded.entropy_code(plans)
    tables = [p.table for p in plans if p.table is not None] + [
        p.escapes for p in plans if p.escapes is not None
    ]
    side = b"".join(t.astype("<i8").tobytes() for t in tables) + bytes(48 * len(plans))
    return len(words) + len(frames) + len(zstandard.ZstdCompressor(level=19).compress(side))


def residual_bytes(x: np.ndarray, pred: np.ndarray, steps: dict[str, float], eps: float) -> tuple[int, bool]:
    """Bytes of pt, eta, phi coded as steps from ``pred`` (rows, 3: ln pt, eta, phi) and E as in the
    codec; and whether every decoded value is within ``eps``."""
    x64 = x.astype(np.float64)
    lnpt, eta, phi = np.log(x64[:, 1]), x64[:, 2], x64[:, 3]
    r_pt = np.rint((lnpt - pred[:, 0]) / steps["pt"])
    r_eta = np.rint((eta - pred[:, 1]) / steps["eta"])
    r_phi = np.rint(wrap_phi(phi - pred[:, 2]) / steps["phi"])
    pt32 = np.exp(pred[:, 0] + r_pt * steps["pt"]).astype(np.float32)
    eta32 = (pred[:, 1] + r_eta * steps["eta"]).astype(np.float32)
    phi32 = wrap_phi(pred[:, 2] + r_phi * steps["phi"]).astype(np.float32)
    e_pred = pt32.astype(np.float64) * np.cosh(eta32.astype(np.float64))
    q_e = np.rint(np.log(x64[:, 0] / e_pred) / steps["E"])
    e32 = (e_pred * np.exp(q_e * steps["E"])).astype(np.float32)
    y = np.column_stack([e32, pt32, eta32, phi32]).astype(np.float64)
    rel = np.abs(y[:, :2] - x64[:, :2]) / np.abs(x64[:, :2])
    ok = bool((rel <= eps).all() and (np.abs(y[:, 2] - eta) <= eps).all())
    ok &= bool((np.abs(wrap_phi(y[:, 3] - phi)) <= eps).all())
    # the codec's E contexts, from the decoded floats: |eta| and ln pt in 0.5 bins
    ctx = np.minimum(np.abs(eta32) // 0.5, 9) * 10 + np.clip((np.log(pt32) - 3.0) // 0.5, 0, 9)
    e_groups = [q_e[ctx == c] for c in range(100)]
    return coded_bytes([r_pt, r_eta, r_phi, *e_groups]), ok


class TinyAE(nn.Module):
    """ln pt, eta, cos phi, sin phi (standardised) -> latent -> ln pt, eta, phi predictions."""

    def __init__(self, width: int, latent: int, mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))
        self.encoder = nn.Sequential(
            nn.Linear(4, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(), nn.Linear(width, latent)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(), nn.Linear(width, 4)
        )
        # latent density: 4-component logistic mixture per dimension
        self.mix_loc = nn.Parameter(torch.linspace(-2, 2, 4).repeat(latent, 1))
        self.mix_logscale = nn.Parameter(torch.zeros(latent, 4))
        self.mix_logit = nn.Parameter(torch.zeros(latent, 4))
        self.res_logscale = nn.Parameter(torch.ones(3))

    def features(self, lnpt: torch.Tensor, eta: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        return torch.stack(
            [(lnpt - self.mean[0]) / self.std[0], eta / self.std[1], torch.cos(phi), torch.sin(phi)], 1
        )

    def predict(self, z: torch.Tensor) -> torch.Tensor:
        out = self.decoder(z)
        return torch.stack(
            [
                out[:, 0] * self.std[0] + self.mean[0],
                out[:, 1] * self.std[1],
                torch.atan2(out[:, 3], out[:, 2]),
            ],
            1,
        )

    def latent_bits(self, z: torch.Tensor) -> torch.Tensor:
        zz = z.unsqueeze(-1)
        scale = torch.exp(self.mix_logscale)
        upper = torch.sigmoid((zz + 0.5 - self.mix_loc) / scale)
        lower = torch.sigmoid((zz - 0.5 - self.mix_loc) / scale)
        p = (torch.softmax(self.mix_logit, -1) * (upper - lower)).sum(-1)
        return -torch.log2(p.clamp_min(1e-9)).sum(1)

    def residual_bits(self, r: torch.Tensor) -> torch.Tensor:
        b = torch.exp(self.res_logscale)

        def cdf(v: torch.Tensor) -> torch.Tensor:
            return 0.5 + 0.5 * torch.sign(v) * (1 - torch.exp(-v.abs() / b))

        p = cdf(r + 0.5) - cdf(r - 0.5)
        return -torch.log2(p.clamp_min(1e-9)).sum(1)


def _targets(x: np.ndarray) -> torch.Tensor:
    x64 = x.astype(np.float64)
    return torch.tensor(np.column_stack([np.log(x64[:, 1]), x64[:, 2], x64[:, 3]]), dtype=torch.float32)


def train_rd(
    x: np.ndarray, steps: dict[str, float], width: int, latent: int, *, minutes: float, seed: int
) -> TinyAE:
    torch.manual_seed(seed)
    t = _targets(x)
    model = TinyAE(
        width,
        latent,
        np.array([float(t[:, 0].mean()), 0.0]),
        np.array([float(t[:, 0].std()), float(t[:, 1].std())]),
    )
    step = torch.tensor([steps["pt"], steps["eta"], steps["phi"]])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=3)
    end = time.monotonic() + 60 * minutes
    epoch = 0
    while time.monotonic() < end:
        perm = torch.randperm(t.shape[0])
        total = 0.0
        for i in range(0, t.shape[0], 8192):
            b = t[perm[i : i + 8192]]
            z = model.encoder(model.features(b[:, 0], b[:, 1], b[:, 2]))
            z = z + torch.rand_like(z) - 0.5  # quantisation-aware: uniform noise for rounding
            pred = model.predict(z)
            d = b - pred
            d = torch.stack([d[:, 0], d[:, 1], torch.atan2(torch.sin(d[:, 2]), torch.cos(d[:, 2]))], 1)
            bits = model.latent_bits(z) + model.residual_bits(d / step)
            loss = bits.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * b.shape[0]
        epoch += 1
        sched.step(total / t.shape[0])
    print(
        f"rd width {width} latent {latent}: {epoch} epochs, "
        f"train estimate {total / t.shape[0]:.2f} bits/jet (pt, eta, phi)"
    )
    return model


@torch.no_grad()
def evaluate_rd(model: TinyAE, x: np.ndarray, steps: dict[str, float], eps: float) -> dict[str, Any]:
    t = _targets(x)
    z = torch.round(model.encoder(model.features(t[:, 0], t[:, 1], t[:, 2])))
    t0 = time.perf_counter()
    pred = model.predict(z)
    dt = time.perf_counter() - t0
    res, ok = residual_bytes(x, pred.double().numpy(), steps, eps)
    lat = coded_bytes([z[:, d].numpy() for d in range(z.shape[1])])
    params = sum(p.numel() for p in model.decoder.parameters())
    return {"latent_bytes": lat, "residual_bytes": res, "ok": ok, "decoder_params": params, "decode_s": dt}


@torch.no_grad()
def evaluate_seed_model(
    x: np.ndarray, steps: dict[str, float], eps: float, scan: list[float]
) -> dict[str, Any]:
    model = load("ae4d-3")
    z = model.encode(x)
    best: dict[str, Any] | None = None
    for delta in scan:
        zq = np.rint(z / delta)
        t0 = time.perf_counter()
        y = model.decode((zq * delta).astype(np.float32)).astype(np.float64)
        dt = time.perf_counter() - t0
        pred = np.column_stack([np.log(np.maximum(y[:, 1], 1e-3)), y[:, 2], y[:, 3]])
        res, ok = residual_bytes(x, pred, steps, eps)
        row = {
            "latent_step": delta,
            "latent_bytes": coded_bytes([zq[:, d] for d in range(zq.shape[1])]),
            "residual_bytes": res,
            "ok": ok,
            "decode_s": dt,
        }
        print(f"ae4d-3 latent step {delta:g}: {(row['latent_bytes'] + res) / x.shape[0]:.2f} bytes/jet")
        if best is None or row["latent_bytes"] + res < best["latent_bytes"] + best["residual_bytes"]:
            best = row
    assert best is not None
    best["decoder_params"] = sum(p.numel() for p in model.network.decoder.parameters())
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=122000, help="events per process of the cached jets sample")
    p.add_argument("--train-jets", type=int, default=300_000)
    p.add_argument("--test-jets", type=int, default=200_000)
    p.add_argument("--eps", type=float, default=1e-3)
    p.add_argument("--minutes", type=float, default=3.0, help="training time of each rd model")
    p.add_argument("--models", default="8x3,32x3,64x4", help="rd models: WIDTHxLATENT")
    p.add_argument("--out", type=Path, default=Path("docs/benchmarks/learned_predictor"))
    args = p.parse_args()
    jets = generate_mixture(("ttbar", "qcd"), events_per_process=args.events, seed=1, workers=2, kind="jets")
    x_all = jets.stack(VARIABLES, dtype=np.float32)
    ev_all = jets["event"]
    order = np.random.default_rng(0).permutation(np.unique(ev_all))  # whole events, both processes
    test_events = order[: max(1, int(order.size * args.test_jets / ev_all.size))]
    train_events = order[
        test_events.size : test_events.size + int(order.size * args.train_jets / ev_all.size)
    ]
    test = np.isin(ev_all, test_events)
    x, ev = x_all[test], ev_all[test]
    x_train = x_all[np.isin(ev_all, train_events)]
    n = x.shape[0]
    bounds = JetBounds.uniform(args.eps)
    cols = [x[:, j].astype(np.float64) for j in range(4)]
    steps = bounded.quantisation_steps(bounds, cols, [np.isfinite(c) for c in cols], math.pi)
    rows: list[dict[str, Any]] = []

    def add(name: str, coded: int, params: int, decode_s: float | None, *, ok: bool, **extra: Any) -> None:
        rows.append(
            {
                "method": name,
                "bytes_per_jet": coded / n,
                "ratio": 16 * n / coded,
                "ratio_with_model": 16 * n / (coded + 4 * params),
                "decoder_params": params,
                "decoder_mb_s": None if decode_s is None else 16 * n / 1e6 / decode_s,
                "within_bound": ok,
                **extra,
            }
        )

    for name, events in (("hepsqueeze (analytic, event-level)", ev), ("analytic, per jet", np.arange(n))):
        payload = bounded.encode_jets(events, x, bounds)
        t0 = time.perf_counter()
        y = bounded.decode_jets(events, payload)
        dt = time.perf_counter() - t0
        add(name, len(payload), 0, dt, ok=bool(np.isfinite(y).all()), note="whole codec decode, checked")
    seed = evaluate_seed_model(x, steps, args.eps, [0.3, 0.1, 0.03, 0.01, 0.003])
    add(
        "seeds' ae4d-3 (4-200-200-20-3, MSE-trained)",
        seed["latent_bytes"] + seed["residual_bytes"],
        seed["decoder_params"],
        seed["decode_s"],
        ok=seed["ok"],
        latent_bytes_per_jet=seed["latent_bytes"] / n,
        latent_step=seed["latent_step"],
    )
    torch.set_num_threads(2)
    for spec in args.models.split(","):
        width, latent = (int(v) for v in spec.split("x"))
        model = train_rd(x_train, steps, width, latent, minutes=args.minutes, seed=1)
        r = evaluate_rd(model, x, steps, args.eps)
        add(
            f"rd-trained 3-{width}-{width}-{latent} (QAT)",
            r["latent_bytes"] + r["residual_bytes"],
            r["decoder_params"],
            r["decode_s"],
            ok=r["ok"],
            latent_bytes_per_jet=r["latent_bytes"] / n,
        )
    result = {
        "command": "benchmarks/learned_predictor.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out"),
        "test_jets": n,
        "train_jets": int(x_train.shape[0]),
        "eps": args.eps,
        "machine": {"platform": platform.platform(), "processor": platform.processor()},
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "learned_predictor.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# Learned predictors inside the error-bounded codec",
        "",
        f"{n:,} held-out ttbar + QCD jets, max error {args.eps:g}; rd models trained on "
        f"{x_train.shape[0]:,} other jets for {args.minutes:g} min each on 2 CPU cores. Command: "
        f"`.venv/bin/python {result['command']}`. Bytes/jet = coded symbols (+ tables); ratio = 16 / that; "
        "`with model` adds the float32 decoder weights a file would embed; decoder MB/s = the network alone "
        "(the analytic rows: the whole codec decode).",
        "",
        "| predictor | decoder params | bytes/jet | of which latents | ratio | ratio with model | decoder MB/s "
        "| within bound |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lat = f"{r['latent_bytes_per_jet']:.2f}" if "latent_bytes_per_jet" in r else "0"
        speed = f"{r['decoder_mb_s']:.0f}" if r["decoder_mb_s"] else ""
        lines.append(
            f"| {r['method']} | {r['decoder_params']:,} | {r['bytes_per_jet']:.3f} | {lat} | {r['ratio']:.3f} | "
            f"{r['ratio_with_model']:.3f} | {speed} | {'yes' if r['within_bound'] else 'NO'} |"
        )
    (args.out / "learned_predictor.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
