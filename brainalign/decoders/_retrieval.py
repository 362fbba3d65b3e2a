"""Top-k retrieval between decoded and true embeddings, in both directions.

The default is the MindEye2 protocol (``final_evaluations.ipynb``): cosine similarity between
L2-normalised embeddings, top-1 among 300 candidates, averaged over 30 random draws of 300
test samples, in both directions:

- ``"brain_to_stimulus"`` (MindEye's *image retrieval*, "fwd"): for each brain sample, rank
  the stimuli of the draw by cosine similarity to its decoded embedding;
- ``"stimulus_to_brain"`` (MindEye's *brain retrieval*, "bwd"): for each stimulus, rank the
  decoded embeddings of the draw.

Chance is ``k / n_candidates``. Ties are resolved deterministically (see ``ties``).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from brainalign._validation import check_array, check_choice

__all__ = ["DIRECTIONS", "RetrievalResult", "cosine_similarity", "retrieval_topk"]

#: The two retrieval directions, in the order of :attr:`RetrievalResult.directions`.
DIRECTIONS = ("brain_to_stimulus", "stimulus_to_brain")
_DIRECTION_CHOICES = (*DIRECTIONS, "both")
_TIES = ("average", "pessimistic")
#: z of the two-sided 95% normal interval.
_Z95 = 1.959963984540054
#: Queries scored per block (bounds the memory of the similarity matrix).
_BLOCK = 1024


def check_embedding_pair(
    brain: Any, stimuli: Any, *, brain_name: str = "brain", stimuli_name: str = "stimuli"
) -> tuple[np.ndarray, np.ndarray]:
    """Check two paired embedding matrices: 2-D, finite, same rows and same width."""
    doc = "(n_samples, n_dims)"
    arrays = []
    for x, name in ((brain, brain_name), (stimuli, stimuli_name)):
        arr = check_array(x, name, ndim=2, shape_doc=doc, allow_empty=True)
        if arr.shape[0] == 0:
            raise ValueError(
                f"`{name}` must hold at least one embedding: the candidate set is empty "
                f"(shape {arr.shape}). Pass the decoded and true embeddings of the test set."
            )
        if arr.shape[1] == 0:
            raise ValueError(
                f"`{name}` must have at least one embedding dimension; got {arr.shape}"
            )
        arrays.append(arr)
    a, b = arrays
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"`{stimuli_name}` must have one row per row of `{brain_name}` (row i of both is "
            f"the same trial); got {brain_name}.shape={a.shape}, {stimuli_name}.shape="
            f"{b.shape}. Average repeated presentations or index both with the same trials."
        )
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"`{brain_name}` and `{stimuli_name}` must be embeddings of the same width; got "
            f"{brain_name}.shape={a.shape}, {stimuli_name}.shape={b.shape}. Decode into the "
            "embedding space of the stimuli (e.g. flatten token embeddings of both)."
        )
    return a, b


def _normalize(x: np.ndarray) -> np.ndarray:
    # as torch.nn.functional.normalize: x / max(||x||, eps); a zero row stays zero
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def cosine_similarity(a: Any, b: Any) -> np.ndarray:
    """Cosine similarity between every row of ``a`` and every row of ``b``.

    Parameters
    ----------
    a : array-like, shape (n_a, n_dims)
    b : array-like, shape (n_b, n_dims)

    Returns
    -------
    sim : ndarray, shape (n_a, n_b)
        ``sim[i, j] = a_i · b_j / (|a_i| |b_j|)``; a zero row has similarity 0 to everything
        (norms are clipped at 1e-12, as ``torch.nn.functional.normalize`` does).
    """
    a = check_array(a, "a", ndim=2, shape_doc="(n_a, n_dims)")
    b = check_array(b, "b", ndim=2, shape_doc="(n_b, n_dims)")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"`a` and `b` must have the same number of columns; got a.shape={a.shape}, "
            f"b.shape={b.shape}"
        )
    return _normalize(a) @ _normalize(b).T


def _hit_rates(
    queries: np.ndarray, candidates: np.ndarray, ks: tuple[int, ...], ties: str
) -> np.ndarray:
    """Top-k hit of every query (query i's match is candidate i), shape (n, n_k).

    Inputs are L2-normalised. With ``g`` candidates strictly more similar than the match and
    ``t`` other candidates exactly as similar, the match's rank is uniform over
    ``g .. g + t`` under random tie-breaking: ``"average"`` returns the probability of a
    hit, ``min(max(k - g, 0), t + 1) / (t + 1)``; ``"pessimistic"`` ranks the match last
    among its ties (hit iff ``g + t < k``).
    """
    n = queries.shape[0]
    out = np.empty((n, len(ks)), dtype=np.float64)
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        sim = queries[start:stop] @ candidates.T
        rows = np.arange(stop - start)
        correct = sim[rows, rows + start][:, None]
        greater = np.sum(sim > correct, axis=1)
        tied = np.sum(sim == correct, axis=1) - 1  # the match itself is not a tie
        for col, k in enumerate(ks):
            if ties == "average":
                out[start:stop, col] = np.clip(k - greater, 0, tied + 1) / (tied + 1)
            else:
                out[start:stop, col] = (greater + tied < k).astype(np.float64)
    return out


def _check_ks(k: Any) -> tuple[int, ...]:
    values = [k] if isinstance(k, numbers.Integral) else list(k)
    if not values or any(
        isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in values
    ):
        raise ValueError(f"`k` must be an int >= 1 or a sequence of them, e.g. (1, 5); got {k!r}")
    if len(set(values)) != len(values):
        raise ValueError(f"`k` must not repeat a value; got {k!r}")
    return tuple(int(v) for v in values)


@dataclass
class RetrievalResult:
    """Top-k retrieval accuracies in both directions, per draw.

    Attributes
    ----------
    k : tuple of int
        The ``k`` of each top-k accuracy.
    per_draw : dict of str to ndarray, shape (n_draws, n_k)
        Accuracy (fraction of queries, in [0, 1]) of every draw, per direction
        (``"brain_to_stimulus"``, ``"stimulus_to_brain"``).
    n_candidates : int
        Candidates per draw (the draw size, or ``n_samples`` without draws).
    n_samples : int
        Number of paired samples the draws came from.
    indices : ndarray, shape (n_draws, n_candidates)
        The samples of every draw (rows of the inputs).
    seed : int or None
        Seed of the draws.
    ties : str
        The tie rule.
    """

    k: tuple[int, ...]
    per_draw: dict[str, np.ndarray]
    n_candidates: int
    n_samples: int
    indices: np.ndarray = field(repr=False)
    seed: int | None = None
    ties: str = "average"

    @property
    def directions(self) -> tuple[str, ...]:
        """The directions that were scored."""
        return tuple(self.per_draw)

    @property
    def n_draws(self) -> int:
        """Number of draws (1 when all samples were ranked at once)."""
        return int(self.indices.shape[0])

    def _col(self, direction: str, k: int) -> np.ndarray:
        check_choice(direction, "direction", self.directions)
        if k not in self.k:
            raise ValueError(f"`k` must be one of the scored values {list(self.k)}; got {k!r}")
        return self.per_draw[direction][:, self.k.index(k)]

    def draws(self, direction: str = "brain_to_stimulus", k: int = 1) -> np.ndarray:
        """Accuracy of every draw, shape (n_draws,)."""
        return self._col(direction, k).copy()

    def accuracy(self, direction: str = "brain_to_stimulus", k: int = 1) -> float:
        """Mean top-``k`` accuracy over the draws."""
        return float(np.mean(self._col(direction, k)))

    def ci95(self, direction: str = "brain_to_stimulus", k: int = 1) -> tuple[float, float]:
        """95% normal interval of the mean over draws: mean ± 1.96 · sd / sqrt(n_draws).

        The sd is the sample sd (ddof=1) of the draw accuracies; ``(mean, mean)`` for a
        single draw.
        """
        values = self._col(direction, k)
        mean = float(np.mean(values))
        if values.size < 2:
            return mean, mean
        half = _Z95 * float(np.std(values, ddof=1)) / math.sqrt(values.size)
        return mean - half, mean + half

    def chance(self, k: int = 1) -> float:
        """Chance accuracy of top-``k`` among ``n_candidates``: ``min(k / n_candidates, 1)``."""
        if k not in self.k:
            raise ValueError(f"`k` must be one of the scored values {list(self.k)}; got {k!r}")
        return min(k / self.n_candidates, 1.0)

    def to_dict(self) -> dict[str, Any]:
        """Flat summary: ``{"brain_to_stimulus_top1": mean, ..._ci95, chance_top1, ...}``."""
        out: dict[str, Any] = {
            "n_candidates": self.n_candidates,
            "n_draws": self.n_draws,
            "n_samples": self.n_samples,
            "seed": self.seed,
            "ties": self.ties,
        }
        for k in self.k:
            out[f"chance_top{k}"] = self.chance(k)
            for d in self.directions:
                out[f"{d}_top{k}"] = self.accuracy(d, k)
                out[f"{d}_top{k}_ci95"] = self.ci95(d, k)
        return out

    def __str__(self) -> str:
        lines = [
            f"retrieval among {self.n_candidates} candidates, {self.n_draws} draw(s) from "
            f"{self.n_samples} samples (seed={self.seed}, ties={self.ties!r})"
        ]
        for d in self.directions:
            for k in self.k:
                lo, hi = self.ci95(d, k)
                lines.append(
                    f"  {d} top-{k}: {self.accuracy(d, k):.4f} [{lo:.4f}, {hi:.4f}] "
                    f"(chance {self.chance(k):.4f})"
                )
        return "\n".join(lines)


def retrieval_topk(
    brain: Any,
    stimuli: Any,
    *,
    k: int | tuple[int, ...] = (1, 5),
    direction: str = "both",
    n_draws: int = 30,
    draw_size: int | None = 300,
    seed: int | None = 42,
    ties: str = "average",
) -> RetrievalResult:
    """Top-k retrieval accuracy between decoded and true embeddings (MindEye protocol).

    Row ``i`` of ``brain`` and row ``i`` of ``stimuli`` belong to the same trial. In every
    draw, ``draw_size`` samples are chosen at random without replacement and each query is
    ranked against the ``draw_size`` candidates of the draw by cosine similarity; the
    accuracy of the draw is the fraction of queries whose match ranks in the top ``k``.

    Parameters
    ----------
    brain : array-like, shape (n_samples, n_dims)
        Embeddings decoded from brain activity (flatten token embeddings first).
    stimuli : array-like, shape (n_samples, n_dims)
        True embeddings of the stimuli, same order and width.
    k : int or tuple of int
        Top-k accuracies to compute (MindEye reports top-1; THINGS-EEG top-1 and top-5).
    direction : {"both", "brain_to_stimulus", "stimulus_to_brain"}
        ``"brain_to_stimulus"``: each brain sample retrieves its stimulus among the
        candidates (MindEye's image retrieval); ``"stimulus_to_brain"``: each stimulus
        retrieves its brain sample (brain retrieval).
    n_draws : int
        Number of random draws (MindEye2: 30).
    draw_size : int or None
        Candidates per draw (MindEye2: 300). ``None``, or a value >= ``n_samples``: a
        single evaluation with all ``n_samples`` candidates (e.g. THINGS-EEG2 200-way).
    seed : int or None
        Seed of the draws (MindEye2: 42). The draws are those of the legacy NumPy
        generator, ``np.random.RandomState(seed).choice(n_samples, draw_size,
        replace=False)`` repeated ``n_draws`` times.
    ties : {"average", "pessimistic"}
        How candidates exactly as similar as the match are ranked. ``"average"``: the
        expected accuracy under random tie-breaking (a constant decoder scores chance);
        ``"pessimistic"``: the match ranks below all its ties (a constant decoder scores 0).
        Both are deterministic.

    Returns
    -------
    RetrievalResult
        Per-draw accuracies, means (:meth:`~RetrievalResult.accuracy`), 95% intervals and
        chance (``k / n_candidates``).

    Raises
    ------
    ValueError
        Empty inputs, different numbers of rows or widths, ``k`` larger than the number of
        candidates, invalid ``n_draws`` / ``draw_size``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> stim = rng.standard_normal((500, 16))
    >>> res = retrieval_topk(stim + 0.1 * rng.standard_normal((500, 16)), stim)
    >>> res.accuracy("brain_to_stimulus", k=1) > 0.9
    True
    """
    a, b = check_embedding_pair(brain, stimuli)
    ks = _check_ks(k)
    check_choice(direction, "direction", _DIRECTION_CHOICES)
    check_choice(ties, "ties", _TIES)
    n = a.shape[0]
    if isinstance(n_draws, bool) or not isinstance(n_draws, numbers.Integral) or n_draws < 1:
        raise ValueError(f"`n_draws` must be an int >= 1; got {n_draws!r}")
    if draw_size is not None and (
        isinstance(draw_size, bool) or not isinstance(draw_size, numbers.Integral) or draw_size < 2
    ):
        raise ValueError(f"`draw_size` must be None or an int >= 2; got {draw_size!r}")
    if draw_size is None or draw_size >= n:
        indices = np.arange(n)[None, :]
    else:
        rs = np.random.RandomState(seed)
        indices = np.stack(
            [rs.choice(n, size=int(draw_size), replace=False) for _ in range(int(n_draws))]
        )
    n_candidates = int(indices.shape[1])
    if max(ks) > n_candidates:
        raise ValueError(
            f"`k` must not exceed the number of candidates per draw ({n_candidates}); got "
            f"k={ks}. Use a smaller k or more samples."
        )
    directions = DIRECTIONS if direction == "both" else (direction,)
    a, b = _normalize(a), _normalize(b)
    per_draw = {d: np.empty((indices.shape[0], len(ks))) for d in directions}
    for i, idx in enumerate(indices):
        qa, qb = a[idx], b[idx]
        for d in directions:
            queries, candidates = (qa, qb) if d == "brain_to_stimulus" else (qb, qa)
            per_draw[d][i] = _hit_rates(queries, candidates, ks, ties).mean(axis=0)
    return RetrievalResult(
        k=ks,
        per_draw=per_draw,
        n_candidates=n_candidates,
        n_samples=n,
        indices=indices,
        seed=seed,
        ties=ties,
    )
