"""Conditional models of the error-bounded codec shipped with hepsqueeze (``zoo:bounded-jets27d``).

Each is a model file (``conditional_models/NAME.hsqb``) and its card (``NAME.json``: the file, its
sha256, what it was trained on and how, and the figures measured with it). A file coded with a
shipped model need not hold it: the reader finds it here by name and checks its sha256.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

from hepsqueeze.errors import ConfigError, ModelError, nearest_names
from hepsqueeze.models.conditional.model import ConditionalModel, load_conditional_model

ZOO_PREFIX: Final = "zoo:"


@dataclass(frozen=True)
class ConditionalCard:
    """A shipped conditional model's card."""

    name: str
    file: str
    sha256: str
    description: str
    training: dict[str, Any]

    @classmethod
    def from_dict(cls, raw: Any) -> ConditionalCard:
        try:
            return cls(
                str(raw["name"]),
                str(raw["file"]),
                str(raw["sha256"]),
                str(raw["description"]),
                dict(raw["training"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"invalid conditional model card: {exc}") from None


def models_directory() -> Path:
    """The folder of the shipped conditional models and their cards."""
    return Path(str(resources.files("hepsqueeze.zoo").joinpath("conditional_models")))


def conditional_cards() -> list[ConditionalCard]:
    """Every shipped conditional model's card, sorted by name."""
    cards = [
        ConditionalCard.from_dict(json.loads(p.read_text()))
        for p in sorted(models_directory().glob("*.json"))
    ]
    return sorted(cards, key=lambda c: c.name)


def is_conditional_name(name: str) -> bool:
    """Whether ``zoo:NAME`` names a shipped conditional model."""
    return name.startswith(ZOO_PREFIX) and name.removeprefix(ZOO_PREFIX) in {
        c.name for c in conditional_cards()
    }


def load_bounded(name: str) -> ConditionalModel:
    """The shipped conditional model ``name`` (with or without ``zoo:``), checked against its card."""
    bare = name.removeprefix(ZOO_PREFIX)
    cards = {c.name: c for c in conditional_cards()}
    if bare not in cards:
        near = nearest_names(bare, cards)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise ConfigError(
            f"no conditional model {bare!r} in the zoo (shipped: {', '.join(cards) or 'none'}){hint}"
        )
    c = cards[bare]
    model = load_conditional_model(models_directory() / c.file)
    if model.hash != c.sha256:
        raise ModelError(
            f"zoo model {c.name!r} does not match its card (sha256); the installation is damaged"
        )
    return dataclasses.replace(model, name=ZOO_PREFIX + c.name)


__all__ = ["ConditionalCard", "conditional_cards", "is_conditional_name", "load_bounded", "models_directory"]
