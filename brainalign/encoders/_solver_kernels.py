"""Validation errors of ridge for every alpha at once, from one eigendecomposition.

Both spaces reduce to the same quantities for one inner fold and one band weighting:

- ``s`` (r,), ``Phi`` (m, r): the eigendecomposition of the weighted training Gram matrix
  (primal: ``m = r = n_features``, ``Phi = D V`` with ``D`` the band scalings; dual:
  ``m = r = n_train``, ``Phi = U``, the eigenvectors of the weighted training kernel);
- ``T`` (n_test, r): the validation design in the eigenbasis (``X_test D V`` or
  ``K_test U``);
- ``R`` (m, n_targets): the training targets as the solver sees them (primal:
  ``X_train^T Y_train``; dual: ``Y_train``), and ``Y_test`` (n_test, n_targets).

The validation predictions of ridge with penalty ``alpha`` are ``P_a = T F_a Phi^T R`` with
``F_a = diag(1 / (s + alpha))``. Two ways to get ``||Y_test - P_a||^2`` for every alpha and
target are implemented, and the cheaper one is used:

- ``"direct"``: form ``A_a = T F_a Phi^T`` for every alpha and one product ``A @ R``;
  cost ``n_alphas * n_test * m`` per target.
- ``"pole"``: partial fractions. With ``z = Phi^T r``, ``c = T^T y_test``, ``M = T^T T``,
  the error is ``y.y - 2 sum_k f_k c_k z_k + sum_kl f_k f_l M_kl z_k z_l``, and
  ``f_k f_l = (f_k - f_l) / (s_l - s_k)`` turns the double sum into
  ``2 sum_k f_k z_k (N z)_k`` with ``N_kl = M_kl / (s_l - s_k)``: every alpha then costs a
  product with an ``(n_alphas, r)`` matrix, and the cost per target is about ``3 r^2``,
  independent of the number of alphas. Pairs of (nearly) equal eigenvalues, where ``N`` would
  blow up, are expanded in powers of the gap instead (exact to ``tau ** (order + 1)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["choose_method", "fold_errors", "window_errors"]

#: Relative eigenvalue gap under which a pair is expanded in powers of the gap.
_TAU = 1e-4
#: Number of terms of that expansion (error about ``_TAU ** (_ORDER + 1)``).
_ORDER = 3
#: Targets per block of the direct method (keeps the residuals in cache).
_DIRECT_BLOCK = 1024


def choose_method(method: str, n_alphas: int, n_test: int, m: int, r: int) -> str:
    """``"direct"`` or ``"pole"``: the method with fewer multiply-adds per target.

    The pole method's float64 product counts double (float64 runs at half the float32 rate).
    """
    if method != "auto":
        return method
    direct = n_alphas * n_test * m
    pole = r * m + n_test * r + 2 * r * r
    return "pole" if pole < direct else "direct"


def _inverse_shifts(ops: Any, s64: Any, alphas64: Any) -> Any:
    """``F[a, k] = 1 / (s_k + alpha_a)``, 0 where the sum is 0 (an alpha marked invalid)."""
    den = alphas64[:, None] + s64[None, :]
    ok = den != 0
    return ops.where(ok, 1.0 / ops.where(ok, den, 1.0), 0.0)


def invalid_alphas(ops: Any, s: Any, alphas64: np.ndarray) -> np.ndarray:
    """Alphas too small for a kernel with negative eigenvalues (himalaya's rule).

    Negative eigenvalues only come from round-off; an alpha smaller than twice the most
    negative one does not regularise them away, and himalaya scores it ``-1e5``.
    """
    s_min = float(ops.to_numpy(s[:1])[0])
    if s_min >= 0:
        return np.zeros(alphas64.shape, dtype=bool)
    return alphas64 < -2 * s_min


def fold_errors(
    ops: Any,
    s: Any,
    Phi: Any,
    T: Any,
    R: Any,
    Y_test: Any,
    yy: Any,
    alphas64: Any,
    method: str,
    n_alphas_batch: int | None = None,
) -> Any:
    """Squared validation errors ``||Y_test - P_a||^2``, shape (n_alphas, n_targets), float64.

    Parameters
    ----------
    ops : backend
    s : array, shape (r,)
        Eigenvalues (ascending) of the weighted training Gram matrix or kernel.
    Phi : array, shape (m, r)
    T : array, shape (n_test, r)
    R : array, shape (m, n_targets)
    Y_test : array, shape (n_test, n_targets)
    yy : array, shape (n_targets,), float64
        ``(Y_test ** 2).sum(0)``.
    alphas64 : array, shape (n_alphas,), float64
    method : {"direct", "pole"}
    n_alphas_batch : int or None
        Alphas per block of the direct method (memory bound).
    """
    if method == "pole":
        return _pole_errors(ops, s, Phi, T, R, Y_test, yy, alphas64)
    return _direct_errors(ops, s, Phi, T, R, Y_test, alphas64, n_alphas_batch)


def _direct_operator(ops: Any, s: Any, Phi: Any, T: Any, alphas64: Any) -> Any:
    """``A_a = T F_a Phi^T`` for every alpha, stacked: shape (n_alphas * n_test, m)."""
    F = ops.cast(_inverse_shifts(ops, ops.cast(s, ops.float64), alphas64), T.dtype)
    return (T[None, :, :] * F[:, None, :]).reshape(F.shape[0] * T.shape[0], -1) @ Phi.T


def _squared_errors(ops: Any, A: Any, R: Any, Y_test: Any, out: Any) -> None:
    """``out[a, t] = ||Y_test[:, t] - (A_a R)[:, t]||^2`` in target blocks (float64 out)."""
    n_test, n_targets = Y_test.shape
    nb = A.shape[0] // n_test
    for t0 in range(0, n_targets, _DIRECT_BLOCK):
        t1 = min(n_targets, t0 + _DIRECT_BLOCK)
        P = (A @ R[:, t0:t1]).reshape(nb, n_test, t1 - t0)
        P -= Y_test[None, :, t0:t1]
        P *= P
        out[:, t0:t1] = ops.cast(P.sum(1), ops.float64)


def _direct_errors(
    ops: Any,
    s: Any,
    Phi: Any,
    T: Any,
    R: Any,
    Y_test: Any,
    alphas64: Any,
    n_alphas_batch: int | None,
) -> Any:
    n_alphas = alphas64.shape[0]
    n_targets = Y_test.shape[1]
    err = ops.empty((n_alphas, n_targets), ops.float64)
    step = n_alphas if n_alphas_batch is None else max(1, int(n_alphas_batch))
    for a0 in range(0, n_alphas, step):
        A = _direct_operator(ops, s, Phi, T, alphas64[a0 : a0 + step])
        _squared_errors(ops, A, R, Y_test, err[a0 : a0 + step])
    return err


def window_errors(
    ops: Any,
    s: Any,
    Phi: Any,
    T: Any,
    R: Any,
    Y_test: Any,
    alphas64: Any,
    lo: np.ndarray,
    width: int,
) -> Any:
    """Direct-method errors restricted to a window of alphas per target.

    Target ``t`` is scored on ``alphas64[lo[t] : lo[t] + width]`` only; the other entries are
    ``inf``. The stacked operator is formed once for the alphas that some window needs, and
    every group of targets sharing a window costs ``width * n_test * m`` per target instead
    of ``n_alphas * n_test * m``.

    Returns
    -------
    err : array, shape (n_alphas, n_targets), float64
    """
    n_alphas = alphas64.shape[0]
    n_test, n_targets = Y_test.shape
    m, r = Phi.shape
    lo = np.asarray(lo, dtype=np.intp)
    starts = np.unique(lo)
    needed = np.unique(np.concatenate([np.arange(a, a + width) for a in starts]))
    err = ops.empty((n_alphas, n_targets), ops.float64)
    err[:] = float("inf")
    # operator route: A for the needed alphas (len(needed) * n_test * r * m), then width *
    # n_test * m per target; coefficient route: Z = Phi^T R (r * m per target), then width *
    # n_test * r per target. Few targets (a refinement step) favour the second.
    if n_targets * r * m < len(needed) * n_test * r * m:
        F = ops.cast(_inverse_shifts(ops, ops.cast(s, ops.float64), alphas64), T.dtype)
        Z = Phi.T @ R
        for a0 in starts:
            cols = ops.index(np.flatnonzero(lo == a0))
            Zc, Yc = Z[:, cols], Y_test[:, cols]
            for a in range(a0, a0 + width):
                P = T @ (F[a][:, None] * Zc)
                P -= Yc
                P *= P
                err[a, cols] = ops.cast(P.sum(0), ops.float64)
        return err
    row_of = {int(a): k for k, a in enumerate(needed)}
    A = _direct_operator(ops, s, Phi, T, alphas64[ops.index(needed)])
    A = A.reshape(len(needed), n_test, -1)
    for a0 in starts:
        members = np.flatnonzero(lo == a0)
        rows = ops.index(np.array([row_of[int(a)] for a in range(a0, a0 + width)]))
        cols = ops.index(members)
        block = ops.empty((width, len(members)), ops.float64)
        _squared_errors(
            ops, A[rows].reshape(width * n_test, -1), R[:, cols], Y_test[:, cols], block
        )
        err[a0 : a0 + width, cols] = block
    return err


def _near_runs(s64: np.ndarray, scale: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs ``[lo, hi)`` of consecutive eigenvalues closer than ``_TAU * scale``."""
    close = np.abs(np.diff(s64)) <= _TAU * np.maximum(scale[:-1], scale[1:])
    runs = []
    k = 0
    n = len(s64)
    while k < n - 1:
        if close[k]:
            lo = k
            while k < n - 1 and close[k]:
                k += 1
            runs.append((lo, k + 1))
        k += 1
    return runs


def _pole_errors(
    ops: Any, s: Any, Phi: Any, T: Any, R: Any, Y_test: Any, yy: Any, alphas64: Any
) -> Any:
    f64 = ops.float64
    s64 = ops.cast(s, f64)
    Z = Phi.T @ R  # (r, t)
    C = T.T @ Y_test  # (r, t)
    T64 = ops.cast(T, f64)
    M = T64.T @ T64  # (r, r)
    del T64
    s_np = ops.to_numpy(s64)
    scale_np = np.abs(s_np) + float(ops.to_numpy(alphas64).min())
    scale = ops.asarray(scale_np, f64)
    gap = s64[None, :] - s64[:, None]  # gap[k, l] = s_l - s_k
    near = ops.abs(gap) <= _TAU * ops.where(
        scale[:, None] > scale[None, :], scale[:, None], scale[None, :]
    )  # pairs expanded in powers of the gap, the diagonal included
    N = ops.where(near, 0.0, M / ops.where(near, 1.0, gap))
    Z64 = ops.cast(Z, f64)
    del Z
    W = N @ Z64
    del N
    W -= ops.cast(C, f64)
    del C
    W *= Z64
    W *= 2.0  # coefficient of f_k
    F = _inverse_shifts(ops, s64, alphas64)  # (n_alphas, r)
    err = F @ W
    del W
    Z2 = Z64 * Z64
    err += (F * F * ops.diag(M)[None, :]) @ Z2
    del Z2
    err += yy[None, :]
    # near pairs off the diagonal: f_k f_l = sum_j (-(s_l - s_k))^j f_k^(2 + j)
    for lo, hi in _near_runs(s_np, scale_np):
        off = near[lo:hi, lo:hi] & (ops.eye(hi - lo, f64) == 0)
        term = ops.where(off, M[lo:hi, lo:hi], 0.0)
        Zb = Z64[lo:hi]
        neg_gap = -gap[lo:hi, lo:hi]
        Fb = F[:, lo:hi]
        power = Fb * Fb
        for _ in range(_ORDER):
            err += power @ (Zb * (term @ Zb))
            term = term * neg_gap
            power = power * Fb
    return err
