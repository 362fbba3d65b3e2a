"""The output file of :func:`~brainalign.encoders.fit_targets_in_chunks`, and job identity.

The fingerprint identifies a job (features, groups, targets, estimator, chunking, task) so
that a resume never mixes two jobs in one file; :func:`_open_output` checks an existing
output against it and returns the chunks already done; :class:`_Writer` creates the output
on the first finished chunk (atomically) and writes each chunk's data before marking it
done. The layout is described in :mod:`brainalign.encoders._chunked`. Only the calling
process writes.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._atomic import atomic_path
from brainalign.encoders._chunked_source import _Source
from brainalign.encoders._chunked_unit import _ChunkOutput

__all__: list[str] = []

_FORMAT = "brainalign.chunked_fit"
_FORMAT_VERSION = 1
#: estimator parameters that do not change results (left out of the fingerprint)
_COSMETIC_PARAMS = ("verbose",)
_COMPONENTS = {
    "X": "the features `X`",
    "groups": "`groups`",
    "targets": "the targets (source, shape or dtype)",
    "estimator": "the estimator or its parameters",
    "chunking": "`chunk_size`",
    "task": "`mode`, `attributes`, `cv`, `scoring` or `save_predictions`",
}


# --------------------------------------------------------------------------------------------
# Fingerprint: what identifies a job, so that a resume never mixes two jobs in one file
def _hash_array(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(memoryview(a).cast("B"))
    return h.hexdigest()[:20]


def _canonical(obj: Any) -> Any:
    """A JSON-able description of ``obj`` that changes when its value changes."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return repr(float(obj))
    if isinstance(obj, np.ndarray):
        return {"ndarray": _hash_array(obj)}
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, slice):
        return ["slice", obj.start, obj.stop, obj.step]
    if hasattr(obj, "get_params") and hasattr(obj, "fit"):
        params = obj.get_params(deep=False)
        return {
            "class": f"{type(obj).__module__}.{type(obj).__qualname__}",
            "params": {
                k: _canonical(v) for k, v in sorted(params.items()) if k not in _COSMETIC_PARAMS
            },
        }
    text = repr(obj)
    if " at 0x" not in text:  # a stable repr (e.g. scikit-learn splitters)
        return {type(obj).__qualname__: text}
    return {type(obj).__qualname__: hashlib.sha256(pickle.dumps(obj)).hexdigest()[:20]}


def _fingerprint(
    X: Any,
    groups: np.ndarray | None,
    source: _Source,
    estimator: Any,
    task: dict[str, Any],
    chunk_size: int,
) -> dict[str, str]:
    if isinstance(X, dict):
        x_hash = json.dumps({k: _hash_array(v) for k, v in X.items()})
    else:
        x_hash = _hash_array(X)
    if source.kind == "memory" and isinstance(source.array, np.ndarray):
        targets = {**source.describe(), "sha256": _hash_array(source.array)}
    else:
        targets = source.describe()
    return {
        "X": x_hash,
        "groups": "none" if groups is None else _hash_array(groups),
        "targets": json.dumps(targets, sort_keys=True),
        "estimator": json.dumps(_canonical(estimator), sort_keys=True),
        "chunking": json.dumps({"chunk_size": chunk_size}),
        "task": json.dumps(_canonical(task), sort_keys=True),
    }


# --------------------------------------------------------------------------------------------
# The output file (written by this process only)
def _fsync_h5(f: Any) -> None:
    f.flush()
    handle = f.id.get_vfd_handle()
    if isinstance(handle, int):
        os.fsync(handle)


def _open_output(path: Path, fingerprint: dict[str, str], n_chunks: int) -> np.ndarray:
    """Check an existing output against this job; return its per-chunk done mask."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(
            f"`out` exists but is not a readable HDF5 file: '{path}' ({exc}). It is corrupt or "
            "was written by another program; delete it (or pass overwrite=True) to start over."
        ) from exc
    with f:
        if f.attrs.get("format") != _FORMAT or "_chunks/done" not in f:
            raise ValueError(
                f"`out` exists and was not written by fit_targets_in_chunks: '{path}' has no "
                f"'{_FORMAT}' format record. Choose another `out`, or pass overwrite=True to "
                "replace it."
            )
        stored = json.loads(f.attrs["fingerprint"])
        differ = [k for k in _COMPONENTS if stored.get(k) != fingerprint[k]]
        if differ:
            details = "; ".join(_COMPONENTS[k] for k in differ)
            extra = ""
            if "targets" in differ:
                extra = f" Stored targets: {stored.get('targets')}; now: {fingerprint['targets']}."
            raise ValueError(
                f"`out` holds the results of a different job and cannot be resumed: '{path}' "
                f"differs in {details}.{extra} Pass another `out`, or overwrite=True to discard "
                "it."
            )
        done = np.asarray(f["_chunks/done"][()], dtype=bool)
        if done.shape != (n_chunks,):
            raise ValueError(
                f"`out` is corrupt: '{path}' has a done record of shape {done.shape}, expected "
                f"({n_chunks},). Delete it to start over."
            )
    return done


class _Writer:
    """Create the output on the first finished chunk (atomically), then write chunk by chunk."""

    def __init__(self, path: Path, attrs: dict[str, Any], n_chunks: int, n_targets: int):
        self.path, self.attrs, self.n_chunks, self.n_targets = path, attrs, n_chunks, n_targets
        self.bounds: dict[int, tuple[int, int]] = {}
        self._file: Any = None

    def _write(self, f: Any, out: _ChunkOutput) -> None:
        start, stop = self.bounds[out.index]
        for name, arr in out.arrays.items():
            if name not in f:
                raise ValueError(
                    f"`out` is corrupt or from another estimator: '{self.path}' has no "
                    f"dataset {name!r}. Delete it to start over."
                )
            ds = f[name]
            expected = (*ds.shape[:-1], stop - start)
            if arr.shape != expected:
                raise ValueError(
                    f"chunk {out.index} returned {name} with shape {arr.shape}; expected "
                    f"{expected} (the shape of the first chunk's {name}, for {stop - start} "
                    "targets)"
                )
            ds[..., start:stop] = arr
        f["_chunks/seconds"][out.index] = out.seconds
        _fsync_h5(f)  # the data is on disk before the chunk is marked done
        f["_chunks/done"][out.index] = 1
        _fsync_h5(f)

    def write(self, out: _ChunkOutput) -> None:
        import h5py

        if self._file is None and not self.path.exists():
            with atomic_path(self.path) as tmp:
                with h5py.File(tmp, "w") as f:
                    self._create(f, out)
                    self._write(f, out)
            self._file = h5py.File(self.path, "r+")
            return
        if self._file is None:
            self._file = h5py.File(self.path, "r+")
        self._write(self._file, out)

    def _create(self, f: Any, out: _ChunkOutput) -> None:
        for k, v in self.attrs.items():
            f.attrs[k] = v
        f.attrs["fitted"] = json.dumps(out.meta)
        g = f.create_group("_chunks")
        g.create_dataset("done", shape=(self.n_chunks,), dtype="u1", fillvalue=0)
        g.create_dataset("seconds", shape=(self.n_chunks,), dtype="f8", fillvalue=np.nan)
        for name, arr in out.arrays.items():
            floating = np.issubdtype(arr.dtype, np.floating)
            f.create_dataset(
                name,
                shape=(*arr.shape[:-1], self.n_targets),
                dtype=arr.dtype,
                fillvalue=np.nan if floating else 0,
            )

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
