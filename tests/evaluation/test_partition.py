"""Variance partitioning against himalaya's r2_score_split."""

from __future__ import annotations

import numpy as np
import pytest
from himalaya.backend import get_backend, set_backend
from himalaya.scoring import r2_score_split as himalaya_r2_score_split

from brainalign.evaluation import r2_score, r2_score_split


@pytest.fixture
def banded():
    rng = np.random.default_rng(0)
    n_samples, n_targets = 200, 9
    # Three correlated bands: shared component plus band-specific parts.
    shared = rng.standard_normal((n_samples, n_targets))
    preds = np.stack(
        [0.5 * shared + rng.standard_normal((n_samples, n_targets)) * w for w in (0.3, 0.6, 0.1)]
    )
    y = preds.sum(0) + 2.0 * rng.standard_normal((n_samples, n_targets))
    return y - y.mean(0), preds


@pytest.fixture
def numpy_backend():
    previous = get_backend()
    set_backend("numpy")
    yield
    set_backend(previous)


@pytest.mark.parametrize("include_correlation", [True, False])
def test_matches_himalaya(banded, numpy_backend, include_correlation):
    y, preds = banded
    ours = r2_score_split(y, preds, include_correlation=include_correlation)
    ref = np.asarray(himalaya_r2_score_split(y, preds, include_correlation=include_correlation))
    assert ours.shape == (3, 9)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)


def test_split_sums_to_joint_r2(banded):
    y, preds = banded
    split = r2_score_split(y, preds, include_correlation=True)
    np.testing.assert_allclose(split.sum(0), r2_score(y, preds.sum(0)), atol=1e-12)
    # Without the cross terms the sum differs, since the bands are correlated.
    no_corr = r2_score_split(y, preds, include_correlation=False)
    assert np.abs(no_corr.sum(0) - r2_score(y, preds.sum(0))).min() > 1e-3


def test_without_correlation_is_the_band_alone_r2(banded):
    y, preds = banded
    no_corr = r2_score_split(y, preds, include_correlation=False)
    # sum(2 y p - p^2) / sum(y^2) = 1 - sum((y - p)^2) / sum(y^2): each band's own R².
    for i in range(3):
        np.testing.assert_allclose(no_corr[i], r2_score(y, preds[i]), atol=1e-12)


def test_two_dimensional_prediction_is_one_band(banded, numpy_backend):
    y, preds = banded
    ours = r2_score_split(y, preds[0])
    assert ours.shape == (9,)
    np.testing.assert_allclose(ours, himalaya_r2_score_split(y, preds[0]), atol=1e-10)


def test_constant_target_scores_zero(banded):
    y, preds = banded
    y = y.copy()
    y[:, 0] = 0.0
    assert np.all(r2_score_split(y, preds)[:, 0] == 0.0)


def test_warns_when_not_zero_mean(banded):
    y, preds = banded
    with pytest.warns(UserWarning, match=r"`y_true` has to be zero-mean.*y_true - y_true.mean"):
        r2_score_split(y + 1.0, preds)


def test_errors(banded):
    y, preds = banded
    with pytest.raises(ValueError, match=r"`y_pred_split` must have shape \(n_bands, \*y_true"):
        r2_score_split(y, preds[:, :-1])
    with pytest.raises(ValueError, match=r"`y_true` must have shape \(n_samples, n_targets\)"):
        r2_score_split(y[:, 0], preds)
    with pytest.raises(ValueError, match=r"`y_pred_split` must have shape \(n_bands, n_samples"):
        r2_score_split(y, preds[None])
