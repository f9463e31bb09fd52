"""A single self-contained HTML page (inline CSS, no scripts, no external resources) for a report directory.

Figures are linked by their relative file names, so the page works wherever the directory is copied.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from hepsqueeze.atomic import atomic_open
from hepsqueeze.plotting.style import SavedPlot

CSS: Final = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1250px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: .2em;
margin-top: 2em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .88em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th { background: #f2f4f8; } td:first-child, th:first-child { text-align: left; }
.figs { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; width: 400px; } figure.wide { width: 100%; } figure img { width: 100%; border: 1px solid #eee; }
figcaption { font-size: .82em; color: #444; }
.note { color: #8a5a00; background: #fff6e0; padding: .3em .6em; border-left: 3px solid #e0a000; }
code { background: #f4f4f4; padding: 0 .2em; }
"""


@dataclass
class Section:
    """One headed part of the page: paragraphs/notes, tables (pre-rendered) and figures."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    figures: list[SavedPlot] = field(default_factory=list)


def fmt(value: object, digits: int = 4) -> str:
    """A table cell: floats to ``digits`` significant digits, None/NaN as a dash."""
    if value is None:
        return "\u2013"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "\u2013"
        return f"{value:.{digits}g}"
    return str(value)


def table_html(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An HTML table; cells are escaped and formatted with :func:`fmt`."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure_html(plot: SavedPlot) -> str:
    links = " · ".join(
        f'<a href="{html.escape(f)}">{html.escape(Path(f).suffix[1:].upper())}</a>' for f in plot.files
    )
    wide = ' class="wide"' if plot.wide else ""
    return (
        f'<figure id="{html.escape(plot.key)}"{wide}>'
        f'<a href="{html.escape(plot.png)}">'
        f'<img src="{html.escape(plot.png)}" alt="{html.escape(plot.caption)}" loading="lazy"></a>'
        f"<figcaption>{html.escape(plot.caption)} ({links})</figcaption></figure>"
    )


def page_html(title: str, sections: Sequence[Section], subtitle: str = "") -> str:
    """The whole page as a string."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if subtitle:
        parts.append(f"<p>{html.escape(subtitle)}</p>")
    toc = " · ".join(f'<a href="#s{k}">{html.escape(s.title)}</a>' for k, s in enumerate(sections))
    parts.append(f"<p>{toc}</p>")
    for k, s in enumerate(sections):
        parts.append(f'<h2 id="s{k}">{html.escape(s.title)}</h2>')
        parts.extend(f"<p>{html.escape(p)}</p>" for p in s.paragraphs)
        parts.extend(f'<p class="note">{html.escape(n)}</p>' for n in s.notes)
        parts.extend(s.tables)
        if s.figures:
            parts.append('<div class="figs">' + "".join(_figure_html(f) for f in s.figures) + "</div>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_page(
    path: str | os.PathLike[str], title: str, sections: Sequence[Section], subtitle: str = ""
) -> Path:
    """Write the page atomically to ``path`` (replacing an existing one)."""
    with atomic_open(path, force=True) as fh:
        fh.write(page_html(title, sections, subtitle).encode("utf-8"))
    return Path(path)
