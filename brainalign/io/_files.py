"""Shared file checks for the readers: existence and HDF5 opening with messages that name the file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from brainalign.exceptions import DataFormatError

__all__ = ["open_hdf5", "require_dir", "require_file", "require_keys"]


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
