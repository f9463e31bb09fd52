"""Generate jet samples: blocks of events spread over worker processes, cached as Parquet files."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from hepsqueeze._atomic import atomic_output
from hepsqueeze.errors import ConfigError, GeneratorError
from hepsqueeze.io.table import Table

from . import pythia as _worker
from .config import JET_COLUMNS, GeneratorConfig

log = logging.getLogger(__name__)

#: ``progress(events_done, events_total)``, called from the calling process.
ProgressCallback = Callable[[int, int], None]

Columns = dict[str, npt.NDArray[Any]]

_CACHE_ENV = "HEPSQUEEZE_CACHE_DIR"
_KEY_METADATA = b"hepsqueeze.cache_key"
_CONFIG_METADATA = b"hepsqueeze.config"


def default_cache_dir() -> Path:
    """``$HEPSQUEEZE_CACHE_DIR`` if set, else ``~/.cache/hepsqueeze``."""
    return Path(os.environ.get(_CACHE_ENV) or "~/.cache/hepsqueeze").expanduser()


def cache_path(config: GeneratorConfig, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the sample for ``config`` is cached: ``<cache_dir>/<process>-<cache_key>.parquet``."""
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return directory / f"{config.process}-{config.cache_key()}.parquet"


def generate(
    config: GeneratorConfig,
    workers: int = 1,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    progress: ProgressCallback | None = None,
) -> Table:
    """Generate (or load from cache) the jet table for ``config``.

    One row per jet: ``event`` (int64), ``E``, ``pt`` (GeV), ``eta``, ``phi`` (radians, [-pi, pi))
    as float32, events in order and jets by descending pt. The result is identical for any
    ``workers`` (spawned OS processes, so scripts need an ``if __name__ == "__main__":`` guard; 1 runs
    in this process). With ``use_cache`` the table is read from, or written to, :func:`cache_path`;
    an unreadable cache file is regenerated. ``progress(done, total)`` is called per block of events.
    """
    _check_workers(workers)
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

    columns = _run_blocks(config, workers, progress)
    table = Table(columns, source=_source(config))
    if path is not None:
        _write_cache(path, config, table)
    return table


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
    return Table(
        mixed.columns, source=f"<{'+'.join(names)} mixture, {events_per_process} events each, seed {seed}>"
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
    return f"<{config.process} sample, {config.events} events, seed {config.seed}>"


def _blocks(config: GeneratorConfig) -> list[tuple[int, int]]:
    # Fixed block boundaries (not derived from the worker count) keep the output worker-independent.
    step = config.block_events
    return [(start, min(start + step, config.events)) for start in range(0, config.events, step)]


def _run_blocks(config: GeneratorConfig, workers: int, progress: ProgressCallback | None) -> Columns:
    blocks = _blocks(config)
    results: list[Columns | None] = [None] * len(blocks)
    done = 0
    started = time.perf_counter()
    if progress is not None:
        progress(0, config.events)

    n_proc = min(workers, len(blocks))
    if n_proc <= 1:
        for i, (start, stop) in enumerate(blocks):
            results[i] = _worker.generate_block(config, start, stop)
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
                executor.submit(_worker.generate_block, config, start, stop): i
                for i, (start, stop) in enumerate(blocks)
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
        "generated %d %s events in %.2f s (%.1f events/s, %d worker%s)",
        config.events,
        config.process,
        elapsed,
        rate,
        max(n_proc, 1),
        "" if n_proc <= 1 else "s",
    )
    parts = [r for r in results if r is not None]
    if not parts:
        return _worker.empty_columns()
    return {
        name: np.concatenate([p[name] for p in parts]).astype(dtype, copy=False)
        for name, dtype in JET_COLUMNS.items()
    }


def _read_cache(path: Path, config: GeneratorConfig) -> Table | None:
    """The cached table, or None if absent or unusable (which is logged and then regenerated)."""
    if not path.is_file():
        return None
    try:
        columns = _load_cache_columns(path, config.cache_key())
    except (OSError, ValueError, pa.ArrowException) as exc:
        log.warning("ignoring unreadable cache file %s (%s); regenerating", path, exc)
        return None
    return Table(columns, source=_source(config))


def _load_cache_columns(path: Path, key: str) -> Columns:
    """Columns of a cache file; ValueError if it is not a complete sample for ``key``."""
    arrow = pq.read_table(path)
    metadata = arrow.schema.metadata or {}
    if metadata.get(_KEY_METADATA) != key.encode():
        raise ValueError("the cache key stored in the file does not match its name")
    if tuple(arrow.column_names) != tuple(JET_COLUMNS):
        raise ValueError(f"unexpected columns {arrow.column_names}")
    columns: Columns = {}
    for name, dtype in JET_COLUMNS.items():
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
    arrow = pa.table({name: table[name] for name in JET_COLUMNS}).replace_schema_metadata(metadata)
    try:
        with atomic_output(path, force=True) as tmp:
            pq.write_table(arrow, tmp, compression="zstd")
    except OSError as exc:
        # The cache only saves time; a read-only or full disk must not lose the generated sample.
        log.warning("could not write cache file %s (%s)", path, exc)
        return
    log.info("cached %s sample in %s", config.process, path)
