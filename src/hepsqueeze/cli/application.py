"""The typer application: the global options, and every command registered under its name.

The order of registration is the order of ``hepsqueeze --help``. Every command is built as a
:class:`~hepsqueeze.cli.options.ReadableCommand` (a metavar for every option in ``--help``; set at
the end, for every command registered above), and the main ones show examples (:data:`EXAMPLES`,
below their options). Shell completion comes from typer: ``hepsqueeze --install-completion``
(or ``--show-completion`` to print the script).
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.logging import RichHandler

from hepsqueeze.cli.commands import codec, data, demo, evaluation, export, models
from hepsqueeze.cli.options import ReadableCommand, ReadableGroup
from hepsqueeze.cli.render import console, err_console
from hepsqueeze.version import __version__


def _examples(*lines: str) -> str:
    """An epilog of example command lines, one paragraph each (rich markup: no brackets)."""
    return "\n\n".join(["[bold]Examples[/]", *(f"  $ {line}" for line in lines)])


#: Examples in the help of the main commands (each one runs as shown, given its input files).
EXAMPLES: dict[str, str] = {
    "generate": _examples(
        "hepsqueeze generate ttbar --events 1000 -o ttbar.parquet",
        "hepsqueeze generate ttbar --kind nanoaod --events 200 -o nano.root",
        "hepsqueeze generate ttbar --kind jets27d --events 1000 -o j27.parquet",
        "hepsqueeze generate --list",
    ),
    "train": _examples(
        "hepsqueeze train ttbar.parquet -o ae.hsqm --epochs 50",
        "hepsqueeze train j27.parquet --codec bounded --max-error 1e-3 -o j27.hsqb",
    ),
    "compress": _examples(
        "hepsqueeze compress nano.root -o nano.hsqz --max-error 1e-3",
        "hepsqueeze compress nano.root -o nano.hsqz --max-error '*_pt=1e-3r,*_eta=1e-3,*_phi=1e-3,*_mass=1e-2r'",
        "hepsqueeze compress nano.root -o nano.hsqz --precision nanoaod",
        "hepsqueeze compress ttbar.parquet -o ttbar.hsqz --model zoo:ae4d-3",
        "hepsqueeze compress j27.parquet -o j27.hsqz --max-error 1e-3 --model j27.hsqb",
        "hepsqueeze compress https://example.org/data/nano.root -o nano.hsqz --max-error 1e-3",
        "hepsqueeze compress 'data/*.parquet' --out-dir packed --max-error 1e-3",
    ),
    "decompress": _examples(
        "hepsqueeze decompress nano.hsqz -o nano-back.root",
        "hepsqueeze decompress ttbar.hsqz -o ttbar-back.parquet --stream",
        "hepsqueeze decompress packed --out-dir unpacked",
    ),
    "info": _examples("hepsqueeze info nano.hsqz", "hepsqueeze info nano.hsqz --json"),
    "benchmark": _examples(
        "hepsqueeze benchmark ttbar.parquet --out bench --model zoo:ae4d-3",
        "hepsqueeze benchmark nano.root --out bench-nano --max-error 1e-3",
    ),
    "evaluate": _examples(
        "hepsqueeze evaluate ttbar.parquet ttbar-back.parquet --report report --container ttbar.hsqz",
    ),
}


def _print_version(value: bool) -> None:
    if value:
        console.print(f"hepsqueeze {__version__}", highlight=False)
        raise typer.Exit()


app = typer.Typer(
    name="hepsqueeze",
    help="Compress HEP data with error-bounded coding or deep autoencoders, and show how much was lost.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    cls=ReadableGroup,
)


@app.callback()
def configure(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-v, -vv).")
    ] = 0,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level, format="%(message)s", handlers=[RichHandler(console=err_console)], force=True
    )


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"hepsqueeze {__version__}")


app.command(epilog=EXAMPLES["generate"])(data.generate)
app.command(epilog=EXAMPLES["train"])(models.train)
app.command(epilog=EXAMPLES["compress"])(codec.compress)
app.command(epilog=EXAMPLES["decompress"])(codec.decompress)
app.command(epilog=EXAMPLES["info"])(codec.info)
app.command(epilog=EXAMPLES["benchmark"])(evaluation.benchmark)
app.command(epilog=EXAMPLES["evaluate"])(evaluation.evaluate)
app.command()(evaluation.inspect)
app.command()(export.export)
app.command()(demo.demo)

zoo_app = typer.Typer(
    help="Pre-trained models shipped with hepsqueeze (use them as --model zoo:NAME).",
    no_args_is_help=True,
    cls=ReadableGroup,
)
zoo_app.command("list")(models.zoo_list)
zoo_app.command("validate")(models.zoo_validate)
app.add_typer(zoo_app, name="zoo")

study_app = typer.Typer(
    help="The seeds' studies, each writing JSON and a markdown table.",
    no_args_is_help=True,
    cls=ReadableGroup,
)
study_app.command("normalisation")(evaluation.study_normalisation)
study_app.command("generalisation")(evaluation.study_generalisation)
app.add_typer(study_app, name="study")

for _typer_app in (app, zoo_app, study_app):  # every command's help as ReadableCommand gives it
    for _registered in _typer_app.registered_commands:
        if _registered.cls in (None, typer.core.TyperCommand):
            _registered.cls = ReadableCommand

GROUPS = ("zoo", "study")  # the command groups: their commands are two words, e.g. "zoo validate"
