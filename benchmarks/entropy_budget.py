"""Issue 9 groundwork: how many bits per jet an error-bounded codec needs at a given max error.

    .venv/bin/python benchmarks/entropy_budget.py --events 12500 --errors 1e-2,3e-3,1e-3,3e-4

Not a codec: an estimate of what one can reach. Each jet's E, pt (relative bound eps) and eta, phi
(absolute bound eps) are quantised uniformly with step 2*eps (log space for E and pt, with
ln(1 + eps)), which meets the bound by construction. The integer symbols are then costed with static
histograms fitted on one half of the events (add-1/2 smoothing over the observed range) and
evaluated on the other half, i.e. the code length an entropy coder with a stored, fitted table
reaches when the table cost is amortised. Two models:

- per jet: log pt, eta, phi each alone; E as the residual to the massless prediction pt*cosh(eta)
  from the already decoded pt and eta;
- event level (jets of one event, in descending pt): pt as the step down from the previous jet,
  phi relative to the leading jet, eta and phi tables by jet rank (1, 2, 3+), E residual by |eta| and
  pt bins.

Writes docs/benchmarks/entropy_budget.json and .md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.datasets import generate_mixture

I64 = npt.NDArray[np.int64]


def code_length(fit: I64, test: I64) -> float:
    """Bits to code ``test`` with a histogram of ``fit`` (+1/2 per bin over both ranges)."""
    if test.size == 0:
        return 0.0
    lo = int(min(fit.min(initial=0), test.min()))
    hi = int(max(fit.max(initial=0), test.max()))
    counts = np.bincount(fit - lo, minlength=hi - lo + 1).astype(np.float64) + 0.5
    p = counts / counts.sum()
    return float(-np.log2(p[test - lo]).sum())


def contextual(sym: I64, ctx: I64, half: npt.NDArray[np.bool_]) -> float:
    """Code length of the test half of ``sym`` with one table per context value."""
    total = 0.0
    for c in np.unique(ctx):
        sel = ctx == c
        total += code_length(sym[sel & half], sym[sel & ~half])
    return total


def budget(event: I64, x: npt.NDArray[np.float64], eps: float, seed: int) -> dict[str, Any]:
    e, pt, eta, phi = x.T
    s_rel = 2 * np.log1p(eps) * (1 - 1e-6)
    s_abs = 2 * eps * (1 - 1e-6)
    q_pt = np.rint(np.log(pt) / s_rel).astype(np.int64)
    q_eta = np.rint(eta / s_abs).astype(np.int64)
    q_phi = np.rint(phi / s_abs).astype(np.int64)
    pt_d, eta_d = np.exp(q_pt * s_rel), q_eta * s_abs
    q_e = np.rint((np.log(e) - np.log(pt_d * np.cosh(eta_d))) / s_rel).astype(np.int64)
    # the quantisation itself meets the bound (checked, not assumed)
    back = {
        "E": np.exp(np.log(pt_d * np.cosh(eta_d)) + q_e * s_rel),
        "pt": pt_d,
        "eta": eta_d,
        "phi": q_phi * s_abs,
    }
    worst = {
        "E": float(np.max(np.abs(back["E"] / e - 1))),
        "pt": float(np.max(np.abs(back["pt"] / pt - 1))),
        "eta": float(np.max(np.abs(back["eta"] - eta))),
        "phi": float(np.max(np.abs(back["phi"] - phi))),
    }
    # split by event: the fitted half and the costed half
    events = np.unique(event)
    rng = np.random.default_rng(seed)
    fit_events = rng.permutation(events)[: events.size // 2]
    half = np.isin(event, fit_events)
    n_test = int((~half).sum())

    zero = np.zeros_like(q_pt)
    per_jet = {
        "pt": contextual(q_pt, zero, half),
        "eta": contextual(q_eta, zero, half),
        "phi": contextual(q_phi, zero, half),
        "E": contextual(q_e, zero, half),
    }
    first = np.r_[True, event[1:] != event[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(event.size), 0))
    rank = np.minimum(np.arange(event.size) - start, 2)
    n_phi = round(2 * np.pi / s_abs) + 1
    d_pt = np.where(first, q_pt, np.r_[0, q_pt[:-1]] - q_pt)
    d_phi = np.where(first, q_phi, np.mod(q_phi - q_phi[start], n_phi))
    e_ctx = np.minimum(np.abs(eta_d) // 0.5, 9).astype(np.int64) * 10 + np.clip(
        (np.log(pt_d) - 3.0) // 0.5, 0, 9
    ).astype(np.int64)
    event_level = {
        "pt": contextual(d_pt, first.astype(np.int64), half),
        "eta": contextual(q_eta, rank, half),
        "phi": contextual(d_phi, rank, half),
        "E": contextual(q_e, e_ctx, half),
    }

    def summary(parts: dict[str, float]) -> dict[str, Any]:
        bits = sum(parts.values()) / n_test
        return {
            "bits_per_jet": bits,
            "ratio_vs_float32": 128.0 / bits,
            "bits_per_variable": {k: v / n_test for k, v in parts.items()},
        }

    return {
        "max_error": eps,
        "max_error_after_quantisation": worst,
        "test_jets": n_test,
        "per_jet": summary(per_jet),
        "event_level": summary(event_level),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=12500, help="events per process (ttbar, qcd)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--kind", default="jets27d", help="jets or jets27d: same jets; use the cached kind")
    p.add_argument("--errors", default="1e-2,3e-3,1e-3,3e-4")
    p.add_argument("--out", type=Path, default=Path("docs/benchmarks"))
    args = p.parse_args()
    jets = generate_mixture(events_per_process=args.events, seed=args.seed, workers=2, kind=args.kind)
    x = jets.stack(("E", "pt", "eta", "phi"), dtype=np.float64)
    rows = [budget(jets["event"], x, float(e), args.seed) for e in args.errors.split(",")]
    result = {
        "command": f"benchmarks/entropy_budget.py --events {args.events} --seed {args.seed} --kind {args.kind} "
        f"--errors {args.errors}",
        "jets": jets.num_rows,
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "entropy_budget.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# Entropy budget of an error-bounded jet codec (issue 9 groundwork)",
        "",
        f"{jets.num_rows:,} ttbar + QCD jets (E, pt, eta, phi float32 = 128 bits/jet). Command: "
        f"`.venv/bin/python {result['command']}`. An estimate, not a codec: see the script's docstring.",
        "",
        "| max error | per-jet bits/jet | per-jet ratio | event-level bits/jet | event-level ratio | "
        "event-level bits: pt / eta / phi / E |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        b = r["event_level"]["bits_per_variable"]
        lines.append(
            f"| {r['max_error']:g} | {r['per_jet']['bits_per_jet']:.2f} | {r['per_jet']['ratio_vs_float32']:.2f} | "
            f"{r['event_level']['bits_per_jet']:.2f} | {r['event_level']['ratio_vs_float32']:.2f} | "
            f"{b['pt']:.2f} / {b['eta']:.2f} / {b['phi']:.2f} / {b['E']:.2f} |"
        )
    (args.out / "entropy_budget.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
