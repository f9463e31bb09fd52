"""Kept for ``hepsqueeze.studies._output`` until it imports :mod:`hepsqueeze.evaluation.strict_json`."""

from hepsqueeze.evaluation.strict_json import json_safe

__all__ = ["json_safe"]
