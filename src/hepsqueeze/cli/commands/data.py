"""``generate``: Pythia 8 samples."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hepsqueeze.cli.options import ForceOpt, FormatOpt
from hepsqueeze.cli.render import console, print_processes, progress
from hepsqueeze.errors import ConfigError


def generate(
    process: Annotated[str, typer.Argument(help="Process to generate (see --list).")] = "ttbar",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Output file (.parquet, .h5, .npz, .csv; .root for nanoaod).",
            readable=False,
        ),
    ] = None,
    events: Annotated[int, typer.Option(help="Number of events.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    kind: Annotated[
        str,
        typer.Option(
            help="jets (E, pt, eta, phi), jets27d (27 variables), events (DarkMachines CSV) or nanoaod "
            "(NanoAOD-style ROOT Events tree: jets, muons, electrons, photons, MET, hard process; needs -o X.root)."
        ),
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
        print_processes(all_processes())
        return
    if output is None:
        raise ConfigError("give an output file with -o FILE")
    if kind == "nanoaod" and output.suffix.lower() != ".root":
        raise ConfigError(
            f"--kind nanoaod writes a ROOT file: give an output ending in .root, not {str(output)!r}"
        )
    if kind == "nanoaod" and fmt not in (None, "root"):
        raise ConfigError(f"--kind nanoaod writes a ROOT file, not --format {fmt}")
    check_output(output, force)
    config = GeneratorConfig(
        process=process, events=events, seed=seed, pthat_min=pthat_min, kind=kind, mass=mass
    )
    with progress() as bar:
        task = bar.add_task(f"generating {process} ({kind})", total=events, info="")

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        dataset = generate_dataset(config, workers=workers, use_cache=not no_cache, progress=report)
    path = write_dataset(dataset, output, format=fmt, force=force)
    if kind == "nanoaod":
        console.print(f"wrote {events} {process} events ({dataset.table.num_rows} jets) to {path}")
        return
    what = "objects" if kind == "events" else "jets"
    console.print(f"wrote {dataset.table.num_rows} {what} from {events} {process} events to {path}")
