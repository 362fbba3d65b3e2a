"""MLP decoder: planted problem, seeds, several subjects, sklearn conventions, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from brainalign.decoders import MLPDecoder, retrieval_topk

torch = pytest.importorskip("torch")

FAST = {"hidden_sizes": (32,), "n_epochs": 20, "batch_size": 32, "lr": 3e-3}


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models: one thread is fastest and keeps shared CPUs free."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def make_planted(n=200, n_voxels=30, n_dims=8, noise=0.5, seed=0, Y=None):
    """Voxels = embeddings @ A + noise: the decoder must invert a planted linear map."""
    rng = np.random.default_rng(seed)
    if Y is None:
        Y = rng.standard_normal((n, n_dims))
    A = rng.standard_normal((Y.shape[1], n_voxels))
    X = Y @ A + noise * rng.standard_normal((Y.shape[0], n_voxels))
    return X, Y


def test_mlp_reaches_high_retrieval_on_planted_problem():
    X, Y = make_planted()
    dec = MLPDecoder(**FAST).fit(X[:150], Y[:150])
    res = retrieval_topk(dec.predict(X[150:]), Y[150:], k=(1, 5))
    assert res.accuracy("brain_to_stimulus", 1) > 0.8  # chance 1/50
    assert res.accuracy("stimulus_to_brain", 5) > 0.9
    assert dec.score(X[150:], Y[150:]) > 0.8  # mean r over embedding dimensions
    assert dec.loss_curve_.shape == (20,) and dec.loss_curve_[-1] < 0.5 * dec.loss_curve_[0]
    assert dec.n_features_in_ == 30 and dec.n_outputs_ == 8 and dec.subjects_ == [None]


def test_linear_decoder_without_hidden_layers():
    X, Y = make_planted(noise=0.1)
    dec = MLPDecoder(hidden_sizes=(), n_epochs=60, batch_size=32, lr=1e-2, weight_decay=0)
    dec.fit(X[:150], Y[:150])
    assert dec.set_params(scoring="r2").score(X[150:], Y[150:]) > 0.9


def test_seed_reproducible_and_global_rng_untouched():
    X, Y = make_planted(n=80)
    state = torch.random.get_rng_state()
    a = MLPDecoder(**{**FAST, "n_epochs": 3, "dropout": 0.2}, seed=1).fit(X, Y).predict(X)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = MLPDecoder(**{**FAST, "n_epochs": 3, "dropout": 0.2}, seed=1).fit(X, Y).predict(X)
    c = MLPDecoder(**{**FAST, "n_epochs": 3, "dropout": 0.2}, seed=2).fit(X, Y).predict(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_two_subjects_with_different_voxel_counts_share_one_decoder():
    rng = np.random.default_rng(5)
    Y1, Y2 = rng.standard_normal((150, 8)), rng.standard_normal((150, 8))
    X1, _ = make_planted(n_voxels=40, Y=Y1, seed=1)
    X2, _ = make_planted(n_voxels=25, Y=Y2, seed=2)
    train = {"sub-01": X1[:120], "sub-02": X2[:120]}
    dec = MLPDecoder(**{**FAST, "n_epochs": 25}, shared_dim=16).fit(
        train, {"sub-01": Y1[:120], "sub-02": Y2[:120]}
    )
    assert dec.subjects_ == ["sub-01", "sub-02"]
    assert dec.n_features_in_per_subject_ == [40, 25]
    assert not hasattr(dec, "n_features_in_")
    adapters = dec.model_["adapters"]
    assert [tuple(a.weight.shape) for a in adapters] == [(16, 40), (16, 25)]
    preds = dec.predict({"sub-01": X1[120:], "sub-02": X2[120:]})
    for pred, Y in ((preds["sub-01"], Y1[120:]), (preds["sub-02"], Y2[120:])):
        assert retrieval_topk(pred, Y, k=1).accuracy() > 0.6  # chance 1/30
    np.testing.assert_array_equal(dec.predict(X2[120:], subject="sub-02"), preds["sub-02"])
    score = dec.score(
        {"sub-01": X1[120:], "sub-02": X2[120:]}, {"sub-01": Y1[120:], "sub-02": Y2[120:]}
    )
    assert score == pytest.approx(
        np.mean(
            [
                dec.score(X1[120:], Y1[120:], subject="sub-01"),
                dec.score(X2[120:], Y2[120:], subject="sub-02"),
            ]
        )
    )
    # list input: subjects are list positions
    dec_list = MLPDecoder(**{**FAST, "n_epochs": 2}).fit([X1, X2], [Y1, Y2])
    assert dec_list.subjects_ == [0, 1]
    out = dec_list.predict([X1[:5], X2[:5]])
    assert isinstance(out, list) and out[1].shape == (5, 8)
    # default shared_dim with several subjects: the first hidden width
    assert tuple(dec_list.model_["adapters"][1].weight.shape) == (32, 25)


def test_multi_subject_errors():
    X1, Y1 = make_planted(n=40, n_voxels=12, seed=1)
    X2, Y2 = make_planted(n=40, n_voxels=9, seed=2)
    dec = MLPDecoder(**{**FAST, "n_epochs": 1}).fit({"a": X1, "b": X2}, {"a": Y1, "b": Y2})
    with pytest.raises(ValueError, match="`subject` must name one of the fitted subjects"):
        dec.predict(X1)
    with pytest.raises(KeyError, match="fitted subjects"):
        dec.predict(X1, subject="c")
    with pytest.raises(ValueError, match=r"12 features \(voxels\) seen during fit for subject 'a'"):
        dec.predict(X2, subject="a")
    with pytest.raises(ValueError, match="`subject` must be None"):
        dec.predict({"a": X1}, subject="a")
    with pytest.raises(ValueError, match="same subjects as `X`"):
        MLPDecoder(**FAST).fit({"a": X1, "b": X2}, {"a": Y1})
    with pytest.raises(ValueError, match="list of 2 embedding arrays"):
        MLPDecoder(**FAST).fit([X1, X2], [Y1])
    with pytest.raises(ValueError, match="same embedding width for every subject"):
        MLPDecoder(**FAST).fit([X1, X2], [Y1, Y2[:, :5]])
    with pytest.raises(ValueError, match=r"`Y\[1\]` must have as many samples as `X\[1\]`"):
        MLPDecoder(**FAST).fit([X1, X2], [Y1, Y2[:30]])
    with pytest.raises(ValueError, match="must not be an empty dict"):
        MLPDecoder(**FAST).fit({}, {})


def test_bad_input_and_parameters():
    X, Y = make_planted(n=40)
    with pytest.raises(ValueError, match="`Y` must have as many samples as `X`"):
        MLPDecoder(**FAST).fit(X, Y[:39])
    dec = MLPDecoder(**{**FAST, "n_epochs": 1}).fit(X, Y)
    with pytest.raises(ValueError, match=r"embedding width seen during fit \(8\)"):
        dec.score(X, Y[:, :7])
    with pytest.raises(ValueError, match="30 features"):
        dec.predict(X[:, :29])
    with pytest.raises(ValueError, match="`hidden_sizes` must be a tuple of ints"):
        MLPDecoder(hidden_sizes=(0,)).fit(X, Y)
    with pytest.raises(ValueError, match=r"`dropout` must be in \[0.0, 1.0\)"):
        MLPDecoder(dropout=1.0).fit(X, Y)
    with pytest.raises(ValueError, match="`n_epochs` must be an int >= 1"):
        MLPDecoder(n_epochs=0).fit(X, Y)
    with pytest.raises(ValueError, match="`activation` must be one of"):
        MLPDecoder(activation="tanh").fit(X, Y)
    with pytest.raises(ValueError, match="`device` must be a torch device"):
        MLPDecoder(device="gpu-please").fit(X, Y)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match=r"torch\.cuda\.is_available"):
            MLPDecoder(device="cuda").fit(X, Y)


def test_sklearn_conventions_and_pickle():
    X, Y = make_planted(n=60)
    dec = MLPDecoder(**{**FAST, "n_epochs": 2})
    assert clone(dec).get_params() == dec.get_params()
    dec.fit(X, Y)
    again = pickle.loads(pickle.dumps(dec))
    np.testing.assert_allclose(again.predict(X), dec.predict(X), atol=0)
    assert dec.predict(X).dtype == np.float64
    assert dec.score(X, Y, multioutput="raw_values").shape == (8,)
