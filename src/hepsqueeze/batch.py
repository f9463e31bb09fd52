"""Many files at once: :func:`compress_many` and :func:`decompress_many` on Dask.

Inputs are files, directories (searched recursively for files of a supported input format) and
globs; each gives one output under ``out_dir`` with its relative layout kept (``D/x/y.parquet``
-> ``OUT/x/y.hsqz``; a file or glob match directly under its root keeps its name). The files are
mapped on a ``dask.distributed`` client: the caller's, one connected to ``scheduler``, or a
``LocalCluster`` of ``workers`` processes started (and closed) here, each with one thread per
worker's share of the cores. Dask schedules and retries (``retries``); this module only maps
inputs to outputs and collects one :class:`FileRecord` per input.

A run is resumable: an output that exists and decodes is skipped. Every output is written
atomically by the codec's writer (and decoded before it is published), so a failed input leaves
nothing under ``out_dir``; its record holds the error, and the other inputs finish.
"""

from __future__ import annotations

import glob
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from hepsqueeze.cores import usable_cores
from hepsqueeze.errors import ConfigError, InputError, InputFileNotFoundError
from hepsqueeze.io.registry import COMPRESSED_SUFFIX, FORMATS

#: Dask's retries of a failing file before it is reported.
RETRIES: Final = 2
_GLOB_CHARS: Final = frozenset("*?[")


class Status(StrEnum):
    """What happened to one input."""

    WRITTEN = "written"
    SKIPPED = "skipped"  # its output existed and decodes
    FAILED = "failed"


@dataclass(frozen=True)
class FileRecord:
    """One input's outcome: paths, bytes, seconds on its worker and the error of a failure."""

    input: str
    output: str
    status: Status
    input_bytes: int
    output_bytes: int
    seconds: float
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        """Input bytes over output bytes (None for a failure)."""
        if self.status == Status.FAILED or not self.output_bytes:
            return None
        return self.input_bytes / self.output_bytes


def _supported(path: Path, suffixes: Sequence[str]) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in suffixes)


def expand_inputs(
    inputs: Iterable[str | os.PathLike[str]], suffixes: Sequence[str] | None = None
) -> list[tuple[Path, Path]]:
    """Every input file with the relative path its output keeps (files, directories searched
    recursively for ``suffixes`` (default: every supported input format), globs). Sorted, each
    file once; :class:`InputFileNotFoundError` for a path or glob that names nothing."""
    wanted = tuple(suffixes) if suffixes is not None else tuple(e for exts in FORMATS.values() for e in exts)
    found: dict[Path, Path] = {}
    for raw in inputs:
        text = str(raw)
        if any(c in text for c in _GLOB_CHARS):
            cut = min((text.index(c) for c in _GLOB_CHARS if c in text), default=len(text))
            root = Path(text[:cut])
            root = root if text.endswith(os.sep) or root.is_dir() else root.parent
            matches = [Path(m) for m in sorted(glob.glob(text, recursive=True)) if Path(m).is_file()]
            if not matches:
                raise InputFileNotFoundError(f"{text!r} matches no file")
            for m in matches:
                found.setdefault(m, m.relative_to(root) if m.is_relative_to(root) else Path(m.name))
            continue
        path = Path(text)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and _supported(p, wanted))
            if not files:
                raise InputFileNotFoundError(f"directory {text!r} holds no file of a supported format")
            for f in files:
                found.setdefault(f, f.relative_to(path))
        elif path.is_file():
            found.setdefault(path, Path(path.name))
        else:
            raise InputFileNotFoundError(f"input {text!r} does not exist")
    rels = list(found.values())
    if len({str(r) for r in rels}) != len(rels):
        raise ConfigError("two inputs would be written to the same output: give them under one directory")
    return sorted(found.items(), key=lambda kv: str(kv[1]))


def output_path(relative: Path, out_dir: Path, suffix: str) -> Path:
    """``out_dir / relative`` with the input's format extension (the longest that matches, as
    the readers pick a format) replaced by ``suffix``."""
    name = relative.name
    lowered = name.lower()
    known = [e for exts in FORMATS.values() for e in exts if lowered.endswith(e)]
    stem = name[: len(name) - max(map(len, known))] if known else relative.stem
    return out_dir / relative.parent / f"{stem}{suffix}"


def _decodes(path: Path) -> bool:
    """Whether a compressed file exists and decodes (a finished output of an earlier run)."""
    from hepsqueeze.file.reader import decompress_dataset

    if not path.is_file():
        return False
    try:
        decompress_dataset(path)
    except (InputError, ValueError, OSError):
        return False
    return True


def _compress_one(src: str, dst: str, options: Mapping[str, Any]) -> FileRecord:
    """Compress ``src`` into ``dst`` on a worker (raises on failure: Dask retries it)."""
    from hepsqueeze.api import compress

    start = time.perf_counter()
    out = Path(dst)
    if _decodes(out):
        return FileRecord(src, dst, Status.SKIPPED, Path(src).stat().st_size, out.stat().st_size, 0.0)
    out.parent.mkdir(parents=True, exist_ok=True)
    compress(src, out, force=out.exists(), **dict(options))
    return FileRecord(
        src, dst, Status.WRITTEN, Path(src).stat().st_size, out.stat().st_size, time.perf_counter() - start
    )


def _decompress_one(src: str, dst: str, options: Mapping[str, Any]) -> FileRecord:
    """Decompress ``src`` into ``dst`` (its format from the extension) on a worker."""
    from hepsqueeze.file.reader import decompress_dataset
    from hepsqueeze.io import write_dataset

    start = time.perf_counter()
    out = Path(dst)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        return FileRecord(src, dst, Status.SKIPPED, Path(src).stat().st_size, out.stat().st_size, 0.0)
    write_dataset(decompress_dataset(src, options.get("model")), out)
    return FileRecord(
        src, dst, Status.WRITTEN, Path(src).stat().st_size, out.stat().st_size, time.perf_counter() - start
    )


def _run(
    job: Callable[[str, str, Mapping[str, Any]], FileRecord],
    pairs: Sequence[tuple[Path, Path]],
    options: Mapping[str, Any],
    *,
    client: Any,
    scheduler: str | None,
    workers: int | None,
    progress: Callable[[FileRecord], None] | None,
) -> list[FileRecord]:
    from dask.distributed import Client, LocalCluster, as_completed

    from hepsqueeze.codecs.bounded.payload import THREADS_VARIABLE

    own: list[Any] = []
    if client is None:
        if scheduler is not None and scheduler != "local":
            client = Client(scheduler)
        else:
            cores = usable_cores()
            n = workers if workers is not None else cores
            if n < 1:
                raise ConfigError(f"workers must be at least 1, got {n}")
            # one file at a time per worker, its codec on cores / n threads
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                env={THREADS_VARIABLE: str(max(1, cores // n))},
                processes=True,
                dashboard_address=":0",  # any free port: never clash with another cluster's 8787
                silence_logs=logging.CRITICAL,  # a failing input is a record, not a log of tracebacks
            )
            own.append(cluster)
            client = Client(cluster)
        own.insert(0, client)
    try:
        futures = {
            client.submit(job, str(src), str(dst), dict(options), retries=RETRIES, pure=False): (src, dst)
            for src, dst in pairs
        }
        records: dict[str, FileRecord] = {}
        for future in as_completed(list(futures)):
            src, dst = futures[future]
            if future.status == "error":
                exc = future.exception()
                rec = FileRecord(
                    str(src), str(dst), Status.FAILED, _size(src), 0, 0.0, f"{type(exc).__name__}: {exc}"
                )
            else:
                rec = future.result()
            records[str(src)] = rec
            if progress is not None:
                progress(rec)
        return [records[str(src)] for src, _ in pairs]
    finally:
        for resource in own:
            resource.close()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def compress_many(
    inputs: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    client: Any = None,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[FileRecord], None] | None = None,
    **codec_options: Any,
) -> list[FileRecord]:
    """Compress every input (see :func:`expand_inputs`) into ``out_dir`` on Dask, with the
    options of :func:`hepsqueeze.compress` (``max_error=``, ``precision=``, ``model=`` as a path
    or ``zoo:NAME``, ...). One record per input, in input order; failures are records, not
    exceptions."""
    pairs = [(src, output_path(rel, Path(out_dir), COMPRESSED_SUFFIX)) for src, rel in expand_inputs(inputs)]
    return _run(
        _compress_one,
        pairs,
        codec_options,
        client=client,
        scheduler=scheduler,
        workers=workers,
        progress=progress,
    )


def decompress_many(
    inputs: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    suffix: str = ".parquet",
    client: Any = None,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[FileRecord], None] | None = None,
    model: Any = None,
) -> list[FileRecord]:
    """Decompress every ``.hsqz`` input into ``out_dir`` as ``suffix`` files (their format from
    it), on Dask; ``model``: a model file or ``zoo:NAME`` for files written without theirs."""
    pairs = [
        (src, out_dir_path / rel.parent / f"{rel.name.removesuffix(COMPRESSED_SUFFIX)}{suffix}")
        for out_dir_path in (Path(out_dir),)
        for src, rel in expand_inputs(inputs, (COMPRESSED_SUFFIX,))
    ]
    options = {"model": model} if model is not None else {}
    return _run(
        _decompress_one,
        pairs,
        options,
        client=client,
        scheduler=scheduler,
        workers=workers,
        progress=progress,
    )


__all__ = ["FileRecord", "Status", "compress_many", "decompress_many", "expand_inputs", "output_path"]
