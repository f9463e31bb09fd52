"""Shared plot style and output: mplhep's CMS look scaled for report pages, PNG and PDF per figure.

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot), so plotting needs no
display, changes no global backend and leaves no figures open.
"""

from __future__ import annotations

import contextlib
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

log = logging.getLogger(__name__)

PNG_DPI: Final = 110
# Input (original) and output (reconstructed) colours, used the same way on every plot.
COLOR_IN: Final = "#1f4e9c"
COLOR_OUT: Final = "#e8731a"
CYCLE: Final = ("#1f4e9c", "#e8731a", "#2a9d4a", "#c0392b", "#7d4fb0", "#8c564b", "#e377c2", "#7f7f7f")

# Units and axis labels of the usual jet variables (matched case-insensitively).
UNITS: Final = {"e": "GeV", "pt": "GeV", "m": "GeV", "met": "GeV", "mjj": "GeV", "ht": "GeV", "phi": "rad"}
LABELS: Final = {
    "e": "$E$",
    "pt": "$p_T$",
    "m": "$m$",
    "eta": r"$\eta$",
    "phi": r"$\phi$",
    "met": r"$E_T^{miss}$",
    "mjj": "$m_{jj}$",
    "ht": "$H_T$",
}


@dataclass(frozen=True)
class SavedPlot:
    """One figure written to a report directory: ``files`` are names relative to it, PNG first."""

    key: str
    caption: str
    files: tuple[str, ...]

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
def hep_style() -> Iterator[None]:
    """Apply the report style (mplhep CMS, smaller fonts) inside the block."""
    require_matplotlib()
    import matplotlib

    with matplotlib.rc_context(cast(Any, _rc())):
        yield


def new_figure(figsize: tuple[float, float] | None = None) -> Figure:
    """A pyplot-free :class:`matplotlib.figure.Figure` (call inside :func:`hep_style`)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize) if figsize else Figure()


def save_figure(fig: Figure, directory: str | os.PathLike[str], key: str, caption: str) -> SavedPlot:
    """Write ``fig`` as ``directory/key.png`` and ``.pdf``; return what was written."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for ext in ("png", "pdf"):
        name = f"{key}.{ext}"
        fig.savefig(out / name, dpi=PNG_DPI if ext == "png" else None)
        files.append(name)
    return SavedPlot(key, caption, tuple(files))


def axis_label(variable: str, prefix: str = "", suffix: str = "") -> str:
    """``$p_T$ [GeV]``-style label of a variable, with optional text around the symbol."""
    name = LABELS.get(variable.lower(), variable)
    unit = UNITS.get(variable.lower())
    text = f"{prefix}{name}{suffix}"
    return f"{text} [{unit}]" if unit else text


def unit_of(variable: str) -> str:
    """The variable's unit (``GeV``, ``rad``) or ``""``."""
    return UNITS.get(variable.lower(), "")


def symbol(variable: str) -> str:
    """The variable's math symbol, or its name."""
    return LABELS.get(variable.lower(), variable)


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
