"""Shared plot style and output: mplhep's CMS look scaled for report pages, PNG and PDF per figure.

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot), so plotting needs no
display, changes no global backend and leaves no figures open.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

from hepsqueeze.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.transforms import Bbox

log = logging.getLogger(__name__)

PNG_DPI: Final = 110
# Input (original) and output (reconstructed) colours, used the same way on every plot.
COLOR_IN: Final = "#1f4e9c"
COLOR_OUT: Final = "#e8731a"
CYCLE: Final = ("#1f4e9c", "#e8731a", "#2a9d4a", "#c0392b", "#7d4fb0", "#8c564b", "#e377c2", "#7f7f7f")

# Units and axis labels of the usual variables (matched case-insensitively): on the whole name, else on
# a ROOT branch's suffix (``Jet_pt``: ``pt``), else on its last part (``Jet_width_phi``: ``phi``).
# Counts, eta, fractions and shapes have no unit. This is the one place units are decided.
UNITS: Final = {
    "e": "GeV",
    "pt": "GeV",
    "m": "GeV",
    "mass": "GeV",
    "lead_pt": "GeV",
    "met": "GeV",
    "sumet": "GeV",
    "mjj": "GeV",
    "ht": "GeV",
    "phi": "rad",
    "metphi": "rad",
}
LABELS: Final = {
    "e": "$E$",
    "pt": "$p_T$",
    "m": "$m$",
    "mass": "$m$",
    "eta": r"$\eta$",
    "phi": r"$\phi$",
    "met": r"$E_T^{miss}$",
    "metphi": r"$\phi(E_T^{miss})$",
    "sumet": r"$\Sigma E_T$",
    "mjj": "$m_{jj}$",
    "ht": "$H_T$",
}
#: Branch suffixes (after the collection prefix: ``Jet_pt`` -> ``pt``) that name a known variable, and
#: the variable they are; the residual conventions (relative for pt and mass) follow it.
SUFFIX_VARIABLES: Final = {
    "e": "E",
    "pt": "pt",
    "m": "m",
    "mass": "m",
    "eta": "eta",
    "phi": "phi",
    "lead_pt": "lead_pt",
}

# The sample label stamped on every figure saved inside ``hep_style(label=...)``.
_LABEL: contextvars.ContextVar[str] = contextvars.ContextVar("hepsqueeze_plot_label", default="")


def _split(name: str) -> tuple[str, str]:
    """``Jet_pt`` -> ``("Jet", "pt")``; a name without a collection prefix -> ``("", name)``."""
    prefix, sep, rest = name.partition("_")
    return (prefix, rest) if sep and prefix and rest else ("", name)


def branch_variable(name: str) -> str:
    """The variable a column or ROOT branch holds: ``Jet_pt`` -> ``pt``, ``Jet_mass`` -> ``m``,
    ``MET_phi`` -> ``phi``; a variable name (``E``, ``pt``) or an unknown name is returned as is."""
    if name.lower() in LABELS or name.lower() in SUFFIX_VARIABLES:
        return name
    prefix, rest = _split(name)
    return SUFFIX_VARIABLES.get(rest.lower(), name) if prefix else name


@dataclass(frozen=True)
class SavedPlot:
    """One figure written to a report directory: ``files`` are names relative to it, PNG first;
    ``wide``: a multi-panel figure shown at the page's full width."""

    key: str
    caption: str
    files: tuple[str, ...]
    wide: bool = False

    @property
    def png(self) -> str:
        return self.files[0]


def require_matplotlib() -> None:
    """Raise :class:`ConfigError` with the install command when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError("plots need matplotlib and mplhep: pip install matplotlib mplhep") from None


def _rc() -> dict[str, Any]:
    rc: dict[str, Any] = {}
    try:
        import mplhep

        style = mplhep.style.CMS
        for part in style if isinstance(style, list) else [style]:
            if isinstance(part, dict):
                rc.update(part)
    except ImportError:  # plain matplotlib still works
        log.debug("mplhep not installed; using plain matplotlib style")
    rc.update(
        {
            "font.size": 13,
            "axes.labelsize": 14,
            "axes.titlesize": 13,
            "legend.fontsize": 11,
            "xtick.labelsize": 12,
            "ytick.labelsize": 12,
            "figure.figsize": (7.0, 5.5),
            "lines.linewidth": 1.6,
            "savefig.bbox": "tight",
            "axes.unicode_minus": False,
            "legend.frameon": False,
        }
    )
    return rc


@contextlib.contextmanager
def hep_style(label: str = "") -> Iterator[None]:
    """Apply the report style (mplhep CMS, smaller fonts) inside the block; ``label`` (the sample,
    e.g. ``ttbar, Pythia 8, √s = 13 TeV``) is written above every figure saved inside it."""
    require_matplotlib()
    import matplotlib

    token = _LABEL.set(label)
    try:
        with matplotlib.rc_context(cast(Any, _rc())):
            yield
    finally:
        _LABEL.reset(token)


def new_figure(figsize: tuple[float, float] | None = None) -> Figure:
    """A pyplot-free :class:`matplotlib.figure.Figure` (call inside :func:`hep_style`)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize) if figsize else Figure()


#: Padding (inches) around the drawn content of a saved figure, as matplotlib's tight bbox pads.
_PAD: Final = 0.1
#: Height (inches) reserved above the content for the sample label.
_LABEL_HEIGHT: Final = 0.28


def _layout(fig: Figure, label: str) -> Bbox:
    """The region to save: the drawn content (computed once for both formats) and, above it at
    its left edge, the sample ``label``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.transforms import Bbox

    FigureCanvasAgg(fig)
    box = fig.get_tightbbox()
    if box is None:
        box = Bbox.from_bounds(0, 0, fig.get_figwidth(), fig.get_figheight())
    top = box.y1
    if label:
        height, width = fig.get_figheight(), fig.get_figwidth()
        fig.text(
            box.x0 / width,
            (box.y1 + 0.04) / height,
            label,
            ha="left",
            va="bottom",
            fontsize=11,
            style="italic",
            color="0.25",
        )
        top += _LABEL_HEIGHT
    return Bbox.from_extents(box.x0 - _PAD, box.y0 - _PAD, box.x1 + _PAD, top + _PAD)


def save_figure(
    fig: Figure, directory: str | os.PathLike[str], key: str, caption: str, *, wide: bool = False
) -> SavedPlot:
    """Write ``fig`` as ``directory/key.png`` and ``.pdf`` (with the sample label of :func:`hep_style`
    above it); return what was written."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    region = _layout(fig, _LABEL.get())
    files = []
    for ext in ("png", "pdf"):
        name = f"{key}.{ext}"
        fig.savefig(out / name, dpi=PNG_DPI if ext == "png" else None, bbox_inches=region)
        files.append(name)
    return SavedPlot(key, caption, tuple(files), wide)


def unit_of(variable: str) -> str:
    """The unit (``GeV``, ``rad``) of a variable or branch, or ``""`` (eta, counts, fractions)."""
    low = variable.lower()
    if low in UNITS:
        return UNITS[low]
    prefix, rest = _split(low)
    if not prefix:
        return ""
    return UNITS.get(rest, UNITS.get(rest.rsplit("_", 1)[-1], ""))


def symbol(variable: str) -> str:
    """The math symbol of a variable (``$p_T$``), of a branch with its collection (``Jet $p_T$``),
    or the name itself."""
    low = variable.lower()
    if low in LABELS:
        return LABELS[low]
    prefix, rest = _split(variable)
    if prefix and rest.lower() in LABELS:
        return f"{prefix} {LABELS[rest.lower()]}"
    return variable


def axis_label(variable: str, prefix: str = "", suffix: str = "") -> str:
    """``$p_T$ [GeV]``-style label of a variable or branch (``Jet $p_T$ [GeV]``), with optional text
    around the symbol; no brackets for a quantity without a unit."""
    text = f"{prefix}{symbol(variable)}{suffix}"
    unit = unit_of(variable)
    return f"{text} [{unit}]" if unit else text


def percent_text(fraction: float | None) -> str:
    """``fraction`` as a percentage with two decimals (``"1.25%"``), ``"n/a"`` for None."""
    return "n/a" if fraction is None else f"{100 * fraction:.2f}%"


def corner_label(ax: Axes, text: str) -> None:
    """Small experiment-style label in the upper left, above the axes."""
    ax.text(0.0, 1.01, text, transform=ax.transAxes, ha="left", va="bottom", fontsize=11, style="italic")


def log_axis(ax: Axes, which: str = "x") -> None:
    """Log scale with plain-number ticks at 1, 2 and 5 times powers of ten (20, 50, 100 GeV ...)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis: Any
    if which == "x":
        ax.set_xscale("log")
        axis = ax.xaxis
    else:
        ax.set_yscale("log")
        axis = ax.yaxis
    axis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())
