"""Block permutation nulls and FDR correction."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kstest

from brainalign.evaluation import (
    PermutationResult,
    block_permutation_test,
    correlation_score,
    fdr_correction,
    make_block_permutation,
    r2_score,
)


def _ar1(n_samples, n_targets, phi, rng):
    x = np.empty((n_samples, n_targets))
    x[0] = rng.standard_normal(n_targets)
    for t in range(1, n_samples):
        x[t] = phi * x[t - 1] + np.sqrt(1 - phi**2) * rng.standard_normal(n_targets)
    return x


def test_block_permutation_keeps_blocks_and_runs():
    groups = np.repeat([3, 1, 2], [23, 17, 30])
    perm = make_block_permutation(70, 5, groups=groups, random_state=0)
    assert np.array_equal(np.sort(perm), np.arange(70))
    start = 0
    for label in (3, 1, 2):
        run = np.flatnonzero(groups == label)
        # Samples stay in their run's positions.
        seg = perm[start : start + run.size]
        assert np.array_equal(np.sort(seg), run)
        # The run's blocks (5 samples, a partial last one) appear whole and in order.
        blocks = [run[i : i + 5] for i in range(0, run.size, 5)]
        pos = 0
        seen = []
        while pos < seg.size:
            block = next(b for b in blocks if b[0] == seg[pos])
            assert np.array_equal(seg[pos : pos + block.size], block)
            seen.append(block[0])
            pos += block.size
        assert sorted(seen) == [b[0] for b in blocks]
        start += run.size
    # It does move blocks.
    assert not np.array_equal(perm, np.arange(70))


def test_null_equals_scores_of_drawn_permutations():
    rng = np.random.default_rng(1)
    y_true = rng.standard_normal((60, 4))
    y_pred = 0.3 * y_true + rng.standard_normal((60, 4))
    groups = np.repeat([0, 1], 30)
    for scoring, scorer in (("correlation", correlation_score), ("r2", r2_score)):
        res = block_permutation_test(
            y_true,
            y_pred,
            n_permutations=25,
            block_size=4,
            groups=groups,
            scoring=scoring,
            random_state=7,
            n_permutations_batch=3,
        )
        assert isinstance(res, PermutationResult)
        assert res.null.shape == (25, 4) and res.scores.shape == res.pvalues.shape == (4,)
        np.testing.assert_allclose(res.scores, scorer(y_true, y_pred), atol=1e-12)
        gen = np.random.default_rng(7)
        expected = np.stack(
            [
                scorer(
                    y_true, y_pred[make_block_permutation(60, 4, groups=groups, random_state=gen)]
                )
                for _ in range(25)
            ]
        )
        np.testing.assert_allclose(res.null, expected, atol=1e-12)
        counts = (res.null >= res.scores).sum(0)
        np.testing.assert_allclose(res.pvalues, (1 + counts) / 26)


def test_batch_size_does_not_change_result():
    rng = np.random.default_rng(2)
    y_true, y_pred = rng.standard_normal((50, 3)), rng.standard_normal((50, 3))
    a = block_permutation_test(y_true, y_pred, n_permutations=40, block_size=5, random_state=0)
    b = block_permutation_test(
        y_true, y_pred, n_permutations=40, block_size=5, random_state=0, n_permutations_batch=7
    )
    np.testing.assert_allclose(a.null, b.null, atol=1e-12)


def test_pvalues_uniform_under_the_null():
    rng = np.random.default_rng(3)
    n_targets = 400
    y_true = rng.standard_normal((150, n_targets))
    y_pred = rng.standard_normal((150, n_targets))
    res = block_permutation_test(y_true, y_pred, n_permutations=499, block_size=5, random_state=4)
    assert kstest(res.pvalues, "uniform").pvalue > 0.01
    # Fraction below 0.05: binomial(400, 0.05) has mean 20, sd 4.4; allow +- 3 sd.
    n_small = int(np.sum(res.pvalues <= 0.05))
    assert 7 <= n_small <= 33


def test_blocks_control_false_positives_under_autocorrelation():
    # Independent but smooth series: permuting single samples yields far too many
    # "significant" correlations; permuting long blocks keeps close to the nominal rate.
    rng = np.random.default_rng(5)
    y_true = _ar1(300, 200, 0.9, rng)
    y_pred = _ar1(300, 200, 0.9, rng)
    single = block_permutation_test(
        y_true, y_pred, n_permutations=199, block_size=1, random_state=0
    )
    blocks = block_permutation_test(
        y_true, y_pred, n_permutations=199, block_size=30, random_state=0
    )
    assert np.mean(single.pvalues <= 0.05) > 0.2
    assert np.mean(blocks.pvalues <= 0.05) < 0.1


def test_strong_signal_gets_smallest_pvalue():
    rng = np.random.default_rng(6)
    y_true = rng.standard_normal((200, 5))
    y_pred = y_true + 0.5 * rng.standard_normal((200, 5))
    res = block_permutation_test(y_true, y_pred, n_permutations=199, block_size=10, random_state=0)
    np.testing.assert_allclose(res.pvalues, 1 / 200)
    assert np.all(res.scores > 0.8)


def test_fdr_matches_hand_computed_bh_and_by():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # Sorted: 0.005, 0.01, 0.03, 0.04 -> p * m / rank: 0.02, 0.02, 0.04, 0.04 (monotone).
    rejected, adjusted = fdr_correction(p, alpha=0.03)
    np.testing.assert_allclose(adjusted, [0.02, 0.04, 0.04, 0.02], atol=1e-15)
    np.testing.assert_array_equal(rejected, [True, False, False, True])
    # BY multiplies by 1 + 1/2 + 1/3 + 1/4 = 25/12.
    rejected, adjusted = fdr_correction(p, alpha=0.05, method="by")
    np.testing.assert_allclose(adjusted, np.array([0.02, 0.04, 0.04, 0.02]) * 25 / 12, atol=1e-15)
    np.testing.assert_array_equal(rejected, [True, False, False, True])
    # Step-up: a larger p-value can be rejected thanks to a smaller rank's threshold.
    rejected, adjusted = fdr_correction(np.array([0.02, 0.021, 0.9]), alpha=0.05)
    np.testing.assert_allclose(adjusted, [0.0315, 0.0315, 0.9])
    np.testing.assert_array_equal(rejected, [True, True, False])


def test_fdr_keeps_shape():
    p = np.random.default_rng(0).uniform(size=(4, 5))
    rejected, adjusted = fdr_correction(p)
    assert rejected.shape == adjusted.shape == (4, 5)
    _, flat = fdr_correction(p.ravel())
    np.testing.assert_allclose(adjusted.ravel(), flat)


def test_errors():
    y = np.random.default_rng(0).standard_normal((20, 2))
    with pytest.raises(ValueError, match=r"`block_size`=20 leaves fewer than 2 blocks"):
        block_permutation_test(y, y, block_size=20)
    with pytest.raises(ValueError, match=r"`n_permutations` must be an integer >= 1; got 0"):
        block_permutation_test(y, y, n_permutations=0)
    with pytest.raises(ValueError, match=r"`block_size` must be an integer >= 1; got 2.5"):
        block_permutation_test(y, y, block_size=2.5)
    with pytest.raises(ValueError, match=r"`n_permutations_batch` must be an integer >= 1"):
        block_permutation_test(y, y, n_permutations_batch=0)
    with pytest.raises(ValueError, match=r"`scoring` must be one of"):
        block_permutation_test(y, y, scoring="spearman")
    with pytest.raises(ValueError, match=r"`y_pred` must have the same shape as `y_true`"):
        block_permutation_test(y, y[:, :1])
    with pytest.raises(ValueError, match=r"one run label per sample \(20\)"):
        block_permutation_test(y, y, groups=np.zeros(19))
    with pytest.raises(ValueError, match=r"`pvalues` must lie in \[0, 1\]"):
        fdr_correction(np.array([0.5, 1.2]))
    with pytest.raises(ValueError, match=r"`alpha` must be in \(0, 1\)"):
        fdr_correction(np.array([0.5]), alpha=5)
    with pytest.raises(ValueError, match=r"`method` must be one of \['bh', 'by'\]"):
        fdr_correction(np.array([0.5]), method="bonferroni")
