"""Shared machinery of the embedding decoders: input checks and ``score``.

A decoder is a scikit-learn estimator from brain activity ``X`` (n_samples, n_voxels) to
target embeddings ``Y`` (n_samples, n_dims): image, text or LLM embeddings of the stimuli.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from brainalign._validation import check_array, check_choice
from brainalign.evaluation._metrics import score_targets

__all__ = ["DECODER_SCORINGS", "check_brain_embeddings", "check_embeddings", "decoder_score"]

#: Scorings of the decoders' ``score``.
DECODER_SCORINGS = ("correlation", "r2", "cosine", "top1")
_HINT_PAIRS = (
    "Row i of `X` (brain) and of `Y` (embeddings) must be the same trial: average or index "
    "repeated presentations the same way in both."
)


def check_embeddings(
    Y: Any, name: str = "Y", *, n_samples: int | None = None, n_dims: int | None = None
) -> np.ndarray:
    """Return target embeddings as a finite 2-D float array, with optional shape checks.

    Parameters
    ----------
    Y : array-like, shape (n_samples, n_dims)
    name : str
        Parameter name in error messages.
    n_samples : int or None
        Required number of rows (the brain samples).
    n_dims : int or None
        Required width (the embedding width seen at fit).
    """
    if Y is None:
        raise ValueError(
            f"`{name}` must be the target embeddings, shape (n_samples, n_dims); got None"
        )
    arr = check_array(Y, name, ndim=(1, 2), shape_doc="(n_samples, n_dims)", allow_empty=True)
    if arr.ndim == 1:
        raise ValueError(
            f"`{name}` must have shape (n_samples, n_dims) (2 dimensions); got shape "
            f"{arr.shape}. Use {name}.reshape(-1, 1) for a single embedding dimension, and "
            "flatten token embeddings (n_samples, n_tokens, dim) to (n_samples, n_tokens * dim)."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"`{name}` must not be empty; got shape {arr.shape}")
    if n_samples is not None and arr.shape[0] != n_samples:
        raise ValueError(
            f"`{name}` must have one row per brain sample ({n_samples}); got {name}.shape="
            f"{arr.shape}. {_HINT_PAIRS}"
        )
    if n_dims is not None and arr.shape[1] != n_dims:
        raise ValueError(
            f"`{name}` must have the embedding width seen during fit ({n_dims}); got "
            f"{name}.shape={arr.shape}. Use the same embedding model and layer as for training."
        )
    return arr


def check_brain_embeddings(
    X: np.ndarray, Y: Any, *, x_name: str = "X", y_name: str = "Y"
) -> np.ndarray:
    """Check ``Y`` against an already checked brain array ``X`` (same number of rows)."""
    Y = check_embeddings(Y, y_name)
    if Y.shape[0] != X.shape[0]:
        raise ValueError(
            f"`{y_name}` must have as many samples as `{x_name}`; got {x_name}.shape="
            f"{X.shape}, {y_name}.shape={Y.shape}. {_HINT_PAIRS}"
        )
    return Y


def decoder_score(
    Y_true: np.ndarray,
    Y_pred: np.ndarray,
    scoring: str,
    multioutput: str = "uniform_average",
) -> float | np.ndarray:
    """Score decoded embeddings.

    Parameters
    ----------
    Y_true, Y_pred : ndarray, shape (n_samples, n_dims)
    scoring : {"correlation", "r2", "cosine", "top1"}
        ``"correlation"`` / ``"r2"``: per embedding dimension across samples (as the
        encoders score targets); ``"cosine"``: mean cosine similarity between each decoded
        embedding and its true embedding; ``"top1"``: brain → stimulus top-1 retrieval
        accuracy with :func:`~brainalign.decoders.retrieval_topk` defaults (30 draws of 300
        when there are more than 300 samples, else all samples).
    multioutput : {"uniform_average", "raw_values"}
        ``"raw_values"`` returns the per-dimension array (``"correlation"``, ``"r2"``) or the
        per-sample array (``"cosine"``); not available for ``"top1"``.
    """
    check_choice(scoring, "scoring", DECODER_SCORINGS)
    check_choice(multioutput, "multioutput", ("uniform_average", "raw_values"))
    if scoring in ("correlation", "r2"):
        return score_targets(Y_true, Y_pred, scoring=scoring, multioutput=multioutput)
    if scoring == "cosine":
        from brainalign.decoders._retrieval import _normalize

        cos = np.sum(_normalize(Y_true) * _normalize(Y_pred), axis=1)
        return cos if multioutput == "raw_values" else float(np.mean(cos))
    if multioutput == "raw_values":
        raise ValueError(
            "`multioutput='raw_values'` is not defined for scoring='top1' (one accuracy per "
            "retrieval); use multioutput='uniform_average' or scoring='cosine'."
        )
    from brainalign.decoders._retrieval import retrieval_topk

    res = retrieval_topk(Y_pred, Y_true, k=1, direction="brain_to_stimulus")
    return res.accuracy("brain_to_stimulus", 1)
