"""The extractor interface: config → extractor → `FeatureSet` with times in seconds, all layers."""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from brainalign.data._featureset import FeatureSet
from brainalign.exceptions import ConfigError
from brainalign.features._cache import FeatureCache
from brainalign.features._config import ExtractorConfig

__all__ = ["FeatureExtractor", "check_onsets", "content_uid", "layer_index", "select_layers"]

_LAYER_RE = re.compile(r"^layer_(\d+)(?:\.(.+))?$")


def content_uid(*parts: Any) -> str:
    """A short content hash (sha256, 24 hex digits) of bytes, strings and arrays."""
    import numpy as np

    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, bytes):
            h.update(part)
        elif isinstance(part, np.ndarray):
            h.update(str((part.dtype.str, part.shape)).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(repr(part).encode())
        h.update(b"\x00")
    return h.hexdigest()[:24]


def check_onsets(
    onsets: Any, what: str, label: Callable[[int], str], shown: Callable[[int], str] | None = None
) -> None:
    """Raise a ValueError unless ``onsets`` are finite and non-decreasing.

    Parameters
    ----------
    onsets : ndarray, shape (n_items,)
        Onsets in seconds.
    what : str
        The items, for the message (``"word"``, ``"image"``).
    label : callable
        ``label(i)`` names item ``i`` in the message (``"'cat', row 3"``).
    shown : callable, optional
        ``shown(i)`` shows the bad onset of item ``i`` (default: its value).
    """
    import numpy as np

    bad = ~np.isfinite(onsets)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        value = shown(i) if shown is not None else repr(float(onsets[i]))
        raise ValueError(
            f"every {what} needs a finite onset in seconds; {what} {i} ({label(i)}) has onset "
            f"{value}. Drop or time the {what}s without onsets first."
        )
    back = np.diff(onsets) < 0
    if back.any():
        i = int(np.flatnonzero(back)[0]) + 1
        raise ValueError(
            f"{what} onsets must be non-decreasing; got onset {onsets[i]:g} s for {what} {i} "
            f"({label(i)}) after {onsets[i - 1]:g} s for {what} {i - 1} ({label(i - 1)}). "
            "Sort the table by onset."
        )


def layer_index(name: str) -> int | None:
    """The hidden-state index of a layer name ``layer_<i>[.<pooling>]``, else None."""
    m = _LAYER_RE.match(name)
    return int(m.group(1)) if m else None


def select_layers(features: FeatureSet, layers: list[int | str] | None) -> FeatureSet:
    """Restrict ``features`` to ``layers`` (indices into the hidden states, or exact names).

    Index ``0`` is the embedding output and ``-1`` the last layer; an index selects every
    pooling stored for that layer (``layer_6.cls`` and ``layer_6.mean``).

    Raises
    ------
    IndexError
        An index outside ``[-n_layers, n_layers)``.
    KeyError
        A name that was not extracted.
    """
    if layers is None:
        return features
    indices = sorted({i for i in map(layer_index, features.layer_names) if i is not None})
    n = len(indices)
    chosen: list[str] = []
    for item in layers:
        if isinstance(item, str):
            if item not in features.layers:
                raise KeyError(
                    f"`layers` entry {item!r} is not an extracted layer; valid names are "
                    f"{features.layer_names}"
                )
            names = [item]
        else:
            if n == 0:
                raise IndexError(
                    f"`layers` index {item} cannot be used: these features have no numbered "
                    f"layers (layer_<i>); select them by name among {features.layer_names}"
                )
            if not -n <= int(item) < n:
                raise IndexError(
                    f"`layers` index {item} is out of range: the model has {n} hidden states "
                    f"(valid indices {-n}..{n - 1}, 0 = embeddings)"
                )
            target = indices[int(item)]
            names = [k for k in features.layer_names if layer_index(k) == target]
        chosen.extend(k for k in names if k not in chosen)
    return features.select(chosen)


class FeatureExtractor(ABC):
    """Base class of every extractor.

    A subclass sets ``config_class`` and implements :meth:`stimulus_uid` (a content hash of
    one stimulus) and :meth:`compute` (all layers of one stimulus). :meth:`extract` adds the
    cache and the layer selection, so that choosing other layers never recomputes.

    Parameters
    ----------
    config : ExtractorConfig or dict, optional
        The configuration; keyword arguments override or complete it.
    **kwargs
        Config fields.
    """

    config_class: ClassVar[type[ExtractorConfig]] = ExtractorConfig
    #: What ``_load`` loaded (model, processor...), kept for the next calls.
    _loaded: Any = None

    def __init__(self, config: ExtractorConfig | dict[str, Any] | None = None, **kwargs: Any):
        if isinstance(config, ExtractorConfig):
            if not isinstance(config, self.config_class):
                raise TypeError(
                    f"`config` must be a {self.config_class.__name__} for "
                    f"{type(self).__name__}; got {type(config).__name__}"
                )
            values = {**config.model_dump(), **kwargs}
        elif config is None:
            values = dict(kwargs)
        elif isinstance(config, dict):
            values = {**config, **kwargs}
        else:
            raise TypeError(
                f"`config` must be a {self.config_class.__name__}, a dict or None; "
                f"got {type(config).__name__}"
            )
        values.pop("family", None)
        from pydantic import ValidationError

        try:
            self.config = self.config_class(**values)
        except ValidationError as err:
            raise ConfigError(
                f"invalid {self.config_class.__name__}: {err}. Valid keys: "
                f"{sorted(self.config_class.model_fields)}"
            ) from err
        self.n_forward_calls = 0  # forwards run by this extractor (tests count them)

    @property
    def cache(self) -> FeatureCache | None:
        """The feature cache, or None when ``config.cache_dir`` is None."""
        return FeatureCache(self.config.cache_dir) if self.config.cache_dir else None

    def load_stimulus(self, path: Any) -> Any:
        """The stimulus held by one file, as :meth:`extract` takes it.

        ``brainalign extract`` calls it on each stimulus file. By default the path itself (a
        media file); the text and image families read events tables.
        """
        return str(path)

    @abstractmethod
    def stimulus_uid(self, stimulus: Any) -> str:
        """A content hash of one stimulus (file content, words and onsets, pixels...)."""

    @abstractmethod
    def compute(self, stimulus: Any) -> FeatureSet:
        """Features of one stimulus, every layer, times in seconds (no cache)."""

    def extract(self, stimulus: Any, *, uid: str | None = None) -> FeatureSet:
        """Features of one stimulus, from the cache when present, restricted to ``layers``.

        Parameters
        ----------
        stimulus : object
            What the family takes (an events table of words, images, a video file...).
        uid : str, optional
            A stable name for the stimulus in the cache (default: a content hash).

        Returns
        -------
        FeatureSet
            ``times`` in seconds; one ``(n_items, n_dims)`` array per selected layer.
        """
        cache = self.cache
        if cache is None:
            features = self.compute(stimulus)
            features.config = self.config.cache_dict()
            return select_layers(features, self.config.layers)
        key = uid or self.stimulus_uid(stimulus)
        features = cache.load(self.config, key)
        if features is None:
            features = self.compute(stimulus)
            features.config = self.config.cache_dict()
            cache.save(features, self.config, key)
            if self.config.dtype == "float16":  # return what later cache reads will return
                features.layers = {
                    k: v.astype("float16").astype("float32") for k, v in features.layers.items()
                }
        return select_layers(features, self.config.layers)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.config.model!r})"
