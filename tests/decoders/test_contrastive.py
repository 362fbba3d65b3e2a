"""Contrastive (InfoNCE + MSE) decoder: loss value, planted retrieval, two subjects, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from brainalign.decoders import ContrastiveDecoder, evaluate_with_null, retrieval_topk
from brainalign.decoders._contrastive import info_nce

torch = pytest.importorskip("torch")

FAST = {"hidden_sizes": (32,), "n_epochs": 20, "batch_size": 32, "lr": 3e-3}


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def make_planted(n=200, n_voxels=30, n_dims=8, noise=0.5, seed=0, Y=None):
    rng = np.random.default_rng(seed)
    if Y is None:
        Y = rng.standard_normal((n, n_dims))
    A = rng.standard_normal((Y.shape[1], n_voxels))
    return Y @ A + noise * rng.standard_normal((Y.shape[0], n_voxels)), Y


def test_info_nce_hand_value():
    # orthonormal matches: logits = s on the diagonal and 0 elsewhere, both directions
    B, s = 4, 2.0
    eye = torch.eye(B, dtype=torch.float64)
    expected = -math.log(math.exp(s) / (math.exp(s) + B - 1))
    assert float(info_nce(eye, eye * 3.0, s)) == pytest.approx(expected, rel=1e-6)
    # swapped rows: the match has logit 0, one wrong candidate has s
    perm = eye[[1, 0, 2, 3]]
    loss = float(info_nce(perm, eye, s))
    wrong = -math.log(1 / (math.exp(s) + B - 1))
    assert loss == pytest.approx((2 * wrong + 2 * expected) / 4, rel=1e-6)


def test_contrastive_reaches_high_retrieval_with_null_at_chance():
    X, Y = make_planted()
    dec = ContrastiveDecoder(**FAST)
    res = evaluate_with_null(dec, X[:150], Y[:150], X[150:], Y[150:], refit=False, n_null=20)
    assert res.score > 0.8 and res.chance == pytest.approx(1 / 50)
    assert res.null_mean < 0.06 and res.p_value == pytest.approx(1 / 21)
    fitted = ContrastiveDecoder(**FAST).fit(X[:150], Y[:150])
    assert fitted.score(X[150:], Y[150:]) == pytest.approx(res.score)  # scoring="top1"
    assert fitted.temperature_ != pytest.approx(0.07)  # learned
    assert 0.01 <= fitted.temperature_


def test_fixed_temperature_and_pure_contrastive():
    X, Y = make_planted(n=120)
    dec = ContrastiveDecoder(**FAST, temperature=0.1, learn_temperature=False, mse_weight=0.0)
    dec.fit(X[:90], Y[:90])
    assert dec.temperature_ == pytest.approx(0.1)
    assert "loss" not in dec.model_
    assert retrieval_topk(dec.predict(X[90:]), Y[90:], k=1).accuracy() > 0.7


def test_two_subjects_with_different_voxel_counts():
    rng = np.random.default_rng(3)
    Y1, Y2 = rng.standard_normal((150, 8)), rng.standard_normal((150, 8))
    X1, _ = make_planted(n_voxels=40, Y=Y1, seed=1)
    X2, _ = make_planted(n_voxels=25, Y=Y2, seed=2)
    dec = ContrastiveDecoder(**{**FAST, "n_epochs": 25}, shared_dim=16)
    dec.fit([X1[:120], X2[:120]], [Y1[:120], Y2[:120]])
    assert dec.n_features_in_per_subject_ == [40, 25]
    for s, (X, Y) in enumerate(((X1, Y1), (X2, Y2))):
        acc = retrieval_topk(dec.predict(X[120:], subject=s), Y[120:], k=1).accuracy()
        assert acc > 0.6  # chance 1/30
    # the backbone is shared: one set of backbone weights, one adapter per subject
    assert len(dec.model_["adapters"]) == 2


def test_errors():
    X, Y = make_planted(n=40)
    with pytest.raises(ValueError, match="`batch_size` must be an int >= 2"):
        ContrastiveDecoder(batch_size=1).fit(X, Y)
    with pytest.raises(ValueError, match="must not both be 0"):
        ContrastiveDecoder(clip_weight=0, mse_weight=0).fit(X, Y)
    with pytest.raises(ValueError, match=r"`temperature` must be >= 0.01 when learned"):
        ContrastiveDecoder(temperature=0.001).fit(X, Y)
    with pytest.raises(ValueError, match="`temperature` must be > 0"):
        ContrastiveDecoder(temperature=0.0, learn_temperature=False).fit(X, Y)
    with pytest.raises(ValueError, match="`Y` must have as many samples as `X`"):
        ContrastiveDecoder(**FAST).fit(X, Y[:-1])
