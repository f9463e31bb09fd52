"""Pre-trained models shipped inside the package, each with a model card.

A model is named ``zoo:NAME`` wherever a model file is accepted (``--model zoo:ae4d-3``). Its card
(``models/NAME.json``) records the training data, seed, epochs, the metrics on its own test split and
the tolerance band a fresh sample must meet (:func:`validate`).
"""

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
