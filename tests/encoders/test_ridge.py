"""RidgeEncoder: equality with scikit-learn and himalaya, CV defaults, backend, errors."""

from __future__ import annotations

import pickle
import re
import warnings

import numpy as np
import pytest
from himalaya.backend import get_backend, set_backend
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, LeaveOneGroupOut

from brainalign.encoders import DEFAULT_ALPHAS, RidgeEncoder
from brainalign.evaluation import correlation_score
from brainalign.exceptions import AlphaGridWarning

GRID = np.logspace(-1, 5, 7)

# Small random designs often put a few targets on a flat end of the CV curve; the warning is
# tested on its own (test_alpha_edge_warning_counts_each_edge), with warnings as errors there.
pytestmark = pytest.mark.filterwarnings("ignore::brainalign.exceptions.AlphaGridWarning")


def make_data(n_samples=120, n_features=15, n_targets=8, seed=0, noise=None):
    """Planted weights; per-target noise levels so that the selected alphas differ."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features)) + 0.5
    W = rng.standard_normal((n_features, n_targets)) / np.sqrt(n_features)
    if noise is None:
        noise = np.linspace(0.5, 2.0, n_targets)
    Y = X @ W + noise * rng.standard_normal((n_samples, n_targets)) + 2.0
    return X, Y


@pytest.fixture(autouse=True)
def _numpy_backend():
    """Every test starts and ends on himalaya's numpy backend."""
    set_backend("numpy")
    yield
    set_backend("numpy")


# ---------------------------------------------------------------------------------------------
# equality with references
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(
    ("solver", "shape"), [("primal", (100, 20)), ("dual", (40, 70)), ("auto", (40, 70))]
)
def test_equals_sklearn_ridge_at_fixed_alpha(solver, shape, fit_intercept):
    X, Y = make_data(*shape, n_targets=5)
    X_test, _ = make_data(30, shape[1], seed=1)
    alpha = 3.0
    model = RidgeEncoder(alphas=[alpha], solver=solver, fit_intercept=fit_intercept).fit(X, Y)
    ref = Ridge(alpha=alpha, fit_intercept=fit_intercept).fit(X, Y)
    assert model.solver_ == ("dual" if solver == "auto" else solver)
    np.testing.assert_allclose(model.alphas_, alpha)
    np.testing.assert_allclose(model.coef_, ref.coef_.T, rtol=1e-5, atol=1e-10)
    np.testing.assert_allclose(model.intercept_, np.broadcast_to(ref.intercept_, 5), rtol=1e-5)
    np.testing.assert_allclose(model.predict(X_test), ref.predict(X_test), rtol=1e-5)
    assert model.coef_.dtype == np.float64


@pytest.mark.parametrize("solver", ["primal", "dual"])
def test_equals_himalaya_cv_with_same_grid_and_splits(solver):
    from himalaya.kernel_ridge import KernelRidgeCV
    from himalaya.ridge import RidgeCV

    shape = (150, 12) if solver == "primal" else (60, 90)
    X, Y = make_data(*shape, n_targets=10)
    splits = list(KFold(4).split(X))
    model = RidgeEncoder(alphas=GRID, cv=splits, solver=solver).fit(X, Y)
    if solver == "primal":
        ref = RidgeCV(alphas=GRID, cv=splits, fit_intercept=True).fit(X, Y)
        ref_coef = ref.coef_
    else:
        ref = KernelRidgeCV(alphas=GRID, cv=splits, fit_intercept=True, warn=False).fit(X, Y)
        ref_coef = X.T @ ref.dual_coef_
    assert len(np.unique(model.alphas_)) > 1, "the test needs targets with different alphas"
    np.testing.assert_allclose(model.alphas_, ref.best_alphas_)
    np.testing.assert_allclose(model.cv_scores_, ref.cv_scores_)
    np.testing.assert_allclose(model.coef_, ref_coef, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(model.predict(X), ref.predict(X), rtol=1e-6)


def test_primal_and_dual_agree():
    X, Y = make_data(80, 30, n_targets=6)
    primal = RidgeEncoder(alphas=GRID, solver="primal").fit(X, Y)
    dual = RidgeEncoder(alphas=GRID, solver="dual").fit(X, Y)
    np.testing.assert_allclose(primal.alphas_, dual.alphas_)
    np.testing.assert_allclose(primal.coef_, dual.coef_, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(primal.intercept_, dual.intercept_, rtol=1e-6)


def test_default_cv_is_leave_one_run_out_with_groups():
    from himalaya.ridge import RidgeCV

    X, Y = make_data(150, 10)
    groups = np.repeat([0, 1, 2], 50)
    model = RidgeEncoder(alphas=GRID).fit(X, Y, groups=groups)
    splits = list(LeaveOneGroupOut().split(X, groups=groups))
    ref = RidgeCV(alphas=GRID, cv=splits, fit_intercept=True).fit(X, Y)
    np.testing.assert_allclose(model.alphas_, ref.best_alphas_)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-8)
    # one run only, or no groups: 5 contiguous folds
    for groups in (None, np.zeros(150)):
        model = RidgeEncoder(alphas=GRID).fit(X, Y, groups=groups)
        ref = RidgeCV(alphas=GRID, cv=KFold(5), fit_intercept=True).fit(X, Y)
        np.testing.assert_allclose(model.cv_scores_, ref.cv_scores_)
    # an int is KFold without shuffling
    model = RidgeEncoder(alphas=GRID, cv=3).fit(X, Y)
    ref = RidgeCV(alphas=GRID, cv=KFold(3), fit_intercept=True).fit(X, Y)
    np.testing.assert_allclose(model.cv_scores_, ref.cv_scores_)


def test_splitter_gets_groups():
    X, Y = make_data(150, 10)
    groups = np.repeat([0, 1, 2], 50)
    a = RidgeEncoder(alphas=GRID, cv=LeaveOneGroupOut()).fit(X, Y, groups=groups)
    b = RidgeEncoder(alphas=GRID).fit(X, Y, groups=groups)
    np.testing.assert_allclose(a.cv_scores_, b.cv_scores_)


def test_float32_stays_float32_and_matches_float64():
    X, Y = make_data(200, 10)
    m64 = RidgeEncoder(alphas=GRID).fit(X, Y)
    m32 = RidgeEncoder(alphas=GRID).fit(X.astype(np.float32), Y.astype(np.float32))
    assert m32.coef_.dtype == np.float32
    assert m32.predict(X.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(m32.coef_, m64.coef_, rtol=1e-3, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# score, 1-D targets, warnings
# ---------------------------------------------------------------------------------------------
def test_score_is_mean_correlation_and_raw_values():
    X, Y = make_data(200, 10)
    X_test, Y_test = make_data(100, 10, seed=3)
    model = RidgeEncoder(alphas=GRID).fit(X, Y)
    raw = model.score(X_test, Y_test, multioutput="raw_values")
    expected = correlation_score(Y_test, model.predict(X_test))
    np.testing.assert_allclose(raw, expected)
    score = model.score(X_test, Y_test)
    assert isinstance(score, float)
    assert score == pytest.approx(expected.mean())
    r2 = RidgeEncoder(alphas=GRID, scoring="r2").fit(X, Y).score(X_test, Y_test, "raw_values")
    assert r2.shape == (8,)
    assert np.all(r2 < raw**2 + 1e-12)


def test_one_dimensional_target():
    X, Y = make_data(100, 5)
    model = RidgeEncoder(alphas=GRID).fit(X, Y[:, 0])
    assert model.predict(X).shape == (100,)
    assert model.coef_.shape == (5, 1)
    np.testing.assert_allclose(
        model.predict(X), RidgeEncoder(alphas=GRID).fit(X, Y).predict(X)[:, 0]
    )


def test_alpha_edge_warning_counts_each_edge():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 5))
    Y = np.concatenate([X @ rng.standard_normal((5, 6)), rng.standard_normal((100, 4))], axis=1)
    with pytest.warns(AlphaGridWarning, match=r"selected a penalty on the edge") as record:
        RidgeEncoder(alphas=np.logspace(-1, 2, 4)).fit(X, Y)
    msg = str(record[0].message)
    assert re.search(r"6 at the smallest", msg), msg
    assert "wider grid" in msg
    # silenced on request; a grid that brackets the optimum does not warn
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RidgeEncoder(alphas=np.logspace(-1, 2, 4), warn_alpha_edge=False).fit(X, Y)
        X, Y = make_data(100, 30, n_targets=20, noise=np.full(20, 1.0))
        model = RidgeEncoder(alphas=np.logspace(-2, 6, 17)).fit(X, Y)
    assert np.mean((model.alphas_ == 1e-2) | (model.alphas_ == 1e6)) <= 0.1


def test_default_alphas():
    assert RidgeEncoder().alphas is None
    np.testing.assert_allclose(DEFAULT_ALPHAS, np.logspace(-2, 8, 21))
    X, Y = make_data(200, 10, noise=np.full(8, 1.0))
    model = RidgeEncoder().fit(X, Y)
    assert np.all(np.isin(model.alphas_, DEFAULT_ALPHAS))  # exact grid values


# ---------------------------------------------------------------------------------------------
# backend state
# ---------------------------------------------------------------------------------------------
def test_backend_is_restored_after_fit():
    pytest.importorskip("torch")
    X, Y = make_data(60, 5)
    set_backend("torch")
    model = RidgeEncoder(alphas=GRID).fit(X, Y)
    assert get_backend().name == "torch"
    assert isinstance(model.coef_, np.ndarray)
    assert isinstance(model.alphas_, np.ndarray)


@pytest.mark.parametrize("solver", ["primal", "dual"])
def test_backend_is_restored_after_an_exception_in_fit(monkeypatch, solver):
    pytest.importorskip("torch")
    import himalaya.kernel_ridge
    import himalaya.ridge

    seen = []

    def broken_fit(self, X, y=None, **kwargs):
        seen.append(get_backend().name)
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(himalaya.ridge.RidgeCV, "fit", broken_fit)
    monkeypatch.setattr(himalaya.kernel_ridge.KernelRidgeCV, "fit", broken_fit)
    set_backend("torch")
    X, Y = make_data(60, 5)
    with pytest.raises(RuntimeError, match="solver exploded"):
        RidgeEncoder(alphas=GRID, solver=solver).fit(X, Y)
    assert seen == ["numpy"]
    assert get_backend().name == "torch"


def test_cuda_without_cuda_raises_and_keeps_backend():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    X, Y = make_data(60, 5)
    with pytest.raises(RuntimeError, match=r"device='cuda'.*torch.cuda.is_available\(\) is False"):
        RidgeEncoder(device="cuda").fit(X, Y)
    assert get_backend().name == "numpy"


@pytest.mark.gpu
@pytest.mark.parametrize("solver", ["primal", "dual"])
def test_cuda_matches_cpu(solver):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    X, Y = make_data(150, 12) if solver == "primal" else make_data(60, 90)
    X, Y = X.astype(np.float32), Y.astype(np.float32)  # himalaya warns on float64 on GPU
    cpu = RidgeEncoder(alphas=GRID, solver=solver).fit(X, Y)
    gpu = RidgeEncoder(alphas=GRID, solver=solver, device="cuda").fit(X, Y)
    assert isinstance(gpu.coef_, np.ndarray) and gpu.coef_.dtype == np.float32
    same = gpu.alphas_ == cpu.alphas_
    assert same.mean() >= 0.8
    np.testing.assert_allclose(gpu.coef_[:, same], cpu.coef_[:, same], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(
        gpu.predict(X)[:, same], cpu.predict(X)[:, same], rtol=1e-3, atol=1e-3
    )
    assert get_backend().name == "numpy"


# ---------------------------------------------------------------------------------------------
# scikit-learn API
# ---------------------------------------------------------------------------------------------
def test_clone_get_params_pickle():
    model = RidgeEncoder(alphas=GRID, cv=3, solver="primal", n_targets_batch=4)
    params = model.get_params()
    assert params["cv"] == 3 and params["n_targets_batch"] == 4
    assert set(params) == {
        "alphas", "cv", "fit_intercept", "solver", "device", "scoring", "n_targets_batch",
        "n_alphas_batch", "n_targets_batch_refit", "warn_alpha_edge",
    }  # fmt: skip
    cloned = clone(model)
    assert cloned is not model
    assert cloned.get_params()["solver"] == "primal"
    X, Y = make_data(90, 6)
    model.fit(X, Y)
    assert not hasattr(clone(model), "coef_")
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))


def test_batch_knobs_do_not_change_the_result():
    X, Y = make_data(120, 10, n_targets=9)
    a = RidgeEncoder(alphas=GRID).fit(X, Y)
    b = RidgeEncoder(alphas=GRID, n_targets_batch=4, n_alphas_batch=3, n_targets_batch_refit=2)
    b.fit(X, Y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10)


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------
def test_mismatched_samples_message():
    X = np.zeros((300, 12))
    Y = np.zeros((298, 50))
    msg = (
        "`Y` must have as many samples as `X`; got X.shape=(300, 12), Y.shape=(298, 50). "
        "Did you trim the first TRs of each run?"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        RidgeEncoder().fit(X, Y)


@pytest.mark.parametrize(("where", "bad"), [("X", np.nan), ("Y", np.inf)])
def test_non_finite_inputs(where, bad):
    X, Y = make_data(50, 4)
    (X if where == "X" else Y)[3, 1] = bad
    with pytest.raises(ValueError, match=rf"`{where}` must contain only finite values.*\(3, 1\)"):
        RidgeEncoder().fit(X, Y)


def test_predict_errors():
    X, Y = make_data(50, 4)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        RidgeEncoder().predict(X)
    model = RidgeEncoder(alphas=GRID).fit(X, Y)
    with pytest.raises(
        ValueError, match=r"`X` must have the 4 features seen during fit; got X.shape=\(50, 3\)"
    ):
        model.predict(X[:, :3])
    with pytest.raises(ValueError, match=r"`X` must have shape \(n_samples, n_features\)"):
        model.predict(X[:, 0])


@pytest.mark.parametrize(
    ("params", "exc", "match"),
    [
        ({"solver": "svd"}, ValueError, r"`solver` must be one of \['auto', 'primal', 'dual'\]; got 'svd'"),
        ({"device": "gpu"}, ValueError, r"`device` must be one of \['cpu', 'cuda'\]; got 'gpu'"),
        ({"scoring": "mse"}, ValueError, r"`scoring` must be one of"),
        ({"alphas": [1.0, -1.0]}, ValueError, r"`alphas` must hold strictly positive"),
        ({"cv": 1}, ValueError, r"`cv` as an int must be the number of folds"),
        ({"cv": "runs"}, TypeError, r"`cv` must be None, an int"),
        ({"cv": [(np.arange(10), np.arange(0))]}, ValueError, r"`cv` split 0 has an empty"),
        ({"cv": [(np.arange(10), np.arange(50, 60))]}, ValueError, r"`cv` split 0 indexes sample 59"),
        ({"n_targets_batch": 0}, ValueError, r"`n_targets_batch` must be None or an integer >= 1"),
        ({"cv": [np.arange(3)]}, ValueError, r"`cv` must yield \(train, test\) pairs of index arrays; split 0"),
        ({"cv": []}, ValueError, r"`cv` must produce at least one \(train, test\) split; got none"),
        ({"cv": 3.5}, TypeError, r"`cv` must be None, an int .*got float: 3.5"),
    ],
)  # fmt: skip
def test_parameter_errors(params, exc, match):
    X, Y = make_data(50, 4)
    with pytest.raises(exc, match=match):
        RidgeEncoder(**params).fit(X, Y)
    assert get_backend().name == "numpy"


def test_bad_groups():
    X, Y = make_data(50, 4)
    with pytest.raises(ValueError, match=r"`groups` must be a 1-D array with one run label"):
        RidgeEncoder().fit(X, Y, groups=np.zeros(49))


def test_import_is_light():
    import subprocess
    import sys

    code = (
        "import sys, brainalign.encoders; "
        "print(sorted(m for m in ('torch', 'mne') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
