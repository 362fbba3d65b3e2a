"""Trimming and per-run z-scoring."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from brainalign.alignment import trim, trim_mask, zscore_runs


# ---------------------------------------------------------------------------- trim
def test_trim_mask_per_run():
    groups = np.array([0] * 6 + [1] * 5)
    # TR = 2 s: start 4 s = 2 samples, end 2 s = 1 sample, in every run
    mask = trim_mask(groups, sfreq=0.5, start=4.0, end=2.0)
    expected = [0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0]  # run 0 | run 1
    np.testing.assert_array_equal(mask, np.array(expected, dtype=bool))


def test_trim_arrays_and_groups():
    X = np.arange(20.0).reshape(10, 2)
    groups = np.array(["r1"] * 4 + ["r2"] * 6)
    kept, g = trim(X, 1.0, start=1.0, end=1.0, groups=groups)
    np.testing.assert_array_equal(kept, X[[1, 2, 5, 6, 7, 8]])
    np.testing.assert_array_equal(g, ["r1", "r1", "r2", "r2", "r2", "r2"])
    # no groups: one run; 1-D input (e.g. sample times) works too
    np.testing.assert_array_equal(trim(np.arange(5.0), 1.0, start=2.0), [2.0, 3.0, 4.0])
    # no trimming keeps everything
    np.testing.assert_array_equal(trim(X, 1.0), X)


def test_trim_errors():
    with pytest.raises(
        ValueError,
        match=r"`start` must be a whole number of samples, i\.e\. a multiple of the sampling "
        r"period 1/sfreq = 2 s; got 3 s = 1\.5 samples",
    ):
        trim_mask(np.zeros(10), sfreq=0.5, start=3.0)
    with pytest.raises(
        ValueError,
        match=r"Trimming start=2 s \(2 samples\) and end=1 s \(1 samples\) leaves no sample in "
        r"run 'b', which has 3 samples",
    ):
        trim_mask(np.array(["a"] * 5 + ["b"] * 3), sfreq=1.0, start=2.0, end=1.0)
    with pytest.raises(ValueError, match=r"`end` must be >= 0 and finite; got -1\.0"):
        trim(np.ones((4, 1)), 1.0, end=-1.0)
    with pytest.raises(ValueError, match=r"`groups` must be a non-empty 1-D array"):
        trim_mask(np.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError, match=r"`groups` must label each run as one contiguous block"):
        trim(np.ones((4, 1)), 1.0, groups=[0, 1, 0, 1])


# ---------------------------------------------------------------------------- zscore_runs
def test_zscore_matches_scipy_per_run():
    rng = np.random.default_rng(0)
    X = rng.normal(loc=3.0, scale=[1.0, 5.0, 0.1], size=(30, 3))
    X[12:] += 10.0  # second run shifted: a global z-score would differ
    groups = np.repeat([0, 1], [12, 18])
    out = zscore_runs(X, groups)
    expected = np.concatenate([stats.zscore(X[:12], ddof=0), stats.zscore(X[12:], ddof=0)])
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(zscore_runs(X), stats.zscore(X, ddof=0), rtol=1e-12, atol=1e-12)
    assert not np.allclose(zscore_runs(X), out)


def test_zscore_constant_columns_become_zero():
    X = np.column_stack([np.zeros(8), np.full(8, 0.1), np.arange(8.0)])
    groups = np.repeat([0, 1], 4)
    out = zscore_runs(X, groups)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[:, :2], 0.0)
    np.testing.assert_allclose(out[:4, 2], stats.zscore(np.arange(4.0)))
    # the input is not modified
    np.testing.assert_array_equal(X[:, 2], np.arange(8.0))


def test_zscore_errors():
    with pytest.raises(ValueError, match=r"`X` must have shape \(n_samples, n_features\)"):
        zscore_runs(np.ones(4))
    with pytest.raises(
        ValueError, match=r"`groups` must be a 1-D array with one run label per sample \(4\)"
    ):
        zscore_runs(np.ones((4, 2)), groups=[0, 1])


def test_zscore_runs_keeps_float32():
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((40, 3)) * 5 + 2).astype(np.float32)
    Z = zscore_runs(X, np.repeat([0, 1], 20))
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z[:20].mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(Z[20:].std(0), 1, rtol=1e-5)
