"""Plots: brain maps on fsaverage meshes, score histograms, layer curves, response curves.

matplotlib and nilearn load on first use; every function returns a matplotlib Figure.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC: dict[str, str] = {
    "figure_to_data_uri": "_figures",
    "figure_to_png": "_figures",
    "plot_layer_scores": "_scores",
    "plot_null_distribution": "_scores",
    "plot_response_curves": "_scores",
    "plot_score_histogram": "_scores",
    "plot_surface_map": "_surface",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'brainalign.viz' has no attribute {name!r}")
    return getattr(importlib.import_module(f"brainalign.viz.{module}"), name)


def __dir__() -> list[str]:
    return list(__all__)
