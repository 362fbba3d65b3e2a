"""Out-of-core encoding: fit or cross-validate an encoder over target chunks, resumably.

The targets ``Y`` (n_samples, n_targets) stay on disk (HDF5 or zarr); each work unit reads
``Y[:, start:stop]`` only, fits (or cross-validates) a clone of the estimator, and the caller
writes the chunk's per-target arrays into one output HDF5 file, then marks the chunk done.
A rerun skips the chunks marked done. Units run through a :mod:`brainalign.parallel`
executor: serially by default, or on Dask workers, which only compute; this process is the
only writer of the output file.

Output layout (HDF5)::

    /<name>            (..., n_targets)  per-target arrays, e.g. coef_ (n_features, n_targets);
                                         NaN (or 0) for targets of chunks not yet done
    /_chunks/done      (n_chunks,) uint8 1 once the chunk's data is flushed to disk
    /_chunks/seconds   (n_chunks,) float64 compute time of each chunk
    attrs              format, fingerprint (JSON), mode, n_targets, chunk_size, n_chunks, ...
"""

from __future__ import annotations

import hashlib
import inspect
import json
import numbers
import os
import pickle
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import clone

from brainalign._atomic import atomic_path
from brainalign._logging import logger, progress
from brainalign._validation import check_array, check_choice, check_groups, check_n_samples

if TYPE_CHECKING:
    from brainalign.parallel import Executor

__all__ = ["ChunkedResult", "fit_targets_in_chunks"]

_FORMAT = "brainalign.chunked_fit"
_FORMAT_VERSION = 1
_MODES = ("fit", "cv")
#: fitted attributes saved by default in ``mode="fit"`` (those the estimator has)
DEFAULT_ATTRIBUTES = (
    "coef_",
    "intercept_",
    "alphas_",
    "cv_scores_",
    "deltas_",
    "band_alphas_",
    "band_weights_",
)
_HINT_SAMPLES = "Did you trim the first TRs of each run in one array but not the other?"
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
# The work unit (runs on a worker: module-level and picklable)
@dataclass(frozen=True)
class _Chunk:
    index: int
    start: int
    stop: int
    data: np.ndarray | None = None  # the targets themselves when they live in memory


@dataclass(frozen=True)
class _Job:
    estimator: Any
    mode: str
    source: _Source
    attributes: tuple[str, ...] | None
    cv: Any
    scoring: str
    save_predictions: bool


@dataclass
class _ChunkOutput:
    index: int
    arrays: dict[str, np.ndarray]
    seconds: float
    warnings: list[tuple[type[Warning], str]]
    meta: dict[str, Any]


def _accepts_groups(estimator: Any) -> bool:
    try:
        return "groups" in inspect.signature(estimator.fit).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False


def _json_meta(est: Any) -> dict[str, Any]:
    """Fitted attributes that are scalars or lists of str (e.g. solver_, band_names_)."""
    meta: dict[str, Any] = {}
    for name, value in vars(est).items():
        if not name.endswith("_") or name.startswith("_"):
            continue
        if isinstance(value, (str, bool, numbers.Integral)):
            meta[name] = value if isinstance(value, (str, bool)) else int(value)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            meta[name] = list(value)
    return meta


def _run_chunk(chunk: _Chunk, shared: tuple[Any, np.ndarray | None, _Job]) -> _ChunkOutput:
    """Read ``Y[:, start:stop]``, fit or cross-validate a clone, return per-target arrays."""
    X, groups, job = shared
    width = chunk.stop - chunk.start
    t0 = time.perf_counter()
    try:
        Y = chunk.data if chunk.data is not None else job.source.read(chunk.start, chunk.stop)
        # warnings are sent back and re-emitted by the caller (a Dask worker's would be lost);
        # catch_warnings is process-global: prefer one thread per worker (the default)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est = clone(job.estimator)
            if job.mode == "fit":
                kwargs = {"groups": groups} if groups is not None else {}
                est.fit(X, Y, **kwargs)
                arrays = _fitted_arrays(est, job.attributes, width)
                meta = _json_meta(est)
            else:
                from brainalign.evaluation import cross_validate_encoder

                res = cross_validate_encoder(
                    est, X, Y, groups=groups, cv=job.cv, scoring=job.scoring, verbose=False
                )
                arrays = {"scores": res.scores, "mean_scores": res.mean_scores}
                if job.save_predictions:
                    arrays["predictions"] = res.predictions
                meta = {"test_groups": [np.asarray(g).tolist() for g in res.test_groups]}
    except Exception as exc:
        if hasattr(exc, "add_note"):
            exc.add_note(
                f"(in fit_targets_in_chunks: chunk {chunk.index}, targets "
                f"{chunk.start}:{chunk.stop} of {job.source.label})"
            )
        raise
    seen = [(w.category, str(w.message)) for w in caught]
    return _ChunkOutput(chunk.index, arrays, time.perf_counter() - t0, seen, meta)


def _fitted_arrays(est: Any, attributes: tuple[str, ...] | None, width: int) -> dict[str, Any]:
    names = attributes
    if names is None:
        names = tuple(n for n in DEFAULT_ATTRIBUTES if hasattr(est, n))
        if not names:
            raise ValueError(
                f"{type(est).__name__} has none of the default fitted attributes "
                f"{list(DEFAULT_ATTRIBUTES)}; pass `attributes` with the names to save"
            )
    arrays = {}
    for name in names:
        if not hasattr(est, name):
            raise AttributeError(
                f"`attributes` must name fitted attributes of {type(est).__name__}; it has no "
                f"{name!r} after fit"
            )
        value = np.asarray(getattr(est, name))
        if value.ndim == 0 or value.shape[-1] != width:
            raise ValueError(
                f"`attributes` must name per-target arrays (last axis = n_targets); "
                f"{type(est).__name__}.{name} has shape {value.shape} for a chunk of {width} "
                "targets. Leave it out of `attributes`."
            )
        arrays[name] = value
    return arrays


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


# --------------------------------------------------------------------------------------------
@dataclass
class ChunkedResult:
    """What :func:`fit_targets_in_chunks` did, and access to what it wrote.

    Attributes
    ----------
    path : pathlib.Path
        The output HDF5 file.
    mode : {"fit", "cv"}
    n_targets, chunk_size, n_chunks : int
    computed : list of int
        Chunks computed by this call, in completion order.
    skipped : list of int
        Chunks found done in ``path`` and not recomputed (resume).
    names : list of str
        Per-target datasets in ``path`` (e.g. ``coef_``, ``alphas_``; ``scores``,
        ``mean_scores`` in ``mode="cv"``), each of shape ``(..., n_targets)``.
    seconds : float
        Wall-clock time of this call.
    """

    path: Path
    mode: str
    n_targets: int
    chunk_size: int
    n_chunks: int
    computed: list[int]
    skipped: list[int]
    names: list[str]
    seconds: float

    @property
    def complete(self) -> bool:
        """Whether every chunk is done."""
        return len(self.computed) + len(self.skipped) == self.n_chunks

    def load(self, name: str, targets: Any = None) -> np.ndarray:
        """Read one per-target array from :attr:`path`.

        Parameters
        ----------
        name : str
            One of :attr:`names`.
        targets : slice, array of int or None
            Targets (last axis) to read; ``None`` reads all (mind the memory at 100k targets).

        Returns
        -------
        array : ndarray, shape (..., n_selected_targets)
        """
        import h5py

        if name not in self.names:
            raise KeyError(f"`name` must be one of {self.names}; got {name!r}")
        with h5py.File(self.path, "r") as f:
            ds = f[name]
            return np.asarray(ds[...] if targets is None else ds[..., targets])


def _check_X(X: Any) -> tuple[Any, int]:
    if isinstance(X, dict):
        if not X:
            raise ValueError("`X` must be an array or a non-empty dict of bands; got {}")
        bands = {
            str(k): check_array(v, f"X[{k!r}]", ndim=2, shape_doc="(n_samples, n_features)")
            for k, v in X.items()
        }
        return bands, check_n_samples({f"X[{k!r}]": v for k, v in bands.items()})
    arr = check_array(X, "X", ndim=2, shape_doc="(n_samples, n_features)")
    return arr, arr.shape[0]


def fit_targets_in_chunks(
    estimator: Any,
    X: Any,
    targets: Any,
    *,
    out: str | os.PathLike[str],
    chunk_size: int = 5000,
    key: str | None = None,
    mode: str = "fit",
    groups: Any = None,
    attributes: Sequence[str] | None = None,
    cv: Any = None,
    scoring: str = "correlation",
    save_predictions: bool = False,
    executor: Executor | None = None,
    max_in_flight: int | None = None,
    overwrite: bool = False,
    verbose: bool | None = None,
) -> ChunkedResult:
    """Fit (or cross-validate) an encoder on many targets, chunk by chunk, from disk.

    The targets are split into chunks of ``chunk_size`` columns. Each chunk reads only
    ``Y[:, chunk]``, fits a clone of ``estimator`` (``mode="fit"``) or scores it on held-out
    runs with :func:`brainalign.evaluation.cross_validate_encoder` (``mode="cv"``), and its
    per-target results are written into ``out`` at the chunk's columns as soon as it
    finishes; the chunk is then marked done. Peak memory is set by ``chunk_size`` (and the
    number of chunks in flight), not by the number of targets.

    Rerunning the same call resumes: chunks marked done are skipped. A fingerprint of the
    job (``X``, ``groups``, the targets' source, shape and dtype, the estimator and its
    parameters, ``chunk_size`` and the task options) is stored in ``out``; resuming into an
    output of a different job is refused. Per-target estimators (ridge, banded ridge, TRF:
    every target is fitted independently) give the same results chunked or not.

    Parameters
    ----------
    estimator : scikit-learn compatible encoder
        E.g. :class:`RidgeEncoder` or :class:`BandedRidgeEncoder`; cloned for every chunk.
    X : ndarray, shape (n_samples, n_features), or dict of str to such arrays
        Features (a dict of bands for banded encoders). Sent to each worker once.
    targets : str, path, h5py.Dataset, zarr array or ndarray, shape (n_samples, n_targets)
        ``"file.h5"`` with ``key``, ``"file.h5:/key"``, a zarr store directory
        (``"store.zarr"`` for an array, ``"store.zarr:/key"`` or ``key`` in a group), an open
        h5py dataset or zarr array (re-opened by path in each worker), or an in-memory array
        (chunks are then sliced here and sent to the workers). Columns are targets.
    out : str or path
        Output HDF5 file (created on the first finished chunk, atomically).
    chunk_size : int, default=5000
        Targets per chunk.
    key : str or None
        Dataset (HDF5) or array (zarr group) holding the targets, when not in ``targets``.
    mode : {"fit", "cv"}, default="fit"
        ``"fit"``: fit on all samples and save fitted per-target attributes. ``"cv"``: save
        held-out ``scores`` (n_folds, n_targets) and ``mean_scores`` (n_targets,).
    groups : array-like, shape (n_samples,), or None
        Run label of each sample. ``"fit"``: passed to ``estimator.fit`` (inner CV by run).
        ``"cv"``: required (outer folds by run).
    attributes : sequence of str or None
        ``"fit"`` only: fitted attributes to save, each of shape (..., n_targets).
        ``None``: those of ``coef_, intercept_, alphas_, cv_scores_, deltas_, band_alphas_,
        band_weights_`` the estimator has. Scalar and string attributes (``solver_``,
        ``band_names_``) are saved as JSON in the ``fitted`` attribute of ``out``.
    cv, scoring :
        ``"cv"`` only: outer splitter and per-target score, as in
        :func:`~brainalign.evaluation.cross_validate_encoder`.
    save_predictions : bool, default=False
        ``"cv"`` only: also save the out-of-fold ``predictions`` (n_samples, n_targets), as
        large as ``Y``.
    executor : brainalign.parallel executor or None
        Where chunks run. ``None``: :class:`~brainalign.parallel.SerialExecutor` (this
        process, one chunk at a time). A :class:`~brainalign.parallel.DaskExecutor` runs
        them on Dask workers (which must see the targets' file); results come back to this
        process, the only writer of ``out``.
    max_in_flight : int or None
        Chunks computed but not yet written, at most (bounds the memory of this process).
        ``None``: the executor's default (twice the Dask worker threads).
    overwrite : bool, default=False
        Delete an existing ``out`` first instead of resuming into it.
    verbose : bool or None
        Progress bar over chunks (``None``: the ``BRAINALIGN_PROGRESS`` default). Each
        written chunk is also logged at INFO level on the ``brainalign`` logger.

    Returns
    -------
    result : ChunkedResult
        Chunks computed and skipped, and :meth:`~ChunkedResult.load` to read the arrays.

    Raises
    ------
    ValueError
        Bad ``chunk_size``, ``mode``, shapes (``targets`` rows != ``X`` rows), an ``out``
        from a different job, or an unreadable ``out``.
    KeyError
        ``key`` is not in the targets' file.

    Examples
    --------
    >>> from brainalign.encoders import RidgeEncoder, fit_targets_in_chunks
    >>> res = fit_targets_in_chunks(  # doctest: +SKIP
    ...     RidgeEncoder(alphas=np.logspace(0, 4, 9)), X, "bold.h5:/Y",
    ...     out="ridge.h5", chunk_size=10_000, groups=runs)
    >>> res.load("alphas_").shape  # doctest: +SKIP
    (100000,)
    """
    from brainalign.parallel import SerialExecutor

    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, numbers.Integral)
        or chunk_size <= 0
    ):
        raise ValueError(
            f"`chunk_size` must be a positive int (targets per chunk); got {chunk_size!r}"
        )
    chunk_size = int(chunk_size)
    check_choice(mode, "mode", _MODES)
    if not hasattr(estimator, "fit") or not hasattr(estimator, "get_params"):
        raise TypeError(
            "`estimator` must be a scikit-learn compatible estimator (fit, get_params); got "
            f"{type(estimator).__name__}"
        )
    Xc, n_samples = _check_X(X)
    source = _open_source(targets, key)
    if source.shape[0] != n_samples:
        raise ValueError(
            f"`targets` must have as many samples (rows) as `X`; got X with {n_samples} "
            f"samples, targets of shape {source.shape} ({source.label}). Rows are samples, "
            f"columns targets. {_HINT_SAMPLES}"
        )
    if groups is not None:
        groups = check_groups(groups, n_samples)
    if mode == "cv":
        if groups is None:
            raise ValueError(
                "`groups` must give the run label of each sample in mode='cv' (outer folds "
                "are blocked by run); got None"
            )
        if attributes is not None:
            raise ValueError(f"`attributes` must be None in mode='cv'; got {attributes!r}")
        check_choice(scoring, "scoring", ("correlation", "r2"))
    elif groups is not None and not _accepts_groups(estimator):
        raise ValueError(
            f"`groups` was given but {type(estimator).__name__}.fit has no `groups` "
            "parameter; drop `groups`"
        )
    if attributes is not None:
        if isinstance(attributes, str) or not all(isinstance(a, str) for a in attributes):
            raise TypeError(
                f"`attributes` must be a sequence of attribute names; got {attributes!r}"
            )
        attributes = tuple(attributes)
        if not attributes:
            raise ValueError("`attributes` must name at least one fitted attribute; got []")

    n_targets = source.shape[1]
    starts = range(0, n_targets, chunk_size)
    bounds = {i: (s, min(s + chunk_size, n_targets)) for i, s in enumerate(starts)}
    n_chunks = len(bounds)
    task = {
        "mode": mode,
        "attributes": attributes,
        "cv": cv if mode == "cv" else None,
        "scoring": scoring if mode == "cv" else None,
        "save_predictions": bool(save_predictions) if mode == "cv" else None,
    }
    fingerprint = _fingerprint(Xc, groups, source, estimator, task, chunk_size)
    path = Path(out)
    if path.exists() and overwrite:
        path.unlink()
    done = _open_output(path, fingerprint, n_chunks) if path.exists() else np.zeros(n_chunks, bool)
    skipped = [int(i) for i in np.flatnonzero(done)]
    todo = [i for i in range(n_chunks) if not done[i]]
    t0 = time.perf_counter()
    if skipped:
        logger.info("%s: resuming, %d of %d chunks already done", path.name, len(skipped), n_chunks)

    computed: list[int] = []
    if todo:
        from brainalign import __version__

        attrs = {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "fingerprint": json.dumps(fingerprint, sort_keys=True),
            "mode": mode,
            "n_targets": n_targets,
            "n_samples": n_samples,
            "chunk_size": chunk_size,
            "n_chunks": n_chunks,
            "estimator": repr(estimator),
            "targets": source.label,
            "brainalign_version": __version__,
        }
        job = _Job(
            estimator=clone(estimator),
            mode=mode,
            source=source.for_workers(),
            attributes=attributes,
            cv=cv,
            scoring=scoring,
            save_predictions=bool(save_predictions),
        )
        ex = SerialExecutor() if executor is None else executor
        writer = _Writer(path, attrs, n_chunks, n_targets)
        writer.bounds = bounds
        shared = ex.broadcast((Xc, groups, job))
        in_memory = source.kind == "memory"

        def _chunks() -> Iterator[_Chunk]:
            for i in todo:
                a, b = bounds[i]
                yield _Chunk(i, a, b, source.read(a, b) if in_memory else None)

        results = ex.map_unordered(_run_chunk, _chunks(), shared, max_in_flight=max_in_flight)
        reported: set[tuple[type[Warning], str]] = set()
        try:
            for _, res in progress(results, desc="target chunks", total=len(todo), verbose=verbose):
                writer.write(res)
                computed.append(res.index)
                a, b = bounds[res.index]
                n_done = len(computed) + len(skipped)
                logger.info(
                    "chunk %d (targets %d:%d) written in %.2fs [%d/%d chunks done]",
                    *(res.index, a, b, res.seconds, n_done, n_chunks),
                )
                for category, message in res.warnings:
                    if (category, message) not in reported:
                        reported.add((category, message))
                        warnings.warn(message, category, stacklevel=2)
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()  # stop the executor (cancels units still pending after an error)
            writer.close()
    else:
        logger.info("%s: all %d chunks already done, nothing to compute", path.name, n_chunks)

    import h5py

    with h5py.File(path, "r") as f:
        names = sorted(k for k in f if not k.startswith("_"))
    return ChunkedResult(
        path=path,
        mode=mode,
        n_targets=n_targets,
        chunk_size=chunk_size,
        n_chunks=n_chunks,
        computed=computed,
        skipped=skipped,
        names=names,
        seconds=time.perf_counter() - t0,
    )
