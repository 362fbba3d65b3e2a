"""Per-target scores: Pearson correlation and coefficient of determination."""

from __future__ import annotations

from typing import Any

import numpy as np

from brainalign._validation import check_array, check_choice

__all__ = ["correlation_score", "r2_score", "score_targets"]


def _prepare(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    yt = check_array(y_true, "y_true", ndim=(1, 2), shape_doc="(n_samples, n_targets)")
    yp = check_array(y_pred, "y_pred", ndim=(1, 2), shape_doc="(n_samples, n_targets)")
    if yt.ndim == 1:
        yt = yt[:, None]
    if yp.ndim == 1:
        yp = yp[:, None]
    if yt.shape != yp.shape:
        raise ValueError(
            f"`y_pred` must have the same shape as `y_true`; got y_true.shape={yt.shape}, "
            f"y_pred.shape={yp.shape}"
        )
    if yt.shape[0] < 2:
        raise ValueError(f"`y_true` must have at least 2 samples to score; got {yt.shape[0]}")
    return yt, yp


def _is_constant(y: np.ndarray) -> np.ndarray:
    """Targets whose time course holds one value only, shape (n_targets,).

    Tested exactly (``max == min``) rather than through the centred sum of squares, which
    rounding of the mean leaves slightly above 0 for constant time courses (e.g. all 0.1).
    """
    return y.max(axis=0) == y.min(axis=0)


def correlation_score(y_true: Any, y_pred: Any) -> np.ndarray:
    """Pearson correlation between true and predicted time courses, per target.

    Parameters
    ----------
    y_true, y_pred : ndarray, shape (n_samples, n_targets) or (n_samples,)

    Returns
    -------
    r : ndarray, shape (n_targets,)
        0 where either time course is constant (no variance to correlate).
    """
    yt, yp = _prepare(y_true, y_pred)
    dtype = np.result_type(yt.dtype, yp.dtype, np.float32)
    yt = yt - yt.mean(0, dtype=np.float64).astype(dtype)
    yp = yp - yp.mean(0, dtype=np.float64).astype(dtype)
    num = np.einsum("ij,ij->j", yt, yp, dtype=np.float64)
    den = np.sqrt(np.einsum("ij,ij->j", yt, yt, dtype=np.float64)) * np.sqrt(
        np.einsum("ij,ij->j", yp, yp, dtype=np.float64)
    )
    ok = (den > 0) & ~_is_constant(yt) & ~_is_constant(yp)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(ok, num / np.where(ok, den, 1.0), 0.0)
    return r


def r2_score(y_true: Any, y_pred: Any) -> np.ndarray:
    """Coefficient of determination per target (scikit-learn's definition, ``raw_values``).

    Returns
    -------
    r2 : ndarray, shape (n_targets,)
        ``1 - SS_res / SS_tot``; 0 where ``y_true`` is constant (all samples equal), where
        the ratio is undefined. scikit-learn returns 1.0 instead when such a target is also
        predicted exactly; himalaya returns 0 as here.
    """
    yt, yp = _prepare(y_true, y_pred)
    ss_res = np.sum((yt - yp) ** 2, axis=0, dtype=np.float64)
    ss_tot = np.sum((yt - yt.mean(0, dtype=np.float64)) ** 2, axis=0, dtype=np.float64)
    ok = (ss_tot > 0) & ~_is_constant(yt)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, 1.0 - ss_res / np.where(ok, ss_tot, 1.0), 0.0)


_SCORERS = {"correlation": correlation_score, "r2": r2_score}


def score_targets(
    y_true: Any, y_pred: Any, *, scoring: str = "correlation", multioutput: str = "uniform_average"
) -> float | np.ndarray:
    """Score predictions with ``scoring``; mean over targets or the raw per-target array.

    Parameters
    ----------
    scoring : {"correlation", "r2"}
    multioutput : {"uniform_average", "raw_values"}
    """
    check_choice(scoring, "scoring", _SCORERS)
    check_choice(multioutput, "multioutput", ("uniform_average", "raw_values"))
    scores = _SCORERS[scoring](y_true, y_pred)
    if multioutput == "raw_values":
        return scores
    return float(np.mean(scores))
