"""scikit-learn compatibility of the encoders: ``check_estimator`` and shared input errors.

Every input error of the encoders carries our message (parameter, expectation, what was
received, a fix) and, where scikit-learn's checks look for a phrase of their own, that phrase
too. The tests below pin both.
"""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")  # expected_failed_checks, __sklearn_tags__

from scipy import sparse
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from brainalign.encoders import BandedRidgeEncoder, RidgeEncoder, TRFEncoder

# random data: most targets select the largest penalty, which is the point of the warning
pytestmark = pytest.mark.filterwarnings("ignore::brainalign.exceptions.AlphaGridWarning")

ESTIMATORS = [
    RidgeEncoder(),
    BandedRidgeEncoder(n_iter=3, random_state=0, verbose=False),
    TRFEncoder(tmin=0, tmax=1, sfreq=1.0),
]

_Y_KEYWORD = (
    "score() names its target `Y` (brainalign convention) and the check calls "
    "score(X, y=...) by keyword; predict's feature-count check is tested below"
)
_LAGS = (
    "predictions at sample t read X[t - lag] within the run (lags), so reordering or "
    "subsetting the samples changes them by construction"
)


def expected_failed_checks(estimator):
    failures = {"check_n_features_in_after_fitting": _Y_KEYWORD}
    if isinstance(estimator, TRFEncoder):
        failures["check_methods_sample_order_invariance"] = _LAGS
        failures["check_methods_subset_invariance"] = _LAGS
    return failures


# an expected failure that starts passing should be noticed (and removed from the list)
_STRICT = (
    {"xfail_strict": True}
    if "xfail_strict" in inspect.signature(parametrize_with_checks).parameters
    else {}
)


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks, **_STRICT)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# ---------------------------------------------------------------------------------------------
# input errors: our message and scikit-learn's phrase
# ---------------------------------------------------------------------------------------------
def _data(n_samples=30, n_features=4, n_targets=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    Y = X @ rng.standard_normal((n_features, n_targets)) + rng.standard_normal(
        (n_samples, n_targets)
    )
    return X, Y


def _name(estimator):
    return type(estimator).__name__


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_name)
def test_predict_with_other_number_of_features(estimator):
    X, Y = _data()
    model = clone(estimator).fit(X, Y)
    msg = (
        r"`X` must have the 4 features seen during fit; got X.shape=\(30, 1\): X has 1 "
        rf"features, but {_name(estimator)} is expecting 4 features as input\. Build the test"
    )
    with pytest.raises(ValueError, match=msg):
        model.predict(X[:, :1])


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_name)
@pytest.mark.parametrize("container", [sparse.csr_matrix, sparse.csr_array, sparse.dok_array])
def test_sparse_input_is_refused(estimator, container):
    X, Y = _data()
    msg = (
        rf"`X` must be a dense array; got a sparse {container.__name__} of shape \(30, 4\)\. "
        r"Sparse input is not supported .* convert it with `X.toarray\(\)`"
    )
    with pytest.raises(TypeError, match=msg):
        clone(estimator).fit(container(X), Y)
    model = clone(estimator).fit(X, Y)
    with pytest.raises(TypeError, match=msg):
        model.predict(container(X))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_name)
def test_complex_input_is_refused(estimator):
    X, Y = _data()
    msg = r"`{}` must be real-valued; got dtype complex128\. Complex data not supported"
    with pytest.raises(ValueError, match=msg.format("X")):
        clone(estimator).fit(X + 1j, Y)
    with pytest.raises(ValueError, match=msg.format("Y")):
        clone(estimator).fit(X, Y + 1j)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_name)
def test_object_arrays_of_numbers_are_numeric(estimator):
    X, Y = _data()
    ref = clone(estimator).fit(X, Y)
    model = clone(estimator).fit(X.astype(object), Y.astype(object))
    assert model.coef_.dtype == np.float64
    np.testing.assert_array_equal(model.coef_, ref.coef_)
    np.testing.assert_array_equal(model.predict(X.astype(object)), ref.predict(X))
    X_bad = X.astype(object)
    X_bad[2, 1] = {"foo": "bar"}
    msg = (
        r"`X` must be a numeric array; got an array of dtype object with shape \(30, 4\) "
        r"holding a non-numeric entry \(float\(\) argument must be a string or a .*number, "
        r"not 'dict'\)\. Ragged lists or mixed types\?"
    )
    with pytest.raises(TypeError, match=msg):
        clone(estimator).fit(X_bad, Y)
    X_str = X.astype(object)
    X_str[0, 0] = "word"
    with pytest.raises(TypeError, match=r"non-numeric entry \(could not convert string"):
        clone(estimator).fit(X_str, Y)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_name)
def test_empty_and_single_sample_inputs(estimator):
    X, Y = _data()
    msg = r"`X` must not be empty; got 0 {}\(s\) \(shape={}\) while a minimum of 1 is required\."
    with pytest.raises(ValueError, match=msg.format("feature", re.escape("(30, 0)"))):
        clone(estimator).fit(X[:, :0], Y)
    with pytest.raises(ValueError, match=msg.format("sample", re.escape("(0, 4)"))):
        clone(estimator).fit(X[:0], Y[:0])
    with pytest.raises(ValueError, match=r"`Y` must not be empty; got 0 target\(s\)"):
        clone(estimator).fit(X, Y[:, :0])
    msg = (
        rf"`X` must have at least 2 samples to fit {_name(estimator)}; got n_samples=1 "
        r"\(shape=\(1, 4\)\)\. Cross-validation and centring need several samples"
    )
    with pytest.raises(ValueError, match=msg):
        clone(estimator).fit(X[:1], Y[:1])


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_name)
def test_one_dimensional_X(estimator):
    X, Y = _data()
    msg = (
        r"`X` must have shape \(n_samples, n_features\) \(2 dimensions\); got an array with "
        r"shape \(4,\)\. Reshape your data either using X.reshape\(-1, 1\)"
    )
    with pytest.raises(ValueError, match=msg):
        clone(estimator).fit(X[:, 0][:4], Y[:4])
    model = clone(estimator).fit(X, Y)
    with pytest.raises(ValueError, match=msg):
        model.predict(X[0])


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_name)
def test_Y_none(estimator):
    X, _ = _data()
    msg = (
        r"`Y` must be an array of shape \(n_samples, n_targets\) or \(n_samples,\) \(the brain "
        rf"responses\); got None: {_name(estimator)} requires y to be passed, but the target "
        r"y is None\."
    )
    with pytest.raises(ValueError, match=msg):
        clone(estimator).fit(X, None)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_name)
def test_one_dimensional_Y_gives_one_dimensional_predictions(estimator):
    X, Y = _data()
    model_2d = clone(estimator).fit(X, Y[:, :1])
    model_1d = clone(estimator).fit(X, Y[:, 0])
    assert model_2d.predict(X).shape == (30, 1)
    assert model_1d.predict(X).shape == (30,)
    # per-target attributes keep their (..., n_targets) shape
    assert model_1d.coef_.shape == model_2d.coef_.shape == (model_2d.coef_.shape[0], 1)
    np.testing.assert_array_equal(model_1d.predict(X), model_2d.predict(X)[:, 0])
