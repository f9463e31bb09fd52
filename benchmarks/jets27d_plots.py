"""Distributions of a few jets27d variables, ttbar against QCD jets at high pt, for docs/generator.md.

Usage: python benchmarks/jets27d_plots.py [--ttbar-events 1500] [--qcd-events 1500] [--pt-min 600]

Writes docs/images/generator-jets27d-ttbar-vs-qcd.png: jets with pt > pt-min from ``ttbar_boosted``
and ``qcd``, both generated with pthat-min = pt-min (plain ttbar has almost no jets this hard:
19 above 400 GeV in 3000 events). tau32 separates three-prong top jets (low values) from one-prong
light-quark and gluon jets; with R = 0.4 a top decay is contained only for pt above about
2 m_t / R ~ 850 GeV, so the separation is partial and strongest in the top-mass window.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from hepsqueeze.datasets import GeneratorConfig, generate
from hepsqueeze.io.table import Table
from hepsqueeze.plotting.style import COLOR_IN, COLOR_OUT, corner_label, hep_style, new_figure

log = logging.getLogger("jets27d_plots")

OUT = Path(__file__).resolve().parent.parent / "docs" / "images" / "generator-jets27d-ttbar-vs-qcd.png"
#: (column, x label, bins) of each panel.
PANELS = (
    ("tau32", r"$\tau_{32}$", np.linspace(0.0, 1.0, 26)),
    ("tau21", r"$\tau_{21}$", np.linspace(0.0, 1.0, 26)),
    ("m", "jet mass $m$ [GeV]", np.linspace(0.0, 300.0, 31)),
    ("C2", "$C_2$ ($\\beta = 1$)", np.linspace(0.0, 0.6, 25)),
    ("n_constituents", "constituents", np.linspace(0.0, 120.0, 25)),
    ("width", "width", np.linspace(0.0, 0.3, 31)),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ttbar-events", type=int, default=1500)
    parser.add_argument("--qcd-events", type=int, default=1500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pt-min", type=float, default=600.0, help="jet pt and pthat-min [GeV]")
    parser.add_argument("--output", type=Path, default=OUT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    pt_min = args.pt_min
    ttbar = generate(
        GeneratorConfig("ttbar_boosted", args.ttbar_events, args.seed, kind="jets27d", pthat_min=pt_min),
        workers=args.workers,
    )
    qcd = generate(
        GeneratorConfig("qcd", args.qcd_events, args.seed, kind="jets27d", pthat_min=pt_min),
        workers=args.workers,
    )
    label = f"($\\hat p_T$ > {pt_min:.0f} GeV)"
    samples = {f"ttbar {label}": _high_pt(ttbar, pt_min), f"QCD {label}": _high_pt(qcd, pt_min)}
    for name, t in samples.items():
        window = (t["m"] > 140) & (t["m"] < 200)
        log.info(
            "%s: %d jets with pt > %.0f GeV; median tau32 %.3f (all), %.3f (140 < m < 200 GeV, %d jets)",
            name,
            t.num_rows,
            pt_min,
            float(np.median(t["tau32"])),
            float(np.median(t["tau32"][window])) if np.any(window) else float("nan"),
            int(np.count_nonzero(window)),
        )
    _plot(samples, pt_min, args.output)
    log.info("wrote %s", args.output)


def _high_pt(table: Table, pt_min: float) -> Table:
    keep = table["pt"] > pt_min
    return Table({n: table[n][keep] for n in table.names}, source=table.source)


def _plot(samples: dict[str, Table], pt_min: float, output: Path) -> None:
    with hep_style():
        fig = new_figure((13.0, 8.0))
        axes = fig.subplots(2, 3)
        for ax, (column, label, bins) in zip(axes.flat, PANELS, strict=True):
            for (name, table), color in zip(samples.items(), (COLOR_OUT, COLOR_IN), strict=True):
                values = np.clip(table[column], bins[0], bins[-1] - 1e-9)
                ax.hist(
                    values,
                    bins=bins,
                    density=True,
                    histtype="step",
                    color=color,
                    label=f"{name}, {table.num_rows} jets",
                )
            ax.set_xlabel(label)
            ax.set_ylabel("density")
        axes.flat[0].legend(loc="upper left", fontsize=9)
        corner_label(axes.flat[0], f"Pythia 8, 13 TeV, anti-kt R=0.4, jet $p_T$ > {pt_min:.0f} GeV")
        fig.tight_layout()
        output.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(output, dpi=110)


if __name__ == "__main__":
    main()
