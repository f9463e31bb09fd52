"""The report's page, ``index.html``: a summary, the metrics tables and every figure, by section."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from hepsqueeze.atomic import atomic_open
from hepsqueeze.evaluation.figures import PLOT_SECTIONS
from hepsqueeze.evaluation.report_bounds import MAIN_TABLE
from hepsqueeze.evaluation.report_files import INDEX_FILE, MARKDOWN_FILE
from hepsqueeze.plotting.html import Section, fmt, table_html, write_page
from hepsqueeze.plotting.style import SavedPlot, percent_text, unit_of

TITLE: Final = "hepsqueeze evaluation report"

_CONVENTIONS: Final = (
    "Residual r = reconstructed \u2212 original (phi wrapped); rel. = (reconstructed \u2212 original) / original "
    "and response = reconstructed / original where original ≠ 0, for E, pt and m. Errors: std/√N for "
    "means, std/√(2N) for stds. w68 and w95: half-widths of the central 68.27% and 95.45% intervals. "
    "KS: two-sample Kolmogorov-Smirnov statistic of the original and reconstructed distributions."
)
_PHYSICS_CONVENTIONS: Final = (
    "shift = mean reconstructed \u2212 mean original (± its standard error); rel. shifts divide by the "
    "original's mean/median; per-event rel. std: spread of (reco \u2212 orig)/orig event by event; "
    "changed: fraction of events (jets) whose value changed."
)
_VARIABLE_HEADER: Final = (
    "column",
    "unit",
    "r mean",
    "± err",
    "r std",
    "r RMS",
    "max |r|",
    "r w68",
    "r w95",
    "rel. mean",
    "rel. std",
    "rel. w68",
    "rel. w95",
    "response mean",
    "response std",
    "MSE",
    "MSE (norm.)",
    "KS",
)
_PHYSICS_HEADER: Final = (
    "quantity",
    "events",
    "mean orig",
    "mean reco",
    "shift",
    "± err",
    "rel. mean shift",
    "rel. median shift",
    "std orig",
    "std reco",
    "KS",
    "per-event rel. std",
    "changed",
)
_SHIFT_KEYS: Final = (
    "n",
    "mean_in",
    "mean_out",
    "mean_shift",
    "mean_shift_err",
    "rel_mean_shift",
    "rel_median_shift",
    "std_in",
    "std_out",
    "ks",
)
_GROUP_HEADER: Final = (
    "group",
    "rows",
    "column",
    "residual",
    "mean",
    "± err",
    "std",
    "w68",
    "MSE (norm.)",
    "KS",
)


def write_index(
    m: Mapping[str, Any],
    out: Path,
    drawn: Mapping[str, Sequence[SavedPlot]],
    *,
    plot_seconds: float | None = None,
) -> Path:
    """Write ``index.html``: the metrics tables and every drawn plot, grouped by section."""
    sections = [_summary_section(m, plot_seconds)]
    if m.get("bounds"):
        sections.append(_bounds_section(m))
    sections.append(_variables_section(m))
    for key, title in PLOT_SECTIONS:
        sec = _plot_section(m, key, title, drawn.get(key, []))
        if sec.figures or sec.tables:
            sections.append(sec)
    return write_page(out / INDEX_FILE, TITLE, sections, subtitle=f"{m['created_by']}, {m['created']}")


def _summary_section(m: Mapping[str, Any], plot_seconds: float | None) -> Section:
    cols: list[str] = list(m["columns"])
    summary = Section("Summary")
    if m.get("label"):
        summary.paragraphs.append(f"Sample: {m['label']}.")
    summary.paragraphs.append(
        f"Original: {m['original']['source']} ({m['original']['rows']} rows). "
        f"Reconstructed: {m['reconstructed']['source']} ({m['reconstructed']['rows']} rows), matched in order."
    )
    summary.paragraphs.append(
        "Compressed columns: "
        + ", ".join(
            f"{c} ({v}, {m['residual_kinds'][c]} residual)" for c, v in zip(cols, m["variables"], strict=True)
        )
        + f". Normalised MSE uses the {m['normalisation']}."
    )
    summary.tables.append(table_html(["", "value"], _summary_rows(m, plot_seconds)))
    summary.notes.extend(m.get("notes", []))
    return summary


def _summary_rows(m: Mapping[str, Any], plot_seconds: float | None) -> list[list[object]]:
    rows: list[list[object]] = []
    c = m.get("container")
    codec = m.get("codec") or {}
    if c:
        rows += [
            ["container", c["path"]],
            ["codec", codec.get("name") or c.get("codec")],
            ["compression ratio", c["ratio"]],
            ["file size [bytes]", c["file_bytes"]],
            ["bits per value (whole file)", c["bits_per_value"]],
        ]
        if codec.get("latents", True):
            rows += [
                ["bits per value (latent codes)", c["latent_bits_per_value"]],
                ["latent dtype", c["latent_dtype"]],
            ]
    b = m.get("bounds")
    if b:
        rows.append(["bounds held", _held_text(b)])
    mod = m.get("model")
    if mod:
        rows += [
            ["model", f"{mod['name']} ({mod['source']})"],
            ["layers", "-".join(str(n) for n in mod["nodes"])],
            ["normalisation", mod["normalisation"]],
        ]
        if mod.get("sampled"):
            rows.append([
                "sampled variables",
                f"{', '.join(mod['sampled'])}: drawn from their distribution given the latent code "
                "(distributions kept, per-row values are draws)",
            ])  # fmt: skip
    rows += [
        ["normalised MSE, all variables", m.get("mse_normalised_total")],
        ["metrics time [s]", m["timing_s"]["metrics"]],
    ]
    if plot_seconds is not None:
        rows.append(["plot time [s]", plot_seconds])
    return rows


def _held_text(b: Mapping[str, Any]) -> str:
    """``all 67 columns`` or ``2 of 67 columns missed``."""
    missed = sum(1 for per in b["tables"].values() for c in per.values() if not c["held"])
    if not missed:
        return f"yes, all {b['columns']} columns"
    return f"NO: {missed} of {b['columns']} columns missed"


def bounds_rows(b: Mapping[str, Any]) -> list[list[object]]:
    """One row per checked column: table, column, dtype, bound, max error, max error / bound, values
    that miss, held."""
    rows: list[list[object]] = []
    for table, per in b["tables"].items():
        for col, c in per.items():
            rows.append(
                [
                    table,
                    col,
                    c["dtype"],
                    c["bound"] + (f" [{unit_of(col)}]" if c["mode"] == "absolute" and unit_of(col) else ""),
                    c["max_error"],
                    c["max_error_over_bound"],
                    f"{c['misses']} of {c['n']}",
                    "yes" if c["held"] else "NO" + (f" ({c['problem']})" if c.get("problem") else ""),
                ]
            )
    return rows


BOUNDS_HEADER: Final = (
    "table",
    "column",
    "dtype",
    "bound",
    "max error",
    "max error / bound",
    "values outside",
    "held",
)


def _bounds_section(m: Mapping[str, Any]) -> Section:
    b = m["bounds"]
    codec = m.get("codec") or {}
    sec = Section("Codec and bounds")
    sec.paragraphs.append(
        f"Codec: {codec.get('name')}. Each column's bound as the file's header states it; a value meets "
        "it if |reco \u2212 orig| <= bound \u00d7 |orig| (relative, or the floor where larger) or <= bound "
        "(absolute, in the column's unit, angles not wrapped), judged in the column's own dtype with "
        "float64 rounding to spare; lossless columns must come back bit for bit. Max error: relative "
        f"for relative bounds. Bounds held: {_held_text(b)}."
    )
    if b.get("unchecked"):
        sec.notes.append(f"not in the tables evaluated, so not checked: {', '.join(b['unchecked'])}")
    sec.tables.append(table_html(BOUNDS_HEADER, bounds_rows(b)))
    return sec


def _variables_section(m: Mapping[str, Any]) -> Section:
    per = Section("Per-variable metrics")
    per.paragraphs.append(_CONVENTIONS)
    per.tables.append(_variables_table(list(m["columns"]), m["metrics"]))
    return per


def _plot_section(m: Mapping[str, Any], key: str, title: str, figures: Sequence[SavedPlot]) -> Section:
    """The section ``key`` of :data:`PLOT_SECTIONS`: its figures, and the tables that go with them."""
    sec = Section(title, figures=list(figures))
    if key == "physics" and m.get("physics"):
        _add_physics(sec, m["physics"])
    if key == "groups":
        cols: list[str] = list(m["columns"])
        for g, groups in (m.get("groups") or {}).items():
            sec.paragraphs.append(f"By {g}:")
            sec.tables.append(_groups_table(cols, groups))
    if key == "tables":
        for name, tm in (m.get("tables") or {}).items():
            if tm.get("columns"):
                sec.paragraphs.append(f"Table {name} ({tm['rows']} rows):")
                sec.tables.append(_variables_table(list(tm["columns"]), tm["metrics"]))
    if key == "latent" and m.get("latents"):
        lat = m["latents"]
        sec.paragraphs.append(f"Latent codes: {lat['rows']} x {lat['dim']}, {lat['source']}.")
        sec.tables.append(_latent_table(lat))
    return sec


def _add_physics(sec: Section, phys: Mapping[str, Any]) -> None:
    where = "" if phys.get("table") in (None, MAIN_TABLE) else f"jets from table {phys['table']}; "
    if phys.get("met_column"):
        where += f"MET: {phys['met_column']}" + (
            "; " if phys.get("met_table") in (None, MAIN_TABLE) else f" (table {phys['met_table']}); "
        )
    if phys.get("jet_rows") == "j and b objects":
        where += "jets: the j and b objects only (HT, mjj, multiplicities, jet mass); "
    sec.paragraphs.append(
        f"{phys['n_events']} events; {where}thresholds {', '.join(f'{t:g}' for t in phys['thresholds'])} "
        "GeV; " + _PHYSICS_CONVENTIONS
    )
    frac = (phys.get("jets") or {}).get("negative_m2_fraction")
    if frac:
        sec.notes.append(
            f"jets with E < |p| (negative m², unphysical): original {percent_text(frac['original'])}, "
            f"reconstructed {percent_text(frac['reconstructed'])}; dijet pairs with negative m² "
            f"(mjj set to 0): {phys['n_negative_m2']['reconstructed']} reconstructed events"
        )
    sec.tables.append(_physics_table(phys))


def _latent_table(lat: Mapping[str, Any]) -> str:
    rows = (
        [[f"z{k}", lat["mean"][k], lat["std"][k], lat["min"][k], lat["max"][k]] for k in range(lat["dim"])]
        if lat.get("mean")
        else []
    )
    return table_html(["dimension", "mean", "std", "min", "max"], rows)


def _variables_table(cols: Sequence[str], per: Mapping[str, Any]) -> str:
    rows = []
    for col in cols:
        vm = per[col]
        r = vm["residual"]
        rel = vm.get("relative_residual") or {}
        resp = vm.get("response") or {}
        rows.append(
            [
                col,
                unit_of(col) or unit_of(vm["variable"]),
                r["mean"],
                r["mean_err"],
                r["std"],
                r["rms"],
                r["max_abs"],
                r["width68"],
                r["width95"],
                rel.get("mean"),
                rel.get("std"),
                rel.get("width68"),
                rel.get("width95"),
                resp.get("mean"),
                resp.get("std"),
                vm["mse"],
                vm["mse_normalised"],
                vm["ks"],
            ]
        )
    return table_html(_VARIABLE_HEADER, rows)


def _physics_table(phys: Mapping[str, Any]) -> str:
    rows = [_shift_row(key, q) for key, q in phys["quantities"].items() if q.get("n")]
    jets = phys.get("jets")
    if jets and jets.get("mass", {}).get("n"):
        rows.append(_shift_row("jet mass (per jet)", jets["mass"]))
    return table_html(_PHYSICS_HEADER, rows)


def _shift_row(label: str, q: Mapping[str, Any]) -> list[Any]:
    """One row of the physics table: a quantity's distributions before and after, and their shift."""
    return [label, *(q[k] for k in _SHIFT_KEYS), q["per_event_relative"]["std"], q["changed_fraction"]]


def _groups_table(cols: Sequence[str], groups: Mapping[str, Any]) -> str:
    rows = []
    for g, data in groups.items():
        for col in cols:
            vm = data["variables"][col]
            st = vm.get("relative_residual") or vm["residual"]
            what = "relative" if vm.get("relative_residual") else "absolute"
            rows.append(
                [
                    g,
                    data["n"],
                    col,
                    what,
                    st["mean"],
                    st["mean_err"],
                    st["std"],
                    st["width68"],
                    vm["mse_normalised"],
                    vm["ks"],
                ]
            )
    return table_html(_GROUP_HEADER, rows)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    def cell(v: object) -> str:
        return fmt(v).replace("|", "\\|")

    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(cell(v) for v in row) + " |" for row in rows),
    ]


def markdown_text(m: Mapping[str, Any]) -> str:
    """The report's short markdown: sample, codec, the bounds table, the per-variable residuals."""
    lines = [f"# {TITLE}", "", f"{m['created_by']}, {m['created']}", ""]
    if m.get("label"):
        lines += [f"Sample: {m['label']}", ""]
    lines += [f"Original: {m['original']['source']} ({m['original']['rows']} rows)", ""]
    c = m.get("container")
    if c:
        codec = (m.get("codec") or {}).get("name") or c.get("codec")
        lines += [f"Container: {c['path']}, codec {codec}, ratio {fmt(c['ratio'])}", ""]
    b = m.get("bounds")
    if b:
        lines += [
            "## Bounds",
            "",
            f"Held: {_held_text(b)}",
            "",
            *_md_table(BOUNDS_HEADER, bounds_rows(b)),
            "",
        ]
    rows = []
    for col in m["columns"]:
        vm = m["metrics"][col]
        r = vm.get("relative_residual") or vm["residual"]
        kind = "relative" if vm.get("relative_residual") else "absolute"
        rows.append([col, unit_of(col), kind, r["mean"], r["std"], r["width68"], r["max_abs"], vm["ks"]])
    lines += [
        "## Residuals",
        "",
        *_md_table(("column", "unit", "residual", "mean", "std", "w68", "max |r|", "KS"), rows),
        "",
    ]
    return "\n".join(lines)


def write_markdown(m: Mapping[str, Any], out: Path) -> Path:
    """Write ``report.md`` (:func:`markdown_text`) into the report directory."""
    path = out / MARKDOWN_FILE
    with atomic_open(path, force=True) as fh:
        fh.write(markdown_text(m).encode("utf-8"))
    return path


__all__ = ["BOUNDS_HEADER", "TITLE", "bounds_rows", "markdown_text", "write_index", "write_markdown"]
