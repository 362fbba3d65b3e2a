"""Run-aware and blocked cross-validation splitters."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import LeaveOneGroupOut

from brainalign.evaluation import BlockedKFold, LeaveOneRunOut


def _runs(lengths, labels=None):
    labels = range(len(lengths)) if labels is None else labels
    return np.concatenate([np.full(n, lab) for n, lab in zip(lengths, labels)])


def _is_contiguous(idx):
    return idx.size > 0 and np.array_equal(idx, np.arange(idx[0], idx[-1] + 1))


def test_leave_one_run_out_equals_leave_one_group_out():
    groups = _runs([30, 25, 40, 35], labels=[7, 2, 9, 4])  # labels not sorted in time
    X = np.zeros((groups.size, 3))
    ours = list(LeaveOneRunOut().split(X, groups=groups))
    ref = list(LeaveOneGroupOut().split(X, groups=groups))
    assert len(ours) == len(ref) == 4
    for (tr, te), (tr_ref, te_ref) in zip(ours, ref):
        np.testing.assert_array_equal(tr, tr_ref)
        np.testing.assert_array_equal(te, te_ref)
    assert LeaveOneRunOut().get_n_splits(X, groups=groups) == 4


def test_leave_one_run_out_errors():
    X = np.zeros((20, 2))
    with pytest.raises(ValueError, match=r"`groups` is required by LeaveOneRunOut.*got None"):
        list(LeaveOneRunOut().split(X))
    with pytest.raises(ValueError, match=r"`groups` is required by LeaveOneRunOut"):
        LeaveOneRunOut().get_n_splits()
    with pytest.raises(ValueError, match=r"at least 2 runs in `groups`; got 1.*BlockedKFold"):
        list(LeaveOneRunOut().split(X, groups=np.zeros(20)))
    with pytest.raises(ValueError, match=r"one run label per sample \(20\); got shape \(19,\)"):
        list(LeaveOneRunOut().split(X, groups=np.zeros(19)))


@pytest.mark.parametrize("n_samples, n_splits, gap", [(100, 5, 0), (103, 4, 3), (11, 3, 1)])
def test_blocked_kfold_without_groups(n_samples, n_splits, gap):
    X = np.zeros((n_samples, 2))
    folds = list(BlockedKFold(n_splits=n_splits, gap=gap).split(X))
    assert len(folds) == n_splits
    all_test = np.concatenate([te for _, te in folds])
    # Test blocks tile the samples, in time order, each contiguous.
    np.testing.assert_array_equal(all_test, np.arange(n_samples))
    sizes = [te.size for _, te in folds]
    assert max(sizes) - min(sizes) <= 1
    for train, test in folds:
        assert _is_contiguous(test)
        assert np.intersect1d(train, test).size == 0
        # Exactly the gap samples on each side are missing from train.
        dropped = np.setdiff1d(np.arange(n_samples), np.concatenate([train, test]))
        expected = np.concatenate(
            [
                np.arange(max(test[0] - gap, 0), test[0]),
                np.arange(test[-1] + 1, min(test[-1] + 1 + gap, n_samples)),
            ]
        )
        np.testing.assert_array_equal(dropped, expected)
        if train.size:
            distance = np.min(np.abs(train[:, None] - test[None, :]))
            assert distance == gap + 1


def test_blocked_kfold_keeps_runs_whole():
    lengths = [50, 20, 80, 30, 30, 60, 40]
    groups = _runs(lengths, labels=list("gfedcba"))
    X = np.zeros((groups.size, 2))
    cv = BlockedKFold(n_splits=3, gap=2)
    folds = list(cv.split(X, groups=groups))
    assert len(folds) == cv.get_n_splits() == 3
    np.testing.assert_array_equal(np.concatenate([te for _, te in folds]), np.arange(groups.size))
    for train, test in folds:
        assert _is_contiguous(test)
        assert np.intersect1d(train, test).size == 0
        # A run is entirely in the test fold or not at all.
        for label in np.unique(groups):
            in_test = np.isin(np.flatnonzero(groups == label), test)
            assert in_test.all() or not in_test.any()
        dropped = np.setdiff1d(np.arange(groups.size), np.concatenate([train, test]))
        expected = [i for i in (test[0] - 2, test[0] - 1) if i >= 0]
        expected += [i for i in (test[-1] + 1, test[-1] + 2) if i < groups.size]
        np.testing.assert_array_equal(dropped, expected)
    # Run ends are at 50, 70, 150, 180, 210, 270, 310: of all ways to cut 7 runs into 3
    # contiguous folds, 70 | 110 | 130 samples has the least sum of squared sizes.
    sizes = [te.size for _, te in folds]
    assert sizes == [70, 110, 130]


def test_blocked_kfold_one_run_per_fold_when_n_runs_equals_n_splits():
    groups = _runs([10, 300, 10, 10])
    folds = list(BlockedKFold(n_splits=4).split(np.zeros((groups.size, 1)), groups=groups))
    for (_, test), label in zip(folds, range(4)):
        np.testing.assert_array_equal(test, np.flatnonzero(groups == label))


def test_blocked_kfold_errors():
    with pytest.raises(ValueError, match=r"`n_splits` must be an integer >= 2; got 1"):
        BlockedKFold(n_splits=1)
    with pytest.raises(TypeError, match=r"`n_splits` must be an integer >= 2; got 2.5"):
        BlockedKFold(n_splits=2.5)
    with pytest.raises(ValueError, match=r"`gap` must be an integer >= 0; got -1"):
        BlockedKFold(gap=-1)
    with pytest.raises(ValueError, match=r"cannot cut 3 samples into n_splits=5 folds"):
        list(BlockedKFold().split(np.zeros((3, 1))))
    groups = _runs([10, 10, 10])
    with pytest.raises(
        ValueError, match=r"cannot put 3 runs into n_splits=5 folds.*LeaveOneRunOut"
    ):
        list(BlockedKFold().split(np.zeros((30, 1)), groups=groups))
    with pytest.raises(ValueError, match=r"gap=10 leaves no training sample"):
        list(BlockedKFold(n_splits=2, gap=10).split(np.zeros((12, 1))))
    with pytest.raises(ValueError, match=r"`groups` must label each run as one contiguous block"):
        list(BlockedKFold(n_splits=2).split(np.zeros((6, 1)), groups=[0, 0, 1, 1, 0, 0]))


@pytest.mark.parametrize("seed", range(5))
def test_blocked_kfold_run_folds_match_brute_force_balance(seed):
    import itertools

    rng = np.random.default_rng(seed)
    lengths = rng.integers(5, 60, size=rng.integers(4, 9))
    k = int(rng.integers(2, min(5, lengths.size) + 1))
    groups = _runs(lengths)
    folds = list(BlockedKFold(n_splits=k).split(np.zeros((groups.size, 1)), groups=groups))
    ends = np.cumsum(lengths)
    best = min(
        np.sum(np.diff(np.concatenate([[0], ends[list(c)], [ends[-1]]])) ** 2)
        for c in itertools.combinations(range(lengths.size - 1), k - 1)
    )
    assert sum(te.size**2 for _, te in folds) == best
