"""brainalign's banded-ridge solver against himalaya's random search (same seed, same folds).

Ground truth is himalaya itself (``engine="himalaya"``, the reference implementation): on
float64 data every fitted quantity must agree to round-off; on float32 data the selections
must agree wherever they are well defined (held-out r within 0.002 otherwise), in the primal
(n_samples > n_features) and in the dual (n_features > n_samples) regime.
"""

from __future__ import annotations

import numpy as np
import pytest
from himalaya.backend import get_backend, set_backend
from himalaya.kernel_ridge import generate_dirichlet_samples
from sklearn.model_selection import KFold

from brainalign.encoders import BandedRidgeEncoder
from brainalign.evaluation import correlation_score

GRID = np.logspace(-2, 6, 9)

pytestmark = pytest.mark.filterwarnings("ignore::brainalign.exceptions.AlphaGridWarning")


def planted(n_samples, sizes, n_targets, noise=1.0, seed=0, dtype=np.float64, offset=0.3):
    """``Y = sum_b X_b W_b sqrt(mix_b) + noise`` with a per-target band mixing ``mix``."""
    rng = np.random.default_rng(seed)
    wrng = np.random.default_rng(123)
    mix = wrng.dirichlet(np.ones(len(sizes)), n_targets).T
    Xs = {k: rng.standard_normal((n_samples, p)) + offset for k, p in sizes.items()}
    Y = sum(
        x @ (wrng.standard_normal((x.shape[1], n_targets)) / np.sqrt(x.shape[1])) * np.sqrt(m)
        for x, m in zip(Xs.values(), mix)
    )
    Y = Y + noise * rng.standard_normal((n_samples, n_targets)) + 1.0
    return {k: v.astype(dtype) for k, v in Xs.items()}, Y.astype(dtype)


@pytest.fixture(autouse=True)
def _numpy_backend():
    set_backend("numpy")
    yield
    set_backend("numpy")


def _pair(Xs, Y, engine="auto", **kw):
    ours = BandedRidgeEncoder(engine=engine, **kw).fit(Xs, Y)
    ref = BandedRidgeEncoder(engine="himalaya", **kw).fit(Xs, Y)
    return ours, ref


def _assert_same_fit(ours, ref, rtol=1e-7, atol=1e-10):
    np.testing.assert_allclose(ours.deltas_, ref.deltas_, rtol=1e-10)
    np.testing.assert_allclose(ours.cv_scores_, ref.cv_scores_, rtol=rtol)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=rtol, atol=atol)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------------
# candidates
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n_iter", "n_bands", "concentration", "seed"),
    [(20, 2, [0.1, 1.0], 0), (7, 3, [0.1, 1.0], 5), (9, 4, [np.inf, 0.3, 2.0], 2), (4, 1, 1.0, 1)],
)
def test_same_band_weightings_as_himalaya(n_iter, n_bands, concentration, seed):
    from brainalign.encoders._solver import dirichlet_candidates  # the search's own sampler

    ref = generate_dirichlet_samples(n_iter, n_bands, concentration, random_state=seed)
    ref = np.asarray(get_backend().to_numpy(ref))
    ref[0] = 1.0 / n_bands
    np.testing.assert_array_equal(dirichlet_candidates(n_iter, n_bands, concentration, seed), ref)


# ---------------------------------------------------------------------------------------------
# float64: equal to himalaya to round-off
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_alphas", [3, 9, 21])  # direct, then pole kernels
def test_primal_float64_equals_himalaya(fit_intercept, n_alphas):
    Xs, Y = planted(150, {"a": 14, "b": 6, "c": 4}, 12)
    splits = list(KFold(5).split(Y))
    kw = dict(alphas=np.logspace(-2, 6, n_alphas), n_iter=10, cv=splits, random_state=3)
    ours, ref = _pair(Xs, Y, fit_intercept=fit_intercept, **kw)
    assert ours.solver_ == ref.solver_ == "primal"
    assert ours.engine_ == "numpy" and ref.engine_ == "himalaya"
    assert len(np.unique(np.round(ours.band_weights_[0], 6))) > 2, "weightings should vary"
    _assert_same_fit(ours, ref)


@pytest.mark.parametrize("n_alphas", [3, 21])
def test_dual_float64_equals_himalaya(n_alphas):
    Xs, Y = planted(40, {"a": 50, "b": 30}, 8, noise=0.5)
    kw = dict(alphas=np.logspace(-2, 6, n_alphas), n_iter=8, cv=5, random_state=0)
    ours, ref = _pair(Xs, Y, **kw)
    assert ours.solver_ == ref.solver_ == "dual"
    _assert_same_fit(ours, ref, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("n_alphas", [2, 21])  # direct and pole kernels
def test_rank_deficient_primal_and_degenerate_spectrum(n_alphas):
    """Duplicated columns and more features than training samples: (near-)equal eigenvalues."""
    Xs, Y = planted(30, {"a": 20, "b": 12}, 6)
    Xs["b"][:, 6:] = Xs["b"][:, :6]  # exact duplicates: a cluster of zero eigenvalues
    kw = dict(alphas=np.logspace(-2, 6, n_alphas), n_iter=6, cv=3, random_state=1)
    for solver in ("primal", "dual"):
        ours, ref = _pair(Xs, Y, solver=solver, **kw)
        np.testing.assert_allclose(ours.deltas_, ref.deltas_, rtol=1e-10)
        np.testing.assert_allclose(ours.cv_scores_, ref.cv_scores_, rtol=1e-6)
        np.testing.assert_allclose(ours.predict(Xs), ref.predict(Xs), rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------------------------------------
# float32, planted data: same selections as himalaya, both regimes
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n_samples", "sizes", "solver"),
    [(600, {"a": 40, "b": 10}, "primal"), (120, {"a": 300, "b": 100}, "dual")],
)
def test_float32_same_selection_as_himalaya(n_samples, sizes, solver):
    Xs, Y = planted(n_samples, sizes, 60, noise=2.0, dtype=np.float32, offset=0.0)
    Xt, Yt = planted(200, sizes, 60, noise=2.0, seed=1, dtype=np.float32, offset=0.0)
    ours, ref = _pair(Xs, Y, alphas=GRID, n_iter=20, cv=5, random_state=0)
    assert ours.solver_ == ref.solver_ == solver
    assert ours.coef_.dtype == np.float32
    same = np.all(np.isclose(ours.deltas_, ref.deltas_, rtol=1e-5), axis=0)
    assert same.mean() >= 0.9
    np.testing.assert_allclose(ours.cv_scores_, ref.cv_scores_, rtol=2e-4)
    r_ours = correlation_score(Yt, ours.predict(Xt))
    r_ref = correlation_score(Yt, ref.predict(Xt))
    assert np.abs(r_ours - r_ref).mean() < 0.002
    np.testing.assert_allclose(r_ours[same], r_ref[same], atol=1e-4)


# ---------------------------------------------------------------------------------------------
# engines, batches, targets independent of each other
# ---------------------------------------------------------------------------------------------
def test_torch_engine_equals_numpy_engine():
    pytest.importorskip("torch")
    Xs, Y = planted(100, {"a": 12, "b": 5}, 9)
    kw = dict(alphas=GRID, n_iter=6, cv=4, random_state=0)
    ref = BandedRidgeEncoder(engine="numpy", **kw).fit(Xs, Y)
    ours = BandedRidgeEncoder(engine="torch", **kw).fit(Xs, Y)
    assert ours.engine_ == "torch"
    np.testing.assert_allclose(ours.deltas_, ref.deltas_)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-8, atol=1e-12)
    Xs, Y = planted(30, {"a": 40, "b": 20}, 9)
    ref = BandedRidgeEncoder(engine="numpy", **kw).fit(Xs, Y)
    ours = BandedRidgeEncoder(engine="torch", **kw).fit(Xs, Y)
    np.testing.assert_allclose(ours.deltas_, ref.deltas_)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("sizes", [{"a": 10, "b": 6}, {"a": 60, "b": 40}])
def test_batches_and_target_chunks_do_not_change_the_fit(sizes):
    Xs, Y = planted(50, sizes, 11)
    kw = dict(alphas=GRID, n_iter=5, cv=5, random_state=0)
    whole = BandedRidgeEncoder(**kw).fit(Xs, Y)
    batched = BandedRidgeEncoder(
        n_targets_batch=4, n_alphas_batch=2, n_targets_batch_refit=3, **kw
    ).fit(Xs, Y)
    half = BandedRidgeEncoder(**kw).fit(Xs, Y[:, 5:])
    for model, cols in ((batched, slice(None)), (half, slice(5, None))):
        np.testing.assert_array_equal(model.deltas_, whole.deltas_[:, cols])
        np.testing.assert_allclose(model.coef_, whole.coef_[:, cols], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(model.cv_scores_, whole.cv_scores_[:, cols], rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# search="refine"
# ---------------------------------------------------------------------------------------------
def test_refine_evaluates_a_subset_of_the_same_weightings():
    from brainalign.encoders._solver import dirichlet_candidates

    Xs, Y = planted(300, {"a": 30, "b": 10}, 40, noise=1.0)
    Xt, Yt = planted(200, {"a": 30, "b": 10}, 40, noise=1.0, seed=1)
    kw = dict(alphas=GRID, n_iter=20, cv=5, random_state=0)
    full = BandedRidgeEncoder(**kw).fit(Xs, Y)
    refined = BandedRidgeEncoder(search="refine", **kw).fit(Xs, Y)
    scored = ~np.isnan(refined.cv_scores_)
    evaluated = scored.any(1)
    assert scored[0].all() and 4 <= evaluated.sum() <= 12  # uniform first, at most 60% of 20
    # refinement steps score only the targets that select a nearby weighting
    assert (evaluated & ~scored.all(1)).any()
    # the uniform weighting scores exactly as in the full search; the others, on a window of
    # alphas around each target's current one, never better than on the whole grid
    np.testing.assert_allclose(refined.cv_scores_[0], full.cv_scores_[0])
    np.testing.assert_array_less(
        refined.cv_scores_[scored],
        full.cv_scores_[scored] + 1e-12 * np.abs(full.cv_scores_[scored]),
    )
    assert np.isclose(refined.cv_scores_[scored], full.cv_scores_[scored], rtol=1e-10).mean() > 0.8
    # every target selects one of the evaluated weightings, the best one
    gammas = dirichlet_candidates(20, 2, [0.1, 1.0], 0)
    match = np.isclose(refined.band_weights_.T[:, None, :], gammas[None], rtol=1e-6).all(2)
    selected = match.argmax(1)
    assert match.any(1).all() and evaluated[selected].all()
    best = np.nanmax(refined.cv_scores_, axis=0)
    np.testing.assert_allclose(refined.cv_scores_[selected, np.arange(40)], best, rtol=1e-12)
    r_refined = refined.score(Xt, Yt, multioutput="raw_values")
    r_full = full.score(Xt, Yt, multioutput="raw_values")
    assert abs(r_refined.mean() - r_full.mean()) < 0.005


def test_refine_order_covers_then_follows_selections():
    from brainalign.encoders._solver import dirichlet_candidates, refine_order

    gammas = dirichlet_candidates(20, 2, [0.1, 1.0], 0)
    ratio = np.clip(np.log10(gammas[:, 1] / gammas[:, 0]), -5, 5)
    steps = list(refine_order(gammas, lambda: np.zeros(10, dtype=int), budget=20))
    picked = [ii for ii, _ in steps]
    assert picked[0] == 0 and len(set(picked)) == len(picked)
    coarse = [ii for ii, near in steps if near is None]
    assert coarse == picked[: len(coarse)] and len(coarse) < len(picked)
    # the coarse covering leaves no candidate farther than one decade from a picked one
    gaps = np.abs(ratio[:, None] - ratio[None, coarse]).min(1)
    assert gaps.max() <= 1.0
    # refinement near the weighting that all targets select (here: the uniform one, 0), on the
    # targets that select an evaluated weighting within a decade of its nearest one
    for k, (ii, near) in enumerate(steps[len(coarse) :], start=len(coarse)):
        assert np.abs(ratio[ii]) <= 1.0
        dist = np.abs(ratio[ii] - ratio[picked[:k]])
        assert sorted(near) == sorted(np.array(picked[:k])[dist <= dist.min() + 1.0].tolist())
    assert len(list(refine_order(gammas, lambda: np.zeros(10, dtype=int), budget=3))) == 3


@pytest.mark.parametrize("engine", ["numpy", "torch"])
@pytest.mark.parametrize("n_targets", [5, 400])  # coefficient route, operator route
def test_window_errors_equal_the_full_grid_inside_each_window(engine, n_targets):
    from brainalign.encoders._solver_backend import make_ops
    from brainalign.encoders._solver_kernels import _direct_errors, window_errors

    ops = make_ops(engine, "cpu")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 80))
    K = X @ X.T
    s, U = np.linalg.eigh(K[:50, :50])
    T = K[50:, :50] @ U
    R = rng.standard_normal((50, n_targets))
    Y_test = rng.standard_normal((10, n_targets))
    lo = rng.integers(0, 5, n_targets)
    args = [ops.asarray(a, np.float64) for a in (s, U, T, R, Y_test, GRID)]
    full = ops.to_numpy(_direct_errors(ops, *args, None))
    win = ops.to_numpy(window_errors(ops, *args, lo, 5))
    inside = np.zeros(win.shape, dtype=bool)
    for t, a0 in enumerate(lo):
        inside[a0 : a0 + 5, t] = True
    assert np.all(np.isinf(win[~inside]))
    np.testing.assert_allclose(win[inside], full[inside], rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# errors, GPU
# ---------------------------------------------------------------------------------------------
def test_engine_and_search_errors():
    Xs, Y = planted(30, {"a": 3, "b": 2}, 2)
    with pytest.raises(
        ValueError, match=r"`engine` must be one of \['auto', 'numpy', 'torch', 'himalaya'\]"
    ):
        BandedRidgeEncoder(engine="jax").fit(Xs, Y)
    with pytest.raises(ValueError, match=r"`search` must be one of \['random', 'refine'\]"):
        BandedRidgeEncoder(search="grid").fit(Xs, Y)
    with pytest.raises(ValueError, match=r"`search='refine'` needs brainalign's engine"):
        BandedRidgeEncoder(search="refine", engine="himalaya").fit(Xs, Y)
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"`engine='numpy'` runs on the CPU only"):
            BandedRidgeEncoder(engine="numpy", device="cuda").fit(Xs, Y)


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_thread_settings_restored_also_after_an_error(engine, monkeypatch):
    """The eigendecompositions run on single-threaded LAPACK; the settings come back."""
    from threadpoolctl import threadpool_info

    torch = pytest.importorskip("torch")
    from brainalign.encoders import _solver_backend

    def blas_threads():
        return [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"]

    before = (torch.get_num_threads(), blas_threads())
    Xs, Y = planted(60, {"a": 5, "b": 3}, 3)
    BandedRidgeEncoder(engine=engine, n_iter=3, random_state=0).fit(Xs, Y)
    assert (torch.get_num_threads(), blas_threads()) == before

    def broken(self, a):
        raise FloatingPointError("boom")

    cls = _solver_backend.NumpyOps if engine == "numpy" else _solver_backend.TorchOps
    monkeypatch.setattr(cls, "eigh", broken)
    with pytest.raises(FloatingPointError, match="boom"):
        BandedRidgeEncoder(engine=engine, n_iter=3, random_state=0).fit(Xs, Y)
    assert (torch.get_num_threads(), blas_threads()) == before


@pytest.mark.gpu
@pytest.mark.parametrize("sizes", [{"a": 30, "b": 10}, {"a": 300, "b": 200}])
def test_cuda_solver_matches_cpu(sizes):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    Xs, Y = planted(200, sizes, 40, noise=2.0, dtype=np.float32, offset=0.0)
    kw = dict(alphas=GRID, n_iter=10, random_state=0)
    cpu = BandedRidgeEncoder(**kw).fit(Xs, Y)
    gpu = BandedRidgeEncoder(device="cuda", **kw).fit(Xs, Y)
    assert gpu.engine_ == "torch" and gpu.coef_.dtype == np.float32
    same = np.all(np.isclose(gpu.deltas_, cpu.deltas_, rtol=1e-5), axis=0)
    assert same.mean() >= 0.9
    np.testing.assert_allclose(gpu.cv_scores_, cpu.cv_scores_, rtol=2e-4)
    np.testing.assert_allclose(
        gpu.predict(Xs)[:, same], cpu.predict(Xs)[:, same], rtol=1e-3, atol=1e-3
    )
    assert get_backend().name == "numpy"
