"""Generate samples: blocks of events spread over worker processes, cached on disk.

Table kinds (``jets``, ``jets27d``) are cached as Parquet; ``events`` (DarkMachines lines) as the
CSV text itself and ``nanoaod`` as the ROOT file itself, which are also what the returned
:class:`~hepsqueeze.io.dataset.Dataset` is read from, so fresh and cached samples are identical.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import logging
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from hepsqueeze.atomic import atomic_output
from hepsqueeze.errors import ConfigError, GeneratorError, HepsqueezeError
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.formats.darkmachines import EVENTS_TABLE, DarkMachines
from hepsqueeze.io.table import Table

from . import nanoaod
from . import pythia as _worker
from .config import GeneratorConfig, table_columns

log = logging.getLogger(__name__)

#: ``progress(events_done, events_total)``, called from the calling process.
ProgressCallback = Callable[[int, int], None]

Columns = dict[str, npt.NDArray[Any]]
_Block = TypeVar("_Block")

_CACHE_ENV = "HEPSQUEEZE_CACHE_DIR"
_KEY_METADATA = b"hepsqueeze.cache_key"
_CONFIG_METADATA = b"hepsqueeze.config"


def default_cache_dir() -> Path:
    """``$HEPSQUEEZE_CACHE_DIR`` if set, else ``~/.cache/hepsqueeze``."""
    return Path(os.environ.get(_CACHE_ENV) or "~/.cache/hepsqueeze").expanduser()


def cache_path(config: GeneratorConfig, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the sample for ``config`` is cached.

    ``<cache_dir>/<process>-<cache_key>.parquet`` for ``jets``, ``<process>-jets27d-<key>.parquet``,
    ``<process>-events-<key>.csv`` and ``<process>-nanoaod-<key>.root`` for the other kinds.
    """
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    kind = "" if config.kind == "jets" else f"{config.kind}-"
    ext = {"events": "csv", "nanoaod": "root"}.get(config.kind, "parquet")
    return directory / f"{config.process}-{kind}{config.cache_key()}.{ext}"


def generate(
    config: GeneratorConfig,
    workers: int = 1,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    progress: ProgressCallback | None = None,
) -> Table:
    """Generate (or load from cache) the jet table for ``config`` (kind ``jets`` or ``jets27d``).

    One row per jet, events in order and jets by descending pt. ``jets``: ``event`` (int64), ``E``,
    ``pt`` (GeV), ``eta``, ``phi`` (radians, [-pi, pi)) as float32; ``jets27d``: ``event`` and the 27
    columns of :data:`~hepsqueeze.datasets.JETS27D_COLUMNS`. Kinds ``events`` and ``nanoaod`` raise
    :class:`ConfigError` (use :func:`generate_events`, :func:`generate_nanoaod`). The result is identical for any
    ``workers`` (spawned OS processes, so scripts need an ``if __name__ == "__main__":`` guard; 1 runs
    in this process). With ``use_cache`` the table is read from, or written to, :func:`cache_path`;
    an unreadable cache file is regenerated. ``progress(done, total)`` is called per block of events.
    """
    _check_workers(workers)
    if config.kind == "events":
        raise ConfigError("kind 'events' gives DarkMachines lines, not a table: use generate_events()")
    if config.kind == "nanoaod":
        raise ConfigError("kind 'nanoaod' gives a ROOT event tree, not a table: use generate_nanoaod()")
    path = cache_path(config, cache_dir) if use_cache else None
    if path is not None:
        cached = _read_cache(path, config)
        if cached is not None:
            log.info(
                "loaded %d %s events (%d jets) from cache %s",
                config.events,
                config.process,
                cached.num_rows,
                path,
            )
            if progress is not None:
                progress(config.events, config.events)
            return cached

    blocks = _run_blocks(config, workers, progress, _worker.generate_block)
    table = Table(_concat_columns(config, blocks), source=_source(config))
    if path is not None:
        _write_cache(path, config, table)
    return table


def generate_events(
    config: GeneratorConfig,
    workers: int = 1,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    progress: ProgressCallback | None = None,
) -> Dataset:
    """Generate (or load from cache) DarkMachines events for ``config`` (kind ``events``).

    The result is what :mod:`hepsqueeze.io`'s DarkMachines reader gives for the CSV text: main table
    one row per object (``event``, ``process``, ``object`` codes, ``E``, ``pt`` in GeV, ``eta``,
    ``phi``), the ``events`` table (``event``, ``process``, ``weight``, ``MET`` in GeV, ``METphi``,
    ``n_objects``) and the layout, so ``hepsqueeze.io.write_dataset(ds, "x.csv")`` writes the
    text back byte for byte (one line per event, MeV, ``%.6g``). Workers, cache and progress as in
    :func:`generate`; :func:`events_text` gives the text itself.
    """
    _check_workers(workers)
    if config.kind != "events":
        raise ConfigError(f"generate_events needs kind 'events', not {config.kind!r}")
    path = cache_path(config, cache_dir) if use_cache else None
    cached = _load_cached(path, lambda p: _read_events(p, config), config, progress)
    if cached is not None:
        return cached
    blocks = _run_blocks(config, workers, progress, _worker.generate_event_lines)
    text = "".join(line + "\n" for block in blocks for line in block)
    return _through_file(
        path,
        lambda p: p.write_text(text, encoding="utf-8"),
        lambda p: _read_events(p, config),
        "events.csv",
        config,
    )


def generate_nanoaod(
    config: GeneratorConfig,
    workers: int = 1,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    progress: ProgressCallback | None = None,
) -> Dataset:
    """Generate (or load from cache) NanoAOD-style events for ``config`` (kind ``nanoaod``).

    The result is what :mod:`hepsqueeze.io`'s ROOT reader gives for the ``Events`` tree with the jets
    as main table (``event`` = entry number, then ``Jet_*``), the ``events`` table (``run``,
    ``luminosityBlock``, ``event``, ``MET_*``, ``GenMET_*``), tables ``Muon``, ``Electron``,
    ``Photon`` and ``GenPart``, and the layout: ``hepsqueeze.io.write_dataset(ds, "x.root")``
    writes the tree (branches and definitions: :data:`~hepsqueeze.datasets.NANOAOD_BRANCHES`,
    :mod:`hepsqueeze.datasets.nanoaod`). Needs uproot and awkward besides Pythia and FastJet.
    Workers, cache (the ROOT file itself) and progress as in :func:`generate`.
    """
    _check_workers(workers)
    if config.kind != "nanoaod":
        raise ConfigError(f"generate_nanoaod needs kind 'nanoaod', not {config.kind!r}")
    source = _source(config)
    path = cache_path(config, cache_dir) if use_cache else None

    def read(p: Path) -> Dataset:
        return nanoaod.read_nanoaod(p, config.events, source)

    cached = _load_cached(path, read, config, progress)
    if cached is not None:
        return cached
    blocks = _run_blocks(config, workers, progress, nanoaod.generate_nanoaod_block)
    fresh = nanoaod.nanoaod_dataset(nanoaod.concat_blocks(blocks), source)
    return _through_file(path, lambda p: nanoaod.write_nanoaod(fresh, p), read, "events.root", config)


def _load_cached(
    path: Path | None,
    read: Callable[[Path], Dataset],
    config: GeneratorConfig,
    progress: ProgressCallback | None,
) -> Dataset | None:
    """The dataset of a readable cache file, or None (no cache, no file, or unreadable: regenerate)."""
    if path is None or not path.is_file():
        return None
    try:
        dataset = read(path)
    except (OSError, HepsqueezeError) as exc:
        log.warning("ignoring unreadable cache file %s (%s); regenerating", path, exc)
        return None
    log.info("loaded %d %s events (%s) from cache %s", config.events, config.process, config.kind, path)
    if progress is not None:
        progress(config.events, config.events)
    return dataset


def _through_file(
    path: Path | None,
    write: Callable[[Path], object],
    read: Callable[[Path], Dataset],
    name: str,
    config: GeneratorConfig,
) -> Dataset:
    """Write the generated data to the cache file ``path`` (atomically) and read it back, or, with no
    cache or where it cannot be written, through a temporary file ``name``: the result does not
    depend on whether the cache was used."""
    if path is not None:
        try:
            with atomic_output(path, force=True) as tmp:
                write(tmp)
        except OSError as exc:
            log.warning("could not write cache file %s (%s)", path, exc)
        else:
            log.info("cached %s events (%s) in %s", config.process, config.kind, path)
            return read(path)
    with tempfile.TemporaryDirectory(prefix=f"hepsqueeze-{config.kind}-") as tmpdir:
        tmp_path = Path(tmpdir) / name
        write(tmp_path)
        return read(tmp_path)


def generate_dataset(
    config: GeneratorConfig,
    workers: int = 1,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    progress: ProgressCallback | None = None,
) -> Dataset:
    """Any kind as a :class:`Dataset`: :func:`generate_events`, :func:`generate_nanoaod`, or the
    table of :func:`generate`.

    Write it with ``hepsqueeze.io.write_dataset(ds, path)``: events become DarkMachines text for a
    ``.csv`` name, NanoAOD events the ``Events`` tree for a ``.root`` name, tables go to the format
    of the extension.
    """
    if config.kind == "events":
        return generate_events(config, workers, cache_dir, use_cache, progress)
    if config.kind == "nanoaod":
        return generate_nanoaod(config, workers, cache_dir, use_cache, progress)
    return Dataset.from_table(generate(config, workers, cache_dir, use_cache, progress))


def events_text(dataset: Dataset) -> str:
    """The DarkMachines text of a dataset from :func:`generate_events` (a temporary file round trip)."""
    with tempfile.TemporaryDirectory(prefix="hepsqueeze-events-") as tmpdir:
        path = Path(tmpdir) / "events.csv"
        DarkMachines().write_dataset(dataset, path)
        return path.read_text(encoding="utf-8")


def _read_events(path: Path, config: GeneratorConfig) -> Dataset:
    dataset = DarkMachines().read_dataset(path, None)
    if not dataset.layout.get("exact", False):
        raise GeneratorError(f"{path} does not hold text as the generator writes it")
    events = dataset.aux[EVENTS_TABLE]
    if events.num_rows != config.events:
        raise GeneratorError(f"{path} holds {events.num_rows} events, expected {config.events}")
    source = _source(config)
    return Dataset(
        Table(dict(dataset.table.columns), source=source),
        {EVENTS_TABLE: Table(dict(events.columns), source=source)},
        dataset.layout,
    )


def generate_mixture(
    processes: Sequence[str] = ("ttbar", "qcd"),
    *,
    events_per_process: int,
    seed: int,
    workers: int = 1,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    progress: ProgressCallback | None = None,
    **config_overrides: Any,
) -> Table:
    """Concatenated samples of several processes, ``events_per_process`` events each.

    Process ``k`` (in the order given) holds events ``k*N .. (k+1)*N - 1`` (``N`` =
    ``events_per_process``), so ``event // N`` tells the process. Each part is exactly
    ``generate(GeneratorConfig(process, N, seed, **config_overrides))`` with events renumbered (and
    shares its cache file): Pythia seeds are derived from the process name, so parts are independent.
    ``config_overrides`` are further :class:`GeneratorConfig` fields (``pthat_min``, ``jet_r``, ...).
    """
    names = [processes] if isinstance(processes, str) else list(processes)
    if not names:
        raise ConfigError("a mixture needs at least one process")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"processes appear more than once in the mixture: {', '.join(duplicates)}")
    configs = [_mixture_config(name, events_per_process, seed, config_overrides) for name in names]

    total = events_per_process * len(configs)
    parts = []
    for k, config in enumerate(configs):
        offset = k * events_per_process
        part_progress = None
        if progress is not None:
            part_progress = _offset_progress(progress, offset, total)
        table = generate(
            config, workers=workers, cache_dir=cache_dir, use_cache=use_cache, progress=part_progress
        )
        columns = dict(table.columns)
        columns["event"] = columns["event"] + np.int64(offset)
        parts.append(Table(columns, source=_source(config)))
    mixed = Table.concat(parts)
    ecm = {c.ecm_gev for c in configs}
    energy = f", {ecm.pop() / 1000:g} TeV" if len(ecm) == 1 else ""
    return Table(
        mixed.columns,
        source=f"<{'+'.join(names)} mixture, {events_per_process} events each, seed {seed}{energy}>",
    )


def _mixture_config(process: str, events: int, seed: int, overrides: dict[str, Any]) -> GeneratorConfig:
    allowed = {f.name for f in dataclasses.fields(GeneratorConfig)} - {"process", "events", "seed"}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown generator setting(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})"
        )
    return GeneratorConfig(process=process, events=events, seed=seed, **overrides)


def _offset_progress(progress: ProgressCallback, offset: int, total: int) -> ProgressCallback:
    def report(done: int, _part_total: int) -> None:
        progress(offset + done, total)

    return report


def _check_workers(workers: int) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be an integer >= 1, got {workers!r}")


def _source(config: GeneratorConfig) -> str:
    return (
        f"<{config.process} {config.kind} sample, {config.events} events, seed {config.seed}, "
        f"{config.ecm_gev / 1000:g} TeV>"
    )


def _blocks(config: GeneratorConfig) -> list[tuple[int, int]]:
    # Fixed block boundaries (not derived from the worker count) keep the output worker-independent.
    step = config.block_events
    return [(start, min(start + step, config.events)) for start in range(0, config.events, step)]


def _run_blocks(
    config: GeneratorConfig,
    workers: int,
    progress: ProgressCallback | None,
    worker: Callable[[GeneratorConfig, int, int], _Block],
) -> list[_Block]:
    """``worker(config, start, stop)`` of every block, in block order."""
    blocks = _blocks(config)
    results: list[_Block | None] = [None] * len(blocks)
    done = 0
    started = time.perf_counter()
    if progress is not None:
        progress(0, config.events)

    n_proc = min(workers, len(blocks))
    if n_proc <= 1:
        for i, (start, stop) in enumerate(blocks):
            results[i] = worker(config, start, stop)
            done += stop - start
            if progress is not None:
                progress(done, config.events)
    else:
        # "spawn": forking a process that may hold threads (torch, BLAS) is unsafe, and spawn
        # behaves the same on every platform.
        context = multiprocessing.get_context("spawn")
        executor = concurrent.futures.ProcessPoolExecutor(max_workers=n_proc, mp_context=context)
        try:
            futures = {
                executor.submit(worker, config, start, stop): i for i, (start, stop) in enumerate(blocks)
            }
            for future in concurrent.futures.as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                done += blocks[i][1] - blocks[i][0]
                if progress is not None:
                    progress(done, config.events)
        except BrokenProcessPool as exc:
            # The usual cause is a script without a main guard: spawned workers re-run it on import.
            raise GeneratorError(
                f"a generator worker process died while generating {config.process}; a script that "
                "calls generate() with workers > 1 must do so under `if __name__ == '__main__':`"
            ) from exc
        finally:
            # On error (or Ctrl-C) drop queued blocks instead of finishing them.
            executor.shutdown(wait=True, cancel_futures=True)

    elapsed = time.perf_counter() - started
    rate = config.events / elapsed if elapsed > 0 else float("inf")
    log.info(
        "generated %d %s events (%s) in %.2f s (%.1f events/s, %d worker%s)",
        config.events,
        config.process,
        config.kind,
        elapsed,
        rate,
        max(n_proc, 1),
        "" if n_proc <= 1 else "s",
    )
    return [r for r in results if r is not None]


def _concat_columns(config: GeneratorConfig, parts: list[Columns]) -> Columns:
    if not parts:
        return _worker.empty_columns(config.kind)
    return {
        name: np.concatenate([p[name] for p in parts]).astype(dtype, copy=False)
        for name, dtype in table_columns(config.kind).items()
    }


def _read_cache(path: Path, config: GeneratorConfig) -> Table | None:
    """The cached table, or None if absent or unusable (which is logged and then regenerated)."""
    if not path.is_file():
        return None
    try:
        columns = _load_cache_columns(path, config.cache_key(), table_columns(config.kind))
    except (OSError, ValueError, pa.ArrowException) as exc:
        log.warning("ignoring unreadable cache file %s (%s); regenerating", path, exc)
        return None
    return Table(columns, source=_source(config))


def _load_cache_columns(path: Path, key: str, expected: dict[str, np.dtype[Any]]) -> Columns:
    """Columns of a cache file; ValueError if it is not a complete sample for ``key``."""
    arrow = pq.read_table(path)
    metadata = arrow.schema.metadata or {}
    if metadata.get(_KEY_METADATA) != key.encode():
        raise ValueError("the cache key stored in the file does not match its name")
    if tuple(arrow.column_names) != tuple(expected):
        raise ValueError(f"unexpected columns {arrow.column_names}")
    columns: Columns = {}
    for name, dtype in expected.items():
        # A copy: zero-copy Arrow buffers are read-only, unlike freshly generated columns.
        values = np.array(arrow.column(name).to_numpy())
        if values.dtype != dtype:
            raise ValueError(f"column {name!r} has dtype {values.dtype}, expected {dtype}")
        columns[name] = values
    return columns


def _write_cache(path: Path, config: GeneratorConfig, table: Table) -> None:
    metadata = {
        _KEY_METADATA: config.cache_key().encode(),
        _CONFIG_METADATA: json.dumps(dataclasses.asdict(config), sort_keys=True).encode(),
    }
    names = table_columns(config.kind)
    arrow = pa.table({name: table[name] for name in names}).replace_schema_metadata(metadata)
    try:
        with atomic_output(path, force=True) as tmp:
            pq.write_table(arrow, tmp, compression="zstd")
    except OSError as exc:
        # The cache only saves time; a read-only or full disk must not lose the generated sample.
        log.warning("could not write cache file %s (%s)", path, exc)
        return
    log.info("cached %s sample in %s", config.process, path)
