from __future__ import annotations

from pathlib import Path

import numpy as np

from hepsqueeze.plotting.html import Section, fmt, page_html, table_html
from hepsqueeze.plotting.report_plots import choose_bins, plot_overlay
from hepsqueeze.plotting.style import SavedPlot, axis_label, hep_style


def test_choose_bins(rng: np.random.Generator) -> None:
    pt = rng.exponential(60.0, 2000) + 20.0
    edges, log_x = choose_bins(pt, "pt")
    assert log_x
    assert edges[0] >= pt.min()
    assert edges[-1] <= pt.max()
    edges, log_x = choose_bins(rng.uniform(-3, 3, 100), "phi")
    assert not log_x
    assert edges[0] == -np.pi
    assert edges[-1] == np.pi
    edges, log_x = choose_bins(np.full(10, 5.0), "eta")
    assert edges[-1] > edges[0]


def test_labels_and_html() -> None:
    assert axis_label("pt") == "$p_T$ [GeV]"
    assert axis_label("eta") == r"$\eta$"
    assert fmt(float("nan")) == "\u2013"
    assert fmt(None) == "\u2013"
    assert fmt(0.123456789) == "0.1235"
    html = table_html(["a<b", "c"], [["<x>", 1.0]])
    assert "&lt;x&gt;" in html
    assert "a&lt;b" in html
    page = page_html("t", [Section("s", figures=[SavedPlot("k", "cap", ("k.png", "k.pdf"))])])
    assert 'src="k.png"' in page
    assert 'href="k.pdf"' in page


def test_overlay_writes_png_and_pdf(rng: np.random.Generator, tmp_path: Path) -> None:
    x = rng.exponential(50.0, 500) + 20.0
    with hep_style():
        saved = plot_overlay(tmp_path, "o", x, x * 1.02, "pt", caption="c", ks=0.1)
    assert saved.files == ("o.png", "o.pdf")
    assert (tmp_path / "o.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "o.pdf").read_bytes()[:4] == b"%PDF"
