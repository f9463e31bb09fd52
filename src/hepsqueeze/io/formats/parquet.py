"""Apache Parquet via pyarrow: typed columns, so names, order and dtypes round trip exactly."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ConfigError, InputError
from hepsqueeze.io.interpret import build_table, native, select_names
from hepsqueeze.io.limits import check_claimed_bytes
from hepsqueeze.io.registry import Format, get_option
from hepsqueeze.io.table import Table


def arrow_to_numpy(name: str, column: Any, where: str) -> npt.NDArray[Any]:
    """A pyarrow (chunked) array as numpy; nulls and non-numeric types raise :class:`InputError`."""
    import pyarrow as pa

    kind = column.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
        raise InputError(
            f"column {name!r} in {where} has type {kind}; only numeric and boolean columns are supported"
        )
    if column.null_count:
        # numpy has no missing value for ints and bools; pyarrow would silently turn them into floats.
        raise InputError(f"column {name!r} in {where} has {column.null_count} missing (null) values")
    return np.asarray(column.to_numpy())


def index_columns(schema: Any, where: str) -> set[str]:
    """Names of the pandas index columns recorded in a Parquet schema (stored as extra columns, not data)."""
    try:
        meta = schema.pandas_metadata or {}
    except ValueError as exc:  # the metadata is not JSON
        raise InputError(
            f"cannot read {where} as Parquet: its pandas metadata is not valid JSON ({exc})"
        ) from None
    found = meta.get("index_columns", []) if isinstance(meta, dict) else []
    return {c for c in found if isinstance(c, str)} if isinstance(found, list) else set()


def check_read_size(pf: Any, names: Sequence[str], where: str) -> None:
    """The rows the file's metadata claims, times the selected columns' widths, must fit the limit."""
    schema = pf.schema_arrow
    rows = int(pf.metadata.num_rows)
    width = 0
    for name in names:
        try:
            bits = int(schema.field(name).type.bit_width)
        except ValueError:  # not fixed-width (strings, lists): refused when the column is converted
            bits = 64
        width += max(1, bits // 8)
    check_claimed_bytes(rows * width, f"{rows} rows of {len(names)} column(s)", where)


class Parquet:
    """Reader and writer for ``.parquet`` files."""

    def read(self, path: Path, columns: Sequence[str] | None, **options: Any) -> Table:
        """Read only the selected columns' chunks from ``path``."""
        import pyarrow.parquet as pq

        where = str(path)
        with pq.ParquetFile(path) as pf:
            schema = pf.schema_arrow
            # A non-range pandas index is stored as an extra column; it is not data.
            index = index_columns(schema, where)
            names = select_names([n for n in schema.names if n not in index], columns, where)
            check_read_size(pf, names, where)
            data = pf.read(columns=names, use_pandas_metadata=False)
        return build_table(
            ((n, arrow_to_numpy(n, c, where)) for n, c in zip(names, data.columns, strict=True)), where
        )

    def write(self, table: Table, path: Path, **options: Any) -> None:
        """Write all columns; ``compression`` is any pyarrow codec name (default snappy) or ``"none"``."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        compression = get_option(options, "compression", "snappy", str, "parquet")
        try:
            available = compression.lower() == "none" or pa.Codec.is_available(compression)
        except ValueError:  # pyarrow raises for names it does not know at all
            available = False
        if not available:
            raise ConfigError(f"parquet compression {compression!r} is not available in this pyarrow")
        arrays = [pa.array(native(table.columns[n])) for n in table.names]
        pq.write_table(pa.Table.from_arrays(arrays, names=list(table.names)), path, compression=compression)


FORMAT = Format(
    name="parquet",
    extensions=(".parquet", ".pq"),
    reader=Parquet(),
    writer=Parquet(),
    write_options=frozenset({"compression"}),
    description="Apache Parquet (pyarrow); exact round trip of names, order and dtypes",
)
