"""``compress``, ``decompress`` and ``info``: the commands that write and read compressed files.

The only module of the command line that calls the codecs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from hepsqueeze.cli.errors import OptionError, UsageError, option_hint
from hepsqueeze.cli.options import (
    ForceOpt,
    FormatOpt,
    JsonOpt,
    OutOpt,
    ReaderOptions,
    columns_option,
    load_model_option,
    model_option,
    path_argument,
    split_list,
    with_reader_options,
)
from hepsqueeze.cli.render import console, print_compressed, print_json, print_sections
from hepsqueeze.errors import ConfigError

if TYPE_CHECKING:
    from hepsqueeze.codecs.base import Codec
    from hepsqueeze.file.report import CompressionReport

T = TypeVar("T")

_LATENT_DTYPE_DEFAULT = "float32"  # the autoencoder codec's, shown in the help
_EXACT_WHY_BOUNDED = (  # which values each codec stores exactly, for compress's output
    "NaN/inf, <= 0 under a relative bound, off their phi branch or out of the codec's range; "
    "'(jets)': in the float32 coding, 'name (dtype)': missing the bound in the column's own dtype"
)
_EXACT_WHY_AUTOENCODER = "NaN/inf/denormal/outside the training range"


@dataclass(frozen=True)
class _AutoencoderOptions:
    """The options of ``compress --model`` only (None / False: not given)."""

    latent_dtype: str | None = None
    no_embed_model: bool = False
    strict: bool = False

    def given_flags(self) -> list[str]:
        given = {
            "--latent-dtype": self.latent_dtype is not None,
            "--no-embed-model": self.no_embed_model,
            "--strict": self.strict,
        }
        return [flag for flag, on in given.items() if on]

    def codec_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`hepsqueeze.api.codec_for` (None: the codec's default)."""
        return {
            "latent_dtype": self.latent_dtype,
            "embed_model": not self.no_embed_model,
            "strict": self.strict,
        }


@with_reader_options
def compress(
    input_file: Annotated[Path, path_argument("Table to compress.", metavar="INPUT")],
    output: OutOpt,
    model: Annotated[Path | None, model_option("Model file, or zoo:NAME for a shipped model.")] = None,
    max_error: Annotated[
        str | None,
        typer.Option(
            "--max-error",
            help="Error-bounded jet codec instead of a model: every value within e.g. "
            "E=1e-3r,pt=1e-3r,eta=1e-3,phi=1e-3 (r = relative), or one number for all four.",
        ),
    ] = None,
    abs_floor: Annotated[
        str | None,
        typer.Option(
            "--abs-floor",
            help="With --max-error: absolute floor (GeV) of the relative bounds, e.g. 0.01 or "
            "E=0.01,pt=0.01; values with |x| <= floor (zeros too) decode as 0.",
        ),
    ] = None,
    columns: Annotated[str | None, columns_option("Columns to compress (default: the model's).")] = None,
    latent_dtype: Annotated[
        str | None,
        typer.Option(
            # the default is the codec's (None: not given); typer would show it as "(float32)"
            help=rf"float32 or float16. \[default: {_LATENT_DTYPE_DEFAULT}]",
            show_default=False,
        ),
    ] = None,
    no_embed_model: Annotated[
        bool, typer.Option("--no-embed-model", help="Store only the model's name and hash.")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Reject NaN/inf/out-of-range values instead of storing them exactly."),
    ] = False,
    stream: Annotated[
        bool,
        typer.Option("--stream", help="Parquet input: read and compress chunk by chunk in bounded memory."),
    ] = False,
    force: ForceOpt = False,
    *,
    reader: ReaderOptions,
) -> None:
    """Compress a table into one container file."""
    from hepsqueeze.atomic import check_output
    from hepsqueeze.io import input_size_bytes

    autoencoder = _AutoencoderOptions(latent_dtype, no_embed_model, strict)
    _check_codec_options(model, max_error, abs_floor, autoencoder)
    if stream:
        _check_stream_input(reader)
    codec = _bounded_codec(max_error, abs_floor) if max_error is not None else None
    cols = split_list(columns, "--columns")
    check_output(output, force)
    in_bytes = input_size_bytes(input_file)
    info = {"path": input_file.name, "size_bytes": in_bytes}
    if codec is None and model is not None:  # exactly one of --model / --max-error: checked above
        codec = _autoencoder_codec(model, autoencoder)
    if codec is None:
        raise UsageError("give either --model (autoencoder) or --max-error (error-bounded codec)")
    rep = _compress(input_file, output, codec, cols, reader, stream, force, info)
    why = _EXACT_WHY_BOUNDED if max_error is not None else _EXACT_WHY_AUTOENCODER
    print_compressed(rep, output, in_bytes, max_error, why)


def _check_codec_options(
    model: Path | None, max_error: str | None, abs_floor: str | None, autoencoder: _AutoencoderOptions
) -> None:
    """Exactly one codec (``--model`` or ``--max-error``), and only the options of that codec."""
    if (model is None) == (max_error is None):
        raise UsageError("give either --model (autoencoder) or --max-error (error-bounded codec)")
    if abs_floor is not None and max_error is None:
        raise UsageError("--abs-floor applies to --max-error only")
    given = autoencoder.given_flags()
    if max_error is not None and given:
        raise UsageError(f"{_listed(given, 'applies', 'apply')} to --model only, not to --max-error")


def _check_stream_input(reader: ReaderOptions) -> None:
    """``compress --stream`` reads Parquet: the options of the other readers do not apply."""
    given = reader.given_flags()
    if given:
        raise UsageError(f"{_listed(given, 'does', 'do')} not apply to --stream, which reads Parquet")
    if reader.format is not None:
        from hepsqueeze.io.registry import get_format

        with option_hint("--format"):
            name = get_format(reader.format).name
        if name != "parquet":
            raise UsageError(f"--stream reads Parquet only, not {name}: drop --stream or --format")


def _listed(flags: list[str], singular: str, plural: str) -> str:
    """``--a applies`` or ``--a and --b apply``."""
    return f"{' and '.join(flags)} {singular if len(flags) == 1 else plural}"


def _bounded_codec(max_error: str, abs_floor: str | None) -> Codec:
    """The error-bounded codec of ``--max-error`` and ``--abs-floor`` (errors name the option)."""
    from hepsqueeze.api import codec_for
    from hepsqueeze.codecs.bounded.spec import parse_max_error

    with option_hint("--max-error"):
        bounds = parse_max_error(max_error)
    if abs_floor is not None:
        with option_hint("--abs-floor"):
            bounds = parse_max_error(bounds, abs_floor)
    return codec_for(max_error=bounds)


def _autoencoder_codec(model: Path, options: _AutoencoderOptions) -> Codec:
    """The autoencoder codec of ``--model`` and its options (torch is imported here only)."""
    from hepsqueeze.api import codec_for

    return codec_for(model=load_model_option(model), **options.codec_kwargs())


def _compress(
    input_file: Path,
    output: Path,
    codec: Codec,
    columns: list[str] | None,
    reader: ReaderOptions,
    stream: bool,
    force: bool,
    info: dict[str, Any],
) -> CompressionReport:
    from hepsqueeze.file.writer import compress_dataset, compress_parquet

    if stream:
        return compress_parquet(input_file, codec, output, columns, force=force, input_info=info)
    from hepsqueeze.io import read_dataset

    dataset = read_dataset(input_file, columns=columns, **reader.read_kwargs())
    return compress_dataset(dataset, codec, output, columns, force=force, input_info=info)


def _check_stream_output(output: Path, fmt: str | None) -> None:
    """``decompress --stream`` writes Parquet: refuse an output named or ``--format``-ed otherwise.

    Judged by the name and option only (not by sniffing an existing file that --force replaces).
    """
    from hepsqueeze.io.registry import get_format

    what: str | None
    if fmt is not None:
        with option_hint("--format"):
            what = get_format(fmt).name
    else:
        try:
            what = get_format(output.suffix).name if output.suffix else None
        except ConfigError:
            what = None
    if what != "parquet":
        kind = f"is {what}" if what is not None else "has no Parquet extension"
        raise ConfigError(
            f"decompress --stream writes Parquet only, but {str(output)!r} {kind}: "
            "give an output ending in .parquet (or --format parquet), or drop --stream"
        )


def decompress(
    input_file: Annotated[Path, path_argument("Compressed file.", metavar="FILE")],
    output: OutOpt,
    model: Annotated[Path | None, model_option("Model, for files written with --no-embed-model.")] = None,
    stream: Annotated[
        bool,
        typer.Option("--stream", help="Write Parquet chunk by chunk in bounded memory (main table only)."),
    ] = False,
    force: ForceOpt = False,
    fmt: FormatOpt = None,
    tree: Annotated[
        str | None, typer.Option("--tree", help="ROOT output: tree name (default: the original's).")
    ] = None,
) -> None:
    """Decompress a container into a table with the input's columns, order and dtypes."""
    from hepsqueeze.atomic import check_output
    from hepsqueeze.file.reader import decompress_dataset
    from hepsqueeze.io import write_dataset

    check_output(output, force)
    if stream:
        _check_stream_output(output, fmt)
        if tree is not None:
            raise UsageError("--tree names the tree of a ROOT output; --stream writes Parquet")
    decoder = load_model_option(model) if model is not None else None  # torch only where a network is given
    if stream:
        from hepsqueeze.file.reader import decompress_to_parquet

        rows = _with_model_hint(lambda: decompress_to_parquet(input_file, output, decoder, force=force))
        console.print(f"wrote {rows} rows to {output} chunk by chunk")
        return
    dataset = _with_model_hint(lambda: decompress_dataset(input_file, decoder))
    path = write_dataset(dataset, output, format=fmt, force=force, tree=tree)
    table = dataset.table
    console.print(f"wrote {table.num_rows} rows, columns {', '.join(table.names)}, to {path}")


def _with_model_hint(read: Callable[[], T]) -> T:
    """``read()``, a missing or mismatched model's error naming ``--model``."""
    from hepsqueeze.errors import ModelError

    try:
        return read()
    except ModelError as exc:
        raise OptionError(str(exc), "--model") from exc


def info(
    input_file: Annotated[Path, path_argument("Compressed file.", metavar="FILE")],
    as_json: JsonOpt = False,
) -> None:
    """Print a compressed file's header and the size of each section."""
    from hepsqueeze.file.reader import file_info

    data = file_info(input_file)
    if as_json:
        print_json(data)
        return
    print_json(data["header"])
    title = f"{input_file}: {data['file_bytes']} bytes, ratio {data['ratio']:.2f}"
    print_sections(title, data["section_bytes"], data["file_bytes"])
