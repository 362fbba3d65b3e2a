"""TRFEncoder: equality with mne.decoding.ReceptiveField, runs, CV over alphas, errors."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from brainalign.encoders import TRFEncoder
from brainalign.exceptions import AlphaGridWarning

SFREQ = 100.0


def make_trf_data(n_times=300, n_features=3, n_targets=4, seed=0, noise=0.5, lags=(-2, 6)):
    """Features with a non-zero mean, responses from a planted TRF + noise + offset."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_times, n_features)) + 1.5
    lag = np.arange(lags[0], lags[1] + 1)
    trf = rng.standard_normal((len(lag), n_features, n_targets)) / np.sqrt(len(lag))
    Y = np.zeros((n_times, n_targets)) + 2.0
    for k, d in enumerate(lag):
        shifted = np.zeros_like(X)
        if d >= 0:
            shifted[d:] = X[: n_times - d]
        else:
            shifted[:d] = X[-d:]
        Y += shifted @ trf[k]
    Y += noise * rng.standard_normal(Y.shape)
    return X, Y, trf


def mne_rf(tmin, tmax, alpha, fit_intercept, X, Y):
    pytest.importorskip("mne")
    import mne
    from mne.decoding import ReceptiveField

    with mne.utils.use_log_level("error"):
        return ReceptiveField(tmin, tmax, SFREQ, estimator=alpha, fit_intercept=fit_intercept).fit(
            X, Y
        )


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(
    ("tmin", "tmax"), [(-0.03, 0.08), (0.02, 0.1), (-0.1, -0.02), (0.0, 0.0), (-0.014, 0.036)]
)
def test_equals_mne_receptive_field(tmin, tmax, fit_intercept):
    X, Y, _ = make_trf_data()
    X_test, _, _ = make_trf_data(120, seed=1)
    alpha = 2.5
    model = TRFEncoder(tmin, tmax, SFREQ, alpha=alpha, fit_intercept=fit_intercept).fit(X, Y)
    rf = mne_rf(tmin, tmax, alpha, fit_intercept, X, Y)
    np.testing.assert_array_equal(model.lags_, rf.delays_)
    np.testing.assert_allclose(model.times_, rf.delays_ / SFREQ)
    assert model.trf_.shape == (len(rf.delays_), 3, 4)
    np.testing.assert_allclose(model.trf_, rf.coef_.transpose(2, 1, 0), rtol=1e-4, atol=1e-10)
    np.testing.assert_allclose(
        model.intercept_, np.broadcast_to(rf.estimator_.intercept_, 4), rtol=1e-4, atol=1e-10
    )
    np.testing.assert_allclose(model.predict(X_test), rf.predict(X_test), rtol=1e-4, atol=1e-10)
    np.testing.assert_allclose(model.coef_, model.trf_.reshape(-1, 4))


def test_runs_equal_mne_epochs():
    """Equal-length runs (groups) are MNE's epochs: (n_times, n_epochs, n_features)."""
    X, Y, _ = make_trf_data(3 * 100)
    groups = np.repeat(["run-1", "run-2", "run-3"], 100)
    model = TRFEncoder(-0.03, 0.05, SFREQ, alpha=1.0).fit(X, Y, groups=groups)
    X3 = X.reshape(3, 100, 3).transpose(1, 0, 2)
    Y3 = Y.reshape(3, 100, 4).transpose(1, 0, 2)
    rf = mne_rf(-0.03, 0.05, 1.0, True, X3, Y3)
    np.testing.assert_allclose(model.trf_, rf.coef_.transpose(2, 1, 0), rtol=1e-4, atol=1e-10)
    pred = rf.predict(X3).transpose(1, 0, 2).reshape(300, 4)
    np.testing.assert_allclose(model.predict(X, groups=groups), pred, rtol=1e-4, atol=1e-10)


def test_lags_never_cross_runs():
    X, Y, _ = make_trf_data(200)
    groups = np.repeat([0, 1], 100)
    model = TRFEncoder(-0.05, 0.05, SFREQ, alpha=1.0).fit(X, Y, groups=groups)
    joint = model.predict(X, groups=groups)
    separate = np.concatenate([model.predict(X[:100]), model.predict(X[100:])])
    np.testing.assert_allclose(joint, separate, rtol=1e-12)
    assert not np.allclose(model.predict(X)[95:105], joint[95:105])
    # fitting on runs = a Gram matrix summed over runs: two runs fitted apart are not the same
    one_run = TRFEncoder(-0.05, 0.05, SFREQ, alpha=1.0).fit(X, Y)
    assert not np.allclose(one_run.trf_, model.trf_)


def test_planted_trf_is_recovered():
    X, Y, truth = make_trf_data(3000, noise=0.1, lags=(-2, 6))
    model = TRFEncoder(-0.02, 0.06, SFREQ, alpha=1e-3).fit(X, Y)
    np.testing.assert_array_equal(model.lags_, np.arange(-2, 7))
    np.testing.assert_allclose(model.trf_, truth, atol=0.02)
    np.testing.assert_allclose(model.intercept_, 2.0, atol=0.05)


def test_alpha_array_selects_per_target_by_leave_one_run_out():
    X, Y, _ = make_trf_data(300, n_targets=4)
    Y[:, 3] = np.random.default_rng(5).standard_normal(300)  # no signal: strongest penalty
    groups = np.repeat([0, 1, 2], 100)
    alphas = np.logspace(-1, 3, 5)
    with pytest.warns(AlphaGridWarning, match=r"1 at the largest"):
        model = TRFEncoder(-0.02, 0.06, SFREQ, alpha=alphas).fit(X, Y, groups=groups)
    assert model.alphas_[3] == alphas[-1]
    assert np.all(model.alphas_[:3] < alphas[-1])
    # each fold is TRFEncoder(alpha=a).fit(train runs).predict(test run)
    for j in range(4):
        a = model.alphas_[j]
        mse = []
        for run in range(3):
            test = groups == run
            fold = TRFEncoder(-0.02, 0.06, SFREQ, alpha=a)
            fold.fit(X[~test], Y[~test, j], groups=groups[~test])
            mse.append(np.mean((Y[test, j] - fold.predict(X[test])) ** 2))
        assert model.cv_scores_[j] == pytest.approx(-np.mean(mse), rel=1e-8)
        # the refit uses each target's penalty on all samples
        alone = TRFEncoder(-0.02, 0.06, SFREQ, alpha=a).fit(X, Y[:, j], groups=groups)
        np.testing.assert_allclose(model.trf_[..., j], alone.trf_[..., 0], rtol=1e-8)


def test_score_and_shapes():
    X, Y, _ = make_trf_data()
    model = TRFEncoder(-0.02, 0.06, SFREQ).fit(X, Y)
    assert isinstance(model.score(X, Y), float)
    assert model.score(X, Y, multioutput="raw_values").shape == (4,)
    assert model.score(X, Y) > 0.5
    one = TRFEncoder(-0.02, 0.06, SFREQ).fit(X, Y[:, 0])
    assert one.predict(X).shape == (300,)
    np.testing.assert_allclose(model.alphas_, 1.0)
    f32 = TRFEncoder(-0.02, 0.06, SFREQ).fit(X.astype(np.float32), Y.astype(np.float32))
    assert f32.predict(X.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(f32.trf_, model.trf_, rtol=1e-3, atol=1e-4)


def test_clone_get_params_pickle():
    model = TRFEncoder(-0.1, 0.2, 50.0, alpha=[1.0, 10.0])
    params = clone(model).get_params()
    assert params["tmin"] == -0.1 and params["alpha"] == [1.0, 10.0]
    X, Y, _ = make_trf_data()
    model = TRFEncoder(-0.02, 0.06, SFREQ).fit(X, Y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))


def test_errors():
    X, Y, _ = make_trf_data()
    with pytest.raises(ValueError, match=r"`tmin` must be <= `tmax`; got tmin=0.2, tmax=-0.1"):
        TRFEncoder(0.2, -0.1, SFREQ).fit(X, Y)
    with pytest.raises(ValueError, match=r"`sfreq` must be > 0"):
        TRFEncoder(0.0, 0.1, 0.0).fit(X, Y)
    with pytest.raises(TypeError, match=r"`tmin` must be a number of seconds"):
        TRFEncoder("0", 0.1, SFREQ).fit(X, Y)
    with pytest.raises(ValueError, match=r"`alpha` must be >= 0"):
        TRFEncoder(0.0, 0.1, SFREQ, alpha=-1.0).fit(X, Y)
    with pytest.raises(ValueError, match=r"`alpha` as an array must hold distinct penalties > 0"):
        TRFEncoder(0.0, 0.1, SFREQ, alpha=[0.0, 1.0]).fit(X, Y)
    msg = "`Y` must have as many samples as `X`; got X.shape=(300, 3), Y.shape=(299, 4). Did you trim the first TRs of each run?"
    with pytest.raises(ValueError, match=re.escape(msg)):
        TRFEncoder(0.0, 0.1, SFREQ).fit(X, Y[1:])
    X_nan = X.copy()
    X_nan[7, 0] = np.nan
    with pytest.raises(ValueError, match=r"`X` must contain only finite values"):
        TRFEncoder(0.0, 0.1, SFREQ).fit(X_nan, Y)
    with pytest.raises(
        ValueError, match=r"Every run must have at least 26 samples to estimate 51 lags.*\[20\]"
    ):
        TRFEncoder(0.0, 0.5, SFREQ).fit(X, Y, groups=np.repeat([0, 1], [280, 20]))
    with pytest.raises(NotFittedError):
        TRFEncoder(0.0, 0.1, SFREQ).predict(X)
    model = TRFEncoder(0.0, 0.1, SFREQ).fit(X, Y)
    with pytest.raises(ValueError, match=r"`X` must have the 3 features seen during fit"):
        model.predict(X[:, :2])
    with pytest.raises(ValueError, match=r"`groups` must be a 1-D array with one run label"):
        model.predict(X, groups=np.zeros(10))
