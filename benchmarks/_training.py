"""Shared by the training benchmarks (run as scripts: this folder is on sys.path)."""

from __future__ import annotations

import logging
import platform
from typing import Any

import torch

from hepsqueeze.training import EpochReport


def log_epoch(r: EpochReport) -> None:
    """Progress callback: log the first epoch and every tenth."""
    if r.epoch % 10 == 0 or r.epoch == 1:
        logging.info(
            "epoch %d train %.3g val %.3g best %.3g lr %.2g %.0fs",
            r.epoch,
            r.train_loss,
            r.val_loss,
            r.best_val_loss,
            r.lr,
            r.seconds,
        )


def machine() -> dict[str, Any]:
    """Threads, platform, processor and torch version, for the result JSON."""
    return {
        "cpu_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "processor": platform.processor(),
        "torch": torch.__version__,
    }
