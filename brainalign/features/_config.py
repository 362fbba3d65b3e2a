"""Extractor configuration: strict, hashable, with the layer selection outside the cache key."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from brainalign.data._featureset import config_hash

__all__ = ["NON_KEY_FIELDS", "ExtractorConfig", "model_fingerprint"]

#: Fields that change neither the computed features nor their storage: not in the cache key.
NON_KEY_FIELDS = ("layers", "device", "batch_size", "cache_dir", "local_files_only", "verbose")

#: Files up to this size enter the fingerprint by content, larger ones by size and mtime.
_SMALL_FILE = 16 * 2**20


def model_fingerprint(model: str) -> str | None:
    """A hash of the local files of a model, or None when ``model`` is not a local path.

    A folder contributes its top-level files (hidden files excepted): ``config.json``, the
    processor and tokenizer files (up to 16 MiB) by content, the weights by name, size and
    modification time (hashing gigabytes on every extraction would cost seconds). Editing a
    processor setting or replacing the weights therefore changes the cache key.

    Parameters
    ----------
    model : str
        A model folder or file (or a hub id / label, which gives None).

    Returns
    -------
    str or None
        16 hex digits.
    """
    path = Path(model).expanduser()
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(f for f in path.iterdir() if f.is_file() and not f.name.startswith("."))
    else:
        return None
    signature = []
    for f in files:
        st = f.stat()
        signature.append((f.name, st.st_size, st.st_mtime_ns))
    return _fingerprint(str(path), tuple(signature))


@functools.lru_cache(maxsize=256)
def _fingerprint(root: str, signature: tuple[tuple[str, int, int], ...]) -> str:
    """Hash of the files listed in ``signature`` (memoised while none of them changes)."""
    base = Path(root)
    h = hashlib.sha256()
    for name, size, mtime_ns in signature:
        h.update(name.encode() + b"\x00")
        if size <= _SMALL_FILE:
            h.update((base if base.is_file() else base / name).read_bytes())
        else:
            h.update(json.dumps([size, mtime_ns]).encode())
        h.update(b"\x00")
    return h.hexdigest()[:16]


class ExtractorConfig(BaseModel):
    """Base configuration of a feature extractor.

    Subclasses (one per family) add their own fields (pooling, context policy, sampling grid).
    Unknown keys are refused. Everything except :data:`NON_KEY_FIELDS` enters the cache key,
    so choosing other ``layers`` never recomputes the backbone.

    Parameters
    ----------
    model : str
        A local model directory (or file), or a hub id for users with internet access.
    revision : str or None
        Model revision (hub) or a user label for a local copy; part of the cache key.
    layers : list of int or str, or None
        Layers to return: indices into the hidden states (0 = embeddings, negative counts from
        the end) or exact layer names. ``None`` returns every layer. Not part of the cache key.
    dtype : {"float32", "float16"}
        Storage dtype in the cache (arrays are returned as float32).
    device : str
        Torch device used for the forward passes (``"cpu"``, ``"cuda"``).
    batch_size : int
        Stimuli (or windows) per forward pass.
    cache_dir : str or None
        Feature cache folder; ``None`` disables caching.
    local_files_only : bool
        Refuse hub downloads (the default: nothing here needs the network).
    verbose : bool or None
        Progress bars; ``None`` follows the ``BRAINALIGN_PROGRESS`` environment variable.

    Notes
    -----
    When ``model`` is a local folder or file, :func:`model_fingerprint` of its files enters
    the cache key too (``model_files``), so that features computed with other weights or
    processor settings saved under the same path are not reused.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    family: ClassVar[str] = "base"
    #: Whether ``model`` may name local files (their fingerprint enters the cache key).
    model_is_path: ClassVar[bool] = True

    model: str
    revision: str | None = None
    layers: list[int | str] | None = None
    dtype: Literal["float32", "float16"] = "float32"
    device: str = "cpu"
    batch_size: int = 8
    cache_dir: str | None = None
    local_files_only: bool = True
    verbose: bool | None = None

    @field_validator("batch_size")
    @classmethod
    def _positive_batch(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"`batch_size` must be >= 1; got {value}")
        return value

    def cache_dict(self) -> dict[str, Any]:
        """The fields that define the features (everything but :data:`NON_KEY_FIELDS`)."""
        data = self.model_dump(mode="json", exclude=set(NON_KEY_FIELDS))
        data["family"] = self.family
        files = model_fingerprint(self.model) if self.model_is_path else None
        if files is not None:
            data["model_files"] = files
        return data

    def cache_key(self) -> str:
        """sha256 of :meth:`cache_dict`."""
        return config_hash(self.cache_dict(), exclude=())
