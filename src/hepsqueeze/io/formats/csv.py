"""Comma-separated text with a header row, via pyarrow.csv.

CSV carries no types, so a round trip changes dtypes: integer columns come back as int64, floating
point columns as float64 (or ``float_dtype="float32"``), booleans (``true``/``false``) as bool, and
the columns of a file with no rows as ``float_dtype``. Floats are written with the shortest text that
round trips in their own precision (and always with a ``.`` or exponent, so they are not re-read as
integers): float64 values come back exactly, float32 values exactly after casting back to float32
(or directly with ``float_dtype="float32"``). uint64 values above the int64 range come back as float64.
Empty cells are missing values and are rejected; ``nan``, ``inf`` and ``-inf`` are read as floats.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ConfigError, InputError
from hepsqueeze.io.interpret import build_table, native, select_names
from hepsqueeze.io.registry import Format, get_option
from hepsqueeze.io.source import read_head
from hepsqueeze.io.table import Table

_FLOAT_DTYPES: dict[str, np.dtype[Any]] = {"float64": np.dtype(np.float64), "float32": np.dtype(np.float32)}


def _delimiter(options: dict[str, Any]) -> str:
    delimiter = get_option(options, "delimiter", ",", str, "csv")
    # Numbers are written unquoted, so the delimiter must not be a character that occurs in them.
    if len(delimiter) != 1 or delimiter.isalnum() or delimiter in "\"'.+-\r\n":
        raise ConfigError(f"csv delimiter must be one punctuation or space character, got {delimiter!r}")
    return delimiter


#: Bytes at the start of a CSV file checked for binary content before parsing.
TEXT_CHECK_BYTES = 1 << 16


def _check_text(path: Path) -> None:
    """InputError if the file starts with bytes that are not UTF-8 text (NUL bytes, invalid sequences)."""
    head = read_head(path, TEXT_CHECK_BYTES)
    bad = [head.find(b"\x00")]
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the block read is not an error.
        cut = len(head) == TEXT_CHECK_BYTES and exc.reason == "unexpected end of data"
        bad.append(-1 if cut else exc.start)
    found = [b for b in bad if b >= 0]
    if found:
        raise InputError(
            f"{str(path)!r} holds binary data, not CSV text (byte {min(found)} is not UTF-8 text)"
        )


def _header(path: Path, delimiter: str) -> list[str]:
    # The header decides which columns exist before pyarrow parses anything, so a missing requested
    # column is reported with the nearest names instead of a pyarrow KeyError.
    _check_text(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            row = next(csv.reader(fh, delimiter=delimiter), None)
    except csv.Error as exc:  # e.g. a first line longer than the csv module's field limit
        raise InputError(f"cannot read the header row of {str(path)!r}: {exc}") from None
    if not row:
        raise InputError(f"{str(path)!r} is empty; a CSV file needs a header row with the column names")
    return row


def _first_text(column: Any) -> tuple[int, str]:
    """Row index and value of the first cell of a text column that does not parse as a number."""
    row = 0
    for chunk in column.chunks:
        for value in chunk.to_pylist():
            try:
                float(value)
            except (TypeError, ValueError):
                return row, str(value)
            row += 1
    # Python accepted every value (it is laxer than pyarrow, e.g. "1_000"); show the first one.
    return 0, str(column[0].as_py()) if len(column) else ""


class Csv:
    """Reader and writer for ``.csv`` files with a header row."""

    def read(self, path: Path, columns: Sequence[str] | None, **options: Any) -> Table:
        """Parse ``path``; only the selected columns are converted."""
        import pyarrow as pa
        import pyarrow.csv as pcsv

        where = str(path)
        delimiter = _delimiter(options)
        float_name = get_option(options, "float_dtype", "float64", str, "csv")
        if float_name not in _FLOAT_DTYPES:
            raise ConfigError(
                f"csv float_dtype must be one of {', '.join(_FLOAT_DTYPES)}, got {float_name!r}"
            )
        float_dtype = _FLOAT_DTYPES[float_name]
        names = select_names(_header(path, delimiter), columns, where)
        if not names:
            # pyarrow reads every column when include_columns is empty.
            return build_table([], where)
        convert = pcsv.ConvertOptions(
            include_columns=names,
            # pyarrow treats "nan", "NA", "null"... as missing by default; only empty cells are missing here.
            null_values=[""],
            strings_can_be_null=False,
        )
        parse = pcsv.ParseOptions(delimiter=delimiter)
        try:
            data = pcsv.read_csv(path, parse_options=parse, convert_options=convert)
        except pa.ArrowInvalid as exc:
            # The threaded parser does not know line numbers; parse again on one thread to name the line.
            if "CSV parse error" not in str(exc) or "Row #" in str(exc):
                raise
            single = pcsv.ReadOptions(use_threads=False)
            data = pcsv.read_csv(path, read_options=single, parse_options=parse, convert_options=convert)
        return build_table(((n, self._column(n, data.column(n), float_dtype, where)) for n in names), where)

    @staticmethod
    def _column(name: str, column: Any, float_dtype: np.dtype[Any], where: str) -> npt.NDArray[Any]:
        import pyarrow as pa

        kind = column.type
        if pa.types.is_null(kind):
            if len(column) == 0:
                return np.empty(0, dtype=float_dtype)
            raise InputError(f"column {name!r} in {where} has no values (all {len(column)} cells are empty)")
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            row, value = _first_text(column)
            raise InputError(
                f"column {name!r} in {where} holds text, e.g. {value!r} on line {row + 2}; "
                "only numeric and boolean columns are supported"
            )
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
            raise InputError(
                f"column {name!r} in {where} has type {kind}; only numeric and boolean columns are supported"
            )
        if column.null_count:
            row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
            raise InputError(
                f"column {name!r} in {where} has {column.null_count} empty cell(s), "
                f"the first on line {row + 2}"
            )
        array = np.asarray(column.to_numpy())
        if array.dtype.kind == "f" and array.dtype != float_dtype:
            try:
                with np.errstate(over="raise"):
                    array = array.astype(float_dtype)
            except FloatingPointError:
                raise InputError(
                    f"column {name!r} in {where} has values beyond the {float_dtype} range; "
                    "read it with float_dtype='float64'"
                ) from None
        return array

    def write(self, table: Table, path: Path, **options: Any) -> None:
        """Write a header row, then one line per row."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pcsv

        delimiter = _delimiter(options)
        arrays = []
        for name in table.names:
            array = pa.array(native(table.columns[name]))
            if pa.types.is_floating(array.type):
                # pyarrow writes 2.0 as "2", which would be read back as an integer column.
                text = pc.cast(array, pa.string())
                integral = pc.match_substring_regex(text, r"^-?[0-9]+$")
                array = pc.if_else(integral, pc.binary_join_element_wise(text, ".0", ""), text)
            arrays.append(array)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            # The stdlib writer quotes names only where needed; pyarrow would quote every name.
            csv.writer(fh, delimiter=delimiter, lineterminator="\n").writerow(table.names)
        body = pa.Table.from_arrays(arrays, names=list(table.names))
        write = pcsv.WriteOptions(include_header=False, delimiter=delimiter, quoting_style="none")
        with open(path, "ab") as fh:
            pcsv.write_csv(body, fh, write_options=write)


FORMAT = Format(
    name="csv",
    extensions=(".csv",),
    reader=Csv(),
    writer=Csv(),
    read_options=frozenset({"delimiter", "float_dtype"}),
    write_options=frozenset({"delimiter"}),
    description="CSV with a header row; ints come back as int64, floats as float64 (float_dtype)",
)
