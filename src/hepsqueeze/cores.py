"""The CPU cores this process may use (its affinity on Linux, else the machine's count)."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The cores this process may run on: ``sched_getaffinity`` where the platform has it (a batch
    job or container may hold fewer than the machine), else ``os.cpu_count()``; at least 1."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
