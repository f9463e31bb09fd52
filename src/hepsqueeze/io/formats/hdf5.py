"""HDF5 via h5py: a group of equal-length 1D datasets, one per column.

The group defaults to the file root (``group="/"``). Column order is kept through HDF5 creation-order
tracking, which the writer enables; groups written without it are read in name order. Subgroups and
other objects in the group are ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from hepsqueeze.errors import ConfigError, InputError
from hepsqueeze.io.interpret import build_table, check_dtype, check_shape, select_names
from hepsqueeze.io.limits import allocating, check_claimed_bytes
from hepsqueeze.io.registry import Format, get_option
from hepsqueeze.io.table import Table

logger = logging.getLogger(__name__)


def _h5py() -> ModuleType:
    # h5py is an optional dependency (the "io" extra); import it only when HDF5 is used.
    try:
        import h5py
    except ImportError as exc:
        raise ConfigError("HDF5 support needs h5py: pip install 'hepsqueeze[io]'") from exc
    module: ModuleType = h5py
    return module


def _group_name(options: dict[str, Any]) -> str:
    group = get_option(options, "group", "/", str, "hdf5")
    return group or "/"


_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: Superblocks are searched at 0, 512, 1024, 2048, ... up to this offset (after a user block).
_MAX_SUPERBLOCK_OFFSET = 1 << 20
_UNDEFINED = b"\xff"


def _check_superblock(path: Path) -> None:
    """Refuse superblocks that send HDF5 to a multi-file driver (a driver information block).

    Version 0 and 1 superblocks hold the address of a driver information block, used only by the
    family and multi-file drivers; a corrupt or hostile address there made the HDF5 library take
    over 4 GB while opening a 3 kB file (found by fuzzing). Data files hepsqueeze reads are single
    files, so such a file is refused before HDF5 opens it.
    """
    with open(path, "rb") as fh:
        offset = 0
        while offset <= _MAX_SUPERBLOCK_OFFSET:
            fh.seek(offset)
            head = fh.read(24)
            if len(head) < 24:
                return  # HDF5 itself reports the missing superblock
            if head[:8] == _SIGNATURE:
                break
            offset = 512 if offset == 0 else offset * 2
        else:
            return
        version, size_of_offsets = head[8], head[13]
        if version not in (0, 1) or size_of_offsets not in (2, 4, 8):
            return
        # base, free-space, end-of-file and driver-info addresses follow the fixed fields
        fixed = 24 if version == 0 else 28
        fh.seek(offset + fixed + 3 * size_of_offsets)
        driver = fh.read(size_of_offsets)
    if driver and driver != _UNDEFINED * size_of_offsets:
        raise InputError(
            f"{str(path)!r} names an HDF5 driver information block (family or multi-file driver); "
            "only single-file HDF5 is supported"
        )


class Hdf5:
    """Reader and writer for ``.h5``/``.hdf5`` files."""

    def read(self, path: Path, columns: Sequence[str] | None, **options: Any) -> Table:
        """Read the 1D datasets of one group; shapes and dtypes are checked before any data is read."""
        h5py = _h5py()
        group_name = _group_name(options)
        where = str(path) if group_name == "/" else f"{path} (group {group_name!r})"
        _check_superblock(path)
        with h5py.File(path, "r") as fh:
            group = fh.get(group_name)
            if not isinstance(group, h5py.Group):
                what = "is not a group" if group is not None else "not found"
                subgroups = [k for k, v in fh.items() if isinstance(v, h5py.Group)]
                raise InputError(
                    f"group {group_name!r} {what} in {str(path)!r}; groups at the root: "
                    f"{', '.join(subgroups) or 'none'}; choose one with group=..."
                )
            datasets = {k: v for k, v in group.items() if isinstance(v, h5py.Dataset)}
            if not datasets:
                subgroups = [k for k, v in group.items() if isinstance(v, h5py.Group)]
                raise InputError(
                    f"{where} has no datasets to read as columns; subgroups: "
                    f"{', '.join(subgroups) or 'none'}; choose one with group=..."
                )
            skipped = [k for k in group if k not in datasets]
            if skipped:
                logger.debug("ignoring non-dataset members %s of %s", skipped, where)
            names = select_names(list(datasets), columns, where)
            # Reject 2D, scalar, string and compound datasets before reading (possibly large) data.
            for name in names:
                check_shape(name, datasets[name].shape, where)
                check_dtype(name, datasets[name].dtype, where)
            # A dataset's shape is a claim: unwritten chunks read as fill values, so a few kB of
            # file can declare terabytes. Check the total before reading.
            total = sum(int(datasets[n].size) * datasets[n].dtype.itemsize for n in names)
            check_claimed_bytes(total, f"{len(names)} dataset(s)", where)
            with allocating(total, f"{len(names)} dataset(s)", where):
                return build_table(((n, datasets[n][()]) for n in names), where, source=str(path))

    def write(self, table: Table, path: Path, **options: Any) -> None:
        """Write one dataset per column into ``group`` (created with its parents if needed).

        ``compression`` is passed to h5py (``"gzip"``, ``"lzf"``, or None for none).
        """
        h5py = _h5py()
        group_name = _group_name(options)
        compression = get_option(options, "compression", None, (str, type(None)), "hdf5")
        for name in table.names:
            # "/" would create nested groups, "." names the group itself, HDF5 names end at NUL.
            if not name or "/" in name or "\x00" in name or name == ".":
                raise InputError(f"column name {name!r} from {table.source} cannot be an HDF5 dataset name")
        with h5py.File(path, "w", track_order=True) as fh:
            group = fh if group_name == "/" else fh.create_group(group_name, track_order=True)
            for name in table.names:
                group.create_dataset(name, data=table.columns[name], compression=compression)


FORMAT = Format(
    name="hdf5",
    extensions=(".h5", ".hdf5"),
    reader=Hdf5(),
    writer=Hdf5(),
    read_options=frozenset({"group"}),
    write_options=frozenset({"group", "compression"}),
    description="HDF5 group of equal-length 1D datasets (h5py); exact round trip",
)
