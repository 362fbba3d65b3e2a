"""Null controls: permuted brain and noise input sit at chance; p-values; DecodingScore."""

from __future__ import annotations

import numpy as np
import pytest

from brainalign.decoders import (
    DecodingScore,
    RidgeDecoder,
    evaluate_with_null,
    noise_like,
    permute_rows,
    retrieval_topk,
)


@pytest.fixture
def planted():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((20, 8))
    X_train, X_test = rng.standard_normal((300, 20)), rng.standard_normal((100, 20))
    Y_train = X_train @ W + 0.3 * rng.standard_normal((300, 8))
    Y_test = X_test @ W + 0.3 * rng.standard_normal((100, 8))
    return X_train, Y_train, X_test, Y_test


def test_permuted_brain_top1_at_chance_over_draws():
    # decoded embeddings shuffled relative to the stimuli: mean top-1 over many
    # permutations is 1/N (sd of one draw ~ sqrt(p(1-p)/N) = 0.0099 for N = 100)
    rng = np.random.default_rng(1)
    Y = rng.standard_normal((100, 8))
    pred = Y + 0.1 * rng.standard_normal(Y.shape)
    assert retrieval_topk(pred, Y, k=1, draw_size=None).accuracy() == 1.0
    null = [
        retrieval_topk(permute_rows(pred, rng), Y, k=(1, 5), draw_size=None).per_draw[
            "brain_to_stimulus"
        ][0]
        for _ in range(200)
    ]
    top1, top5 = np.mean(null, axis=0)
    assert top1 == pytest.approx(1 / 100, abs=3 * 0.0099 / np.sqrt(200))
    assert top5 == pytest.approx(5 / 100, abs=3 * 0.0218 / np.sqrt(200))


@pytest.mark.parametrize("refit", [True, False])
@pytest.mark.parametrize("null", ["permuted-brain", "noise"])
def test_evaluate_with_null_ridge_decoder(planted, null, refit):
    X_train, Y_train, X_test, Y_test = planted
    res = evaluate_with_null(
        RidgeDecoder(alphas=[1.0]),
        X_train,
        Y_train,
        X_test,
        Y_test,
        null=null,
        refit=refit,
        n_null=30,
        seed=0,
    )
    assert isinstance(res, DecodingScore)
    assert res.metric == "top1" and res.null_kind == null and res.refit is refit
    assert res.score > 0.9
    assert res.chance == pytest.approx(0.01)
    # the null sits at chance: mean of 30 draws, each with sd ~0.01
    assert res.null_mean == pytest.approx(0.01, abs=0.008)
    assert res.p_value == pytest.approx(1 / 31)
    assert res.z > 10
    assert "top1 = " in str(res) and res.to_dict()["n_null"] == 30


def test_callable_pipeline_and_lower_is_better():
    rng = np.random.default_rng(2)
    X_train, X_test = rng.standard_normal((50, 3)), rng.standard_normal((40, 3))
    Y_train, Y_test = X_train[:, :1] * 2, X_test[:, :1] * 2
    calls = []

    def pipeline(xtr, ytr, xte, yte):
        calls.append((xtr is X_train, xte is X_test))
        # "decode" with the training slope, score the mean absolute error (lower is better)
        slope = np.linalg.lstsq(xtr[:, :1], ytr, rcond=None)[0]
        return float(np.mean(np.abs(xte[:, :1] @ slope - yte)))

    res = evaluate_with_null(
        pipeline,
        X_train,
        Y_train,
        X_test,
        Y_test,
        n_null=9,
        greater_is_better=False,
        metric_name="mae",
        refit=False,
    )
    assert calls[0] == (True, True)
    assert all(c == (True, False) for c in calls[1:])  # refit=False: train brain untouched
    assert res.metric == "mae" and res.chance is None
    assert res.score < 1e-10 < res.null.min()
    assert res.p_value == pytest.approx(0.1)


def test_p_value_counts_ties_and_custom_metric(planted):
    X_train, Y_train, X_test, Y_test = planted

    def constant(y_true, y_pred):
        return 0.5

    res = evaluate_with_null(
        RidgeDecoder(alphas=[1.0]), X_train, Y_train, X_test, Y_test, metric=constant, n_null=4
    )
    assert res.metric == "constant" and res.p_value == 1.0 and res.chance is None
    assert np.isnan(res.z)


def test_null_transforms_keep_structure():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((30, 4)), rng.standard_normal((20, 6)) * 5 + 2
    perm = permute_rows({"s1": a, "s2": b}, 0)
    assert set(perm) == {"s1", "s2"}
    assert sorted(map(tuple, perm["s1"])) == sorted(map(tuple, a))
    assert not np.array_equal(perm["s1"], a)
    noise = noise_like([a, b], 0)
    assert isinstance(noise, list) and noise[1].shape == (20, 6)
    big = noise_like(rng.standard_normal((5000, 2)) * [1, 3] + [0, 10], 1)
    np.testing.assert_allclose(big.mean(0), [0, 10], atol=0.15)
    np.testing.assert_allclose(big.std(0), [1, 3], rtol=0.05)


def test_bad_arguments(planted):
    X_train, Y_train, X_test, Y_test = planted
    with pytest.raises(ValueError, match="`null` must be one of"):
        evaluate_with_null(RidgeDecoder(), X_train, Y_train, X_test, Y_test, null="shuffle")
    with pytest.raises(ValueError, match="`n_null` must be an int >= 1"):
        evaluate_with_null(RidgeDecoder(), X_train, Y_train, X_test, Y_test, n_null=0)
    with pytest.raises(TypeError, match="`pipeline` must be an estimator"):
        evaluate_with_null("ridge", X_train, Y_train, X_test, Y_test)
