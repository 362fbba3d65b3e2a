"""BandedRidgeEncoder: equality with himalaya, planted-weight recovery, bands, errors."""

from __future__ import annotations

import pickle
import re
import warnings

import numpy as np
import pytest
from himalaya.backend import get_backend, set_backend
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import KFold

from brainalign.encoders import BandedRidgeEncoder
from brainalign.evaluation import correlation_score
from brainalign.exceptions import AlphaGridWarning

GRID = np.logspace(-2, 6, 9)
SIZES = {"words": 12, "audio": 6}

pytestmark = pytest.mark.filterwarnings("ignore::brainalign.exceptions.AlphaGridWarning")


def make_bands(n_samples=200, sizes=SIZES, n_targets=10, noise=1.0, seed=0, mix=None):
    """``Y = X1 W1 sqrt(mix) + X2 W2 sqrt(1 - mix) + noise`` (per-target band mixing).

    The weights and the mixing depend only on the sizes (same model for every ``seed``);
    ``seed`` draws new samples.
    """
    wrng = np.random.default_rng(12345)
    if mix is None:
        mix = wrng.uniform(0, 1, n_targets)
    Ws = [wrng.standard_normal((p, n_targets)) / np.sqrt(p) for p in sizes.values()]
    rng = np.random.default_rng(seed)
    Xs = {k: rng.standard_normal((n_samples, p)) + 0.3 for k, p in sizes.items()}
    w = np.stack([np.sqrt(mix), np.sqrt(1 - mix)])
    signals = [x @ W * wi for x, W, wi in zip(Xs.values(), Ws, w)]
    Y = sum(signals) + noise * rng.standard_normal((n_samples, n_targets)) + 1.0
    return Xs, Y, mix, signals


@pytest.fixture(autouse=True)
def _numpy_backend():
    set_backend("numpy")
    yield
    set_backend("numpy")


# ---------------------------------------------------------------------------------------------
# equality with himalaya
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_primal_equals_himalaya_group_ridge_cv(fit_intercept):
    from himalaya.ridge import GroupRidgeCV

    Xs, Y, _, _ = make_bands()
    X_test, _, _, _ = make_bands(50, seed=1)
    splits = list(KFold(4).split(Y))
    params = dict(alphas=GRID, n_iter=12, concentration=[0.1, 1.0], progress_bar=False)
    model = BandedRidgeEncoder(
        alphas=GRID, n_iter=12, cv=splits, random_state=3, fit_intercept=fit_intercept
    ).fit(Xs, Y)
    ref = GroupRidgeCV(
        groups="input", solver_params=params, cv=splits, random_state=3,
        fit_intercept=fit_intercept,
    ).fit(list(Xs.values()), Y)  # fmt: skip
    assert model.solver_ == "primal"
    assert len(np.unique(np.round(model.band_weights_[0], 6))) > 2, "deltas should vary"
    np.testing.assert_allclose(model.deltas_, ref.deltas_)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(model.cv_scores_, ref.cv_scores_)
    np.testing.assert_allclose(model.alphas_, ref.best_alphas_)
    np.testing.assert_allclose(
        model.predict(X_test), ref.predict(list(X_test.values())), rtol=1e-6, atol=1e-10
    )


def test_dual_equals_himalaya_multiple_kernel_ridge_cv():
    from himalaya.kernel_ridge import MultipleKernelRidgeCV

    sizes = {"a": 40, "b": 30}
    Xs, Y, _, _ = make_bands(50, sizes=sizes, noise=0.5)
    X_test, _, _, _ = make_bands(20, sizes=sizes, seed=1)
    splits = list(KFold(5).split(Y))
    model = BandedRidgeEncoder(alphas=GRID, n_iter=10, cv=splits, random_state=0).fit(Xs, Y)
    assert model.solver_ == "dual"
    Ks = np.stack([x @ x.T for x in Xs.values()])
    params = dict(alphas=GRID, n_iter=10, concentration=[0.1, 1.0], progress_bar=False)
    ref = MultipleKernelRidgeCV(
        kernels="precomputed", solver_params=params, cv=splits, random_state=0,
        fit_intercept=True,
    ).fit(Ks, Y)  # fmt: skip
    np.testing.assert_allclose(model.deltas_, ref.deltas_)
    np.testing.assert_allclose(model.cv_scores_, ref.cv_scores_)
    ref_coef = np.concatenate(ref.get_primal_coef(list(Xs.values())))
    np.testing.assert_allclose(model.coef_, ref_coef, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, rtol=1e-6)
    K_test = np.stack([xt @ x.T for xt, x in zip(X_test.values(), Xs.values())])
    np.testing.assert_allclose(model.predict(X_test), ref.predict(K_test), rtol=1e-6, atol=1e-9)


def test_primal_and_dual_agree():
    Xs, Y, _, _ = make_bands(60, sizes={"a": 20, "b": 15}, noise=0.7)
    kw = dict(alphas=GRID, n_iter=8, random_state=1, cv=3)
    primal = BandedRidgeEncoder(solver="primal", **kw).fit(Xs, Y)
    dual = BandedRidgeEncoder(solver="dual", **kw).fit(Xs, Y)
    np.testing.assert_allclose(primal.deltas_, dual.deltas_, rtol=1e-6)
    np.testing.assert_allclose(primal.coef_, dual.coef_, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(primal.intercept_, dual.intercept_, rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------------------------------------
# planted weights
# ---------------------------------------------------------------------------------------------
def test_planted_recovery_and_variance_partitioning():
    n_targets = 40
    mix = np.linspace(0.02, 0.98, n_targets)
    sizes = {"a": 30, "b": 20}
    Xs, Y, _, _ = make_bands(500, sizes=sizes, n_targets=n_targets, mix=mix)
    Xt, Yt, _, signals = make_bands(300, sizes=sizes, n_targets=n_targets, mix=mix, seed=1)
    model = BandedRidgeEncoder(alphas=GRID, n_iter=20, random_state=0).fit(Xs, Y)
    r = model.score(Xt, Yt, multioutput="raw_values")
    oracle = correlation_score(Yt, sum(signals))
    assert r.mean() > 0.9 * oracle.mean()
    assert np.all(r > oracle - 0.1)
    # the band with more signal gets the larger weight, and the larger R² share
    share = model.score_split(Xt, Yt)
    assert share.shape == (2, n_targets)
    assert np.corrcoef(share[0] - share[1], mix)[0, 1] > 0.85
    assert np.corrcoef(model.band_weights_[0], mix)[0, 1] > 0.8
    # shares sum to the R² of the (centred) joint prediction
    y = Yt - Yt.mean(0)
    p = model.predict(Xt) - model.predict(Xt).mean(0)
    r2 = 1 - ((y - p) ** 2).sum(0) / (y**2).sum(0)
    np.testing.assert_allclose(share.sum(0), r2, rtol=1e-8, atol=1e-10)


def test_score_split_equals_himalaya_r2_score_split():
    from himalaya.scoring import r2_score_split

    Xs, Y, _, _ = make_bands()
    Xt, Yt, _, _ = make_bands(80, seed=2)
    model = BandedRidgeEncoder(alphas=GRID, n_iter=5, random_state=0).fit(Xs, Y)
    parts = model.predict(Xt, split=True)
    ref = r2_score_split(Yt - Yt.mean(0), parts - parts.mean(1, keepdims=True))
    np.testing.assert_allclose(model.score_split(Xt, Yt), ref, rtol=1e-8, atol=1e-12)


def test_split_predictions_sum_to_predict():
    Xs, Y, _, _ = make_bands()
    model = BandedRidgeEncoder(alphas=GRID, n_iter=5, random_state=0).fit(Xs, Y)
    parts = model.predict(Xs, split=True)
    assert parts.shape == (2, 200, 10)
    np.testing.assert_allclose(parts.sum(0) + model.intercept_, model.predict(Xs), rtol=1e-10)
    np.testing.assert_allclose(parts[1], Xs["audio"] @ model.get_band_coef("audio"))


def test_fitted_band_attributes():
    Xs, Y, _, _ = make_bands()
    model = BandedRidgeEncoder(alphas=GRID, n_iter=6, random_state=0).fit(Xs, Y)
    assert model.band_names_ == ["words", "audio"]
    assert model.band_slices_ == [slice(0, 12), slice(12, 18)]
    assert model.coef_.shape == (18, 10)
    assert model.n_features_in_ == 18
    assert model.deltas_.shape == model.band_alphas_.shape == model.band_weights_.shape == (2, 10)
    np.testing.assert_allclose(model.band_alphas_, np.exp(-model.deltas_))
    np.testing.assert_allclose(model.band_weights_.sum(0), 1.0)
    np.testing.assert_allclose(model.alphas_, 1 / np.exp(model.deltas_).sum(0))
    # alphas_ is the grid value; each band's penalty is alpha / band weight
    assert np.all(np.isclose(model.alphas_[:, None], GRID[None]).any(1))
    np.testing.assert_allclose(model.band_alphas_, model.alphas_ / model.band_weights_)
    assert model.cv_scores_.shape == (6, 10)
    np.testing.assert_array_equal(model.get_band_coef("words"), model.coef_[:12])


def test_array_input_with_sizes_or_slices_equals_dict_input():
    Xs, Y, _, _ = make_bands()
    X = np.concatenate(list(Xs.values()), axis=1)
    kw = dict(alphas=GRID, n_iter=5, random_state=0)
    ref = BandedRidgeEncoder(**kw).fit(Xs, Y)
    by_size = BandedRidgeEncoder(bands=SIZES, **kw).fit(X, Y)
    np.testing.assert_allclose(by_size.coef_, ref.coef_)
    # slices in another order than the columns: band order = dict order, coef_ = column order
    X_swapped = np.concatenate([Xs["audio"], Xs["words"]], axis=1)
    bands = {"words": slice(6, 18), "audio": slice(0, 6)}
    by_slice = BandedRidgeEncoder(bands=bands, **kw).fit(X_swapped, Y)
    np.testing.assert_allclose(by_slice.deltas_, ref.deltas_)
    np.testing.assert_allclose(by_slice.coef_[6:], ref.coef_[:12])
    np.testing.assert_allclose(by_slice.get_band_coef("audio"), ref.get_band_coef("audio"))
    np.testing.assert_allclose(by_slice.predict(X_swapped), ref.predict(Xs))
    # a model fitted on a dict also predicts from the concatenated array
    np.testing.assert_allclose(ref.predict(X), ref.predict(Xs))


@pytest.mark.parametrize("solver", ["primal", "dual"])
def test_array_without_bands_is_one_band_ridge(solver):
    from brainalign.encoders import RidgeEncoder

    Xs, Y, _, _ = make_bands()
    X = np.concatenate(list(Xs.values()), axis=1)
    splits = list(KFold(4).split(X))
    model = BandedRidgeEncoder(alphas=GRID, n_iter=3, cv=splits, solver=solver, random_state=0)
    model.fit(X, Y)
    ridge = RidgeEncoder(alphas=GRID, cv=splits, solver=solver).fit(X, Y)
    assert model.band_names_ == ["X"]
    assert model.band_slices_ == [slice(0, 18)]
    np.testing.assert_array_equal(model.band_weights_, 1.0)
    np.testing.assert_allclose(model.alphas_, ridge.alphas_, rtol=1e-6)
    np.testing.assert_allclose(model.coef_, ridge.coef_, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(model.intercept_, ridge.intercept_, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(model.predict(X), ridge.predict(X), rtol=1e-6, atol=1e-10)


def test_alpha_edge_warning():
    rng = np.random.default_rng(0)
    Xs = {"a": rng.standard_normal((80, 4)), "b": rng.standard_normal((80, 3))}
    Y = rng.standard_normal((80, 6))  # no signal: the largest alpha wins
    with pytest.warns(AlphaGridWarning, match=r"6 of 6 targets .*6 at the largest"):
        BandedRidgeEncoder(alphas=np.logspace(-2, 1, 4), n_iter=3, random_state=0).fit(Xs, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BandedRidgeEncoder(
            alphas=np.logspace(-2, 1, 4), n_iter=3, random_state=0, warn_alpha_edge=False
        ).fit(Xs, Y)


# ---------------------------------------------------------------------------------------------
# API, backend
# ---------------------------------------------------------------------------------------------
def test_clone_get_params_pickle():
    model = BandedRidgeEncoder(bands=SIZES, alphas=GRID, n_iter=4, random_state=0)
    assert clone(model).get_params()["bands"] == SIZES
    Xs, Y, _, _ = make_bands()
    X = np.concatenate(list(Xs.values()), axis=1)
    model.fit(X, Y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    assert restored.band_names_ == ["words", "audio"]


def test_backend_restored_after_exception(monkeypatch):
    pytest.importorskip("torch")
    import himalaya.ridge

    def broken_fit(self, X, y=None):
        raise FloatingPointError("boom")

    monkeypatch.setattr(himalaya.ridge.GroupRidgeCV, "fit", broken_fit)
    set_backend("torch")
    Xs, Y, _, _ = make_bands()
    with pytest.raises(FloatingPointError, match="boom"):
        BandedRidgeEncoder(alphas=GRID, engine="himalaya").fit(Xs, Y)
    assert get_backend().name == "torch"


def test_cuda_without_cuda():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    Xs, Y, _, _ = make_bands()
    with pytest.raises(RuntimeError, match="device='cuda'"):
        BandedRidgeEncoder(device="cuda").fit(Xs, Y)


@pytest.mark.gpu
@pytest.mark.parametrize("solver", ["primal", "dual"])
def test_cuda_matches_cpu(solver):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    n = 200 if solver == "primal" else 15
    Xs, Y, _, _ = make_bands(n)
    Xs = {k: v.astype(np.float32) for k, v in Xs.items()}  # himalaya warns on float64 on GPU
    Y = Y.astype(np.float32)
    kw = dict(alphas=GRID, n_iter=6, random_state=0, solver=solver)
    cpu = BandedRidgeEncoder(**kw).fit(Xs, Y)
    gpu = BandedRidgeEncoder(device="cuda", **kw).fit(Xs, Y)
    assert isinstance(gpu.coef_, np.ndarray) and gpu.coef_.dtype == np.float32
    same = np.all(np.isclose(gpu.deltas_, cpu.deltas_, rtol=1e-4), axis=0)
    assert same.mean() >= 0.8
    np.testing.assert_allclose(gpu.coef_[:, same], cpu.coef_[:, same], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(
        gpu.predict(Xs)[:, same], cpu.predict(Xs)[:, same], rtol=1e-3, atol=1e-3
    )
    assert get_backend().name == "numpy"


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------
def test_unknown_band_name():
    Xs, Y, _, _ = make_bands()
    model = BandedRidgeEncoder(alphas=GRID, n_iter=3, random_state=0).fit(Xs, Y)
    with pytest.raises(
        KeyError, match=r"one of the fitted bands \['words', 'audio'\]; got 'video'"
    ):
        model.get_band_coef("video")
    with pytest.raises(KeyError, match=r"missing \['audio'\], unknown \['video'\]"):
        model.predict({"words": Xs["words"], "video": Xs["audio"]})


@pytest.mark.parametrize(
    ("bands", "exc", "match"),
    [
        ({"a": 10, "b": 5}, ValueError, r"cover the 18 columns of `X` exactly once.*3 columns uncovered"),
        ({"a": 10, "b": 10}, ValueError, r"exactly once.*bands reach past the last column"),
        ({"a": slice(0, 10), "b": slice(8, 18)}, ValueError, r"2 covered twice"),
        ({"a": slice(0, 10), "b": slice(10, 30)}, ValueError, r"`bands\['b'\]` must be a contiguous"),
        ({"a": slice(0, 18, 2)}, ValueError, r"`bands\['a'\]` must be a contiguous"),
        ({"a": 18.0}, TypeError, r"`bands` values must be all ints"),
        ([12, 6], TypeError, r"`bands` must be a non-empty dict"),
    ],
)  # fmt: skip
def test_bands_that_do_not_cover_X(bands, exc, match):
    Xs, Y, _, _ = make_bands()
    X = np.concatenate(list(Xs.values()), axis=1)
    with pytest.raises(exc, match=match):
        BandedRidgeEncoder(bands=bands).fit(X, Y)


def test_input_errors():
    Xs, Y, _, _ = make_bands()
    with pytest.raises(ValueError, match=r"`bands` must be None when `X` is a dict"):
        BandedRidgeEncoder(bands=SIZES).fit(Xs, Y)
    msg = "`Y` must have as many samples as `X`; got X.shape=(200, 12), Y.shape=(198, 10). Did you trim the first TRs of each run?"
    with pytest.raises(ValueError, match=re.escape(msg)):
        BandedRidgeEncoder().fit(Xs, Y[2:])
    bad = dict(Xs, audio=Xs["audio"][1:])
    with pytest.raises(
        ValueError, match=r"`X\['audio'\]` must have as many samples as `X\['words'\]`"
    ):
        BandedRidgeEncoder().fit(bad, Y)
    nan = dict(Xs, audio=Xs["audio"].copy())
    nan["audio"][5, 2] = np.nan
    with pytest.raises(ValueError, match=r"`X\['audio'\]` must contain only finite values"):
        BandedRidgeEncoder().fit(nan, Y)
    with pytest.raises(ValueError, match=r"`Y` must contain only finite values"):
        BandedRidgeEncoder().fit(Xs, np.where(Y > 2.5, np.inf, Y))
    with pytest.raises(NotFittedError):
        BandedRidgeEncoder().predict(Xs)
    with pytest.raises(ValueError, match=r"`n_iter` must be an int >= 1; got 0"):
        BandedRidgeEncoder(n_iter=0).fit(Xs, Y)
    model = BandedRidgeEncoder(alphas=GRID, n_iter=3, random_state=0).fit(Xs, Y)
    with pytest.raises(
        ValueError, match=r"`X` must have the 18 features seen during fit; got X.shape=\(200, 17\)"
    ):
        model.predict(np.zeros((200, 17)))
    with pytest.raises(
        ValueError, match=r"`X\['audio'\]` must have the 6 features seen during fit"
    ):
        model.predict(dict(Xs, audio=Xs["audio"][:, :5]))
    with pytest.raises(ValueError, match=r"`Y` must have as many samples as `X`"):
        model.score_split(Xs, Y[:-1])


def test_verbose_controls_himalaya_progress_bar(capsys):
    rng = np.random.default_rng(0)
    X = {"a": rng.standard_normal((60, 3)), "b": rng.standard_normal((60, 2))}
    Y = X["a"] @ rng.standard_normal((3, 4)) + rng.standard_normal((60, 4))
    BandedRidgeEncoder(n_iter=2, random_state=0, verbose=False, warn_alpha_edge=False).fit(X, Y)
    assert "random sampling" not in capsys.readouterr().out
    BandedRidgeEncoder(n_iter=2, random_state=0, verbose=True, warn_alpha_edge=False).fit(X, Y)
    assert "random sampling" in capsys.readouterr().out
