"""``demo``: every step on a small sample, in a few minutes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hepsqueeze.cli.options import WorkersOpt, check_output_dir
from hepsqueeze.cli.render import console, print_demo, progress


def demo(
    workdir: Annotated[
        Path, typer.Option(help="Directory for the demo's files (overwritten).", readable=False)
    ] = Path("hepsqueeze-demo"),
    events: Annotated[int, typer.Option(help="Events per process (ttbar and QCD).")] = 4000,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 300,
    workers: WorkersOpt = 2,
) -> None:
    """Generate, train briefly, compress, decompress, and show what was lost (a few minutes on 2 cores)."""
    check_output_dir(workdir)
    from hepsqueeze.demo import run_demo
    from hepsqueeze.training import EpochReport

    with progress() as bar:
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
    print_demo(res)
