"""Cross-validation splitters that respect time: whole runs out, or contiguous blocks.

Both follow the scikit-learn splitter API (``split(X, y=None, groups=None)`` yielding
``(train, test)`` index arrays, and ``get_n_splits``), so they can be passed as ``cv=`` to
scikit-learn and himalaya estimators as well as to :func:`cross_validate_encoder`.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np
from sklearn.model_selection import LeaveOneGroupOut

from brainalign._validation import check_groups, run_edges

__all__ = ["BlockedKFold", "LeaveOneRunOut"]


def _n_samples(X: Any) -> int:
    if isinstance(X, dict):
        if not X:
            raise ValueError("`X` must not be an empty dict of feature bands; got {}")
        X = next(iter(X.values()))
    shape = np.shape(X)
    if len(shape) == 0:
        raise ValueError(
            f"`X` must be an array with one row per sample; got a scalar of type {type(X).__name__}"
        )
    return int(shape[0])


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _run_slices(groups: np.ndarray) -> tuple[list[Any], list[slice]]:
    """Labels and sample slices of the contiguous runs, in time order."""
    edges = run_edges(groups)
    labels = [groups[s] for s in edges[:-1]]
    return labels, [slice(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def _balanced_cuts(lengths: np.ndarray, k: int) -> list[int]:
    """Split runs (in order) into ``k`` contiguous folds with sizes as equal as possible.

    Minimises the sum of squared fold sizes (dynamic programming over run boundaries);
    returns the index of the last run of each fold.
    """
    n = lengths.shape[0]
    ends = np.concatenate([[0], np.cumsum(lengths)]).astype(np.float64)
    # cost[f, j]: best cost of putting the first j runs into f folds; arg keeps the split.
    cost = np.full((k + 1, n + 1), np.inf)
    arg = np.zeros((k + 1, n + 1), dtype=int)
    cost[0, 0] = 0.0
    for f in range(1, k + 1):
        for j in range(f, n - (k - f) + 1):
            i = np.arange(f - 1, j)
            total = cost[f - 1, i] + (ends[j] - ends[i]) ** 2
            best = int(np.argmin(total))
            cost[f, j], arg[f, j] = total[best], int(i[best])
    cuts, j = [], n
    for f in range(k, 0, -1):
        cuts.append(j - 1)
        j = arg[f, j]
    return cuts[::-1]


class LeaveOneRunOut:
    """Hold out one run at a time; train on all the others.

    The folds come from :class:`sklearn.model_selection.LeaveOneGroupOut` (same order: sorted
    run labels); this class only adds the checks: it refuses a missing ``groups`` or a single run with a message that
    says how to fix the call.

    Examples
    --------
    >>> import numpy as np
    >>> groups = np.repeat([0, 1, 2], 4)
    >>> [test.tolist() for _, test in LeaveOneRunOut().split(np.zeros((12, 1)), groups=groups)]
    [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    """

    def __repr__(self) -> str:
        return "LeaveOneRunOut()"

    def _check_groups(self, X: Any, groups: Any) -> np.ndarray:
        if groups is None:
            raise ValueError(
                "`groups` is required by LeaveOneRunOut: pass one run label per sample "
                "(e.g. groups=design.groups); got None. Without runs, use "
                "BlockedKFold(n_splits=...) to hold out contiguous blocks of samples."
            )
        groups = np.asarray(groups)
        if X is not None:
            n_samples = _n_samples(X)
            if groups.ndim != 1 or groups.shape[0] != n_samples:
                raise ValueError(
                    f"`groups` must be a 1-D array with one run label per sample "
                    f"({n_samples}); got shape {groups.shape}"
                )
        elif groups.ndim != 1:
            raise ValueError(
                f"`groups` must be a 1-D array with one run label per sample; "
                f"got shape {groups.shape}"
            )
        labels = np.unique(groups)
        if labels.shape[0] < 2:
            raise ValueError(
                f"LeaveOneRunOut needs at least 2 runs in `groups`; got {labels.shape[0]} "
                f"(labels {labels.tolist()}). With a single run, use BlockedKFold(n_splits=...) "
                f"to hold out contiguous blocks of samples instead."
            )
        return groups

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Number of folds: the number of distinct run labels in ``groups``."""
        groups = self._check_groups(X, groups)
        return int(np.unique(groups).shape[0])

    def split(
        self, X: Any, y: Any = None, groups: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train, test)`` sample indices, one fold per run.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features), or dict of such arrays
            Only its number of samples is used.
        y : ignored
        groups : array-like, shape (n_samples,)
            Run label of each sample. Required.

        Yields
        ------
        train, test : ndarray of int
            Indices of the training samples (all other runs) and of the held-out run.
        """
        groups = self._check_groups(X, groups)
        yield from LeaveOneGroupOut().split(np.zeros((groups.shape[0], 1)), groups=groups)


class BlockedKFold:
    """K folds of contiguous samples in time, optionally buffered by a gap.

    Without ``groups`` the samples are cut into ``n_splits`` contiguous blocks (the first
    ``n_samples % n_splits`` blocks one sample longer, as :class:`sklearn.model_selection.KFold`
    without shuffling). With ``groups``, whole runs go to folds: consecutive runs are grouped
    into ``n_splits`` contiguous folds whose numbers of samples are as equal as whole runs
    allow (least sum of squared fold sizes), and a run is never split between train and test.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds (>= 2).
    gap : int, default=0
        Number of samples on each side of the test block dropped from training, a buffer
        against leakage through autocorrelation (e.g. the hemodynamic response, ~ 10 s).
        It applies with and without ``groups``; separate runs are usually independent
        recordings, in which case ``gap=0`` suffices with ``groups``.

    Examples
    --------
    >>> import numpy as np
    >>> cv = BlockedKFold(n_splits=3, gap=1)
    >>> [(tr.tolist(), te.tolist()) for tr, te in cv.split(np.zeros((6, 1)))]
    [([3, 4, 5], [0, 1]), ([0, 5], [2, 3]), ([0, 1, 2], [4, 5])]
    """

    def __init__(self, n_splits: int = 5, gap: int = 0) -> None:
        self.n_splits = _check_int(n_splits, "n_splits", 2)
        self.gap = _check_int(gap, "gap", 0)

    def __repr__(self) -> str:
        return f"BlockedKFold(n_splits={self.n_splits}, gap={self.gap})"

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Number of folds, ``n_splits``."""
        return self.n_splits

    def _test_blocks(self, n_samples: int, groups: Any) -> list[tuple[int, int]]:
        """``(start, stop)`` of each test block, in time order."""
        k = self.n_splits
        if groups is None:
            if n_samples < k:
                raise ValueError(
                    f"BlockedKFold cannot cut {n_samples} samples into n_splits={k} folds; "
                    f"lower `n_splits` to at most {n_samples}."
                )
            sizes = np.full(k, n_samples // k, dtype=int)
            sizes[: n_samples % k] += 1
            stops = np.cumsum(sizes)
            return [(int(b - s), int(b)) for s, b in zip(sizes, stops)]
        groups = check_groups(groups, n_samples)
        _, slices = _run_slices(groups)
        n_runs = len(slices)
        if n_runs < k:
            raise ValueError(
                f"BlockedKFold cannot put {n_runs} runs into n_splits={k} folds without "
                f"splitting a run; lower `n_splits` to at most {n_runs}, or use "
                f"LeaveOneRunOut()."
            )
        cuts = _balanced_cuts(np.array([s.stop - s.start for s in slices]), k)
        blocks, first = [], 0
        for cut in cuts:
            blocks.append((slices[first].start, slices[cut].stop))
            first = cut + 1
        return blocks

    def split(
        self, X: Any, y: Any = None, groups: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train, test)`` sample indices for each contiguous test block.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features), or dict of such arrays
            Only its number of samples is used.
        y : ignored
        groups : array-like, shape (n_samples,), optional
            Run label of each sample; each run must be one contiguous block of samples.
            When given, runs are kept whole.

        Yields
        ------
        train, test : ndarray of int
            ``test`` is one contiguous range of samples; ``train`` is every other sample
            except the ``gap`` samples on each side of ``test``.
        """
        n_samples = _n_samples(X)
        indices = np.arange(n_samples)
        for start, stop in self._test_blocks(n_samples, groups):
            train_mask = (indices < start - self.gap) | (indices >= stop + self.gap)
            train = indices[train_mask]
            if train.size == 0:
                raise ValueError(
                    f"BlockedKFold with gap={self.gap} leaves no training sample for the test "
                    f"block [{start}, {stop}) of {n_samples} samples; lower `gap` or raise "
                    f"`n_splits`."
                )
            yield train, indices[start:stop]
