"""The seeds' generalisation test: a 4D model trained on jets of some processes, applied unchanged to
jets of other processes and to other objects (b-jets, electrons, muons, photons).

Everything comes from DarkMachines-style event samples (``--kind events``) of the generator, whose
``j`` objects are the same jets as ``--kind jets``: a training sample of the training processes and a
fresh test sample (next seed) of every process. Models compared in the same table:

- ``jets``: trained on the jets (``j`` and ``b``) of the training sample, the seeds' setting;
- ``all-objects``: the event-level option, one model trained on every object of the training sample;
- ``per-type``: one model per object type (jet, b-jet, electron, muon, photon), each object routed
  to its type's model (types with too few training objects are left out and named);
- any further models passed in (e.g. the zoo's ``ae4d-3``), applied as they are.

Rows are the test sample's jets of each process and its objects of each type (all processes pooled).
Residuals are relative for E and pt, absolute for eta and phi (phi wrapped), as everywhere. A row
*fails* when a residual std exceeds ``fail_factor`` (1.5, issue 20's criterion) times that of the
model's own reference row (the training processes' jets of the test sample); each row's worst ratio
is in the table, and the fraction of values outside the model's training range (which the codec
stores exactly as exceptions) is reported with it.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.codecs.autoencoder.exceptions import count_outside_training_range
from hepsqueeze.errors import ConfigError
from hepsqueeze.io.formats.darkmachines import OBJECT_TYPES
from hepsqueeze.metrics.residuals import residual_summary
from hepsqueeze.models.model import CompressionModel
from hepsqueeze.models.presets import get_preset
from hepsqueeze.studies.output import write_json_markdown
from hepsqueeze.training.config import TrainConfig
from hepsqueeze.training.trainer import EpochReport, train_model

log = logging.getLogger(__name__)

VARIABLES: Final = ("E", "pt", "eta", "phi")
#: Object groups of the study and the DarkMachines object types each holds (charges pooled).
OBJECT_GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "jet": ("j",),
    "b-jet": ("b",),
    "electron": ("e-", "e+"),
    "muon": ("m-", "m+"),
    "photon": ("g",),
}
JET_GROUPS: Final = ("jet", "b-jet")


@dataclass(frozen=True)
class GeneralisationConfig:
    """Samples and training of the study (events per process; seeds: ``seed`` train, ``seed + 1`` test)."""

    train_processes: tuple[str, ...] = ("ttbar", "qcd")
    test_processes: tuple[str, ...] = ("wjets", "zjets", "singletop", "diboson", "zprime", "excitedq")
    train_events: int = 12000
    test_events: int = 3000
    seed: int = 1
    preset: str = "ae4d-3"
    epochs: int = 200
    batch_size: int = 1024
    lr: float = 3e-3
    per_type: bool = True
    #: Train the study's own models (jets, all-objects, per-type); False: apply the given models only.
    train: bool = True
    min_train_rows: int = 500  # fewest training objects of a per-type model
    fail_factor: float = 1.5
    workers: int = 2
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from hepsqueeze.datasets.processes import PROCESSES

        object.__setattr__(self, "train_processes", tuple(self.train_processes))
        object.__setattr__(self, "test_processes", tuple(self.test_processes))
        if not self.train_processes:
            raise ConfigError("the generalisation study needs at least one training process")
        for p in (*self.train_processes, *self.test_processes):
            if p not in PROCESSES:
                raise ConfigError(f"unknown process {p!r} (known: {', '.join(PROCESSES)})")
        overlap = set(self.train_processes) & set(self.test_processes)
        if overlap:
            raise ConfigError(f"processes both trained on and held out: {', '.join(sorted(overlap))}")
        for name in ("train_events", "test_events", "epochs", "batch_size", "workers", "min_train_rows"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.fail_factor > 1:
            raise ConfigError(f"fail_factor must be above 1, got {self.fail_factor}")
        get_preset(self.preset)
        if get_preset(self.preset).n_features != len(VARIABLES):
            raise ConfigError(f"preset {self.preset!r} does not take the 4 variables {', '.join(VARIABLES)}")


@dataclass(frozen=True)
class Objects:
    """Objects of an event sample: ``x`` ``(rows, 4)`` E, pt (GeV), eta, phi; process and group per row."""

    x: npt.NDArray[np.float32]
    process: npt.NDArray[np.str_]
    group: npt.NDArray[np.str_]

    def select(self, mask: npt.NDArray[np.bool_]) -> Objects:
        return Objects(self.x[mask], self.process[mask], self.group[mask])

    @classmethod
    def concat(cls, parts: Sequence[Objects]) -> Objects:
        return cls(
            np.concatenate([p.x for p in parts]),
            np.concatenate([p.process for p in parts]),
            np.concatenate([p.group for p in parts]),
        )


def event_objects(
    process: str, events: int, seed: int, *, workers: int = 1, cache_dir: str | os.PathLike[str] | None = None
) -> Objects:
    """The objects of ``events`` generated events of ``process`` (kind ``events``, cached)."""
    from hepsqueeze.datasets import GeneratorConfig, generate_events

    ds = generate_events(
        GeneratorConfig(process, events, seed=seed, kind="events"), workers=workers, cache_dir=cache_dir
    )
    table = ds.table
    x = table.stack(VARIABLES, dtype=np.float32)
    types = np.asarray(OBJECT_TYPES)[table["object"].astype(np.int64)]
    to_group = {t: g for g, ts in OBJECT_GROUPS.items() for t in ts}
    group = np.array([to_group[t] for t in types.tolist()], dtype=np.str_)
    return Objects(x, np.full(x.shape[0], process), group)


class _Router:
    """Applies one model, or one model per object group."""

    def __init__(self, models: Mapping[str, CompressionModel]) -> None:
        self.models = dict(models)

    def covers(self, objects: Objects) -> bool:
        """Whether a model takes every object (per-type: every object's group has a model)."""
        return "*" in self.models or bool(np.isin(objects.group, list(self.models)).all())

    def reconstruct(self, objects: Objects) -> npt.NDArray[np.float32]:
        if "*" in self.models:
            return self.models["*"].reconstruct(objects.x)
        out = np.full_like(objects.x, np.nan)
        for group, model in self.models.items():
            rows = objects.group == group
            if rows.any():
                out[rows] = model.reconstruct(objects.x[rows])
        return out

    def outside_range(self, objects: Objects) -> float:
        """Fraction of values outside the training split's min-max of the model that takes them."""
        bad, total = 0, 0
        for group, model in self.models.items():
            rows = slice(None) if group == "*" else objects.group == group
            x = objects.x[rows]
            outside = count_outside_training_range(model, x) if x.size else None
            if outside is None:
                continue
            bad += outside
            total += x.size
        return bad / total if total else float("nan")


def run_generalisation_study(
    config: GeneralisationConfig,
    *,
    extra_models: Mapping[str, CompressionModel] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Callable[[str, EpochReport], None] | None = None,
) -> dict[str, Any]:
    """Generate the samples, train the study's models, evaluate every model on every row (JSON-able)."""
    train_parts = [
        event_objects(p, config.train_events, config.seed, workers=config.workers, cache_dir=cache_dir)
        for p in config.train_processes
    ]
    train = Objects.concat(train_parts)
    if not config.train and not extra_models:
        raise ConfigError("the generalisation study without training needs at least one model to apply")
    all_processes = (*config.train_processes, *config.test_processes)
    test = Objects.concat(
        [
            event_objects(p, config.test_events, config.seed + 1, workers=config.workers, cache_dir=cache_dir)
            for p in all_processes
        ]
    )
    arch = get_preset(config.preset)
    options = TrainConfig(
        epochs=config.epochs,
        batch_size=config.batch_size,
        lr=config.lr,
        seed=config.seed,
        patience=config.epochs,
        device="cpu",
    )

    def fit(label: str, rows: Objects) -> CompressionModel:
        log.info("generalisation study: training %s on %d objects", label, rows.x.shape[0])

        def report(r: EpochReport) -> None:
            if progress is not None:
                progress(label, r)

        return train_model(rows.x, VARIABLES, VARIABLES, arch, options, name=label, progress=report)

    routers: dict[str, _Router] = {}
    notes: list[str] = []
    if config.train:
        routers["jets"] = _Router({"*": fit("jets", train.select(np.isin(train.group, JET_GROUPS)))})
        routers["all-objects"] = _Router({"*": fit("all-objects", train)})
    if config.train and config.per_type:
        per_type: dict[str, CompressionModel] = {}
        for group in OBJECT_GROUPS:
            rows = train.select(train.group == group)
            if rows.x.shape[0] < config.min_train_rows:
                notes.append(
                    f"per-type: no {group} model ({rows.x.shape[0]} training objects < {config.min_train_rows})"
                )
                continue
            per_type[group] = fit(f"per-type/{group}", rows)
        routers["per-type"] = _Router(per_type)
    for label, model in (extra_models or {}).items():
        if tuple(model.variables) != VARIABLES:
            raise ConfigError(f"model {label!r} has variables {model.variables}, the study needs {VARIABLES}")
        routers[label] = _Router({"*": model})

    counts = {
        "train": {g: int(np.count_nonzero(train.group == g)) for g in OBJECT_GROUPS},
        "test": {g: int(np.count_nonzero(test.group == g)) for g in OBJECT_GROUPS},
    }
    jets = np.isin(test.group, JET_GROUPS)
    row_masks: list[tuple[str, str, npt.NDArray[np.bool_]]] = [
        ("process", p, jets & (test.process == p)) for p in all_processes
    ] + [("object", g, test.group == g) for g in OBJECT_GROUPS]

    models: dict[str, Any] = {}
    for label, router in routers.items():
        recon = router.reconstruct(test)
        rows_out: list[dict[str, Any]] = []
        for kind, name, mask in row_masks:
            entry: dict[str, Any] = {"kind": kind, "name": name, "n": int(mask.sum())}
            sub = test.select(mask)
            if entry["n"] and router.covers(sub):
                entry["residuals"] = residual_summary(sub.x, recon[mask], VARIABLES)
                for v in VARIABLES:
                    r = entry["residuals"][v]
                    r["mean_err"] = r["std"] / np.sqrt(max(r["n"], 1))
                entry["outside_training_range"] = router.outside_range(sub)
            else:
                entry["residuals"] = None
            rows_out.append(entry)
        models[label] = {"rows": rows_out}
        _flag_failures(models[label], config.train_processes, config.fail_factor)

    return {
        "config": {k: v for k, v in config.__dict__.items() if k != "extra"} | {"extra": config.extra},
        "variables": list(VARIABLES),
        "objects": counts,
        "models": models,
        "notes": notes,
    }


def _flag_failures(result: dict[str, Any], reference: Sequence[str], factor: float) -> None:
    """Mark rows whose residual std exceeds ``factor`` times the reference (training-process jets)."""
    ref_rows = [
        r for r in result["rows"] if r["kind"] == "process" and r["name"] in reference and r["residuals"]
    ]
    if not ref_rows:
        return
    weights = np.array([r["n"] for r in ref_rows], dtype=np.float64)
    ref = {
        v: float(np.sqrt(np.average([r["residuals"][v]["std"] ** 2 for r in ref_rows], weights=weights)))
        for v in VARIABLES
    }
    result["reference_std"] = ref
    for r in result["rows"]:
        if not r["residuals"]:
            continue
        worse = {v: r["residuals"][v]["std"] / ref[v] for v in VARIABLES if ref[v] > 0}
        r["std_ratio"] = worse
        r["fails"] = sorted(v for v, k in worse.items() if k > factor)


def study_markdown(result: Mapping[str, Any]) -> str:
    """One table: a row per (test row, model) with residual mean +- std per variable."""
    cfg = result["config"]
    variables = result["variables"]
    head = [
        "row",
        "model",
        "n",
        *[f"{v} mean ± std" for v in variables],
        "outside range",
        "worst std ratio",
        "fails",
    ]
    trained = cfg.get("train", True)
    title = (
        f"{cfg['preset']} trained on {', '.join(cfg['train_processes'])}"
        if trained
        else f"{', '.join(result['models'])} on jets of processes other than {', '.join(cfg['train_processes'])}"
    )
    lines = [
        f"# Generalisation study: {title}",
        "",
        (
            f"Training sample: {cfg['train_events']:,} events per training process (seed {cfg['seed']}); "
            if trained
            else "Models applied as they are (none trained here); "
        )
        + f"test sample: {cfg['test_events']:,} events of every process (seed {cfg['seed'] + 1}); "
        + (f"{cfg['epochs']} epochs per model. " if trained else "")
        + "Process rows hold that process's jets (j and b); object rows "
        "pool every process. Residuals: relative for E and pt, absolute for eta and phi (rad). "
        f"'fails' names the variables whose residual std is more than {cfg['fail_factor']:g}x the model's "
        "own on the training processes' jets of the test sample ('worst std ratio': the largest of those "
        "ratios); 'outside range' is the fraction of values outside the "
        "model's training range (the codec stores those exactly).",
        "",
        "Objects (train / test): "
        + ", ".join(
            f"{g} {result['objects']['train'][g]:,} / {result['objects']['test'][g]:,}" for g in OBJECT_GROUPS
        ),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---", "---"] + ["---:"] * (len(head) - 2)) + "|",
    ]
    names = [(r["kind"], r["name"]) for r in next(iter(result["models"].values()))["rows"]]
    for i, (kind, name) in enumerate(names):
        for label, m in result["models"].items():
            r = m["rows"][i]
            tag = f"{name}" + (" (trained)" if kind == "process" and name in cfg["train_processes"] else "")
            tag = f"{kind}: {tag}"
            if not r["residuals"]:
                lines.append(
                    f"| {tag} | {label} | {r['n']:,} | " + " | ".join(["—"] * (len(variables) + 3)) + " |"
                )
                continue
            cells = [f"{r['residuals'][v]['mean']:+.2e} ± {r['residuals'][v]['std']:.2e}" for v in variables]
            outside = r.get("outside_training_range")
            # models trained before the training range was recorded have none
            shown = (
                f"{100 * outside:.2f}%" if isinstance(outside, float) and math.isfinite(outside) else "n/a"
            )
            ratios = r.get("std_ratio") or {}
            worst = max(ratios, key=ratios.__getitem__) if ratios else None
            ratio = f"{ratios[worst]:.2f} ({worst})" if worst is not None else "—"
            lines.append(
                f"| {tag} | {label} | {r['n']:,} | "
                + " | ".join(cells)
                + f" | {shown} | {ratio} | {', '.join(r.get('fails', [])) or '—'} |"
            )
    if result.get("notes"):
        lines += ["", *[f"- {n}" for n in result["notes"]]]
    lines.append("")
    return "\n".join(lines)


def write_study(result: Mapping[str, Any], out_dir: str | os.PathLike[str], force: bool = True) -> list[Path]:
    """Write ``generalisation.json``, ``generalisation.md`` and the plot into ``out_dir``."""
    from hepsqueeze.plotting.studies import plot_generalisation

    paths = write_json_markdown(result, study_markdown(result), out_dir, "generalisation", force)
    paths += plot_generalisation(paths[0], out_dir)
    return paths
