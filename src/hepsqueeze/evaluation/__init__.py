"""Reconstruction metrics, written as JSON."""

from hepsqueeze.metrics.residuals import mse, residual_kind, residual_summary, residuals

__all__ = ["mse", "residual_kind", "residual_summary", "residuals"]
