"""`Delayer`: FIR delays (stacked shifted copies of the features), never crossing runs."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from brainalign._validation import check_array, check_groups, check_positive

__all__ = ["Delayer"]

_SAMPLE_RTOL = 1e-6


def _seconds_to_samples(seconds: Any, sfreq: float, name: str) -> int:
    """Convert a duration in seconds to a whole number of samples, or raise.

    The duration must be a multiple of the sampling period ``1 / sfreq`` within
    ``1e-6`` of a period.
    """
    try:
        value = float(seconds)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` must be a number of seconds; got {seconds!r}") from exc
    if not np.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number of seconds; got {value!r}")
    n = value * sfreq
    rounded = round(n)
    if abs(n - rounded) > _SAMPLE_RTOL:
        period = 1.0 / sfreq
        raise ValueError(
            f"`{name}` must be a whole number of samples, i.e. a multiple of the sampling "
            f"period 1/sfreq = {period:g} s; got {value:g} s = {n:g} samples. Use e.g. "
            f"{np.floor(n) * period:g} s or {np.ceil(n) * period:g} s."
        )
    return int(rounded)


def _run_codes(groups: Any, n_samples: int) -> np.ndarray:
    """Integer block index of each sample (0, 0, 1, 1, 1, ...); one block if ``groups`` is None."""
    if groups is None:
        return np.zeros(n_samples, dtype=np.intp)
    groups = check_groups(groups, n_samples)
    change = np.concatenate([[False], groups[1:] != groups[:-1]])
    return np.cumsum(change).astype(np.intp)


def _shift(X: np.ndarray, lag: int, codes: np.ndarray) -> np.ndarray:
    """``out[t] = X[t - lag]`` when ``t - lag`` is in the same run as ``t``, else 0."""
    n = X.shape[0]
    src = np.arange(n) - lag
    valid = (src >= 0) & (src < n)
    valid[valid] = codes[src[valid]] == codes[valid]
    out = np.zeros_like(X)
    out[valid] = X[src[valid]]
    return out


class Delayer(TransformerMixin, BaseEstimator):
    """Stack time-shifted copies of the features (finite impulse response model).

    Parameters
    ----------
    delays : sequence of float
        Delays in seconds. A positive delay ``d`` makes the feature at time ``t - d`` explain
        the response at time ``t`` (the BOLD lag); 0 and negative delays are allowed. Each
        must be a multiple of the sampling period ``1 / sfreq`` (within 1e-6 of a period).
    sfreq : float
        Sampling frequency of ``X`` in Hz (``1 / TR`` for fMRI).

    Attributes
    ----------
    delays_samples_ : ndarray of int, shape (n_delays,)
        The delays in samples.
    n_features_in_ : int
        Number of input features.

    Examples
    --------
    Huth-lab delays of 1-4 TRs with TR = 2 s:

    >>> import numpy as np
    >>> from brainalign.alignment import Delayer
    >>> Delayer(delays=[2, 4, 6, 8], sfreq=0.5).fit_transform(np.ones((10, 3))).shape
    (10, 12)
    """

    def __init__(self, delays: Any = (0.0,), sfreq: float = 1.0) -> None:
        self.delays = delays
        self.sfreq = sfreq

    def _check_delays(self) -> np.ndarray:
        sfreq = check_positive(self.sfreq, "sfreq")
        delays = np.atleast_1d(np.asarray(self.delays, dtype=object))
        if delays.ndim != 1 or delays.shape[0] == 0:
            raise ValueError(
                f"`delays` must be a non-empty 1-D sequence of delays in seconds; got "
                f"{self.delays!r}. Use e.g. delays=[2, 4, 6, 8] for TR = 2 s."
            )
        samples = [_seconds_to_samples(d, sfreq, f"delays[{i}]") for i, d in enumerate(delays)]
        if len(set(samples)) != len(samples):
            raise ValueError(
                f"`delays` must be distinct once converted to samples; got {list(delays)} s = "
                f"{samples} samples at sfreq={sfreq:g} Hz"
            )
        return np.asarray(samples, dtype=np.intp)

    def fit(self, X: Any, y: Any = None, groups: Any = None) -> Delayer:
        """Check the parameters and record the number of features.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        y : ignored
        groups : ignored
            Accepted so that ``fit`` and ``transform`` take the same arguments.

        Returns
        -------
        self : Delayer
        """
        X = check_array(X, "X", ndim=2, shape_doc="(n_samples, n_features)")
        self.delays_samples_ = self._check_delays()
        self.n_features_in_ = int(X.shape[1])
        return self

    def transform(self, X: Any, groups: Any = None) -> np.ndarray:
        """Stack the delayed copies of ``X``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Features sampled at ``sfreq``; runs concatenated one after the other.
        groups : array-like, shape (n_samples,) or None
            Run label of each sample (contiguous blocks). Shifts never cross a run boundary:
            the first (last) samples of each run get zeros for positive (negative) delays.
            ``None`` treats ``X`` as one run.

        Returns
        -------
        ndarray, shape (n_samples, n_delays * n_features)
            Delay-major blocks ``[X shifted by delays[0] | X shifted by delays[1] | ...]``.
        """
        check_is_fitted(self, "delays_samples_")
        X = check_array(X, "X", ndim=2, shape_doc="(n_samples, n_features)")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"`X` must have {self.n_features_in_} features, as during fit; got "
                f"X.shape={X.shape}"
            )
        codes = _run_codes(groups, X.shape[0])
        return np.concatenate([_shift(X, int(lag), codes) for lag in self.delays_samples_], axis=1)

    def fit_transform(self, X: Any, y: Any = None, groups: Any = None) -> np.ndarray:
        """``fit(X).transform(X, groups)``; see :meth:`transform`."""
        return self.fit(X, y).transform(X, groups=groups)

    def reshape_by_delays(self, coef: Any) -> np.ndarray:
        """Split the rows of a coefficient array by delay.

        Parameters
        ----------
        coef : array-like, shape (n_delays * n_features, ...)
            E.g. ridge weights fitted on the output of :meth:`transform`.

        Returns
        -------
        ndarray, shape (n_delays, n_features, ...)
            ``out[i]`` holds the weights of ``delays[i]``.
        """
        check_is_fitted(self, "delays_samples_")
        coef = np.asarray(coef)
        n_delays = self.delays_samples_.shape[0]
        expected = n_delays * self.n_features_in_
        if coef.ndim == 0 or coef.shape[0] != expected:
            raise ValueError(
                f"`coef` must have n_delays * n_features = {n_delays} * {self.n_features_in_} "
                f"= {expected} rows; got shape {coef.shape}. Transpose (n_targets, n_features) "
                f"weights first."
            )
        return coef.reshape(n_delays, self.n_features_in_, *coef.shape[1:])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names ``"{feature}_delay{d}s"`` in the order of the output columns (delay-major).

        Parameters
        ----------
        input_features : sequence of str or None
            Input names; default ``x0, x1, ...``.

        Returns
        -------
        ndarray of str, shape (n_delays * n_features,)
        """
        check_is_fitted(self, "delays_samples_")
        if input_features is None:
            input_features = [f"x{i}" for i in range(self.n_features_in_)]
        input_features = [str(f) for f in input_features]
        if len(input_features) != self.n_features_in_:
            raise ValueError(
                f"`input_features` must have {self.n_features_in_} names (one per feature); "
                f"got {len(input_features)}"
            )
        sfreq = float(self.sfreq)
        names = [
            f"{f}_delay{lag / sfreq:g}s" for lag in self.delays_samples_ for f in input_features
        ]
        return np.asarray(names, dtype=object)
