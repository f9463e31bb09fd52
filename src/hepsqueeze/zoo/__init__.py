"""Pre-trained models shipped inside the package, each with a model card.

A model is named ``zoo:NAME`` wherever a model file is accepted (``--model zoo:ae4d-3``). Its card
(``models/NAME.json``) records the training data, seed, epochs, the metrics on its own test split and
the tolerance band a fresh sample must meet (:func:`validate`). The conditional models of the
error-bounded codec (``zoo:bounded-jets27d``) live in ``conditional_models/``
(:mod:`hepsqueeze.zoo.conditional`).

Names are imported lazily: reading a file coded with a shipped conditional model imports no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hepsqueeze.lazy import lazy_dir, lazy_getattr

if TYPE_CHECKING:
    from hepsqueeze.zoo.registry import (
        ZOO_PREFIX,
        ModelCard,
        ValidationResult,
        card,
        is_zoo_name,
        list_models,
        load,
        model_path,
        resolve_model,
        validate,
    )

__all__ = [
    "ZOO_PREFIX",
    "ModelCard",
    "ValidationResult",
    "card",
    "is_zoo_name",
    "list_models",
    "load",
    "model_path",
    "resolve_model",
    "validate",
]

#: every public name lives in the registry
_LOCATIONS = dict.fromkeys(__all__, "hepsqueeze.zoo.registry")

__getattr__ = lazy_getattr(__name__, _LOCATIONS)
__dir__ = lazy_dir(globals(), _LOCATIONS)
