"""Samples from Pythia 8 + FastJet: pp collisions as 4D jets, 27-variable jets, DarkMachines events
or NanoAOD-style ROOT events.

Generation needs the optional ``generate`` extra (pythia8mc, fastjet); they are imported only when
events are actually generated, so cached samples load without them.
"""

from .config import (
    GENERATOR_CODE_VERSION,
    JET_COLUMNS,
    JETS27D_COLUMNS,
    KINDS,
    NANOAOD_CODE_VERSION,
    GeneratorConfig,
    table_columns,
)
from .generate import (
    cache_path,
    default_cache_dir,
    events_text,
    generate,
    generate_dataset,
    generate_events,
    generate_mixture,
    generate_nanoaod,
)
from .nanoaod import NANOAOD_BRANCHES
from .processes import PROCESSES, Process, describe_processes, list_processes

__all__ = [
    "GENERATOR_CODE_VERSION",
    "JETS27D_COLUMNS",
    "JET_COLUMNS",
    "KINDS",
    "NANOAOD_BRANCHES",
    "NANOAOD_CODE_VERSION",
    "PROCESSES",
    "GeneratorConfig",
    "Process",
    "cache_path",
    "default_cache_dir",
    "describe_processes",
    "events_text",
    "generate",
    "generate_dataset",
    "generate_events",
    "generate_mixture",
    "generate_nanoaod",
    "list_processes",
    "table_columns",
]
