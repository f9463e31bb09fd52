"""``demo``: the error-bounded codec against the standard compressors, the seeds' autoencoder and
what it costs, and the evaluation report, in a few minutes on 2 cores."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table as RichTable

from hepsqueeze.cli.options import WorkersOpt, check_output_dir
from hepsqueeze.cli.render import console, progress

if TYPE_CHECKING:
    from hepsqueeze.demo import AutoencoderResult, BoundedResult, DemoResult

#: What the ratios of the demo divide (said once, under the first table).
RATIO_NOTE = (
    "ratio: bytes of the columns as arrays (event int64, the others float32) / bytes stored. Every "
    "method stores every column of the table (written as a flat ROOT tree) and every value it gives "
    "back is checked against its bound; hepsqueeze: the codec run the same way"
)


def demo(
    workdir: Annotated[
        Path, typer.Option(help="Directory for the demo's files (overwritten).", readable=False)
    ] = Path("hepsqueeze-demo"),
    events: Annotated[int, typer.Option(help="Events per process (ttbar and QCD).", min=1)] = 1000,
    seed: Annotated[
        int, typer.Option(help="Generator seed (the shipped models were trained on seed 1).")
    ] = 2,
    max_error: Annotated[
        float, typer.Option(help="Bound: relative on E and pt, absolute on eta and phi (event exact).")
    ] = 1e-3,
    learned: Annotated[
        bool, typer.Option(help="Also the 27 columns per jet with the learned model zoo:bounded-jets27d.")
    ] = True,
    epochs: Annotated[
        int,
        typer.Option(help="0: the shipped zoo:ae4d-3; more: train ae4d-3 on the sample this long.", min=0),
    ] = 0,
    plots: Annotated[bool, typer.Option(help="Draw the report's plots.")] = True,
    workers: WorkersOpt = 2,
) -> None:
    """Show the error-bounded codec beside the standard compressors, then the seeds' autoencoder
    and what it costs, then where the report is (about a minute on 2 cores once the sample is
    cached; generating it the first time takes one to three minutes more).

    Example: hepsqueeze demo --workdir demo/ --events 2000
    """
    check_output_dir(workdir)
    from hepsqueeze.demo import DemoConfig, run_demo
    from hepsqueeze.training import EpochReport

    config = DemoConfig(
        events_per_process=events,
        seed=seed,
        max_error=max_error,
        learned=learned,
        epochs=epochs,
        workers=workers,
        plots=plots,
    )
    with progress() as bar:
        gen_task = bar.add_task("generating", total=2 * events, info="", visible=False)
        train_task = bar.add_task("training", total=epochs, info="", visible=False)

        def stage(text: str) -> None:
            console.print(f"[bold cyan]>>[/] {text}")

        def generated(done: int, total: int) -> None:
            bar.update(gen_task, visible=True, completed=done, total=total, info="events")

        def trained(r: EpochReport) -> None:
            bar.update(train_task, visible=True, completed=r.epoch, info=f"val {r.val_loss:.3g}")

        res = run_demo(workdir, config, on_stage=stage, generation_progress=generated, progress=trained)
    print_demo_result(res)


# --- rendering ------------------------------------------------------------------------------------


def _bytes(n: int | None) -> str:
    return "n/a" if n is None else f"{n:,}"


def _num(x: float | None, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def print_demo_result(res: DemoResult) -> None:
    """The three parts of the demo, in order."""
    console.rule("[bold]1. the error-bounded codec")
    _print_bounded(res.jets, checks=True)
    if res.learned is not None:
        console.rule("[bold]1b. the error-bounded codec with a learned model")
        _print_bounded(res.learned, checks=False)
    console.rule("[bold]2. the seeds' autoencoder, and what it costs")
    _print_autoencoder(res.autoencoder, res.jets, res.config.max_error)
    console.rule("[bold]3. the report")
    drawn = f"{res.report_plots} plot files" if res.report_plots else "no plots"
    console.print(
        f"evaluation report of {res.jets.path.name}: [bold]{res.report_index}[/] "
        f"({drawn}, metrics.json; {res.seconds_report:.0f} s)"
    )
    console.print(
        f"files in {res.workdir}/; sample {res.sample} generated or read from the cache in "
        f"{res.seconds_generate:.0f} s; whole demo {res.seconds_total:.0f} s"
    )


def _short_bound(text: str) -> str:
    return text.replace("relative", "rel.").replace("absolute", "abs.").replace(" (angle)", ", angle")


def _print_bounded(b: BoundedResult, *, checks: bool) -> None:
    held = "[bold green]yes[/]" if b.bound_held else "[bold red]NO[/]"
    model = f" with the learned model {b.model}" if b.model else ""
    console.print(
        f"{b.rows:,} jets, {b.title}, at [bold]{b.max_error}[/]{model}:\n"
        f"{b.path.name}: {_bytes(b.file_bytes)} bytes for {_bytes(b.raw_bytes)} bytes of arrays, "
        f"ratio [bold]{b.ratio:.2f}[/]"
    )
    worst = max((c.worst for c in b.checks), default=0.0)
    outside = sum(c.misses for c in b.checks)
    if checks:
        t = RichTable(title=f"{b.path.name} decompressed, every value checked in its column's own dtype")
        for col in ("column", "dtype", "bound", "max error", "max error / bound", "outside"):
            t.add_column(col, justify="left" if col in ("column", "dtype", "bound") else "right")
        for c in b.checks:
            err = "bit-exact" if c.bit_exact else f"{c.max_error:.4g}"
            t.add_row(c.column, c.dtype, _short_bound(c.bound), err, f"{c.worst:.4f}", str(c.misses))
        console.print(t)
    console.print(
        f"bound held on every value: {held} ({outside} of {b.rows * len(b.checks):,} values outside; "
        f"largest error / bound {worst:.4f} over the {len(b.checks)} columns)"
    )
    t = RichTable(title="the same table at the same bounds, every method measured in this run")
    for col in ("method", "kind", "bytes", "ratio", "outside", "comp. MB/s", "decomp. MB/s"):
        t.add_column(col, justify="left" if col in ("method", "kind") else "right")
    for m in b.methods:
        if m.status != "ok":
            t.add_row(m.label, m.kind, f"{m.status}: {m.message}", "", "", "", "")
            continue
        t.add_row(
            m.label,
            m.kind,
            _bytes(m.bytes),
            _num(m.ratio, ".2f"),
            _bytes(m.misses),
            _num(m.compress_mbps, ".1f"),
            _num(m.decompress_mbps, ".1f"),
            style="bold" if m.kind == "hepsqueeze" else None,
        )
    console.print(t)
    console.print(RATIO_NOTE, style="dim")
    ours = b.method("hepsqueeze+model" if b.model else "hepsqueeze")
    best = b.best_standard()
    if ours is not None and ours.ok and best is not None and best.bytes and ours.bytes:
        if ours.bytes < best.bytes:
            verdict = f"{100 * (1 - ours.bytes / best.bytes):.0f}% smaller than"
        else:
            verdict = f"{100 * (ours.bytes / best.bytes - 1):.0f}% larger than"
        console.print(
            f"{ours.label}: [bold]{verdict}[/] the best standard compressor at the same bounds, "
            f"{best.label} ({_num(best.ratio, '.2f')})"
        )
    plain = b.method("hepsqueeze")
    if b.model and plain is not None and ours is not None and plain.bytes and ours.bytes:
        console.print(
            f"the learned model (shipped with hepsqueeze, named in the file, not stored in it): "
            f"{100 * (1 - ours.bytes / plain.bytes):.0f}% smaller than the codec without it, "
            f"at {_num(ours.compress_mbps, '.1f')} against {_num(plain.compress_mbps, '.1f')} MB/s compressing"
        )


def _print_autoencoder(a: AutoencoderResult, b: BoundedResult, eps: float) -> None:
    how = (
        f"trained here: {a.epochs} epochs in {a.seconds_train:.0f} s, validation MSE {_num(a.val_mse, '.3g')}"
        if a.trained
        else "shipped, trained on other events of the same processes"
    )
    console.print(f"{a.model} ({how}), on the same {a.rows:,} jets")
    t = RichTable(title="autoencoder residuals on every jet")
    for col in ("variable", "residual", "mean", "std", "max |.|", f"max / {eps:g}"):
        t.add_column(col, justify="left" if col in ("variable", "residual") else "right")
    for var, r in a.residuals.items():
        t.add_row(
            var,
            str(r["kind"]),
            f"{r['mean']:.2e}",
            f"{r['std']:.2e}",
            f"{r['max_abs']:.2e}",
            f"{r['max_abs'] / eps:.0f}x",
        )
    console.print(t)
    decoder = dict(a.section_bytes).get("model", a.file_bytes - a.file_bytes_without_decoder)
    at = a.at_own_error
    t = RichTable(title="what it costs: the same jets, every column stored")
    for col in ("file", "bytes", "ratio", "errors"):
        t.add_column(col, justify="left" if col in ("file", "errors") else "right")
    t.add_row(a.path.name, _bytes(a.file_bytes), f"{a.ratio:.2f}", f"unbounded; {decoder:,} bytes of decoder")
    t.add_row(
        a.path_without_decoder.name,
        _bytes(a.file_bytes_without_decoder),
        f"{a.ratio_without_decoder:.2f}",
        "unbounded; the reader needs the model",
    )
    t.add_row(b.path.name, _bytes(b.file_bytes), f"{b.ratio:.2f}", f"every value within {eps:g}")
    t.add_row(
        at.path.name,
        _bytes(at.file_bytes),
        f"{at.ratio:.2f}",
        "every value within the AE's max errors" if at.bound_held else "[bold red]bound missed[/]",
    )
    console.print(t)
    console.print(
        f"{at.path.name}: the error-bounded codec at the autoencoder's own largest errors, rounded down "
        f"({at.max_error}); passthrough columns of the autoencoder's file bit-identical: {a.passthrough_identical}",
        style="dim",
    )
    console.print(_verdict(a, b, eps))


def _verdict(a: AutoencoderResult, b: BoundedResult, eps: float) -> str:
    """One honest sentence from this run's numbers: which codec stores these jets in fewer bytes,
    and at what error."""
    at = a.at_own_error
    var, worst = max(a.residuals.items(), key=lambda kv: float(kv[1]["max_abs"]))
    errs = f"errors up to {float(worst['max_abs']) / eps:.0f}x the bound ({var})"
    if b.ratio > a.ratio_without_decoder:
        return (
            f"[bold]At this size the error-bounded codec wins:[/] {b.ratio:.2f} with every value within "
            f"{eps:g}, against the autoencoder's {a.ratio:.2f} with its decoder and {a.ratio_without_decoder:.2f} "
            f"without it (what it tends to on many jets), at {errs}; at the autoencoder's own errors the "
            f"error-bounded codec reaches {at.ratio:.2f}."
        )
    if b.ratio > a.ratio:
        return (
            f"[bold]With its decoder the autoencoder loses at this size[/] ({a.ratio:.2f} against {b.ratio:.2f} "
            f"within {eps:g}); without it, its file is smaller ({a.ratio_without_decoder:.2f}) but at "
            f"{errs}, and at its own errors the error-bounded codec reaches {at.ratio:.2f}."
        )
    return (
        f"[bold]The autoencoder's file is the smaller one here[/] ({a.ratio:.2f} against {b.ratio:.2f} within "
        f"{eps:g}), at {errs}, none of them bounded; at its own errors the error-bounded codec reaches "
        f"{at.ratio:.2f}."
    )
