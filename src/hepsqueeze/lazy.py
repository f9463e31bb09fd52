"""Lazy package attributes: a package names where each public name lives, and the module is
imported on first use (so that importing one light submodule does not import torch)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, locations: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package`` that imports ``locations[name]`` on demand."""

    def attribute(name: str) -> Any:
        module = locations.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return attribute


def lazy_dir(namespace: Mapping[str, Any], locations: Mapping[str, str]) -> Callable[[], list[str]]:
    """A module-level ``__dir__``: the package's public names (its ``__all__`` and the lazy ones)
    and dunder attributes, so that ``dir(package)`` and tab completion list the public names
    before any is imported, and not the package's own helpers."""

    def names() -> list[str]:
        dunders = {n for n in namespace if n.startswith("__") and n.endswith("__")}
        return sorted({*dunders, *namespace.get("__all__", ()), *locations})

    return names
