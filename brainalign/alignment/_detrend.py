"""Per-run polynomial detrending (the drift removal of fMRI preprocessing)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from brainalign._validation import check_array, check_groups, run_edges

__all__ = ["detrend_runs"]


def detrend_runs(X: Any, groups: Any = None, order: int = 2) -> np.ndarray:
    """Remove a polynomial trend from every column of ``X`` within each run.

    Slow scanner drift is shared by all the runs of a session; left in the responses, it is
    predicted by any regressor with a similar slow profile in every run (e.g. a word-rate
    band that is off during the lead-in and the tail), which inflates held-out scores.
    Each run's columns are projected off the Legendre polynomials of degree ``0..order``
    on that run (least squares), as nilearn's ``signal.clean(detrend=True)`` does for
    ``order=1``.

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
        Responses (or features), runs concatenated.
    groups : array-like, shape (n_samples,) or None
        Run label of each sample (contiguous blocks). ``None``: one run.
    order : int
        Polynomial degree (0 removes the mean only, 1 a linear trend, 2 a quadratic one).

    Returns
    -------
    ndarray, shape (n_samples, n_features)
        A new array with ``X``'s floating dtype (float64 for integers).
    """
    X = check_array(X, "X", ndim=2, shape_doc="(n_samples, n_features)")
    if not isinstance(order, (int, np.integer)) or order < 0:
        raise ValueError(f"`order` must be an integer >= 0; got {order!r}")
    n = X.shape[0]
    bounds = np.array([0, n]) if groups is None else run_edges(check_groups(groups, n))
    out = np.empty(X.shape, dtype=X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64)
    for a, b in itertools.pairwise(bounds):
        m = b - a
        t = np.linspace(-1.0, 1.0, m) if m > 1 else np.zeros(1)
        basis = np.polynomial.legendre.legvander(t, min(order, m - 1))
        q, _ = np.linalg.qr(basis)
        block = X[a:b].astype(np.float64, copy=False)
        out[a:b] = block - q @ (q.T @ block)
    return out
