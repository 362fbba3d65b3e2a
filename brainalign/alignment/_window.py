"""Bin-average resampling: the mean of the items that fall in each sample's window."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from brainalign._validation import check_choice, check_positive, check_times
from brainalign.alignment._lanczos import _check_new_times, _check_values_times

__all__ = ["window_mean_resample"]

_ALIGNS = ("start", "center")


def window_mean_resample(
    values: Any,
    times: Any,
    new_times: Any,
    *,
    width: float | None = None,
    align: str = "start",
) -> np.ndarray:
    """Average the items that fall in a window around each new sample time.

    Sample ``k`` averages the items whose time lies in ``[t_k, t_k + width)`` when
    ``align="start"`` (``t_k`` marks the start of the acquisition, as in the Algonauts /
    MedARC "tokens per TR" recipe) or in ``[t_k - width / 2, t_k + width / 2)`` when
    ``align="center"`` (``t_k`` marks the middle of the acquisition).

    Windows that hold no item give **0** (not NaN), so that silent stretches read as "no
    stimulus"; count the items yourself (e.g. resample a column of ones with a sum) if you
    need to tell the two apart.

    Parameters
    ----------
    values : array-like, shape (n_items, n_dims)
        Feature of each item.
    times : array-like, shape (n_items,)
        Time of each item in seconds (any order).
    new_times : array-like, shape (n_new,)
        Strictly increasing sample times in seconds.
    width : float or None
        Window length in seconds. Default: the sampling period ``mean(diff(new_times))``
        (then at least 2 new times are needed).
    align : {"start", "center"}
        Where ``new_times`` sit in their windows.

    Returns
    -------
    ndarray, shape (n_new, n_dims)
        Mean feature per window, 0 for empty windows.
    """
    values, times = _check_values_times(values, times)
    check_choice(align, "align", _ALIGNS)
    if width is None:
        new_times = _check_new_times(new_times)
        width = float(np.mean(np.diff(new_times)))
    else:
        new_times = check_times(new_times, "new_times")
        width = check_positive(width, "width")
    order = np.argsort(times, kind="stable")
    times, values = times[order], values[order]
    starts = new_times - (width / 2.0 if align == "center" else 0.0)
    lo = np.searchsorted(times, starts, side="left")
    hi = np.searchsorted(times, starts + width, side="left")
    counts = hi - lo
    # Sparse averaging matrix: row k holds 1 / count_k on the items of window k. Summing only
    # the items of each window keeps the result exact (no cumulative-sum drift).
    rows = np.repeat(np.arange(new_times.shape[0]), counts)
    offsets = np.arange(rows.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
    cols = np.repeat(lo, counts) + offsets
    weights = 1.0 / np.repeat(counts, counts).astype(np.float64)
    avg = sparse.csr_array((weights, (rows, cols)), shape=(new_times.shape[0], times.shape[0]))
    return np.asarray(avg @ values, dtype=np.result_type(values, 1.0))
