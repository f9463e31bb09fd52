"""Registry of the physics processes the generator knows: name -> Pythia 8 settings + description.

To add a process, add one :class:`Process` to ``_REGISTRY``. Settings strings may name
:class:`~hepsqueeze.datasets.config.GeneratorConfig` fields in braces (``{pthat_min}``); they are
filled in from the configuration, so only the settings a process actually uses enter its cache key.
"""

from __future__ import annotations

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


_REGISTRY: dict[str, Process] = {
    p.name: p
    for p in (
        Process(
            name="ttbar",
            description="top-quark pair production (gg -> ttbar, qqbar -> ttbar), all decays",
            settings=("Top:gg2ttbar = on", "Top:qqbar2ttbar = on"),
        ),
        Process(
            name="qcd",
            description="QCD 2 -> 2 dijets (HardQCD:all) with hard-process pT > pthat_min",
            settings=("HardQCD:all = on", "PhaseSpace:pTHatMin = {pthat_min}"),
        ),
    )
}

#: Known processes by name (read-only; extend ``_REGISTRY`` in this module).
PROCESSES: Mapping[str, Process] = types.MappingProxyType(_REGISTRY)


def describe_processes() -> list[tuple[str, str]]:
    """``(name, description)`` for every known process, sorted by name (for ``generate --list``)."""
    return [(name, PROCESSES[name].description) for name in sorted(PROCESSES)]
