"""One ``brainalign`` logger, one ``verbose`` convention, silenceable progress bars."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["logger", "progress", "set_log_level"]

logger = logging.getLogger("brainalign")
if not logger.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("[brainalign] %(message)s"))
    logger.addHandler(_handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False

T = TypeVar("T")


def set_log_level(verbose: bool | int | str | None = None) -> None:
    """Set the level of the ``brainalign`` logger.

    Parameters
    ----------
    verbose : bool | int | str | None
        ``True`` → INFO, ``False`` → WARNING, an int or a level name as in :mod:`logging`,
        ``None`` → the ``BRAINALIGN_LOG_LEVEL`` environment variable, else WARNING.
    """
    if verbose is None:
        verbose = os.environ.get("BRAINALIGN_LOG_LEVEL", "WARNING")
    if isinstance(verbose, bool):
        level: int | str = logging.INFO if verbose else logging.WARNING
    elif isinstance(verbose, str):
        level = verbose.upper()
    else:
        level = int(verbose)
    logger.setLevel(level)


def _progress_enabled(verbose: bool | None) -> bool:
    if verbose is not None:
        return bool(verbose)
    return os.environ.get("BRAINALIGN_PROGRESS", "1") not in ("0", "false", "False", "")


def progress(
    iterable: Iterable[T],
    *,
    desc: str | None = None,
    total: int | None = None,
    verbose: bool | None = None,
    **kwargs: Any,
) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm progress bar unless progress is disabled.

    Progress is shown when ``verbose`` is true, or when ``verbose`` is ``None`` and the
    ``BRAINALIGN_PROGRESS`` environment variable is not ``0``.
    """
    if not _progress_enabled(verbose):
        yield from iterable
        return
    from tqdm.auto import tqdm

    yield from tqdm(iterable, desc=desc, total=total, leave=False, **kwargs)
