"""The work unit of :func:`~brainalign.encoders.fit_targets_in_chunks` (runs on a worker).

Everything here is module-level and picklable: a unit reads ``Y[:, start:stop]``, fits or
cross-validates a clone of the estimator, and returns the chunk's per-target arrays.
"""

from __future__ import annotations

import inspect
import numbers
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone

from brainalign.encoders._chunked_source import _Source

__all__ = ["DEFAULT_ATTRIBUTES"]

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
