"""Options shared by several commands, defined once, and the parsing of option values.

Every Path-typed option and argument says ``readable=False``: typer's own checks answer with a usage
box and exit status 2, the commands check their paths themselves (one line, exit status 1). Path-typed
ones refuse a URL before pathlib folds its ``//`` (``root://host//x`` would become ``root:/host/x``);
the commands that read remote inputs take their paths as text (:func:`source_argument`).

Help: every option shows a metavar (``PATH``, ``N``, ``NAME=BOUND,...``), flags none; the commands
are registered with :class:`ReadableCommand`, which gives the options that name none a metavar
from their type.
"""

from __future__ import annotations

import functools
import inspect
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from hepsqueeze.cli.errors import OptionError, option_hint
from hepsqueeze.errors import OutputExistsError

if TYPE_CHECKING:
    from hepsqueeze.codecs.bounded.precision import Precision
    from hepsqueeze.models import CompressionModel

R = TypeVar("R")
N = TypeVar("N", int, float)

# --- single options ------------------------------------------------------------------------------------


def local_path(value: str) -> Path:
    """The parser of Path options and arguments: ``value`` as a Path; a URL is refused (a usage
    error naming the option) before pathlib folds it."""
    from hepsqueeze.io.remote import url_scheme

    scheme = url_scheme(value)
    if scheme is not None:
        raise typer.BadParameter(
            f"{value!r} is a {scheme}:// URL: this takes a local path (remote paths are not supported here)"
        )
    return Path(value)


OutOpt = Annotated[
    Path,
    typer.Option("--output", "-o", help="Output file.", readable=False, parser=local_path, metavar="PATH"),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite an existing output file.")]
FormatOpt = Annotated[
    str | None, typer.Option("--format", help="File format (default: from the extension).", metavar="NAME")
]
TreeOpt = Annotated[
    str | None,
    typer.Option("--tree", help="ROOT: the TTree to read (default: the only one).", metavar="NAME"),
]
BranchesOpt = Annotated[
    str | None,
    typer.Option("--branches", help="ROOT: only these branches (comma-separated).", metavar="NAME,..."),
]
NamesOpt = Annotated[
    str | None,
    typer.Option("--names", help=".npy/.npz arrays: column names (comma-separated).", metavar="NAME,..."),
]
PickleOpt = Annotated[
    bool,
    typer.Option(
        "--allow-pickle", help="Read pandas pickles. Loading a pickle runs code: trusted files only."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PresetOpt = Annotated[str, typer.Option(help="Model preset.", metavar="NAME")]
BatchSizeOpt = Annotated[int, typer.Option(help="Rows per step.", metavar="N")]
WorkersOpt = Annotated[int, typer.Option(help="Generator worker processes.", metavar="N")]


def model_option(help: str) -> Any:
    """``--model/-m`` (a model file or ``zoo:NAME``) with the command's help text."""
    return typer.Option("--model", "-m", help=help, readable=False, parser=local_path, metavar="MODEL")


def columns_option(help: str) -> Any:
    """``--columns`` (comma-separated) with the command's help text."""
    return typer.Option("--columns", help=help, metavar="NAME,...")


def path_argument(help: str, metavar: str | None = None) -> Any:
    """A Path argument the command checks itself (a local path: URLs are refused)."""
    return typer.Argument(metavar=metavar, help=help, readable=False, parser=local_path)


def source_argument(help: str, metavar: str) -> Any:
    """An argument of paths given as text, so that URLs keep their ``//`` (annotate it ``str``)."""
    return typer.Argument(metavar=metavar, help=help)


def path_option(flag: str, help: str, metavar: str = "PATH") -> Any:
    """A Path option (``--out``, ``--report``, ...) the command checks itself (local: URLs refused)."""
    return typer.Option(flag, help=help, readable=False, parser=local_path, metavar=metavar)


# --- help: a metavar for every option ----------------------------------------------------------------

_TYPE_METAVARS: dict[type, str] = {int: "N", float: "FLOAT", str: "TEXT", Path: "PATH"}
_CLICK_TYPE_METAVARS = {"integer": "N", "float": "FLOAT", "text": "TEXT", "path": "PATH"}


def readable_metavar(param: Any) -> None:
    """Give an option without a metavar one from its type (``N``, ``FLOAT``, ``TEXT``, ``PATH``);
    flags and counters get an empty one, so that help shows no value type after them."""
    if getattr(param, "param_type_name", None) != "option" or param.metavar is not None:
        return
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        param.metavar = ""
        return
    descriptor = getattr(param, "type_descriptor", None)  # typer >= 0.20; click's ParamType before
    annotation = getattr(descriptor, "annotation", None)
    found = _TYPE_METAVARS.get(annotation) if isinstance(annotation, type) else None
    if found is None:
        found = _CLICK_TYPE_METAVARS.get(str(getattr(getattr(param, "type", None), "name", "")))
    if found is not None:
        param.metavar = found


class ReadableCommand(typer.core.TyperCommand):
    """A command whose help shows a readable metavar for every option (see :func:`readable_metavar`),
    and whose line in its group's command list is its docstring's first paragraph as one text (rich
    markup keeps the docstring's line breaks, which leave ragged lines there)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.short_help is None and self.help:
            self.short_help = " ".join(inspect.cleandoc(self.help).split("\n\n")[0].split())

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)
        for param in params:
            readable_metavar(param)
        return params


class ReadableGroup(typer.core.TyperGroup):
    """A command group with :class:`ReadableCommand`'s help (its own options: ``--version``, the
    completion options typer adds, ``--help``)."""

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)
        for param in params:
            readable_metavar(param)
        return params


# --- the reader options: one block for every command that reads a table -------------------------------


@dataclass(frozen=True)
class ReaderOptions:
    """``--format``, ``--tree``, ``--branches``, ``--names`` and ``--allow-pickle`` (None: not given)."""

    format: str | None = None
    tree: str | None = None
    branches: list[str] | None = None
    names: list[str] | None = None
    allow_pickle: bool = False

    def read_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`hepsqueeze.io.read_table` and ``read_dataset``."""
        return {
            "format": self.format,
            "tree": self.tree,
            "branches": self.branches,
            "names": self.names,
            "allow_pickle": self.allow_pickle,
        }

    def given_flags(self) -> list[str]:
        """The flags given other than ``--format``, e.g. ``['--tree', '--allow-pickle']``."""
        given = {
            "--tree": self.tree is not None,
            "--branches": self.branches is not None,
            "--names": self.names is not None,
            "--allow-pickle": self.allow_pickle,
        }
        return [flag for flag, on in given.items() if on]


_KW = inspect.Parameter.KEYWORD_ONLY
_READER_PARAMETERS = (
    inspect.Parameter("fmt", _KW, annotation=FormatOpt, default=None),
    inspect.Parameter("tree", _KW, annotation=TreeOpt, default=None),
    inspect.Parameter("branches", _KW, annotation=BranchesOpt, default=None),
    inspect.Parameter("names", _KW, annotation=NamesOpt, default=None),
    inspect.Parameter("allow_pickle", _KW, annotation=PickleOpt, default=False),
)


def with_reader_options(command: Callable[..., R]) -> Callable[..., R]:
    """Give ``command`` the reader options in place of its ``*, reader: ReaderOptions`` parameter.

    typer sees ``--format``, ``--tree``, ``--branches``, ``--names`` and ``--allow-pickle`` where
    ``reader`` stands in the command's signature (so the help lists them there); the command gets one
    :class:`ReaderOptions`, the comma-separated lists split. typer passes every parameter by keyword:
    the signature it sees is keyword-only.
    """
    signature = inspect.signature(command, eval_str=True)
    order = list(signature.parameters)
    if "reader" not in order:
        raise TypeError(f"{command.__name__} has no 'reader' parameter")
    at = order.index("reader")
    own = [p.replace(kind=_KW) for p in signature.parameters.values()]
    parameters = [*own[:at], *_READER_PARAMETERS, *own[at + 1 :]]

    @functools.wraps(command)
    def wrapper(
        *,
        fmt: str | None,
        tree: str | None,
        branches: str | None,
        names: str | None,
        allow_pickle: bool,
        **kwargs: Any,
    ) -> R:
        reader = ReaderOptions(
            format=fmt,
            tree=tree,
            branches=split_list(branches, "--branches"),
            names=split_list(names, "--names"),
            allow_pickle=allow_pickle,
        )
        return command(reader=reader, **kwargs)

    wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters} | {
        "return": signature.return_annotation
    }
    return wrapper


# --- values ------------------------------------------------------------------------------------------


def split_list(value: str | None, option: str) -> list[str] | None:
    """A comma-separated option value as a list (None: not given); an empty list is refused."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise OptionError(f"expected a comma-separated list, got {value!r}", option)
    return items


def split_ints(value: str | None, option: str) -> list[int] | None:
    """A comma-separated list of integers, e.g. ``--nodes 4,200,20,3,20,200,4``."""
    return _numbers(value, option, int, "an integer")


def split_floats(value: str | None, option: str) -> list[float] | None:
    """A comma-separated list of numbers, e.g. ``--errors 1e-2,1e-3``."""
    return _numbers(value, option, float, "a number")


def _numbers(value: str | None, option: str, kind: Callable[[str], N], what: str) -> list[N] | None:
    items = split_list(value, option)
    return None if items is None else [_number(item, option, kind, what) for item in items]


def _number(item: str, option: str, kind: Callable[[str], N], what: str) -> N:
    try:
        return kind(item)
    except ValueError:
        raise OptionError(f"{item!r} is not {what}", option) from None


def load_model_option(model: str | Path) -> CompressionModel:
    """The model of a ``--model`` option: a model file or ``zoo:NAME`` (imports torch)."""
    from hepsqueeze.zoo import resolve_model

    with option_hint("--model"):
        return resolve_model(str(model))


def load_decoder_option(model: str | Path) -> Any:
    """The model of ``decompress --model``: a conditional model of the error-bounded codec (its
    file or zoo:NAME; no torch) or an autoencoder's."""
    from hepsqueeze.api import decoder_model

    with option_hint("--model"):
        return decoder_model(str(model))


def load_precision_options(
    max_error: str | None,
    precision: str | None,
    *,
    abs_floor: str | None = None,
    require_bounds: bool = False,
) -> Precision:
    """The precision of ``--max-error``, ``--precision`` (a file or preset, whose terms come after
    ``--max-error``'s), ``--abs-floor`` and ``--require-bounds``; errors name the option."""
    from hepsqueeze.codecs.bounded.precision import parse_precision

    with option_hint("--max-error"):
        spec = parse_precision(max_error) if max_error is not None else None
    with option_hint("--precision"):
        parsed = parse_precision(spec, precision_file=precision, require_bounds=require_bounds)
    if abs_floor is not None:
        with option_hint("--abs-floor"):
            parsed = parse_precision(parsed, abs_floor=abs_floor)
    return parsed


def check_output_dir(path: Path) -> Path:
    """Refuse, before any work, an output directory path that exists and is not a directory."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return path
    except NotADirectoryError:
        raise OutputExistsError(f"cannot create directory {str(path)!r}: a parent is a file") from None
    if not stat.S_ISDIR(st.st_mode):
        raise OutputExistsError(
            f"{str(path)!r} exists and is not a directory; give a directory for the output"
        )
    return path
