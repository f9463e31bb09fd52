"""Reconstruction metrics, written as JSON."""

from hepsqueeze.evaluation.metrics import mse, residual_kind, residual_summary, residuals

__all__ = ["mse", "residual_kind", "residual_summary", "residuals"]
