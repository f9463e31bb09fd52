"""Registry of the physics processes the generator knows: name -> Pythia 8 settings + description.

To add a process, add one :class:`Process` to ``_REGISTRY``. Settings strings may name
:class:`~hepsqueeze.datasets.config.GeneratorConfig` fields in braces (``{pthat_min}``); they are
filled in from the configuration, so only the settings a process actually uses enter its cache key.
"""

from __future__ import annotations

import string
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Process:
    """One hard process: its Pythia 8 settings (beams and output control are added by the worker)."""

    name: str
    description: str
    settings: tuple[str, ...]

    def pythia_settings(self, fields: Mapping[str, Any]) -> tuple[str, ...]:
        """The settings with ``{field}`` placeholders filled from ``fields`` (configuration values)."""
        return tuple(s.format_map(fields) for s in self.settings)

    @property
    def parameters(self) -> tuple[str, ...]:
        """Configuration fields the settings use (``pthat_min``, ``mass``), sorted."""
        found = {
            name for setting in self.settings for _, name, _, _ in string.Formatter().parse(setting) if name
        }
        return tuple(sorted(found))


_REGISTRY: dict[str, Process] = {
    p.name: p
    for p in (
        Process(
            name="ttbar",
            description="top-quark pair production (gg -> ttbar, qqbar -> ttbar), all decays",
            settings=("Top:gg2ttbar = on", "Top:qqbar2ttbar = on"),
        ),
        Process(
            name="ttbar_boosted",
            description="top-quark pairs as ttbar, with hard-process pT > pthat_min (boosted tops for top tagging)",
            settings=("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "PhaseSpace:pTHatMin = {pthat_min}"),
        ),
        Process(
            name="qcd",
            description="QCD 2 -> 2 dijets (HardQCD:all) with hard-process pT > pthat_min",
            settings=("HardQCD:all = on", "PhaseSpace:pTHatMin = {pthat_min}"),
        ),
        Process(
            name="wjets",
            description="W + jet (qqbar -> W g, q g -> W q) with hard-process pT > pthat_min, all W decays",
            settings=(
                "WeakBosonAndParton:qqbar2Wg = on",
                "WeakBosonAndParton:qg2Wq = on",
                "PhaseSpace:pTHatMin = {pthat_min}",
            ),
        ),
        Process(
            name="zjets",
            description=(
                "Z/gamma* + jet (qqbar -> Z g, q g -> Z q) with hard-process pT > pthat_min, "
                "Z/gamma* mass > 50 GeV, all decays"
            ),
            settings=(
                "WeakBosonAndParton:qqbar2gmZg = on",
                "WeakBosonAndParton:qg2gmZq = on",
                "PhaseSpace:pTHatMin = {pthat_min}",
                # Without a mass cut the soft gamma* pole dominates the cross section.
                "23:mMin = 50.0",
            ),
        ),
        Process(
            name="singletop",
            description="single top, t-channel (q q' -> t q'') and s-channel (q qbar' -> t bbar), all decays",
            settings=("Top:qq2tq(t:W) = on", "Top:ffbar2tqbar(s:W) = on"),
        ),
        Process(
            name="diboson",
            description="WW, WZ and ZZ pairs (WeakDoubleBoson:all, Z only, no gamma*), all decays",
            settings=("WeakDoubleBoson:all = on", "WeakZ0:gmZmode = 2"),
        ),
        Process(
            name="zprime",
            description="Z' (SSM couplings, no gamma*/Z interference) of mass `mass` -> q qbar (d u s c b)",
            settings=(
                "NewGaugeBoson:ffbar2gmZZprime = on",
                "Zprime:gmZmode = 3",
                "32:m0 = {mass}",
                "32:onMode = off",
                "32:onIfAny = 1 2 3 4 5",
            ),
        ),
        Process(
            name="excitedq",
            description="excited quarks d*, u* of mass `mass` (Lambda = mass) from q g, decaying to q g",
            settings=(
                "ExcitedFermion:dg2dStar = on",
                "ExcitedFermion:ug2uStar = on",
                "ExcitedFermion:Lambda = {mass}",
                "4000001:m0 = {mass}",
                "4000002:m0 = {mass}",
                "4000001:onMode = off",
                "4000001:onIfAny = 21",
                "4000002:onMode = off",
                "4000002:onIfAny = 21",
            ),
        ),
    )
}

#: Known processes by name (read-only; extend ``_REGISTRY`` in this module).
PROCESSES: Mapping[str, Process] = types.MappingProxyType(_REGISTRY)


def describe_processes() -> list[tuple[str, str]]:
    """``(name, description)`` for every known process, sorted by name."""
    return [(name, PROCESSES[name].description) for name in sorted(PROCESSES)]


def list_processes() -> list[dict[str, Any]]:
    """One record per process, sorted by name, for ``generate --list``.

    Keys: ``name``, ``description``, ``settings`` (Pythia strings with ``{field}`` placeholders) and
    ``parameters`` (the configuration fields they use, e.g. ``["pthat_min"]``).
    """
    return [
        {
            "name": name,
            "description": PROCESSES[name].description,
            "settings": list(PROCESSES[name].settings),
            "parameters": list(PROCESSES[name].parameters),
        }
        for name in sorted(PROCESSES)
    ]
