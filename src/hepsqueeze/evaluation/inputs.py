"""The evaluation's inputs: the two tables matched row by row, the compressed file, the model, the
columns to evaluate and their variable names, the grouping columns and the latent codes."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ColumnError, InputError, ModelError, missing_column_message
from hepsqueeze.evaluation.physics import EVENT_COLUMN
from hepsqueeze.io.table import Table
from hepsqueeze.models.model import CompressionModel
from hepsqueeze.plotting.style import branch_variable

#: Grouping columns used when present and none are asked for.
GROUP_COLUMNS: Final = ("process", "object")

#: A model, or the path or zoo name of one.
ModelLike = CompressionModel | str | os.PathLike[str]


def check_rows(original: Table, reconstructed: Table) -> None:
    """Raise :class:`InputError` unless both tables have the same number of rows (they are matched in order)."""
    if original.num_rows != reconstructed.num_rows:
        raise InputError(
            f"original {original.source} has {original.num_rows} rows but reconstructed "
            f"{reconstructed.source} has {reconstructed.num_rows}; rows are matched in order, so both "
            "must hold the same rows"
        )
    if original.num_rows == 0:
        raise InputError(f"original {original.source} has no rows: nothing to evaluate")


def read_container(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What the report uses from a compressed file: ``info`` (:func:`file_info`), ``decoder`` (the
    embedded decoder-only model, or None) and ``latents`` (the stored codes as float32, or None)."""
    from hepsqueeze.container import ContainerReader
    from hepsqueeze.file.reader import file_info
    from hepsqueeze.models.io import model_from_bytes

    info = file_info(path)
    decoder: CompressionModel | None = None
    latents: npt.NDArray[np.float32] | None = None
    with ContainerReader.open(path) as reader:
        embedded = reader.find("model")
        if embedded:
            decoder = model_from_bytes(reader.read_bytes(embedded[0]), f"{path} (embedded model)")
        parts = [reader.read_array(s) for s in sorted(reader.find("latent"), key=lambda s: s.chunk)]
        if parts:
            latents = np.concatenate(parts).astype(np.float32)
    return {"info": info, "decoder": decoder, "latents": latents}


def load_model(model: ModelLike | None) -> CompressionModel | None:
    """``model`` itself, or the model at its path or zoo name (None stays None)."""
    if model is None or isinstance(model, CompressionModel):
        return model
    from hepsqueeze.zoo import resolve_model

    return resolve_model(model)


def resolve_columns(
    original: Table,
    reconstructed: Table,
    *,
    columns: Sequence[str] | None = None,
    variables: Sequence[str] | None = None,
    model: CompressionModel | None = None,
    header: Mapping[str, Any] | None = None,
) -> tuple[list[str], list[str]]:
    """The compressed columns and their variable names.

    ``columns`` if given, else the model's, else the container header's, else the float columns both
    tables share except ``event``. ``variables`` (which decide residual conventions) default to the
    model's or header's variables when the counts match, else to the column names; a ROOT branch
    name stands for the variable of its suffix (``Jet_pt``: pt, ``Jet_mass``: m; see
    :func:`~hepsqueeze.plotting.style.branch_variable`).
    """
    comp = (header or {}).get("compressed", {}) if header else {}
    cols = _columns(original, reconstructed, columns, model, comp)
    if not cols:
        raise ColumnError(
            f"no float columns shared by {original.source} and {reconstructed.source} to evaluate; pass columns"
        )
    for c in cols:
        for t, what in ((original, "original"), (reconstructed, "reconstructed")):
            if c not in t:
                raise ColumnError(missing_column_message(c, t.names, f"{what} {t.source}"))
    var = _variables(cols, variables, model, comp)
    if len(var) != len(cols):
        raise ColumnError(
            f"{len(cols)} columns ({', '.join(cols)}) but {len(var)} variables ({', '.join(var)})"
        )
    return cols, var


def _columns(
    original: Table,
    reconstructed: Table,
    columns: Sequence[str] | None,
    model: CompressionModel | None,
    comp: Mapping[str, Any],
) -> list[str]:
    if columns:
        return list(columns)
    if model is not None:
        return list(model.columns)
    if comp.get("columns"):
        return [str(c) for c in comp["columns"]]
    return [
        n
        for n in original.names
        if n != EVENT_COLUMN
        and n in reconstructed
        and original[n].dtype.kind == "f"
        and reconstructed[n].dtype.kind == "f"
    ]


def _variables(
    cols: Sequence[str],
    variables: Sequence[str] | None,
    model: CompressionModel | None,
    comp: Mapping[str, Any],
) -> list[str]:
    if variables:
        return list(variables)
    if model is not None and len(model.variables) == len(cols):
        return list(model.variables)
    if comp.get("variables") and len(comp["variables"]) == len(cols):
        return [branch_variable(str(v)) for v in comp["variables"]]
    return [branch_variable(c) for c in cols]


def group_columns(original: Table, group_by: str | Sequence[str] | None) -> list[str]:
    """The grouping columns: ``group_by`` (each must be in ``original``), by default those of
    :data:`GROUP_COLUMNS` that ``original`` has."""
    if group_by is None:
        return [g for g in GROUP_COLUMNS if g in original]
    wanted = [group_by] if isinstance(group_by, str) else list(group_by)
    for g in wanted:
        if g not in original:
            raise ColumnError(missing_column_message(g, original.names, f"original {original.source}"))
    return wanted


#: Display names of generated processes where they differ from the name.
_PROCESS_NAMES: Final = {"qcd": "QCD", "wjets": "W+jets", "zjets": "Z+jets", "ttbar_boosted": "boosted ttbar"}
#: The source of a generated table: ``<ttbar jets sample, ...>`` or ``<ttbar+qcd mixture, ...>``.
_GENERATED = re.compile(r"^<(?P<procs>[\w+]+) (?:\w+ sample|mixture),")
#: The collision energy at the end of a generated table's source: ``..., seed 1, 13 TeV>``.
_ENERGY = re.compile(r", (?P<tev>[0-9.]+) TeV>$")


def sample_label(table: Table, label: str | None = None) -> str:
    """The sample label of a report's plots: ``label`` if given; else what the table says of itself:
    a generated table (``ttbar + QCD, Pythia 8``, with ``√s = 13 TeV`` where the file's metadata
    records the energy), else the name of its file (a neutral default)."""
    if label is not None:
        return label
    match = _GENERATED.match(table.source)
    if match:
        procs = [_PROCESS_NAMES.get(p, p) for p in match["procs"].split("+")]
        energy = _ENERGY.search(table.source)
        return f"{' + '.join(procs)}, Pythia 8" + (f", \u221as = {energy['tev']} TeV" if energy else "")
    meta = _generator_metadata(table.source)
    if meta is not None:
        text = f"{_PROCESS_NAMES.get(str(meta.get('process')), str(meta.get('process')))}, Pythia 8"
        ecm = meta.get("ecm_gev")
        if isinstance(ecm, int | float):
            text += f", \u221as = {ecm / 1000:g} TeV"
        return text
    return Path(table.source).name if table.source and not table.source.startswith("<") else ""


def _generator_metadata(source: str) -> dict[str, Any] | None:
    """The generator configuration a Parquet file's metadata holds (``hepsqueeze.config``), if any."""
    path = Path(source)
    if path.suffix.lower() != ".parquet" or not path.is_file():
        return None
    try:
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
        raw = meta.get(b"hepsqueeze.config")
        config = json.loads(raw) if raw else None
    except (OSError, ValueError, ImportError):
        return None
    return config if isinstance(config, dict) and "process" in config else None


def latent_codes(
    original: Table,
    columns: Sequence[str],
    mdl: CompressionModel | None,
    stored: Mapping[str, Any] | None,
    notes: list[str],
) -> tuple[npt.NDArray[np.float32] | None, str]:
    """The latent codes of ``original`` and where they came from: those stored in the container
    (``stored``, from :func:`read_container`) when they match its rows, else ``mdl``'s encoding of
    ``columns``; ``(None, "")`` with a note appended to ``notes`` when neither is available."""
    if stored is not None and stored["latents"] is not None:
        z = stored["latents"]
        if z.shape[0] == original.num_rows:
            return z, "latent codes stored in the container"
        notes.append(
            f"the container holds {z.shape[0]} latent rows, the original {original.num_rows}: ignored"
        )
    if mdl is not None and mdl.has_encoder:
        if len(columns) != len(mdl.variables):
            notes.append("the model's inputs do not match the evaluated columns: no latent space")
            return None, ""
        try:
            return mdl.encode(original.stack(columns)), f"encoded with model {mdl.name!r}"
        except (InputError, ModelError) as exc:
            notes.append(f"could not encode the original with the model: {exc}")
            return None, ""
    notes.append("no latent codes: pass the container or the full model (a decoder alone cannot encode)")
    return None, ""


__all__ = [
    "GROUP_COLUMNS",
    "ModelLike",
    "check_rows",
    "group_columns",
    "latent_codes",
    "load_model",
    "read_container",
    "resolve_columns",
    "sample_label",
]
