"""atheris fuzz target: the input readers (``hepsqueeze.io.read_dataset``) of every data format.

Every input must either be read or raise a :class:`~hepsqueeze.errors.HepsqueezeError` subclass;
any other exception (MemoryError, KeyError, AssertionError, ...), a crash, a hang or more memory
than libFuzzer's ``-rss_limit_mb`` is a bug. The bytes are written to a temporary file whose
extension the first input byte picks (``.npy``, ``.npz``, ``.csv``, ``.parquet``, ``.h5``,
``.root``; DarkMachines CSV is found from the content of ``.csv`` files); bit 3 of that byte passes
``names=`` to the NumPy readers. With ``HEPSQUEEZE_FUZZ_FORMAT=<extension>`` (``npz``, ``root``,
...) every input is a file of that format, without the selector byte (use the matching
``--make-corpus`` subdirectory).

Run (``--make-corpus`` writes small valid files of each format, mixed in ``DIR/all`` and one
directory per format)::

    .venv/bin/python fuzz/fuzz_readers.py --make-corpus fuzz-readers-corpus
    .venv/bin/python fuzz/fuzz_readers.py fuzz-readers-corpus/all -atheris_runs=1000000 -max_len=8192
    HEPSQUEEZE_FUZZ_FORMAT=root .venv/bin/python fuzz/fuzz_readers.py fuzz-readers-corpus/root \\
        -max_total_time=600 -max_len=16384

Arguments after the script name go to libFuzzer (``-max_total_time=600``, ``-rss_limit_mb=2048``, ...).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

#: Extensions the selector byte picks from (its low three bits, modulo the count).
EXTENSIONS = (".npy", ".npz", ".csv", ".parquet", ".h5", ".root")
_NAMES_BIT = 0x08
_NAMES = ("a", "b", "c")
_WORKDIR: list[Path] = []  # made on first use, removed at exit


def _workdir() -> Path:
    if not _WORKDIR:
        tmp = Path(
            tempfile.mkdtemp(
                prefix="hsq-fuzz-readers-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None
            )
        )
        atexit.register(shutil.rmtree, tmp, True)
        _WORKDIR.append(tmp)
    return _WORKDIR[0]


def _fixed_extension() -> str | None:
    value = os.environ.get("HEPSQUEEZE_FUZZ_FORMAT")
    if not value:
        return None
    ext = value if value.startswith(".") else f".{value}"
    if ext not in EXTENSIONS:
        raise SystemExit(f"HEPSQUEEZE_FUZZ_FORMAT must be one of {', '.join(EXTENSIONS)}, not {value!r}")
    return ext


_FIXED = _fixed_extension()


def check(data: bytes) -> None:
    """Write ``data`` to a file of the chosen format and read it; only hepsqueeze errors may escape."""
    from hepsqueeze.errors import HepsqueezeError
    from hepsqueeze.io import read_dataset

    if _FIXED is not None:
        ext, body, names = _FIXED, data, False
    else:
        if not data:
            return
        ext, body, names = EXTENSIONS[(data[0] & 7) % len(EXTENSIONS)], data[1:], bool(data[0] & _NAMES_BIT)
    path = _workdir() / f"input{ext}"
    path.write_bytes(body)
    options: dict[str, Any] = {}
    if names and ext in (".npy", ".npz"):
        options["names"] = list(_NAMES[: 1 + body[-1] % 3]) if body else ["a"]
    try:
        read_dataset(path, **options)
    except HepsqueezeError:
        return


def _seeds() -> dict[str, dict[str, bytes]]:
    """Small valid files of each format: {extension: {name: bytes}}."""
    import io
    import zipfile

    import numpy as np

    from hepsqueeze.io import Table, write_table

    out: dict[str, dict[str, bytes]] = {ext: {} for ext in EXTENSIONS}
    rng = np.random.default_rng(0)
    table = Table(
        {
            "event": np.repeat(np.arange(3, dtype=np.int64), 2),
            "E": rng.uniform(30, 300, 6).astype(np.float32),
            "pt": rng.uniform(20, 200, 6),
            "flag": np.array([True, False] * 3),
            "n": np.arange(6, dtype=np.int16),
        }
    )
    floats = Table({"a": np.linspace(0, 1, 5, dtype=np.float32), "b": np.arange(5, dtype=np.float32)})
    with tempfile.TemporaryDirectory() as tmp:

        def written(t: Table, name: str, **options: Any) -> bytes:
            return write_table(t, Path(tmp) / name, force=True, **options).read_bytes()

        out[".npy"]["structured"] = written(table, "s.npy")
        out[".npy"]["plain2d"] = written(floats, "p.npy")
        one = io.BytesIO()
        np.lib.format.write_array(one, np.arange(4, dtype="<f8"))
        out[".npy"]["plain1d"] = one.getvalue()
        out[".npz"]["stored"] = written(table, "s.npz")
        out[".npz"]["deflate"] = written(floats, "d.npz", compression="deflate")
        single = io.BytesIO()
        with zipfile.ZipFile(single, "w") as zf, zf.open("arr_0.npy", "w") as fh:
            np.lib.format.write_array(fh, np.ones((3, 2), dtype="<f4"))
        out[".npz"]["single2d"] = single.getvalue()
        out[".csv"]["plain"] = written(table, "t.csv")
        out[".csv"]["darkmachines"] = (
            b"1;ttbar;1;52730.2;-1.2;j,261543,190334,-0.795,0.483;b,145120,121021,0.532,-2.51;\n"
            b"2;z;0.5;10.1;3.1;e-,50000,40000,0.1,0.2;\n"
            b"\n"
            b"3;ttbar;1;1e+05;0;g,1.5e+05,1e+05,2.5,-3.14\n"
        )
        out[".parquet"]["mixed"] = written(table, "t.parquet", compression="none")
        out[".parquet"]["snappy"] = written(floats, "f.parquet")
        out[".h5"]["plain"] = written(table, "t.h5")
        out[".h5"]["group"] = written(floats, "g.h5", group="jets")
        out[".root"]["flat"] = written(floats, "f.root")
        out[".root"]["jagged"] = _jagged_root(Path(tmp) / "j.root")
    return out


def _jagged_root(path: Path) -> bytes:
    import awkward as ak
    import numpy as np
    import uproot

    with uproot.recreate(path) as file:
        tree = file.mktree(
            "Events",
            {"run": np.int32, "Jet_pt": "var * float32", "Jet_eta": "var * float32"},
            counter_name=lambda name: "nJet",
        )
        tree.extend(
            {
                "run": np.array([1, 1, 2], dtype=np.int32),
                "Jet_pt": ak.Array([[50.0, 30.0], [], [25.5]]),
                "Jet_eta": ak.Array([[0.1, -1.2], [], [2.0]]),
            }
        )
    return path.read_bytes()


def make_corpus(directory: Path) -> list[Path]:
    """Write the seeds: ``directory/all`` (selector byte first) and ``directory/<format>`` (raw files)."""
    written = []
    for ext, files in _seeds().items():
        selector = EXTENSIONS.index(ext)
        for name, data in files.items():
            for sub, prefix in (("all", bytes([selector])), (ext[1:], b"")):
                (directory / sub).mkdir(parents=True, exist_ok=True)
                seed = directory / sub / f"{ext[1:]}-{name}"
                seed.write_bytes(prefix + data)
                written.append(seed)
            if ext in (".npy", ".npz"):
                seed = directory / "all" / f"{ext[1:]}-{name}-names"
                seed.write_bytes(bytes([selector | _NAMES_BIT]) + data)
                written.append(seed)
    return written


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--make-corpus":
        for path in make_corpus(Path(sys.argv[2])):
            print(path)
        return
    import atheris  # type: ignore[import-untyped]

    # Dependencies first, uninstrumented: coverage is wanted in hepsqueeze's own code.
    import awkward  # noqa: F401
    import h5py  # noqa: F401
    import numpy  # noqa: F401
    import pyarrow.csv
    import pyarrow.parquet  # noqa: F401
    import uproot  # noqa: F401

    with atheris.instrument_imports(include=["hepsqueeze"]):
        import hepsqueeze.io  # noqa: F401

    logging.disable(logging.WARNING)  # readers' warnings about odd but valid files are not findings
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
