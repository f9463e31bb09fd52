"""The format registry: extension/content detection and the hooks later formats rely on."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hepsqueeze.errors import ConfigError
from hepsqueeze.io import (
    FORMATS,
    Format,
    Table,
    detect_format,
    read_table,
    register_format,
    registry,
    write_table,
)


@pytest.fixture
def scratch_registry() -> Iterator[None]:
    """Restore the global registry after a test registers formats."""
    with registry.scratch_registry():
        yield


class SemicolonEvents:
    """A toy read-only format recognised from content, like DarkMachines CSV will be."""

    def read(self, path: Path, columns: Sequence[str] | None, **options: Any) -> Table:
        rows = [line.split(";") for line in path.read_text().splitlines()]
        table = Table(
            {"event": np.array([int(r[0]) for r in rows]), "met": np.array([float(r[1]) for r in rows])}
        )
        return table if columns is None else table.select(columns)


def sniff_semicolons(path: Path) -> bool:
    return path.read_bytes()[:64].count(b";") >= 1


@pytest.mark.usefixtures("scratch_registry")
def test_registered_format_appears_in_formats() -> None:
    register_format(Format("semicolon", (), SemicolonEvents(), sniff=sniff_semicolons))
    assert "semicolon" in FORMATS
    assert FORMATS["semicolon"] == ()


@pytest.mark.usefixtures("scratch_registry")
def test_sniffed_format_is_read(tmp_path: Path) -> None:
    register_format(Format("semicolon", (), SemicolonEvents(), sniff=sniff_semicolons))
    events = tmp_path / "events.csv"
    events.write_text("1;20.5\n2;30.0\n")
    assert detect_format(events) == "semicolon"
    assert read_table(events, columns=["met"]).names == ("met",)
    plain = tmp_path / "plain.csv"
    plain.write_text("a,b\n1,2\n")
    assert detect_format(plain) == "csv"
    # Writing never sniffs: an existing file is replaced in the format its name asks for.
    with pytest.raises(ConfigError, match=r"can be read but not written"):
        write_table(Table({"a": np.zeros(1)}), tmp_path / "out.csv", format="semicolon")
    write_table(Table({"a": np.zeros(1)}), events, force=True)
    assert events.read_text().startswith("a\n")


@pytest.mark.usefixtures("scratch_registry")
def test_registration_conflicts() -> None:
    with pytest.raises(ValueError, match=r"already registered"):
        register_format(Format("csv", (".tsv",), SemicolonEvents()))
    with pytest.raises(ValueError, match=r"taken by 'npz'"):
        register_format(Format("other", (".npz",), SemicolonEvents()))
    with pytest.raises(ValueError, match=r"lower case"):
        register_format(Format("other", (".NPY",), SemicolonEvents()))


@pytest.mark.usefixtures("scratch_registry")
def test_longest_extension_wins(tmp_path: Path) -> None:
    register_format(Format("gz", (".gz",), SemicolonEvents()))
    register_format(Format("csvgz", (".csv.gz",), SemicolonEvents()))
    assert detect_format(tmp_path / "a.csv.gz") == "csvgz"
    assert detect_format(tmp_path / "a.tar.gz") == "gz"
