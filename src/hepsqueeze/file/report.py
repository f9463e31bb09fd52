"""The report of one compressed file, and the compression ratio (defined here only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: Bytes of one value in the ratio's numerator: the ratio compares with float32 columns.
RATIO_VALUE_BYTES = 4


def compression_ratio(rows: int, compressed_columns: int, file_bytes: int) -> float:
    """(4 bytes x rows x compressed columns) / (bytes of the whole file); 0 for an empty file."""
    return RATIO_VALUE_BYTES * rows * compressed_columns / file_bytes if file_bytes else 0.0


@dataclass(frozen=True)
class CompressionReport:
    """Sizes and ratio of one compressed file (bytes; ratio as defined in the README)."""

    path: Path
    rows: int
    compressed_columns: tuple[str, ...]
    passthrough_columns: tuple[str, ...]
    file_bytes: int
    section_bytes: dict[str, int]
    auxiliary_rows: dict[str, int] = field(default_factory=dict)
    """Rows of each auxiliary table stored losslessly next to the main table."""
    exceptions: dict[str, int] = field(default_factory=dict)
    """Values stored exactly, by column (or by what the codec counts, e.g. ``(jets)``)."""

    @property
    def ratio(self) -> float:
        """(4 bytes x rows x compressed columns) / (bytes of the whole file)."""
        return compression_ratio(self.rows, len(self.compressed_columns), self.file_bytes)

    @property
    def exception_count(self) -> int:
        """Values stored exactly, over all compressed columns."""
        return sum(self.exceptions.values())


__all__ = ["RATIO_VALUE_BYTES", "CompressionReport", "compression_ratio"]
