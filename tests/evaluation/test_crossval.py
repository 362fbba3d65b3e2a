"""Outer cross-validation of encoders."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge

from brainalign.evaluation import (
    BlockedKFold,
    CVResult,
    LeaveOneRunOut,
    correlation_score,
    cross_validate_encoder,
    r2_score,
)


@pytest.fixture
def planted():
    rng = np.random.default_rng(0)
    n_runs, n_per_run, n_features, n_targets = 4, 200, 8, 30
    groups = np.repeat(np.arange(n_runs), n_per_run)
    X = rng.standard_normal((groups.size, n_features))
    W = rng.standard_normal((n_features, n_targets)) / np.sqrt(n_features)
    signal = X @ W
    noise_sd = np.linspace(0.3, 1.5, n_targets)
    Y = signal + noise_sd * rng.standard_normal(signal.shape)
    return X, Y, groups, signal


class SpyRegressor(RegressorMixin, BaseEstimator):
    """Predicts the training mean; records the rows (column 0 of X holds the row id)."""

    def fit(self, X, Y, groups=None):
        X = X["ids"] if isinstance(X, dict) else X
        self.seen_rows_ = X[:, 0].astype(int)
        self.seen_groups_ = None if groups is None else np.asarray(groups)
        self.mean_ = Y.mean(0)
        return self

    def predict(self, X):
        X = X["ids"] if isinstance(X, dict) else X
        return np.tile(self.mean_, (X.shape[0], 1))


class NoGroupsSpy(SpyRegressor):
    def fit(self, X, Y):
        return super().fit(X, Y)


class FlatPredictor(SpyRegressor):
    def predict(self, X):
        return super().predict(X)[:, 0]


def test_ridge_scores_close_to_oracle(planted):
    X, Y, groups, signal = planted
    res = cross_validate_encoder(Ridge(alpha=1.0), X, Y, groups=groups)
    assert isinstance(res, CVResult)
    assert res.scores.shape == (4, 30) and res.mean_scores.shape == (30,)
    np.testing.assert_allclose(res.mean_scores, res.scores.mean(0))
    oracle = np.stack([correlation_score(Y[groups == g], signal[groups == g]) for g in range(4)])
    np.testing.assert_allclose(res.scores, oracle, atol=0.05)
    # Scores decrease with the planted noise level.
    assert res.mean_scores[0] > 0.9 and res.mean_scores[-1] < res.mean_scores[0] - 0.3
    # Out-of-fold predictions reproduce the per-fold scores.
    assert np.isfinite(res.predictions).all()
    for k, test in enumerate(res.test_indices):
        np.testing.assert_allclose(res.scores[k], correlation_score(Y[test], res.predictions[test]))
    assert [g.tolist() for g in res.test_groups] == [[0], [1], [2], [3]]
    assert res.fit_times.shape == res.predict_times.shape == (4,)
    assert np.all(res.fit_times >= 0)
    assert res.estimators is None


def test_predictions_match_manual_refit(planted):
    X, Y, groups, _ = planted
    res = cross_validate_encoder(Ridge(alpha=3.0), X, Y, groups=groups, scoring="r2")
    for g in range(4):
        test = groups == g
        manual = Ridge(alpha=3.0).fit(X[~test], Y[~test]).predict(X[test])
        np.testing.assert_allclose(res.predictions[test], manual, atol=1e-10)
        np.testing.assert_allclose(res.scores[g], r2_score(Y[test], manual), atol=1e-10)


def test_held_out_run_never_reaches_fit(planted):
    _, Y, groups, _ = planted
    ids = np.arange(groups.size, dtype=float)[:, None]
    res = cross_validate_encoder(SpyRegressor(), ids, Y, groups=groups, return_estimators=True)
    assert len(res.estimators) == 4
    for est, test in zip(res.estimators, res.test_indices):
        assert np.intersect1d(est.seen_rows_, test).size == 0
        np.testing.assert_array_equal(est.seen_rows_, np.setdiff1d(np.arange(groups.size), test))
        # Inner model selection receives only the training runs' labels.
        np.testing.assert_array_equal(est.seen_groups_, groups[est.seen_rows_])
        assert not np.isin(groups[test], est.seen_groups_).any()


def test_groups_not_passed_when_fit_lacks_them(planted):
    _, Y, groups, _ = planted
    ids = np.arange(groups.size, dtype=float)[:, None]
    res = cross_validate_encoder(NoGroupsSpy(), ids, Y, groups=groups, return_estimators=True)
    assert all(est.seen_groups_ is None for est in res.estimators)


def test_dict_of_bands_is_sliced(planted):
    _, Y, groups, _ = planted
    rng = np.random.default_rng(1)
    X = {
        "ids": np.arange(groups.size, dtype=float)[:, None],
        "other": rng.standard_normal((800, 3)),
    }
    res = cross_validate_encoder(
        SpyRegressor(), X, Y, groups=groups, cv=BlockedKFold(n_splits=2), return_estimators=True
    )
    assert len(res.estimators) == 2
    for est, test in zip(res.estimators, res.test_indices):
        assert np.intersect1d(est.seen_rows_, test).size == 0
    # BlockedKFold(2) over 4 equal runs: runs {0, 1} then {2, 3}.
    assert [g.tolist() for g in res.test_groups] == [[0, 1], [2, 3]]


def test_int_cv_is_blocked_kfold_over_runs(planted):
    X, Y, groups, _ = planted
    res = cross_validate_encoder(Ridge(), X, Y, groups=groups, cv=2)
    assert [g.tolist() for g in res.test_groups] == [[0, 1], [2, 3]]
    res1 = cross_validate_encoder(
        Ridge(), X, Y, groups=np.zeros(800), cv=BlockedKFold(n_splits=3, gap=5)
    )
    assert [t.tolist()[:1] for t in res1.test_indices] == [[0], [267], [534]]


def test_errors(planted):
    X, Y, groups, _ = planted
    with pytest.raises(
        ValueError, match=r"`Y` must have as many samples as `X`.*X.shape=\(800, 8\)"
    ):
        cross_validate_encoder(Ridge(), X, Y[:-2], groups=groups)
    with pytest.raises(ValueError, match=r"`Y` must have as many samples as `X\['a'\]`"):
        cross_validate_encoder(Ridge(), {"a": X}, Y[:-2], groups=groups)
    with pytest.raises(ValueError, match=r"`X\['b'\]` must have as many samples as `X\['a'\]`"):
        cross_validate_encoder(Ridge(), {"a": X, "b": X[:-1]}, Y, groups=groups)
    with pytest.raises(
        ValueError, match=r"`groups` must give the run label of each sample; got None"
    ):
        cross_validate_encoder(Ridge(), X, Y, groups=None)
    with pytest.raises(ValueError, match=r"one run label per sample \(800\); got shape \(799,\)"):
        cross_validate_encoder(Ridge(), X, Y, groups=groups[:-1])
    with pytest.raises(ValueError, match=r"at least 2 runs in `groups`"):
        cross_validate_encoder(Ridge(), X, Y, groups=np.zeros(800))
    with pytest.raises(ValueError, match=r"`scoring` must be one of"):
        cross_validate_encoder(Ridge(), X, Y, groups=groups, scoring="mse")
    with pytest.raises(TypeError, match=r"`cv` must be None \(LeaveOneRunOut\), an int"):
        cross_validate_encoder(Ridge(), X, Y, groups=groups, cv="loro")
    with pytest.raises(ValueError, match=r"`X` must be an array .* got an empty dict"):
        cross_validate_encoder(Ridge(), {}, Y, groups=groups)
    overlapping = [
        (np.arange(300, 800), np.arange(0, 300)),
        (np.arange(0, 200), np.arange(200, 800)),
    ]

    class Fixed:
        def split(self, X, y=None, groups=None):
            return iter(overlapping)

    with pytest.raises(ValueError, match=r"non-overlapping test sets.*held out sample 200 twice"):
        cross_validate_encoder(Ridge(), X, Y, groups=groups, cv=Fixed())
    with pytest.raises(ValueError, match=r"`estimator.predict` must return shape \(n_test_samples"):
        cross_validate_encoder(FlatPredictor(), X, Y, groups=groups)


def test_default_cv_is_leave_one_run_out(planted):
    X, Y, groups, _ = planted
    a = cross_validate_encoder(Ridge(), X, Y, groups=groups)
    b = cross_validate_encoder(Ridge(), X, Y, groups=groups, cv=LeaveOneRunOut())
    np.testing.assert_allclose(a.scores, b.scores)


def test_held_out_block_inside_a_run_splits_it_for_the_estimator():
    """With one run, the training pieces before and after the test block are separate runs."""
    rng = np.random.default_rng(0)
    ids = np.arange(90, dtype=float)[:, None]
    Y = rng.standard_normal((90, 2))
    res = cross_validate_encoder(
        SpyRegressor(),
        ids,
        Y,
        groups=np.zeros(90),
        cv=BlockedKFold(n_splits=3),
        return_estimators=True,
    )
    first, middle, last = res.estimators
    np.testing.assert_array_equal(middle.seen_rows_, np.r_[0:30, 60:90])
    np.testing.assert_array_equal(middle.seen_groups_, np.repeat([0, 1], 30))
    assert np.unique(first.seen_groups_).size == 1 and np.unique(last.seen_groups_).size == 1
