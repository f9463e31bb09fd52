"""A memory-bomb corpus: small files that claim huge sizes, and a runner that reads them under a limit.

Each :class:`Bomb` is a file plus the ``hepsqueeze`` command that reads it (``compress`` for input
files, ``decompress`` or ``info`` for compressed ones). :func:`build_corpus` writes them all; the
runner (``python bomb_corpus.py DIR [NAME ...]``) limits its own address space first
(``RLIMIT_AS``, :data:`LIMIT_BYTES`), then runs each command in-process through
``hepsqueeze.cli.main`` and prints one JSON line per case: exit status, stderr, peak RSS. A case
passes when the command fails with one clean ``error:`` line and exit status 1: no traceback, no
MemoryError, no "internal error".

Kinds: ``npy`` (headers claiming up to 1.46 TiB), ``npz`` (an 8 MB zip of 8 GB of zeros, members
whose sizes lie), ``darkmachines`` (layouts with ``f100000000`` number formats, a string for
``number_formats``, ``layout: "x"``), ``root`` (layouts claiming 2**31 entries, huge fixed-size
branches, object dtypes), ``header`` (2M keys, deep nesting), ``section`` (sections claiming
huge shapes, zstd frames without or with lying content sizes), ``bounded`` (error-bounded files
claiming 2**30 / 2**40 rows), ``input`` (HDF5 datasets claiming 2 TiB, binary CSV, duplicate Parquet
columns, a character device).
"""

from __future__ import annotations

import functools
import json
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The address-space limit the runner sets on itself (1 GiB).
LIMIT_BYTES = 1 << 30
#: Environment for the runner: without these, thread arenas and jemalloc reserve over 1 GiB of
#: address space (not memory) before any data is read (measured: VmPeak 2.1 GB -> 0.8 GB).
RUNNER_ENV = {"MALLOC_ARENA_MAX": "1", "OMP_NUM_THREADS": "1", "ARROW_DEFAULT_MEMORY_POOL": "system"}
_HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Bomb:
    """A hostile file and the CLI arguments (after ``hepsqueeze``) that read it."""

    name: str
    kind: str
    argv: tuple[str, ...]


# -- helpers ----------------------------------------------------------------------------------------


def _repair_checksums(data: bytes) -> bytes:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "fuzz_container", _HERE.parents[1] / "fuzz" / "fuzz_container.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    repaired: bytes = module.repair_checksums(data)
    return repaired


def edit_header(data: bytes, edit: Callable[[dict[str, Any]], Any]) -> bytes:
    """A container with its header JSON changed by ``edit`` (in place), lengths and checksums repaired."""
    (length,) = struct.unpack_from("<I", data, 13)
    header = json.loads(data[17 : 17 + length])
    edit(header)
    raw = json.dumps(header, separators=(",", ":")).encode()
    return _repair_checksums(data[:13] + struct.pack("<I", len(raw)) + raw + data[17 + length :])


def raw_header(data: bytes, raw: bytes) -> bytes:
    """A container whose header JSON is replaced by ``raw``, checksums repaired."""
    (length,) = struct.unpack_from("<I", data, 13)
    return _repair_checksums(data[:13] + struct.pack("<I", len(raw)) + raw + data[17 + length :])


def sections(data: bytes) -> list[tuple[int, dict[str, Any], int, int]]:
    """(start, descriptor, payload offset, payload length) of every section."""
    (length,) = struct.unpack_from("<I", data, 13)
    pos = 17 + length + 8
    out = []
    while pos < len(data):
        (dlen,) = struct.unpack_from("<I", data, pos)
        desc = json.loads(data[pos + 4 : pos + 4 + dlen])
        (plen,) = struct.unpack_from("<Q", data, pos + 4 + dlen)
        out.append((pos, desc, pos + 4 + dlen + 8, plen))
        pos += 4 + dlen + 8 + plen + 8
    return out


def replace_section(data: bytes, index: int, desc: dict[str, Any], payload: bytes) -> bytes:
    """A container with section ``index`` replaced by ``desc`` and ``payload``, checksums repaired."""
    start, _, offset, plen = sections(data)[index]
    raw = json.dumps(desc, separators=(",", ":")).encode()
    new = struct.pack("<I", len(raw)) + raw + struct.pack("<Q", len(payload)) + payload + b"\0" * 8
    return _repair_checksums(data[:start] + new + data[offset + plen + 8 :])


def npy_bytes(header: str, body: bytes = b"") -> bytes:
    """A version 1.0 ``.npy`` file with this header text (padded as numpy does) and body."""
    text = header.encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    text += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + body


def _gf2_times(mat: list[int], vec: int) -> int:
    out, i = 0, 0
    while vec:
        if vec & 1:
            out ^= mat[i]
        vec >>= 1
        i += 1
    return out


def _crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """zlib's crc32_combine: the CRC of A + B from crc(A), crc(B) and len(B)."""

    def square(mat: list[int]) -> list[int]:
        return [_gf2_times(mat, mat[n]) for n in range(32)]

    odd = [0xEDB88320] + [1 << n for n in range(31)]
    even = square(odd)
    odd = square(even)
    while len2:
        even = square(odd)
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
    return crc1 ^ crc2


def zip_bomb(name: str, head: bytes, zeros_log2: int, declared: int | None = None) -> bytes:
    """A zip64 archive of one deflated member: ``head`` then 2**zeros_log2 zero bytes (>= 2**26).

    Built without deflating the zeros one by one: a 64 MiB block of zeros deflated after a full
    flush gives the same bytes every time, and the CRC is combined arithmetically. ``declared``
    overrides the uncompressed size written in the headers.
    """
    block_log2 = 26
    block = bytes(1 << block_log2)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = comp.compress(head) + comp.flush(zlib.Z_FULL_FLUSH)
    piece = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    repeat = 1 << (zeros_log2 - block_log2)
    stream = start + piece * repeat + comp.flush()
    crc_zeros = zlib.crc32(block)
    for shift in range(block_log2, zeros_log2):
        crc_zeros = _crc32_combine(crc_zeros, crc_zeros, 1 << shift)
    crc = _crc32_combine(zlib.crc32(head), crc_zeros, 1 << zeros_log2)
    size = len(head) + (1 << zeros_log2) if declared is None else declared
    fname = name.encode()
    extra_local = struct.pack("<HHQQ", 1, 16, size, len(stream))
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 45, 0, 8, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(fname), len(extra_local)
    )
    extra_central = struct.pack("<HHQQQ", 1, 24, size, len(stream), 0)
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 8, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
        len(fname), len(extra_central), 0, 0, 0, 0, 0xFFFFFFFF,
    )  # fmt: skip
    body = local + fname + extra_local + stream
    cd = central + fname + extra_central
    cd_at = len(body)
    eocd64 = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, 1, 1, len(cd), cd_at)
    locator = struct.pack("<IIQI", 0x07064B50, 0, cd_at + len(cd), 1)
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(cd), 0xFFFFFFFF, 0)
    return body + cd + eocd64 + locator + eocd


# -- the corpus -------------------------------------------------------------------------------------


def _jets(rows: int = 48) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    return {
        "event": np.repeat(np.arange(rows // 4, dtype=np.int64), 4),
        "E": rng.uniform(30, 300, rows).astype(np.float32),
        "pt": rng.uniform(20, 200, rows).astype(np.float32),
        "eta": rng.uniform(-3, 3, rows).astype(np.float32),
        "phi": rng.uniform(-3, 3, rows).astype(np.float32),
    }


def _compressed_files(tmp: Path) -> dict[str, bytes]:
    """Real compressed files to edit: plain jets, DarkMachines and ROOT datasets (error-bounded codec)."""
    import awkward as ak
    import numpy as np
    import uproot

    from hepsqueeze.api import compress
    from hepsqueeze.io import Dataset, Table, read_dataset

    out: dict[str, bytes] = {}
    compress(
        Dataset(Table(_jets()), {}, {"format": "parquet"}), tmp / "jets.hsqz", max_error="1e-3", chunk_rows=32
    )
    out["jets"] = (tmp / "jets.hsqz").read_bytes()
    dm = tmp / "dm.csv"
    dm.write_text(
        "1;ttbar;1;52730.2;-1.2;j,261543,190334,-0.795,0.483;b,145120,121021,0.532,-2.51;\n"
        "2;z;0.5;10101.1;3.1;e-,50000,40000,0.1,0.2;j,70000,60000,1.1,-0.2;\n"
    )
    compress(read_dataset(dm), tmp / "dm.hsqz", max_error="1e-3")
    out["darkmachines"] = (tmp / "dm.hsqz").read_bytes()
    root = tmp / "nano.root"
    with uproot.recreate(root) as file:
        tree = file.mktree(
            "Events",
            {
                "run": np.int32,
                "E": "var * float32",
                "pt": "var * float32",
                "eta": "var * float32",
                "phi": "var * float32",
            },
            counter_name=lambda name: "nJet",
        )
        tree.extend(
            {
                "run": np.array([1, 1, 2], dtype=np.int32),
                "E": ak.Array([[60.0, 40.0], [], [30.5]]),
                "pt": ak.Array([[50.0, 30.0], [], [25.5]]),
                "eta": ak.Array([[0.1, -1.2], [], [2.0]]),
                "phi": ak.Array([[0.3, -2.2], [], [1.0]]),
            }
        )
    compress(read_dataset(root, columns=["E", "pt", "eta", "phi"]), tmp / "nano.hsqz", max_error="1e-3")
    out["root"] = (tmp / "nano.hsqz").read_bytes()
    return out


def build_corpus(directory: Path) -> list[Bomb]:
    """Write every bomb into ``directory`` and return the cases (their paths are relative to it)."""
    import tempfile

    directory.mkdir(parents=True, exist_ok=True)
    corpus = _Corpus(directory)
    _add_npy(corpus)
    _add_npz(corpus)
    with tempfile.TemporaryDirectory() as tmp_name:
        files = _compressed_files(Path(tmp_name))
    _add_darkmachines(corpus, files["darkmachines"])
    _add_root_layouts(corpus, files["root"])
    _add_headers(corpus, files["jets"])
    _add_sections(corpus, files["jets"])
    _add_bounded(corpus, files["jets"])
    _add_inputs(corpus)
    return corpus.cases


@dataclass
class _Corpus:
    """The cases written so far into ``directory``."""

    directory: Path
    cases: list[Bomb] = field(default_factory=list)

    def add(self, name: str, kind: str, data: bytes | None, argv: tuple[str, ...]) -> None:
        """Write ``data`` (unless None: the file is already there) as ``name`` and add its case."""
        if data is not None:
            (self.directory / name).write_bytes(data)
        self.cases.append(Bomb(name, kind, argv))


def _compress(name: str, *extra: str) -> tuple[str, ...]:
    return ("compress", name, "--max-error", "1e-3", *extra, "-o", f"out-{name}.hsqz", "--force")


def _decompress(name: str, ext: str, *extra: str) -> tuple[str, ...]:
    return ("decompress", name, *extra, "-o", f"out-{name}{ext}", "--force")


def _add_npy(corpus: _Corpus) -> None:
    """.npy: headers whose shape claims more than the file holds."""
    add = corpus.add
    names = ("--names", "E,pt,eta,phi")
    add(
        "claims-1.46TiB.npy",
        "npy",
        npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (200000000000,), }"),
        _compress("claims-1.46TiB.npy", "--names", "E"),
    )
    add(
        "claims-64TiB-2d.npy",
        "npy",
        npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4398046511104, 4), }"),
        _compress("claims-64TiB-2d.npy", *names),
    )
    add(
        "structured-claims-1TiB.npy",
        "npy",
        npy_bytes(
            "{'descr': [('E', '<f4'), ('pt', '<f4'), ('eta', '<f4'), ('phi', '<f4')], "
            "'fortran_order': False, 'shape': (68719476736,), }"
        ),
        _compress("structured-claims-1TiB.npy"),
    )
    add(
        "void-1GB-items.npy",
        "npy",
        npy_bytes("{'descr': '|V1000000000', 'fortran_order': False, 'shape': (1000,), }"),
        _compress("void-1GB-items.npy", "--names", "E"),
    )
    add(
        "subarray-dtype-bomb.npy",
        "npy",
        npy_bytes("{'descr': [('E', '<f8', (65536, 65536))], 'fortran_order': False, 'shape': (16,), }"),
        _compress("subarray-dtype-bomb.npy"),
    )
    add(
        "truncated-1MiB.npy",
        "npy",
        npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 4), }", b"\0" * 10),
        _compress("truncated-1MiB.npy", *names),
    )
    add(
        "nested-header.npy",
        "npy",
        npy_bytes(
            "{'descr': " + "(" * 3000 + "'<f8'" + ")" * 3000 + ", 'fortran_order': False, 'shape': (4,), }"
        ),
        _compress("nested-header.npy", "--names", "E"),
    )


def _add_npz(corpus: _Corpus) -> None:
    """.npz: zip bombs and members whose sizes lie."""
    add = corpus.add
    head8 = npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1073741824,), }")
    add("zeros-8GB.npz", "npz", zip_bomb("E.npy", head8, 33), _compress("zeros-8GB.npz"))
    head2 = npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (268435456,), }")
    add("zeros-2GB.npz", "npz", zip_bomb("E.npy", head2, 31), _compress("zeros-2GB.npz"))
    add(
        "member-declares-64B.npz",
        "npz",
        zip_bomb("E.npy", head2, 31, declared=64),
        _compress("member-declares-64B.npz"),
    )
    head_lie = npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (137438953472,), }")
    add(
        "header-claims-1TiB-in-64MiB.npz",
        "npz",
        zip_bomb("E.npy", head_lie, 26),
        _compress("header-claims-1TiB-in-64MiB.npz"),
    )


def _add_darkmachines(corpus: _Corpus, dm: bytes) -> None:
    """DarkMachines layouts in compressed files (``dm``: a real one to edit)."""
    add = corpus.add

    def dm_layout(name: str, edit: Callable[[dict[str, Any]], Any]) -> None:
        add(name, "darkmachines", edit_header(dm, lambda h: edit(h["layout"])), _decompress(name, ".csv"))

    dm_layout("dm-f100000000.hsqz", lambda lay: lay["number_formats"].update(E="f100000000"))
    dm_layout("dm-g1000.hsqz", lambda lay: lay["number_formats"].update(pt="g1000"))
    dm_layout("dm-formats-string.hsqz", lambda lay: lay.update(number_formats="g6"))
    dm_layout("dm-format-number.hsqz", lambda lay: lay["number_formats"].update(eta=6))
    dm_layout("dm-newline-1MB.hsqz", lambda lay: lay.update(newline="\n" * 1_000_000))
    dm_layout("dm-blank-lines-text.hsqz", lambda lay: lay.update(blank_lines=["a"]))
    add(
        "dm-layout-x.hsqz",
        "darkmachines",
        edit_header(dm, lambda h: h.update(layout="x")),
        _decompress("dm-layout-x.hsqz", ".csv"),
    )


def _add_root_layouts(corpus: _Corpus, nano: bytes) -> None:
    """ROOT layouts in compressed files (``nano``: a real one to edit)."""
    add = corpus.add

    def root_layout(name: str, edit: Callable[[dict[str, Any]], Any]) -> None:
        add(name, "root", edit_header(nano, lambda h: edit(h["layout"])), _decompress(name, ".root"))

    def drop_flat(lay: dict[str, Any]) -> None:
        lay["branches"] = [b for b in lay["branches"] if b["kind"] != "flat"]
        lay["num_entries"] = 1 << 31

    root_layout("root-2^31-entries.hsqz", lambda lay: lay.update(num_entries=1 << 31))
    root_layout("root-2^31-entries-collections-only.hsqz", drop_flat)
    root_layout("root-branch-shape-2^32.hsqz", lambda lay: lay["branches"][0].update(shape=[65536, 65536]))
    root_layout("root-object-dtype.hsqz", lambda lay: lay["branches"][0].update(dtype="|O"))
    root_layout("root-subarray-dtype.hsqz", lambda lay: lay["branches"][0].update(dtype="(65536,65536)f8"))
    root_layout("root-collections-list.hsqz", lambda lay: lay.update(collections=[1, 2]))


def _add_headers(corpus: _Corpus, jets: bytes) -> None:
    """Container headers: millions of keys, deep nesting."""
    add = corpus.add
    big = b'{"kind":"hepsqueeze-data",' + b",".join(b'"k%07d":%d' % (i, i) for i in range(2_000_000)) + b"}"
    add("header-2M-keys.hsqz", "header", raw_header(jets, big), ("info", "header-2M-keys.hsqz"))
    add(
        "header-deep.hsqz",
        "header",
        raw_header(jets, b'{"a":' + b"[" * 500_000 + b"]" * 500_000 + b"}"),
        ("info", "header-deep.hsqz"),
    )
    add(
        "header-1M-empty-lists.hsqz",
        "header",
        raw_header(jets, b'{"a":[' + b"[]," * 1_000_000 + b"[]]}"),
        ("info", "header-1M-empty-lists.hsqz"),
    )


def _add_sections(corpus: _Corpus, jets: bytes) -> None:
    """Sections claiming huge shapes, zstd frames without or with lying content sizes."""
    import zstandard

    add = corpus.add
    first = sections(jets)[0][1]
    huge = {
        **first,
        "encoding": "raw",
        "transform": None,
        "dtype": "<f8",
        "shape": [1 << 37],
        "nbytes": 1 << 40,
    }
    add(
        "section-raw-claims-1TiB.hsqz",
        "section",
        replace_section(jets, 0, huge, b"\0" * 64),
        _decompress("section-raw-claims-1TiB.hsqz", ".parquet"),
    )
    frame = zstandard.ZstdCompressor(write_content_size=False).compress(bytes(1 << 20))
    nosize = {
        **first,
        "encoding": "zstd",
        "transform": None,
        "dtype": "|u1",
        "shape": [1 << 20],
        "nbytes": 1 << 20,
    }
    add(
        "section-zstd-no-content-size.hsqz",
        "section",
        replace_section(jets, 0, nosize, frame),
        _decompress("section-zstd-no-content-size.hsqz", ".parquet"),
    )
    liar = zstandard.ZstdCompressor().compress(bytes(1 << 20))
    lying = {
        **first,
        "encoding": "zstd",
        "transform": None,
        "dtype": "|u1",
        "shape": [1 << 34],
        "nbytes": 1 << 34,
    }
    add(
        "section-zstd-claims-16GiB.hsqz",
        "section",
        replace_section(jets, 0, lying, liar),
        _decompress("section-zstd-claims-16GiB.hsqz", ".parquet"),
    )


def _set_rows(header: dict[str, Any], *, rows: int) -> None:
    header["num_rows"] = rows


def _add_bounded(corpus: _Corpus, jets: bytes) -> None:
    """Error-bounded files claiming more rows than they hold (the codec's part)."""
    import zstandard

    add = corpus.add
    for log2 in (30, 40):
        name = f"bounded-claims-2^{log2}-rows.hsqz"
        data = edit_header(jets, functools.partial(_set_rows, rows=1 << log2))
        add(
            name,
            "bounded",
            data,
            ("decompress", name, "--stream", "-o", f"out-{name}.parquet", "--force"),
        )
    payload = next(
        i for i, (_, d, _, _) in enumerate(sections(jets)) if d["kind"] == "column" and d["dtype"] == "|u1"
    )
    _, desc, offset, plen = sections(jets)[payload]
    blob = jets[offset : offset + plen]
    at = blob.find(b"\x28\xb5\x2f\xfd")
    if at >= 0:
        tiny = zstandard.ZstdCompressor(write_content_size=False).compress(b"\0" * 8)
        mutated = blob[:at] + tiny + blob[at + len(tiny) :]
        desc = {**desc, "shape": [len(mutated)], "nbytes": len(mutated)}
        add(
            "bounded-zstd-no-content-size.hsqz",
            "bounded",
            replace_section(jets, payload, desc, mutated),
            _decompress("bounded-zstd-no-content-size.hsqz", ".parquet"),
        )


def _add_inputs(corpus: _Corpus) -> None:
    """Input files: HDF5 datasets claiming 2 TiB, binary CSV, duplicate Parquet columns, a character device."""
    import h5py
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    add, directory = corpus.add, corpus.directory
    with h5py.File(directory / "claims-2TiB.h5", "w") as fh:
        for n in ("event", "E", "pt", "eta", "phi"):
            fh.create_dataset(n, shape=(1 << 38,), dtype="<f8", chunks=(1 << 16,), compression="gzip")
    add("claims-2TiB.h5", "input", None, _compress("claims-2TiB.h5"))
    add("binary.csv", "input", np.random.default_rng(1).bytes(4096), _compress("binary.csv"))
    dup = pa.Table.from_arrays(
        [pa.array(v) for v in _jets().values()] + [pa.array(np.ones(48))], names=[*_jets(), "pt"]
    )
    pq.write_table(dup, directory / "duplicate-column.parquet")
    add("duplicate-column.parquet", "input", None, _compress("duplicate-column.parquet", "--stream"))
    add(
        "duplicate-column-nostream.parquet",
        "input",
        (directory / "duplicate-column.parquet").read_bytes(),
        _compress("duplicate-column-nostream.parquet"),
    )
    urandom = ("compress", "/dev/urandom", "--format", "csv", "--max-error", "1e-3", "-o", "out-urandom.hsqz")
    corpus.cases.append(Bomb("/dev/urandom", "input", (*urandom, "--force")))


# -- the runner (under the address-space limit) -----------------------------------------------------


def _peak_rss_kib() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM"))


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def run_cases(directory: Path, argvs: list[list[str]]) -> list[dict[str, Any]]:
    """Run each CLI command in this process (already limited) and report its outcome."""
    import contextlib
    import io
    import os
    import time
    import traceback

    from hepsqueeze.cli import main

    os.chdir(directory)
    results = []
    for argv in argvs:
        err = io.StringIO()
        _reset_peak()
        began = time.perf_counter()
        try:
            with contextlib.redirect_stderr(err):
                code: Any = main(argv)
        except BaseException as exc:  # the test fails on these; report them
            code = f"raised {type(exc).__name__}"
            err.write(traceback.format_exc())
        results.append(
            {
                "argv": argv,
                "code": code,
                "stderr": err.getvalue(),
                "peak_rss_kib": _peak_rss_kib(),
                "seconds": round(time.perf_counter() - began, 3),
            }
        )
    return results


def main() -> None:
    """``bomb_corpus.py DIR ARGV_JSON``: limit the address space, run the commands, print JSON lines."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))
    directory, argvs = Path(sys.argv[1]), json.loads(sys.argv[2])
    for result in run_cases(directory, argvs):
        sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
