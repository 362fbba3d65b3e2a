"""Exception and warning types of brainalign.

All of them subclass a builtin type, so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "AlphaGridWarning",
    "BrainalignWarning",
    "ConfigError",
    "DataFormatError",
]


class BrainalignWarning(UserWarning):
    """Base class of brainalign's warnings."""


class AlphaGridWarning(BrainalignWarning):
    """Many targets selected a regularisation value on the edge of the grid."""


class ConfigError(ValueError):
    """A configuration file or mapping is invalid (unknown key, wrong type, ...)."""


class DataFormatError(ValueError):
    """A file or array does not have the layout that a reader expects."""
