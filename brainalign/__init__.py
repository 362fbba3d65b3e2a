"""brainalign: brain encoding and decoding.

``import brainalign`` is light: heavy dependencies (torch, transformers, mne, nilearn,
matplotlib, dask) load only when a function that needs them is called. Subpackages are
imported lazily on attribute access, e.g. ``brainalign.encoders.BandedRidgeEncoder``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0.dev0"

_SUBPACKAGES = (
    "alignment",
    "cli",
    "data",
    "datasets",
    "decoders",
    "encoders",
    "evaluation",
    "features",
    "io",
    "parallel",
    "report",
    "study",
    "viz",
)

__all__ = ["__version__", *_SUBPACKAGES, "set_log_level"]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"brainalign.{name}")
    if name == "set_log_level":
        from brainalign._logging import set_log_level

        return set_log_level
    raise AttributeError(f"module 'brainalign' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
