"""Extractor families: name → extractor class, resolved lazily.

Entries are ``"module:Class"`` strings, imported only when a family is used, so a family
whose module (or optional dependency) is missing fails only when asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from brainalign.exceptions import ConfigError

__all__ = ["available_families", "get_extractor_class", "make_extractor", "register_extractor"]

_FAMILIES: dict[str, Any] = {
    # text
    "text": "brainalign.features._text:TextExtractor",
    "words": "brainalign.features._simple:WordBandsExtractor",
    # vision, vision-language, video, audio
    "image": "brainalign.features._vision:ImageExtractor",
    "clip": "brainalign.features._vlm:CLIPExtractor",
    "vlm": "brainalign.features._vlm:VLMExtractor",
    "video": "brainalign.features._video:VideoExtractor",
    "audio": "brainalign.features._audio:AudioExtractor",
    "efficientnet": "brainalign.features._efficientnet:EfficientNetExtractor",
    "whisper": "brainalign.features._whisper:WhisperExtractor",
}


def available_families() -> list[str]:
    """The registered family names (their modules are not imported)."""
    return sorted(_FAMILIES)


def register_extractor(family: str, target: Any, *, overwrite: bool = False) -> None:
    """Register an extractor class under ``family``.

    Parameters
    ----------
    family : str
        The name used in configs (``family: text``).
    target : type or str
        A :class:`~brainalign.features.FeatureExtractor` subclass, or ``"module:Class"``
        imported on first use.
    overwrite : bool
        Replace an existing entry (otherwise an error).
    """
    if not overwrite and family in _FAMILIES:
        raise ValueError(
            f"extractor family {family!r} is already registered ({_FAMILIES[family]!r}); "
            f"pass overwrite=True to replace it"
        )
    if isinstance(target, str) and ":" not in target:
        raise ValueError(f"`target` must be a class or 'module:Class'; got {target!r}")
    _FAMILIES[family] = target


def get_extractor_class(family: str) -> type:
    """The extractor class of ``family`` (imported now).

    Raises
    ------
    ConfigError
        Unknown family.
    ImportError
        The family's module (or one of its dependencies) cannot be imported.
    """
    if family not in _FAMILIES:
        raise ConfigError(
            f"unknown extractor family {family!r}; known families: {available_families()}"
        )
    target = _FAMILIES[family]
    if isinstance(target, str):
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise ImportError(
                f"extractor family {family!r} needs {module_name}, which cannot be imported: {err}"
            ) from err
        target = getattr(module, attr)
    return target  # type: ignore[no-any-return]


def make_extractor(config: Mapping[str, Any], **overrides: Any) -> Any:
    """Build an extractor from a config mapping with a ``family`` key.

    Parameters
    ----------
    config : mapping
        ``family`` plus the fields of that family's config class (unknown keys are refused).
    **overrides
        Fields that replace those of ``config``.

    Returns
    -------
    FeatureExtractor

    Examples
    --------
    >>> ext = make_extractor({"family": "words", "bands": ["word_rate"]})
    >>> type(ext).__name__
    'WordBandsExtractor'
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"the extractor config must be a mapping; got {type(config).__name__}")
    if "family" not in config:
        raise ConfigError(
            f"the extractor config needs a `family` key (one of {available_families()}); "
            f"got keys {sorted(config)}"
        )
    values = {k: v for k, v in config.items() if k != "family"}
    values.update(overrides)
    cls = get_extractor_class(str(config["family"]))
    return cls(values)
