"""``benchmark``, ``evaluate``, ``inspect`` and the ``study`` commands: measuring what is lost."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hepsqueeze.cli.errors import option_hint
from hepsqueeze.cli.options import (
    BatchSizeOpt,
    ForceOpt,
    FormatOpt,
    PresetOpt,
    ReaderOptions,
    WorkersOpt,
    check_output_dir,
    columns_option,
    load_model_option,
    load_precision_options,
    model_option,
    path_argument,
    path_option,
    split_floats,
    split_list,
    with_reader_options,
)
from hepsqueeze.cli.render import (
    console,
    print_markdown_report,
    print_metrics,
    print_warnings,
    progress,
    task_reporter,
)

if TYPE_CHECKING:
    from hepsqueeze.io.table import Table

StudyLrOpt = Annotated[float, typer.Option(help="Peak learning rate.")]
StudyEpochsOpt = Annotated[int, typer.Option(help="Epochs per model.")]


@with_reader_options
def benchmark(
    input_file: Annotated[Path, path_argument("Table to measure on.", metavar="INPUT")],
    out: Annotated[Path, path_option("--out", "Directory for benchmark.json, benchmark.md and plots.")],
    model: Annotated[
        Path | None,
        model_option(
            "Model to include at its own error; with --max-error, a conditional model (zoo:bounded-jets27d)."
        ),
    ] = None,
    errors: Annotated[
        str, typer.Option(help="Maximum-error targets (relative for E/pt/m).")
    ] = "1e-2,3e-3,1e-3,3e-4",
    columns: Annotated[str | None, columns_option("Columns (default: the model's, or E,pt,eta,phi).")] = None,
    variables: Annotated[
        str | None, typer.Option(help="Variable names of the columns (default: the model's).")
    ] = None,
    repeats: Annotated[int, typer.Option(help="Timing runs per method (the median is kept).")] = 3,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the rate-distortion plots.")] = False,
    max_error: Annotated[
        str | None,
        typer.Option(
            "--max-error",
            help="ROOT input: the bound of every branch, as compress --max-error takes it "
            "(default 1e-3: relative on *_pt, *_mass, *_sumEt, absolute on the others).",
        ),
    ] = None,
    precision: Annotated[
        str | None, typer.Option("--precision", help="ROOT input: a precision file or preset (nanoaod).")
    ] = None,
    *,
    reader: ReaderOptions,
) -> None:
    """Every standard compressor (zstd, lzma, float16, bit rounding, quantisation, SZ3, ZFP, fpzip) and the model.

    On a ROOT file: the whole tree, per branch and in all, against uproot's ZSTD-9 and LZMA-9
    rewrites, NanoAOD's mantissa rounding + LZMA-9/ZSTD-9, quantise+zstd and SZ3 per branch, and
    the error-bounded codec, every decompressed value checked against its branch's bound."""
    check_output_dir(out)
    from hepsqueeze.io.formats.root import sniff_root

    if sniff_root(input_file):
        _benchmark_tree(input_file, out, max_error, precision, repeats, reader, model)
        return
    if max_error is not None or precision is not None:
        # the whole table, every column at its bound: measured as a flat ROOT tree of it
        _benchmark_table(input_file, out, max_error, precision, repeats, reader, model)
        return
    from hepsqueeze.evaluation.benchmark import run_benchmark, write_benchmark

    targets = split_floats(errors, "--errors") or []
    m = load_model_option(model) if model is not None else None
    given_columns = split_list(columns, "--columns")
    cols = given_columns or (list(m.columns) if m is not None else ["E", "pt", "eta", "phi"])
    var = split_list(variables, "--variables") or (
        list(m.variables) if m is not None and not given_columns else None
    )
    table = _read_with_event(input_file, cols, reader)
    event = table["event"] if "event" in table.names and "event" not in cols else None
    result = run_benchmark(table, cols, var, errors=targets, model=m, repeats=repeats, event=event)
    json_path, md_path = write_benchmark(result, out)
    written = [json_path, md_path]
    if not no_plots:
        from hepsqueeze.plotting.rate_distortion import plot_benchmark

        written += plot_benchmark(json_path, out)
    print_markdown_report(md_path.read_text())
    console.print(f"wrote {len(written)} files to {out}/")


def _benchmark_tree(
    input_file: Path,
    out: Path,
    max_error: str | None,
    precision: str | None,
    repeats: int,
    reader: ReaderOptions,
    model: Path | None = None,
    tree: str | None = None,
) -> None:
    from hepsqueeze.api import HepsqueezeTreeMethod, conditional_model
    from hepsqueeze.evaluation.tree_benchmark import (
        TreeBenchmarkConfig,
        run_tree_benchmark,
        write_tree_benchmark,
    )

    # neither option: 1e-3 (relative on energies, momenta and masses, absolute on the others)
    default = "1e-3" if max_error is None and precision is None else max_error
    parsed = load_precision_options(default, precision)
    tree = tree or reader.tree
    methods = [HepsqueezeTreeMethod(parsed, tree=tree)]
    if model is not None:  # the same codec with the learned model beside it, the model referenced
        with option_hint("--model"):
            learned = conditional_model(str(model))
        methods.append(HepsqueezeTreeMethod(parsed, tree=tree, name="hepsqueeze+model", model=learned))
    config = TreeBenchmarkConfig(repeats=repeats, tree=tree)
    result = run_tree_benchmark(input_file, parsed.resolve, extra=methods, config=config)
    result["settings"]["model"] = None if model is None else {"name": learned.name, "sha256": learned.hash}
    json_path, md_path = write_tree_benchmark(result, out)
    print_markdown_report(md_path.read_text())
    console.print(f"wrote {json_path} and {md_path}")


def _benchmark_table(
    input_file: Path,
    out: Path,
    max_error: str | None,
    precision: str | None,
    repeats: int,
    reader: ReaderOptions,
    model: Path | None,
) -> None:
    """``benchmark TABLE --max-error``: the table written as a flat ROOT tree (one entry per row),
    then measured as a ROOT file is."""
    import tempfile

    from hepsqueeze.io import read_dataset, write_dataset

    with tempfile.TemporaryDirectory(prefix="hepsqueeze-benchmark-") as tmp:
        root = Path(tmp) / f"{input_file.stem}.root"
        write_dataset(read_dataset(input_file, **reader.read_kwargs()), root)
        _benchmark_tree(root, out, max_error, precision, repeats, reader, model, tree="events")


def _read_with_event(input_file: Path, columns: list[str], reader: ReaderOptions) -> Table:
    """The columns, and the event column where the input has one: the bounded codec then codes the
    jets of one event together."""
    from hepsqueeze.errors import ColumnError
    from hepsqueeze.io import read_table

    try:
        return read_table(input_file, columns=[*columns, "event"], **reader.read_kwargs())
    except ColumnError:
        return read_table(input_file, columns=columns, **reader.read_kwargs())


@with_reader_options
def evaluate(
    original: Annotated[Path, path_argument("The original table.")],
    reconstructed: Annotated[Path, path_argument("The decompressed table (rows in the same order).")],
    report: Annotated[
        Path, path_option("--report", "Report directory (metrics.json, plots, index.html, report.md).")
    ],
    container: Annotated[
        Path | None,
        typer.Option(
            help="The compressed file: codec, bounds, ratio, latents, embedded model.", readable=False
        ),
    ] = None,
    model: Annotated[Path | None, model_option("Model file: latent space, loss curves.")] = None,
    columns: Annotated[
        str | None, columns_option("Columns to compare (default: the compressed ones).")
    ] = None,
    group_by: Annotated[
        str | None, typer.Option(help="Grouping column for breakdowns (e.g. process).")
    ] = None,
    label: Annotated[
        str | None,
        typer.Option(
            help="Sample label on every plot, e.g. 'ttbar + QCD, Pythia 8, \u221as = 13 TeV' "
            "(default: from the file's metadata, else its name)."
        ),
    ] = None,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Only metrics.json and the pages.")] = False,
    force: ForceOpt = False,
    *,
    reader: ReaderOptions,
) -> None:
    """Metrics (JSON), plots and an HTML page comparing a decompressed table with its original.

    With --container: the codec, each column's bound and whether it held. A ROOT file's other trees'
    collections (Jet, Muon, ...) and per-event branches are evaluated too, and the physics checks
    (mjj, HT, jet mass, MET) run on its jets."""
    check_output_dir(report)
    from hepsqueeze.evaluation.report import evaluate as run_evaluate
    from hepsqueeze.io import read_dataset

    orig = read_dataset(original, **reader.read_kwargs())
    back = read_dataset(reconstructed, **reader.read_kwargs())
    tables = {name: (t, back.aux[name]) for name, t in orig.aux.items() if name in back.aux}
    with progress() as bar:
        task = bar.add_task("drawing", total=None, info="")

        def drawing(figure: str, done: int, total: int) -> None:
            bar.update(task, total=total, completed=done, info=figure)

        result = run_evaluate(
            orig.table,
            back.table,
            report,
            container=container,
            model=model,
            columns=split_list(columns, "--columns"),
            group_by=group_by,
            plots=not no_plots,
            force=force,
            tables=tables or None,
            label=label,
            progress=drawing,
        )
        if no_plots:
            bar.remove_task(task)
    print_metrics(result)
    _print_bounds(result)
    console.print(f"report in {report}/ (metrics.json, index.html, report.md)")


def _print_bounds(result: Mapping[str, Any]) -> None:
    """The codec, and per column its bound and whether it held."""
    bounds = result.get("bounds")
    if not bounds:
        return
    from rich.table import Table as RichTable

    from hepsqueeze.evaluation.page import bounds_rows
    from hepsqueeze.plotting.html import fmt

    codec = (result.get("codec") or {}).get("name")
    held = "all held" if bounds["held"] else "[bold red]NOT ALL HELD[/]"
    t = RichTable(title=f"codec {codec}: {bounds['columns']} columns checked against their bounds, {held}")
    for col in ("column", "bound", "max err / bound", "outside", "held"):
        t.add_column(col, justify="left" if col in ("column", "bound") else "right")
    main = "(main)"
    for table, column, _dtype, bound, _err, frac, outside, ok in bounds_rows(bounds):
        name = str(column) if table == main or str(column).startswith(f"{table}_") else f"{table}/{column}"
        t.add_row(name, str(bound), fmt(frac, 4), str(outside).split(" of ")[0], str(ok))
    console.print(t)


@with_reader_options
def inspect(
    data: Annotated[Path, path_argument("Table to analyse.")],
    report: Annotated[Path, path_option("--report", "Report directory (summary.json, plots, index.html).")],
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Only summary.json.")] = False,
    force: ForceOpt = False,
    *,
    reader: ReaderOptions,
) -> None:
    """Distributions, correlations, statistics and warnings about what will trouble a model."""
    check_output_dir(report)
    from hepsqueeze.evaluation.inspect import inspect as run_inspect
    from hepsqueeze.io import read_table

    table = read_table(data, **reader.read_kwargs())
    summary = run_inspect(table, report, plots=not no_plots, force=force)
    print_warnings(summary.get("warnings", []))
    console.print(f"report in {report}/ (summary.json, index.html)")


def study_normalisation(
    input_file: Annotated[Path, path_argument("Table of jets.", metavar="INPUT")],
    out: Annotated[Path, path_option("--out", "Directory for normalisation.json and .md.")],
    preset: PresetOpt = "ae4d-3",
    schemes: Annotated[
        str, typer.Option(help="Normalisations to compare.")
    ] = "none,minmax,standard,custom,custom+minmax",
    columns: Annotated[str | None, columns_option("Input columns (default: the variables).")] = None,
    variables: Annotated[str | None, typer.Option(help="Variable names (default E,pt,eta,phi).")] = None,
    epochs: StudyEpochsOpt = 150,
    batch_size: BatchSizeOpt = 1024,
    lr: StudyLrOpt = 3e-3,
    seed: Annotated[int, typer.Option(help="Seed of split, initialisation and shuffling.")] = 0,
    fmt: FormatOpt = None,
) -> None:
    """Train the same model with each normalisation; compare residuals and a common-space MSE."""
    check_output_dir(out)
    from hepsqueeze.api import default_variables
    from hepsqueeze.io import read_table
    from hepsqueeze.studies.normalisation import run_normalisation_study, study_markdown, write_study

    table = read_table(input_file, format=fmt)
    var = split_list(variables, "--variables") or list(default_variables(table.names, 4))
    cols = split_list(columns, "--columns") or var
    with progress() as bar:
        result = run_normalisation_study(
            table,
            cols,
            var,
            preset=preset,
            schemes=split_list(schemes, "--schemes") or [],
            train_options={
                "epochs": epochs,
                "batch_size": batch_size,
                "lr": lr,
                "seed": seed,
                "patience": epochs,
            },
            progress=task_reporter(bar),
        )
    write_study(result, out)
    print_markdown_report(study_markdown(result))


def study_generalisation(
    out: Annotated[Path, path_option("--out", "Directory for generalisation.json, .md and the plot.")],
    train_processes: Annotated[str, typer.Option(help="Processes whose jets the model is trained on.")] = (
        "ttbar,qcd"
    ),
    test_processes: Annotated[str, typer.Option(help="Held-out processes.")] = (
        "wjets,zjets,singletop,diboson,zprime,excitedq"
    ),
    train_events: Annotated[int, typer.Option(help="Training events per training process.")] = 12000,
    test_events: Annotated[int, typer.Option(help="Test events per process (next seed).")] = 3000,
    preset: Annotated[str, typer.Option(help="Model preset (4 variables).")] = "ae4d-3",
    epochs: StudyEpochsOpt = 200,
    batch_size: BatchSizeOpt = 1024,
    lr: StudyLrOpt = 3e-3,
    seed: Annotated[int, typer.Option(help="Seed of the training sample (test: seed + 1) and training.")] = 1,
    per_type: Annotated[
        bool, typer.Option("--per-type/--no-per-type", help="Also train one model per object type.")
    ] = True,
    train: Annotated[
        bool,
        typer.Option(
            "--train/--no-train",
            help="Train the study's own models; --no-train applies the --model ones only.",
        ),
    ] = True,
    fail_factor: Annotated[
        float, typer.Option(help="A row fails above this many times the training processes' residual std.")
    ] = 1.5,
    model: Annotated[
        list[str] | None, typer.Option("--model", help="Further model (file or zoo:NAME) to apply as is.")
    ] = None,
    workers: WorkersOpt = 2,
) -> None:
    """Train on jets of some processes; evaluate on other processes and on b-jets, electrons, muons, photons."""
    check_output_dir(out)
    from hepsqueeze.studies.generalisation import (
        GeneralisationConfig,
        run_generalisation_study,
        study_markdown,
        write_study,
    )

    config = GeneralisationConfig(
        train_processes=tuple(split_list(train_processes, "--train-processes") or []),
        test_processes=tuple(split_list(test_processes, "--test-processes") or []),
        train_events=train_events,
        test_events=test_events,
        seed=seed,
        preset=preset,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        per_type=per_type,
        train=train,
        fail_factor=fail_factor,
        workers=workers,
    )
    if not train and not model:
        raise typer.BadParameter("--no-train needs at least one --model to apply", param_hint="--model")
    extra = {m: load_model_option(m) for m in model or []}
    with progress() as bar:
        result = run_generalisation_study(config, extra_models=extra, progress=task_reporter(bar))
    write_study(result, out)
    print_markdown_report(study_markdown(result))
