"""Remote inputs: URLs kept apart from paths, read over HTTP from a local server, clear refusals.

No internet: an ``http.server`` on 127.0.0.1 in a thread serves small Parquet and ROOT files.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hepsqueeze.errors import ColumnError, ConfigError, InputError, InputFileNotFoundError
from hepsqueeze.io import Table, read_dataset, read_table, write_table
from hepsqueeze.io.registry import check_output_name
from hepsqueeze.io.remote import (
    check_local_output,
    check_remote,
    is_url,
    local_input,
    source_name,
    url_name,
    url_scheme,
)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def small_table(rows: int = 300) -> Table:
    rng = np.random.default_rng(5)
    return Table(
        {
            "event": np.arange(rows, dtype=np.int64) // 3,
            "pt": (20 + rng.exponential(30, rows)).astype(np.float32),
            "eta": rng.normal(0, 2, rows).astype(np.float32),
        }
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(base URL, directory) of an HTTP server on 127.0.0.1 serving a Parquet and a ROOT file."""
    root = tmp_path_factory.mktemp("www")
    table = small_table()
    write_table(table, root / "jets.parquet")
    write_table(table, root / "jets.root")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- telling URLs from paths ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scheme"),
    [
        ("root://eospublic.cern.ch//eos/opendata/x.root", "root"),
        ("HTTPS://host/x.parquet", "https"),
        ("s3://bucket/key.parquet", "s3"),
        ("file:///tmp/x.parquet", "file"),
        ("x.parquet", None),
        ("/abs/x.root", None),
        ("C:/data/x.root", None),
        ("zoo:ae4d-3", None),
        ("dir/root:/x", None),
    ],
)
def test_url_scheme(text: str, scheme: str | None) -> None:
    assert url_scheme(text) == scheme
    assert is_url(text) is (scheme is not None)


def test_a_path_is_never_a_url() -> None:
    # pathlib has folded the '//' already: only text can be a URL
    assert not is_url(Path("root://host//x.root"))


def test_url_name() -> None:
    assert url_name("root://eospublic.cern.ch//eos/opendata/cms/x.root") == "x.root"
    assert url_name("https://host/a/b%20c.parquet?sig=abc#frag") == "b c.parquet"
    assert url_name("https://host/") == "input"
    assert source_name("https://host/a/x.parquet") == "x.parquet"
    assert source_name("data/x.parquet") == "x.parquet"


# --- reading over HTTP -------------------------------------------------------------------------------


def test_read_table_over_http(served: tuple[str, Path]) -> None:
    base, root = served
    remote = read_table(f"{base}/jets.parquet", columns=["pt", "event"])
    local = read_table(root / "jets.parquet", columns=["pt", "event"])
    assert remote.names == ("pt", "event")
    for name in remote.names:
        assert remote[name].dtype == local[name].dtype
        assert np.array_equal(remote[name], local[name])
    assert remote.source == f"{base}/jets.parquet"  # the URL, not the temporary copy


def test_read_dataset_of_a_root_file_over_http(served: tuple[str, Path]) -> None:
    base, root = served
    remote = read_dataset(f"{base}/jets.root")
    local = read_dataset(root / "jets.root")
    assert remote.table.names == local.table.names
    for name in local.table.names:
        assert np.array_equal(remote.table[name], local.table[name])
    assert remote.layout == local.layout
    assert str(base) in remote.source


def test_a_query_string_keeps_the_extension(served: tuple[str, Path]) -> None:
    base, _ = served
    assert read_table(f"{base}/jets.parquet?version=1").num_rows == 300


def test_errors_while_reading_name_the_url(served: tuple[str, Path]) -> None:
    base, _ = served
    with pytest.raises(ColumnError, match=r"not found in http://127\.0\.0\.1") as info:
        read_table(f"{base}/jets.parquet", columns=["nope"])
    assert "hepsqueeze-remote-" not in str(info.value)


def test_the_temporary_copy_is_removed(served: tuple[str, Path]) -> None:
    base, _ = served
    with local_input(f"{base}/jets.parquet") as local:
        assert local.is_file()
        assert local.name == "jets.parquet"
    assert not local.exists()
    assert not local.parent.exists()


def test_missing_remote_file(served: tuple[str, Path]) -> None:
    base, _ = served
    with pytest.raises(
        InputFileNotFoundError, match=r"remote input 'http://127\.0\.0\.1:\d+/nope\.parquet' not found"
    ):
        read_table(f"{base}/nope.parquet")


def test_unreachable_host_is_one_line() -> None:
    with pytest.raises(InputError, match=re.escape("cannot fetch 'http://127.0.0.1:9/x.parquet'")) as info:
        read_table("http://127.0.0.1:9/x.parquet")
    assert "\n" not in str(info.value)


def test_file_urls_are_local_paths(tmp_path: Path) -> None:
    path = write_table(small_table(10), tmp_path / "t.parquet")
    assert read_table(f"file://{path}").num_rows == 10


# --- refusals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["ftp://host/x.root", "gsiftp://host/x.root", "davs://host/x.parquet"])
def test_unsupported_schemes(url: str) -> None:
    scheme = url.split(":", maxsplit=1)[0]
    with pytest.raises(InputError, match=f"remote paths are not supported for {scheme}://") as info:
        read_table(url)
    assert info.value.path == url


@pytest.mark.parametrize(
    ("url", "package", "module"),
    [
        ("root://eospublic.cern.ch//eos/opendata/x.root", "fsspec-xrootd", "fsspec_xrootd"),
        ("s3://bucket/x.parquet", "s3fs", "s3fs"),
    ],
)
def test_a_missing_package_is_named(url: str, package: str, module: str) -> None:
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here")
    scheme = url.split(":", maxsplit=1)[0]
    with pytest.raises(InputError, match=f"reading {scheme}:// needs the {package} package") as info:
        read_dataset(url)
    assert "root:/eospublic" not in str(info.value)  # never the folded path
    with pytest.raises(InputError, match=package):
        check_remote(url)


def test_a_folded_url_is_explained() -> None:
    with pytest.raises(InputError, match="looks like a URL that pathlib folded"):
        read_table(Path("https://host/x.parquet"))


@pytest.mark.parametrize("url", ["https://host/x.parquet", "root://host//x.root"])
def test_outputs_are_local(url: str) -> None:
    with pytest.raises(ConfigError, match="outputs are local files"):
        write_table(small_table(5), url)
    with pytest.raises(ConfigError, match="outputs are local files"):
        check_local_output(url)
    with pytest.raises(ConfigError, match="outputs are local files"):
        check_output_name(url, ".hsqz", force=True)


@pytest.mark.parametrize(
    ("name", "owner"),
    [
        ("x.root", "root"),
        ("x.parquet", "parquet"),
        ("x.PQ", "parquet"),
        ("x.h5", "hdf5"),
        ("x.csv", "csv"),
        ("x.npz", "npz"),
        ("x.hsqm", "hepsqueeze model"),
        ("x.hsqb", "hepsqueeze conditional-model"),
    ],
)
def test_a_container_under_another_formats_name_is_refused(name: str, owner: str, tmp_path: Path) -> None:
    out = tmp_path / name
    with pytest.raises(
        ConfigError, match=f"ends in {Path(name).suffix.lower()}, which {owner} files use"
    ) as info:
        check_output_name(out, ".hsqz")
    assert str(out) in str(info.value)
    assert f"{Path(name).stem}.hsqz" in str(info.value)
    assert info.value.option == "force"
    check_output_name(out, ".hsqz", force=True)


@pytest.mark.parametrize("name", ["x.hsqz", "x", "x.bin", "x.hsqz.tmp"])
def test_free_names_pass(name: str, tmp_path: Path) -> None:
    check_output_name(tmp_path / name, ".hsqz")


def test_a_model_under_a_container_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="which hepsqueeze compressed files use: a hepsqueeze model file"):
        check_output_name(tmp_path / "m.hsqz", ".hsqm")
    check_output_name(tmp_path / "m.hsqm", ".hsqm")
