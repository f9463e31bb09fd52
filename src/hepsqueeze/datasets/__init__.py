"""Jet samples from Pythia 8 + FastJet: pp collisions, anti-kt jets, one row per jet.

Generation needs the optional ``generate`` extra (pythia8mc, fastjet); they are imported only when
events are actually generated, so cached samples load without them.
"""

from .config import GENERATOR_CODE_VERSION, JET_COLUMNS, GeneratorConfig
from .generate import cache_path, default_cache_dir, generate, generate_mixture
from .processes import PROCESSES, Process, describe_processes

__all__ = [
    "GENERATOR_CODE_VERSION",
    "JET_COLUMNS",
    "PROCESSES",
    "GeneratorConfig",
    "Process",
    "cache_path",
    "default_cache_dir",
    "describe_processes",
    "generate",
    "generate_mixture",
]
