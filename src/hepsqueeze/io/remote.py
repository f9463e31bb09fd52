"""Remote inputs: a URL (``scheme://...``) told apart from a local path before anything makes it a Path.

``pathlib`` folds the ``//`` of ``root://host//eos/x.root`` into ``root:/host/eos/x.root``, so
every entry point asks :func:`is_url` on the text it was given, first. A URL is read through fsspec
where the user has the package its scheme needs (``http://``/``https://``: aiohttp; ``root://``:
fsspec-xrootd; ``s3://``: s3fs; ``gs://``: gcsfs): :func:`local_input` copies the remote file
whole into a temporary directory, the format readers read that copy, and the copy is removed
afterwards; errors raised meanwhile name the URL, not the temporary file. Other schemes, and a
missing package, are an :class:`~hepsqueeze.errors.InputError` saying so. Outputs are local files
only (:func:`check_local_output`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePath
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from hepsqueeze.errors import ConfigError, HepsqueezeError, InputError, InputFileNotFoundError, one_line

log = logging.getLogger(__name__)

_URL: Final = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://")
# what pathlib leaves of a URL: "https:/host/x" (one slash after the scheme, then not a slash)
_FOLDED_URL: Final = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*):/(?!/)")

#: Remote schemes read through fsspec: scheme -> (module fsspec needs, the package that installs it).
REMOTE_SCHEMES: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "http": ("aiohttp", "aiohttp"),
        "https": ("aiohttp", "aiohttp"),
        "root": ("fsspec_xrootd", "fsspec-xrootd"),
        "s3": ("s3fs", "s3fs"),
        "gs": ("gcsfs", "gcsfs"),
    }
)


def url_scheme(path: str | os.PathLike[str]) -> str | None:
    """The lower-case scheme of ``path`` if it is a URL (``scheme://...``), else None.

    Only text is a URL: a :class:`~pathlib.Path` has lost the URL's ``//`` already.
    """
    if not isinstance(path, str):
        return None
    found = _URL.match(path)
    return found.group("scheme").lower() if found else None


def is_url(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is the text of a URL (``root://...``, ``https://...``, ``file://...``)."""
    return url_scheme(path) is not None


def url_name(url: str) -> str:
    """The file name at the end of ``url``'s path (no query), e.g. ``x.root``; ``"input"`` if none."""
    name = unquote(urlsplit(url).path.rstrip("/").rpartition("/")[2])
    return name if name not in ("", ".", "..") else "input"


def source_name(path: str | os.PathLike[str]) -> str:
    """The file name of a local path or URL (what a compressed file's header records)."""
    return url_name(str(path)) if is_url(path) else Path(path).name


def _supported() -> str:
    return ", ".join(f"{s}:// (with {pkg})" for s, (_, pkg) in REMOTE_SCHEMES.items())


def _file_url_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise InputError(f"remote paths are not supported for file:// URLs with a host ({url!r})", path=url)
    return Path(unquote(parts.path))


def check_remote(url: str) -> str:
    """The scheme of ``url`` if it can be read here; else :class:`InputError` saying why, in one line.

    An unknown scheme: "remote paths are not supported for ftp:// ..."; a known one whose package
    is missing: "reading root:// needs the fsspec-xrootd package ...".
    """
    scheme = url_scheme(url)
    if scheme is None:
        raise InputError(f"{url!r} is not a URL", path=url)
    if scheme not in REMOTE_SCHEMES:
        raise InputError(
            f"remote paths are not supported for {scheme}:// ({url!r}); supported: {_supported()}; "
            "or copy the file here first",
            path=url,
        )
    module, package = REMOTE_SCHEMES[scheme]
    for needed, pkg in (("fsspec", "fsspec"), (module, package)):
        if importlib.util.find_spec(needed) is None:
            raise InputError(
                f"reading {scheme}:// needs the {pkg} package, which is not installed "
                f"(pip install {pkg}); {url!r} was not read",
                path=url,
            )
    return scheme


def check_local_output(path: str | os.PathLike[str]) -> None:
    """Refuse a URL as an output: hepsqueeze writes local files only (atomically, then published)."""
    scheme = url_scheme(path)
    if scheme is not None:
        raise ConfigError(
            f"cannot write to {str(path)!r}: outputs are local files, not {scheme}:// URLs; "
            "write the file here and copy it there",
            path=str(path),
        )


def _fetch_errors() -> tuple[type[BaseException], ...]:
    """What fsspec and its backends raise for a failed transfer (aiohttp's only if it was imported)."""
    errors: list[type[BaseException]] = [OSError, ValueError, RuntimeError, TimeoutError]
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is not None:
        errors.append(aiohttp.ClientError)
    return tuple(errors)


def _disk_check(directory: Path, url: str) -> Any:
    """An fsspec callback that refuses a transfer announcing more bytes than ``directory`` has free."""
    from fsspec.callbacks import Callback  # type: ignore[import-untyped]

    class _Room(Callback):  # type: ignore[misc]
        def set_size(self, size: int | None) -> None:
            super().set_size(size)
            free = shutil.disk_usage(directory).free
            if size is not None and size > free:
                raise InputError(
                    f"cannot fetch {url!r}: it holds {size} bytes, more than the {free} bytes free in "
                    f"{str(directory)!r} (set TMPDIR to a larger disk)",
                    path=url,
                )

    return _Room()


def fetch(url: str, directory: str | os.PathLike[str]) -> Path:
    """Copy the remote file ``url`` into ``directory`` (under its own name) and return the copy.

    Errors: :class:`InputFileNotFoundError` (no such remote file), :class:`InputError` (scheme not
    supported, package missing, transfer failed).
    """
    scheme = check_remote(url)
    import fsspec  # type: ignore[import-untyped]

    dest = Path(directory) / url_name(url)
    try:
        fs, remote = fsspec.core.url_to_fs(url)
        with open(dest, "wb") as out:
            fs.get_file(remote, out, callback=_disk_check(Path(directory), url))
    except HepsqueezeError:
        raise
    except FileNotFoundError:
        raise InputFileNotFoundError(f"remote input {url!r} not found", path=url) from None
    except IsADirectoryError:
        raise InputError(f"remote input {url!r} is a directory; give a file", path=url) from None
    except ImportError as exc:  # a backend's own dependency
        raise InputError(
            f"reading {scheme}:// failed to load its backend: {one_line(exc)}", path=url
        ) from exc
    except _fetch_errors() as exc:
        raise InputError(f"cannot fetch {url!r}: {one_line(exc)}", path=url) from exc
    log.info("fetched %s (%d bytes) into %s", url, dest.stat().st_size, dest)
    return dest


def _rename(exc: BaseException, tmp: str, url: str) -> None:
    """Name ``url`` instead of the temporary copy ``tmp`` in ``exc``'s message and attributes."""
    if exc.args and isinstance(exc.args[0], str) and tmp in exc.args[0]:
        exc.args = (exc.args[0].replace(tmp, url), *exc.args[1:])
    if isinstance(exc, HepsqueezeError) and exc.path is not None and tmp in exc.path:
        exc.path = exc.path.replace(tmp, url)
    if isinstance(exc, OSError) and isinstance(exc.filename, str) and tmp in exc.filename:
        exc.filename = exc.filename.replace(tmp, url)


@contextlib.contextmanager
def local_input(path: str | os.PathLike[str]) -> Iterator[Path]:
    """``path`` as a local Path for the ``with`` block: a URL is fetched into a temporary directory
    first (removed afterwards), ``file://`` URLs are their path; anything else is ``Path(path)``,
    unchecked (the readers check it).

    Errors raised in the block name the URL rather than the temporary copy. A Path whose text is
    a URL that pathlib folded (``https:/host/x``) and that does not exist is an InputError saying so.
    """
    scheme = url_scheme(path)
    if scheme is None:
        local = Path(path)
        folded = _FOLDED_URL.match(str(path)) if isinstance(path, PurePath) else None
        if folded is not None and folded.group("scheme").lower() in REMOTE_SCHEMES and not local.exists():
            raise InputError(
                f"input {str(path)!r} looks like a URL that pathlib folded ('//' became '/'): "
                "pass URLs as text (str), not as Path",
                path=str(path),
            )
        yield local
        return
    url = str(path)
    if scheme == "file":
        yield _file_url_path(url)
        return
    check_remote(url)
    with tempfile.TemporaryDirectory(prefix="hepsqueeze-remote-") as tmpdir:
        local = fetch(url, tmpdir)
        try:
            yield local
        except BaseException as exc:
            _rename(exc, str(local), url)
            raise


__all__ = [
    "REMOTE_SCHEMES",
    "check_local_output",
    "check_remote",
    "fetch",
    "is_url",
    "local_input",
    "source_name",
    "url_name",
    "url_scheme",
]
