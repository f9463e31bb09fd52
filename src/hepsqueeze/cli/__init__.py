"""The ``hepsqueeze`` command line: a thin layer over the Python API with rich output.

:mod:`~hepsqueeze.cli.application` holds the typer app and registers the commands of
:mod:`~hepsqueeze.cli.commands`; :mod:`~hepsqueeze.cli.options` the options several commands share and
the parsing of option values; :mod:`~hepsqueeze.cli.render` what is printed. :func:`main` is the entry
point: it turns every failure into one line on stderr.
"""

from __future__ import annotations

import logging
import sys

from rich.markup import escape as rich_escape

from hepsqueeze.cli.application import GROUPS, app
from hepsqueeze.cli.errors import UsageError
from hepsqueeze.cli.render import err_console, print_error
from hepsqueeze.errors import HepsqueezeError, OutputExistsError

__all__ = ["REPORT_HINT", "app", "main"]

REPORT_HINT = "please report this to the hepsqueeze developers with the command you ran and its -vv output"

log = logging.getLogger("hepsqueeze.cli")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; every failure becomes one line on stderr and exit status 1.

    Usage errors (unknown options, missing arguments) are reported by typer with status 2; options
    that do not go together are one line with status 2. Errors hepsqueeze raises on purpose and OS
    errors (missing, unreadable or unwritable files) print their message; MemoryError and any other
    unexpected exception print one line too (the traceback is logged at debug level: ``-vv`` shows
    it). SIGTERM and SIGHUP remove the temporary files of outputs being written before the process
    dies of the signal.
    """
    from hepsqueeze.atomic import install_signal_cleanup, restore_signal_handlers

    args = list(sys.argv[1:] if argv is None else argv)
    previous = install_signal_cleanup()
    try:
        app(args=args, prog_name="hepsqueeze")
    except SystemExit as exc:  # typer's standalone mode ends every run with one
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except Exception as exc:
        print_error(_failure_message(exc, _command_name(args)))
        return 2 if isinstance(exc, UsageError) else 1
    finally:
        restore_signal_handlers(previous)
    return 0


def flag_hint(exc: HepsqueezeError) -> str:
    """`` (--flag)`` for an error whose ``option`` names the keyword argument that would fix it,
    unless the message names the flag already."""
    if not exc.option:
        return ""
    flag = exc.option if exc.option.startswith("--") else "--" + exc.option.replace("_", "-")
    return "" if flag in str(exc) else f" ({flag})"


def _failure_message(exc: Exception, command: str) -> str:
    """The one line (rich markup) for a command that failed with ``exc``."""
    if isinstance(exc, OutputExistsError):
        text = str(exc)
        hint = " (add --force to overwrite it)" if "was not asked for" in text else ""
        return rich_escape(text) + hint
    if isinstance(exc, HepsqueezeError) and exc.option == "force":  # e.g. a container named x.root
        return rich_escape(str(exc)) + " (add --force to write it anyway)"
    if isinstance(exc, HepsqueezeError):
        # the library names the keyword argument that would fix it; the command line, its flag
        return rich_escape(str(exc) + flag_hint(exc))
    if isinstance(exc, MemoryError):
        log.debug("out of memory", exc_info=exc)
        return (
            f"out of memory while running {rich_escape(command)}; the input may claim more data "
            "than it holds, or be too large for this machine (Parquet input: try --stream)"
        )
    if isinstance(exc, OSError):
        log.debug("OS error", exc_info=exc)
        return rich_escape(_os_error_message(exc))
    log.debug("internal error", exc_info=exc)
    text = str(exc).splitlines()[0] if str(exc) else ""
    return rich_escape(f"internal error in {command}: {type(exc).__name__}: {text}") + f" ({REPORT_HINT})"


def _command_name(argv: list[str]) -> str:
    """The (sub)command words of ``argv``, for messages: e.g. ``compress`` or ``zoo validate``."""
    words = [a for a in argv if not a.startswith("-")]
    return " ".join(words[:2]) if words and words[0] in GROUPS else (words[0] if words else "hepsqueeze")


def _os_error_message(exc: OSError) -> str:
    """One line for an OSError: 'PATH: reason' instead of Python's '[Errno 13] ...' form."""
    if exc.strerror and exc.filename is not None:
        where = f"{exc.filename!s}" + (f" -> {exc.filename2!s}" if exc.filename2 is not None else "")
        return f"{where}: {exc.strerror}"
    return str(exc) or type(exc).__name__
