"""The encoding model of the beam-search text decoder: word features → brain responses.

Word features are standardised, Lanczos-resampled to the frames and FIR-delayed
(:func:`word_design`); a linear encoder maps them to every voxel. The voxels used for
scoring and their noise variance come from a held-out training run (:func:`fit_encoder`);
:func:`word_covariance` gives the covariance of one word's contribution, with which the
search marginalises the words still to come (see
:mod:`brainalign.decoders.heads._text_beam`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import clone

from brainalign.decoders.heads._text_words import frame_times

__all__ = ["fit_encoder", "word_covariance", "word_design"]


def word_design(
    feats: np.ndarray,
    times: np.ndarray,
    n_frames: int,
    *,
    feature_mean: np.ndarray,
    feature_scale: np.ndarray,
    tr: float,
    delays: Sequence[float],
    lanczos_window: int,
) -> np.ndarray:
    """Standardised word features resampled to the frames and delayed.

    Parameters
    ----------
    feats : ndarray, shape (n_words, n_dims)
    times : ndarray, shape (n_words,)
        Word onsets in seconds (frame ``i`` at ``i * tr``).
    n_frames : int

    Returns
    -------
    ndarray, shape (n_frames, n_delays * n_dims)
    """
    from brainalign.alignment import Delayer, lanczos_resample

    z = (feats - feature_mean) / feature_scale
    X = lanczos_resample(z, times, frame_times(n_frames, tr), window=int(lanczos_window))
    return Delayer(delays=delays, sfreq=1.0 / float(tr)).fit_transform(X)


def fit_encoder(
    template: Any,
    X: list[np.ndarray],
    Yz: list[np.ndarray],
    groups: np.ndarray,
    n_voxels: int | None,
) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """Fit the encoder on all runs; rank voxels and estimate noise on the last run.

    With two runs or more, a clone fitted on all runs but the last predicts the last one;
    with one run, the prediction is in-sample.

    Returns
    -------
    encoder : estimator
        A clone of ``template`` fitted on all runs.
    voxel_scores : ndarray, shape (n_targets,)
        Held-out prediction correlation of every voxel.
    voxels : ndarray of int, shape (n_selected,)
        The ``n_voxels`` best voxels (all with ``None``), sorted.
    noise_var : ndarray, shape (n_selected,)
        Residual variance of the selected voxels on the held-out run.
    """
    # held-out run: voxel selection and noise variance
    if len(X) >= 2:
        enc = clone(template).fit(
            np.concatenate(X[:-1]), np.concatenate(Yz[:-1]), groups=groups[groups < len(X) - 1]
        )
        Xv, Yv = X[-1], Yz[-1]
    else:
        enc, Xv, Yv = None, X[0], Yz[0]
    encoder = clone(template).fit(np.concatenate(X), np.concatenate(Yz), groups=groups)
    pred = (enc if enc is not None else encoder).predict(Xv)
    pred = np.asarray(pred, dtype=np.float64).reshape(Yv.shape)
    voxel_scores = _column_corr(pred, Yv)
    n_targets = Yv.shape[1]
    k = n_targets if n_voxels is None else min(int(n_voxels), n_targets)
    order = np.argsort(-np.nan_to_num(voxel_scores, nan=-np.inf), kind="stable")
    voxels = np.sort(order[:k])
    resid = Yv[:, voxels] - pred[:, voxels]
    noise_var = np.maximum(resid.var(0), 1e-3)
    return encoder, voxel_scores, voxels, noise_var


def word_covariance(
    encoder: Any,
    voxels: np.ndarray,
    allf: np.ndarray,
    feature_mean: np.ndarray,
    feature_scale: np.ndarray,
    delays: Sequence[float],
    n_features: int,
    n_targets: int,
) -> np.ndarray:
    """Covariance over the training words of one word's contribution to each voxel.

    Returns
    -------
    ndarray, shape (n_delays, n_delays, n_selected)
    """
    coef = np.asarray(getattr(encoder, "coef_", None))
    if coef.ndim != 2 or coef.shape[0] != n_features:
        raise TypeError(
            f"`encoder` must be linear with coef_ of shape (n_features, n_targets) = "
            f"({n_features}, {n_targets}) after fit; got coef_ of shape {coef.shape}"
        )
    # covariance over training words of one word's contribution (delays x delays, voxel)
    n_delays = len(np.atleast_1d(delays))
    Wz = coef[:, voxels].astype(np.float64).reshape(n_delays, allf.shape[1], -1)
    z = (allf - feature_mean) / feature_scale
    P_mean = np.einsum("f,dfv->dv", z.mean(0), Wz)
    cov = np.zeros((n_delays, n_delays, Wz.shape[2]))
    for a in range(0, z.shape[0], 256):
        P = np.einsum("wf,dfv->wdv", z[a : a + 256], Wz) - P_mean
        cov += np.einsum("wdv,wev->dev", P, P)
    return cov / z.shape[0]


def _column_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(0)
    b = b - b.mean(0)
    den = np.sqrt((a * a).sum(0) * (b * b).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(0) / np.where(den > 0, den, 1.0), 0.0)
