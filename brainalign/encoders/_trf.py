"""Temporal response function (TRF) encoder for M/EEG and iEEG: lagged ridge per target."""

from __future__ import annotations

import itertools
import numbers
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
from scipy import linalg
from sklearn.utils.validation import check_is_fitted

from brainalign._validation import (
    check_array,
    check_choice,
    check_groups,
    check_positive,
    run_edges,
)
from brainalign.encoders._base import (
    _SCORINGS,
    _BaseEncoder,
    check_n_features,
    check_X,
    check_X_Y,
    resolve_cv,
    warn_alpha_edge,
)

__all__ = ["TRFEncoder"]

_CHUNK = 8192  # rows of the lagged design built at once (bounds memory)


def _times_to_lags(tmin: float, tmax: float, sfreq: float) -> np.ndarray:
    """Lags in samples from ``tmin`` to ``tmax`` inclusive, rounded like MNE."""
    return np.arange(int(np.round(tmin * sfreq)), int(np.round(tmax * sfreq)) + 1)


def _run_slices(groups: Any, n_samples: int) -> list[slice]:
    if groups is None:
        return [slice(0, n_samples)]
    bounds = run_edges(check_groups(groups, n_samples))
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


def _iter_lagged(
    X: np.ndarray, lags: np.ndarray, runs: list[slice], chunk: int = _CHUNK
) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield ``(rows, D)``: rows of the lagged design, built run by run.

    Column ``k * n_features + f`` of ``D`` holds feature ``f`` delayed by ``lags[k]``
    samples (``D[t] = X[t - lag]``), zero where ``t - lag`` falls outside the run: lags never
    cross run boundaries.
    """
    n_features = X.shape[1]
    for run in runs:
        n = run.stop - run.start
        Xr = X[run]
        for a in range(0, n, chunk):
            b = min(a + chunk, n)
            D = np.zeros((b - a, len(lags) * n_features), dtype=X.dtype)
            for k, lag in enumerate(lags):
                lo, hi = max(a, lag), min(b, n + lag)  # rows t with 0 <= t - lag < n
                if hi > lo:
                    D[lo - a : hi - a, k * n_features : (k + 1) * n_features] = Xr[
                        lo - lag : hi - lag
                    ]
            yield slice(run.start + a, run.start + b), D


def _gram(
    X: np.ndarray, Y: np.ndarray, lags: np.ndarray, runs: list[slice], rows: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """``D.T @ D`` and ``D.T @ Y`` over the selected rows (all when ``rows`` is None)."""
    p = len(lags) * X.shape[1]
    G = np.zeros((p, p))
    XtY = np.zeros((p, Y.shape[1]))
    for sl, D in _iter_lagged(X, lags, runs):
        Yc = Y[sl]
        if rows is not None:
            keep = rows[sl]
            D, Yc = D[keep], Yc[keep]
        G += D.T @ D
        XtY += D.T @ Yc
    return G, XtY


class TRFEncoder(_BaseEncoder):
    """Temporal response function: ridge regression on time-lagged features.

    ``Y[t] = intercept + sum_k X[t - lags[k]] @ trf_[k]``, with lags from ``tmin`` to ``tmax``
    seconds inclusive (positive lags: the response follows the stimulus). The lagged design
    is built per run (``groups``), with zeros where a lag falls outside the run, so lags never
    cross run boundaries.

    **Correspondence with MNE.** With a scalar ``alpha`` this is exactly
    ``mne.decoding.ReceptiveField(tmin, tmax, sfreq, estimator=alpha,
    fit_intercept=fit_intercept)`` (its ``TimeDelayingRidge`` path, ``reg_type="ridge"``,
    ``edge_correction=True``), with runs playing the role of MNE's epochs
    (``X`` of shape (n_times, n_epochs, n_features)):

    - lags: ``np.arange(round(tmin * sfreq), round(tmax * sfreq) + 1)`` (numpy rounding), as
      MNE's ``_times_to_delays``;
    - ``fit_intercept=True``: ``X`` and ``Y`` are centred with their means over **all**
      samples (all runs) *before* lagging; missing lagged samples are zero, i.e. equal to the
      mean; every sample is fitted (MNE's edge-corrected auto-correlations are exactly the
      Gram matrix ``D.T @ D`` of this zero-padded design), solving
      ``(D.T @ D + alpha I) w = D.T @ Yc``; ``intercept_ = mean(Y) - mean(X) @ trf_.sum(0)``;
    - ``predict`` lags the raw ``X`` with zeros outside each run and adds ``intercept_``
      (as ``TimeDelayingRidge.predict``); at the first/last ``|lag|`` samples of a run this
      treats missing samples as 0 rather than as the training mean, exactly like MNE;
    - ``trf_ == rf.coef_.transpose(2, 1, 0)`` (MNE: (n_outputs, n_features, n_delays)).

    The test suite checks coefficients, intercepts and predictions against MNE to
    ``rtol=1e-4`` (they agree to ~1e-12 in float64). The design is computed in the time domain
    by row chunks (MNE uses FFTs), so memory stays bounded for long recordings.

    With an array of ``alpha``, each target's penalty is chosen by cross-validation
    (negative mean squared error averaged over folds, as :class:`RidgeEncoder`), then the
    model is refit on all samples with each target's penalty. Each fold is fitted and
    predicted exactly as above on its training and test samples (training means for the
    centring); when folds are whole runs (the default with ``groups``), a fold equals
    ``TRFEncoder(alpha=a).fit(train runs).predict(test run)``. Folds inside one run keep
    the run's lag structure: lags at a fold boundary read the neighbouring fold's features.

    Parameters
    ----------
    tmin, tmax : float
        First and last lag, in seconds (``tmin <= tmax``).
    sfreq : float
        Sampling frequency of ``X`` and ``Y``, in Hz.
    alpha : float or array-like of shape (n_alphas,)
        Ridge penalty (>= 0), or penalties to choose from per target (> 0).
    fit_intercept : bool
        Centre ``X`` and ``Y`` (global means) and fit an intercept.
    cv : None, int, splitter or iterable of (train, test)
        Only used when ``alpha`` is an array; as in :class:`RidgeEncoder` (default:
        leave-one-run-out with >= 2 runs, else 5 contiguous folds).
    scoring : {"correlation", "r2"}
        Metric of :meth:`score`.
    warn_alpha_edge : bool
        With an array ``alpha``: warn when more than 10% of targets pick an edge penalty.

    Attributes
    ----------
    lags_ : ndarray of int, shape (n_lags,)
        Lags in samples.
    times_ : ndarray, shape (n_lags,)
        Lags in seconds, ``lags_ / sfreq``.
    trf_ : ndarray, shape (n_lags, n_features, n_targets)
        The temporal response functions.
    coef_ : ndarray, shape (n_lags * n_features, n_targets)
        ``trf_`` flattened lag-major (row ``k * n_features + f``), i.e. the coefficients of
        the lagged design.
    intercept_ : ndarray, shape (n_targets,)
    alphas_ : ndarray, shape (n_targets,)
        Penalty of each target.
    cv_scores_ : ndarray, shape (n_targets,)
        With an array ``alpha``: CV score (negative MSE) at the chosen penalty.
    n_features_in_ : int
        Number of (un-lagged) features.
    """

    def __init__(
        self,
        tmin: float,
        tmax: float,
        sfreq: float,
        alpha: Any = 1.0,
        fit_intercept: bool = True,
        cv: Any = None,
        scoring: str = "correlation",
        warn_alpha_edge: bool = True,
    ):
        self.tmin = tmin
        self.tmax = tmax
        self.sfreq = sfreq
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.scoring = scoring
        self.warn_alpha_edge = warn_alpha_edge

    def _check_params(self) -> tuple[np.ndarray, np.ndarray | float]:
        sfreq = check_positive(self.sfreq, "sfreq")
        for name in ("tmin", "tmax"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"`{name}` must be a number of seconds; got {value!r}")
            if not np.isfinite(value):
                raise ValueError(f"`{name}` must be finite; got {value!r}")
        if self.tmin > self.tmax:
            raise ValueError(
                f"`tmin` must be <= `tmax`; got tmin={self.tmin}, tmax={self.tmax}. Lags go "
                "from tmin to tmax seconds (negative: the response precedes the stimulus); "
                "swap them?"
            )
        check_choice(self.scoring, "scoring", _SCORINGS)
        lags = _times_to_lags(self.tmin, self.tmax, sfreq)
        alpha = check_array(self.alpha, "alpha", ndim=(0, 1), dtype=np.float64)
        if alpha.ndim == 0 or alpha.size == 1:
            value = float(alpha.ravel()[0])
            if value < 0:
                raise ValueError(f"`alpha` must be >= 0; got {value!r}")
            return lags, value
        if np.any(alpha <= 0) or len(np.unique(alpha)) != alpha.size:
            raise ValueError(
                "`alpha` as an array must hold distinct penalties > 0 to choose from by "
                f"cross-validation; got {alpha.tolist()}"
            )
        return lags, np.sort(alpha)

    def fit(self, X: Any, Y: Any, groups: Any = None) -> TRFEncoder:
        """Fit the TRFs.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Stimulus features (e.g. envelope, word onsets), sampled at ``sfreq``.
        Y : array-like, shape (n_samples, n_targets) or (n_samples,)
            Sensor / electrode / source time courses.
        groups : array-like of shape (n_samples,) or None
            Run label of each sample (runs must be contiguous blocks).

        Returns
        -------
        self : TRFEncoder
        """
        X, Y, self._y_1d = check_X_Y(X, Y, type(self).__name__)
        lags, alpha = self._check_params()
        n_samples, n_features = X.shape
        runs = _run_slices(groups, n_samples)
        min_len = (len(lags) + 1) // 2
        short = [r.stop - r.start for r in runs if r.stop - r.start < min_len]
        if short:
            raise ValueError(
                f"Every run must have at least {min_len} samples to estimate {len(lags)} lags "
                f"(tmin={self.tmin}, tmax={self.tmax}, sfreq={self.sfreq}); got runs of "
                f"{short} samples. Shorten the lag window or merge short runs."
            )
        dtype = np.float64
        X64, Y64 = X.astype(dtype), Y.astype(dtype)
        if np.ndim(alpha) == 0:
            coef = self._fit_one(X64, Y64, lags, runs, float(alpha))
            self.alphas_ = np.full(Y.shape[1], float(alpha))
            self.cv_scores_ = np.full(Y.shape[1], np.nan)
        else:
            splits = resolve_cv(self.cv, n_samples, groups)
            coef, self.alphas_, self.cv_scores_ = self._fit_cv(X64, Y64, lags, runs, alpha, splits)
        x_mean, y_mean = self._means(X64, Y64)
        self.lags_ = lags
        self.times_ = lags / float(self.sfreq)
        self.coef_ = coef.astype(X.dtype, copy=False)
        self.trf_ = self.coef_.reshape(len(lags), n_features, Y.shape[1])
        self.intercept_ = (y_mean - x_mean @ coef.reshape(len(lags), n_features, -1).sum(0)).astype(
            X.dtype
        )
        self.n_features_in_ = n_features
        if np.ndim(alpha) == 1 and self.warn_alpha_edge:
            warn_alpha_edge(self.alphas_, alpha)
        return self

    def _means(self, X: np.ndarray, Y: np.ndarray, rows: Any = None) -> tuple[np.ndarray, ...]:
        if not self.fit_intercept:
            return np.zeros(X.shape[1]), np.zeros(Y.shape[1])
        if rows is None:
            return X.mean(0), Y.mean(0)
        return X[rows].mean(0), Y[rows].mean(0)

    def _fit_one(self, X, Y, lags, runs, alpha: float) -> np.ndarray:
        x_mean, y_mean = self._means(X, Y)
        G, XtY = _gram(X - x_mean, Y - y_mean, lags, runs)
        G.flat[:: G.shape[0] + 1] += alpha
        try:
            return linalg.solve(G, XtY, assume_a="pos")
        except linalg.LinAlgError:
            warnings.warn(
                f"The lagged design is singular at alpha={alpha:g}; using the least-squares "
                "solution (as MNE does). Use alpha > 0.",
                UserWarning,
                stacklevel=3,
            )
            return linalg.lstsq(G, XtY, lapack_driver="gelsy")[0]

    def _fit_cv(self, X, Y, lags, runs, alphas, splits):
        n_samples, n_targets = Y.shape
        scores = np.zeros((len(alphas), n_targets))
        for train, test in splits:
            is_train = np.zeros(n_samples, dtype=bool)
            is_train[train] = True
            is_test = np.zeros(n_samples, dtype=bool)
            is_test[test] = True
            x_mean, y_mean = self._means(X, Y, is_train)
            G, XtY = _gram(X - x_mean, Y - y_mean, lags, runs, rows=is_train)
            s, V = linalg.eigh(G)
            R = V.T @ XtY
            # held-out predictions exactly as ``predict``: raw lagged X (zeros outside the
            # run) @ coef + intercept, with intercept = y_mean - x_mean @ trf.sum(0)
            D_test = np.concatenate([D[is_test[sl]] for sl, D in _iter_lagged(X, lags, runs)])
            P = (D_test - np.tile(x_mean, len(lags))) @ V
            Yt = Y[np.flatnonzero(is_test)] - y_mean
            for i, a in enumerate(alphas):
                err = Yt - P @ (R / (np.maximum(s, 0) + a)[:, None])
                scores[i] -= np.einsum("ij,ij->j", err, err) / len(Yt)
        scores /= len(splits)
        # as himalaya: a tiny slope so that ties go to the larger penalty
        best = np.argmax(scores + 1e-10 * np.log(alphas)[:, None], axis=0)
        chosen = alphas[best]
        x_mean, y_mean = self._means(X, Y)
        G, XtY = _gram(X - x_mean, Y - y_mean, lags, runs)
        s, V = linalg.eigh(G)
        R = V.T @ XtY
        coef = np.empty_like(XtY)
        for i in np.unique(best):
            cols = best == i
            coef[:, cols] = V @ (R[:, cols] / (np.maximum(s, 0) + alphas[i])[:, None])
        return coef, chosen, scores[best, np.arange(n_targets)]

    def predict(self, X: Any, groups: Any = None) -> np.ndarray:
        """Predict the targets from (raw) features, lagging within each run.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        groups : array-like of shape (n_samples,) or None
            Run labels of the test samples (lags never cross runs).

        Returns
        -------
        Y_pred : ndarray, shape (n_samples, n_targets)
        """
        check_is_fitted(self)
        X = check_X(X)
        check_n_features(X, self.n_features_in_, estimator=type(self).__name__)
        X = X.astype(self.coef_.dtype, copy=False)
        runs = _run_slices(groups, X.shape[0])
        out = np.empty((X.shape[0], self.coef_.shape[1]), dtype=self.coef_.dtype)
        for sl, D in _iter_lagged(X, self.lags_, runs):
            out[sl] = D @ self.coef_
        out += self.intercept_
        return self._format_output(out)
