"""Ridge encoder with one penalty per target chosen by cross-validation (himalaya engine)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from brainalign._validation import check_choice
from brainalign.encoders._base import (
    _DEVICES,
    _SCORINGS,
    _BaseEncoder,
    check_alphas,
    check_batch,
    check_n_features,
    check_X,
    check_X_Y,
    himalaya_backend,
    resolve_cv,
    resolve_solver,
    snap_to_grid,
    warn_alpha_edge,
)

__all__ = ["RidgeEncoder"]


class RidgeEncoder(_BaseEncoder):
    """Ridge regression from features to every target, one penalty per target.

    The penalty of each target is chosen by cross-validation over ``alphas`` (the negative
    mean squared error of the held-out predictions, averaged over folds, is maximised; this
    is himalaya's ``l2_neg_loss``), then the model is refit on all samples. himalaya does the
    work: :class:`himalaya.ridge.RidgeCV` (primal, SVD of ``X``) when
    ``n_samples >= n_features``, :class:`himalaya.kernel_ridge.KernelRidgeCV` with a linear
    kernel (dual, eigendecomposition of ``X @ X.T``) otherwise. Both give the same model; the
    coefficients are always returned in the input feature space.

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,) or None
        Ridge penalties to try. ``None`` uses ``np.logspace(-2, 8, 21)``, which brackets the
        whole regularisation path of z-scored features for 1e2-1e5 samples (see
        ``brainalign.encoders._base.DEFAULT_ALPHAS``).
    cv : None, int, splitter or iterable of (train, test)
        ``None``: leave-one-run-out when ``fit`` gets ``groups`` with >= 2 runs, else 5-fold
        ``KFold`` without shuffling. An int: ``KFold(cv)`` without shuffling. A scikit-learn
        splitter (called with ``groups``) or a list of ``(train, test)`` index arrays.
    fit_intercept : bool
        Fit one intercept per target. Features and targets are centred inside every CV fold
        with the means of that fold's training samples, and on all samples for the refit.
    solver : {"auto", "primal", "dual"}
        ``"auto"``: primal when ``n_samples >= n_features``, else dual.
    device : {"cpu", "cuda"}
        Where himalaya computes: the ``"numpy"`` backend or the ``"torch_cuda"`` backend. The
        backend is set inside ``fit`` only and the previous one is always restored.
    scoring : {"correlation", "r2"}
        Metric of :meth:`score` (Pearson r by default).
    n_targets_batch, n_alphas_batch, n_targets_batch_refit : int or None
        Memory knobs passed to himalaya (targets per batch during CV, alphas per batch, targets
        per batch during the refit). ``None`` processes everything at once.
    warn_alpha_edge : bool
        Warn (:class:`~brainalign.exceptions.AlphaGridWarning`) when more than 10% of the
        targets select the smallest or the largest alpha.

    Attributes
    ----------
    coef_ : ndarray, shape (n_features, n_targets)
        Ridge coefficients in the input feature space.
    intercept_ : ndarray, shape (n_targets,)
        Intercepts (zeros when ``fit_intercept=False``).
    alphas_ : ndarray, shape (n_targets,)
        Penalty selected for each target.
    cv_scores_ : ndarray, shape (n_targets,)
        Cross-validated score (negative mean squared error, averaged over folds) at the
        selected penalty.
    solver_ : {"primal", "dual"}
        The solver used.
    n_features_in_ : int
        Number of features seen during fit.

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign.encoders import RidgeEncoder
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 10))
    >>> Y = X @ rng.standard_normal((10, 3)) + rng.standard_normal((200, 3))
    >>> model = RidgeEncoder(alphas=np.logspace(-3, 3, 7)).fit(X, Y)
    >>> model.coef_.shape
    (10, 3)
    """

    def __init__(
        self,
        alphas: Any = None,
        cv: Any = None,
        fit_intercept: bool = True,
        solver: str = "auto",
        device: str = "cpu",
        scoring: str = "correlation",
        n_targets_batch: int | None = None,
        n_alphas_batch: int | None = None,
        n_targets_batch_refit: int | None = None,
        warn_alpha_edge: bool = True,
    ):
        self.alphas = alphas
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.device = device
        self.scoring = scoring
        self.n_targets_batch = n_targets_batch
        self.n_alphas_batch = n_alphas_batch
        self.n_targets_batch_refit = n_targets_batch_refit
        self.warn_alpha_edge = warn_alpha_edge

    def fit(self, X: Any, Y: Any, groups: Any = None) -> RidgeEncoder:
        """Select one penalty per target by cross-validation and refit on all samples.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Features (e.g. delayed stimulus features).
        Y : array-like, shape (n_samples, n_targets) or (n_samples,)
            Brain responses.
        groups : array-like of shape (n_samples,) or None
            Run label of each sample; with >= 2 runs and ``cv=None``, the penalty is chosen
            by leave-one-run-out.

        Returns
        -------
        self : RidgeEncoder
        """
        X, Y, self._y_1d = check_X_Y(X, Y, type(self).__name__)
        check_choice(self.device, "device", _DEVICES)
        check_choice(self.scoring, "scoring", _SCORINGS)
        alphas = check_alphas(self.alphas)
        n_samples, n_features = X.shape
        solver = resolve_solver(self.solver, n_samples, n_features)
        splits = resolve_cv(self.cv, n_samples, groups)
        solver_params = {
            "n_targets_batch": check_batch(self.n_targets_batch, "n_targets_batch"),
            "n_alphas_batch": check_batch(self.n_alphas_batch, "n_alphas_batch"),
            "n_targets_batch_refit": check_batch(
                self.n_targets_batch_refit, "n_targets_batch_refit"
            ),
        }
        fit_intercept = bool(self.fit_intercept)
        with himalaya_backend(self.device) as backend:
            if solver == "primal":
                from himalaya.ridge import RidgeCV

                model = RidgeCV(
                    alphas=alphas,
                    fit_intercept=fit_intercept,
                    cv=splits,
                    solver_params={**solver_params, "warn": False},
                ).fit(X, Y)
                coef = backend.to_numpy(model.coef_)
            else:
                from himalaya.kernel_ridge import KernelRidgeCV

                model = KernelRidgeCV(
                    alphas=alphas,
                    kernel="linear",
                    fit_intercept=fit_intercept,
                    cv=splits,
                    solver_params=solver_params,
                    warn=False,
                ).fit(X, Y)
                coef = X.T @ backend.to_numpy(model.dual_coef_).astype(X.dtype, copy=False)
            self.coef_ = np.asarray(coef, dtype=X.dtype)
            if fit_intercept:
                self.intercept_ = np.asarray(backend.to_numpy(model.intercept_), dtype=X.dtype)
            else:
                self.intercept_ = np.zeros(Y.shape[1], dtype=X.dtype)
            # himalaya returns exp(-log(alpha)) in the data dtype: snap back to the grid
            self.alphas_ = snap_to_grid(backend.to_numpy(model.best_alphas_), alphas)
            self.cv_scores_ = np.asarray(backend.to_numpy(model.cv_scores_), dtype=np.float64)
        self.solver_ = solver
        self.n_features_in_ = n_features
        if self.warn_alpha_edge:
            warn_alpha_edge(self.alphas_, alphas)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predict the targets.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)

        Returns
        -------
        Y_pred : ndarray, shape (n_samples, n_targets)
            (n_samples,) if ``Y`` was 1-D at fit.
        """
        check_is_fitted(self)
        X = check_X(X)
        check_n_features(X, self.n_features_in_, estimator=type(self).__name__)
        Y = X.astype(self.coef_.dtype, copy=False) @ self.coef_ + self.intercept_
        return self._format_output(Y)
