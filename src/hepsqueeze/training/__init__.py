"""Training of compression models."""

from hepsqueeze.training.config import TrainConfig
from hepsqueeze.training.split import Split, split_rows
from hepsqueeze.training.trainer import EpochReport, train_model

__all__ = ["EpochReport", "Split", "TrainConfig", "split_rows", "train_model"]
