"""The typer application: the global options, and every command registered under its name.

The order of registration is the order of ``hepsqueeze --help``.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.logging import RichHandler

from hepsqueeze.cli.commands import codec, data, demo, evaluation, models
from hepsqueeze.cli.render import console, err_console
from hepsqueeze.version import __version__

app = typer.Typer(
    name="hepsqueeze",
    help="Compress HEP data with deep autoencoders, and show how much was lost.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def configure(
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


app.command()(data.generate)
app.command()(models.train)
app.command()(codec.compress)
app.command()(codec.decompress)
app.command()(codec.info)
app.command()(evaluation.benchmark)
app.command()(evaluation.evaluate)
app.command()(evaluation.inspect)
app.command()(demo.demo)

zoo_app = typer.Typer(
    help="Pre-trained models shipped with hepsqueeze (use them as --model zoo:NAME).", no_args_is_help=True
)
zoo_app.command("list")(models.zoo_list)
zoo_app.command("validate")(models.zoo_validate)
app.add_typer(zoo_app, name="zoo")

study_app = typer.Typer(
    help="The seeds' studies, each writing JSON and a markdown table.", no_args_is_help=True
)
study_app.command("normalisation")(evaluation.study_normalisation)
study_app.command("generalisation")(evaluation.study_generalisation)
app.add_typer(study_app, name="study")

GROUPS = ("zoo", "study")  # the command groups: their commands are two words, e.g. "zoo validate"
