"""The ``hepsqueeze`` command line: a thin layer over the Python API with rich output."""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape as rich_escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table as RichTable

from hepsqueeze.errors import ConfigError, HepsqueezeError, OutputExistsError
from hepsqueeze.version import __version__

app = typer.Typer(
    name="hepsqueeze",
    help="Compress HEP data with deep autoencoders, and show how much was lost.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

OutOpt = Annotated[Path, typer.Option("--output", "-o", help="Output file.", readable=False)]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite an existing output file.")]
FormatOpt = Annotated[str | None, typer.Option("--format", help="File format (default: from the extension).")]
TreeOpt = Annotated[
    str | None, typer.Option("--tree", help="ROOT: the TTree to read (default: the only one).")
]
BranchesOpt = Annotated[
    str | None, typer.Option("--branches", help="ROOT: only these branches (comma-separated).")
]
NamesOpt = Annotated[
    str | None, typer.Option("--names", help=".npy/.npz arrays: column names (comma-separated).")
]
PickleOpt = Annotated[
    bool,
    typer.Option(
        "--allow-pickle", help="Read pandas pickles. Loading a pickle runs code: trusted files only."
    ),
]


def _read_options(
    tree: str | None, branches: str | None, names: str | None, allow_pickle: bool
) -> dict[str, Any]:
    """Reader options shared by every command that reads a table (None means not given)."""
    return {"tree": tree, "branches": _split(branches), "names": _split(names), "allow_pickle": allow_pickle}


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise ConfigError(f"expected a comma-separated list, got {value!r}")
    return items


def _check_output_dir(path: Path) -> Path:
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


def _task_reporter(bar: Progress) -> Callable[[str, Any], None]:
    """A progress callback for studies: one bar per trained model (label), epochs done, val loss."""
    tasks: dict[str, Any] = {}

    def report(label: str, r: Any) -> None:
        if label not in tasks:
            tasks[label] = bar.add_task(label, total=r.epochs, info="")
        bar.update(tasks[label], completed=r.epoch, info=f"val {r.val_loss:.3g}")

    return report


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )


@app.callback()
def _main(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-v, -vv).")
    ] = 0,
) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level, format="%(message)s", handlers=[RichHandler(console=err_console)], force=True
    )


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"hepsqueeze {__version__}")


@app.command()
def generate(
    process: Annotated[str, typer.Argument(help="Process to generate (see --list).")] = "ttbar",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Output file (.parquet, .h5, .npz, .csv).", readable=False),
    ] = None,
    events: Annotated[int, typer.Option(help="Number of events.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    kind: Annotated[
        str, typer.Option(help="jets (E, pt, eta, phi), jets27d (27 variables) or events (DarkMachines CSV).")
    ] = "jets",
    pthat_min: Annotated[
        float,
        typer.Option("--pthat-min", help="Minimum hard-process pT [GeV] (qcd, wjets, zjets, ttbar_boosted)."),
    ] = 50.0,
    mass: Annotated[float, typer.Option(help="Resonance mass [GeV] (zprime, excitedq).")] = 2000.0,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not read or write the sample cache.")
    ] = False,
    list_processes: Annotated[bool, typer.Option("--list", help="List the processes and exit.")] = False,
    force: ForceOpt = False,
    fmt: FormatOpt = None,
) -> None:
    """Generate pp collisions at 13 TeV with Pythia 8; anti-kt R=0.4 jets (FastJet), or whole events."""
    from hepsqueeze.atomic import check_output
    from hepsqueeze.datasets import GeneratorConfig, generate_dataset
    from hepsqueeze.datasets import list_processes as all_processes
    from hepsqueeze.io import write_dataset

    if list_processes:
        t = RichTable(title="processes (pp, 13 TeV, Pythia 8; anti-kt R=0.4 jets, pt > 20 GeV, |eta| < 4.5)")
        for col in ("name", "description", "uses", "Pythia settings"):
            t.add_column(col)
        for proc in all_processes():
            uses = ", ".join("--" + p.replace("_", "-") for p in proc["parameters"])
            t.add_row(proc["name"], proc["description"], uses, "\n".join(proc["settings"]))
        console.print(t)
        return
    if output is None:
        raise ConfigError("give an output file with -o FILE")
    check_output(output, force)
    config = GeneratorConfig(
        process=process, events=events, seed=seed, pthat_min=pthat_min, kind=kind, mass=mass
    )
    with _progress() as bar:
        task = bar.add_task(f"generating {process} ({kind})", total=events, info="")

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        dataset = generate_dataset(config, workers=workers, use_cache=not no_cache, progress=report)
    path = write_dataset(dataset, output, format=fmt, force=force)
    what = "objects" if kind == "events" else "jets"
    console.print(f"wrote {dataset.table.num_rows} {what} from {events} {process} events to {path}")


@app.command()
def train(
    input_file: Annotated[
        Path, typer.Argument(metavar="INPUT", help="Table of jets to train on.", readable=False)
    ],
    output: OutOpt,
    preset: Annotated[str, typer.Option(help="Model preset.")] = "ae4d-3",
    nodes: Annotated[
        str | None, typer.Option(help="Layer sizes instead of the preset's, e.g. 4,200,20,3,20,200,4.")
    ] = None,
    batchnorm: Annotated[
        bool, typer.Option("--batchnorm/--no-batchnorm", help="BatchNorm after hidden layers.")
    ] = False,
    columns: Annotated[
        str | None, typer.Option(help="Input columns, mapped in order onto the variables.")
    ] = None,
    variables: Annotated[
        str | None, typer.Option(help="Model variable names (default E,pt,eta,phi).")
    ] = None,
    epochs: Annotated[int, typer.Option(help="Maximum epochs.")] = 100,
    batch_size: Annotated[int, typer.Option(help="Rows per step.")] = 512,
    lr: Annotated[float, typer.Option(help="Peak learning rate of the one-cycle schedule.")] = 3e-3,
    weight_decay: Annotated[float, typer.Option(help="Decoupled weight decay.")] = 0.0,
    normalisation: Annotated[
        str, typer.Option(help="custom, custom+minmax, minmax, standard or none.")
    ] = "custom+minmax",
    patience: Annotated[
        int, typer.Option(help="Early stopping: epochs without improvement, counted after the warm-up.")
    ] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the split, initialisation and shuffling.")] = 0,
    max_minutes: Annotated[float | None, typer.Option(help="Stop after this many minutes.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    force: ForceOpt = False,
    fmt: FormatOpt = None,
    tree: TreeOpt = None,
    branches: BranchesOpt = None,
    names: NamesOpt = None,
    allow_pickle: PickleOpt = False,
    objects: Annotated[
        str | None,
        typer.Option(help="Event files: train on these object types only, e.g. j,b (default: all objects)."),
    ] = None,
) -> None:
    """Train an autoencoder on a table of jets (or the objects of an event file) and save the model file."""
    import dataclasses

    from hepsqueeze.api import train as api_train
    from hepsqueeze.atomic import check_output
    from hepsqueeze.io import read_table
    from hepsqueeze.models import get_preset, save_model
    from hepsqueeze.training import EpochReport, TrainConfig

    check_output(output, force)
    arch = get_preset(preset)
    if nodes is not None:
        arch = dataclasses.replace(arch, nodes=tuple(int(n) for n in _split(nodes) or []))
    if batchnorm:
        arch = dataclasses.replace(arch, batchnorm=True)
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        normalisation=normalisation,
        patience=patience,
        seed=seed,
        device=device,
        max_seconds=None if max_minutes is None else 60 * max_minutes,
    )
    read_opts = _read_options(tree, branches, names, allow_pickle)
    if objects is not None:
        from hepsqueeze.io import read_dataset

        ds = read_dataset(input_file, format=fmt, columns=_split(columns), **read_opts)
        table = ds.objects(_split(objects) or [])
    else:
        table = read_table(input_file, format=fmt, columns=_split(columns), **read_opts)
    with _progress() as bar:
        task = bar.add_task("training", total=epochs, info="")

        def report(r: EpochReport) -> None:
            bar.update(
                task,
                completed=r.epoch,
                info=f"train {r.train_loss:.3g}  val {r.val_loss:.3g}  best {r.best_val_loss:.3g}",
            )

        model = api_train(
            table, arch, variables=_split(variables), columns=_split(columns), config=config, progress=report
        )
    model.name = preset if nodes is None and not batchnorm else f"{preset}-custom"
    save_model(model, output, force=force)
    t = model.training
    console.print(
        f"trained {model.name} on {t['rows']['train']} rows ({t['epochs_run']} epochs, {t['seconds']:.0f} s, "
        f"{t['stopped']}); best validation MSE {t['best_val_mse_normalised']:.3g}; saved to {output}"
    )
    test = t["metrics"].get("test")
    if test:
        _print_residuals(test["residuals"], title="test split residuals")


@app.command()
def compress(
    input_file: Annotated[Path, typer.Argument(metavar="INPUT", help="Table to compress.", readable=False)],
    output: OutOpt,
    model: Annotated[
        Path | None,
        typer.Option("--model", "-m", help="Model file, or zoo:NAME for a shipped model.", readable=False),
    ] = None,
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
    columns: Annotated[str | None, typer.Option(help="Columns to compress (default: the model's).")] = None,
    latent_dtype: Annotated[str, typer.Option(help="float32 or float16.")] = "float32",
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
    fmt: FormatOpt = None,
    tree: TreeOpt = None,
    branches: BranchesOpt = None,
    names: NamesOpt = None,
    allow_pickle: PickleOpt = False,
) -> None:
    """Compress a table into one container file."""
    from hepsqueeze.atomic import check_output
    from hepsqueeze.codec.compress import compress_dataset
    from hepsqueeze.io import input_size_bytes, read_dataset
    from hepsqueeze.zoo import resolve_model

    check_output(output, force)
    if (model is None) == (max_error is None):
        raise typer.BadParameter("give either --model (autoencoder) or --max-error (error-bounded codec)")
    in_bytes = input_size_bytes(input_file)
    info = {"path": input_file.name, "size_bytes": in_bytes}
    bounds = None
    if abs_floor is not None and max_error is None:
        raise typer.BadParameter("--abs-floor applies to --max-error only")
    if max_error is not None:
        from hepsqueeze.codec.bounded_file import parse_max_error

        bounds = parse_max_error(max_error, abs_floor)
        if strict or no_embed_model:
            raise typer.BadParameter("--strict and --no-embed-model apply to --model only")
    # exactly one of --model / --max-error is given (checked above): str(model) is a model spec below
    model_options: dict[str, Any] = {
        "latent_dtype": latent_dtype,
        "embed_model": not no_embed_model,
        "force": force,
        "strict": strict,
        "input_info": info,
    }
    if stream and bounds is not None:
        from hepsqueeze.codec.bounded_file import compress_bounded_parquet

        rep = compress_bounded_parquet(
            input_file, output, bounds, _split(columns), force=force, input_info=info
        )
    elif stream:
        from hepsqueeze.codec.compress import compress_parquet

        rep = compress_parquet(
            input_file, resolve_model(str(model)), output, _split(columns), **model_options
        )
    else:
        dataset = read_dataset(
            input_file,
            format=fmt,
            columns=_split(columns),
            **_read_options(tree, branches, names, allow_pickle),
        )
        if bounds is not None:
            from hepsqueeze.codec.bounded_file import compress_bounded

            rep = compress_bounded(dataset, output, bounds, _split(columns), force=force, input_info=info)
        else:
            rep = compress_dataset(
                dataset, resolve_model(str(model)), output, _split(columns), **model_options
            )
    if rep.exception_count:
        why = (
            "NaN/inf, <= 0 under a relative bound, off their phi branch or out of the codec's range; "
            "'(jets)': in the float32 coding, 'name (dtype)': missing the bound in the column's own dtype"
            if bounds is not None
            else "NaN/inf/denormal/outside the training range"
        )
        console.print(f"stored {rep.exception_count} values exactly ({why}): {rep.exceptions}")
    within = f" within {max_error}" if max_error is not None else ""
    console.print(
        f"compressed {rep.rows} rows ({', '.join(rep.compressed_columns)}){within} to {output}: "
        f"{rep.file_bytes} bytes, ratio {rep.ratio:.2f} (float32 values / file), "
        f"{in_bytes / rep.file_bytes:.2f} vs the input file ({in_bytes} bytes)"
    )


def _check_stream_output(output: Path, fmt: str | None) -> None:
    """``decompress --stream`` writes Parquet: refuse an output named or ``--format``-ed otherwise.

    Judged by the name and option only (not by sniffing an existing file that --force replaces).
    """
    from hepsqueeze.io.registry import get_format

    what: str | None
    if fmt is not None:
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


@app.command()
def decompress(
    input_file: Annotated[Path, typer.Argument(metavar="FILE", help="Compressed file.", readable=False)],
    output: OutOpt,
    model: Annotated[
        Path | None,
        typer.Option("--model", "-m", help="Model, for files written with --no-embed-model.", readable=False),
    ] = None,
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
    from hepsqueeze.codec.compress import decompress_dataset
    from hepsqueeze.io import write_dataset

    check_output(output, force)
    if stream:
        _check_stream_output(output, fmt)
    decoder = None
    if model is not None:  # torch only where a network is given
        from hepsqueeze.zoo import resolve_model

        decoder = resolve_model(str(model))
    if stream:
        from hepsqueeze.codec.compress import decompress_to_parquet

        rows = decompress_to_parquet(input_file, output, decoder, force=force)
        console.print(f"wrote {rows} rows to {output} chunk by chunk")
        return
    dataset = decompress_dataset(input_file, decoder)
    path = write_dataset(dataset, output, format=fmt, force=force, tree=tree)
    table = dataset.table
    console.print(f"wrote {table.num_rows} rows, columns {', '.join(table.names)}, to {path}")


@app.command()
def info(
    input_file: Annotated[Path, typer.Argument(metavar="FILE", help="Compressed file.", readable=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print a compressed file's header and the size of each section."""
    from hepsqueeze.codec.compress import file_info

    data = file_info(input_file)
    if as_json:
        console.print_json(json.dumps(data))
        return
    console.print_json(json.dumps(data["header"]))
    t = RichTable(title=f"{input_file}: {data['file_bytes']} bytes, ratio {data['ratio']:.2f}")
    t.add_column("section kind")
    t.add_column("bytes", justify="right")
    t.add_column("share", justify="right")
    for kind, size in data["section_bytes"].items():
        t.add_row(kind, str(size), f"{100 * size / max(data['file_bytes'], 1):.1f}%")
    console.print(t)


@app.command()
def benchmark(
    input_file: Annotated[Path, typer.Argument(metavar="INPUT", help="Table to measure on.", readable=False)],
    out: Annotated[
        Path,
        typer.Option("--out", help="Directory for benchmark.json, benchmark.md and plots.", readable=False),
    ],
    model: Annotated[
        Path | None, typer.Option("--model", "-m", help="Model to include at its own error.", readable=False)
    ] = None,
    errors: Annotated[
        str, typer.Option(help="Maximum-error targets (relative for E/pt/m).")
    ] = "1e-2,3e-3,1e-3,3e-4",
    columns: Annotated[
        str | None, typer.Option(help="Columns (default: the model's, or E,pt,eta,phi).")
    ] = None,
    variables: Annotated[
        str | None, typer.Option(help="Variable names of the columns (default: the model's).")
    ] = None,
    repeats: Annotated[int, typer.Option(help="Timing runs per method (the median is kept).")] = 3,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the rate-distortion plots.")] = False,
    fmt: FormatOpt = None,
    tree: TreeOpt = None,
    branches: BranchesOpt = None,
    names: NamesOpt = None,
    allow_pickle: PickleOpt = False,
) -> None:
    """Every standard compressor (zstd, lzma, float16, bit rounding, quantisation, SZ3, ZFP, fpzip) and the model."""
    _check_output_dir(out)
    from hepsqueeze.errors import ColumnError
    from hepsqueeze.evaluation.benchmark import run_benchmark, write_benchmark
    from hepsqueeze.io import read_table
    from hepsqueeze.zoo import resolve_model

    targets = [float(e) for e in _split(errors) or []]
    m = resolve_model(str(model)) if model is not None else None
    cols = _split(columns) or (list(m.columns) if m is not None else ["E", "pt", "eta", "phi"])
    var = _split(variables) or (list(m.variables) if m is not None and not columns else None)
    options = _read_options(tree, branches, names, allow_pickle)
    try:  # the event column lets the bounded codec code the jets of one event together
        table = read_table(input_file, format=fmt, columns=[*cols, "event"], **options)
    except ColumnError:
        table = read_table(input_file, format=fmt, columns=cols, **options)
    event = table["event"] if "event" in table.names and "event" not in cols else None
    result = run_benchmark(table, cols, var, errors=targets, model=m, repeats=repeats, event=event)
    json_path, md_path = write_benchmark(result, out)
    written = [json_path, md_path]
    if not no_plots:
        from hepsqueeze.plotting.rate_distortion import plot_benchmark

        written += plot_benchmark(json_path, out)
    console.print(md_path.read_text(), markup=False, highlight=False)
    console.print(f"wrote {len(written)} files to {out}/")


@app.command()
def evaluate(
    original: Annotated[Path, typer.Argument(help="The original table.", readable=False)],
    reconstructed: Annotated[
        Path, typer.Argument(help="The decompressed table (rows in the same order).", readable=False)
    ],
    report: Annotated[
        Path,
        typer.Option("--report", help="Report directory (metrics.json, plots, index.html).", readable=False),
    ],
    container: Annotated[
        Path | None, typer.Option(help="The compressed file: ratio, latents, embedded model.", readable=False)
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option("--model", "-m", help="Model file: latent space, loss curves.", readable=False),
    ] = None,
    columns: Annotated[
        str | None, typer.Option(help="Columns to compare (default: the compressed ones).")
    ] = None,
    group_by: Annotated[
        str | None, typer.Option(help="Grouping column for breakdowns (e.g. process).")
    ] = None,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Only metrics.json.")] = False,
    force: ForceOpt = False,
    fmt: FormatOpt = None,
    tree: TreeOpt = None,
    branches: BranchesOpt = None,
    names: NamesOpt = None,
    allow_pickle: PickleOpt = False,
) -> None:
    """Metrics (JSON), plots and an HTML page comparing a decompressed table with its original."""
    _check_output_dir(report)
    from hepsqueeze.evaluation.report import evaluate as run_evaluate
    from hepsqueeze.io import read_table

    result = run_evaluate(
        read_table(original, format=fmt, **_read_options(tree, branches, names, allow_pickle)),
        read_table(reconstructed, format=fmt, **_read_options(tree, branches, names, allow_pickle)),
        report,
        container=container,
        model=model,
        columns=_split(columns),
        group_by=group_by,
        plots=not no_plots,
        force=force,
    )
    _print_metrics(result)
    console.print(f"report in {report}/ (metrics.json, index.html)")


@app.command()
def inspect(
    data: Annotated[Path, typer.Argument(help="Table to analyse.", readable=False)],
    report: Annotated[
        Path,
        typer.Option("--report", help="Report directory (summary.json, plots, index.html).", readable=False),
    ],
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Only summary.json.")] = False,
    force: ForceOpt = False,
    fmt: FormatOpt = None,
    tree: TreeOpt = None,
    branches: BranchesOpt = None,
    names: NamesOpt = None,
    allow_pickle: PickleOpt = False,
) -> None:
    """Distributions, correlations, statistics and warnings about what will trouble a model."""
    _check_output_dir(report)
    from hepsqueeze.evaluation.inspect import inspect as run_inspect
    from hepsqueeze.io import read_table

    table = read_table(data, format=fmt, **_read_options(tree, branches, names, allow_pickle))
    summary = run_inspect(table, report, plots=not no_plots, force=force)
    for w in summary.get("warnings", []):
        console.print(f"[yellow]warning:[/] {w.get('column', '')}: {w.get('message', w)}", highlight=False)
    console.print(f"report in {report}/ (summary.json, index.html)")


zoo_app = typer.Typer(
    help="Pre-trained models shipped with hepsqueeze (use them as --model zoo:NAME).", no_args_is_help=True
)
app.add_typer(zoo_app, name="zoo")


@zoo_app.command("list")
def zoo_list() -> None:
    """The shipped models with their training data and test-split residuals."""
    from hepsqueeze.zoo import list_models, model_path

    t = RichTable(title="hepsqueeze model zoo (use --model zoo:NAME)")
    for col in ("name", "description", "trained on", "test residual std", "size"):
        t.add_column(col)
    for c in list_models():
        data = c.training.get("data", {})
        rows = data.get("rows", {}).get("total", "?")
        trained = f"{' + '.join(data.get('processes', []))}: {rows} jets, seed {data.get('seed')}"
        items = list(c.test_metrics.items())
        stds = ", ".join(f"{v} {m['std']:.2g}" for v, m in items[:4]) + (
            f", ... ({len(items)} variables)" if len(items) > 4 else ""
        )
        t.add_row(c.name, c.description, trained, stds, f"{model_path(c.name).stat().st_size / 1024:.0f} kB")
    console.print(t)


@zoo_app.command("validate")
def zoo_validate(
    name: Annotated[str, typer.Argument(help="Zoo model name.")],
    events: Annotated[int | None, typer.Option(help="Events per process (default: the card's).")] = None,
    seed: Annotated[
        int | None, typer.Option(help="Generator seed (default: the card's, not the training seed).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Generator worker processes.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Generate a fresh sample, apply the shipped model and compare its residuals with the model card."""
    from hepsqueeze.zoo import validate

    res = validate(name, events_per_process=events, seed=seed, workers=workers)
    if as_json:
        console.print_json(json.dumps(res.to_dict()))
    else:
        t = RichTable(title=f"zoo:{res.name} on a fresh sample ({res.rows} jets, seed {res.sample['seed']})")
        for col in ("variable", "residual", "card std", "measured std", "allowed", "ok"):
            t.add_column(col)
        for var, v in res.variables.items():
            if v["kind"] == "integer":  # integers are judged by their rate of wrongly rounded values
                cells = ("mismatch rate", v["card_mismatch"], v["measured_mismatch"])
            else:
                cells = (
                    "(out-in)/in" if v["kind"] == "relative" else "out-in",
                    v["card_std"],
                    v["measured_std"],
                )
            t.add_row(
                var,
                cells[0],
                f"{cells[1]:.3g}",
                f"{cells[2]:.3g}",
                f"{v['low']:.3g} .. {v['high']:.3g}",
                "yes" if v["ok"] else "NO",
            )
        console.print(t)
        console.print("validation " + ("passed" if res.passed else "FAILED"))
    if not res.passed:
        raise typer.Exit(3)


study_app = typer.Typer(
    help="The seeds' studies, each writing JSON and a markdown table.", no_args_is_help=True
)
app.add_typer(study_app, name="study")


@study_app.command("normalisation")
def study_normalisation(
    input_file: Annotated[Path, typer.Argument(metavar="INPUT", help="Table of jets.", readable=False)],
    out: Annotated[
        Path, typer.Option("--out", help="Directory for normalisation.json and .md.", readable=False)
    ],
    preset: Annotated[str, typer.Option(help="Model preset.")] = "ae4d-3",
    schemes: Annotated[
        str, typer.Option(help="Normalisations to compare.")
    ] = "none,minmax,standard,custom,custom+minmax",
    columns: Annotated[str | None, typer.Option(help="Input columns (default: the variables).")] = None,
    variables: Annotated[str | None, typer.Option(help="Variable names (default E,pt,eta,phi).")] = None,
    epochs: Annotated[int, typer.Option(help="Epochs per model.")] = 150,
    batch_size: Annotated[int, typer.Option(help="Rows per step.")] = 1024,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 3e-3,
    seed: Annotated[int, typer.Option(help="Seed of split, initialisation and shuffling.")] = 0,
    fmt: FormatOpt = None,
) -> None:
    """Train the same model with each normalisation; compare residuals and a common-space MSE."""
    _check_output_dir(out)
    from hepsqueeze.api import default_variables
    from hepsqueeze.io import read_table
    from hepsqueeze.studies.normalisation import run_normalisation_study, study_markdown, write_study

    table = read_table(input_file, format=fmt)
    var = _split(variables) or list(default_variables(table.names, 4))
    cols = _split(columns) or var
    with _progress() as bar:
        report = _task_reporter(bar)

        result = run_normalisation_study(
            table,
            cols,
            var,
            preset=preset,
            schemes=_split(schemes) or [],
            train_options={
                "epochs": epochs,
                "batch_size": batch_size,
                "lr": lr,
                "seed": seed,
                "patience": epochs,
            },
            progress=report,
        )
    write_study(result, out)
    console.print(study_markdown(result), markup=False, highlight=False)


@study_app.command("generalisation")
def study_generalisation(
    out: Annotated[
        Path,
        typer.Option("--out", help="Directory for generalisation.json, .md and the plot.", readable=False),
    ],
    train_processes: Annotated[str, typer.Option(help="Processes whose jets the model is trained on.")] = (
        "ttbar,qcd"
    ),
    test_processes: Annotated[str, typer.Option(help="Held-out processes.")] = (
        "wjets,zjets,singletop,diboson,zprime,excitedq"
    ),
    train_events: Annotated[int, typer.Option(help="Training events per training process.")] = 12000,
    test_events: Annotated[int, typer.Option(help="Test events per process (next seed).")] = 3000,
    preset: Annotated[str, typer.Option(help="Model preset (4 variables).")] = "ae4d-3",
    epochs: Annotated[int, typer.Option(help="Epochs per model.")] = 200,
    batch_size: Annotated[int, typer.Option(help="Rows per step.")] = 1024,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 3e-3,
    seed: Annotated[int, typer.Option(help="Seed of the training sample (test: seed + 1) and training.")] = 1,
    per_type: Annotated[
        bool, typer.Option("--per-type/--no-per-type", help="Also train one model per object type.")
    ] = True,
    model: Annotated[
        list[str] | None, typer.Option("--model", help="Further model (file or zoo:NAME) to apply as is.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Generator worker processes.")] = 2,
) -> None:
    """Train on jets of some processes; evaluate on other processes and on b-jets, electrons, muons, photons."""
    _check_output_dir(out)
    from hepsqueeze.studies.generalisation import (
        GeneralisationConfig,
        run_generalisation_study,
        study_markdown,
        write_study,
    )
    from hepsqueeze.zoo import resolve_model

    config = GeneralisationConfig(
        train_processes=tuple(_split(train_processes) or []),
        test_processes=tuple(_split(test_processes) or []),
        train_events=train_events,
        test_events=test_events,
        seed=seed,
        preset=preset,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        per_type=per_type,
        workers=workers,
    )
    extra = {m: resolve_model(m) for m in model or []}
    with _progress() as bar:
        report = _task_reporter(bar)

        result = run_generalisation_study(config, extra_models=extra, progress=report)
    write_study(result, out)
    console.print(study_markdown(result), markup=False, highlight=False)


@app.command()
def demo(
    workdir: Annotated[
        Path, typer.Option(help="Directory for the demo's files (overwritten).", readable=False)
    ] = Path("hepsqueeze-demo"),
    events: Annotated[int, typer.Option(help="Events per process (ttbar and QCD).")] = 4000,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 300,
    workers: Annotated[int, typer.Option(help="Generator worker processes.")] = 2,
) -> None:
    """Generate, train briefly, compress, decompress, and show what was lost (a few minutes on 2 cores)."""
    _check_output_dir(workdir)
    from hepsqueeze.demo import run_demo
    from hepsqueeze.training import EpochReport

    with _progress() as bar:
        task = bar.add_task("training", total=epochs, info="", visible=False)

        def stage(text: str) -> None:
            console.print(f"[bold cyan]>>[/] {text}")

        def report(r: EpochReport) -> None:
            bar.update(task, visible=True, completed=r.epoch, info=f"val {r.val_loss:.3g}")

        res = run_demo(
            workdir,
            events_per_process=events,
            epochs=epochs,
            workers=workers,
            on_stage=stage,
            progress=report,
        )
    _print_residuals(res.residuals, title=f"residuals on all {res.rows} jets (decompressed vs original)")
    rep = res.report
    t = RichTable(title="sizes")
    t.add_column("file")
    t.add_column("bytes", justify="right")
    t.add_row("input (parquet)", str(res.input_bytes))
    t.add_row("float32 values of the compressed columns", str(4 * rep.rows * len(rep.compressed_columns)))
    t.add_row("model file (encoder + decoder)", str(res.model_bytes))
    for kind, size in rep.section_bytes.items():
        t.add_row(f"  compressed file: {kind}", str(size))
    t.add_row("compressed file (decoder embedded)", str(rep.file_bytes))
    console.print(t)
    console.print(
        f"ratio {rep.ratio:.2f} (float32 values / compressed file); {res.input_bytes / rep.file_bytes:.2f} vs the "
        f"parquet input; validation MSE {res.val_mse:.3g} after {res.epochs} epochs ({res.seconds_train:.0f} s); "
        f"passthrough columns bit-identical: {res.passthrough_identical}; files in {res.workdir}/"
    )
    console.print(
        f"best standard compressor at the autoencoder's own max error per variable: {res.best_baseline}, "
        f"ratio {res.best_baseline_ratio:.2f} (on the compressed columns alone, no decoder to store)"
    )


def _print_metrics(result: dict[str, Any]) -> None:
    t = RichTable(title="evaluation (residual: relative for E/pt/m, absolute otherwise)")
    for col in ("column", "mean", "std", "width68", "max |.|", "KS"):
        t.add_column(col, justify="left" if col == "column" else "right")
    for col, m in result.get("metrics", {}).items():
        r = m.get("relative_residual") or m.get("residual") or {}
        t.add_row(
            col,
            *(f"{r.get(k, float('nan')):.2e}" for k in ("mean", "std", "width68", "max_abs")),
            f"{m.get('ks', float('nan')):.3g}",
        )
    console.print(t)


def _print_residuals(residuals: dict[str, dict[str, Any]], title: str) -> None:
    t = RichTable(title=title)
    for col in ("variable", "residual", "mean", "std", "max |.|"):
        t.add_column(col, justify="right" if col not in ("variable", "residual") else "left")
    for var, r in residuals.items():
        t.add_row(
            var,
            "(out-in)/in" if r["kind"] == "relative" else "out-in",
            f"{r['mean']:.2e}",
            f"{r['std']:.2e}",
            f"{r['max_abs']:.2e}",
        )
    console.print(t)


REPORT_HINT = "please report this to the hepsqueeze developers with the command you ran and its -vv output"

log = logging.getLogger("hepsqueeze.cli")


def _command_name(argv: list[str]) -> str:
    """The (sub)command words of ``argv``, for messages: e.g. ``compress`` or ``zoo validate``."""
    words = [a for a in argv if not a.startswith("-")]
    groups = {"zoo", "study"}
    return " ".join(words[:2]) if words and words[0] in groups else (words[0] if words else "hepsqueeze")


def _os_error_message(exc: OSError) -> str:
    """One line for an OSError: 'PATH: reason' instead of Python's '[Errno 13] ...' form."""
    if exc.strerror and exc.filename is not None:
        where = f"{exc.filename!s}" + (f" -> {exc.filename2!s}" if exc.filename2 is not None else "")
        return f"{where}: {exc.strerror}"
    return str(exc) or type(exc).__name__


def _error(message: str) -> int:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True, markup=True)
    return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; every failure becomes one line on stderr and exit status 1.

    Usage errors (unknown options, missing arguments) are reported by typer with status 2. Errors
    hepsqueeze raises on purpose and OS errors (missing, unreadable or unwritable files) print
    their message; MemoryError and any other unexpected exception print one line too (the
    traceback is logged at debug level: ``-vv`` shows it). SIGTERM and SIGHUP remove the temporary
    files of outputs being written before the process dies of the signal.
    """
    from hepsqueeze.atomic import install_signal_cleanup, restore_signal_handlers

    args = list(sys.argv[1:] if argv is None else argv)
    previous = install_signal_cleanup()
    try:
        app(args=args, prog_name="hepsqueeze")
    except SystemExit as exc:  # typer's standalone mode ends every run with one
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except OutputExistsError as exc:
        text = str(exc)
        hint = " (add --force to overwrite it)" if "was not asked for" in text else ""
        return _error(rich_escape(text) + hint)
    except HepsqueezeError as exc:
        return _error(rich_escape(str(exc)))
    except MemoryError:
        log.debug("out of memory", exc_info=True)
        return _error(
            f"out of memory while running {rich_escape(_command_name(args))}; the input may claim more data "
            "than it holds, or be too large for this machine (Parquet input: try --stream)"
        )
    except OSError as exc:
        log.debug("OS error", exc_info=True)
        return _error(rich_escape(_os_error_message(exc)))
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except Exception as exc:
        log.debug("internal error", exc_info=True)
        text = str(exc).splitlines()[0] if str(exc) else ""
        return _error(
            rich_escape(f"internal error in {_command_name(args)}: {type(exc).__name__}: {text}")
            + f" ({REPORT_HINT})"
        )
    finally:
        restore_signal_handlers(previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
