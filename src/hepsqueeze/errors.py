"""Exception types raised by hepsqueeze.

Every error subclasses :class:`HepsqueezeError` and one built-in type, so callers can catch either.
Messages say what was wrong, where (file, column, byte offset, line) and what to do about it; the CLI
prints them as a single line and exits non-zero.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class HepsqueezeError(Exception):
    """Base class of every error hepsqueeze raises on purpose.

    Besides its one-line message, an error carries where it happened as attributes (``None`` when
    unknown), as uproot's ``KeyInFileError`` does: ``path`` (the file), ``column``, ``section``
    (index of the container section), ``offset`` (byte offset in the file) and ``option`` (the
    keyword argument that would fix it, e.g. ``"tree"``: the command line names its flag). Callers
    branch on these, never on the message.
    """

    def __init__(
        self,
        message: str = "",
        *,
        path: str | None = None,
        column: str | None = None,
        section: int | None = None,
        offset: int | None = None,
        option: str | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.column = column
        self.section = section
        self.offset = offset
        self.option = option


class ConfigError(HepsqueezeError, ValueError):
    """An invalid setting: a configuration value out of range or of the wrong kind."""


class InputError(HepsqueezeError, ValueError):
    """Input data that cannot be used: unreadable file, wrong format, NaN/inf, empty table."""


class InputFileNotFoundError(InputError, FileNotFoundError):
    """An input file does not exist."""


class ColumnError(InputError):
    """A requested column does not exist, or columns do not match what a model expects."""


class KeyInFileError(ColumnError):
    """Columns (branches, collections) asked of a file that it does not hold, as uproot's
    ``KeyInFileError``: ``keys`` names every one of them, ``column`` the first, ``path`` the file."""

    def __init__(
        self,
        message: str = "",
        *,
        keys: Iterable[str] = (),
        path: str | None = None,
        option: str | None = None,
    ) -> None:
        found = tuple(keys)
        super().__init__(message, path=path, column=found[0] if found else None, option=option)
        self.keys = found


class ModelError(HepsqueezeError, ValueError):
    """A model file is invalid, or does not fit the data or container it is used with."""


class ContainerError(HepsqueezeError, ValueError):
    """A compressed container is corrupt, truncated or otherwise unreadable."""


class ContainerVersionError(ContainerError):
    """A container was written by a newer format version, or holds section kinds this version lacks."""


class VerificationError(HepsqueezeError, RuntimeError):
    """A file just written does not read back as what was written (a bug: nothing is published)."""


class OutputExistsError(HepsqueezeError, FileExistsError):
    """An output file exists and overwriting was not requested."""


class GeneratorError(HepsqueezeError, RuntimeError):
    """The event generator or jet clustering failed."""


def nearest_names(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` names from ``candidates`` closest to ``name`` (case-insensitive)."""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    return [lowered[c] for c in close]


def one_line(exc: BaseException) -> str:
    """``Type: message`` of a library's exception on one line (h5py, pyarrow, fsspec messages can
    span several; the CLI prints an error as one line)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def missing_column_message(name: str, available: Iterable[str], where: str) -> str:
    """Message for a column ``name`` missing from ``where`` (a file path or description)."""
    pool = list(available)
    near = nearest_names(name, pool)
    hint = f"; did you mean {', '.join(repr(c) for c in near)}?" if near else ""
    return f"column {name!r} not found in {where} (available: {', '.join(pool) or 'none'}){hint}"
