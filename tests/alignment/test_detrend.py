import numpy as np
import pytest
from scipy.signal import detrend

from brainalign.alignment import detrend_runs


def test_matches_scipy_linear_detrend_per_run():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3)) + np.linspace(0, 5, 50)[:, None]
    groups = np.repeat([0, 1], [20, 30])
    out = detrend_runs(X, groups, order=1)
    ref = np.vstack([detrend(X[:20], axis=0), detrend(X[20:], axis=0)])
    np.testing.assert_allclose(out, ref, atol=1e-10)


def test_quadratic_trend_removed_and_signal_kept():
    t = np.arange(100.0)
    osc = np.sin(2 * np.pi * t / 10)
    X = (osc + 0.01 * (t - 30) ** 2 + 3)[:, None].astype(np.float32)
    out = detrend_runs(X, order=2)
    assert out.dtype == np.float32
    assert abs(np.corrcoef(out[:, 0], osc)[0, 1]) > 0.99
    assert abs(out.mean()) < 1e-4
    np.testing.assert_allclose(detrend_runs(X, order=0), X - X.mean(0), atol=1e-4)


def test_errors():
    with pytest.raises(ValueError, match=r"`order` must be an integer >= 0; got -1"):
        detrend_runs(np.zeros((5, 1)), order=-1)
    with pytest.raises(ValueError, match="groups"):
        detrend_runs(np.zeros((5, 1)), groups=[0, 1])
