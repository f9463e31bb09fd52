"""The file layer: a compressed file of any codec, written and read the same way.

- :mod:`~hepsqueeze.file.header`: the data header (one frozen dataclass, one builder, one parser);
- :mod:`~hepsqueeze.file.writer`: compress a dataset, a stream of tables or a Parquet file;
- :mod:`~hepsqueeze.file.reader`: decompress (whole, chunk by chunk, to Parquet), ``file_info``;
- :mod:`~hepsqueeze.file.columns`, :mod:`~hepsqueeze.file.exceptions`: the lossless columns,
  auxiliary tables and exception stream every codec's files hold;
- :mod:`~hepsqueeze.file.report`: the report and the compression ratio.
"""

from hepsqueeze.file.reader import decompress_dataset, decompress_reader, decompress_to_parquet, file_info
from hepsqueeze.file.report import CompressionReport, compression_ratio
from hepsqueeze.file.writer import DEFAULT_CHUNK_ROWS, compress_batches, compress_dataset, compress_parquet

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "CompressionReport",
    "compress_batches",
    "compress_dataset",
    "compress_parquet",
    "compression_ratio",
    "decompress_dataset",
    "decompress_reader",
    "decompress_to_parquet",
    "file_info",
]
