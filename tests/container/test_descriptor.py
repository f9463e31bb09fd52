"""Section descriptors: schema checks (hostile descriptors), kinds by version, labels and properties."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import numpy as np
import pytest
from container_helpers import PAIR, desc, handmade

from hepsqueeze.container import KNOWN_KINDS, ContainerReader, container_bytes
from hepsqueeze.container.descriptor import check_data_desc, check_end_desc, check_kind, label, label_raw
from hepsqueeze.container.problems import ProblemError, VersionProblemError, short
from hepsqueeze.errors import ContainerError, ContainerVersionError


def test_unknown_kind_is_a_version_error() -> None:
    with pytest.raises(ContainerVersionError, match=r"section #1 \(kind='quantised'.*newer hepsqueeze"):
        ContainerReader.from_bytes(handmade([(desc(), PAIR), (desc(kind="quantised"), PAIR)]))
    assert "quantised" not in KNOWN_KINDS


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ((desc(nbytes=1 << 60, shape=[1 << 58]), PAIR), "nbytes"),
        ((desc(nbytes=(1 << 40) * 4, shape=[1 << 40]), PAIR), "nbytes"),
        ((desc(shape=[1 << 38, 1 << 38, 0], nbytes=0), b""), "too large"),
        ((desc(shape=[3]), PAIR), "needs 12 bytes but nbytes is 8"),
        ((desc(shape=[-2]), PAIR), "shape"),
        ((desc(shape=[2.0]), PAIR), "shape"),
        ((desc(shape="2"), PAIR), "shape"),
        ((desc(shape=[1] * 33, nbytes=4), PAIR[:4]), "shape"),
        ((desc(nbytes=16, shape=[4]), PAIR), "raw payload is 8 bytes"),
        ((desc(encoding="zstd", nbytes=1 << 30, shape=[1 << 28]), PAIR), "cannot decode to the claimed"),
        ((desc(chunk=True), PAIR), "chunk"),
        ((desc(chunk=-1), PAIR), "chunk"),
        ((desc(chunk=1.0), PAIR), "chunk"),
        ((desc(name=None), PAIR), "name"),
        ((desc(kind=7), PAIR), "kind"),
        ((desc(dtype="<c8", nbytes=16), PAIR + PAIR), "dtype"),
        ((desc(dtype=">f4"), PAIR), "dtype"),
        ((desc(dtype="O"), PAIR), "dtype"),
        ((desc(dtype="<f4 "), PAIR), "dtype"),
        ((desc(encoding="lz4"), PAIR), "unknown encoding"),
        ((desc(encoding=None), PAIR), "unknown encoding"),
        ((desc(transform="xor"), PAIR), "unknown transform"),
        ((desc(transform="delta"), PAIR), "needs an integer dtype"),
        (({k: v for k, v in desc().items() if k != "nbytes"}, PAIR), "lacks field"),
        ((b"[]", PAIR), "must be a JSON object"),
        ((b'{"kind": "column", "kind": "latent"}', PAIR), "duplicate key"),
        ((json.dumps(desc(note=float("nan"))).encode(), PAIR), "NaN"),
        ((b'{"a":' + b"[" * 200_000 + b"]" * 200_000 + b"}", PAIR), "nested too deeply"),
    ],
)
def test_hostile_descriptor_rejected_without_allocating(section: tuple[Any, bytes], match: str) -> None:
    data = handmade([section])
    tracemalloc.start()
    try:
        with pytest.raises(ContainerError, match=match):
            ContainerReader.from_bytes(data, name="evil.hsqz")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * len(data) + (4 << 20)


def test_checks_accept_what_the_writer_writes() -> None:
    data = container_bytes({}, lambda w: w.add_array("latent", "z", np.ones((2, 3), "<f2"), encoding="zstd"))
    with ContainerReader.from_bytes(data) as reader:
        (section,) = reader.sections
        assert check_kind(section.desc, reader.version) == "latent"
        check_data_desc(section.desc, section.length)
        assert (section.shape, section.nbytes, section.encoding, section.transform) == (
            (2, 3),
            12,
            "zstd",
            None,
        )
        assert section.extras == {}
    check_end_desc({"kind": "end", "sections": 3}, 0, 3)


def test_check_failures_are_problems() -> None:
    with pytest.raises(
        VersionProblemError, match=r"^section kind 'x' is unknown to container format version 1"
    ):
        check_kind({"kind": "x"}, 1)
    with pytest.raises(ProblemError, match=r"^raw payload is 7 bytes but nbytes is 8$"):
        check_data_desc(desc(), 7)
    with pytest.raises(ProblemError, match=r"^end section has a 1-byte payload; it must be empty$"):
        check_end_desc({"kind": "end", "sections": 0}, 1, 0)


def test_labels_use_whatever_is_usable() -> None:
    assert label(3, desc()) == "section #3 (kind='column', name='x', chunk=0)"
    assert label(3, {"kind": 1.5, "name": True, "chunk": 2}) == "section #3 (chunk=2)"
    assert label(3, None) == "section #3"
    assert label_raw(4, json.dumps(desc(name="n" * 100)).encode()) == (
        f"section #4 (kind='column', name={short('n' * 100)}, chunk=0)"
    )
    assert label_raw(4, b"{not json") == "section #4"
    assert short("n" * 100) == "'" + "n" * 56 + "..."
