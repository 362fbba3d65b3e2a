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

import json
import numbers
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import clone

from brainalign._logging import logger, progress
from brainalign._validation import check_array, check_choice, check_groups, check_n_samples
from brainalign.encoders._chunked_source import _open_source
from brainalign.encoders._chunked_store import (
    _FORMAT,
    _FORMAT_VERSION,
    _fingerprint,
    _open_output,
    _Writer,
)
from brainalign.encoders._chunked_unit import _accepts_groups, _Chunk, _Job, _run_chunk

if TYPE_CHECKING:
    from brainalign.parallel import Executor

__all__ = ["ChunkedResult", "fit_targets_in_chunks"]

_MODES = ("fit", "cv")
_HINT_SAMPLES = "Did you trim the first TRs of each run in one array but not the other?"


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
