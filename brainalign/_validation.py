"""Input validation shared by every public boundary.

Each check raises a builtin exception whose message names the parameter, states what was
expected, shows what was received and, where one exists, hints at the fix.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "check_array",
    "check_choice",
    "check_finite",
    "check_groups",
    "check_n_samples",
    "check_positive",
    "check_times",
    "run_edges",
]


def check_array(
    x: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...] = 2,
    dtype: Any = None,
    shape_doc: str | None = None,
    allow_empty: bool = False,
    finite: bool = True,
) -> np.ndarray:
    """Return ``x`` as a numpy array after checking its dimensionality and values.

    Parameters
    ----------
    x : array-like
        The input.
    name : str
        Parameter name used in error messages, e.g. ``"X"``.
    ndim : int or tuple of int
        Accepted numbers of dimensions.
    dtype : numpy dtype or None
        Convert to this dtype (``None`` keeps floating dtypes, converts others to float64).
    shape_doc : str or None
        Human description of the expected shape, e.g. ``"(n_samples, n_targets)"``.
    allow_empty : bool
        Whether arrays with a zero-length axis are accepted.
    finite : bool
        Whether to reject NaN and inf.
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - numpy raises on ragged input
        raise TypeError(f"`{name}` must be array-like; got {type(x).__name__}: {exc}") from exc
    if arr.dtype == object:
        raise TypeError(
            f"`{name}` must be a numeric array; got an array of dtype object "
            f"(ragged lists or mixed types?) with shape {arr.shape}"
        )
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    elif not np.issubdtype(arr.dtype, np.floating):
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
            raise TypeError(f"`{name}` must be numeric; got dtype {arr.dtype}")
        arr = arr.astype(np.float64)
    ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if arr.ndim not in ndims:
        expected = shape_doc or " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(
            f"`{name}` must have shape {expected} ({' or '.join(map(str, ndims))} dimensions); "
            f"got an array with shape {arr.shape}"
        )
    if not allow_empty and arr.size == 0:
        raise ValueError(f"`{name}` must not be empty; got shape {arr.shape}")
    if finite:
        check_finite(arr, name)
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` if ``arr`` holds NaN or inf, saying how many and where."""
    if not np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(
        arr.dtype, np.complexfloating
    ):
        return
    finite = np.isfinite(arr)
    if finite.all():
        return
    n_nan = int(np.isnan(arr).sum())
    n_inf = int(arr.size - finite.sum() - n_nan)
    first = tuple(int(i) for i in np.argwhere(~finite)[0])
    raise ValueError(
        f"`{name}` must contain only finite values; got {n_nan} NaN and {n_inf} inf "
        f"(first at index {first}). Remove or impute them (e.g. drop bad targets, "
        f"interpolate bad samples) before calling this function."
    )


def check_n_samples(
    arrays: dict[str, np.ndarray], *, hint: str | None = None, axis: int = 0
) -> int:
    """Check that all arrays share the same length along ``axis``; return it."""
    lengths = {k: np.shape(v)[axis] for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        names = list(lengths)
        shapes = ", ".join(f"{k}.shape={np.shape(v)}" for k, v in arrays.items())
        msg = (
            f"`{names[1]}` must have as many samples as `{names[0]}`"
            if len(names) == 2
            else f"{', '.join(f'`{n}`' for n in names)} must have the same number of samples"
        )
        msg += f"; got {shapes}."
        if hint:
            msg += f" {hint}"
        raise ValueError(msg)
    return next(iter(lengths.values()))


def check_times(times: Any, name: str = "times", *, n: int | None = None) -> np.ndarray:
    """Check that ``times`` is a finite, 1-D, strictly increasing array of seconds."""
    arr = check_array(times, name, ndim=1, dtype=np.float64, shape_doc="(n_times,)")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"`{name}` must have {n} entries (one per sample); got {arr.shape[0]}")
    diffs = np.diff(arr)
    if np.any(diffs <= 0):
        i = int(np.argmax(diffs <= 0)) + 1
        raise ValueError(
            f"`{name}` must be strictly increasing (seconds); got {name}[{i}]={arr[i]:g} <= "
            f"{name}[{i - 1}]={arr[i - 1]:g}. Sort the samples or check for duplicated times."
        )
    return arr


def check_groups(groups: Any, n_samples: int, name: str = "groups") -> np.ndarray:
    """Check a per-sample run label array; runs must be contiguous blocks."""
    arr = np.asarray(groups)
    if arr.ndim != 1 or arr.shape[0] != n_samples:
        raise ValueError(
            f"`{name}` must be a 1-D array with one run label per sample ({n_samples}); "
            f"got shape {arr.shape}"
        )
    # Each run must form one contiguous block: delays and resampling never cross runs.
    labels = arr[run_edges(arr)[:-1]]
    if len(set(labels.tolist())) != len(labels):
        raise ValueError(
            f"`{name}` must label each run as one contiguous block of samples; got run labels "
            f"that reappear after another run ({labels.tolist()[:10]}...). Concatenate runs "
            f"one after the other."
        )
    return arr


def run_edges(groups: np.ndarray) -> np.ndarray:
    """Sample indices where runs start, plus ``n_samples``: ``[0, s_1, ..., n_samples]``.

    Run ``k`` spans ``edges[k]:edges[k + 1]``. ``groups`` is a 1-D array of run labels whose
    runs are contiguous (see :func:`check_groups`).
    """
    groups = np.asarray(groups)
    change = np.flatnonzero(groups[1:] != groups[:-1]) + 1
    return np.concatenate([[0], change, [groups.shape[0]]]).astype(np.intp)


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """Raise ``ValueError`` if ``value`` is not one of ``choices``."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {choices}; got {value!r}")
    return value


def check_positive(value: Any, name: str, *, strict: bool = True) -> float:
    """Return ``value`` as float after checking it is (strictly) positive and finite."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` must be a number; got {value!r}") from exc
    ok = v > 0 if strict else v >= 0
    if not np.isfinite(v) or not ok:
        raise ValueError(f"`{name}` must be {'>' if strict else '>='} 0 and finite; got {v!r}")
    return v
