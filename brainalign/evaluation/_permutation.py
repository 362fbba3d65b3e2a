"""Null distributions by block permutation, and false-discovery-rate correction."""

from __future__ import annotations

import itertools
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import false_discovery_control

from brainalign._validation import check_array, check_choice, check_groups, run_edges
from brainalign.evaluation._metrics import _prepare

__all__ = [
    "PermutationResult",
    "block_permutation_test",
    "fdr_correction",
    "make_block_permutation",
]

# Largest number of float64 values gathered at once (256 MiB) when n_permutations_batch=None.
_MAX_BATCH_VALUES = 2**25


@dataclass(frozen=True)
class PermutationResult:
    """Result of :func:`block_permutation_test`.

    Attributes
    ----------
    scores : ndarray, shape (n_targets,)
        Observed score of each target.
    null : ndarray, shape (n_permutations, n_targets)
        Scores after block-permuting the predictions.
    pvalues : ndarray, shape (n_targets,)
        One-sided p-values ``(1 + #(null >= scores)) / (1 + n_permutations)``.
    """

    scores: np.ndarray
    null: np.ndarray
    pvalues: np.ndarray


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _run_blocks(n_samples: int, block_size: int, groups: Any) -> list[list[np.ndarray]]:
    """For each run, the list of its blocks (arrays of consecutive sample indices)."""
    if groups is None:
        bounds = [(0, n_samples)]
    else:
        edges = run_edges(check_groups(groups, n_samples))
        bounds = list(itertools.pairwise(edges.tolist()))
    runs = []
    for start, stop in bounds:
        idx = np.arange(start, stop)
        runs.append([idx[i : i + block_size] for i in range(0, idx.size, block_size)])
    if all(len(blocks) < 2 for blocks in runs):
        where = "any run" if groups is not None else "the time series"
        raise ValueError(
            f"`block_size`={block_size} leaves fewer than 2 blocks in {where} "
            f"({n_samples} samples), so no permutation is possible; lower `block_size`."
        )
    return runs


def _draw(runs: list[list[np.ndarray]], rng: np.random.Generator) -> np.ndarray:
    parts = []
    for blocks in runs:
        order = rng.permutation(len(blocks))
        parts.extend(blocks[i] for i in order)
    return np.concatenate(parts)


def make_block_permutation(
    n_samples: int,
    block_size: int,
    *,
    groups: Any = None,
    random_state: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Draw a permutation of samples that moves blocks of consecutive samples.

    Each run (or the whole series without ``groups``) is cut into blocks of ``block_size``
    consecutive samples (the last block of a run may be shorter), and the blocks are shuffled
    within their run; the order of samples inside a block is kept, which preserves the
    autocorrelation at lags shorter than a block.

    Parameters
    ----------
    n_samples : int
        Number of samples.
    block_size : int
        Samples per block (>= 1). Choose it longer than the autocorrelation of the data
        (for fMRI, the ~ 10-20 s of the hemodynamic response).
    groups : array-like, shape (n_samples,), optional
        Run label of each sample (runs must be contiguous); blocks never leave their run.
    random_state : int, numpy.random.Generator or None
        Seed or generator (:func:`numpy.random.default_rng`).

    Returns
    -------
    perm : ndarray of int, shape (n_samples,)
        ``y[perm]`` is the block-permuted series.
    """
    n_samples = _check_int(n_samples, "n_samples", 2)
    block_size = _check_int(block_size, "block_size", 1)
    runs = _run_blocks(n_samples, block_size, groups)
    return _draw(runs, np.random.default_rng(random_state))


def _cross_terms(
    yt: np.ndarray,
    yp: np.ndarray,
    n_perms: int,
    batch: int,
    draw: Any,
) -> np.ndarray:
    """``sum_t yt[t] * yp[perm[t]]`` for ``n_perms`` draws, shape (n_perms, n_targets).

    Permutations are drawn batch by batch so that memory stays at ``batch`` gathered copies.
    """
    out = np.empty((n_perms, yt.shape[1]))
    for start in range(0, n_perms, batch):
        chunk = np.stack([draw() for _ in range(min(batch, n_perms - start))])
        out[start : start + chunk.shape[0]] = np.einsum("bij,ij->bj", yp[chunk], yt)
    return out


def block_permutation_test(
    y_true: Any,
    y_pred: Any,
    *,
    n_permutations: int = 1000,
    block_size: int = 10,
    groups: Any = None,
    scoring: str = "correlation",
    random_state: int | np.random.Generator | None = None,
    n_permutations_batch: int | None = None,
) -> PermutationResult:
    """Test each target's score against a null built by block-permuting the predictions.

    Permuting single samples ignores autocorrelation and gives p-values that are far too
    small for fMRI; permuting blocks of consecutive samples (within runs) keeps the
    autocorrelation of the predictions inside each block. The same permutations are applied
    to all targets, which keeps the spatial correlation of the null.

    Parameters
    ----------
    y_true : array-like, shape (n_samples, n_targets) or (n_samples,)
        Held-out data.
    y_pred : array-like, same shape as ``y_true``
        Predictions of ``y_true`` (e.g. ``CVResult.predictions``).
    n_permutations : int, default=1000
        Number of permutations; the smallest attainable p-value is ``1 / (1 + n_permutations)``.
    block_size : int, default=10
        Samples per block (see :func:`make_block_permutation`).
    groups : array-like, shape (n_samples,), optional
        Run label of each sample; blocks are permuted within their run.
    scoring : {"correlation", "r2"}, default="correlation"
        Per-target score (as :func:`correlation_score` and :func:`r2_score`).
    random_state : int, numpy.random.Generator or None
        Permutation ``k`` is the ``k``-th draw of :func:`make_block_permutation` from
        ``numpy.random.default_rng(random_state)``.
    n_permutations_batch : int or None
        Permutations scored at once; memory grows as ``batch * n_samples * n_targets``
        float64 values. ``None`` caps it at about 256 MiB.

    Returns
    -------
    result : PermutationResult
        ``scores`` (n_targets,), ``null`` (n_permutations, n_targets) and one-sided
        ``pvalues`` (n_targets,) = ``(1 + #(null >= scores)) / (1 + n_permutations)``.
    """
    yt, yp = _prepare(y_true, y_pred)
    check_choice(scoring, "scoring", ("correlation", "r2"))
    n_permutations = _check_int(n_permutations, "n_permutations", 1)
    block_size = _check_int(block_size, "block_size", 1)
    n_samples, n_targets = yt.shape
    if n_permutations_batch is None:
        batch = max(1, _MAX_BATCH_VALUES // (n_samples * n_targets))
    else:
        batch = _check_int(n_permutations_batch, "n_permutations_batch", 1)
    runs = _run_blocks(n_samples, block_size, groups)
    rng = np.random.default_rng(random_state)

    def draw() -> np.ndarray:
        return _draw(runs, rng)

    def identity() -> np.ndarray:
        return np.arange(n_samples)

    yt = yt.astype(np.float64, copy=False)
    yp = yp.astype(np.float64, copy=False)
    # Both scores depend on the permutation only through sum_t yt[t] * yp[perm[t]]: the mean
    # and sum of squares of yp are permutation invariant.
    yt_c = yt - yt.mean(0)
    ss_t = np.einsum("ij,ij->j", yt_c, yt_c)
    const_t = yt.max(0) == yt.min(0)
    if scoring == "correlation":
        yp_c = yp - yp.mean(0)
        ss_p = np.einsum("ij,ij->j", yp_c, yp_c)
        ok = (ss_t > 0) & (ss_p > 0) & ~const_t & ~(yp.max(0) == yp.min(0))
        den = np.where(ok, np.sqrt(ss_t) * np.sqrt(ss_p), 1.0)

        def score(cross: np.ndarray) -> np.ndarray:
            return np.where(ok, cross / den, 0.0)

        observed = score(_cross_terms(yt_c, yp_c, 1, 1, identity))[0]
        null = score(_cross_terms(yt_c, yp_c, n_permutations, batch, draw))
    else:
        # R² = 1 - (sum yt² - 2 sum yt yp + sum yp²) / SS_tot.
        sum_t2 = np.einsum("ij,ij->j", yt, yt)
        sum_p2 = np.einsum("ij,ij->j", yp, yp)
        ok = (ss_t > 0) & ~const_t
        den = np.where(ok, ss_t, 1.0)

        def score(cross: np.ndarray) -> np.ndarray:
            return np.where(ok, 1.0 - (sum_t2 - 2.0 * cross + sum_p2) / den, 0.0)

        observed = score(_cross_terms(yt, yp, 1, 1, identity))[0]
        null = score(_cross_terms(yt, yp, n_permutations, batch, draw))
    pvalues = (1.0 + np.sum(null >= observed, axis=0)) / (1.0 + n_permutations)
    return PermutationResult(scores=observed, null=null, pvalues=pvalues)


def fdr_correction(
    pvalues: Any, alpha: float = 0.05, method: str = "bh"
) -> tuple[np.ndarray, np.ndarray]:
    """Control the false discovery rate over targets.

    Parameters
    ----------
    pvalues : array-like, shape (n_targets,) or any shape
        p-values in [0, 1]; all entries form one family.
    alpha : float, default=0.05
        Target false discovery rate, in (0, 1).
    method : {"bh", "by"}, default="bh"
        Benjamini-Hochberg (independent or positively dependent tests) or
        Benjamini-Yekutieli (any dependence). Adjusted p-values come from
        :func:`scipy.stats.false_discovery_control`.

    Returns
    -------
    rejected : ndarray of bool, same shape as ``pvalues``
        ``adjusted <= alpha``.
    adjusted : ndarray, same shape as ``pvalues``
        Adjusted p-values (q-values).
    """
    p = check_array(pvalues, "pvalues", ndim=tuple(range(1, 33)), shape_doc="(n_targets,)")
    if np.any((p < 0) | (p > 1)):
        raise ValueError(
            f"`pvalues` must lie in [0, 1]; got values in [{p.min():g}, {p.max():g}]. "
            "Pass p-values, not scores or log p-values."
        )
    try:
        a = float(alpha)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`alpha` must be a number in (0, 1); got {alpha!r}") from exc
    if not 0 < a < 1:
        raise ValueError(f"`alpha` must be in (0, 1), e.g. 0.05; got {alpha!r}")
    check_choice(method, "method", ("bh", "by"))
    adjusted = false_discovery_control(p.ravel(), method=method).reshape(p.shape)
    return adjusted <= a, adjusted
