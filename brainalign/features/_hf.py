"""Helpers shared by the transformers-based extractors: loading, batching, layer naming.

torch and transformers are imported inside the functions, so importing this module is light.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._logging import progress

__all__ = [
    "batches",
    "iter_image_batches",
    "layer_name",
    "load_pretrained",
    "load_processor_and_model",
    "quiet_transformers",
    "require_transformers",
    "stack_layers",
    "to_device",
]


def require_transformers() -> tuple[Any, Any]:
    """Import torch and transformers, or raise an ImportError with the install hint."""
    try:
        import torch
        import transformers
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "feature extraction needs torch and transformers; install them with "
            "`pip install 'brainalign[features]'`"
        ) from err
    return torch, transformers


def _looks_like_path(model: str) -> bool:
    return (
        Path(model).expanduser().is_absolute()
        or model.startswith((".", "~"))
        or model.count("/") > 1
        or "\\" in model
    )


@contextlib.contextmanager
def quiet_transformers(verbose: bool | None) -> Iterator[None]:
    """Hide transformers' loading progress bars unless progress is on; restored afterwards.

    ``verbose=None`` follows the ``BRAINALIGN_PROGRESS`` environment variable, as
    :func:`brainalign._logging.progress` does.
    """
    from transformers.utils import logging as hf_logging

    from brainalign._logging import _progress_enabled

    was_enabled = hf_logging.is_progress_bar_enabled()
    if not _progress_enabled(verbose):
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def load_pretrained(loader: Any, config: Any, what: str) -> Any:
    """``loader.from_pretrained(config.model)`` with a clear error for a missing model.

    Parameters
    ----------
    loader : class
        A transformers ``Auto*`` class.
    config : ExtractorConfig
        Gives ``model``, ``revision`` and ``local_files_only``.
    what : str
        What is loaded, for the error message (``"model"``, ``"image processor"``...).
    """
    model = config.model
    path = Path(model).expanduser()
    if not path.exists() and _looks_like_path(model):
        raise FileNotFoundError(
            f"`model` {model!r} does not exist; pass a directory written by "
            "`save_pretrained` (config.json + weights + processor files)"
        )
    source = str(path) if path.exists() else model
    kwargs: dict[str, Any] = {"local_files_only": config.local_files_only}
    if config.revision is not None and not path.exists():
        kwargs["revision"] = config.revision
    try:
        with quiet_transformers(getattr(config, "verbose", None)):
            return loader.from_pretrained(source, **kwargs)
    except OSError as err:
        if path.exists():
            raise OSError(
                f"could not load the {what} from {model!r} with {loader.__name__}: {err}"
            ) from err
        raise FileNotFoundError(
            f"`model` {model!r} is not a local directory and is not in the Hugging Face cache "
            f"(local_files_only={config.local_files_only}). Pass the directory written by "
            "`save_pretrained`, or set local_files_only=False to download it."
        ) from err


def load_processor_and_model(
    config: Any, processor: str, model: str = "AutoModel", *, what: str = "processor"
) -> tuple[Any, Any]:
    """Load ``config.model``'s processor and model (in eval mode, on ``config.device``).

    Parameters
    ----------
    config : ExtractorConfig
    processor, model : str
        Names of the ``Auto*`` classes (``"AutoImageProcessor"``, ``"AutoModel"``...).
    what : str
        How the processor is named in errors.

    Returns
    -------
    processor, model
    """
    _, transformers = require_transformers()
    proc = load_pretrained(getattr(transformers, processor), config, what)
    net = load_pretrained(getattr(transformers, model), config, "model")
    net.eval().to(config.device)
    return proc, net


def to_device(inputs: Any, device: str) -> dict[str, Any]:
    """The tensors of a processor's output (a mapping) moved to ``device``."""
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in inputs.items()}


def batches(n: int, size: int) -> Iterator[range]:
    """Consecutive ranges of at most ``size`` items covering ``range(n)``."""
    for start in range(0, n, size):
        yield range(start, min(n, start + size))


def iter_image_batches(
    stim: Any, batch_size: int, *, desc: str, verbose: bool | None
) -> Iterator[tuple[range, list[Any]]]:
    """Batches of decoded images of an :class:`~brainalign.features._media.ImageStimuli`.

    Yields
    ------
    batch : range
        Indices of the images of the batch.
    images : list of PIL.Image.Image
        Those images, decoded to RGB.
    """
    from brainalign.features._media import load_image

    chunks = list(batches(len(stim), batch_size))
    for batch in progress(chunks, desc=desc, total=len(chunks), verbose=verbose):
        yield batch, [load_image(stim.images[i], stim.labels[i]) for i in batch]


def layer_name(i: int, pooling: str, several: bool, prefix: str = "") -> str:
    """``layer_<i>`` or ``layer_<i>.<pooling>`` (when several poolings are stored)."""
    return f"{prefix}layer_{i}.{pooling}" if several else f"{prefix}layer_{i}"


def stack_layers(chunks: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate the per-batch arrays of each layer (float32)."""
    return {k: np.concatenate(v, axis=0).astype(np.float32) for k, v in chunks.items()}
