"""atheris fuzz target: the container parser and the compressed-data reader.

Every input must either decode or raise :class:`~hepsqueeze.errors.ContainerError`; any other
exception, a crash or a hang is a bug. The first input byte picks the mode: even bytes feed the
rest to the reader as is (exercising framing, lengths and checksums), odd bytes first recompute
every checksum (:func:`repair_checksums`) so mutations reach the JSON, schema, decoding and
data-layer checks behind them.

Run (``make_corpus`` writes seeds: real compressed files and model files)::

    .venv/bin/python fuzz/fuzz_container.py --make-corpus fuzz/corpus
    .venv/bin/python fuzz/fuzz_container.py fuzz/corpus -atheris_runs=1000000 -max_len=65536

Arguments after the script name go to libFuzzer (``-max_total_time=600``, ``-jobs=2``, ...).
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path
from typing import Any

import xxhash

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_PREAMBLE = 17


def repair_checksums(data: bytes) -> bytes:
    """Recompute the header and section checksums of a (possibly mutated) container, leniently."""
    out = bytearray(data)
    if len(out) < _PREAMBLE:
        return bytes(out)
    (header_len,) = _U32.unpack_from(out, 13)
    pos = _PREAMBLE + header_len
    if pos + 8 > len(out):
        return bytes(out)
    _U64.pack_into(out, pos, xxhash.xxh64_intdigest(bytes(out[_PREAMBLE:pos])))
    pos += 8
    while pos + 4 <= len(out):
        (desc_len,) = _U32.unpack_from(out, pos)
        desc_end = pos + 4 + desc_len
        if desc_end + 8 > len(out):
            break
        (payload_len,) = _U64.unpack_from(out, desc_end)
        payload_at = desc_end + 8
        if payload_len > len(out) - payload_at - 8:
            break
        end = payload_at + payload_len
        digest = xxhash.xxh64(bytes(out[pos + 4 : desc_end]))
        digest.update(bytes(out[payload_at:end]))
        _U64.pack_into(out, end, digest.intdigest())
        pos = end + 8
    return bytes(out)


def check(data: bytes) -> None:
    """Parse and decode ``data``: as a container, as compressed data and as a model file."""
    from hepsqueeze.container import ContainerReader
    from hepsqueeze.errors import ContainerError, ModelError
    from hepsqueeze.file.reader import decompress_reader
    from hepsqueeze.models.io import model_from_bytes

    if not data:
        return
    body = repair_checksums(data[1:]) if data[0] & 1 else data[1:]
    try:
        with ContainerReader.from_bytes(body, "<fuzz>") as reader:
            for section in reader.sections:
                reader.read_array(section)
            kind = reader.header.get("kind")
            if kind == "hepsqueeze-data":
                decompress_reader(reader)
    except ContainerError:
        return
    if kind == "hepsqueeze-model":
        try:
            model_from_bytes(body, "<fuzz>")
        except ModelError:
            return


def make_corpus(directory: Path) -> list[Path]:
    """Write seed inputs: small compressed files (with exceptions, aux tables) and a model file."""
    import tempfile

    import numpy as np
    import numpy.typing as npt
    import torch

    from hepsqueeze.codecs.autoencoder.codec import AutoencoderCodec
    from hepsqueeze.codecs.bounded.codec import BoundedJetCodec
    from hepsqueeze.codecs.bounded.spec import parse_max_error
    from hepsqueeze.file.writer import compress_dataset
    from hepsqueeze.io.dataset import Dataset
    from hepsqueeze.io.table import Table
    from hepsqueeze.models.autoencoder import Autoencoder, AutoencoderConfig
    from hepsqueeze.models.io import save_model
    from hepsqueeze.models.model import CompressionModel
    from hepsqueeze.preprocessing.normalisation import Normaliser

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = ("E", "pt", "eta", "phi")
    x = np.abs(rng.standard_normal((64, 4))).astype(np.float32) + 1
    torch.manual_seed(0)
    model = CompressionModel(
        Autoencoder(AutoencoderConfig((4, 3, 2, 3, 4))),
        Normaliser.fit("custom+minmax", names, x),
        names,
        names,
    )
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows, special, aux in ((0, False, False), (1, False, False), (9, True, False), (12, True, True)):
            cols: dict[str, npt.NDArray[Any]] = {"event": np.arange(rows, dtype=np.int64)}
            cols.update({n: x[:rows, j].copy() for j, n in enumerate(names)})
            if special:
                cols["pt"][0] = np.nan
                cols["eta"][1] = 1e9
            tables = {"t": Table({"a": np.arange(3, dtype=np.int16)})} if aux else {}
            path = Path(tmp) / f"{rows}.hsqz"
            compress_dataset(Dataset(Table(cols), tables, {"format": "x"}), AutoencoderCodec(model), path)
            for mode in (0, 1):
                seed = directory / f"data-{rows}-{mode}"
                seed.write_bytes(bytes([mode]) + path.read_bytes())
                written.append(seed)
        # error-bounded jet codec files: event runs, Huffman and ANS groups, exceptions, floors
        jets = np.column_stack(
            [
                rng.uniform(30, 300, 48),
                rng.uniform(20, 200, 48),
                rng.uniform(-3, 3, 48),
                rng.uniform(-3, 3, 48),
            ]
        ).astype(np.float32)
        jets[5, 1], jets[9, 0] = np.nan, 0.0
        cols = {"event": np.repeat(np.arange(12), 4), **{n: jets[:, j].copy() for j, n in enumerate(names)}}
        # 1e-12: stored exactly; 0 rows: a file of no chunks
        for eps, floor, rows in (
            ("1e-3", None, 48),
            ("1e-2", "0.5", 48),
            ("1e-12", None, 48),
            ("1e-3", None, 0),
        ):
            label = f"{eps}" if rows else f"{eps}-empty"
            path = Path(tmp) / f"bounded-{label}.hsqz"
            codec = BoundedJetCodec(parse_max_error(eps, floor))
            table = Table({n: v[:rows] for n, v in cols.items()})
            compress_dataset(Dataset(table, {}, {"format": "x"}), codec, path, chunk_rows=32)
            for mode in (0, 1):
                seed = directory / f"bounded-{label}-{mode}"
                seed.write_bytes(bytes([mode]) + path.read_bytes())
                written.append(seed)
        mpath = save_model(model, Path(tmp) / "m.hsqm")
        seed = directory / "model-1"
        seed.write_bytes(b"\x01" + mpath.read_bytes())
        written.append(seed)
    return written


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--make-corpus":
        for path in make_corpus(Path(sys.argv[2])):
            print(path)
        return
    import atheris  # type: ignore[import-untyped]

    # Dependencies first, uninstrumented: coverage is wanted in hepsqueeze's own parsing code.
    import numpy  # noqa: F401
    import torch  # noqa: F401
    import xxhash  # noqa: F401
    import zstandard  # noqa: F401

    with atheris.instrument_imports(include=["hepsqueeze"]):
        import hepsqueeze.codecs.autoencoder.codec
        import hepsqueeze.codecs.bounded.codec
        import hepsqueeze.container
        import hepsqueeze.file.reader
        import hepsqueeze.models.io  # noqa: F401

    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
