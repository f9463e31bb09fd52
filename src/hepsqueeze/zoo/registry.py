"""Zoo lookup, loading and validation against the model cards."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final

import numpy as np

from hepsqueeze.errors import ConfigError, ModelError, nearest_names
from hepsqueeze.models.io import load_model
from hepsqueeze.models.model import CompressionModel

ZOO_PREFIX: Final = "zoo:"
_PACKAGE: Final = "hepsqueeze.zoo"


@dataclass(frozen=True)
class ModelCard:
    """What a shipped model was trained on and what it must reproduce.

    ``test_metrics`` holds per-variable residual statistics on the model's own test split;
    ``validation`` the sample :func:`validate` generates and the relative ``tolerance`` on each
    residual std (0.2 = the fresh sample's std must lie within +-20% of the card's).
    """

    name: str
    file: str
    description: str
    variables: tuple[str, ...]
    columns: tuple[str, ...]
    training: Mapping[str, Any]
    test_metrics: Mapping[str, Mapping[str, float]]
    validation: Mapping[str, Any]
    tolerance: float
    decoder_hash: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCard:
        try:
            return cls(
                name=str(data["name"]),
                file=str(data["file"]),
                description=str(data["description"]),
                variables=tuple(data["variables"]),
                columns=tuple(data["columns"]),
                training=dict(data["training"]),
                test_metrics={k: dict(v) for k, v in data["test_metrics"].items()},
                validation=dict(data["validation"]),
                tolerance=float(data["tolerance"]),
                decoder_hash=str(data["decoder_hash"]),
                extra=dict(data.get("extra", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"invalid model card for {data.get('name', '?')!r}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "description": self.description,
            "variables": list(self.variables),
            "columns": list(self.columns),
            "training": dict(self.training),
            "test_metrics": {k: dict(v) for k, v in self.test_metrics.items()},
            "validation": dict(self.validation),
            "tolerance": self.tolerance,
            "decoder_hash": self.decoder_hash,
            "extra": dict(self.extra),
        }


def _models_dir() -> Path:
    return Path(str(resources.files(_PACKAGE).joinpath("models")))


def list_models() -> list[ModelCard]:
    """Every shipped model's card, sorted by name."""
    cards = [ModelCard.from_dict(json.loads(p.read_text())) for p in sorted(_models_dir().glob("*.json"))]
    return sorted(cards, key=lambda c: c.name)


def is_zoo_name(spec: str | os.PathLike[str]) -> bool:
    """True for ``zoo:NAME`` model references."""
    return isinstance(spec, str) and spec.startswith(ZOO_PREFIX)


def card(name: str) -> ModelCard:
    """The card of shipped model ``name`` (with or without the ``zoo:`` prefix)."""
    bare = name.removeprefix(ZOO_PREFIX)
    cards = {c.name: c for c in list_models()}
    if bare not in cards:
        near = nearest_names(bare, cards)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise ConfigError(f"no model {bare!r} in the zoo (shipped: {', '.join(cards) or 'none'}){hint}")
    return cards[bare]


def model_path(name: str) -> Path:
    """Path of the shipped model file of ``name``."""
    return _models_dir() / card(name).file


def load(name: str) -> CompressionModel:
    """Load shipped model ``name``; its decoder hash must match the card's."""
    c = card(name)
    model = load_model(model_path(name))
    from hepsqueeze.models.io import decoder_hash

    if decoder_hash(model) != c.decoder_hash:
        raise ModelError(
            f"zoo model {c.name!r} does not match its card (decoder hash); the installation is damaged"
        )
    model.name = ZOO_PREFIX + c.name
    return model


def resolve_model(spec: str | os.PathLike[str] | CompressionModel) -> CompressionModel:
    """A model from a :class:`CompressionModel`, a ``zoo:NAME`` reference or a model file path."""
    if isinstance(spec, CompressionModel):
        return spec
    if is_zoo_name(spec):
        return load(str(spec))
    return load_model(spec)


@dataclass(frozen=True)
class ValidationResult:
    """Outcome of :func:`validate`: per variable the card's std, the measured one and the band."""

    name: str
    rows: int
    sample: Mapping[str, Any]
    variables: Mapping[str, Mapping[str, Any]]

    @property
    def passed(self) -> bool:
        return all(v["ok"] for v in self.variables.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rows": self.rows,
            "sample": dict(self.sample),
            "passed": self.passed,
            "variables": {k: dict(v) for k, v in self.variables.items()},
        }


def validate(
    name: str,
    *,
    events_per_process: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    cache_dir: str | os.PathLike[str] | None = None,
) -> ValidationResult:
    """Generate a fresh sample as the card says, apply the shipped model, compare with the card.

    Each variable's residual std (relative for E/pt/m, absolute otherwise) must lie within
    ``card.tolerance`` (relative) of the card's test-split value.
    """
    from hepsqueeze.datasets import generate_mixture
    from hepsqueeze.metrics.residuals import residual_summary

    c = card(name)
    model = load(name)
    sample = dict(c.validation["sample"])
    if events_per_process is not None:
        sample["events_per_process"] = events_per_process
    if seed is not None:
        sample["seed"] = seed
    if sample["seed"] == c.training.get("data", {}).get("seed"):
        raise ConfigError(
            f"validation seed {sample['seed']} is the training seed: choose another (seed=...)", option="seed"
        )
    jets = generate_mixture(
        processes=tuple(sample["processes"]),
        events_per_process=int(sample["events_per_process"]),
        seed=int(sample["seed"]),
        workers=workers,
        cache_dir=cache_dir,
        **dict(sample.get("overrides", {})),
    )
    x = jets.stack(model.columns)
    measured = residual_summary(x, model.reconstruct(x), model.variables, model.integer_variables)
    out: dict[str, dict[str, Any]] = {}
    for var in model.variables:
        card_metrics = c.test_metrics[var]
        if "exact_match" in card_metrics and "exact_match" in measured[var]:
            card_rows = int(c.training.get("data", {}).get("rows", {}).get("test", 0))
            out[var] = _check_mismatch(card_metrics, measured[var], c.tolerance, card_rows)
            continue
        ref = float(card_metrics["std"])
        got = float(measured[var]["std"])
        lo, hi = ref * (1 - c.tolerance), ref * (1 + c.tolerance)
        out[var] = {
            "card_std": ref,
            "measured_std": got,
            "low": lo,
            "high": hi,
            "ok": bool(np.isfinite(got) and lo <= got <= hi),
            "kind": measured[var]["kind"],
            "measured_mean": measured[var]["mean"],
        }
    return ValidationResult(c.name, jets.num_rows, sample, out)


def _check_mismatch(
    card_metrics: Mapping[str, Any], measured: Mapping[str, Any], tolerance: float, card_rows: int
) -> dict[str, Any]:
    """An integer variable passes when its rate of wrongly rounded values stays below the card's.

    Mismatches are rare (a few in 10^4), so both rates are counts with Poisson errors: the card's
    rate is taken at its upper 3-sigma value (k + 3 sqrt(k) + 3 mismatches in ``card_rows``; the
    + 3 covers a card with none), times ``1 + tolerance``, plus three sigma of the new sample.
    """
    ref = 1.0 - float(card_metrics["exact_match"])
    got = 1.0 - float(measured["exact_match"])
    n = max(int(measured["n"]), 1)
    k = ref * max(card_rows, 1)
    ref_up = (k + 3.0 * float(np.sqrt(k)) + 3.0) / max(card_rows, 1)
    hi = ref_up * (1 + tolerance) + 3.0 * float(np.sqrt(ref_up / n))
    return {
        "card_std": 0.0,
        "measured_std": float(measured["std"]),
        "card_mismatch": ref,
        "measured_mismatch": got,
        "low": 0.0,
        "high": hi,
        "ok": bool(np.isfinite(got) and got <= hi),
        "kind": "integer",
        "measured_mean": measured["mean"],
    }
