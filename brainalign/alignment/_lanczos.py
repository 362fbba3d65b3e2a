"""Lanczos resampling of event-locked features onto a sample grid (Huth-lab convention)."""

from __future__ import annotations

from typing import Any

import numpy as np

from brainalign._validation import check_array, check_n_samples, check_positive, check_times

__all__ = ["lanczos_kernel", "lanczos_resample"]

# Largest number of kernel entries materialised at once (float64: 32 MiB).
_MAX_CHUNK_ELEMENTS = 2**22


def _check_values_times(values: Any, times: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate event-locked ``values`` (n_items, n_dims) and their ``times`` (n_items,)."""
    values = check_array(
        values,
        "values",
        ndim=2,
        shape_doc="(n_items, n_dims); use values.reshape(-1, 1) for a single feature",
    )
    times = check_array(times, "times", ndim=1, dtype=np.float64, shape_doc="(n_items,)")
    check_n_samples(
        {"values": values, "times": times},
        hint="Pass one time (in seconds) per row of `values`.",
    )
    return values, times


def _check_new_times(new_times: Any) -> np.ndarray:
    new_times = check_times(new_times, "new_times")
    if new_times.shape[0] < 2:
        raise ValueError(
            "`new_times` must hold at least 2 sample times (the sampling period sets the "
            f"cutoff); got {new_times.shape[0]}. Pass the full sample grid of the run."
        )
    return new_times


def _row_chunks(n_rows: int, n_cols: int) -> list[slice]:
    step = max(1, _MAX_CHUNK_ELEMENTS // max(n_cols, 1))
    return [slice(i, min(i + step, n_rows)) for i in range(0, n_rows, step)]


def lanczos_kernel(t: Any, cutoff: float, window: int = 3) -> np.ndarray:
    """Lanczos kernel as used by the Huth lab (``lanczosfun`` in ``deep-fMRI-dataset``).

    With ``u = t * cutoff``, the kernel is
    ``window * sin(pi u) * sin(pi u / window) / (pi**2 u**2)``, equal to 1 at ``u == 0`` and
    0 where ``|u| > window``. It is **not** normalised to unit sum.

    Parameters
    ----------
    t : array-like, any shape
        Time differences in seconds (``new_time - old_time``).
    cutoff : float
        Cutoff frequency in Hz (``1 / TR`` for fMRI).
    window : int
        Number of lobes on each side.

    Returns
    -------
    ndarray, same shape as ``t``
        Kernel values.
    """
    cutoff = check_positive(cutoff, "cutoff")
    window = check_positive(window, "window")
    u = np.asarray(t, dtype=np.float64) * cutoff
    zero = u == 0
    safe = np.where(zero, 1.0, u)
    val = window * np.sin(np.pi * safe) * np.sin(np.pi * safe / window) / (np.pi**2 * safe**2)
    val = np.where(zero, 1.0, val)
    return np.where(np.abs(u) > window, 0.0, val)


def lanczos_resample(
    values: Any,
    times: Any,
    new_times: Any,
    *,
    window: int = 3,
    cutoff_mult: float = 1.0,
) -> np.ndarray:
    """Resample event-locked features to new sample times with a Lanczos kernel.

    This reproduces ``lanczosinterp2D`` of the Huth lab exactly: the cutoff is
    ``cutoff_mult / mean(diff(new_times))`` and the result is ``K @ values`` with
    ``K[k, j] = lanczos_kernel(new_times[k] - times[j], cutoff, window)``. The kernel is not
    normalised, so the output is a (smoothed) *sum* of nearby items, not a mean: resampling a
    column of ones gives a word-rate feature.

    Parameters
    ----------
    values : array-like, shape (n_items, n_dims)
        Feature of each item (word, frame).
    times : array-like, shape (n_items,)
        Time of each item in seconds (any order).
    new_times : array-like, shape (n_new,)
        Strictly increasing sample times in seconds (e.g. TR midpoints), at least 2.
    window : int
        Number of kernel lobes on each side.
    cutoff_mult : float
        Multiplier of the cutoff frequency ``1 / mean(diff(new_times))``.

    Returns
    -------
    ndarray, shape (n_new, n_dims)
        Resampled features.
    """
    values, times = _check_values_times(values, times)
    new_times = _check_new_times(new_times)
    window = check_positive(window, "window")
    cutoff = check_positive(cutoff_mult, "cutoff_mult") / float(np.mean(np.diff(new_times)))
    half_width = window / cutoff  # seconds beyond which the kernel is 0

    order = np.argsort(times, kind="stable")
    times, values = times[order], values[order]
    out = np.zeros((new_times.shape[0], values.shape[1]), dtype=np.result_type(values, 1.0))
    for rows in _row_chunks(new_times.shape[0], times.shape[0]):
        nt = new_times[rows]
        # Only items within the kernel support can contribute.
        lo = int(np.searchsorted(times, nt[0] - half_width, side="left"))
        hi = int(np.searchsorted(times, nt[-1] + half_width, side="right"))
        if hi <= lo:
            continue
        kernel = lanczos_kernel(nt[:, None] - times[None, lo:hi], cutoff, window)
        out[rows] = kernel @ values[lo:hi]
    return out
