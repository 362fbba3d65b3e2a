"""Banded ridge encoder: one penalty per feature band and per target (random search by CV)."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.utils.validation import check_is_fitted

from brainalign._validation import check_choice, check_n_samples
from brainalign.encoders._base import (
    _DEVICES,
    _HINT_SAMPLES,
    _SCORINGS,
    _BaseEncoder,
    _check_cuda,
    check_alphas,
    check_batch,
    check_n_features,
    check_X,
    check_Y,
    himalaya_backend,
    progress_bar_enabled,
    resolve_cv,
    resolve_solver,
    warn_alpha_edge,
)

__all__ = ["BandedRidgeEncoder"]

_ENGINES = ("auto", "numpy", "torch", "himalaya")


def _is_band_dict(X: Any) -> bool:
    """Whether ``X`` is a dict of bands (scipy's DOK sparse format is a dict too: not bands)."""
    return isinstance(X, Mapping) and not sparse.issparse(X)


def _check_bands_spec(bands: Any, n_features: int) -> tuple[list[str], list[slice]]:
    """Turn ``bands`` ({name: n_features} or {name: slice}) into names and column slices."""
    if not isinstance(bands, Mapping) or not bands:
        raise TypeError(
            "`bands` must be a non-empty dict {band_name: n_features} or {band_name: slice} "
            f"when `X` is an array; got {bands!r}. Or pass `X` as a dict {{band_name: array}}."
        )
    names = [str(k) for k in bands]
    values = list(bands.values())
    slices: list[slice] = []
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
        if any(v < 1 for v in values):
            raise ValueError(f"`bands` sizes must be >= 1; got {dict(bands)}")
        stops = np.cumsum(values)
        slices = [slice(int(b - v), int(b)) for v, b in zip(values, stops)]
    elif all(isinstance(v, slice) for v in values):
        for name, s in zip(names, values):
            start, stop, step = s.indices(n_features)
            if step != 1 or stop <= start or (s.stop is not None and s.stop > n_features):
                raise ValueError(
                    f"`bands[{name!r}]` must be a contiguous, non-empty slice inside the "
                    f"{n_features} columns of `X`; got {s}"
                )
            slices.append(slice(start, stop))
    else:
        raise TypeError(
            "`bands` values must be all ints (band sizes, in column order) or all slices; "
            f"got {dict(bands)}"
        )
    sizes = {n: s.stop - s.start for n, s in zip(names, slices)}
    covered = np.zeros(max(n_features, max(s.stop for s in slices)), dtype=int)
    for s in slices:
        covered[s] += 1
    n_missing = int(np.sum(covered[:n_features] == 0))
    n_twice = int(np.sum(covered > 1))
    if n_missing or n_twice or covered.size > n_features:
        raise ValueError(
            f"`bands` must cover the {n_features} columns of `X` exactly once; got "
            f"{ {n: (s.start, s.stop) for n, s in zip(names, slices)} } (sizes {sizes}, total "
            f"{sum(sizes.values())}): {n_missing} columns uncovered, {n_twice} covered twice"
            f"{', bands reach past the last column' if covered.size > n_features else ''}. "
            "Fix the band sizes or slices."
        )
    return names, slices


class BandedRidgeEncoder(_BaseEncoder):
    """Banded (group) ridge regression: one penalty per feature band and per target.

    The model is himalaya's: each band ``X_b`` is scaled by ``exp(delta_b / 2)`` and a ridge
    with unit penalty is fitted on the scaled, concatenated bands, i.e. band ``b`` gets the
    ridge penalty ``exp(-delta_b)``. The log-scalings ``delta`` are chosen per target by
    random search (``n_iter`` Dirichlet draws of band weights ``gamma`` on the simplex, the
    first one uniform, times every ``alpha`` of the grid: ``delta = log(gamma / alpha)``),
    scored by cross-validation with himalaya's ``l2_neg_loss``, then the model is refit on all
    samples with the selected ``delta``.

    Two engines run the same search:

    - brainalign's solver (``engine="auto"``, ``"numpy"`` or ``"torch"``, the default): the
      centred Gram blocks of every inner fold are computed once, each (band weighting, fold)
      costs one eigendecomposition in the smaller of the primal and dual spaces, and all
      alphas and targets are scored with a few large matrix products (float32 products for
      float32 data, float64 where cancellation needs it). It draws the same weightings for a
      seed, uses the same alpha grid, tie-breaking and per-target selection as himalaya, and
      reproduces himalaya's ``deltas_``, ``cv_scores_`` and coefficients to float64
      round-off on float64 data (float32 data: to float32 round-off, so that exact ties may
      break differently). On CPU it is about 10 times faster than himalaya's fastest
      backend when ``n_samples > n_features`` (primal), and 1.3 times faster otherwise (dual:
      both are then bound by the same per-fold eigendecompositions and products); see
      ``benchmarks/bench_banded_ridge.py``.
    - himalaya (``engine="himalaya"``): :class:`himalaya.ridge.GroupRidgeCV` (primal, SVD of
      the scaled design) or :class:`himalaya.kernel_ridge.MultipleKernelRidgeCV` on
      precomputed per-band linear kernels (dual, eigendecomposition), the reference.

    Both use the primal space when ``n_samples >= n_features`` and the dual space (per-band
    linear kernels ``X_b @ X_b.T``) otherwise; both give the same model and the coefficients
    are always returned in the original feature space.

    Parameters
    ----------
    bands : dict or None
        When ``X`` is an array: ``{name: n_features}`` (consecutive columns, in order) or
        ``{name: slice}``; the bands must cover every column exactly once. ``None`` with an
        array ``X``: all columns form one band named ``"X"``; the random search over band
        weightings is then degenerate (the only weighting is 1) and the model is a ridge
        with one penalty per target chosen from ``alphas``, as :class:`RidgeEncoder` (this is
        what scikit-learn tools that pass plain arrays get). Must be ``None`` when ``X`` is a
        dict ``{name: (n_samples, n_features_band)}`` (dict order is the band order).
    alphas : array-like of shape (n_alphas,) or None
        Overall penalties of the random search. ``None``: ``np.logspace(-2, 8, 21)``.
    n_iter : int
        Number of band weightings tried (the first one is uniform).
    concentration : float or tuple of float
        Dirichlet concentration(s) of the band weightings, cycled through.
    cv, fit_intercept, scoring, n_targets_batch, n_alphas_batch, n_targets_batch_refit, \
warn_alpha_edge
        As in :class:`RidgeEncoder`. With ``fit_intercept=True`` both spaces centre the
        features and targets with the training means of every CV fold (the dual space centres
        the kernels, which is the same thing) and on all samples for the refit. With
        brainalign's engine, ``n_targets_batch`` is the number of targets per pass of the
        search (each pass repeats the eigendecompositions; ``None``: as many as fit in about
        2 GiB), ``n_alphas_batch`` bounds the alphas scored at once, and
        ``n_targets_batch_refit`` the targets per refit solve.
    solver : {"auto", "primal", "dual"}
        Space of the eigendecompositions. ``"auto"``: primal when ``n_samples >= n_features``,
        else dual.
    engine : {"auto", "numpy", "torch", "himalaya"}
        Implementation of the search. ``"auto"``: brainalign's solver on numpy (CPU) or on
        torch (``device="cuda"``). ``"numpy"`` / ``"torch"``: brainalign's solver on that
        array library (torch runs on ``device``). ``"himalaya"``: himalaya's estimators, with
        its numpy backend on the CPU and ``torch_cuda`` on CUDA.
    search : {"random", "refine"}
        ``"random"``: evaluate all ``n_iter`` band weightings (himalaya's random search).
        ``"refine"`` (brainalign's engine only): successive refinement over the same
        ``n_iter`` Dirichlet draws, evaluating at most 60% of them: the uniform weighting on
        every target and alpha; a coarse covering of the others (one decade of weight ratio
        apart) on every target; then the remaining draws nearest to the weightings most
        targets select, each only on the targets whose selection lies near it. After the
        first weighting, each target is scored on the 3 alphas around its current one (direct
        method). Measured by ``benchmarks/bench_banded_ridge.py``: about 2 to 3 times faster
        than the full search, held-out r a few 1e-4 below it on average. Skipped (weighting,
        target) pairs have ``nan`` in ``cv_scores_``, the windowed scores can be below the
        full grid's, and the choice depends on all targets fitted together, so fitting
        targets in chunks can differ.
    random_state : int or None
        Seed of the Dirichlet draws. Use an int for a reproducible search.
    device : {"cpu", "cuda"}
        Where the search runs. Nothing global is changed, except himalaya's backend with
        ``engine="himalaya"``, which is set inside ``fit`` only and always restored.
    verbose : bool or None
        Show the progress bar of the search (himalaya's, over the band weightings).
        ``None``: follow the ``BRAINALIGN_PROGRESS`` environment variable (shown unless it is
        ``0``).

    Attributes
    ----------
    band_names_ : list of str
    band_slices_ : list of slice
        Columns of each band in the full feature space (``coef_`` rows).
    coef_ : ndarray, shape (n_features, n_targets)
        Coefficients on the original (unscaled) features.
    intercept_ : ndarray, shape (n_targets,)
    deltas_ : ndarray, shape (n_bands, n_targets)
        himalaya's log band scalings.
    alphas_ : ndarray, shape (n_targets,)
        Overall penalty ``1 / sum_b exp(deltas_[b])`` (a value of the grid).
    band_alphas_ : ndarray, shape (n_bands, n_targets)
        Equivalent ridge penalty on each band, ``exp(-deltas_)``.
    band_weights_ : ndarray, shape (n_bands, n_targets)
        ``exp(deltas_) / sum_b exp(deltas_)``: the selected point on the simplex.
    cv_scores_ : ndarray, shape (n_iter, n_targets)
        Best cross-validated score (negative MSE) of each band weighting (``nan`` for those
        that ``search="refine"`` skipped).
    solver_ : {"primal", "dual"}
    engine_ : {"numpy", "torch", "himalaya"}
        The implementation that ran.
    n_features_in_ : int
    """

    def __init__(
        self,
        bands: Any = None,
        alphas: Any = None,
        n_iter: int = 20,
        concentration: Any = (0.1, 1.0),
        cv: Any = None,
        fit_intercept: bool = True,
        solver: str = "auto",
        random_state: int | None = None,
        device: str = "cpu",
        scoring: str = "correlation",
        n_targets_batch: int | None = None,
        n_alphas_batch: int | None = None,
        n_targets_batch_refit: int | None = None,
        warn_alpha_edge: bool = True,
        verbose: bool | None = None,
        engine: str = "auto",
        search: str = "random",
    ):
        self.bands = bands
        self.alphas = alphas
        self.n_iter = n_iter
        self.concentration = concentration
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.random_state = random_state
        self.device = device
        self.scoring = scoring
        self.n_targets_batch = n_targets_batch
        self.n_alphas_batch = n_alphas_batch
        self.n_targets_batch_refit = n_targets_batch_refit
        self.warn_alpha_edge = warn_alpha_edge
        self.verbose = verbose
        self.engine = engine
        self.search = search

    # ----------------------------------------------------------------------------------------
    def _split_fit(self, X: Any) -> tuple[list[np.ndarray], list[str], list[slice]]:
        """Validate X at fit: list of band arrays, names, slices in the full feature space."""
        if _is_band_dict(X):
            if not X:
                raise ValueError("`X` must not be an empty dict of feature bands; got {}")
            if self.bands is not None:
                raise ValueError(
                    "`bands` must be None when `X` is a dict of bands (the dict already names "
                    f"them); got bands={self.bands!r}. Drop `bands` or pass X as one array."
                )
            names = [str(k) for k in X]
            Xs = [
                check_X(
                    v,
                    f"X[{k!r}]",
                    estimator=type(self).__name__,
                    min_samples=2,
                    shape_doc="(n_samples, n_features_band)",
                )
                for k, v in X.items()
            ]
            check_n_samples({f"X[{n!r}]": x for n, x in zip(names, Xs)})
            dtype = np.result_type(*Xs)
            Xs = [x.astype(dtype, copy=False) for x in Xs]
            stops = np.cumsum([x.shape[1] for x in Xs])
            slices = [slice(int(b - x.shape[1]), int(b)) for x, b in zip(Xs, stops)]
            return Xs, names, slices
        X = check_X(X, estimator=type(self).__name__, min_samples=2)
        if self.bands is None:
            # one band holding every column: a ridge whose band weighting is degenerate
            return [X], ["X"], [slice(0, X.shape[1])]
        names, slices = _check_bands_spec(self.bands, X.shape[1])
        return [X[:, s] for s in slices], names, slices

    def _split_predict(self, X: Any) -> list[np.ndarray]:
        check_is_fitted(self)
        if _is_band_dict(X):
            missing = [n for n in self.band_names_ if n not in X]
            extra = [str(k) for k in X if str(k) not in self.band_names_]
            if missing or extra:
                raise KeyError(
                    f"`X` must have the bands seen during fit, {self.band_names_}; got "
                    f"{[str(k) for k in X]} (missing {missing}, unknown {extra})."
                )
            Xs = []
            by_name = {str(k): v for k, v in X.items()}
            for name, s in zip(self.band_names_, self.band_slices_):
                x = check_X(by_name[name], f"X[{name!r}]")
                check_n_features(
                    x, s.stop - s.start, name=f"X[{name!r}]", estimator=type(self).__name__
                )
                Xs.append(x)
            check_n_samples({f"X[{n!r}]": x for n, x in zip(self.band_names_, Xs)})
            return Xs
        X = check_X(X)
        check_n_features(X, self.n_features_in_, estimator=type(self).__name__)
        return [X[:, s] for s in self.band_slices_]

    def _band_index(self, name: str) -> int:
        check_is_fitted(self)
        if name not in self.band_names_:
            raise KeyError(
                f"`name` must be one of the fitted bands {self.band_names_}; got {name!r}"
            )
        return self.band_names_.index(name)

    # ----------------------------------------------------------------------------------------
    def fit(self, X: Any, Y: Any, groups: Any = None) -> BandedRidgeEncoder:
        """Search the band penalties of every target by cross-validation, then refit.

        Parameters
        ----------
        X : dict {name: array (n_samples, n_features_band)} or array (n_samples, n_features)
            Feature bands; an array is split by ``bands`` (one band "X" when ``bands=None``).
        Y : array-like, shape (n_samples, n_targets) or (n_samples,)
        groups : array-like of shape (n_samples,) or None
            Run labels (leave-one-run-out when ``cv=None`` and >= 2 runs).

        Returns
        -------
        self : BandedRidgeEncoder
        """
        Xs, names, slices = self._split_fit(X)
        Y, self._y_1d = check_Y(Y, type(self).__name__)
        check_n_samples({"X": Xs[0], "Y": Y}, hint=_HINT_SAMPLES)
        check_choice(self.device, "device", _DEVICES)
        check_choice(self.scoring, "scoring", _SCORINGS)
        if isinstance(self.n_iter, bool) or not isinstance(self.n_iter, numbers.Integral):
            raise TypeError(f"`n_iter` must be an int >= 1; got {self.n_iter!r}")
        if self.n_iter < 1:
            raise ValueError(f"`n_iter` must be an int >= 1; got {self.n_iter!r}")
        concentration = np.atleast_1d(np.asarray(self.concentration, dtype=np.float64))
        if concentration.ndim != 1 or np.any(concentration <= 0):
            raise ValueError(
                f"`concentration` must be a positive float or a list of them; got "
                f"{self.concentration!r}"
            )
        alphas = check_alphas(self.alphas)
        engine = check_choice(self.engine, "engine", _ENGINES)
        check_choice(self.search, "search", ("random", "refine"))
        if self.search == "refine" and engine == "himalaya":
            raise ValueError(
                "`search='refine'` needs brainalign's engine; got engine='himalaya'. Use "
                "engine='auto' (or 'numpy' / 'torch'), or search='random' with himalaya."
            )
        n_samples = Y.shape[0]
        n_features = sum(x.shape[1] for x in Xs)
        solver = resolve_solver(self.solver, n_samples, n_features)
        splits = resolve_cv(self.cv, n_samples, groups)
        batches = {
            "n_targets_batch": check_batch(self.n_targets_batch, "n_targets_batch"),
            "n_alphas_batch": check_batch(self.n_alphas_batch, "n_alphas_batch"),
            "n_targets_batch_refit": check_batch(
                self.n_targets_batch_refit, "n_targets_batch_refit"
            ),
        }
        params = {
            "n_iter": int(self.n_iter),
            "concentration": concentration,
            "alphas": alphas,
            "splits": splits,
            "solver": solver,
            "progress_bar": progress_bar_enabled(self.verbose),
            **batches,
        }
        if engine == "himalaya":
            coef, intercept, deltas, cv_scores = self._fit_himalaya(Xs, Y, **params)
            self.engine_ = "himalaya"
        else:
            coef, intercept, deltas, cv_scores = self._fit_solver(Xs, Y, engine, **params)

        # himalaya's coef rows follow the band order; put them back in column order.
        self.coef_ = np.empty_like(coef)
        start = 0
        for s in slices:
            width = s.stop - s.start
            self.coef_[s] = coef[start : start + width]
            start += width
        self.intercept_ = intercept
        self.band_names_ = names
        self.band_slices_ = slices
        self.deltas_ = deltas
        exp_deltas = np.exp(deltas)
        self.alphas_ = 1.0 / exp_deltas.sum(0)
        self.band_alphas_ = np.exp(-deltas)
        self.band_weights_ = exp_deltas / exp_deltas.sum(0)
        self.cv_scores_ = cv_scores
        self.solver_ = solver
        self.n_features_in_ = n_features
        if self.warn_alpha_edge:
            warn_alpha_edge(self.alphas_, alphas)
        return self

    def _fit_himalaya(
        self, Xs: list[np.ndarray], Y: np.ndarray, *, splits: list, solver: str, **params: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """himalaya's GroupRidgeCV (primal) or MultipleKernelRidgeCV (dual); band-order coef."""
        solver_params = {
            "n_iter": params["n_iter"],
            "concentration": params["concentration"].tolist(),
            "alphas": params["alphas"],
            "progress_bar": params["progress_bar"],
            "n_targets_batch": params["n_targets_batch"],
            "n_alphas_batch": params["n_alphas_batch"],
            "n_targets_batch_refit": params["n_targets_batch_refit"],
        }
        fit_intercept = bool(self.fit_intercept)
        dtype = Xs[0].dtype
        with himalaya_backend(self.device) as backend:
            if solver == "primal":
                from himalaya.ridge import GroupRidgeCV

                model = GroupRidgeCV(
                    groups="input",
                    solver_params={**solver_params, "warn": False},
                    fit_intercept=fit_intercept,
                    cv=splits,
                    random_state=self.random_state,
                ).fit(Xs, Y)
                coef = np.asarray(backend.to_numpy(model.coef_), dtype=dtype)
                deltas = np.asarray(backend.to_numpy(model.deltas_), dtype=np.float64)
            else:
                from himalaya.kernel_ridge import MultipleKernelRidgeCV

                Ks = np.stack([x @ x.T for x in Xs])
                model = MultipleKernelRidgeCV(
                    kernels="precomputed",
                    solver_params=solver_params,
                    fit_intercept=fit_intercept,
                    cv=splits,
                    random_state=self.random_state,
                ).fit(Ks, Y)
                del Ks
                dual = np.asarray(backend.to_numpy(model.dual_coef_), dtype=dtype)
                deltas = np.asarray(backend.to_numpy(model.deltas_), dtype=np.float64)
                scale = np.exp(deltas).astype(dtype)
                coef = np.concatenate([(x.T @ dual) * s for x, s in zip(Xs, scale)])
            if fit_intercept:
                intercept = np.asarray(backend.to_numpy(model.intercept_), dtype=dtype)
            else:
                intercept = np.zeros(Y.shape[1], dtype=dtype)
            cv_scores = np.asarray(backend.to_numpy(model.cv_scores_), dtype=np.float64)
        return coef, intercept, deltas, cv_scores

    def _fit_solver(
        self,
        Xs: list[np.ndarray],
        Y: np.ndarray,
        engine: str,
        *,
        n_iter: int,
        concentration: np.ndarray,
        alphas: np.ndarray,
        **params: Any,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """brainalign's solver (numpy or torch); band-order coef."""
        from brainalign.encoders._solver import (
            dirichlet_candidates,
            solve_banded_ridge_random_search,
        )
        from brainalign.encoders._solver_backend import make_ops

        if self.device == "cuda":
            _check_cuda()
        ops = make_ops(engine, self.device)
        dtype = np.result_type(Xs[0].dtype, np.float32)
        gammas = dirichlet_candidates(n_iter, len(Xs), concentration, self.random_state)
        result = solve_banded_ridge_random_search(
            [x.astype(dtype, copy=False) for x in Xs],
            Y.astype(dtype, copy=False),
            gammas=gammas,
            alphas=alphas,
            fit_intercept=bool(self.fit_intercept),
            space=params.pop("solver"),
            ops=ops,
            search=self.search,
            **params,
        )
        self.engine_ = ops.name
        return (
            result.coef,
            result.intercept,
            result.deltas.astype(np.float64),
            result.cv_scores.astype(np.float64),
        )

    # ----------------------------------------------------------------------------------------
    def predict(self, X: Any, split: bool = False) -> np.ndarray:
        """Predict the targets, or each band's contribution.

        Parameters
        ----------
        X : dict of band arrays or array, shape (n_samples, n_features)
        split : bool
            If True, return each band's contribution ``X_b @ coef_b`` (no intercept):
            ``predict(X, split=True).sum(0) + intercept_ == predict(X)``.

        Returns
        -------
        Y_pred : ndarray, shape (n_samples, n_targets) or (n_bands, n_samples, n_targets)
        """
        Xs = self._split_predict(X)
        dtype = self.coef_.dtype
        parts = [x.astype(dtype, copy=False) @ self.coef_[s] for x, s in zip(Xs, self.band_slices_)]
        if split:
            return self._format_output(np.stack(parts))
        return self._format_output(np.sum(parts, axis=0) + self.intercept_)

    def score_split(self, X: Any, Y: Any) -> np.ndarray:
        """Split the R² of the joint prediction over the bands (variance partitioning).

        Product-measure decomposition, as himalaya's ``r2_score_split`` with
        ``include_correlation=True``: for centred ``y`` and band predictions ``p_b``,
        ``r2_b = sum_t (2 y p_b - p_b * sum_c p_c) / sum_t y**2``. The band shares sum to the
        R² of the centred joint prediction. ``Y`` and each band's prediction are centred on
        the samples of ``X``, as the decomposition requires (the intercept then drops out).

        Returns
        -------
        r2 : ndarray, shape (n_bands, n_targets)
        """
        parts = self.predict(X, split=True)
        Y, _ = check_Y(Y, type(self).__name__)
        parts = parts.reshape(parts.shape[0], parts.shape[1], -1).astype(np.float64)
        check_n_samples({"X": parts[0], "Y": Y}, hint=_HINT_SAMPLES)
        if Y.shape[1] != parts.shape[2]:
            raise ValueError(
                f"`Y` must have the {parts.shape[2]} targets seen during fit; got Y.shape={Y.shape}"
            )
        y = Y.astype(np.float64) - Y.mean(0, dtype=np.float64)
        parts = parts - parts.mean(1, keepdims=True)
        total = parts.sum(0)
        sst = np.einsum("ij,ij->j", y, y)
        num = 2 * np.einsum("ij,bij->bj", y, parts) - np.einsum("bij,ij->bj", parts, total)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(sst > 0, num / np.where(sst > 0, sst, 1.0), 0.0)

    def get_band_coef(self, name: str) -> np.ndarray:
        """Coefficients of one band, shape (n_features_band, n_targets)."""
        return self.coef_[self.band_slices_[self._band_index(name)]]
