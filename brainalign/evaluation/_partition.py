"""Variance partitioning of a joint (banded) model's R² over its feature bands."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from brainalign._validation import check_array

__all__ = ["r2_score_split"]


def r2_score_split(y_true: Any, y_pred_split: Any, include_correlation: bool = True) -> np.ndarray:
    """Split the R² of a joint model into one contribution per feature band.

    Product-measure decomposition, with the semantics of
    :func:`himalaya.scoring.r2_score_split` (himalaya 0.4.11). With the joint prediction
    ``Yhat = sum_i Yhat_i`` and ``SST = sum_t y**2`` (``y_true`` zero-mean)::

        include_correlation=True:   R2_i = sum_t (2 y Yhat_i - Yhat_i * Yhat) / SST
        include_correlation=False:  R2_i = sum_t (2 y Yhat_i - Yhat_i**2) / SST

    With correlations included, the contributions sum to the joint
    ``R2 = 1 - sum_t (y - Yhat)**2 / SST``; without them, ``R2_i`` is the R² that band ``i``
    alone would reach and the shared part is left out.

    Parameters
    ----------
    y_true : array-like, shape (n_samples, n_targets)
        Observed data, zero-mean over samples (e.g. z-scored per run and target).
    y_pred_split : array-like, shape (n_bands, n_samples, n_targets) or (n_samples, n_targets)
        Per-band predictions of the joint model, e.g. ``predict(X, split=True)`` of a himalaya
        banded ridge. A 2-D array is treated as a single band.
    include_correlation : bool, default=True
        Whether to share the cross-band terms ``Yhat_i * Yhat_j`` between bands.

    Returns
    -------
    r2 : ndarray, shape (n_bands, n_targets), or (n_targets,) for a 2-D ``y_pred_split``
        Per-band R². Targets whose ``y_true`` is constant get 0 (himalaya divides by zero).

    Warns
    -----
    UserWarning
        If ``y_true`` is not zero-mean over samples (|mean| > 1e-6 sd), as himalaya does; the
        decomposition is then not the variance of ``y_true``.
    """
    yt = check_array(y_true, "y_true", ndim=2, shape_doc="(n_samples, n_targets)")
    yp = check_array(
        y_pred_split, "y_pred_split", ndim=(2, 3), shape_doc="(n_bands, n_samples, n_targets)"
    )
    no_split = yp.ndim == 2
    if no_split:
        yp = yp[None]
    if yp.shape[1:] != yt.shape:
        raise ValueError(
            f"`y_pred_split` must have shape (n_bands, *y_true.shape) = "
            f"(n_bands, {yt.shape[0]}, {yt.shape[1]}); got y_pred_split.shape={yp.shape}, "
            f"y_true.shape={yt.shape}. Stack per-band predictions on axis 0 "
            f"(e.g. predict(X, split=True))."
        )
    yt = yt.astype(np.float64, copy=False)
    yp = yp.astype(np.float64, copy=False)
    sst = np.einsum("ij,ij->j", yt, yt)
    scale = np.sqrt(sst / yt.shape[0])
    if np.any(np.abs(yt.mean(0)) > 1e-6 * np.maximum(scale, np.finfo(np.float64).tiny)):
        warnings.warn(
            "`y_true` has to be zero-mean over samples for r2_score_split; got means up to "
            f"{np.abs(yt.mean(0)).max():.3g}. Subtract the mean of each target "
            "(y_true - y_true.mean(0)) or z-score it.",
            UserWarning,
            stacklevel=2,
        )
    inter = np.einsum("ij,bij->bj", yt, yp)
    if include_correlation:
        own = np.einsum("bij,ij->bj", yp, yp.sum(axis=0))
    else:
        own = np.einsum("bij,bij->bj", yp, yp)
    ok = sst > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(ok, (2.0 * inter - own) / np.where(ok, sst, 1.0), 0.0)
    return r2[0] if no_split else r2
