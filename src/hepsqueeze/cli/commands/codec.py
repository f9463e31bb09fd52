"""``compress``, ``decompress`` and ``info``: the commands that write and read compressed files.

The only module of the command line that calls the codecs.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from hepsqueeze.cli.errors import OptionError, UsageError, option_hint
from hepsqueeze.cli.options import (
    FormatOpt,
    ReaderOptions,
    columns_option,
    load_decoder_option,
    load_model_option,
    load_precision_options,
    local_path,
    model_option,
    source_argument,
    split_list,
    with_reader_options,
)
from hepsqueeze.cli.render import console, print_compressed, print_file_summary, print_json, print_unbound
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

#: ``-o``/``--output`` of the commands that write one file (a local path: URLs are refused)
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", help="Output file (one input).", readable=False, parser=local_path, metavar="PATH"
    ),
]


def _out_dir_option(help: str) -> Any:
    """``--out-dir DIR`` (a local path: URLs are refused)."""
    return typer.Option("--out-dir", help=help, readable=False, parser=local_path, metavar="DIR")


WorkersOpt = Annotated[
    int | None,
    typer.Option("--workers", help="--out-dir: local worker processes (default: all cores).", metavar="N"),
]


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
    inputs: Annotated[
        list[str],
        source_argument(
            "Table to compress: a file, or a URL (https://, root:// with fsspec-xrootd, s3:// with "
            "s3fs), fetched first; with --out-dir, any number of local files, directories (searched "
            "for files of a supported format) and globs.",
            metavar="INPUT",
        ),
    ],
    output: OutputOpt = None,
    model: Annotated[
        Path | None,
        model_option(
            "Autoencoder model file or zoo:NAME; with --max-error, a conditional model of the "
            "error-bounded codec (train --codec bounded, or zoo:bounded-jets27d)."
        ),
    ] = None,
    max_error: Annotated[
        str | None,
        typer.Option(
            "--max-error",
            metavar="BOUNDS",
            help="Error-bounded codec instead of a model, every column by name: comma-separated "
            "PATTERN=BOUND terms (PATTERN a column or glob such as *_pt or Jet_*, the first match "
            "wins; BOUND 1e-3 absolute in the column's unit, 1e-3r relative, 12b the bound of "
            "rounding to 12 mantissa bits, or lossless), e.g. *_pt=1e-3r,*_mass=1e-3r,*_eta=1e-3,*_phi=1e-3. "
            "One number applies to every float column: relative on columns named like energies, "
            "momenta and masses (E, pt, m, mass, MET, sumEt, lead_pt, *_E, *_pt, *_m, *_mass, *_sumEt), "
            "absolute on the others. Integer and boolean columns are always exact; with terms, a "
            "float column no term names is stored losslessly and listed. Angles: phi, *_phi, METphi "
            "(or declared in a precision file) stay on the input's branch.",
        ),
    ] = None,
    precision: Annotated[
        str | None,
        typer.Option(
            "--precision",
            metavar="FILE|NAME",
            help="Precision file (TOML, the same terms) or a shipped preset: nanoaod (the CMS NanoAOD "
            "precisions). --max-error terms come first.",
        ),
    ] = None,
    require_bounds: Annotated[
        bool,
        typer.Option(
            "--require-bounds",
            help="Refuse float columns that no term names (instead of storing them losslessly).",
        ),
    ] = False,
    abs_floor: Annotated[
        str | None,
        typer.Option(
            "--abs-floor",
            metavar="FLOORS",
            help="With --max-error: absolute floor (in the column's unit) of the relative bounds, e.g. 0.01 "
            "or *_pt=0.01,*_mass=0.01; values with |x| <= floor (zeros too) decode as 0.",
        ),
    ] = None,
    columns: Annotated[str | None, columns_option("Columns to compress (default: the model's).")] = None,
    latent_dtype: Annotated[
        str | None,
        typer.Option(
            # the default is the codec's (None: not given); typer would show it as "(float32)"
            help=rf"float32 or float16. \[default: {_LATENT_DTYPE_DEFAULT}]",
            show_default=False,
            metavar="DTYPE",
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
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Overwrite an existing output file; also write under a name another format owns "
            "(x.root, x.parquet, ...), which is refused otherwise.",
        ),
    ] = False,
    out_dir: Annotated[
        Path | None,
        _out_dir_option(
            "Compress every INPUT into DIR, keeping their relative layout (x/y.parquet -> "
            "DIR/x/y.hsqz), on Dask; outputs that exist and decode are skipped."
        ),
    ] = None,
    workers: WorkersOpt = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="--out-dir: a dask.distributed scheduler (tcp://host:port, or local).",
            metavar="ADDRESS",
        ),
    ] = None,
    *,
    reader: ReaderOptions,
) -> None:
    """Compress a table into one container file (or many, with --out-dir)."""
    from hepsqueeze.atomic import check_output
    from hepsqueeze.io import input_size_bytes
    from hepsqueeze.io.registry import COMPRESSED_SUFFIX, check_output_name
    from hepsqueeze.io.remote import check_remote, is_url, local_input, source_name

    autoencoder = _AutoencoderOptions(latent_dtype, no_embed_model, strict)
    bounded = max_error is not None or precision is not None
    _check_codec_options(model, bounded, abs_floor, require_bounds, autoencoder)
    if out_dir is not None:
        _compress_many(
            _local_inputs(inputs), out_dir, output, workers, scheduler, stream, reader,
            _many_options(max_error, precision, abs_floor, require_bounds, model, autoencoder, columns),
        )  # fmt: skip
        return
    if workers is not None or scheduler is not None:
        raise UsageError("--workers and --scheduler apply to --out-dir")
    if output is None or len(inputs) != 1:
        raise UsageError("give one INPUT and -o OUTPUT, or --out-dir DIR for several")
    source = inputs[0]
    if stream:
        _check_stream_input(reader)
    codec = _bounded_codec(max_error, precision, abs_floor, require_bounds) if bounded else None
    if codec is not None and model is not None:  # a learned conditional model inside the bounded codec
        codec = _with_conditional_model(codec, model, not no_embed_model)
    cols = split_list(columns, "--columns")
    check_output(output, force)
    check_output_name(output, COMPRESSED_SUFFIX, force=force)
    if is_url(source):
        check_remote(source)  # scheme and package, before anything is fetched
    with local_input(source) as input_file:  # a URL: fetched into a temporary file first
        in_bytes = input_size_bytes(input_file)
        info = {"path": source_name(source), "size_bytes": in_bytes}
        if codec is None and model is not None:  # exactly one of --model / --max-error: checked above
            codec = _autoencoder_codec(model, autoencoder)
        if codec is None:
            raise UsageError("give either --model (autoencoder) or --max-error (error-bounded codec)")
        rep = _compress(input_file, output, codec, cols, reader, stream, force, info)
    why = _EXACT_WHY_BOUNDED if bounded else _EXACT_WHY_AUTOENCODER
    print_compressed(rep, output, in_bytes, max_error or precision, why)
    if bounded:
        print_unbound(output)


def _many_options(
    max_error: str | None,
    precision: str | None,
    abs_floor: str | None,
    require_bounds: bool,
    model: Path | None,
    autoencoder: _AutoencoderOptions,
    columns: str | None,
) -> dict[str, Any]:
    """The options of :func:`hepsqueeze.compress` for every file of ``--out-dir`` (plain values:
    they travel to the workers)."""
    options: dict[str, Any] = {}
    if max_error is not None or precision is not None:
        options["max_error"] = load_precision_options(
            max_error, precision, abs_floor=abs_floor, require_bounds=require_bounds
        )
    if model is not None:
        options["model"] = str(model)
        if autoencoder.no_embed_model:
            options["embed_model"] = False
    if autoencoder.latent_dtype is not None:
        options["latent_dtype"] = autoencoder.latent_dtype
    if autoencoder.strict:
        options["strict"] = True
    cols = split_list(columns, "--columns")
    if cols:
        options["columns"] = cols
    return options


def _compress_many(
    inputs: list[Path],
    out_dir: Path,
    output: Path | None,
    workers: int | None,
    scheduler: str | None,
    stream: bool,
    reader: ReaderOptions,
    options: dict[str, Any],
) -> None:
    """``compress INPUT... --out-dir DIR``: every file on Dask, one progress bar, a summary; exit
    status 1 naming the failures."""
    from hepsqueeze.batch import compress_many, expand_inputs

    if output is not None:
        raise UsageError("-o names one output: with --out-dir, the outputs are named after the inputs")
    given = reader.given_flags() + (["--stream"] if stream else []) + (["--format"] if reader.format else [])
    if given:
        raise UsageError(f"{_listed(given, 'does', 'do')} not apply to --out-dir")
    with option_hint("INPUT"):
        total = len(expand_inputs(inputs))

    def run(report: Callable[[Any], None]) -> list[Any]:
        return compress_many(
            inputs, out_dir, workers=workers, scheduler=scheduler, progress=report, **options
        )

    _run_many("compressing", total, workers, run)


def _run_many(
    what: str, total: int, workers: int | None, run: Callable[[Callable[[Any], None]], list[Any]]
) -> None:
    """One progress bar across the files, the summary, and an error naming the failures."""
    from hepsqueeze.cli.render import print_many, progress
    from hepsqueeze.errors import InputError

    if workers is not None and workers < 1:
        raise UsageError("--workers must be at least 1")
    start = time.perf_counter()
    with progress() as bar:
        task = bar.add_task(what, total=total, info="")
        done = {"n": 0, "bytes": 0}

        def report(rec: Any) -> None:
            done["n"] += 1
            done["bytes"] += rec.input_bytes
            rate = done["bytes"] / 1e6 / max(time.perf_counter() - start, 1e-9)
            bar.update(task, completed=done["n"], info=f"{rate:.1f} MB/s")

        with option_hint("--scheduler"):
            records = run(report)
    print_many(records, time.perf_counter() - start)
    failed = [r for r in records if r.status.value == "failed"]
    if failed:
        names = ", ".join(r.input for r in failed[:5]) + (", ..." if len(failed) > 5 else "")
        raise InputError(f"{len(failed)} of {len(records)} inputs failed (nothing written for them): {names}")


def _check_codec_options(
    model: Path | None,
    bounded: bool,
    abs_floor: str | None,
    require_bounds: bool,
    autoencoder: _AutoencoderOptions,
) -> None:
    """Exactly one codec (``--model`` or ``--max-error``/``--precision``), and only its options."""
    if model is None and not bounded:
        raise UsageError("give either --model (autoencoder) or --max-error (error-bounded codec)")
    for flag, value in (("--abs-floor", abs_floor is not None), ("--require-bounds", require_bounds)):
        if value and not bounded:
            raise UsageError(f"{flag} applies to --max-error only")
    given = autoencoder.given_flags()
    if bounded and model is not None:  # --no-embed-model applies to a conditional model too
        given = [g for g in given if g != "--no-embed-model"]
    if bounded and given:
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


def _bounded_codec(
    max_error: str | None, precision: str | None, abs_floor: str | None, require_bounds: bool
) -> Codec:
    """The error-bounded codec of ``--max-error``, ``--precision``, ``--abs-floor`` and
    ``--require-bounds`` (errors name the option)."""
    from hepsqueeze.api import codec_for

    parsed = load_precision_options(max_error, precision, abs_floor=abs_floor, require_bounds=require_bounds)
    return codec_for(max_error=parsed)


def _with_conditional_model(codec: Codec, model: Path, embed: bool) -> Codec:
    """The error-bounded codec with the conditional model of ``--model`` (a model file of
    ``train --codec bounded`` or zoo:NAME)."""
    from hepsqueeze.api import conditional_model
    from hepsqueeze.codecs.bounded.table_codec import BoundedCodec

    if not isinstance(codec, BoundedCodec):  # pragma: no cover - the CLI's --max-error gives BoundedCodec
        raise UsageError("--model with --max-error needs the codec of every column")
    from hepsqueeze.models.conditional.model import is_conditional_model

    if model.exists() and not is_conditional_model(model):
        raise UsageError(
            f"--model {model.name} is not a conditional model: with --max-error give one made by "
            "`hepsqueeze train --codec bounded`, or zoo:bounded-jets27d"
        )
    with option_hint("--model"):
        found = conditional_model(str(model))
    return dataclasses.replace(codec, model=found, embed_model=embed)


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
    inputs: Annotated[
        list[str],
        source_argument(
            "Compressed file, or its URL (as for compress); with --out-dir, any number of local "
            ".hsqz files, directories and globs.",
            metavar="FILE",
        ),
    ],
    output: OutputOpt = None,
    model: Annotated[Path | None, model_option("Model, for files written with --no-embed-model.")] = None,
    stream: Annotated[
        bool,
        typer.Option("--stream", help="Write Parquet chunk by chunk in bounded memory (main table only)."),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing output file.")] = False,
    fmt: FormatOpt = None,
    tree: Annotated[
        str | None,
        typer.Option("--tree", help="ROOT output: tree name (default: the original's).", metavar="NAME"),
    ] = None,
    out_dir: Annotated[
        Path | None,
        _out_dir_option(
            "Decompress every FILE into DIR, keeping their relative layout, on Dask; outputs that "
            "exist are skipped."
        ),
    ] = None,
    suffix: Annotated[
        str,
        typer.Option(
            "--suffix", help="--out-dir: the outputs' extension, which gives their format.", metavar=".EXT"
        ),
    ] = ".parquet",
    workers: WorkersOpt = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler", help="--out-dir: a dask.distributed scheduler address.", metavar="ADDRESS"
        ),
    ] = None,
) -> None:
    """Decompress a container into a table with the input's columns, order and dtypes (or many, with --out-dir)."""
    from hepsqueeze.atomic import check_output
    from hepsqueeze.file.reader import decompress_dataset
    from hepsqueeze.io import write_dataset
    from hepsqueeze.io.remote import local_input

    if out_dir is not None:
        given = [
            f for f, on in (("-o", output), ("--stream", stream), ("--format", fmt), ("--tree", tree)) if on
        ]
        if given:
            raise UsageError(f"{_listed(given, 'does', 'do')} not apply to --out-dir")
        from hepsqueeze.batch import decompress_many, expand_inputs
        from hepsqueeze.io.registry import COMPRESSED_SUFFIX

        files = _local_inputs(inputs)
        total = len(expand_inputs(files, (COMPRESSED_SUFFIX,)))

        def run(report: Callable[[Any], None]) -> list[Any]:
            return decompress_many(
                files, out_dir, suffix=suffix, workers=workers, scheduler=scheduler, progress=report,
                model=None if model is None else str(model),
            )  # fmt: skip

        _run_many("decompressing", total, workers, run)
        return
    if workers is not None or scheduler is not None:
        raise UsageError("--workers and --scheduler apply to --out-dir")
    if output is None or len(inputs) != 1:
        raise UsageError("give one FILE and -o OUTPUT, or --out-dir DIR for several")
    check_output(output, force)
    if stream:
        _check_stream_output(output, fmt)
        if tree is not None:
            raise UsageError("--tree names the tree of a ROOT output; --stream writes Parquet")
    decoder = load_decoder_option(model) if model is not None else None  # torch only where a network is given
    with local_input(inputs[0]) as input_file:  # a URL: fetched into a temporary file first
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
    input_file: Annotated[
        str, source_argument("Compressed file, or its URL (as for compress).", metavar="FILE")
    ],
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print everything as JSON: the whole header, bytes per section kind, ratio."
        ),
    ] = False,
) -> None:
    """Summarise a compressed file: codec, bounds, rows, ratio, bytes per section and column, model.

    --json prints everything as JSON instead, the whole header included.
    """
    from hepsqueeze.file.reader import file_info, file_summary
    from hepsqueeze.io.remote import local_input

    with local_input(input_file) as local:  # a URL: fetched into a temporary file first
        if as_json:
            print_json({**file_info(local), "path": input_file})
            return
        summary = file_summary(local)
    print_file_summary(dataclasses.replace(summary, path=input_file))


def _local_inputs(inputs: list[str]) -> list[Path]:
    """The inputs of ``--out-dir`` as Paths: local files, directories and globs only."""
    from hepsqueeze.io.remote import is_url

    remote = [i for i in inputs if is_url(i)]
    if remote:
        raise UsageError(
            f"remote paths are not supported with --out-dir ({remote[0]!r}); give local files, or "
            "compress a URL on its own with -o"
        )
    return [Path(i) for i in inputs]
