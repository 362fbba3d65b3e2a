"""Noise ceilings from repeated presentations: explainable variance and NSD's ncsnr."""

from __future__ import annotations

from typing import Any

import numpy as np

from brainalign._validation import check_array

__all__ = ["compute_ncsnr", "explainable_variance", "noise_ceiling"]


def _check_repeats(repeats: Any, what: str) -> np.ndarray:
    arr = check_array(
        repeats, "repeats", ndim=3, shape_doc=f"(n_repeats, {what}, n_targets)"
    ).astype(np.float64, copy=False)
    if arr.shape[0] < 2:
        raise ValueError(
            f"`repeats` must hold at least 2 repeats along axis 0 to estimate noise; got "
            f"shape {arr.shape}. Stack the repeated presentations as "
            f"repeats[i] = response to repeat i, shape (n_repeats, {what}, n_targets)."
        )
    if arr.shape[1] < 2:
        raise ValueError(
            f"`repeats` must hold at least 2 {what.removeprefix('n_')} along axis 1; got "
            f"shape {arr.shape}. Is the array transposed? Expected (n_repeats, {what}, "
            f"n_targets)."
        )
    return arr


def _zscore(x: np.ndarray, axis: int) -> np.ndarray:
    """z-score along ``axis`` (ddof=0, as :func:`scipy.stats.zscore`); constant series -> 0."""
    centred = x - x.mean(axis=axis, keepdims=True)
    std = np.sqrt(np.mean(centred**2, axis=axis, keepdims=True))
    constant = np.max(x, axis=axis, keepdims=True) == np.min(x, axis=axis, keepdims=True)
    safe = np.where(constant, 1.0, std)
    return np.where(constant, 0.0, centred / safe)


def explainable_variance(
    repeats: Any, bias_correction: bool = True, zscore: bool = True
) -> np.ndarray:
    """Fraction of each target's variance that is reproducible across repeats.

    The definition of the Gallant lab voxelwise tutorials (``voxelwise_tutorials.utils.
    explainable_variance``; Sahani & Linden, 2003; Hsu, Borst & Theunissen, 2004)::

        z = zscore(repeats, axis=1)                  # when zscore=True (ddof=0)
        ev = var_t(mean_r(z)) / mean_r(var_t(z))      # variances with ddof=1
        ev = ev - (1 - ev) / (n_repeats - 1)          # when bias_correction=True

    Without signal, the uncorrected ``ev`` is ``1 / n_repeats`` on average; the correction
    maps it to 0 and maps ``f + (1 - f) / n_repeats`` to the single-repeat signal fraction
    ``f``. Corrected values can therefore be negative for noise-only targets.

    Parameters
    ----------
    repeats : array-like, shape (n_repeats, n_samples, n_targets)
        Responses to the same stimulus sequence, repeated ``n_repeats`` times.
    bias_correction : bool, default=True
        Remove the upward bias due to the finite number of repeats.
    zscore : bool, default=True
        z-score each repeat's time course first. Set to False only if the time courses are
        already z-scored.

    Returns
    -------
    ev : ndarray, shape (n_targets,)
        Explainable variance, the ceiling of the R² of a model that predicts a single
        repeat. Targets whose time course is constant in every repeat get 0 (uncorrected).
        A repeat with a constant time course counts as a repeat with no signal.
    """
    data = _check_repeats(repeats, "n_samples")
    if zscore:
        data = _zscore(data, axis=1)
    mean_var = data.var(axis=1, ddof=1).mean(axis=0)
    var_mean = data.mean(axis=0).var(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ev = np.where(mean_var > 0, var_mean / np.where(mean_var > 0, mean_var, 1.0), 0.0)
    if bias_correction:
        ev = ev - (1.0 - ev) / (data.shape[0] - 1)
    return ev


def compute_ncsnr(repeats: Any, zscore: bool = True) -> np.ndarray:
    """Noise-ceiling signal-to-noise ratio (ncsnr) of the Natural Scenes Dataset.

    Allen et al. (2022), "A massive 7T fMRI dataset to bridge cognitive neuroscience and
    artificial intelligence", *Nature Neuroscience* 25:116-126, Methods "Noise ceiling";
    reference code: ``matlab/examples/example9_noiseceiling.m`` in cvnlab/GLMsingle, and the
    ``kknc`` function of the fMRI noise-ceiling scripts in ViCCo-Group/THINGS-data::

        noise_var  = mean over stimuli of var across repeats (ddof=1)
        signal_var = max(0, 1 - noise_var)                    # betas z-scored per voxel
        ncsnr      = sqrt(signal_var) / sqrt(noise_var)

    NSD z-scores each voxel's single-trial betas within each scan session, and an image's
    repeats fall in different sessions; ``zscore=True`` mirrors this by z-scoring each repeat
    across stimuli (ddof=0, as ``scipy.stats.zscore`` in THINGS-data's ``kknc``), then uses the
    formula above. With ``zscore=False`` the data are used as given and the general form of the
    GLMsingle example is used, ``signal_var = max(0, total_var - noise_var)`` with
    ``total_var`` the variance (ddof=1) of all trials pooled; it equals ``1 - noise_var`` for
    betas already z-scored per voxel over these trials.

    Parameters
    ----------
    repeats : array-like, shape (n_repeats, n_stimuli, n_targets)
        Single-trial responses (e.g. GLM betas); ``repeats[i, j]`` is the i-th presentation of
        stimulus j.
    zscore : bool, default=True
        z-score each repeat across stimuli before estimating the noise.

    Returns
    -------
    ncsnr : ndarray, shape (n_targets,)
        Signal sd over noise sd, >= 0. ``inf`` where the repeats agree exactly (no noise),
        0 for targets without variance.

    See Also
    --------
    noise_ceiling : converts ncsnr to a percentage of explainable variance.
    """
    data = _check_repeats(repeats, "n_stimuli")
    if zscore:
        data = _zscore(data, axis=1)
    noise_var = data.var(axis=0, ddof=1).mean(axis=0)
    if zscore:
        total_var = np.ones_like(noise_var)
    else:
        total_var = data.reshape(-1, data.shape[-1]).var(axis=0, ddof=1)
    signal_var = np.maximum(total_var - noise_var, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ncsnr = np.where(
            noise_var > 0,
            np.sqrt(signal_var) / np.sqrt(np.where(noise_var > 0, noise_var, 1.0)),
            np.where(signal_var > 0, np.inf, 0.0),
        )
    return ncsnr


def noise_ceiling(ncsnr: Any, n_averaged: int | float = 1) -> np.ndarray:
    """Noise ceiling, in percent of variance, of the average of ``n_averaged`` trials.

    Allen et al. (2022), Methods "Noise ceiling"::

        NC = 100 * ncsnr**2 / (ncsnr**2 + 1 / n_averaged)

    It is the percentage of the variance of the ``n_averaged``-trial average that the signal
    explains: ``signal_var / (signal_var + noise_var / n_averaged)``.

    Parameters
    ----------
    ncsnr : array-like, shape (n_targets,)
        Output of :func:`compute_ncsnr` (e.g. NSD's ``ncsnr`` maps).
    n_averaged : int or float, default=1
        Number of trials averaged in the data the model is scored on (NSD: 3 when the betas
        of the three repeats are averaged; a float allows mixtures, e.g. the harmonic mean).

    Returns
    -------
    nc : ndarray, shape (n_targets,)
        Noise ceiling in percent, in [0, 100].
    """
    snr = check_array(ncsnr, "ncsnr", ndim=(0, 1), shape_doc="(n_targets,)", finite=False)
    if np.any(np.isnan(snr)) or np.any(snr < 0):
        raise ValueError(
            "`ncsnr` must be >= 0 and not NaN (a ratio of standard deviations); got values "
            f"in [{np.nanmin(snr):g}, {np.nanmax(snr):g}] with {int(np.isnan(snr).sum())} NaN. "
            "Pass the output of compute_ncsnr."
        )
    try:
        n = float(n_averaged)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`n_averaged` must be a number >= 1; got {n_averaged!r}") from exc
    if not np.isfinite(n) or n < 1:
        raise ValueError(
            f"`n_averaged` must be >= 1 (the number of trials averaged); got {n_averaged!r}"
        )
    snr2 = snr.astype(np.float64) ** 2
    with np.errstate(invalid="ignore"):
        nc = np.where(np.isinf(snr2), 100.0, 100.0 * snr2 / (snr2 + 1.0 / n))
    return nc
