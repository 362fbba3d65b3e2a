"""Outer cross-validation of an encoding model, blocked by run."""

from __future__ import annotations

import inspect
import numbers
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone

from brainalign._logging import logger, progress
from brainalign._validation import check_array, check_choice, check_groups, check_n_samples
from brainalign.evaluation._metrics import score_targets
from brainalign.evaluation._splitters import BlockedKFold, LeaveOneRunOut

__all__ = ["CVResult", "cross_validate_encoder"]


@dataclass
class CVResult:
    """Result of :func:`cross_validate_encoder`.

    Attributes
    ----------
    scores : ndarray, shape (n_folds, n_targets)
        Score of each target on each held-out fold.
    mean_scores : ndarray, shape (n_targets,)
        ``scores.mean(0)``.
    predictions : ndarray, shape (n_samples, n_targets)
        Out-of-fold predictions: each sample predicted by the model that did not see it.
        NaN for samples that no fold held out.
    test_groups : list of ndarray
        Run labels held out in each fold, in time order.
    test_indices : list of ndarray of int
        Sample indices held out in each fold.
    fit_times, predict_times : ndarray, shape (n_folds,)
        Wall-clock seconds spent in ``fit`` and ``predict``.
    scoring : str
        The score used.
    estimators : list of estimators or None
        The fitted estimator of each fold when ``return_estimators=True``.
    """

    scores: np.ndarray
    mean_scores: np.ndarray
    predictions: np.ndarray
    test_groups: list[np.ndarray]
    test_indices: list[np.ndarray]
    fit_times: np.ndarray
    predict_times: np.ndarray
    scoring: str
    estimators: list[Any] | None = field(default=None, repr=False)


def _check_X(X: Any, n_samples_hint: str) -> tuple[np.ndarray | dict[str, np.ndarray], int]:
    if isinstance(X, dict):
        if not X:
            raise ValueError(
                "`X` must be an array (n_samples, n_features) or a non-empty dict of feature "
                "bands {name: (n_samples, n_features_band)}; got an empty dict"
            )
        bands = {
            str(name): check_array(
                band, f"X[{name!r}]", ndim=2, shape_doc="(n_samples, n_features)"
            )
            for name, band in X.items()
        }
        n = check_n_samples({f"X[{k!r}]": v for k, v in bands.items()}, hint=n_samples_hint)
        return bands, n
    arr = check_array(X, "X", ndim=2, shape_doc="(n_samples, n_features)")
    return arr, arr.shape[0]


def _take(X: np.ndarray | dict[str, np.ndarray], idx: np.ndarray) -> Any:
    if isinstance(X, dict):
        return {name: band[idx] for name, band in X.items()}
    return X[idx]


def _train_segments(train: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Label each contiguous piece of the training set (within one run) as its own run.

    A held-out block inside a run (e.g. :class:`BlockedKFold` on a single run) splits that
    run in two; the pieces must not be treated as one continuous run by the estimator, or
    its lags and inner cross-validation would cross the gap.
    """
    labels = groups[train]
    breaks = (np.diff(train) != 1) | (labels[1:] != labels[:-1])
    segments = np.concatenate([[0], np.cumsum(breaks)])
    if segments[-1] + 1 == np.unique(labels).shape[0]:
        return labels  # every training run is whole: keep the user's labels
    return segments


def _accepts_groups(estimator: Any) -> bool:
    try:
        params = inspect.signature(estimator.fit).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False
    return "groups" in params


def _check_cv(cv: Any) -> Any:
    if cv is None:
        return LeaveOneRunOut()
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        return BlockedKFold(n_splits=int(cv))
    if isinstance(cv, str) or not callable(getattr(cv, "split", None)):
        raise TypeError(
            "`cv` must be None (LeaveOneRunOut), an int (BlockedKFold folds over runs) or a "
            f"splitter with a split(X, y, groups) method; got {cv!r}"
        )
    return cv


def cross_validate_encoder(
    estimator: Any,
    X: Any,
    Y: Any,
    *,
    groups: Any,
    cv: Any = None,
    scoring: str = "correlation",
    return_estimators: bool = False,
    verbose: bool | None = None,
) -> CVResult:
    """Score an encoding model on held-out runs.

    For each outer fold, a clone of ``estimator`` is fitted on the training samples only and
    predicts the held-out samples. When ``estimator.fit`` has a ``groups`` parameter it
    receives ``groups[train]``, so that any inner model selection (e.g. the choice of
    alphas) is blocked by run and never sees the held-out run.

    Parameters
    ----------
    estimator : scikit-learn compatible regressor
        Cloned for each fold; must implement ``fit(X, Y)`` and ``predict(X)`` returning
        (n_samples, n_targets).
    X : ndarray, shape (n_samples, n_features), or dict of str to such arrays
        Features; a dict of bands (for banded encoders) is sliced band by band and passed on
        as a dict.
    Y : ndarray, shape (n_samples, n_targets)
        Brain responses.
    groups : array-like, shape (n_samples,)
        Run label of each sample; each run must be one contiguous block.
    cv : None, int or splitter, default=None
        ``None`` → :class:`LeaveOneRunOut`; an int → :class:`BlockedKFold` over runs with that
        many folds; otherwise an object with ``split(X, y, groups)`` whose test sets do not
        overlap. A :class:`BlockedKFold` given a single run cuts it into contiguous blocks.
    scoring : {"correlation", "r2"}, default="correlation"
        Per-target score on each held-out fold.
    return_estimators : bool, default=False
        Keep the fitted estimator of each fold.
    verbose : bool or None
        Show a progress bar over folds (``None``: the ``BRAINALIGN_PROGRESS`` default).

    Returns
    -------
    result : CVResult
        Per-fold and mean scores, out-of-fold predictions, held-out runs, timings and,
        optionally, the fitted estimators.
    """
    check_choice(scoring, "scoring", ("correlation", "r2"))
    hint = "Did you trim the first TRs of each run in one array but not the other?"
    Xc, _ = _check_X(X, hint)
    Yc = check_array(Y, "Y", ndim=2, shape_doc="(n_samples, n_targets)")
    if isinstance(Xc, dict):
        name, first_band = next(iter(Xc.items()))
        n_samples = check_n_samples({f"X[{name!r}]": first_band, "Y": Yc}, hint=hint)
    else:
        n_samples = check_n_samples({"X": Xc, "Y": Yc}, hint=hint)
    if groups is None:
        raise ValueError(
            "`groups` must give the run label of each sample; got None. Outer "
            "cross-validation is blocked by run; with a single run pass "
            "groups=np.zeros(n_samples) and cv=BlockedKFold(...) without runs."
        )
    groups = check_groups(groups, n_samples)
    splitter = _check_cv(cv)
    dummy = np.zeros((n_samples, 1))
    if isinstance(splitter, BlockedKFold) and np.unique(groups).shape[0] == 1:
        folds = list(splitter.split(dummy))
    else:
        folds = list(splitter.split(dummy, None, groups))
    seen = np.zeros(n_samples, dtype=bool)
    for _, test in folds:
        if seen[test].any():
            raise ValueError(
                f"`cv` must yield non-overlapping test sets to build out-of-fold predictions; "
                f"{splitter!r} held out sample {int(test[seen[test]][0])} twice. Use "
                f"LeaveOneRunOut or BlockedKFold."
            )
        seen[test] = True

    pass_groups = _accepts_groups(estimator)
    n_targets = Yc.shape[1]
    predictions = np.full((n_samples, n_targets), np.nan, dtype=np.result_type(Yc, np.float32))
    scores = np.empty((len(folds), n_targets))
    fit_times = np.empty(len(folds))
    predict_times = np.empty(len(folds))
    estimators = [] if return_estimators else None
    test_groups, test_indices = [], []
    for k, (train, test) in progress(
        enumerate(folds), desc="cross-validation", total=len(folds), verbose=verbose
    ):
        est = clone(estimator)
        kwargs = {"groups": _train_segments(train, groups)} if pass_groups else {}
        t0 = time.perf_counter()
        est.fit(_take(Xc, train), Yc[train], **kwargs)
        t1 = time.perf_counter()
        pred = np.asarray(est.predict(_take(Xc, test)))
        t2 = time.perf_counter()
        if pred.shape != (test.shape[0], n_targets):
            raise ValueError(
                f"`estimator.predict` must return shape (n_test_samples, n_targets) = "
                f"({test.shape[0]}, {n_targets}); {type(est).__name__} returned shape "
                f"{pred.shape} on fold {k}. Fit it on a 2-D `Y`."
            )
        predictions[test] = pred
        scores[k] = score_targets(Yc[test], pred, scoring=scoring, multioutput="raw_values")
        fit_times[k], predict_times[k] = t1 - t0, t2 - t1
        labels = groups[test]
        _, first = np.unique(labels, return_index=True)
        test_groups.append(labels[np.sort(first)])
        test_indices.append(test)
        if estimators is not None:
            estimators.append(est)
        logger.info(
            "fold %d/%d: held out %s, mean %s %.4f (fit %.2fs)",
            k + 1,
            len(folds),
            test_groups[-1].tolist(),
            scoring,
            float(scores[k].mean()),
            fit_times[k],
        )
    return CVResult(
        scores=scores,
        mean_scores=scores.mean(axis=0),
        predictions=predictions,
        test_groups=test_groups,
        test_indices=test_indices,
        fit_times=fit_times,
        predict_times=predict_times,
        scoring=scoring,
        estimators=estimators,
    )
