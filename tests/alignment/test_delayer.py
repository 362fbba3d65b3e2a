"""FIR delays: values, run boundaries, negative delays, sklearn API, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from brainalign.alignment import Delayer


def test_values_by_hand():
    X = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])
    out = Delayer(delays=[0.0, 2.0, -1.0], sfreq=1.0).fit_transform(X)
    expected = np.array(
        [
            # delay 0     delay +2 s     delay -1 s
            [1, 10, 0, 0, 2, 20],
            [2, 20, 0, 0, 3, 30],
            [3, 30, 1, 10, 4, 40],
            [4, 40, 2, 20, 0, 0],
        ],
        dtype=float,
    )
    np.testing.assert_array_equal(out, expected)


def test_seconds_are_converted_with_sfreq():
    # TR = 2 s: Huth-lab delays 2, 4, 6, 8 s are 1-4 samples.
    X = np.arange(1.0, 11.0)[:, None]
    d = Delayer(delays=[2, 4, 6, 8], sfreq=0.5).fit(X)
    np.testing.assert_array_equal(d.delays_samples_, [1, 2, 3, 4])
    out = d.transform(X)
    for i, lag in enumerate([1, 2, 3, 4]):
        np.testing.assert_array_equal(out[lag:, i], X[:-lag, 0])
        np.testing.assert_array_equal(out[:lag, i], 0)
    # a TR of 1.5 s with float noise in the delays
    d = Delayer(delays=[1.5, 3.0000000001, 4.5], sfreq=1 / 1.5).fit(X)
    np.testing.assert_array_equal(d.delays_samples_, [1, 2, 3])


def test_shifts_never_cross_runs():
    # run 0: samples 0-4, run 1: samples 5-9 (labels are strings to check any label works)
    groups = np.array(["a"] * 5 + ["b"] * 5)
    X = np.zeros((10, 1))
    X[4] = 1.0  # impulse at the very end of run 0
    X[5] = 7.0  # impulse at the very start of run 1
    out = Delayer(delays=[1.0, 2.0, -1.0], sfreq=1.0).fit_transform(X, groups=groups)
    # a positive delay would move the end of run 0 into run 1: it must give zeros there
    np.testing.assert_array_equal(out[:, 0], [0, 0, 0, 0, 0, 0, 7, 0, 0, 0])
    np.testing.assert_array_equal(out[:, 1], [0, 0, 0, 0, 0, 0, 0, 7, 0, 0])
    # a negative delay would move the start of run 1 into run 0: zeros there too
    np.testing.assert_array_equal(out[:, 2], [0, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    # without groups the same input does leak (so the check above can fail)
    leaky = Delayer(delays=[1.0], sfreq=1.0).fit_transform(X)
    assert leaky[5, 0] == 1.0


def test_runs_of_different_lengths_match_per_run_transform():
    rng = np.random.default_rng(0)
    lengths = [7, 3, 12]
    X = rng.normal(size=(sum(lengths), 4))
    groups = np.repeat([0, 1, 2], lengths)
    d = Delayer(delays=[-2.0, 0.0, 1.0, 4.0], sfreq=1.0)
    out = d.fit_transform(X, groups=groups)
    per_run = [d.fit_transform(X[groups == g]) for g in range(3)]
    np.testing.assert_array_equal(out, np.concatenate(per_run))


def test_reshape_by_delays_and_feature_names():
    X = np.ones((6, 3))
    d = Delayer(delays=[0.0, 1.0], sfreq=1.0).fit(X)
    coef = np.arange(6 * 2).reshape(6, 2)  # (n_delays * n_features, n_targets)
    r = d.reshape_by_delays(coef)
    assert r.shape == (2, 3, 2)
    np.testing.assert_array_equal(r[1, 2], coef[1 * 3 + 2])
    names = d.get_feature_names_out(["a", "b", "c"])
    assert list(names) == [
        "a_delay0s",
        "b_delay0s",
        "c_delay0s",
        "a_delay1s",
        "b_delay1s",
        "c_delay1s",
    ]
    # the names follow the same layout as reshape_by_delays
    assert names.reshape(2, 3)[1, 2] == "c_delay1s"
    assert list(d.get_feature_names_out())[:2] == ["x0_delay0s", "x1_delay0s"]
    assert Delayer(delays=[-2.0], sfreq=0.5).fit(X).get_feature_names_out()[0] == "x0_delay-2s"


def test_sklearn_api():
    d = Delayer(delays=[1.0, 2.0], sfreq=2.0)
    assert d.get_params() == {"delays": [1.0, 2.0], "sfreq": 2.0}
    c = clone(d)
    assert c.get_params() == d.get_params() and not hasattr(c, "delays_samples_")
    X = np.arange(12.0).reshape(6, 2)
    d.fit(X)
    restored = pickle.loads(pickle.dumps(d))
    np.testing.assert_array_equal(restored.transform(X), d.transform(X))


def test_errors():
    X = np.ones((5, 2))
    with pytest.raises(
        ValueError,
        match=r"`delays\[1\]` must be a whole number of samples, i.e. a multiple of the sampling "
        r"period 1/sfreq = 2 s; got 3 s = 1.5 samples",
    ):
        Delayer(delays=[2.0, 3.0], sfreq=0.5).fit(X)
    with pytest.raises(ValueError, match=r"`delays` must be a non-empty 1-D sequence"):
        Delayer(delays=[], sfreq=1.0).fit(X)
    with pytest.raises(ValueError, match=r"`delays` must be distinct once converted to samples"):
        Delayer(delays=[1.0, 1.0], sfreq=1.0).fit(X)
    with pytest.raises(TypeError, match=r"`delays\[0\]` must be a number of seconds; got 'a'"):
        Delayer(delays=["a"], sfreq=1.0).fit(X)
    with pytest.raises(ValueError, match=r"`sfreq` must be > 0"):
        Delayer(delays=[1.0], sfreq=0.0).fit(X)
    d = Delayer(delays=[1.0], sfreq=1.0).fit(X)
    with pytest.raises(
        ValueError, match=r"`X` must have 2 features, as during fit; got X.shape=\(5, 3\)"
    ):
        d.transform(np.ones((5, 3)))
    with pytest.raises(
        ValueError, match=r"`groups` must be a 1-D array with one run label per sample"
    ):
        d.transform(X, groups=[0, 0, 1])
    with pytest.raises(
        ValueError, match=r"`coef` must have n_delays \* n_features = 1 \* 2 = 2 rows"
    ):
        d.reshape_by_delays(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"`input_features` must have 2 names"):
        d.get_feature_names_out(["a"])
