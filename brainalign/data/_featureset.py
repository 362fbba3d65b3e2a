"""`FeatureSet`: stimulus features on a time axis, per layer, with the config that made them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from brainalign._validation import check_array

__all__ = ["FeatureSet", "config_hash"]


def config_hash(config: dict[str, Any], exclude: tuple[str, ...] = ("layers",)) -> str:
    """A stable sha256 hex digest of a JSON-able config, ignoring the keys in ``exclude``."""
    clean = {k: v for k, v in sorted(config.items()) if k not in exclude}
    blob = json.dumps(clean, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


@dataclass(eq=False)
class FeatureSet:
    """Features of one stimulus stream.

    Parameters
    ----------
    times : ndarray, shape (n_items,)
        Time of each item (word, frame, image onset) in seconds on the run clock;
        non-decreasing.
    layers : dict of str to ndarray, shape (n_items, n_dims)
        One array per layer (or band). All share ``n_items``.
    durations : ndarray, shape (n_items,) or None
        Duration of each item in seconds.
    config : dict
        The extractor configuration; ``cache_key`` hashes it without the layer selection.
    """

    times: np.ndarray
    layers: dict[str, np.ndarray]
    durations: np.ndarray | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.times = check_array(
            self.times, "times", ndim=1, dtype=np.float64, shape_doc="(n_items,)", allow_empty=False
        )
        d = np.diff(self.times)
        if np.any(d < 0):
            i = int(np.flatnonzero(d < 0)[0]) + 1
            raise ValueError(
                f"`times` must be non-decreasing; got times[{i}]={self.times[i]:g} < "
                f"times[{i - 1}]={self.times[i - 1]:g}"
            )
        if not isinstance(self.layers, dict) or not self.layers:
            raise ValueError("`layers` must be a non-empty dict of name -> (n_items, n_dims) array")
        n = self.times.shape[0]
        clean = {}
        for name, arr in self.layers.items():
            a = check_array(arr, f"layers[{name!r}]", ndim=2, shape_doc="(n_items, n_dims)")
            if a.shape[0] != n:
                raise ValueError(
                    f"`layers[{name!r}]` must have one row per item ({n} = len(times)); "
                    f"got shape {a.shape}"
                )
            clean[str(name)] = a
        self.layers = clean
        if self.durations is not None:
            self.durations = check_array(self.durations, "durations", ndim=1, dtype=np.float64)
            if self.durations.shape[0] != n:
                raise ValueError(
                    f"`durations` must have {n} entries; got {self.durations.shape[0]}"
                )

    @property
    def n_items(self) -> int:
        return int(self.times.shape[0])

    @property
    def layer_names(self) -> list[str]:
        return list(self.layers)

    @property
    def cache_key(self) -> str:
        """Hash of ``config`` without the layer selection."""
        return config_hash(self.config)

    def select(self, layers: str | list[str]) -> FeatureSet:
        """A FeatureSet restricted to some layers (no copy of the arrays)."""
        names = [layers] if isinstance(layers, str) else list(layers)
        unknown = [n for n in names if n not in self.layers]
        if unknown:
            raise KeyError(
                f"`layers` must be among the extracted layers {self.layer_names}; got {unknown}"
            )
        return FeatureSet(
            self.times, {n: self.layers[n] for n in names}, self.durations, dict(self.config)
        )

    def __getitem__(self, layer: str) -> np.ndarray:
        return self.select(layer).layers[layer]

    def __repr__(self) -> str:
        dims = {k: v.shape[1] for k, v in list(self.layers.items())[:4]}
        more = "..." if len(self.layers) > 4 else ""
        return f"FeatureSet({self.n_items} items, layers={dims}{more})"
