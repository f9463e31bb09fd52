"""The format registry and the one front door for reading and writing tables and datasets.

Layers, as in uproot: the *source* (:mod:`hepsqueeze.io.source`) finds the file; a format's
:class:`Reader` does the *reading* (which names exist, fetching arrays); *interpretation*
(:mod:`hepsqueeze.io.interpret`) checks the arrays and builds the :class:`Table`. A new format is one
module that defines a :class:`Format` and calls :func:`register_format`; a format found from file
content rather than its extension supplies ``sniff``. Formats that hold more than one flat table
(ROOT, DarkMachines CSV) also supply a :class:`DatasetReader`/:class:`DatasetWriter`; for the others
:func:`read_dataset` and :func:`write_dataset` wrap the table reader and writer.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Protocol, TypeVar, cast

from hepsqueeze.atomic import atomic_output
from hepsqueeze.errors import ConfigError, HepsqueezeError, InputError, one_line
from hepsqueeze.io.dataset import Dataset
from hepsqueeze.io.interpret import check_writable, select_names
from hepsqueeze.io.remote import check_local_output, is_url, local_input
from hepsqueeze.io.source import check_input
from hepsqueeze.io.table import Table

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: The read option that permits unpickling; only formats that list it in ``read_options`` get it.
ALLOW_PICKLE: str = "allow_pickle"


class Reader(Protocol):
    """Reads a file into a :class:`Table`: all columns in file order, or ``columns`` in that order."""

    def read(self, path: Path, columns: Sequence[str] | None, **options: Any) -> Table:
        """Read ``path``; raise hepsqueeze errors for bad content (library errors are wrapped)."""
        ...


class Writer(Protocol):
    """Writes a :class:`Table` to ``path`` (a temporary file; the caller makes it appear atomically)."""

    def write(self, table: Table, path: Path, **options: Any) -> None:
        """Write ``table``; ``path`` may not carry the format's extension."""
        ...


class DatasetReader(Protocol):
    """Reads a file into a :class:`Dataset` (main table, auxiliary tables, layout)."""

    def read_dataset(self, path: Path, columns: Sequence[str] | None, **options: Any) -> Dataset:
        """Read everything in ``path``; ``columns`` (the ones to compress) pick the main table."""
        ...


class DatasetWriter(Protocol):
    """Writes a :class:`Dataset` back into the structure its layout describes."""

    def write_dataset(self, dataset: Dataset, path: Path, **options: Any) -> None:
        """Write ``dataset`` to ``path`` (a temporary file; the caller makes it appear atomically)."""
        ...


@dataclass(frozen=True)
class Format:
    """A registered file format.

    ``extensions`` are lower-case and start with a dot; they may span several suffixes (``.csv.gz``).
    ``read_options``/``write_options`` are the keyword options the reader/writer accept; anything
    else is rejected before the file is touched. ``sniff`` recognises a file from its content and
    is tried before extensions (for formats sharing an extension, such as DarkMachines CSV).
    ``shared_extensions`` are extensions the format uses without owning them (DarkMachines files end
    in ``.csv``): a dataset read in this format is written back in it to such a name.
    ``dataset_reader``/``dataset_writer`` handle formats with more than one table; without them a
    dataset is the table that ``reader`` returns.
    """

    name: str
    extensions: tuple[str, ...]
    reader: Reader
    writer: Writer | None = None
    read_options: frozenset[str] = frozenset()
    write_options: frozenset[str] = frozenset()
    sniff: Callable[[Path], bool] | None = None
    description: str = ""
    dataset_reader: DatasetReader | None = None
    dataset_writer: DatasetWriter | None = None
    shared_extensions: tuple[str, ...] = ()


_REGISTRY: dict[str, Format] = {}
_EXTENSIONS: dict[str, tuple[str, ...]] = {}

#: Registered format names mapped to their file extensions (a read-only live view).
FORMATS: Mapping[str, tuple[str, ...]] = MappingProxyType(_EXTENSIONS)


@contextlib.contextmanager
def scratch_registry() -> Iterator[None]:
    """Register formats for a while (a test, a plugin tried out): on exit the registry is as before."""
    formats, extensions = dict(_REGISTRY), dict(_EXTENSIONS)
    try:
        yield
    finally:
        _REGISTRY.clear()
        _REGISTRY.update(formats)
        _EXTENSIONS.clear()
        _EXTENSIONS.update(extensions)


def register_format(fmt: Format) -> Format:
    """Add ``fmt`` to the registry; a name or extension already taken is a programming error."""
    if not fmt.name or fmt.name != fmt.name.lower():
        raise ValueError(f"format name {fmt.name!r} must be non-empty and lower case")
    if fmt.name in _REGISTRY:
        raise ValueError(f"format {fmt.name!r} is already registered")
    for ext in (*fmt.extensions, *fmt.shared_extensions):
        if not ext.startswith(".") or ext != ext.lower():
            raise ValueError(
                f"extension {ext!r} of format {fmt.name!r} must be lower case and start with '.'"
            )
        for other in _REGISTRY.values():
            # Shared extensions (DarkMachines' ".csv") are claimed by content, so they may overlap.
            if ext in fmt.extensions and ext in other.extensions:
                raise ValueError(f"extension {ext!r} of format {fmt.name!r} is taken by {other.name!r}")
    _REGISTRY[fmt.name] = fmt
    _EXTENSIONS[fmt.name] = fmt.extensions
    return fmt


def _known_formats() -> str:
    return ", ".join(
        f"{f.name} ({', '.join(f.extensions)})" if f.extensions else f.name for f in _REGISTRY.values()
    )


def get_format(name: str) -> Format:
    """The format called ``name``; an extension (``pq``, ``.h5``) also works. Unknown: ConfigError."""
    key = name.strip().lower()
    if key in _REGISTRY:
        return _REGISTRY[key]
    dotted = key if key.startswith(".") else f".{key}"
    for fmt in _REGISTRY.values():
        if dotted in fmt.extensions:
            return fmt
    raise ConfigError(f"unknown format {name!r}; known formats: {_known_formats()}")


def _from_extension(path: Path) -> Format | None:
    lowered = path.name.lower()
    best: tuple[int, Format] | None = None
    for fmt in _REGISTRY.values():
        for ext in fmt.extensions:
            # Longest match wins so that a later ".csv.gz" beats a plain ".gz".
            if lowered.endswith(ext) and (best is None or len(ext) > best[0]):
                best = (len(ext), fmt)
    return None if best is None else best[1]


def _detect(path: Path, format: str | None, sniff: bool) -> Format:
    if format is not None:
        return get_format(format)
    if sniff and path.is_file():
        for fmt in _REGISTRY.values():
            if fmt.sniff is not None and fmt.sniff(path):
                return fmt
    found = _from_extension(path)
    if found is None:
        suffix = "".join(path.suffixes) or "(none)"
        raise InputError(
            f"cannot tell the format of {str(path)!r} from its extension {suffix}; "
            f"known formats: {_known_formats()}; choose one (format=...)",
            option="format",
        )
    return found


def detect_format(path: str | os.PathLike[str], format: str | None = None) -> str:
    """Name of the format of ``path``: ``format`` if given, else from content sniffers, else the extension.

    Raises :class:`InputError` for an unknown extension and :class:`ConfigError` for an unknown ``format``.
    """
    return _detect(Path(path), format, sniff=True).name


def _check_options(fmt: Format, options: Mapping[str, Any], allowed: frozenset[str], action: str) -> None:
    for key in options:
        if key not in allowed:
            known = ", ".join(sorted(allowed - {ALLOW_PICKLE})) or "none"
            raise ConfigError(f"unknown option {key!r} for {action} {fmt.name}; known options: {known}")


def _read_options(fmt: Format, options: Mapping[str, Any], allow_pickle: bool) -> dict[str, Any]:
    """The options for ``fmt``'s reader: given ones (None means not given), checked, plus the pickle gate."""
    # Dropping None lets callers such as the CLI pass every option unconditionally.
    given = {k: v for k, v in options.items() if v is not None}
    if ALLOW_PICKLE in given:
        raise ConfigError("pass allow_pickle as its own keyword argument, not as a format option")
    _check_options(fmt, given, fmt.read_options, "reading")
    if ALLOW_PICKLE in fmt.read_options:
        given[ALLOW_PICKLE] = bool(allow_pickle)
    return given


def get_option(
    options: Mapping[str, Any], key: str, default: T, kind: type | tuple[type, ...], fmt: str
) -> T:
    """``options[key]`` or ``default``; :class:`ConfigError` unless it is an instance of ``kind``."""
    value = options.get(key, default)
    if not isinstance(value, kind):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        wanted = " or ".join("None" if k is type(None) else k.__name__ for k in kinds)
        raise ConfigError(f"option {key!r} for {fmt} must be {wanted}, got {value!r}")
    return cast(T, value)


def _library_errors() -> tuple[type[BaseException], ...]:
    """Exception types that third-party readers raise for bad files, to be reported as InputError."""
    errors: list[type[BaseException]] = [
        OSError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        EOFError,
        RuntimeError,
        OverflowError,
        zipfile.BadZipFile,
        zlib.error,
        struct.error,
    ]
    # pyarrow can only have raised if it was imported; checking sys.modules avoids importing it here.
    pyarrow_lib = sys.modules.get("pyarrow.lib")
    if pyarrow_lib is not None:
        errors.append(pyarrow_lib.ArrowException)
    # uproot's error for undecodable ROOT bytes is a bare Exception subclass.
    uproot_deserialization = sys.modules.get("uproot.deserialization")
    if uproot_deserialization is not None:
        errors.append(uproot_deserialization.DeserializationError)
    return tuple(errors)


def _renamed(table: Table, local: str, url: str) -> Table:
    """``table`` with ``url`` in its source where it names the local copy ``local``."""
    return Table(dict(table.columns), source=table.source.replace(local, url))


def read_table(
    path: str | os.PathLike[str],
    format: str | None = None,
    columns: Sequence[str] | None = None,
    *,
    allow_pickle: bool = False,
    **options: Any,
) -> Table:
    """Read ``path`` into a :class:`Table`.

    ``format`` overrides detection (see :func:`detect_format`); ``columns`` selects and orders columns
    (only those are read where the format allows); ``options`` go to the format's reader (e.g.
    ``group=`` for HDF5, ``tree=`` for ROOT, ``names=`` for ``.npy``); an option set to None counts as
    not given. ``allow_pickle=True`` is needed to load a pandas pickle, which runs code from the
    file. For ROOT and DarkMachines files this is the main table of :func:`read_dataset`. Arrays may
    be read-only views of the file's buffers: copy before changing them in place. Errors:
    :class:`InputFileNotFoundError`, :class:`ColumnError`, :class:`InputError` (unreadable, corrupt
    or unsupported content), :class:`ConfigError` (bad format name or options).

    ``path`` may be a URL given as text (``https://...``, ``root://...``, ``s3://...``): it is
    fetched whole through fsspec into a temporary file first (see :mod:`hepsqueeze.io.remote`); a
    scheme without its package installed is an :class:`InputError` naming the package.
    """
    with local_input(path) as local:
        source = check_input(local)
        fmt = _detect(source, format, sniff=True)
        opts = _read_options(fmt, options, allow_pickle)
        try:
            table = fmt.reader.read(source, columns, **opts)
        except HepsqueezeError:
            raise
        except _library_errors() as exc:
            raise InputError(f"cannot read {str(source)!r} as {fmt.name}: {one_line(exc)}") from exc
    if is_url(path):  # the table names the URL, not the temporary copy
        table = _renamed(table, str(source), str(path))
    logger.debug("read %d rows x %d columns from %s as %s", table.num_rows, len(table.names), path, fmt.name)
    return table


def write_table(
    table: Table,
    path: str | os.PathLike[str],
    format: str | None = None,
    force: bool = False,
    **options: Any,
) -> Path:
    """Write ``table`` to ``path`` atomically and return the path.

    The format comes from ``format`` or the extension; ``options`` go to its writer (None counts as
    not given). An existing file is only replaced with ``force`` (else :class:`OutputExistsError`);
    a failed write leaves no file behind. Tables without columns, or with non-numeric columns,
    raise :class:`InputError`.
    """
    check_local_output(path)
    out = Path(path)
    fmt = _detect(out, format, sniff=False)
    if fmt.writer is None:
        if fmt.dataset_writer is not None:
            raise ConfigError(
                f"format {fmt.name!r} holds more than one table and cannot be written from a table alone; "
                "write a Dataset read from such a file with write_dataset"
            )
        writable = ", ".join(f.name for f in _REGISTRY.values() if f.writer is not None)
        raise ConfigError(f"format {fmt.name!r} can be read but not written; writable formats: {writable}")
    options = {k: v for k, v in options.items() if v is not None}  # None: not given, as for reading
    _check_options(fmt, options, fmt.write_options, "writing")
    check_writable(table, str(out))
    try:
        with atomic_output(out, force) as tmp:
            fmt.writer.write(table, tmp, **options)
    except (HepsqueezeError, OSError):
        # Disk and permission errors keep their own type; they are not problems with the data.
        raise
    except _library_errors() as exc:
        raise InputError(
            f"cannot write table from {table.source} to {str(out)!r} as {fmt.name}: {one_line(exc)}"
        ) from exc
    logger.debug("wrote %d rows x %d columns to %s as %s", table.num_rows, len(table.names), out, fmt.name)
    return out


def read_dataset(
    path: str | os.PathLike[str],
    format: str | None = None,
    columns: Sequence[str] | None = None,
    *,
    allow_pickle: bool = False,
    **options: Any,
) -> Dataset:
    """Read everything in ``path`` into a :class:`Dataset`: the main table plus auxiliary tables.

    ``columns`` are the columns that will be compressed (ROOT branch names such as ``Jet_pt``): they
    choose the main table (the jagged collection they belong to) and must exist; unlike in
    :func:`read_table` every other column is read too. Format, options and ``allow_pickle`` as in
    :func:`read_table` (ROOT takes ``tree=`` and ``branches=``). Plain formats give a dataset with
    just the main table. Errors as :func:`read_table`.
    """
    if isinstance(columns, str):
        raise ConfigError(f"columns must be a list of names, not the string {columns!r}")
    with local_input(path) as local:
        source = check_input(local)
        fmt = _detect(source, format, sniff=True)
        opts = _read_options(fmt, options, allow_pickle)
        try:
            if fmt.dataset_reader is not None:
                dataset = fmt.dataset_reader.read_dataset(source, columns, **opts)
            else:
                table = fmt.reader.read(source, None, **opts)
                if columns is not None:
                    select_names(table.names, columns, str(source))
                dataset = Dataset.from_table(table, fmt.name)
        except HepsqueezeError:
            raise
        except _library_errors() as exc:
            raise InputError(f"cannot read {str(source)!r} as {fmt.name}: {one_line(exc)}") from exc
    if is_url(path):
        dataset = Dataset(
            _renamed(dataset.table, str(source), str(path)),
            {k: _renamed(t, str(source), str(path)) for k, t in dataset.aux.items()},
            dataset.layout,
        )
    logger.debug("read %s from %s as %s", dataset.summary(), path, fmt.name)
    return dataset


def _dataset_output_format(out: Path, format: str | None, dataset: Dataset) -> Format:
    if format is not None:
        return get_format(format)
    origin = _REGISTRY.get(dataset.format or "")
    if origin is not None:
        # A DarkMachines file decompressed to "x.csv" is DarkMachines again, not a plain CSV.
        lowered = out.name.lower()
        if any(lowered.endswith(ext) for ext in (*origin.extensions, *origin.shared_extensions)):
            return origin
    return _detect(out, None, sniff=False)


def write_dataset(
    dataset: Dataset,
    path: str | os.PathLike[str],
    format: str | None = None,
    force: bool = False,
    **options: Any,
) -> Path:
    """Write ``dataset`` to ``path`` atomically and return the path.

    Without ``format``, a name ending in an extension of the format the data came from (``.root``;
    ``.csv`` for DarkMachines) writes that format back, with its original structure; otherwise the
    extension decides. Formats holding one table get the main table only, and a warning names the
    auxiliary tables left out. Overwriting and errors as :func:`write_table`.
    """
    check_local_output(path)
    out = Path(path)
    fmt = _dataset_output_format(out, format, dataset)
    if fmt.dataset_writer is None:
        if dataset.aux:
            logger.warning(
                "%s holds one table: writing the main table of %s only, without its auxiliary table(s) %s; "
                "write to the original format to keep them",
                fmt.name,
                dataset.source,
                ", ".join(dataset.aux),
            )
        return write_table(dataset.table, out, fmt.name, force, **options)
    options = {k: v for k, v in options.items() if v is not None}  # None: not given, as for reading
    _check_options(fmt, options, fmt.write_options, "writing")
    check_writable(dataset.table, str(out))
    for table in dataset.aux.values():
        check_writable(table, str(out))
    try:
        with atomic_output(out, force) as tmp:
            fmt.dataset_writer.write_dataset(dataset, tmp, **options)
    except (HepsqueezeError, OSError):
        raise
    except _library_errors() as exc:
        raise InputError(
            f"cannot write data from {dataset.source} to {str(out)!r} as {fmt.name}: {one_line(exc)}"
        ) from exc
    logger.debug("wrote %s to %s as %s", dataset.summary(), out, fmt.name)
    return out


#: Extensions of hepsqueeze's own files: extension -> (what one such file is, the format's name).
#: The names of hepsqueeze's own files: compressed data, autoencoder models, conditional models.
COMPRESSED_SUFFIX: Final = ".hsqz"
MODEL_SUFFIX: Final = ".hsqm"
CONDITIONAL_SUFFIX: Final = ".hsqb"

OWN_EXTENSIONS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        ".hsqz": ("a hepsqueeze compressed file", "hepsqueeze compressed"),
        ".hsqm": ("a hepsqueeze model file", "hepsqueeze model"),
        ".hsqb": ("a conditional model file", "hepsqueeze conditional-model"),
    }
)


def extension_owner(path: str | os.PathLike[str]) -> tuple[str, str] | None:
    """``(extension, the format that owns it)`` for a name ending in a registered format's extension
    (the longest that matches: ``.csv.gz`` before ``.gz``) or in one of :data:`OWN_EXTENSIONS`;
    None for any other name."""
    lowered = Path(path).name.lower()
    owners = [(ext, f.name) for f in _REGISTRY.values() for ext in f.extensions]
    owners += [(ext, own[1]) for ext, own in OWN_EXTENSIONS.items()]
    best: tuple[str, str] | None = None
    for ext, owner in owners:
        if lowered.endswith(ext) and (best is None or len(ext) > len(best[0])):
            best = (ext, owner)
    return best


def check_output_name(path: str | os.PathLike[str], suffix: str, *, force: bool = False) -> None:
    """Refuse to write one of hepsqueeze's own files (``suffix``: ``.hsqz``, ``.hsqm``, ``.hsqb``) under a
    name that another format owns (``x.root``, ``x.parquet``, a model's ``.hsqm``...) unless
    ``force``: other tools would take the file for one of theirs and fail to open it. A URL is
    refused whatever ``force`` (outputs are local files). :class:`ConfigError` naming the path, the
    extension and the format that owns it; its ``option`` is ``"force"``.
    """
    check_local_output(path)
    if suffix not in OWN_EXTENSIONS:
        raise ValueError(f"{suffix!r} is not one of hepsqueeze's own extensions")
    owner = extension_owner(path)
    if force or owner is None or owner[0] == suffix:
        return
    ext, fmt = owner
    name = Path(path).name
    better = name[: len(name) - len(ext)] + suffix
    raise ConfigError(
        f"{str(path)!r} ends in {ext}, which {fmt} files use: {OWN_EXTENSIONS[suffix][0]} under that "
        f"name would be taken for one of those and fail to open; name it {better!r}, or force the name",
        path=str(path),
        option="force",
    )
