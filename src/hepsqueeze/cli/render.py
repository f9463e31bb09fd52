"""What the commands print: the consoles, progress bars, tables and the one-line error."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table as RichTable

console = Console()
err_console = Console(stderr=True)


# --- errors --------------------------------------------------------------------------------------------


def print_error(message: str) -> None:
    """``error: MESSAGE`` on stderr (``message`` is rich markup: escape what it quotes)."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True, markup=True)


# --- progress ------------------------------------------------------------------------------------------


def progress() -> Progress:
    """The progress bars on stderr: description, bar, done/total, an info field, times."""
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


def task_reporter(bar: Progress) -> Callable[[str, Any], None]:
    """A progress callback for studies: one bar per trained model (label), epochs done, val loss."""
    tasks: dict[str, Any] = {}

    def report(label: str, r: Any) -> None:
        if label not in tasks:
            tasks[label] = bar.add_task(label, total=r.epochs, info="")
        bar.update(tasks[label], completed=r.epoch, info=f"val {r.val_loss:.3g}")

    return report


# --- tables --------------------------------------------------------------------------------------------


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data))


def print_residuals(residuals: Mapping[str, Mapping[str, Any]], title: str) -> None:
    """Per variable: its residual kind, mean, std and largest absolute value."""
    t = RichTable(title=title)
    for col in ("variable", "residual", "mean", "std", "max |.|"):
        t.add_column(col, justify="right" if col not in ("variable", "residual") else "left")
    for var, r in residuals.items():
        t.add_row(
            var,
            _residual_kind(r["kind"]),
            f"{r['mean']:.2e}",
            f"{r['std']:.2e}",
            f"{r['max_abs']:.2e}",
        )
    console.print(t)


def print_metrics(result: Mapping[str, Any]) -> None:
    """The evaluation's per-column residual statistics and KS distance."""
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


def print_processes(processes: Iterable[Mapping[str, Any]]) -> None:
    """``generate --list``: every process, its parameters (as flags) and its Pythia settings."""
    t = RichTable(title="processes (pp, 13 TeV, Pythia 8; anti-kt R=0.4 jets, pt > 20 GeV, |eta| < 4.5)")
    for col in ("name", "description", "uses", "Pythia settings"):
        t.add_column(col)
    for proc in processes:
        uses = ", ".join("--" + p.replace("_", "-") for p in proc["parameters"])
        t.add_row(proc["name"], proc["description"], uses, "\n".join(proc["settings"]))
    console.print(t)


def print_sections(title: str, section_bytes: Mapping[str, int], file_bytes: int) -> None:
    """``info``: the bytes and share of the file of each section kind."""
    t = RichTable(title=title)
    t.add_column("section kind")
    t.add_column("bytes", justify="right")
    t.add_column("share", justify="right")
    for kind, size in section_bytes.items():
        t.add_row(kind, str(size), f"{100 * size / max(file_bytes, 1):.1f}%")
    console.print(t)


_CODEC_WORDS = {
    "bounded": "error-bounded",
    "bounded-jets": "error-bounded, for jets",
    "autoencoder": "learned: no error bound",
}


def _dtype_name(dtype: str) -> str:
    import numpy as np

    try:
        return np.dtype(dtype).name
    except TypeError:
        return dtype


def _model_line(model: Mapping[str, Any]) -> str:
    """``model: NAME (hash H), embedded in the file`` or what decompressing without it needs."""
    digest = model.get("sha256") or model.get("decoder_hash") or "?"
    nodes = model.get("nodes")
    shape = f", layers {'-'.join(map(str, nodes))}" if isinstance(nodes, list) else ""
    where = "embedded in the file" if model.get("embedded") else "not embedded: decompress needs it (--model)"
    return f"model: {model.get('name')} (hash {str(digest)[:16]}{shape}), {where}"


def print_file_summary(summary: Any) -> None:
    """``info``: what the file holds and how its bytes are spent, in a few lines and two tables."""
    s = summary
    size = max(s.file_bytes, 1)
    chunking = f"{s.chunks} chunk{'s' if s.chunks != 1 else ''}" + (
        f" of up to {s.chunk_rows} rows" if s.chunk_rows and s.chunks > 1 else ""
    )
    lines = [
        f"[bold]{escape(s.path)}[/]",
        f"  codec: {escape(s.codec)} ({_CODEC_WORDS.get(s.codec, 'unknown codec')}), data format {s.data_format}, "
        f"written by {escape(s.created_by)}",
        f"  rows: {s.rows} in {chunking}",
        f"  size: {s.file_bytes} bytes, ratio {s.ratio:.2f} (4 bytes x rows x compressed columns of the main "
        "table / file bytes)",
    ]
    if s.tables and s.array_bytes:  # the ratio above counts the main table only
        lines.append(
            f"  arrays: {s.array_bytes} bytes in every table as its dtypes, {s.array_bytes / size:.2f} x this file"
        )
    given = s.input.get("size_bytes")
    if isinstance(given, int) and given > 0:
        name = escape(str(s.input.get("path", "the input")))
        lines.append(f"  input: {name}, {given} bytes ({given / size:.2f} x this file)")
    if s.tables:
        lines.append(
            "  auxiliary tables: " + ", ".join(f"{escape(t)} ({n} rows)" for t, n in s.tables.items())
        )
    if s.model is not None:
        lines.append("  " + escape(_model_line(s.model)))
    for line in lines:
        console.print(line, highlight=False)
    with_tables = any(c.table is not None for c in s.columns)
    joint = any(c.joint for c in s.columns)
    t = RichTable(
        title="columns",
        caption="bytes: each column's own payloads"
        + ("; joint: coded together, in the rows below" if joint else ""),
    )
    for col in (
        *(("table",) if with_tables else ()),
        "column",
        "dtype",
        "bound",
        "bytes",
        "share",
        "stored exactly",
    ):
        t.add_column(col, justify="right" if col in ("bytes", "share", "stored exactly") else "left")
    for c in s.columns:
        stored = (
            str(c.stored_bytes)
            if not c.joint
            else (f"{c.stored_bytes} + joint" if c.stored_bytes else "joint")
        )
        t.add_row(
            *((escape(c.table or ""),) if with_tables else ()),
            escape(c.name),
            _dtype_name(c.dtype),
            c.bound,
            stored,
            f"{100 * c.stored_bytes / size:.1f}%" if c.stored_bytes or not c.joint else "",
            str(c.stored_exactly) if c.stored_exactly else "",
        )
    for what, nbytes in s.joint_bytes.items():
        t.add_row(
            *(("",) if with_tables else ()),
            f"[dim]({escape(what)})[/]",
            "",
            "",
            str(nbytes),
            f"{100 * nbytes / size:.1f}%",
            "",
        )
    console.print(t)
    print_sections("bytes per section kind", s.section_bytes, s.file_bytes)


def print_zoo(cards: Iterable[Any], size_bytes: Callable[[str], int]) -> None:
    """``zoo list``: each shipped model's card (training data, test-split residual std, size)."""
    t = RichTable(title="hepsqueeze model zoo (use --model zoo:NAME)")
    for col in ("name", "description", "trained on", "test residual std", "size"):
        t.add_column(col)
    for c in cards:
        data = c.training.get("data", {})
        rows = data.get("rows", {}).get("total", "?")
        trained = f"{' + '.join(data.get('processes', []))}: {rows} jets, seed {data.get('seed')}"
        items = list(c.test_metrics.items())
        stds = ", ".join(f"{v} {m['std']:.2g}" for v, m in items[:4]) + (
            f", ... ({len(items)} variables)" if len(items) > 4 else ""
        )
        t.add_row(c.name, c.description, trained, stds, f"{size_bytes(c.name) / 1024:.0f} kB")
    console.print(t)


def print_validation(res: Any) -> None:
    """``zoo validate``: per variable the card's and the measured residual, the band, the verdict."""
    t = RichTable(title=f"zoo:{res.name} on a fresh sample ({res.rows} jets, seed {res.sample['seed']})")
    for col in ("variable", "residual", "card std", "measured std", "allowed", "ok"):
        t.add_column(col)
    for var, v in res.variables.items():
        if v["kind"] == "integer":  # integers are judged by their rate of wrongly rounded values
            cells = ("mismatch rate", v["card_mismatch"], v["measured_mismatch"])
        else:
            cells = (_residual_kind(v["kind"]), v["card_std"], v["measured_std"])
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


def _residual_kind(kind: str) -> str:
    return "(out-in)/in" if kind == "relative" else "out-in"


# --- lines -------------------------------------------------------------------------------------------


def print_compressed(rep: Any, output: Path, input_bytes: int, within: str | None, exact_why: str) -> None:
    """``compress``: the values stored exactly (and why), then rows, columns, bytes and ratios."""
    if rep.exception_count:
        console.print(f"stored {rep.exception_count} values exactly ({exact_why}): {rep.exceptions}")
    bound = f" within {within}" if within is not None else ""
    arrays = ""
    if rep.auxiliary_rows:  # the defined ratio counts the main table only: say what every table gives
        from hepsqueeze.file.reader import file_info, header_array_bytes

        array_bytes = header_array_bytes(file_info(output)["header"])
        if array_bytes:
            arrays = f", {array_bytes / rep.file_bytes:.2f} vs every table's arrays ({array_bytes} bytes)"
    console.print(
        f"compressed {rep.rows} rows ({', '.join(rep.compressed_columns)}){bound} to {output}: "
        f"{rep.file_bytes} bytes, ratio {rep.ratio:.2f} (float32 values of the main table / file)"
        f"{arrays}, {input_bytes / rep.file_bytes:.2f} vs the input file ({input_bytes} bytes)"
    )


def print_unbound(output: Path) -> None:
    """``compress`` (error-bounded codec): the float columns no term named, stored losslessly."""
    from hepsqueeze.codecs.bounded.table_codec import unbound_columns
    from hepsqueeze.file.reader import file_info

    unbound = unbound_columns(file_info(output)["header"])
    if unbound:
        console.print(f"[yellow]stored losslessly (no bound given):[/] {', '.join(unbound)}", highlight=False)


def print_trained(model: Any, output: Path) -> None:
    """``train``: what was trained on, how long, the best validation loss; the test-split residuals."""
    t = model.training
    console.print(
        f"trained {model.name} on {t['rows']['train']} rows ({t['epochs_run']} epochs, {t['seconds']:.0f} s, "
        f"{t['stopped']}); best validation MSE {t['best_val_mse_normalised']:.3g}; saved to {output}"
    )
    test = t["metrics"].get("test")
    if test:
        print_residuals(test["residuals"], title="test split residuals")


def print_trained_conditional(result: Any, output: Path) -> None:
    """``train --codec bounded``: bits per value of every target on held-out rows, with and without the model."""
    model = result.model
    table = RichTable(
        title=f"{model.name}: held-out bits per value ({model.training.get('validation_rows')} rows)"
    )
    for col in ("column", "model", "symbols alone"):
        table.add_column(col, justify="left" if col == "column" else "right")
    for name, bits in result.bits.items():
        table.add_row(name, f"{bits:.2f}", f"{result.baseline_bits[name]:.2f}")
    table.add_row("total", f"{sum(result.bits.values()):.1f}", f"{sum(result.baseline_bits.values()):.1f}")
    console.print(table)
    console.print(f"{model.parameters} parameters; sha256 {model.hash[:16]}...; saved to {output}")


def print_many(records: Sequence[Any], seconds: float) -> None:
    """``compress --out-dir``: one line per failure, then the summary (files, bytes, ratio, rates)."""
    for r in records:
        if r.status.value == "failed":
            console.print(f"[red]failed:[/] {r.input}: {r.error}", highlight=False)
    table = RichTable(title="files")
    for col in (
        "files",
        "written",
        "skipped",
        "failed",
        "input bytes",
        "output bytes",
        "ratio",
        "files/s",
        "MB/s",
    ):
        table.add_column(col, justify="right")
    ok = [r for r in records if r.status.value != "failed"]
    in_bytes = sum(r.input_bytes for r in ok)
    out_bytes = sum(r.output_bytes for r in ok)
    count = {s: sum(r.status.value == s for r in records) for s in ("written", "skipped", "failed")}
    table.add_row(
        str(len(records)), str(count["written"]), str(count["skipped"]), str(count["failed"]),
        str(in_bytes), str(out_bytes), f"{in_bytes / out_bytes:.2f}" if out_bytes else "-",
        f"{len(records) / seconds:.2f}", f"{in_bytes / 1e6 / seconds:.1f}",
    )  # fmt: skip
    console.print(table)


def print_warnings(warnings: Iterable[Mapping[str, Any]]) -> None:
    """``inspect``: one yellow line per warning about a column."""
    for w in warnings:
        console.print(f"[yellow]warning:[/] {w.get('column', '')}: {w.get('message', w)}", highlight=False)


def print_markdown_report(text: str) -> None:
    """A markdown table (benchmark, studies) as it is: no markup, no highlighting."""
    console.print(text, markup=False, highlight=False)
