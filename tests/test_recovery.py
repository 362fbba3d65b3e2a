"""End-to-end ground truth: planted banded weights are recovered by the public pipeline."""

import numpy as np
import pytest

from brainalign.datasets import make_encoding_data
from brainalign.encoders import BandedRidgeEncoder
from brainalign.evaluation import correlation_score


@pytest.fixture(scope="module")
def fitted():
    sim = make_encoding_data(
        n_runs=5,
        n_samples_per_run=300,
        band_sizes={"a": 24, "b": 8},
        n_targets=300,
        snr=(0.5, 3.0),
        response="hrf",
        random_state=0,
    )
    design = sim.to_design()  # the HRF-convolved features: an exactly specified model
    train, test = design.groups < 4, design.groups == 4
    bands_train = {k: v[train] for k, v in design.bands.items()}
    bands_test = {k: v[test] for k, v in design.bands.items()}
    est = BandedRidgeEncoder(n_iter=20, random_state=0)
    est.fit(bands_train, design.Y[train], groups=design.groups[train])
    return sim, est, bands_test, design.Y[test], sim.truth.signal[test]


def test_held_out_r_close_to_oracle(fitted):
    _sim, est, X_test, Y_test, signal_test = fitted
    r = est.score(X_test, Y_test, multioutput="raw_values")
    oracle = correlation_score(Y_test, signal_test)
    assert r.shape == (300,)
    gap = oracle.mean() - r.mean()
    assert 0 <= gap < 0.01, (oracle.mean(), r.mean())


def test_band_shares_recovered(fitted):
    sim, est, X_test, Y_test, _ = fitted
    split = est.score_split(X_test, Y_test)
    assert split.shape == (2, 300)
    shares = np.clip(split, 0, None)
    shares = shares / shares.sum(0)
    r = np.corrcoef(shares[0], sim.truth.band_shares[0])[0, 1]
    assert r > 0.9, r
    # the fitted per-band weighting follows the planted shares as well
    assert np.corrcoef(est.band_weights_[0], sim.truth.band_shares[0])[0, 1] > 0.5
