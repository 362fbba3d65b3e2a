"""Per-fold blocks of the banded-ridge solver, in the primal and in the dual space.

Everything that does not depend on the band weighting is computed once per inner fold:

- primal: the centred training Gram matrix ``G = X_tr^T X_tr`` (n_features, n_features), the
  centred validation design, and per target batch ``X_tr^T Y_tr`` (n_features, n_targets);
- dual: the centred training and validation blocks of every band's linear kernel
  ``K_b = X_b X_b^T`` and, per target batch, the centred training and validation targets.

A band weighting ``gamma`` then only costs an elementwise rescaling (primal:
``G * outer(d, d)`` with ``d = sqrt(gamma_b)`` on the columns of band ``b``; dual:
``sum_b gamma_b K_b``) and one eigendecomposition. Centring follows himalaya: the data are
centred on all samples, and again on the training samples of every fold (validation samples
with the training means).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DualFolds", "FoldTargets", "PrimalFolds"]


@dataclass
class FoldTargets:
    """The targets of one fold, as the kernels of ``_solver_kernels`` take them."""

    R: Any  # (m, n_targets)
    Y_test: Any  # (n_test, n_targets)
    yy: Any  # (n_targets,), float64


def _center_rows(ops: Any, A: Any, rows: Any) -> tuple[Any, Any]:
    """``A[rows] - mean`` and the mean (over ``rows``)."""
    block = A[rows]
    mean = block.mean(0)
    return block - mean, mean


class PrimalFolds:
    """Per-fold Gram matrices of the concatenated bands (n_samples >= n_features).

    Parameters
    ----------
    ops : backend
    X : array, shape (n_samples, n_features)
        Concatenated bands, already centred on all samples when ``fit_intercept``.
    band_sizes : list of int
    splits : list of (train, test) index arrays
    fit_intercept : bool
    """

    space = "primal"

    def __init__(
        self,
        ops: Any,
        X: Any,
        band_sizes: list[int],
        splits: list[tuple[np.ndarray, np.ndarray]],
        fit_intercept: bool,
    ):
        self.ops = ops
        self.X = X
        self.band_sizes = band_sizes
        self.fit_intercept = fit_intercept
        self.splits = [(ops.index(tr), ops.index(te)) for tr, te in splits]
        self.n_test = [len(te) for _, te in splits]
        self.G, self.X_test, self.X_train = [], [], []
        for tr, te in self.splits:
            if fit_intercept:
                Xtr, mean = _center_rows(ops, X, tr)
                Xte = X[te] - mean
            else:
                Xtr, Xte = X[tr], X[te]
            self.G.append(ops.cast(Xtr.T @ Xtr, ops.float64))
            self.X_train.append(Xtr)
            self.X_test.append(Xte)
        self.m = self.r = X.shape[1]

    def column_scale(self, gamma: np.ndarray) -> np.ndarray:
        """``sqrt(gamma_b)`` repeated over the columns of band ``b``, shape (n_features,)."""
        return np.repeat(np.sqrt(np.asarray(gamma, dtype=np.float64)), self.band_sizes)

    def targets(self, Y: Any) -> list[FoldTargets]:
        """Per-fold ``X_tr^T Y_tr`` and centred validation targets for a batch of targets."""
        ops = self.ops
        out = []
        for (tr, te), Xtr in zip(self.splits, self.X_train):
            Ytr = Y[tr]
            Yte = Y[te]
            if self.fit_intercept:
                Yte = Yte - Ytr.mean(0)
            # X_tr is centred, so X_tr^T Y_tr equals X_tr^T (Y_tr - mean)
            R = Xtr.T @ Ytr
            yy = ops.cast(Yte, ops.float64)
            out.append(FoldTargets(R=R, Y_test=Yte, yy=(yy * yy).sum(0)))
        return out

    def gram(self, fold: int, gamma: np.ndarray, eig_dtype: Any) -> Any:
        """The weighted training Gram matrix ``D G D`` of ``fold`` (to eigendecompose)."""
        ops = self.ops
        d = ops.asarray(self.column_scale(gamma), ops.float64)
        return ops.cast(self.G[fold] * (d[:, None] * d[None, :]), eig_dtype)

    def finish(self, fold: int, gamma: np.ndarray, s: Any, V: Any) -> tuple[Any, Any, Any]:
        """``(s, Phi, T)``: eigenvalues clipped at 0, ``Phi = D V``, ``T = X_te D V``."""
        ops = self.ops
        s = ops.maximum(s, 0.0)  # a Gram matrix: negative values are round-off (SVD semantics)
        dtype = self.X.dtype
        d = ops.asarray(self.column_scale(gamma), dtype)
        Phi = ops.cast(V, dtype) * d[:, None]
        return s, Phi, self.X_test[fold] @ Phi


class DualFolds:
    """Per-fold blocks of every band's linear kernel (n_features > n_samples).

    Parameters
    ----------
    ops : backend
    Xs : list of arrays, shape (n_samples, n_features_b)
        The bands, already centred on all samples when ``fit_intercept``.
    splits : list of (train, test) index arrays
    fit_intercept : bool
    """

    space = "dual"

    def __init__(
        self,
        ops: Any,
        Xs: list[Any],
        splits: list[tuple[np.ndarray, np.ndarray]],
        fit_intercept: bool,
    ):
        self.ops = ops
        self.fit_intercept = fit_intercept
        self.splits = [(ops.index(tr), ops.index(te)) for tr, te in splits]
        self.n_test = [len(te) for _, te in splits]
        self.dtype = Xs[0].dtype
        self.K = [X @ X.T for X in Xs]  # full kernels, also used by the refit
        self.K_train: list[list[Any]] = []
        self.K_test: list[list[Any]] = []
        for tr, te in self.splits:
            Ktr_b, Kte_b = [], []
            for K in self.K:
                Ktr = K[tr][:, tr]
                Kte = K[te][:, tr]
                if fit_intercept:
                    # himalaya's KernelCenterer fitted on the training block
                    col = Ktr.mean(0)
                    total = col.mean()
                    Ktr = Ktr - col[None, :] - Ktr.mean(1)[:, None] + total
                    Kte = Kte - col[None, :] - Kte.mean(1)[:, None] + total
                Ktr_b.append(Ktr)
                Kte_b.append(Kte)
            self.K_train.append(Ktr_b)
            self.K_test.append(Kte_b)
        self.m = self.r = len(splits[0][0])  # n_train of the first fold (cost model only)

    def targets(self, Y: Any) -> list[FoldTargets]:
        ops = self.ops
        out = []
        for tr, te in self.splits:
            Ytr = Y[tr]
            Yte = Y[te]
            if self.fit_intercept:
                mean = Ytr.mean(0)
                Ytr = Ytr - mean
                Yte = Yte - mean
            yy = ops.cast(Yte, ops.float64)
            out.append(FoldTargets(R=Ytr, Y_test=Yte, yy=(yy * yy).sum(0)))
        return out

    def weighted(self, blocks: list[Any], gamma: np.ndarray) -> Any:
        out = None
        for g, K in zip(np.asarray(gamma, dtype=np.float64), blocks):
            term = K * float(g)
            out = term if out is None else out + term
        return out

    def gram(self, fold: int, gamma: np.ndarray, eig_dtype: Any) -> Any:
        """The weighted, centred training kernel of ``fold`` (to eigendecompose)."""
        return self.ops.cast(self.weighted(self.K_train[fold], gamma), eig_dtype)

    def finish(self, fold: int, gamma: np.ndarray, s: Any, U: Any) -> tuple[Any, Any, Any]:
        """``(s, U, K_te U)`` of the weighted training kernel of ``fold``."""
        U = self.ops.cast(U, self.dtype)
        return s, U, self.weighted(self.K_test[fold], gamma) @ U
