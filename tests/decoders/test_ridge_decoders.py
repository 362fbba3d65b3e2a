"""Ridge decoders: exact recovery of planted linear maps, parity with the encoders, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from brainalign.decoders import BandedRidgeDecoder, RidgeDecoder, retrieval_topk
from brainalign.encoders import BandedRidgeEncoder, RidgeEncoder


@pytest.fixture
def planted():
    """Brain X (n, 25 voxels) and embeddings Y = X W + b exactly (no noise)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((160, 25))
    W = rng.standard_normal((25, 6))
    b = rng.standard_normal(6)
    return X, X @ W + b, W, b


def test_ridge_decoder_recovers_planted_map_exactly(planted):
    X, Y, W, b = planted
    dec = RidgeDecoder(alphas=[1e-8]).fit(X, Y)
    np.testing.assert_allclose(dec.coef_, W, atol=1e-6)
    np.testing.assert_allclose(dec.intercept_, b, atol=1e-6)
    np.testing.assert_allclose(dec.predict(X), Y, atol=1e-6)
    assert dec.n_features_in_ == 25 and dec.n_outputs_ == 6
    assert dec.score(X, Y) == pytest.approx(1.0, abs=1e-9)


def test_ridge_decoder_is_the_encoder_with_roles_swapped(planted):
    X, Y, _, _ = planted
    rng = np.random.default_rng(1)
    Yn = Y + 3 * rng.standard_normal(Y.shape)
    alphas = np.logspace(-2, 4, 7)
    dec = RidgeDecoder(alphas=alphas, cv=4, warn_alpha_edge=False).fit(X, Yn)
    enc = RidgeEncoder(alphas=alphas, cv=4, warn_alpha_edge=False).fit(X, Yn)
    np.testing.assert_array_equal(dec.coef_, enc.coef_)
    np.testing.assert_array_equal(dec.alphas_, enc.alphas_)
    Xt = rng.standard_normal((40, 25))
    np.testing.assert_array_equal(dec.predict(Xt), enc.predict(Xt))


def test_ridge_decoder_retrieval_on_held_out_trials(planted):
    X, Y, _, _ = planted
    rng = np.random.default_rng(2)
    Yn = Y + 0.5 * rng.standard_normal(Y.shape)
    dec = RidgeDecoder(alphas=np.logspace(-2, 3, 6), scoring="top1", warn_alpha_edge=False)
    dec.fit(X[:120], Yn[:120])
    top1 = dec.score(X[120:], Y[120:])
    assert top1 == retrieval_topk(dec.predict(X[120:]), Y[120:], k=1).accuracy()
    assert top1 > 0.9
    for scoring in ("cosine", "r2", "correlation"):
        assert dec.set_params(scoring=scoring).score(X[120:], Y[120:]) > 0.8
    raw = dec.set_params(scoring="correlation").score(X[120:], Y[120:], multioutput="raw_values")
    assert raw.shape == (6,)


def test_banded_ridge_decoder_with_roi_bands(planted):
    X, Y, W, _ = planted
    bands = {"V1": X[:, :10], "FFA": X[:, 10:]}
    kwargs = {"alphas": [1e-6, 1e-3], "n_iter": 3, "random_state": 0, "warn_alpha_edge": False}
    dec = BandedRidgeDecoder(**kwargs).fit(bands, Y)
    enc = BandedRidgeEncoder(**kwargs).fit(bands, Y)
    np.testing.assert_allclose(dec.coef_, enc.coef_, atol=1e-12)
    np.testing.assert_allclose(dec.coef_, W, atol=1e-3)
    np.testing.assert_allclose(dec.predict(bands), Y, atol=1e-2)
    assert dec.encoder_.band_names_ == ["V1", "FFA"]
    # same model from one array split by `bands`
    dec2 = BandedRidgeDecoder(bands={"V1": 10, "FFA": 15}, **kwargs).fit(X, Y)
    np.testing.assert_allclose(dec2.predict(X), dec.predict(bands), atol=1e-8)


def test_sklearn_conventions(planted):
    X, Y, _, _ = planted
    dec = RidgeDecoder(alphas=[1.0], scoring="cosine")
    assert clone(dec).get_params() == dec.get_params()
    assert not hasattr(dec, "coef_")
    dec.fit(X, Y)
    again = pickle.loads(pickle.dumps(dec))
    np.testing.assert_array_equal(again.predict(X), dec.predict(X))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        RidgeDecoder().predict(X)


def test_bad_input(planted):
    X, Y, _, _ = planted
    with pytest.raises(
        ValueError, match=r"`Y` must have as many samples as `X`.*X.shape=\(160, 25\)"
    ):
        RidgeDecoder(alphas=[1.0]).fit(X, Y[:150])
    with pytest.raises(ValueError, match=r"`Y` must have shape \(n_samples, n_dims\)"):
        RidgeDecoder(alphas=[1.0]).fit(X, Y[:, 0])
    with pytest.raises(ValueError, match="`scoring` must be one of"):
        RidgeDecoder(scoring="accuracy").fit(X, Y)
    dec = RidgeDecoder(alphas=[1.0]).fit(X, Y)
    with pytest.raises(ValueError, match=r"embedding width seen during fit \(6\)"):
        dec.score(X, Y[:, :4])
    with pytest.raises(ValueError, match="one row per brain sample"):
        dec.score(X, Y[:100])
    with pytest.raises(ValueError, match="25 features seen during fit"):
        dec.predict(X[:, :20])
    with pytest.raises(ValueError, match="raw_values"):
        dec.set_params(scoring="top1").score(X, Y, multioutput="raw_values")
