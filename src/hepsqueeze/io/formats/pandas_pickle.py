"""pandas DataFrames saved with ``DataFrame.to_pickle`` (the format of the original ATLAS jet files).

Loading a pickle runs code stored in the file, so a pickle is only read with ``allow_pickle=True``
(``--allow-pickle``), and then with a logged warning. This is the only place in hepsqueeze that
unpickles anything. Read-only: hepsqueeze writes Parquet and the other data formats instead.
Each DataFrame column becomes a table column (names must be strings); the index is not kept.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ConfigError, InputError
from hepsqueeze.io.interpret import build_table, select_names
from hepsqueeze.io.registry import ALLOW_PICKLE, Format
from hepsqueeze.io.table import Table

logger = logging.getLogger(__name__)


def _column(frame: Any, name: str, where: str) -> npt.NDArray[Any]:
    series = frame[name]
    dtype = series.dtype
    numpy_dtype = getattr(dtype, "numpy_dtype", None)
    if numpy_dtype is not None and not isinstance(dtype, np.dtype):
        # pandas' nullable Int64/Float32/boolean columns: usable only without missing values.
        missing = int(series.isna().sum())
        if missing:
            raise InputError(f"column {name!r} in {where} has {missing} missing (NA) values")
        return np.asarray(series.to_numpy(dtype=numpy_dtype))
    return np.asarray(series.to_numpy())


class PandasPickle:
    """Reader for pickled pandas DataFrames (``.pkl``, ``.pickle``)."""

    def read(self, path: Path, columns: Sequence[str] | None, **options: Any) -> Table:
        """Unpickle ``path`` (only with ``allow_pickle=True``) and take the DataFrame's columns."""
        where = str(path)
        if options.get(ALLOW_PICKLE) is not True:
            raise InputError(
                f"{where!r} is a pickle, and loading a pickle runs code from the file; hepsqueeze "
                "does it only when asked (allow_pickle=True), if you trust the file",
                option="allow_pickle",
            )
        try:
            import pandas as pd
        except ImportError as exc:
            raise ConfigError("reading pandas pickles needs pandas: pip install 'hepsqueeze[io]'") from exc
        logger.warning("unpickling %s: this runs code from the file; do it only with files you trust", where)
        frame = pd.read_pickle(path)  # the one deliberate unpickle (see the module docstring)
        if isinstance(frame, pd.Series):
            frame = frame.to_frame()
        if not isinstance(frame, pd.DataFrame):
            raise InputError(f"{where!r} holds a pickled {type(frame).__name__}, not a pandas DataFrame")
        names = list(frame.columns)
        odd = [n for n in names if not isinstance(n, str)]
        if odd:
            raise InputError(f"DataFrame columns in {where!r} must have string names; found {odd[0]!r}")
        selected = select_names(names, columns, where)
        return build_table(((n, _column(frame, n, where)) for n in selected), where)


FORMAT = Format(
    name="pickle",
    extensions=(".pkl", ".pickle"),
    reader=PandasPickle(),
    read_options=frozenset({ALLOW_PICKLE}),
    description="pickled pandas DataFrame; read-only, and only with allow_pickle=True (runs code)",
)
