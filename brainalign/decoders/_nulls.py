"""Null controls for decoding scores: permuted brain and noise input, same pipeline.

A decoding score means little alone: an LLM prior, a diffusion prior or test-set leakage can
produce good-looking outputs from any input (BrainLLM's permuted-brain rows, Jo et al.'s
noise-input EEG-to-text results). Every score is therefore reported with

- its **null distribution**: the same pipeline run on brain data whose rows are shuffled
  relative to the stimuli (``"permuted-brain"``), or replaced by Gaussian noise with the
  per-feature mean and std of the real data (``"noise"``);
- **chance** (e.g. ``1 / n_candidates`` for top-1 retrieval);
- a permutation **p-value**, ``(1 + #{null >= score}) / (1 + n_null)``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from brainalign._validation import check_choice

__all__ = ["NULL_KINDS", "DecodingScore", "evaluate_with_null", "noise_like", "permute_rows"]

#: Kinds of null control.
NULL_KINDS = ("permuted-brain", "noise")


@dataclass
class DecodingScore:
    """A decoding score beside its null distribution and chance.

    Attributes
    ----------
    metric : str
        Name of the metric (``"top1"``, ``"bleu1"``...).
    score : float
        Score of the real pipeline.
    null : ndarray, shape (n_null,)
        Scores of the same pipeline under the null control.
    chance : float or None
        Chance level of the metric (``None`` when it has none, e.g. BLEU).
    p_value : float
        ``(1 + #{null >= score}) / (1 + n_null)`` (``<=`` when lower is better).
    null_kind : str
        ``"permuted-brain"`` or ``"noise"``.
    refit : bool
        Whether the null refits the pipeline on null training data (True) or only feeds
        null test data to the pipeline fitted on real data (False).
    greater_is_better : bool
    """

    metric: str
    score: float
    null: np.ndarray = field(repr=False)
    chance: float | None
    p_value: float
    null_kind: str
    refit: bool = True
    greater_is_better: bool = True

    @property
    def n_null(self) -> int:
        """Number of null runs."""
        return int(self.null.size)

    @property
    def null_mean(self) -> float:
        """Mean of the null distribution."""
        return float(np.mean(self.null))

    @property
    def null_std(self) -> float:
        """Sample sd (ddof=1) of the null distribution (0 for a single null run)."""
        return float(np.std(self.null, ddof=1)) if self.null.size > 1 else 0.0

    @property
    def z(self) -> float:
        """``(score - null_mean) / null_std`` (Tang et al.'s z against the null); inf or nan
        when the null has no spread."""
        sd = self.null_std
        diff = self.score - self.null_mean
        if sd == 0:
            return float("nan") if diff == 0 else float(np.sign(diff) * np.inf)
        return diff / sd

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (the null as a list)."""
        return {
            "metric": self.metric,
            "score": self.score,
            "null_mean": self.null_mean,
            "null_std": self.null_std,
            "null": self.null.tolist(),
            "chance": self.chance,
            "p_value": self.p_value,
            "z": self.z,
            "null_kind": self.null_kind,
            "refit": self.refit,
            "n_null": self.n_null,
        }

    def __str__(self) -> str:
        chance = "n/a" if self.chance is None else f"{self.chance:.4g}"
        return (
            f"{self.metric} = {self.score:.4g} | null ({self.null_kind}, "
            f"{'refit' if self.refit else 'test only'}, n={self.n_null}): "
            f"{self.null_mean:.4g} ± {self.null_std:.2g} | chance {chance} | "
            f"p = {self.p_value:.3g}"
        )


# --------------------------------------------------------------------------------------------
# null transforms
# --------------------------------------------------------------------------------------------
def _map_subjects(X: Any, fn: Callable[[np.ndarray], np.ndarray]) -> Any:
    from brainalign.decoders._mlp import split_subjects

    kind, keys, values = split_subjects(X, "X")
    out = [fn(np.asarray(v)) for v in values]
    if kind == "array":
        return out[0]
    return dict(zip(keys, out)) if kind == "dict" else out


def permute_rows(X: Any, rng: Any = None) -> Any:
    """Shuffle the rows (samples) of brain data relative to the stimuli.

    Parameters
    ----------
    X : array-like (n_samples, ...), list or dict of them (one per subject)
        Each subject's rows are shuffled with its own permutation.
    rng : int, numpy.random.Generator or None

    Returns
    -------
    X_perm : same structure as ``X``
    """
    rng = np.random.default_rng(rng)
    return _map_subjects(X, lambda a: a[rng.permutation(a.shape[0])])


def noise_like(X: Any, rng: Any = None) -> Any:
    """Gaussian noise with the per-feature mean and std of brain data.

    Parameters
    ----------
    X : array-like (n_samples, n_features), list or dict of them
    rng : int, numpy.random.Generator or None

    Returns
    -------
    noise : same structure and shapes as ``X``
    """
    rng = np.random.default_rng(rng)

    def _noise(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=np.float64)
        return rng.standard_normal(a.shape) * a.std(axis=0) + a.mean(axis=0)

    return _map_subjects(X, _noise)


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------
def _default_metric(Y_true: Any, Y_pred: Any) -> float:
    from brainalign.decoders._retrieval import retrieval_topk

    return retrieval_topk(Y_pred, Y_true, k=1, direction="brain_to_stimulus").accuracy()


def _is_estimator(obj: Any) -> bool:
    return hasattr(obj, "fit") and hasattr(obj, "predict")


def evaluate_with_null(
    pipeline: Any,
    X_train: Any,
    Y_train: Any,
    X_test: Any,
    Y_test: Any,
    *,
    metric: Callable[[Any, Any], float] | None = None,
    metric_name: str | None = None,
    null: str = "permuted-brain",
    refit: bool = True,
    n_null: int = 20,
    chance: float | None = None,
    greater_is_better: bool = True,
    seed: int | None = 0,
) -> DecodingScore:
    """Score a decoding pipeline and the same pipeline under a null control.

    Parameters
    ----------
    pipeline : estimator or callable
        - A scikit-learn-style estimator (``fit`` / ``predict``): cloned and fitted on
          ``(X_train, Y_train)``, scored with ``metric(Y_test, predict(X_test))``.
        - A callable ``pipeline(X_train, Y_train, X_test, Y_test) -> float`` that fits and
          scores end to end (e.g. brain → embedding → caption → BLEU-1).
    X_train, X_test : array-like (n_samples, n_voxels), list or dict of them
        Brain data (the only inputs the null changes).
    Y_train, Y_test : array-like or anything the pipeline takes
        Stimuli / target embeddings (never changed).
    metric : callable or None
        ``metric(Y_true, Y_pred) -> float`` for an estimator. ``None``: top-1 brain →
        stimulus retrieval (:func:`~brainalign.decoders.retrieval_topk` defaults: 30 draws
        of 300 when there are more than 300 test samples), with chance ``1 / n_candidates``.
        Ignored for a callable pipeline.
    metric_name : str or None
        Name stored in the result (default ``"top1"``, the metric's ``__name__`` or
        ``"score"``).
    null : {"permuted-brain", "noise"}
        ``"permuted-brain"``: brain rows shuffled relative to the stimuli; ``"noise"``:
        brain data replaced by Gaussian noise with its per-feature mean and std.
    refit : bool
        ``True``: the null replaces the training *and* test brain data and the pipeline is
        refit (what the whole pipeline achieves without brain–stimulus correspondence; e.g.
        Jo et al.'s noise-trained rows). ``False``: only the test brain data is replaced;
        an estimator is fitted once on the real training data (BrainLLM's permuted-brain
        rows). A callable pipeline is always called again.
    n_null : int
        Number of null runs.
    chance : float or None
        Chance level to report; with the default metric, ``1 / n_candidates``.
    greater_is_better : bool
        Direction of the metric (``False`` for WER): sets the p-value's tail.
    seed : int or None
        Seed of the permutations / noise.

    Returns
    -------
    DecodingScore

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign.decoders import RidgeDecoder
    >>> rng = np.random.default_rng(0)
    >>> W = rng.standard_normal((20, 8))
    >>> Xtr, Xte = rng.standard_normal((300, 20)), rng.standard_normal((100, 20))
    >>> Ytr, Yte = Xtr @ W, Xte @ W + 0.5 * rng.standard_normal((100, 8))
    >>> res = evaluate_with_null(RidgeDecoder(alphas=[1.0]), Xtr, Ytr, Xte, Yte, n_null=5)
    >>> res.score > 0.5 > res.null_mean
    True
    """
    check_choice(null, "null", NULL_KINDS)
    if isinstance(n_null, bool) or not isinstance(n_null, numbers.Integral) or n_null < 1:
        raise ValueError(f"`n_null` must be an int >= 1; got {n_null!r}")
    transform = permute_rows if null == "permuted-brain" else noise_like
    rng = np.random.default_rng(seed)

    if _is_estimator(pipeline):
        from sklearn.base import clone

        if metric is None:
            metric_fn: Callable[[Any, Any], float] = _default_metric
            name = metric_name or "top1"
            if chance is None:
                n_test = int(np.shape(Y_test)[0]) if not isinstance(Y_test, Mapping) else None
                if n_test is not None:
                    chance = 1.0 / min(n_test, 300)
        else:
            metric_fn = metric
            name = metric_name or getattr(metric, "__name__", "score")

        def run(xtr: Any, xte: Any, fitted: Any = None) -> float:
            model = fitted if fitted is not None else clone(pipeline).fit(xtr, Y_train)
            return float(metric_fn(Y_test, model.predict(xte)))

        real_model = clone(pipeline).fit(X_train, Y_train)
        score = run(X_train, X_test, real_model)
        nulls = []
        for _ in range(int(n_null)):
            if refit:
                nulls.append(run(transform(X_train, rng), transform(X_test, rng)))
            else:
                nulls.append(run(X_train, transform(X_test, rng), real_model))
    elif callable(pipeline):
        name = metric_name or "score"
        score = float(pipeline(X_train, Y_train, X_test, Y_test))
        nulls = []
        for _ in range(int(n_null)):
            xtr = transform(X_train, rng) if refit else X_train
            nulls.append(float(pipeline(xtr, Y_train, transform(X_test, rng), Y_test)))
    else:
        raise TypeError(
            "`pipeline` must be an estimator with fit/predict or a callable "
            f"pipeline(X_train, Y_train, X_test, Y_test) -> float; got {type(pipeline).__name__}"
        )
    null_arr = np.asarray(nulls, dtype=np.float64)
    if greater_is_better:
        extreme = int(np.sum(null_arr >= score))
    else:
        extreme = int(np.sum(null_arr <= score))
    return DecodingScore(
        metric=name,
        score=score,
        null=null_arr,
        chance=None if chance is None else float(chance),
        p_value=(1 + extreme) / (1 + null_arr.size),
        null_kind=null,
        refit=bool(refit),
        greater_is_better=bool(greater_is_better),
    )
