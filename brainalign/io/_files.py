"""Shared file checks for the readers: existence, and opening JSON, CSV/TSV, ``.npy`` and HDF5
files with messages that name the file and what was wrong with it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from brainalign.exceptions import DataFormatError

__all__ = [
    "file_or_root",
    "load_npy",
    "open_hdf5",
    "read_json",
    "read_table",
    "require_dir",
    "require_file",
    "require_keys",
]


def require_file(path: str | os.PathLike[str], what: str) -> Path:
    """Return ``path`` as a Path, or raise FileNotFoundError naming ``what`` it should hold."""
    p = Path(path).expanduser()
    if not p.is_file():
        hint = " (it is a directory)" if p.is_dir() else ""
        raise FileNotFoundError(f"{what} not found: expected a file at {str(p)!r}{hint}")
    return p


def require_dir(path: str | os.PathLike[str], what: str) -> Path:
    """Return ``path`` as a Path, or raise FileNotFoundError naming ``what`` it should hold."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise FileNotFoundError(f"{what} not found: expected a directory at {str(p)!r}")
    return p


def file_or_root(path: str | os.PathLike[str], relative: str, what: str) -> Path:
    """A file path, or a dataset root (then ``root / relative``); the file must exist."""
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / relative
    return require_file(p, what)


def read_json(path: str | os.PathLike[str], what: str) -> Any:
    """Parse a JSON file; a missing or malformed file raises an error naming it."""
    p = require_file(path, what)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataFormatError(f"{what} at {str(p)!r} is not valid JSON: {err}") from err


def read_table(
    path: str | os.PathLike[str],
    what: str,
    columns: Iterable[str] = (),
    *,
    hint: str = "",
    **kwargs: Any,
) -> Any:
    """Read a CSV (or, with ``sep="\\t"``, TSV) file with pandas and check its columns.

    Parameters
    ----------
    path : path-like
        The file.
    what : str
        What the file is, for the messages (``"NSD stimulus table"``).
    columns : iterable of str
        Columns that must be present.
    hint : str
        Appended to the missing-columns message (what the file should look like).
    **kwargs
        Passed to :func:`pandas.read_csv`.

    Returns
    -------
    table : pandas.DataFrame

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    DataFormatError
        The file cannot be parsed, or lacks some of ``columns``.
    """
    import pandas as pd

    p = require_file(path, what)
    kind = "TSV" if kwargs.get("sep") == "\t" else "CSV"
    try:
        table = pd.read_csv(p, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DataFormatError(f"{what} at {str(p)!r} is not a readable {kind} file: {err}") from err
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataFormatError(
            f"{what} at {str(p)!r} lacks the column(s) {missing}; found "
            f"{list(table.columns)[:20]}{'. ' + hint if hint else ''}"
        )
    return table


def load_npy(path: str | os.PathLike[str], what: str, *, allow_pickle: bool = False) -> Any:
    """``np.load`` a ``.npy`` file; a missing or corrupt file raises an error naming it.

    With ``allow_pickle``, a pickled object (``np.save`` of a dict) comes back as the object
    itself rather than a 0-d object array. Load pickles only from sources you trust.
    """
    import numpy as np

    p = require_file(path, what)
    try:
        obj = np.load(p, allow_pickle=allow_pickle)
    except Exception as err:  # numpy and pickle raise many unrelated types on corrupt files
        raise DataFormatError(
            f"{what} at {str(p)!r} is not a readable .npy file (corrupt or truncated?): "
            f"{type(err).__name__}: {err}"
        ) from err
    if allow_pickle and isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == ():
        obj = obj.item()
    return obj


def open_hdf5(path: str | os.PathLike[str], what: str) -> Any:
    """Open an HDF5 file read-only; a missing or corrupt file raises a message naming it.

    Returns an open ``h5py.File`` (use it as a context manager).
    """
    import h5py

    p = require_file(path, what)
    try:
        return h5py.File(p, "r")
    except OSError as err:
        raise DataFormatError(
            f"{what} at {str(p)!r} is not a readable HDF5 file (corrupt or truncated?): {err}"
        ) from err


def require_keys(h5: Any, keys: list[str] | tuple[str, ...], what: str) -> None:
    """Raise DataFormatError naming the file and the missing keys of an open HDF5 group."""
    missing = [k for k in keys if k not in h5]
    if missing:
        raise DataFormatError(
            f"{what} at {getattr(h5.file, 'filename', '?')!r} lacks the key(s) {missing}; "
            f"found {sorted(h5.keys())[:20]}"
        )
