"""Decoders: brain activity → embeddings → retrieval, images and text.

- Embedding decoders (scikit-learn estimators, brain as ``X``, target embeddings as ``Y``):
  :class:`RidgeDecoder`, :class:`BandedRidgeDecoder`, :class:`MLPDecoder` and
  :class:`ContrastiveDecoder` (CLIP-style InfoNCE + MSE; per-subject linear input layers
  into a shared space so that several subjects share one decoder).
- Retrieval: :func:`retrieval_topk` (top-k in both directions, MindEye protocol of 30 random
  draws of 300 by default).
- Null controls: :func:`evaluate_with_null` (permuted brain / noise input through the same
  pipeline) returning a :class:`DecodingScore` (score, null distribution, chance, p-value).
- Generative heads (images, text) load torch / diffusers / transformers only when used.

Names are imported lazily: ``import brainalign.decoders`` loads no torch.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> private module that defines it
_PUBLIC: dict[str, str] = {
    # embedding decoders
    "RidgeDecoder": "_ridge",
    "BandedRidgeDecoder": "_ridge",
    "MLPDecoder": "_mlp",
    "ContrastiveDecoder": "_contrastive",
    # retrieval
    "RetrievalResult": "_retrieval",
    "retrieval_topk": "_retrieval",
    "cosine_similarity": "_retrieval",
    # null controls
    "DecodingScore": "_nulls",
    "evaluate_with_null": "_nulls",
    "permute_rows": "_nulls",
    "noise_like": "_nulls",
    # image heads
    # text heads
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'brainalign.decoders' has no attribute {name!r}")
    return getattr(importlib.import_module(f"brainalign.decoders.{module}"), name)


def __dir__() -> list[str]:
    return list(__all__)
