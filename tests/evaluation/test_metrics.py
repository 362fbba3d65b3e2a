"""Per-target scores against scipy and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.metrics
from scipy.stats import pearsonr

from brainalign.evaluation import correlation_score, r2_score, score_targets


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    y_true = rng.standard_normal((120, 7)) * rng.uniform(0.5, 3, 7) + rng.uniform(-5, 5, 7)
    y_pred = 0.6 * y_true + rng.standard_normal((120, 7))
    return y_true, y_pred


def test_correlation_matches_scipy_pearsonr(data):
    y_true, y_pred = data
    expected = [pearsonr(y_true[:, j], y_pred[:, j]).statistic for j in range(7)]
    np.testing.assert_allclose(correlation_score(y_true, y_pred), expected, rtol=0, atol=1e-12)


def test_correlation_float32_close_to_float64(data):
    y_true, y_pred = data
    r32 = correlation_score(y_true.astype(np.float32), y_pred.astype(np.float32))
    np.testing.assert_allclose(r32, correlation_score(y_true, y_pred), atol=1e-5)


def test_r2_matches_sklearn_raw_values(data):
    y_true, y_pred = data
    expected = sklearn.metrics.r2_score(y_true, y_pred, multioutput="raw_values")
    np.testing.assert_allclose(r2_score(y_true, y_pred), expected, rtol=0, atol=1e-12)


def test_one_dimensional_input_is_one_target(data):
    y_true, y_pred = data
    np.testing.assert_allclose(
        correlation_score(y_true[:, 0], y_pred[:, 0]),
        [pearsonr(y_true[:, 0], y_pred[:, 0]).statistic],
        atol=1e-12,
    )


@pytest.mark.parametrize("value", [0.1, 0.3, 7.7, 1000.1])
def test_constant_targets_score_zero(value):
    # 0.1 * n / n is not exactly 0.1 in floating point: the centred sum of squares of a
    # constant series is tiny but not 0, which once gave R² of about -1e33.
    rng = np.random.default_rng(1)
    y_true = np.column_stack([np.full(37, value), rng.standard_normal(37)])
    y_pred = rng.standard_normal((37, 2))
    assert r2_score(y_true, y_pred)[0] == 0.0
    assert correlation_score(y_true, y_pred)[0] == 0.0
    assert correlation_score(y_pred, y_true)[0] == 0.0
    assert r2_score(y_true, y_pred)[1] == pytest.approx(
        sklearn.metrics.r2_score(y_true[:, 1], y_pred[:, 1]), abs=1e-12
    )


def test_score_targets_average_and_raw(data):
    y_true, y_pred = data
    raw = score_targets(y_true, y_pred, scoring="r2", multioutput="raw_values")
    np.testing.assert_allclose(raw, r2_score(y_true, y_pred))
    avg = score_targets(y_true, y_pred, scoring="correlation")
    assert avg == pytest.approx(float(np.mean(correlation_score(y_true, y_pred))))


def test_errors(data):
    y_true, y_pred = data
    with pytest.raises(ValueError, match=r"`y_pred` must have the same shape as `y_true`"):
        correlation_score(y_true, y_pred[:, :3])
    with pytest.raises(ValueError, match=r"`y_true` must have at least 2 samples"):
        r2_score(y_true[:1], y_pred[:1])
    with pytest.raises(ValueError, match=r"`scoring` must be one of \['correlation', 'r2'\]"):
        score_targets(y_true, y_pred, scoring="pearson")
    with pytest.raises(ValueError, match=r"`multioutput` must be one of"):
        score_targets(y_true, y_pred, multioutput="mean")
    with pytest.raises(ValueError, match=r"`y_true` must contain only finite values"):
        r2_score(np.where(y_true > 2, np.nan, y_true), y_pred)
