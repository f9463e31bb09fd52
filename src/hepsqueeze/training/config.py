"""Training settings."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Final

from hepsqueeze.errors import ConfigError
from hepsqueeze.preprocessing.normalisation import SCHEMES


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained.

    The split is a seeded permutation of the rows: ``val_fraction`` and ``test_fraction`` of them are
    held out, the rest train. Adam with decoupled weight decay (AdamW, betas as in the prior work) and a
    one-cycle schedule peaking at ``lr`` after 30% of the epochs; after that warm-up, training stops early
    when ``patience`` epochs pass without beating the best validation loss seen since the warm-up ended.
    The weights with the best validation loss of the whole run are kept.

    ``loss_weights``: one weight per variable on its squared error in normalised space (None: plain
    MSE). The min-max normalisation scales each variable by its training range, so widening one
    variable's range (a harder pt spectrum) shifts the loss, and the error a small latent cannot
    avoid, onto it; weights restore the balance. The validation loss is then the weighted loss.

    ``ddp``: train on this many local processes with torch DistributedDataParallel, each taking
    1/``ddp`` of every batch (``batch_size`` stays the global batch, so the training is the same;
    see :mod:`hepsqueeze.training.distributed`). Under torchrun the world comes from torchrun.

    ``precision``: ``float32``, or ``bfloat16`` for the training steps' forward pass under
    ``torch.autocast`` (weights, optimiser, loss, validation and the saved model stay float32).
    On this project's CPU it makes a step of ae27d-20 1.7x faster at batch 1024
    (docs/results/ae27d-recipe/step_speed.md); what it costs in accuracy is in docs/results.md.
    """

    epochs: int = 100
    batch_size: int = 512
    lr: float = 3e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.99)
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 0
    patience: int = 20
    normalisation: str = "custom+minmax"
    device: str = "auto"
    max_seconds: float | None = None
    ddp: int = 1
    loss_weights: tuple[float, ...] | None = None
    precision: str = "float32"

    def __post_init__(self) -> None:
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ConfigError(f"epochs must be a positive integer, got {self.epochs!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 2:
            raise ConfigError(f"batch_size must be an integer >= 2, got {self.batch_size!r}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive, got {self.lr!r}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if not (0 < self.val_fraction < 1 and 0 <= self.test_fraction < 1):
            raise ConfigError("val_fraction must be in (0, 1) and test_fraction in [0, 1)")
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ConfigError("val_fraction + test_fraction must leave at least 10% of the rows for training")
        if self.patience < 1:
            raise ConfigError(f"patience must be >= 1, got {self.patience!r}")
        if self.normalisation not in SCHEMES:
            raise ConfigError(
                f"unknown normalisation {self.normalisation!r}; choose one of {', '.join(SCHEMES)}"
            )
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"device must be auto, cpu or cuda[:N], got {self.device!r}")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ConfigError("max_seconds must be positive")
        if not isinstance(self.ddp, int) or self.ddp < 1:
            raise ConfigError(f"ddp must be a positive number of processes, got {self.ddp!r}")
        object.__setattr__(self, "loss_weights", _positive_weights(self.loss_weights))
        _check_precision(self.precision)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["betas"] = list(self.betas)
        if self.loss_weights is None:
            del d["loss_weights"]  # records of unweighted runs stay as they were
        else:
            d["loss_weights"] = list(self.loss_weights)
        if self.precision == "float32":
            del d["precision"]  # records of float32 runs stay as they were
        return d


#: Precisions of the training steps' forward pass.
PRECISIONS: Final = ("float32", "bfloat16")


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")


def _positive_weights(weights: tuple[float, ...] | None) -> tuple[float, ...] | None:
    if weights is None:
        return None
    out = tuple(float(w) for w in weights)
    if not out or not all(math.isfinite(w) and w > 0 for w in out):
        raise ConfigError(f"loss_weights must be positive numbers, got {weights!r}")
    return out
