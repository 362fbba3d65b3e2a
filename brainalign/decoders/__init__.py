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
    "FaceGenerator": "heads._gan",
    "GANHead": "heads._gan",
    "build_dcgan_generator": "heads._gan",
    "face_generator_weights": "heads._gan",
    "load_face_generator": "heads._gan",
    "DiffusionHead": "heads._diffusion",
    "EmbeddingDiffusionModel": "heads._diffusion_model",
    "PCAEmbedder": "heads._diffusion_embed",
    "check_diffusion_dir": "heads._diffusion_dir",
    "load_diffusion_model": "heads._diffusion_model",
    "save_conditional_diffusion": "heads._diffusion_dir",
    "DigitDiffusionHead": "heads._tiny_diffusion",
    "digit_diffusion_dir": "heads._tiny_diffusion",
    "train_digit_diffusion": "heads._tiny_diffusion",
    "SemisyntheticData": "_semisynthetic",
    "digit_split": "_semisynthetic",
    "load_digit_images": "_semisynthetic",
    "make_semisynthetic_digits": "_semisynthetic",
    "make_semisynthetic_faces": "_semisynthetic",
    "simulate_brain": "_semisynthetic",
    # text heads
    "BeamSearchTextDecoder": "heads._text_beam",
    "DecodedText": "heads._text_words",
    "EmbeddingTextDecoder": "heads._text_embed",
    "RankedTexts": "heads._text_embed",
    "SentenceEmbedder": "heads._text_embed",
    "embed_sentences": "heads._text_embed",
    "generate_candidates": "heads._text_embed",
    "SentenceBrainData": "_semisynthetic_text",
    "StoryBrainData": "_semisynthetic_text",
    "evaluate_text_decoder": "_semisynthetic_text",
    "make_sentence_brain_data": "_semisynthetic_text",
    "make_story_brain_data": "_semisynthetic_text",
    "read_sentences": "_semisynthetic_text",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'brainalign.decoders' has no attribute {name!r}")
    return getattr(importlib.import_module(f"brainalign.decoders.{module}"), name)


def __dir__() -> list[str]:
    return list(__all__)
