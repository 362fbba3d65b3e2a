"""Fast banded-ridge random search with himalaya's semantics (primal and dual, numpy or torch).

:func:`solve_banded_ridge_random_search` reproduces himalaya's
``solve_group_ridge_random_search`` (primal) and
``solve_multiple_kernel_ridge_random_search`` (dual, linear kernels): the same band
weightings for a seed (Dirichlet draws, the first one uniform), the same alpha grid, the same
per-target selection (mean ``l2_neg_loss`` over the inner folds, ties towards larger alphas, a
weighting replaces the current best only when it beats it by the dtype's epsilon), and a refit
on all training samples. The work is organised differently:

- everything that does not depend on the band weighting (centred per-fold Gram matrices or
  kernel blocks, ``X_tr^T Y_tr``) is computed once per fold;
- each (weighting, fold) costs one symmetric eigendecomposition, in the smaller of the primal
  and dual spaces, and every alpha and target is then handled by a few large matrix products
  (see :mod:`brainalign.encoders._solver_kernels`);
- the eigendecompositions of the folds of one weighting, and the refit's positive-definite
  solves (one per selected (weighting, alpha) pair), run concurrently on single-threaded
  LAPACK (see :func:`~brainalign.encoders._solver_backend._eigh_many`).

Arrays are float32 when the data are (products at the float32 BLAS rate), with float64 where
cancellation needs it (scores, partial-fraction coefficients, refit systems).

``search="refine"`` evaluates a subset of the same weightings (:func:`refine_order`): a coarse
covering, then refinement near the weightings that the targets select, each refinement step on
the targets whose selection is near it only; after the first weighting, every target is scored
on a window of alphas around its current one (:func:`~._solver_kernels.window_errors`).
"""

from __future__ import annotations

import itertools
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from brainalign.encoders._solver_backend import NumpyOps, TorchOps
from brainalign.encoders._solver_folds import DualFolds, PrimalFolds
from brainalign.encoders._solver_kernels import (
    choose_method,
    fold_errors,
    invalid_alphas,
    window_errors,
)

__all__ = [
    "BandedRidgeResult",
    "dirichlet_candidates",
    "refine_order",
    "solve_banded_ridge_random_search",
]

#: Working memory (bytes) of one pass over the targets when ``n_targets_batch`` is None.
_TARGET_MEMORY = 2 * 1024**3


@dataclass
class BandedRidgeResult:
    """Output of :func:`solve_banded_ridge_random_search` (numpy arrays).

    Attributes
    ----------
    deltas : ndarray, shape (n_bands, n_targets)
        himalaya's log band scalings ``log(gamma / alpha)`` of the selected candidate.
    coef : ndarray, shape (n_features, n_targets)
        Refit coefficients on the unscaled, concatenated bands.
    intercept : ndarray, shape (n_targets,)
    cv_scores : ndarray, shape (n_candidates, n_targets)
        Best mean validation score (negative MSE, with himalaya's tie-breaking slope) of
        every candidate weighting.
    best_alphas : ndarray, shape (n_targets,)
    best_candidates : ndarray of int, shape (n_targets,)
        Index of the selected weighting in ``gammas``.
    gammas : ndarray, shape (n_candidates, n_bands)
        The band weightings tried, in order.
    space : {"primal", "dual"}
    method : {"direct", "pole"}
    """

    deltas: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    cv_scores: np.ndarray
    best_alphas: np.ndarray
    best_candidates: np.ndarray
    gammas: np.ndarray
    space: str
    method: str


def dirichlet_candidates(
    n_iter: int, n_bands: int, concentration: Any, random_state: Any
) -> np.ndarray:
    """Band weightings of himalaya's random search, shape (n_iter, n_bands), float64.

    Same draws as ``himalaya.kernel_ridge.generate_dirichlet_samples`` (a
    ``numpy.random.RandomState`` seeded with ``random_state``; one block of draws per
    concentration, interleaved) with the first weighting set to uniform, as himalaya's solvers
    do. Implemented here so that himalaya's global backend is never involved.
    """
    if random_state is None or random_state is np.random:
        rng = np.random.mtrand._rand
    elif isinstance(random_state, np.random.RandomState):
        rng = random_state
    else:
        rng = np.random.RandomState(random_state)
    concentration = np.atleast_1d(np.asarray(concentration, dtype=np.float64))
    n_conc = len(concentration)
    per_conc = int(np.ceil(n_iter / float(n_conc)))
    blocks = []
    for conc in concentration:
        if conc == np.inf:
            blocks.append(np.full((per_conc, n_bands), 1.0 / n_bands))
        else:
            blocks.append(rng.dirichlet([conc] * n_bands, per_conc))
    gammas = np.stack(blocks).swapaxes(0, 1).reshape(n_conc * per_conc, n_bands)[:n_iter]
    gammas = np.array(gammas, dtype=np.float64)
    gammas[0] = 1.0 / n_bands
    return gammas


#: Weight ratios are compared in decades and clipped at this many: a band weighted 1e5 times
#: less than another is effectively off, however much less.
_RATIO_CLIP = 5.0
#: Resolution (decades of the most changed weight ratio) of the coarse covering.
_COARSE = 1.0
#: Weightings closer than this to an evaluated one are never evaluated by "refine".
_FINE = 0.1
#: Share of the candidate weightings that "refine" evaluates at most.
_REFINE_SHARE = 0.6
#: Alphas on either side of a target's current one that a refinement step scores (direct).
_ALPHA_HALF_WINDOW = 1
#: A refinement step scores the targets selecting an evaluated weighting this close (decades,
#: beyond the nearest one).
_NEAR = 1.0


def _log_weights(gammas: np.ndarray) -> np.ndarray:
    u = np.log10(np.maximum(gammas, np.finfo(np.float64).tiny))
    return np.maximum(u, u.max(1, keepdims=True) - _RATIO_CLIP)


def _ratio_distance(u: np.ndarray, i: int, others: list[int]) -> np.ndarray:
    """Largest change, in decades, of any weight ratio between ``i`` and each of ``others``."""
    d = u[others] - u[i]
    return d.max(1) - d.min(1)


def refine_budget(n_candidates: int, n_bands: int) -> int:
    """Number of weightings that ``search="refine"`` evaluates at most."""
    return int(min(n_candidates, max(n_bands + 2, math.ceil(_REFINE_SHARE * n_candidates))))


def refine_order(gammas: np.ndarray, current_best: Any, budget: int) -> Any:
    """Successive refinement over the candidate weightings.

    Yields ``(index, near)``: the weighting to evaluate next, and ``None`` (evaluate it on
    every target) or the evaluated weightings near it (evaluate it only on the targets that
    currently select one of them).

    1. The first weighting (uniform), then a coarse covering: repeatedly the candidate
       farthest from all evaluated ones, while that distance exceeds ``_COARSE`` decades (of
       the most changed weight ratio, ratios clipped at ``_RATIO_CLIP`` decades). These are
       evaluated on every target.
    2. Refinement: each remaining candidate is attached to its nearest evaluated weighting;
       the next one evaluated maximises (targets currently selecting that neighbour) x
       (distance to it), among candidates farther than ``_FINE`` decades from every evaluated
       weighting, until ``budget`` weightings were evaluated or none qualifies. It is
       evaluated on the targets whose selected weighting lies within ``_COARSE`` decades of
       its nearest evaluated one (a target whose selection is far away keeps it).

    ``current_best()`` returns the index of the currently selected weighting of each target;
    it is called between evaluations, so the refinement follows the selections.
    """
    u = _log_weights(np.asarray(gammas, dtype=np.float64))
    n = len(u)
    done = [0]
    yield 0, None
    while len(done) < budget:
        rest = [c for c in range(n) if c not in done]
        if not rest:
            return
        dist = np.array([_ratio_distance(u, c, done).min() for c in rest])
        k = int(np.argmax(dist))
        if dist[k] <= _COARSE:
            break
        done.append(rest[k])
        yield rest[k], None
    while len(done) < budget:
        rest = [c for c in range(n) if c not in done]
        if not rest:
            return
        demand = np.bincount(np.asarray(current_best()), minlength=n)
        priority = []
        for c in rest:
            d = _ratio_distance(u, c, done)
            j = int(np.argmin(d))
            priority.append(demand[done[j]] * d[j] if d[j] > _FINE else -1.0)
        k = int(np.argmax(priority))
        if priority[k] <= 0:
            return
        d = _ratio_distance(u, rest[k], done)
        near = [done[j] for j in np.flatnonzero(d <= d.min() + _NEAR)]
        done.append(rest[k])
        yield rest[k], near


def _refine_steps(state: _SearchState, steps: Any) -> Any:
    """``(index, targets, window)`` triples from :func:`refine_order`'s ``(index, near)``.

    The first weighting is scored on every alpha; later ones only on a window of alphas
    around each target's current one (``window=True``).
    """
    for k, (ii, near) in enumerate(steps):
        targets = None
        if near is not None:
            targets = np.flatnonzero(np.isin(state.current_selection(), near))
        yield ii, targets, k > 0


def _auto_batch(n_targets: int, bytes_per_target: int) -> int:
    return int(max(1, min(n_targets, _TARGET_MEMORY // max(1, bytes_per_target))))


def solve_banded_ridge_random_search(
    Xs: list[np.ndarray],
    Y: np.ndarray,
    *,
    splits: list[tuple[np.ndarray, np.ndarray]],
    alphas: np.ndarray,
    gammas: np.ndarray,
    fit_intercept: bool = True,
    space: str = "primal",
    ops: NumpyOps | TorchOps | None = None,
    method: str = "auto",
    n_targets_batch: int | None = None,
    n_alphas_batch: int | None = None,
    n_targets_batch_refit: int | None = None,
    progress_bar: bool = False,
    search: str = "random",
) -> BandedRidgeResult:
    """Random search of per-band ridge penalties, per target, by cross-validation.

    Parameters
    ----------
    Xs : list of ndarray, each of shape (n_samples, n_features_b)
        The feature bands (float32 or float64; all of the same dtype).
    Y : ndarray, shape (n_samples, n_targets)
    splits : list of (train, test) index arrays
        Inner cross-validation folds.
    alphas : ndarray, shape (n_alphas,)
        Penalty grid (sorted ascending).
    gammas : ndarray, shape (n_candidates, n_bands)
        Band weightings to try, in order (e.g. :func:`dirichlet_candidates`).
    fit_intercept : bool
        Centre features and targets (on all samples, then on the training samples of every
        fold), as himalaya.
    space : {"primal", "dual"}
        Eigendecompose the (n_features, n_features) Gram matrix or the (n_train, n_train)
        kernel of every fold.
    ops : backend or None
        :class:`~brainalign.encoders._solver_backend.NumpyOps` (default) or ``TorchOps``.
    method : {"auto", "direct", "pole"}
        How validation errors of all alphas are computed (see ``_solver_kernels``).
    n_targets_batch : int or None
        Targets per pass of the search. Every pass repeats the eigendecompositions, so this is
        only a memory bound. ``None``: as many as fit in about 2 GiB of working memory.
    n_alphas_batch : int or None
        Alphas per block of the direct method (memory bound).
    n_targets_batch_refit : int or None
        Targets per solve of the refit (memory bound).
    progress_bar : bool
        Show himalaya's progress bar over the candidate weightings.
    search : {"random", "refine"}
        ``"random"``: evaluate every weighting of ``gammas`` in order (himalaya's random
        search). ``"refine"``: evaluate a subset chosen by :func:`refine_order` (a coarse
        covering of the weightings, then refinement where the targets' selections
        concentrate); the others get ``nan`` in ``cv_scores``.

    Returns
    -------
    result : BandedRidgeResult
    """
    from himalaya.progress_bar import ProgressBar, bar

    ops = NumpyOps() if ops is None else ops
    dtype = np.dtype(Xs[0].dtype)
    n_samples, n_targets = Y.shape
    band_sizes = [x.shape[1] for x in Xs]
    n_features = sum(band_sizes)
    alphas64 = np.asarray(alphas, dtype=np.float64)
    n_alphas = len(alphas64)
    gammas = np.asarray(gammas, dtype=np.float64)
    # himalaya casts the weightings to the data dtype
    gammas_d = gammas.astype(dtype)
    n_cand = len(gammas_d)

    # centre on all samples (himalaya: X_offset, Y_offset)
    X_all = np.concatenate(Xs, axis=1) if len(Xs) > 1 else Xs[0]
    X_all = np.asarray(X_all, dtype=dtype)
    Y = np.asarray(Y, dtype=dtype)
    if fit_intercept:
        X_offset = X_all.mean(0)
        Y_offset = Y.mean(0)
        X_c = X_all - X_offset
        Y_c = Y - Y_offset
    else:
        X_offset = np.zeros(n_features, dtype=dtype)
        Y_offset = np.zeros(n_targets, dtype=dtype)
        X_c, Y_c = X_all, Y
    X_b = ops.asarray(X_c, dtype)
    Y_b = ops.asarray(Y_c, dtype)

    n_folds = len(splits)
    n_test_max = max(len(te) for _, te in splits)
    if space == "primal":
        folds: PrimalFolds | DualFolds = PrimalFolds(ops, X_b, band_sizes, splits, fit_intercept)
        per_target = n_folds * (n_features + n_test_max) * dtype.itemsize
    else:
        starts = np.concatenate([[0], np.cumsum(band_sizes)])
        bands = [X_b[:, a:b] for a, b in itertools.pairwise(starts)]
        folds = DualFolds(ops, bands, splits, fit_intercept)
        per_target = n_folds * n_samples * dtype.itemsize
    n_test_mean = int(np.mean([len(te) for _, te in splits]))
    method = choose_method(method, n_alphas, n_test_mean, folds.m, folds.r)
    per_target += 8 * (n_folds * n_alphas + 4 * folds.r)
    batch = n_targets_batch or _auto_batch(n_targets, per_target)

    state = _SearchState(
        ops, folds, gammas_d, alphas64, n_targets, method, n_alphas_batch, space == "dual"
    )
    title = f"{n_cand} random sampling with cv"
    for t0 in range(0, n_targets, batch):
        cols = slice(t0, min(n_targets, t0 + batch))
        state.start_batch(cols, folds.targets(Y_b[:, cols]))
        if search == "random":
            order = ((ii, None, False) for ii in bar(range(n_cand), title, use_it=progress_bar))
        else:
            budget = refine_budget(n_cand, gammas.shape[1])
            steps = refine_order(gammas, state.current_selection, budget)
            if progress_bar:
                steps = ProgressBar(title=f"{budget} refined of {title}", max_value=budget)(steps)
            order = _refine_steps(state, steps)
        for ii, targets, window in order:
            state.evaluate(ii, targets, window)
    best_cand, best_alpha_idx, updated = state.best_cand, state.best_alpha_idx, state.updated
    cv_scores = state.cv_scores

    best_gammas = gammas_d[best_cand].T.copy()  # (n_bands, n_targets)
    best_alphas = alphas64[best_alpha_idx].astype(dtype)
    n_bands = gammas_d.shape[1]
    # targets never updated keep himalaya's initial values (uniform weights, alpha = 1)
    best_gammas[:, ~updated] = dtype.type(1.0 / n_bands)
    best_alphas[~updated] = 1
    with np.errstate(divide="ignore"):
        deltas = np.log(best_gammas / best_alphas[None, :])

    coef = _refit(
        ops, folds, X_b, Y_b, gammas_d, best_cand, best_alphas, band_sizes, n_targets_batch_refit
    )
    coef = coef.astype(dtype, copy=False)
    intercept = (Y_offset - X_offset @ coef).astype(dtype) if fit_intercept else Y_offset * 0
    return BandedRidgeResult(
        deltas=deltas,
        coef=coef,
        intercept=intercept,
        cv_scores=cv_scores,
        best_alphas=best_alphas,
        best_candidates=best_cand,
        gammas=gammas,
        space=space,
        method=method,
    )


class _SearchState:
    """Per-target selection of himalaya's random search, one weighting at a time.

    ``evaluate(ii)`` scores weighting ``ii`` on every fold for the current batch of targets
    and applies himalaya's update: the float64 mean over folds cast back to the data dtype,
    plus ``1e-10 log(alpha)`` (ties towards larger alphas), the best alpha per target, and a
    replacement of the current selection only where the new score beats it by the dtype's
    epsilon.
    """

    def __init__(
        self,
        ops: Any,
        folds: PrimalFolds | DualFolds,
        gammas_d: np.ndarray,
        alphas64: np.ndarray,
        n_targets: int,
        method: str,
        n_alphas_batch: int | None,
        check_negative: bool,
    ):
        self.ops, self.folds, self.gammas_d = ops, folds, gammas_d
        self.dtype = gammas_d.dtype
        self.alphas64 = alphas64
        self.alphas_b = ops.asarray(alphas64, ops.float64)
        self.slope = np.log(alphas64) * 1e-10
        self.eps = self.dtype.type(np.finfo(self.dtype).eps)
        self.method, self.n_alphas_batch = method, n_alphas_batch
        self.check_negative = check_negative
        # identical weightings have identical scores: each is evaluated once, exactly as
        # himalaya's repeated evaluation would score it (a repeat never updates a selection)
        _, first = np.unique(gammas_d, axis=0, return_index=True)
        self.first_of = {gammas_d[i].tobytes(): int(i) for i in first}
        self.best_cand = np.zeros(n_targets, dtype=np.intp)
        self.best_alpha_idx = np.zeros(n_targets, dtype=np.intp)
        self.updated = np.zeros(n_targets, dtype=bool)
        self.cv_scores = np.full((len(gammas_d), n_targets), np.nan, dtype=self.dtype)

    def start_batch(self, cols: slice, fold_targets: list[Any]) -> None:
        self.cols, self.fold_targets = cols, fold_targets
        self.current = np.full(cols.stop - cols.start, -np.inf, dtype=self.dtype)

    def current_selection(self) -> np.ndarray:
        return self.best_cand[self.cols]

    def evaluate(self, ii: int, targets: np.ndarray | None = None, window: bool = False) -> None:
        """Score weighting ``ii`` and update the selections.

        ``targets`` (indices into the current batch) restricts the evaluation to those
        targets; ``cv_scores`` stays ``nan`` for the others. ``window`` restricts each target,
        with the direct method, to the ``2 * _ALPHA_HALF_WINDOW + 1`` alphas around its
        currently selected alpha (the other alphas score ``-inf``).
        """
        ops, folds, cols, dtype = self.ops, self.folds, self.cols, self.dtype
        gamma = self.gammas_d[ii]
        first = self.first_of[gamma.tobytes()]
        if first != ii:
            if targets is None and np.isnan(self.cv_scores[first, cols.start]):
                self.evaluate(first)
            self.cv_scores[ii, cols] = self.cv_scores[first, cols]
            return
        n_folds, n_alphas = len(self.fold_targets), len(self.alphas64)
        sel = np.arange(cols.stop - cols.start) if targets is None else np.asarray(targets)
        n_sel = len(sel)
        if n_sel == 0:
            return
        width = min(n_alphas, 2 * _ALPHA_HALF_WINDOW + 1)
        lo = None
        if window and self.method == "direct" and width < n_alphas:
            current = self.best_alpha_idx[sel + cols.start]
            lo = np.clip(current - _ALPHA_HALF_WINDOW, 0, n_alphas - width)
        sel_b = None if targets is None else ops.index(sel)
        scores = np.empty((n_folds, n_alphas, n_sel), dtype=dtype)
        eigs = ops.eigh_many([folds.gram(f, gamma, dtype) for f in range(n_folds)])
        for f, ft in enumerate(self.fold_targets):
            s, Phi, T = folds.finish(f, gamma, *eigs[f])
            eigs[f] = None  # free the eigenvectors as soon as they are used
            R, Y_test, yy = ft.R, ft.Y_test, ft.yy
            if sel_b is not None:
                R, Y_test, yy = R[:, sel_b], Y_test[:, sel_b], yy[sel_b]
            if lo is None:
                err = fold_errors(
                    ops, s, Phi, T, R, Y_test, yy, self.alphas_b, self.method,
                    self.n_alphas_batch,
                )  # fmt: skip
            else:
                err = window_errors(ops, s, Phi, T, R, Y_test, self.alphas_b, lo, width)
            scores[f] = -ops.to_numpy(err) / folds.n_test[f]
            if self.check_negative:
                scores[f, invalid_alphas(ops, s, self.alphas64)] = -1e5
        mean = scores.mean(0, dtype=np.float64).astype(dtype)
        mean = (mean + self.slope[:, None]).astype(dtype)
        arg = np.argmax(mean, axis=0)
        best = mean[arg, np.arange(n_sel)]
        where_all = sel + cols.start
        self.cv_scores[ii, where_all] = best
        mask = best > self.current[sel] + self.eps
        self.current[sel[mask]] = best[mask]
        where = where_all[mask]
        self.best_cand[where] = ii
        self.best_alpha_idx[where] = arg[mask]
        self.updated[where] = True


def _refit(
    ops: Any,
    folds: PrimalFolds | DualFolds,
    X_b: Any,
    Y_b: Any,
    gammas_d: np.ndarray,
    best_cand: np.ndarray,
    best_alphas: np.ndarray,
    band_sizes: list[int],
    n_targets_batch_refit: int | None,
) -> np.ndarray:
    """Coefficients on all (centred) samples, one float64 solve per (weighting, alpha) group.

    The groups are independent: they are solved concurrently, one single-threaded solve per
    thread (see :func:`~brainalign.encoders._solver_backend._eigh_many` for why).
    """
    f64 = ops.float64
    dtype = X_b.dtype
    n_samples, n_targets = Y_b.shape
    n_features = sum(band_sizes)
    keys = np.stack([best_cand, best_alphas.astype(np.float64).view(np.int64)], axis=1)
    groups, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    step = n_targets_batch_refit or n_targets
    primal = isinstance(folds, PrimalFolds)
    if primal:
        G = ops.cast(X_b.T @ X_b, f64)
        XY = X_b.T @ Y_b  # (n_features, n_targets)
        out = ops.empty((n_features, n_targets), f64)
    else:
        Ks = [ops.cast(K, f64) for K in folds.K]
        out = ops.empty((n_samples, n_targets), f64)  # dual weights
    size = n_features if primal else n_samples

    def solve_group(gi: int) -> None:
        cand, alpha_bits = groups[gi]
        alpha = float(np.int64(alpha_bits).view(np.float64))
        gamma = gammas_d[cand].astype(np.float64)
        idx = np.flatnonzero(inverse == gi)
        if primal:
            d = ops.asarray(folds.column_scale(gamma), f64)
            A = G * (d[:, None] * d[None, :])
        else:
            A = folds.weighted(Ks, gamma)
        A = A + alpha * ops.eye(size, f64)
        for i0 in range(0, len(idx), step):
            cols = ops.index(idx[i0 : i0 + step])
            if primal:
                B = ops.cast(XY[:, cols], f64) * d[:, None]
                out[:, cols] = _solve(ops, A, B) * d[:, None]
            else:
                out[:, cols] = _solve(ops, A, ops.cast(Y_b[:, cols], f64))

    with ops.single_threaded() as n_threads:
        if n_threads <= 1 or len(groups) == 1:
            for gi in range(len(groups)):
                solve_group(gi)
        else:
            with ThreadPoolExecutor(min(n_threads, len(groups))) as pool:
                list(pool.map(solve_group, range(len(groups))))
    if primal:
        return ops.to_numpy(out)
    # primal coefficients of band b: gamma_b X_b^T dual (in the data dtype)
    weights = ops.asarray(gammas_d[best_cand].T, dtype)  # (n_bands, n_targets)
    starts = np.concatenate([[0], np.cumsum(band_sizes)])
    dual = ops.cast(out, dtype)
    parts = [
        ops.to_numpy(X_b[:, a0:a1].T @ (dual * weights[b][None, :]))
        for b, (a0, a1) in enumerate(itertools.pairwise(starts))
    ]
    return np.concatenate(parts, axis=0)


def _solve(ops: Any, A: Any, B: Any) -> Any:
    """Cholesky solve; an eigendecomposition (negative eigenvalues set to 0) if that fails."""
    try:
        return ops.solve_pd(A, B)
    except np.linalg.LinAlgError:
        return ops.solve_sym(A, B)


def gflops_estimate(
    n_samples: int,
    n_features: int,
    n_targets: int,
    n_folds: int,
    n_candidates: int,
    n_alphas: int,
    space: str,
    method: str,
) -> float:
    """Rough count (GFLOP) of the search's matrix products, for throughput reports."""
    n_test = n_samples / n_folds
    n_train = n_samples - n_test
    if space == "primal":
        m = r = n_features
        per_fold = 2 * n_train * n_features * n_targets  # X_tr^T Y_tr
    else:
        m = r = n_train
        per_fold = 0.0
    if method == "pole":
        per_cand_fold = 2 * n_targets * (r * m + n_test * r + r * r) + 2 * n_test * r * r
    else:
        per_cand_fold = 2 * n_alphas * n_test * m * (n_targets + r)
    eig = 4.0 * r**3  # tridiagonalisation + back-transformation, roughly
    total = n_folds * per_fold + n_candidates * n_folds * (per_cand_fold + eig)
    return total / 1e9 if math.isfinite(total) else float("nan")
