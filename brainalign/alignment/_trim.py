"""Trimming of the first and last seconds of each run."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from brainalign._validation import check_array, check_groups, check_positive, run_edges
from brainalign.alignment._delayer import _seconds_to_samples

__all__ = ["trim", "trim_mask"]


def _trim_samples(sfreq: float, start: Any, end: Any) -> tuple[float, int, int]:
    sfreq = check_positive(sfreq, "sfreq")
    check_positive(start, "start", strict=False)
    check_positive(end, "end", strict=False)
    return sfreq, _seconds_to_samples(start, sfreq, "start"), _seconds_to_samples(end, sfreq, "end")


def trim_mask(groups: Any, sfreq: float, *, start: float = 0.0, end: float = 0.0) -> np.ndarray:
    """Boolean mask of the samples kept after trimming each run.

    Parameters
    ----------
    groups : array-like, shape (n_samples,)
        Run label of each sample; each run is one contiguous block.
    sfreq : float
        Sampling frequency in Hz (``1 / TR`` for fMRI).
    start, end : float
        Seconds removed at the start and at the end of every run. Each must be a multiple of
        the sampling period ``1 / sfreq``.

    Returns
    -------
    ndarray of bool, shape (n_samples,)
        ``True`` for the samples that are kept.
    """
    sfreq, n_start, n_end = _trim_samples(sfreq, start, end)
    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.shape[0] == 0:
        raise ValueError(
            "`groups` must be a non-empty 1-D array with one run label per sample; got shape "
            f"{groups.shape}"
        )
    groups = check_groups(groups, groups.shape[0])
    n = groups.shape[0]
    bounds = run_edges(groups)
    keep = np.zeros(n, dtype=bool)
    for a, b in itertools.pairwise(bounds):
        if b - a <= n_start + n_end:
            start, end = float(start), float(end)
            raise ValueError(
                f"Trimming start={start:g} s ({n_start} samples) and end={end:g} s "
                f"({n_end} samples) leaves no sample in run {groups[a].item()!r}, which has "
                f"{b - a} samples ({(b - a) / sfreq:g} s) at sfreq={sfreq:g} Hz. Reduce "
                f"`start` / `end`."
            )
        keep[a + n_start : b - n_end] = True
    return keep


def trim(
    X: Any,
    sfreq: float,
    *,
    start: float = 0.0,
    end: float = 0.0,
    groups: Any = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Remove ``start`` seconds at the start and ``end`` seconds at the end of each run.

    Parameters
    ----------
    X : array-like, shape (n_samples, ...)
        Samples along the first axis (features, responses or sample times).
    sfreq : float
        Sampling frequency in Hz (``1 / TR`` for fMRI).
    start, end : float
        Seconds removed at the start / end of each run; multiples of ``1 / sfreq``.
    groups : array-like, shape (n_samples,) or None
        Run label of each sample (contiguous blocks). ``None``: ``X`` is one run.

    Returns
    -------
    X_kept : ndarray, shape (n_kept, ...)
        The kept samples.
    groups_kept : ndarray, shape (n_kept,)
        Only when ``groups`` is given: the run labels of the kept samples.
    """
    X = check_array(X, "X", ndim=(1, 2, 3), finite=False)
    mask_groups = np.zeros(X.shape[0], dtype=np.intp) if groups is None else groups
    mask = trim_mask(check_groups(mask_groups, X.shape[0]), sfreq, start=start, end=end)
    if groups is None:
        return X[mask]
    return X[mask], np.asarray(groups)[mask]
