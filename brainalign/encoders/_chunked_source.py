"""Targets of :func:`~brainalign.encoders.fit_targets_in_chunks`: where ``Y`` lives.

A :class:`_Source` describes a 2-D targets array in an HDF5 file, a zarr store or memory; it
is re-opened by path in each worker, which reads only the columns of its chunk.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

__all__: list[str] = []


# --------------------------------------------------------------------------------------------
# Targets: where Y lives, readable from any worker
@dataclass(frozen=True)
class _Source:
    """A 2-D targets array on disk (or in memory), opened by path in each worker."""

    kind: str  # "hdf5" | "zarr" | "memory"
    path: str | None
    key: str | None
    shape: tuple[int, int]
    dtype: str
    label: str  # for messages and the fingerprint
    array: Any = field(default=None, repr=False, compare=False)  # client side only

    def read(self, start: int, stop: int) -> np.ndarray:
        """Return ``Y[:, start:stop]`` as a numpy array."""
        if self.array is not None:
            return np.asarray(self.array[:, start:stop])
        if self.kind == "hdf5":
            import h5py

            with h5py.File(self.path, "r") as f:
                return np.asarray(f[self.key][:, start:stop])
        if self.kind == "zarr":
            import zarr

            return np.asarray(
                zarr.open_array(self.path, path=self.key or "", mode="r")[:, start:stop]
            )
        raise RuntimeError(f"in-memory targets {self.label} were not sent with the chunk")

    def for_workers(self) -> _Source:
        """A copy without the in-memory array (chunks of it travel with each unit instead)."""
        return replace(self, array=None)

    def describe(self) -> dict[str, Any]:
        return {"source": self.label, "shape": list(self.shape), "dtype": self.dtype}


def _split_path_key(targets: str | os.PathLike[str], key: str | None) -> tuple[Path, str | None]:
    text = os.fspath(targets)
    if Path(text).exists():
        return Path(text), key
    # "file.h5:/key": split at the last ":" whose left part exists
    pos = text.rfind(":")
    while pos > 0:
        left, right = text[:pos], text[pos + 1 :]
        if Path(left).exists():
            if key is not None:
                raise ValueError(
                    f"`key` must be None when `targets` names one ('{text}'); got key={key!r}"
                )
            return Path(left), right
        pos = text.rfind(":", 0, pos)
    raise FileNotFoundError(
        f"`targets` must be an existing HDF5 file or zarr store (optionally 'path:/key'); "
        f"no such file: '{text}'"
    )


def _hdf5_datasets(f: Any) -> list[str]:
    import h5py

    names: list[str] = []
    f.visititems(lambda n, o: names.append("/" + n) if isinstance(o, h5py.Dataset) else None)
    return names


def _open_source(targets: Any, key: str | None) -> _Source:
    module = type(targets).__module__.split(".")[0]
    if isinstance(targets, np.ndarray):
        if key is not None:
            raise ValueError(f"`key` must be None when `targets` is an array; got key={key!r}")
        return _check_source(
            "memory", None, None, targets.shape, targets.dtype, "in-memory array", targets
        )
    if module == "h5py":
        import h5py

        if not isinstance(targets, h5py.Dataset):
            raise TypeError(
                "`targets` must be an h5py.Dataset (not a File or Group); got "
                f"{type(targets).__name__}. Pass f['key'] or the path 'file.h5:/key'."
            )
        return _source_hdf5(Path(targets.file.filename), targets.name)
    if module == "zarr":
        from zarr.storage import LocalStore

        if not hasattr(targets, "shape") or not hasattr(targets, "dtype"):
            raise TypeError(
                "`targets` must be a zarr array, not a group; got "
                f"{type(targets).__name__}. Pass group['key'] or 'store.zarr:/key'."
            )
        if isinstance(targets.store, LocalStore):
            label = f"{Path(targets.store.root).resolve()}:/{targets.path}"
            return _check_source(
                "zarr", str(targets.store.root), targets.path, targets.shape, targets.dtype, label
            )
        label = f"zarr {targets.store}:/{targets.path}"
        return _check_source("memory", None, None, targets.shape, targets.dtype, label, targets)
    if isinstance(targets, (str, os.PathLike)):
        path, key = _split_path_key(targets, key)
        if path.is_dir():
            return _source_zarr(path, key)
        return _source_hdf5(path, key)
    raise TypeError(
        "`targets` must be a path ('file.h5', 'file.h5:/key', 'store.zarr'), an "
        f"h5py.Dataset, a zarr array or a numpy array; got {type(targets).__name__}"
    )


def _source_hdf5(path: Path, key: str | None) -> _Source:
    import h5py

    if not h5py.is_hdf5(path):
        raise ValueError(
            f"`targets` must be an HDF5 file or a zarr store directory; '{path}' is neither"
        )
    with h5py.File(path, "r") as f:
        available = _hdf5_datasets(f)
        if key is None:
            raise ValueError(
                f"`key` must name the targets dataset in '{path}'; got None. Available "
                f"datasets: {available[:20]}. Pass key=... or targets='{path}:/name'."
            )
        if key not in f or not isinstance(f[key], h5py.Dataset):
            raise KeyError(
                f"`key` must name a dataset of '{path}'; got {key!r}. Available datasets: "
                f"{available[:20]}"
            )
        ds = f[key]
        name = ds.name
        return _check_source(
            "hdf5", str(path.resolve()), name, ds.shape, ds.dtype, f"{path.resolve()}:{name}"
        )


def _source_zarr(path: Path, key: str | None) -> _Source:
    import zarr

    try:
        node = zarr.open(store=str(path), mode="r", path=key or "")
    except (FileNotFoundError, KeyError) as exc:
        raise KeyError(
            f"`key` must name an array of the zarr store '{path}'; got {key!r} ({exc})"
        ) from exc
    if not hasattr(node, "dtype"):  # a group
        arrays = sorted(name for name, _ in node.arrays())
        raise KeyError(
            f"`key` must name an array of the zarr group '{path}'; got {key!r}, a group. "
            f"Arrays: {arrays[:20]}"
        )
    label = f"{path.resolve()}:/{(key or '').strip('/')}"
    return _check_source("zarr", str(path), key, node.shape, node.dtype, label)


def _check_source(
    kind: str,
    path: str | None,
    key: str | None,
    shape: Sequence[int],
    dtype: Any,
    label: str,
    array: Any = None,
) -> _Source:
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2:
        raise ValueError(
            f"`targets` must have shape (n_samples, n_targets) (2 dimensions); got shape "
            f"{shape} in {label}"
        )
    dtype = np.dtype(dtype)
    if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
        raise TypeError(f"`targets` must be numeric; got dtype {dtype} in {label}")
    if 0 in shape:
        raise ValueError(f"`targets` must not be empty; got shape {shape} in {label}")
    return _Source(kind, path, key, shape, dtype.str, label, array)  # type: ignore[arg-type]
