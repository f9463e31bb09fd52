"""Streaming reads of Parquet files: row batches in bounded memory, for inputs larger than memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hepsqueeze.errors import InputError
from hepsqueeze.io.formats.parquet import arrow_to_numpy, index_columns
from hepsqueeze.io.interpret import check_dtype, select_names
from hepsqueeze.io.source import check_input
from hepsqueeze.io.table import Table


def parquet_batches(
    path: str | Path, batch_rows: int
) -> tuple[int, dict[str, np.dtype[Any]], Iterator[Table]]:
    """``(rows, column dtypes, batches)`` of a Parquet file: every column, read ``batch_rows`` at a time.

    The row count and dtypes come from the file's metadata, before any data is read; the batches
    (tables of at most ``batch_rows`` rows) are read lazily, one at a time. Columns must be numeric
    or boolean without nulls (:class:`InputError` otherwise, as :func:`hepsqueeze.io.read_table`).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = check_input(path)
    where = str(src)
    try:
        # pre_buffer=False: with pre-buffering, pyarrow 26 keeps every row group read so far cached
        # (memory grows with the file, measured at ~18 bytes per row of this schema).
        pf = pq.ParquetFile(src, pre_buffer=False)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read {where} as Parquet: {exc}") from None
    schema = pf.schema_arrow
    try:
        index = index_columns(schema, where)
        names = select_names([n for n in schema.names if n not in index], None, where)
    except InputError:
        pf.close()
        raise
    dtypes: dict[str, np.dtype[Any]] = {}
    for name in names:
        kind = schema.field(name).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
            pf.close()
            raise InputError(
                f"column {name!r} in {where} has type {kind}; only numeric and boolean columns are supported"
            )
        dtype = np.dtype(kind.to_pandas_dtype())
        check_dtype(name, dtype, where)
        dtypes[name] = dtype
    num_rows = int(pf.metadata.num_rows)

    def batches() -> Iterator[Table]:
        with pf:
            for batch in pf.iter_batches(batch_size=batch_rows, columns=names, use_pandas_metadata=False):
                yield Table(
                    {
                        n: arrow_to_numpy(n, pa.chunked_array([batch.column(i)]), where)
                        for i, n in enumerate(names)
                    },
                    source=where,
                )

    return num_rows, dtypes, batches()
