"""Golden files: a committed file of every data format (1 to 7) and of the model format, each
written by the code of its time, decodes with today's reader to the committed expected values, bit
for bit; and today's writer, given the committed inputs, writes the files of the formats it still
writes (1, 2, 3, 5 and 7) byte for byte as committed. Format 6 (the codec of every column before
7) is read only: its file keeps decoding, but today's writer writes 7.

How each file was made: ``data/README.md`` and ``make_golden.py`` (which writes today's files with
the writers below).
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch
from make_golden import (
    BOUNDED_MAX_ERROR,
    COLUMNS7_MAX_ERROR,
    CONDITIONAL7,
    DATA,
    current_inputs,
    load_dataset,
    read_arrays,
)

import hepsqueeze
from hepsqueeze.codecs.bounded.column_coder import ColumnHeader, Predictor, parse_column
from hepsqueeze.codecs.bounded.spec import parse_max_error
from hepsqueeze.codecs.bounded.table_coder import parse_table
from hepsqueeze.container import ContainerReader
from hepsqueeze.errors import ContainerError, ModelError
from hepsqueeze.file.reader import decompress_dataset
from hepsqueeze.io import Dataset
from hepsqueeze.training.conditional import ConditionalTrainingConfig

# --------------------------------------------------------------------------------------------------
# Today's writers: every write of the golden files goes through these functions (imported here,
# so that the reading tests do not depend on where the writers live).


def write_autoencoder(dataset: Dataset, model: Any, out: Path) -> None:
    """Write ``dataset`` with the autoencoder ``model`` (its training columns, embedded decoder)."""
    hepsqueeze.compress(dataset, out, model=model, embed_model=True)


def write_bounded(dataset: Dataset, out: Path) -> None:
    """Write ``dataset`` with the four-column jet codec at 1e-3 (E, pt, eta, phi): JetBounds pick it."""
    hepsqueeze.compress(dataset, out, max_error=parse_max_error(BOUNDED_MAX_ERROR))


def write_learned(dataset: Dataset, model: Any, out: Path) -> None:
    """Write ``dataset`` with the codec of every column at 1e-3 and the conditional ``model``,
    embedded in the file."""
    hepsqueeze.compress(dataset, out, max_error=COLUMNS7_MAX_ERROR, model=model, embed_model=True)


# --------------------------------------------------------------------------------------------------

#: Every golden data file, its data format and the commit whose code wrote it.
GOLDEN = [
    ("format1_e98392b.hsqz", 1, "e98392b"),
    ("format1_70909c6.hsqz", 1, "70909c6"),
    ("format2_0b481ca.hsqz", 2, "0b481ca"),
    ("format2_70909c6.hsqz", 2, "70909c6"),
    ("format3_31c7503.hsqz", 3, "31c7503"),
    ("bounded_format4.hsqz", 4, "hepsqueeze 0.1, payload format 2, between 2d640b3 and 4673e5c"),
    ("format4_160e832.hsqz", 4, "160e832"),
    ("format5_70909c6.hsqz", 5, "70909c6"),
    ("format6_1e6dd7a.hsqz", 6, "1e6dd7a"),  # read only: today's writer writes 7
    ("format7_ce8ae5d.hsqz", 7, "ce8ae5d"),
    ("format7_b85e918.hsqz", 7, "b85e918"),
]
#: The file today's writer must reproduce, for each format it still writes (not 6).
CURRENT = {
    1: "format1_70909c6.hsqz",
    2: "format2_70909c6.hsqz",
    3: "format3_31c7503.hsqz",
    5: "format5_70909c6.hsqz",
    7: "format7_b85e918.hsqz",
}

_MAGIC = b"\x89HSQZ\r\n\x1a\n"


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Decode on one thread, as the expected values were made (same sums in the same order)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def header(path: Path) -> dict[str, Any]:
    """The JSON header of a container, read by the byte layout of docs/container-format.md (version 1)."""
    raw = path.read_bytes()
    magic, version, reserved, length = struct.unpack_from("<9sHHI", raw)
    assert (magic, version, reserved) == (_MAGIC, 1, 0), path.name
    value: dict[str, Any] = json.loads(raw[17 : 17 + length])
    return value


def bits_equal(got: npt.NDArray[Any], want: npt.NDArray[Any]) -> bool:
    """Same dtype and shape and the same bits (NaN payloads and signed zeros included)."""
    return got.dtype == want.dtype and got.shape == want.shape and got.tobytes() == want.tobytes()


def assert_table(got: Any, want: Mapping[str, npt.NDArray[Any]], what: str) -> None:
    assert list(got.names) == list(want), what
    for name, values in want.items():
        assert bits_equal(got[name], values), f"{what}: column {name!r}"


@pytest.mark.parametrize(("name", "fmt", "writer"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_file_decodes_as_committed(name: str, fmt: int, writer: str) -> None:
    path = DATA / name
    head = header(path)
    assert (head["kind"], head["data_format"]) == ("hepsqueeze-data", fmt)
    table, aux, layout = read_arrays(DATA / f"{path.stem}_expected.npz")
    back = hepsqueeze.decompress_to_dataset(path)
    assert_table(back.table, table, name)
    assert sorted(back.aux) == sorted(aux), name
    for tname, columns in aux.items():
        assert_table(back.aux[tname], columns, f"{name}, table {tname!r}")
    assert dict(back.layout) == layout, name


def test_bounded_format_4_decodes_as_written() -> None:
    """Written by hepsqueeze 0.1 (data format 4, payload format 2): 300 jets in 100 events at 1e-3,
    a NaN E and a zero pt stored exactly, an int32 passthrough column; the expected values are the
    ones that code decoded (one npz member per column)."""
    back = hepsqueeze.decompress_to_dataset(DATA / "bounded_format4.hsqz").table
    with np.load(DATA / "bounded_format4_expected_0.1.npz") as expected:
        assert_table(back, {name: expected[name] for name in expected.files}, "bounded_format4.hsqz")


def test_every_format_has_a_golden_file() -> None:
    """Formats 1 to 7, and no file without its row here (a new format adds both)."""
    assert {fmt for _, fmt, _ in GOLDEN} == {1, 2, 3, 4, 5, 6, 7}
    assert sorted(p.name for p in DATA.glob("*.hsqz")) == sorted(g[0] for g in GOLDEN)


def column_headers(path: Path) -> dict[str, ColumnHeader]:
    """The header of each main-table column payload of a ``bounded`` file (one chunk)."""
    with ContainerReader.open(path) as reader:
        chunks = [s for s in reader.sections if s.kind == "column" and "table" not in s.extras]
        assert len(chunks) == 1, path.name
        columns = parse_table(reader.read_bytes(chunks[0])).columns
    return {name: parse_column(payload, name) for name, payload in columns.items()}


def test_golden_files_hold_what_their_format_adds() -> None:
    """Each file exercises its format: aux tables (2), exception sections (3, 5), exact values,
    every column coded (6), learned columns, an alphabet, E from its relation, the model (7)."""
    assert "tables" not in header(DATA / "format1_e98392b.hsqz")
    assert [t["name"] for t in header(DATA / "format2_0b481ca.hsqz")["tables"]] == ["events"]
    for name in ("format3_31c7503.hsqz", "format5_70909c6.hsqz"):
        assert b'"exceptions":"values"' in (DATA / name).read_bytes(), name
    assert header(DATA / "format4_160e832.hsqz")["codec"]["name"] == "bounded-jets"
    six = header(DATA / "format6_1e6dd7a.hsqz")
    assert six["codec"]["name"] == "bounded"  # every column, the per-event table coded too
    assert [t["name"] for t in six["tables"]] == ["events"]
    assert six["codec"]["bounds"]["Jet_raw"] == {"mode": "lossless"}  # named by no term
    assert six["codec"]["tables"]["events"]["MET_phi"]["angle"] is True
    for old in column_headers(DATA / "format7_ce8ae5d.hsqz").values():  # before exact exp and log
        assert "exact" not in old.head
    seven_path = DATA / "format7_b85e918.hsqz"
    seven = header(seven_path)
    assert seven["codec"]["name"] == "bounded"
    assert seven["model"]["name"] == "golden7"
    assert seven["model"]["embedded"] is True
    model = hepsqueeze.load_conditional_model(DATA / CONDITIONAL7)
    assert seven["model"]["sha256"] == model.hash
    with ContainerReader.open(seven_path) as reader:
        assert [s.kind for s in reader.find("model")] == ["model"]  # the embedded model section
        assert reader.read_bytes(reader.find("model")[0]) == model.to_bytes()
    heads = column_headers(seven_path)
    learned = [n for n, h in heads.items() if h.head.get("predictor") == int(Predictor.LEARNED)]
    assert learned, "no column coded with the model"
    assert [n for n, h in heads.items() if "alphabet" in h.head] == ["area"]  # 40 values on a grid
    assert heads["E"].head["relation"][0] == "E"  # E from (pt, eta, m)
    assert heads["tau21"].head["relation"][0] == "/"
    # relative columns decode with the exp of codecs/bounded/exact.py (the same bits everywhere)
    assert {n for n, h in heads.items() if h.head.get("exact")} == {"E", "pt", "m"}


def test_format_7_decodes_only_with_its_model() -> None:
    """The format-7 file decodes with its model given explicitly as with the embedded one; another
    model (trained with another seed) is refused, naming the file, never decoded to other values.
    Through ``hepsqueeze.file.reader.decompress_dataset`` (what ``decompress --model`` calls):
    ``hepsqueeze.decompress_to_dataset`` resolves its ``model`` as an autoencoder's."""
    path = DATA / "format7_b85e918.hsqz"
    table, _, _ = read_arrays(DATA / f"{path.stem}_expected.npz")
    model = hepsqueeze.load_conditional_model(DATA / CONDITIONAL7)
    assert_table(decompress_dataset(path, model).table, table, path.name)
    config = ConditionalTrainingConfig(
        hidden=8, layers=2, epochs=1, batch=64, learning_rate=1e-2, seed=8, threads=1, name="golden7"
    )
    other = hepsqueeze.train_bounded(
        load_dataset(DATA / current_inputs()[7]).table, max_error=COLUMNS7_MAX_ERROR, config=config
    ).model
    assert other.hash != model.hash
    with pytest.raises((ModelError, ContainerError), match=re.escape(path.name)):
        decompress_dataset(path, other)


def test_golden_model_decodes_and_encodes_as_committed() -> None:
    """The model file (model format 1, written at e98392b): its decoder and encoder give the
    committed outputs."""
    model = hepsqueeze.load_model(DATA / "model.hsqm")
    assert header(DATA / "model.hsqm")["model_format"] == 1
    assert model.variables == ("E", "pt", "eta", "phi")
    with np.load(DATA / "input_model.npz") as given, np.load(DATA / "model_expected.npz") as want:
        assert bits_equal(model.decode(given["z"]), want["decoded"])
        assert bits_equal(model.encode(given["x"]), want["encoded"])


@pytest.mark.parametrize("fmt", sorted(CURRENT))
def test_todays_writer_writes_the_golden_bytes(fmt: int, tmp_path: Path) -> None:
    """Formats today's writer writes come out of it byte for byte as committed."""
    dataset = load_dataset(DATA / current_inputs()[fmt])
    out = tmp_path / f"format{fmt}.hsqz"
    if fmt == 5:
        write_bounded(dataset, out)
    elif fmt == 7:
        write_learned(dataset, hepsqueeze.load_conditional_model(DATA / CONDITIONAL7), out)
    else:
        write_autoencoder(dataset, hepsqueeze.load_model(DATA / "model.hsqm"), out)
    assert out.read_bytes() == (DATA / CURRENT[fmt]).read_bytes()
