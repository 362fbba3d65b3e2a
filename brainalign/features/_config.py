"""Extractor configuration: strict, hashable, with the layer selection outside the cache key."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from brainalign.data._featureset import config_hash

__all__ = ["NON_KEY_FIELDS", "ExtractorConfig"]

#: Fields that change neither the computed features nor their storage: not in the cache key.
NON_KEY_FIELDS = ("layers", "device", "batch_size", "cache_dir", "local_files_only", "verbose")


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
    """

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    family: ClassVar[str] = "base"

    model: str
    revision: str | None = None
    layers: list[int | str] | None = None
    dtype: Literal["float32", "float16"] = "float32"
    device: str = "cpu"
    batch_size: int = 8
    cache_dir: str | None = None
    local_files_only: bool = True

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
        return data

    def cache_key(self) -> str:
        """sha256 of :meth:`cache_dict`."""
        return config_hash(self.cache_dict(), exclude=())
