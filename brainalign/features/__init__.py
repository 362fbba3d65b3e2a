"""Feature extraction: real pretrained models (text, image, vision-language, video, audio).

Every extractor takes a config (model path, layers, pooling, context policy, sampling grid)
and returns a :class:`~brainalign.data.FeatureSet` with times in seconds and all layers, cached
on disk per (config, stimulus). Extractors load torch / transformers only when used.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> private module that defines it
_PUBLIC: dict[str, str] = {
    # interface and cache
    "ExtractorConfig": "_config",
    "FeatureExtractor": "_base",
    "FeatureCache": "_cache",
    "content_uid": "_base",
    "select_layers": "_base",
    # text
    "TextConfig": "_text",
    "TextExtractor": "_text",
    "read_word_events": "_text",
    "WORD_BANDS": "_simple",
    "WordBandsConfig": "_simple",
    "WordBandsExtractor": "_simple",
    "word_bands": "_simple",
    "word_length": "_simple",
    "word_onsets": "_simple",
    "word_rate": "_simple",
    "align_tokens": "_words",
    "join_words": "_words",
    "pool_words": "_words",
    "split_sentences": "_words",
    "words_from_events": "_words",
    "is_causal_model": "_models",
    "load_causal_lm": "_models",
    "load_text_model": "_models",
    "minilm_path": "_models",
    "model_cache_dir": "_models",
    "smollm2_gguf_path": "_models",
    "smollm2_path": "_models",
    "available_families": "_registry",
    "get_extractor_class": "_registry",
    "make_extractor": "_registry",
    "register_extractor": "_registry",
    # vision / video / audio
    "ImageExtractor": "_vision",
    "ImageExtractorConfig": "_vision",
    "CLIPExtractor": "_vlm",
    "CLIPExtractorConfig": "_vlm",
    "VLMExtractor": "_vlm",
    "VLMExtractorConfig": "_vlm",
    "VideoExtractor": "_video",
    "VideoExtractorConfig": "_video",
    "window_frame_indices": "_video",
    "AudioExtractor": "_audio",
    "AudioExtractorConfig": "_audio",
    "conv_frame_geometry": "_audio",
    "compute_envelope": "_audio_bands",
    "compute_mel_spectrogram": "_audio_bands",
    "mel_filterbank": "_audio_bands",
    "load_audio": "_media",
    "load_image": "_media",
    "EfficientNetExtractor": "_efficientnet",
    "EfficientNetExtractorConfig": "_efficientnet",
    "WhisperExtractor": "_whisper",
    "WhisperExtractorConfig": "_whisper",
    "transcribe_words": "_whisper",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'brainalign.features' has no attribute {name!r}")
    return getattr(importlib.import_module(f"brainalign.features.{module}"), name)


def __dir__() -> list[str]:
    return list(__all__)
