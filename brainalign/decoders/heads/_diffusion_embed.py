"""PCA image embedder of the ``"conditional"`` diffusion layout, and image array helpers."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._validation import check_array

__all__ = ["PCAEmbedder"]


@dataclass
class PCAEmbedder:
    """A linear image embedding: whitened principal components of the pixels.

    Attributes
    ----------
    mean : ndarray, shape (n_pixels,)
    components : ndarray, shape (n_components, n_pixels)
    scale : ndarray, shape (n_components,)
        Standard deviation of each component on the fitting images (whitening).
    image_size : int
        Images are resized to ``image_size`` × ``image_size`` before projection.
    channels : int
        1 (images converted to grayscale) or 3.
    """

    mean: np.ndarray
    components: np.ndarray
    scale: np.ndarray
    image_size: int
    channels: int

    @classmethod
    def fit(cls, images: Any, n_components: int, *, seed: int = 0) -> PCAEmbedder:
        """Fit on images ``(n, H, W, C)`` in [0, 1] (at the size they have)."""
        from sklearn.decomposition import PCA

        arr = _as_images(images, "images")
        flat = arr.reshape(arr.shape[0], -1)
        pca = PCA(n_components=n_components, random_state=seed).fit(flat)
        return cls(
            mean=pca.mean_,
            components=pca.components_,
            scale=np.sqrt(pca.explained_variance_),
            image_size=arr.shape[1],
            channels=arr.shape[3],
        )

    @property
    def embedding_dim(self) -> int:
        return int(self.components.shape[0])

    def transform(self, images: Any) -> np.ndarray:
        """Embeddings ``(n, n_components)`` of images ``(n, H, W[, C])`` in [0, 1]."""
        arr = _resize(_as_images(images, "images"), self.image_size, self.channels)
        flat = arr.reshape(arr.shape[0], -1).astype(np.float64)
        return (flat - self.mean) @ self.components.T / self.scale

    def save(self, folder: str | os.PathLike[str]) -> None:
        """Write ``config.json`` and ``pca.npz`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        config = {"type": "pca", "image_size": self.image_size, "channels": self.channels}
        (folder / "config.json").write_text(json.dumps(config))
        np.savez(folder / "pca.npz", mean=self.mean, components=self.components, scale=self.scale)

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> PCAEmbedder:
        """Read an embedder written by :meth:`save`."""
        folder = Path(folder)
        config = json.loads((folder / "config.json").read_text())
        if config.get("type") != "pca" or not (folder / "pca.npz").is_file():
            raise ValueError(
                f"the embedder in {str(folder)!r} must be a PCA embedder (config type 'pca' and "
                f"pca.npz); got config {config}"
            )
        with np.load(folder / "pca.npz") as data:
            return cls(
                data["mean"],
                data["components"],
                data["scale"],
                int(config["image_size"]),
                int(config["channels"]),
            )


def _as_images(images: Any, name: str) -> np.ndarray:
    arr = np.asarray(images)
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    arr = check_array(arr, name, ndim=(3, 4), dtype=np.float32, shape_doc="(n_images, H, W, C)")
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.shape[-1] not in (1, 3):
        raise ValueError(
            f"`{name}` must be channel-last images (n_images, H, W, C) with C in (1, 3); got "
            f"shape {arr.shape}"
        )
    return arr


def _resize(arr: np.ndarray, size: int, channels: int) -> np.ndarray:
    """Resize (bilinear) and convert channels of images (n, H, W, C)."""
    if arr.shape[-1] != channels:
        if channels == 1:
            arr = (arr @ np.array([0.2125, 0.7154, 0.0721], dtype=arr.dtype))[..., None]
        else:
            arr = np.repeat(arr, 3, axis=-1)
    if arr.shape[1:3] != (size, size):
        import torch
        import torch.nn.functional as F

        x = torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2)
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        arr = x.permute(0, 2, 3, 1).numpy()
    return arr
