"""numpy ``.npz`` archives: one ``.npy`` member per column, named after the column.

Members are read with ``allow_pickle=False`` straight from the zip file (not through ``np.load``), so
only the requested columns are decompressed and column names such as ``file`` or ``x.npy`` survive.
An archive holding one 2D array (``np.savez(path, data)``) is read with ``names=``, one name per
column, as for ``.npy`` files.
"""

from __future__ import annotations

import logging
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ConfigError, InputError
from hepsqueeze.io.formats.npy import load_array, names_option, split_columns
from hepsqueeze.io.interpret import build_table, select_names
from hepsqueeze.io.limits import check_claimed_bytes
from hepsqueeze.io.registry import Format, get_option
from hepsqueeze.io.table import Table

logger = logging.getLogger(__name__)

_COMPRESSION = {"none": zipfile.ZIP_STORED, "deflate": zipfile.ZIP_DEFLATED}


def _read_member(archive: zipfile.ZipFile, member: str, name: str, where: str) -> npt.NDArray[Any]:
    info = archive.getinfo(member)
    what = f"column {name!r} of {where} (member {member!r})"
    # The declared uncompressed size bounds what zipfile will decompress; check it before reading.
    check_claimed_bytes(info.file_size, "the uncompressed member", what)
    try:
        with archive.open(member) as fh:
            return load_array(fh, what, info.file_size)
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError) as exc:
        raise InputError(f"cannot read column {name!r} from {where}: {exc}") from exc


def _check_total(infos: Sequence[zipfile.ZipInfo], where: str) -> None:
    """The members to read must fit :func:`max_decompressed_bytes` together, before any is read."""
    total = sum(info.file_size for info in infos)
    check_claimed_bytes(total, f"{len(infos)} member(s) together", where)


class Npz:
    """Reader and writer for ``.npz`` archives."""

    def read(self, path: Path, columns: Sequence[str] | None, **options: Any) -> Table:
        """Read the selected ``.npy`` members of ``path``, in archive order by default."""
        where = str(path)
        if not zipfile.is_zipfile(path):
            raise InputError(f"{where!r} is not an .npz archive (not a zip file)")
        with zipfile.ZipFile(path) as archive:
            members: dict[str, str] = {}
            names: list[str] = []
            for info in archive.infolist():
                if info.is_dir() or not info.filename.endswith(".npy"):
                    logger.debug("skipping %s in %s: not an .npy member", info.filename, where)
                    continue
                name = info.filename[: -len(".npy")]
                names.append(name)
                members[name] = info.filename
            given = names_option(options, "npz")
            if given is not None:
                if len(names) != 1:
                    raise InputError(
                        f"names= needs {where!r} to hold one 2D array, but it holds {len(names)} arrays "
                        f"({', '.join(names)}), which are named already"
                    )
                _check_total([archive.getinfo(members[names[0]])], where)
                array = _read_member(archive, members[names[0]], names[0], where)
                pairs = dict(split_columns(array, given, f"{where!r} (array {names[0]!r})"))
                if len(pairs) != len(given):
                    raise InputError(f"column names given for {where!r} repeat: {given}")
                return build_table(((n, pairs[n]) for n in select_names(list(pairs), columns, where)), where)
            selected = select_names(names, columns, where)
            _check_total([archive.getinfo(members[n]) for n in selected], where)
            return build_table(((n, _read_member(archive, members[n], n, where)) for n in selected), where)

    def write(self, table: Table, path: Path, **options: Any) -> None:
        """Write every column as ``<name>.npy``; ``compression`` is ``"none"`` (default) or ``"deflate"``."""
        choice = get_option(options, "compression", "none", str, "npz")
        if choice not in _COMPRESSION:
            raise ConfigError(f"npz compression must be one of {', '.join(_COMPRESSION)}, got {choice!r}")
        for name in table.names:
            # zipfile cuts member names at a NUL byte, so such a column could not be found again.
            if "\x00" in name:
                raise InputError(f"column name {name!r} from {table.source} cannot be an npz member name")
        with zipfile.ZipFile(path, "w", compression=_COMPRESSION[choice], allowZip64=True) as archive:
            for name in table.names:
                # force_zip64: the member size is unknown while streaming; numpy's savez does the same.
                with archive.open(f"{name}.npy", "w", force_zip64=True) as fh:
                    np.lib.format.write_array(
                        fh, np.ascontiguousarray(table.columns[name]), allow_pickle=False
                    )


FORMAT = Format(
    name="npz",
    extensions=(".npz",),
    reader=Npz(),
    writer=Npz(),
    read_options=frozenset({"names"}),
    write_options=frozenset({"compression"}),
    description="numpy .npz archive, one array per column; exact round trip",
)
