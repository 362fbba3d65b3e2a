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
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'brainalign.features' has no attribute {name!r}")
    return getattr(importlib.import_module(f"brainalign.features.{module}"), name)


def __dir__() -> list[str]:
    return list(__all__)
