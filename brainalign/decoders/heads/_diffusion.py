"""Diffusion head: brain → conditioning embedding → image, through diffusers pipelines.

Two kinds of local model folders (``save_pretrained`` layout, nothing is downloaded):

- ``"unclip"``: a :class:`diffusers.StableUnCLIPImg2ImgPipeline` folder (e.g. a local copy of
  ``stabilityai/stable-diffusion-2-1-unclip``). The decoded embedding is passed as
  ``image_embeds`` (a CLIP image embedding; noise-augmented by ``noise_level``) with the
  empty prompt, as in image-variation use. Components needed: ``unet``, ``vae``,
  ``scheduler``, ``image_normalizer``, ``image_noising_scheduler``, ``text_encoder``,
  ``tokenizer``, ``image_encoder`` (the pipeline reads the embedding dtype from it);
  ``feature_extractor`` only to embed training images.
- ``"conditional"``: brainalign's own minimal layout (:func:`save_conditional_diffusion`):
  a :class:`diffusers.UNet2DConditionModel` conditioned on the embedding through its class
  embedding (``class_embed_type="projection"``: ``class_labels`` = embedding) and/or
  cross-attention (``encoder_hidden_states`` = embedding cut into tokens of
  ``cross_attention_dim``), a scheduler, an optional ``vae`` (latent diffusion) and an
  optional ``embedder`` (a PCA image embedding). The digits model of
  :func:`~brainalign.decoders.train_digit_diffusion` is one.

A folder that lacks a component its kind needs raises ``FileNotFoundError`` naming it.
Classifier-free guidance uses the zero embedding as the unconditional input for the
``"conditional"`` kind (train with condition dropout to zeros) and the empty-prompt
negative for ``"unclip"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from brainalign.decoders._base import check_embeddings
from brainalign.decoders.heads._diffusion_model import (
    EmbeddingDiffusionModel,
    load_diffusion_model,
)
from brainalign.decoders.heads._latent import _BrainLatentHead

__all__ = ["DiffusionHead"]


# --------------------------------------------------------------------------------------------
# head
# --------------------------------------------------------------------------------------------
class DiffusionHead(_BrainLatentHead):
    """Brain → conditioning embedding (ridge) → image, with a local diffusers model.

    ``fit`` learns a linear decoder from z-scored voxels to the embedding the diffusion
    model is conditioned on (given directly, or computed from the stimulus images with the
    model's image embedder); ``predict`` decodes embeddings; ``reconstruct`` generates.

    Parameters
    ----------
    model_dir : str or path-like
        Local model folder (:func:`check_diffusion_dir`; loaded at first use).
    kind : {"auto", "conditional", "unclip"}
    decoder : estimator or None
        Brain → embedding regressor (cloned). ``None``: a
        :class:`~brainalign.decoders.RidgeDecoder`.
    standardize : bool
        z-score each voxel with the training statistics.
    rescale : {"norm", "batch", "none"}
        Undo the ridge shrinkage of decoded embeddings (see
        :class:`~brainalign.decoders.GANHead`).
    num_inference_steps : int
        Denoising steps.
    guidance_scale : float or None
        Classifier-free guidance; ``None``: the kind's default.
    noise_level : int
        ``"unclip"``: noise augmentation of the embedding.
    seed : int
        Seed of the initial noise.
    batch_size : int
        Images per denoising batch.
    device : str
        Torch device.
    verbose : bool or None
        Progress bars.

    Attributes
    ----------
    decoder_, brain_mean_, brain_scale_, latent_mean_, latent_std_, latent_norm_, \
n_features_in_, n_outputs_
        As in :class:`~brainalign.decoders.GANHead` (latents = embeddings).
    """

    def __init__(
        self,
        model_dir: Any = None,
        kind: str = "auto",
        decoder: Any = None,
        standardize: bool = True,
        rescale: str = "norm",
        num_inference_steps: int = 25,
        guidance_scale: float | None = None,
        noise_level: int = 0,
        seed: int = 0,
        batch_size: int = 16,
        device: str = "cpu",
        verbose: bool | None = None,
    ):
        self.model_dir = model_dir
        self.kind = kind
        self.decoder = decoder
        self.standardize = standardize
        self.rescale = rescale
        self.num_inference_steps = num_inference_steps
        self.guidance_scale = guidance_scale
        self.noise_level = noise_level
        self.seed = seed
        self.batch_size = batch_size
        self.device = device
        self.verbose = verbose

    def _resolve_model_dir(self) -> Any:
        if self.model_dir is None:
            raise ValueError(
                "`model_dir` must be a local diffusion model folder; got None (see "
                "brainalign.decoders.train_digit_diffusion for a model brainalign trains)"
            )
        return self.model_dir

    @property
    def model(self) -> EmbeddingDiffusionModel:
        """The loaded diffusion model (loaded on first access)."""
        model_dir = self._resolve_model_dir()
        key = (str(model_dir), self.kind, self.device)
        cached = getattr(self, "_loaded_model", None)
        if cached is not None and cached[0] == key:  # reloaded when set_params changes these
            return cached[1]
        loaded = load_diffusion_model(
            model_dir, kind=self.kind, device=self.device, verbose=self.verbose
        )
        self._loaded_model = (key, loaded)
        return loaded

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_loaded_model", None)
        return state

    def _targets(self, Y: Any, n_samples: int) -> np.ndarray:
        if np.ndim(Y) >= 3:  # images: embed them with the model's embedder
            Y = self.embed_images(Y)
        return check_embeddings(Y, "Y", n_samples=n_samples)

    def embed_images(self, images: Any) -> np.ndarray:
        """Conditioning embeddings of images ``(n, H, W[, C])`` (see
        :meth:`EmbeddingDiffusionModel.embed_images`)."""
        return self.model.embed_images(images)

    def generate(self, embeddings: Any) -> np.ndarray:
        """Images of embeddings (no decoding), ``(n, H, W, C)`` float32 in [0, 1]."""
        return self.model.generate(
            embeddings,
            num_inference_steps=self.num_inference_steps,
            guidance_scale=self.guidance_scale,
            noise_level=self.noise_level,
            seed=self.seed,
            batch_size=self.batch_size,
            verbose=self.verbose,
        )

    def reconstruct(self, X: Any) -> np.ndarray:
        """Decode embeddings from brain activity and generate their images.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_voxels)

        Returns
        -------
        images : ndarray, shape (n_samples, H, W, C), float32 in [0, 1]
        """
        return self.generate(self.predict(X))
