"""Per-run z-scoring."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from brainalign._validation import check_array, check_groups, run_edges

__all__ = ["zscore_runs"]


def zscore_runs(X: Any, groups: Any = None) -> np.ndarray:
    """Z-score every column of ``X`` within each run.

    Each run's column is centred on its mean and divided by its population standard deviation
    (``ddof=0``). Columns that are constant within a run (zero variance up to rounding,
    ``std <= 1e-12 * |mean|``; e.g. a delayed copy that is all zeros) become 0 in that run
    instead of NaN.

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
        Features or responses, runs concatenated one after the other.
    groups : array-like, shape (n_samples,) or None
        Run label of each sample (contiguous blocks). ``None``: ``X`` is one run.

    Returns
    -------
    ndarray, shape (n_samples, n_features)
        A new array of ``X``'s floating dtype (float64 for integer input); ``X`` is not
        modified.
    """
    X = check_array(X, "X", ndim=2, shape_doc="(n_samples, n_features)")
    n = X.shape[0]
    if groups is None:
        bounds = np.array([0, n])
    else:
        bounds = run_edges(check_groups(groups, n))
    # Statistics in float64; the output keeps a floating input dtype (float32 stays float32).
    out = np.empty(X.shape, dtype=X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64)
    for a, b in itertools.pairwise(bounds):
        block = X[a:b].astype(np.float64, copy=False)
        mean = block.mean(axis=0)
        centred = block - mean
        std = np.sqrt(np.mean(centred**2, axis=0))
        # Constant columns (std 0 up to the rounding of the mean) become 0.
        constant = std <= 1e-12 * np.abs(mean)
        std_safe = np.where(constant, 1.0, std)
        out[a:b] = np.where(constant, 0.0, centred / std_safe)
    return out
