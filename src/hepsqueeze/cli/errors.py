"""The command line's own errors: an option's value refused (with the flag hint) and a usage error.

The library's messages never name command-line flags; where the CLI knows which option a refused
value came from, it adds the flag, ``... (--max-error)``, by raising :class:`OptionError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hepsqueeze.errors import ConfigError, HepsqueezeError


class OptionError(ConfigError):
    """A value of one option that was refused: the message, then the option, ``... (--max-error)``."""

    def __init__(self, message: str, option: str) -> None:
        super().__init__(f"{message} ({option})")
        self.option = option


class UsageError(ConfigError):
    """Options that do not go together, or one missing: exit status 2, as typer's usage errors."""


@contextmanager
def option_hint(option: str) -> Iterator[None]:
    """Re-raise a hepsqueeze error raised inside as an :class:`OptionError` naming ``option``.

    Wrap only code whose errors all come from that option's value (parsing it, resolving it).
    """
    try:
        yield
    except OptionError:
        raise
    except HepsqueezeError as exc:
        raise OptionError(str(exc), option) from exc
