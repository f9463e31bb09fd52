"""Validation failures inside the container code, and how values are quoted in its messages.

The checks shared by the reader and the writer raise :class:`ProblemError` without knowing where
the problem lies; the reader re-raises it as :class:`~hepsqueeze.errors.ContainerError` naming the
file, the section and the byte offset, the writer naming the section being written.
"""

from __future__ import annotations

from hepsqueeze.container.constants import LABEL_CHARS

__all__ = ["ProblemError", "VersionProblemError", "short"]


class ProblemError(Exception):
    """A validation failure, re-raised as :class:`~hepsqueeze.errors.ContainerError` with the file and
    location (never seen outside the container package)."""


class VersionProblemError(ProblemError):
    """Something only a newer format version allows (re-raised as
    :class:`~hepsqueeze.errors.ContainerVersionError`)."""


def short(value: object) -> str:
    """``repr(value)``, cut to at most :data:`~hepsqueeze.container.constants.LABEL_CHARS` characters."""
    text = repr(value)
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 3] + "..."
