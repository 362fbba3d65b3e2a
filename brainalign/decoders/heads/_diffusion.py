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

import contextlib
import inspect
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._logging import progress
from brainalign._validation import check_array, check_choice
from brainalign.decoders._base import check_embeddings
from brainalign.decoders.heads._latent import _BrainLatentHead

__all__ = [
    "CONDITIONAL_PIPELINE",
    "DIFFUSION_KINDS",
    "DiffusionHead",
    "EmbeddingDiffusionModel",
    "PCAEmbedder",
    "check_diffusion_dir",
    "load_diffusion_model",
    "save_conditional_diffusion",
]

#: ``_class_name`` of the model_index.json of brainalign's conditional layout.
CONDITIONAL_PIPELINE = "BrainalignConditionalPipeline"
#: Pipeline kinds the head runs.
DIFFUSION_KINDS = ("conditional", "unclip")
_CLASS_TO_KIND = {CONDITIONAL_PIPELINE: "conditional", "StableUnCLIPImg2ImgPipeline": "unclip"}
_REQUIRED = {
    "conditional": ("unet", "scheduler"),
    "unclip": (
        "unet",
        "vae",
        "scheduler",
        "image_normalizer",
        "image_noising_scheduler",
        "text_encoder",
        "tokenizer",
        "image_encoder",  # diffusers reads the embedding dtype from it, even with image_embeds
    ),
}
_OPTIONAL = {"conditional": ("vae", "embedder"), "unclip": ("feature_extractor",)}
_WEIGHTED = ("unet", "vae", "text_encoder", "image_encoder", "image_normalizer")
_CONFIG_FILES = (
    "config.json",
    "scheduler_config.json",
    "preprocessor_config.json",
    "tokenizer_config.json",
    "tokenizer.json",
    "vocab.json",
)
_DEFAULT_GUIDANCE = {"conditional": 1.0, "unclip": 10.0}


# --------------------------------------------------------------------------------------------
# model folder checks
# --------------------------------------------------------------------------------------------
def _component_problem(root: Path, name: str) -> str | None:
    folder = root / name
    if not folder.is_dir():
        return f"the folder {str(folder)!r} does not exist"
    if not any((folder / f).is_file() for f in _CONFIG_FILES):
        return (
            f"the folder {str(folder)!r} has no configuration file ({', '.join(_CONFIG_FILES[:3])})"
        )
    if (
        name in _WEIGHTED
        and not any(folder.glob("*.safetensors"))
        and not any(folder.glob("*.bin"))
    ):
        return f"the folder {str(folder)!r} has no weights (*.safetensors or *.bin)"
    return None


def check_diffusion_dir(model_dir: str | os.PathLike[str], kind: str = "auto") -> str:
    """Check that a local diffusion model folder has every component its kind needs.

    Parameters
    ----------
    model_dir : str or path-like
        A folder with ``model_index.json`` and one subfolder per component.
    kind : {"auto", "conditional", "unclip"}
        ``"auto"`` reads the pipeline class from ``model_index.json``.

    Returns
    -------
    kind : str
        The resolved kind.

    Raises
    ------
    FileNotFoundError
        The folder, its ``model_index.json`` or a needed component is missing (the message
        names the component).
    ValueError
        Unknown or mismatching kind.
    """
    check_choice(kind, "kind", ("auto", *DIFFUSION_KINDS))
    root = Path(model_dir).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"`model_dir` {str(root)!r} is not a folder; pass a local diffusers model folder "
            f"(written by save_pretrained or save_conditional_diffusion)"
        )
    index_file = root / "model_index.json"
    if not index_file.is_file():
        raise FileNotFoundError(
            f"`model_dir` {str(root)!r} has no model_index.json; expected a diffusers pipeline "
            f"folder (save_pretrained) with one subfolder per component"
        )
    index = json.loads(index_file.read_text())
    class_name = index.get("_class_name")
    found = _CLASS_TO_KIND.get(class_name)
    if kind == "auto":
        if found is None:
            raise ValueError(
                f"the pipeline {class_name!r} of {str(root)!r} is not supported; supported: "
                f"{sorted(_CLASS_TO_KIND)} (kinds {list(DIFFUSION_KINDS)})"
            )
        kind = found
    elif found is not None and found != kind:
        raise ValueError(
            f"`kind` is {kind!r} but {str(root)!r} holds a {class_name!r} pipeline (kind "
            f"{found!r}); pass kind={found!r} or kind='auto'"
        )
    present = sorted(k for k, v in index.items() if not k.startswith("_") and v and v[0])
    for name in _REQUIRED[kind]:
        listed = name in present
        problem = _component_problem(root, name) if listed else "model_index.json does not list it"
        if problem is not None:
            raise FileNotFoundError(
                f"`model_dir` {str(root)!r} is missing the component {name!r} that a {kind!r} "
                f"pipeline needs ({problem}); components listed: {present}. Save the complete "
                f"pipeline with save_pretrained, or copy the {name!r} folder of the original model"
            )
    return kind


@contextlib.contextmanager
def _quiet_loading(verbose: bool | None) -> Iterator[None]:
    """Silence diffusers' and transformers' loading progress bars; restore them after."""
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    if verbose:
        yield
        return
    was = dlog.is_progress_bar_enabled(), tlog.is_progress_bar_enabled()
    dlog.disable_progress_bar()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        if was[0]:
            dlog.enable_progress_bar()
        if was[1]:
            tlog.enable_progress_bar()


# --------------------------------------------------------------------------------------------
# PCA image embedder (conditional layout)
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# saving the conditional layout
# --------------------------------------------------------------------------------------------
def save_conditional_diffusion(
    model_dir: str | os.PathLike[str],
    unet: Any,
    scheduler: Any,
    *,
    vae: Any = None,
    embedder: PCAEmbedder | None = None,
) -> Path:
    """Write an embedding-conditioned diffusion model in brainalign's ``"conditional"`` layout.

    Parameters
    ----------
    model_dir : str or path-like
        Output folder (created).
    unet : diffusers.UNet2DConditionModel
        Conditioned through ``class_embed_type="projection"`` and/or cross-attention.
    scheduler : diffusers scheduler
        E.g. a ``DDIMScheduler`` (set ``steps_offset=1``).
    vae : diffusers.AutoencoderKL or None
        For latent diffusion; ``None``: the UNet works on pixels in [-1, 1].
    embedder : PCAEmbedder or None
        The image embedding the UNet is conditioned on, to embed training images.

    Returns
    -------
    Path
        ``model_dir``.
    """
    import diffusers

    root = Path(model_dir)
    root.mkdir(parents=True, exist_ok=True)
    index: dict[str, Any] = {
        "_class_name": CONDITIONAL_PIPELINE,
        "_diffusers_version": diffusers.__version__,
        "unet": ["diffusers", type(unet).__name__],
        "scheduler": ["diffusers", type(scheduler).__name__],
    }
    unet.save_pretrained(root / "unet")
    scheduler.save_pretrained(root / "scheduler")
    if vae is not None:
        vae.save_pretrained(root / "vae")
        index["vae"] = ["diffusers", type(vae).__name__]
    if embedder is not None:
        embedder.save(root / "embedder")
        index["embedder"] = ["brainalign", "PCAEmbedder"]
    (root / "model_index.json").write_text(json.dumps(index, indent=2))
    return root


# --------------------------------------------------------------------------------------------
# loaded model
# --------------------------------------------------------------------------------------------
def _has_cross_attention(config: Any) -> bool:
    blocks = [*config.down_block_types, *config.up_block_types, str(config.mid_block_type)]
    return any("CrossAttn" in b for b in blocks)


class EmbeddingDiffusionModel:
    """A loaded embedding-conditioned diffusion model (see :func:`load_diffusion_model`).

    Attributes
    ----------
    kind : {"conditional", "unclip"}
    model_dir : Path
    embedding_dim : int or None
        Width of the conditioning embedding (``None``: any multiple of ``token_dim``).
    token_dim : int or None
        ``cross_attention_dim`` when the embedding is cut into cross-attention tokens.
    image_shape : tuple of int
        ``(H, W, C)`` of generated images.
    """

    def __init__(self, kind: str, model_dir: Path, parts: dict[str, Any], device: str) -> None:
        self.kind = kind
        self.model_dir = model_dir
        self.parts = parts
        self.device = device
        if kind == "unclip":
            pipe = parts["pipeline"]
            self.embedding_dim: int | None = int(pipe.image_normalizer.config.embedding_dim)
            self.token_dim: int | None = None
            size = pipe.unet.config.sample_size * pipe.vae_scale_factor
            self.image_shape = (size, size, int(pipe.vae.config.out_channels))
            self._latent_shape = (
                pipe.unet.config.in_channels,
                *(2 * [pipe.unet.config.sample_size]),
            )
            return
        unet, vae = parts["unet"], parts.get("vae")
        config = unet.config
        projection = config.class_embed_type == "projection"
        cross = _has_cross_attention(config)
        if not (projection or cross):
            raise ValueError(
                f"the unet of {str(model_dir)!r} takes no embedding: it needs "
                f"class_embed_type='projection' or cross-attention blocks; got "
                f"class_embed_type={config.class_embed_type!r} and blocks "
                f"{list(config.down_block_types)}"
            )
        if cross and not isinstance(config.cross_attention_dim, int):
            raise ValueError(
                f"the unet of {str(model_dir)!r} has per-block cross_attention_dim "
                f"{config.cross_attention_dim!r}; one int is needed to cut embeddings into tokens"
            )
        self._projection, self._cross = projection, cross
        self.token_dim = int(config.cross_attention_dim) if cross else None
        self.embedding_dim = (
            int(config.projection_class_embeddings_input_dim) if projection else None
        )
        if projection and cross and self.embedding_dim % self.token_dim:
            raise ValueError(
                f"the unet of {str(model_dir)!r} projects embeddings of width "
                f"{self.embedding_dim}, which cannot be cut into cross-attention tokens of "
                f"{self.token_dim}"
            )
        self._latent_shape = (config.in_channels, *(2 * [config.sample_size]))
        if vae is None:
            self.image_shape = (config.sample_size, config.sample_size, config.out_channels)
        else:
            size = config.sample_size * 2 ** (len(vae.config.block_out_channels) - 1)
            self.image_shape = (size, size, vae.config.out_channels)

    def __repr__(self) -> str:
        return (
            f"EmbeddingDiffusionModel(kind={self.kind!r}, embedding_dim={self.embedding_dim}, "
            f"image_shape={self.image_shape}, model_dir={str(self.model_dir)!r})"
        )

    # -- inputs ------------------------------------------------------------------------------
    def check_embeddings(self, embeddings: Any, name: str = "embeddings") -> np.ndarray:
        """Return embeddings as float32 ``(n, d)`` after checking their width."""
        E = check_embeddings(embeddings, name).astype(np.float32)
        d = E.shape[1]
        if self.embedding_dim is not None and d != self.embedding_dim:
            raise ValueError(
                f"`{name}` must have {self.embedding_dim} columns (the width the {self.kind!r} "
                f"model is conditioned on); got {name}.shape={E.shape}"
            )
        if self.embedding_dim is None and self.token_dim and d % self.token_dim:
            raise ValueError(
                f"`{name}` must have a multiple of {self.token_dim} columns (cross-attention "
                f"tokens of cross_attention_dim={self.token_dim}); got {name}.shape={E.shape}"
            )
        return E

    def embed_images(self, images: Any) -> np.ndarray:
        """Conditioning embeddings of images (the targets a brain decoder learns).

        Parameters
        ----------
        images : array-like, shape (n, H, W[, C]), floats in [0, 1] or uint8

        Returns
        -------
        ndarray, shape (n, embedding_dim)

        Raises
        ------
        ValueError
            The model folder has no image embedder (``embedder`` for ``"conditional"``,
            ``feature_extractor`` for ``"unclip"``).
        """
        arr = _as_images(images, "images")
        if self.kind == "conditional":
            embedder = self.parts.get("embedder")
            if embedder is None:
                raise ValueError(
                    f"the model in {str(self.model_dir)!r} has no 'embedder' component, so it "
                    f"cannot embed images; pass the conditioning embeddings themselves"
                )
            return embedder.transform(arr)
        import torch

        pipe = self.parts["pipeline"]
        if pipe.feature_extractor is None:
            raise ValueError(
                f"the model in {str(self.model_dir)!r} has no 'feature_extractor' component, "
                f"so it cannot embed images; pass CLIP image embeddings themselves"
            )
        rgb = _resize(arr, arr.shape[1], 3)
        pixels = pipe.feature_extractor(
            images=list(rgb), return_tensors="pt", do_rescale=False
        ).pixel_values
        with torch.inference_mode():
            out = pipe.image_encoder(pixels.to(self.device)).image_embeds
        return out.float().cpu().numpy().astype(np.float64)

    # -- generation ---------------------------------------------------------------------------
    def generate(
        self,
        embeddings: Any,
        *,
        num_inference_steps: int = 25,
        guidance_scale: float | None = None,
        noise_level: int = 0,
        seed: int = 0,
        batch_size: int = 16,
        verbose: bool | None = None,
    ) -> np.ndarray:
        """Images conditioned on embeddings.

        The initial noise of image ``i`` depends only on ``seed`` and ``i`` (drawn for all
        images at once), so results do not depend on ``batch_size``.

        Parameters
        ----------
        embeddings : array-like, shape (n, embedding_dim)
        num_inference_steps : int
            Denoising steps.
        guidance_scale : float or None
            Classifier-free guidance (1: none). ``None``: 1 for ``"conditional"``, 10 for
            ``"unclip"`` (the diffusers default).
        noise_level : int
            ``"unclip"`` only: noise augmentation of the image embedding (0-1000).
        seed : int
            Seed of the initial noise.
        batch_size : int
            Images per denoising batch.
        verbose : bool or None
            Progress bar over batches.

        Returns
        -------
        images : ndarray, shape (n, H, W, C), float32 in [0, 1]
        """
        import torch

        E = self.check_embeddings(embeddings)
        steps = _positive_int(num_inference_steps, "num_inference_steps")
        batch_size = _positive_int(batch_size, "batch_size")
        guidance = _DEFAULT_GUIDANCE[self.kind] if guidance_scale is None else float(guidance_scale)
        if not guidance >= 1.0:
            raise ValueError(
                f"`guidance_scale` must be >= 1 (1: no guidance); got {guidance_scale!r}"
            )
        gen = torch.Generator().manual_seed(int(seed))
        noise = torch.randn((E.shape[0], *self._latent_shape), generator=gen)
        # one generator per image for the noise drawn during sampling (embedding noise
        # augmentation, stochastic schedulers): results do not depend on the batching
        seeds = torch.randint(0, 2**62, (E.shape[0],), generator=gen).tolist()
        out = []
        starts = range(0, E.shape[0], batch_size)
        for start in progress(starts, desc="generating", total=len(starts), verbose=verbose):
            e = torch.from_numpy(E[start : start + batch_size]).to(self.device)
            x = noise[start : start + batch_size].to(self.device)
            gen = [torch.Generator().manual_seed(s) for s in seeds[start : start + batch_size]]
            if self.kind == "unclip":
                out.append(self._unclip(e, x, steps, guidance, noise_level, gen))
            else:
                out.append(self._conditional(e, x, steps, guidance, gen))
        return np.concatenate(out).astype(np.float32)

    def _condition(self, e: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"encoder_hidden_states": None}
        if self._projection:
            kwargs["class_labels"] = e
        if self._cross:
            kwargs["encoder_hidden_states"] = e.reshape(e.shape[0], -1, self.token_dim)
        return kwargs

    def _conditional(self, e: Any, x: Any, steps: int, guidance: float, gen: Any) -> np.ndarray:
        import torch

        unet, scheduler, vae = self.parts["unet"], self.parts["scheduler"], self.parts.get("vae")
        scheduler.set_timesteps(steps, device=self.device)
        x = x * scheduler.init_noise_sigma
        extra = {}
        if "generator" in inspect.signature(scheduler.step).parameters:
            extra["generator"] = gen
        guided = guidance != 1.0
        cond = self._condition(torch.cat([torch.zeros_like(e), e]) if guided else e)
        with torch.inference_mode():
            for t in scheduler.timesteps:
                inp = scheduler.scale_model_input(torch.cat([x, x]) if guided else x, t)
                eps = unet(inp, t, **cond).sample
                if guided:
                    uncond, cnd = eps.chunk(2)
                    eps = uncond + guidance * (cnd - uncond)
                x = scheduler.step(eps, t, x, **extra).prev_sample
            if vae is not None:
                x = vae.decode(x / vae.config.scaling_factor).sample
        return ((x.float().cpu() + 1) / 2).clamp(0, 1).permute(0, 2, 3, 1).numpy()

    def _unclip(
        self, e: Any, x: Any, steps: int, guidance: float, noise_level: int, gen: Any
    ) -> np.ndarray:
        pipe = self.parts["pipeline"]
        result = pipe(
            image_embeds=e,
            prompt=[""] * e.shape[0],
            latents=x,
            num_inference_steps=steps,
            guidance_scale=guidance,
            noise_level=int(noise_level),
            generator=gen,
            output_type="np",
        )
        return np.asarray(result.images, dtype=np.float32)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be an int >= 1; got {value!r}")
    return int(value)


def load_diffusion_model(
    model_dir: str | os.PathLike[str],
    *,
    kind: str = "auto",
    device: str = "cpu",
    verbose: bool | None = None,
) -> EmbeddingDiffusionModel:
    """Load an embedding-conditioned diffusion model from a local folder (offline).

    Parameters
    ----------
    model_dir : str or path-like
        See :func:`check_diffusion_dir`.
    kind : {"auto", "conditional", "unclip"}
    device : str
        Torch device.
    verbose : bool or None
        Show the libraries' loading progress bars.

    Returns
    -------
    EmbeddingDiffusionModel

    Raises
    ------
    FileNotFoundError
        A needed component is missing (named in the message).
    """
    kind = check_diffusion_dir(model_dir, kind)
    root = Path(model_dir).expanduser()
    import diffusers

    parts: dict[str, Any] = {}
    with _quiet_loading(verbose):
        if kind == "unclip":
            missing = {name: None for name in _OPTIONAL["unclip"] if _component_problem(root, name)}
            pipe = diffusers.StableUnCLIPImg2ImgPipeline.from_pretrained(
                root, local_files_only=True, **missing
            )
            pipe.to(device)
            pipe.set_progress_bar_config(disable=True)
            parts["pipeline"] = pipe
        else:
            index = json.loads((root / "model_index.json").read_text())
            unet_class = getattr(diffusers, index["unet"][1])
            parts["unet"] = unet_class.from_pretrained(root / "unet").to(device).eval()
            sched_config = json.loads((root / "scheduler" / "scheduler_config.json").read_text())
            sched_class = getattr(diffusers, sched_config["_class_name"])
            parts["scheduler"] = sched_class.from_pretrained(root / "scheduler")
            if "vae" in index and not _component_problem(root, "vae"):
                vae_class = getattr(diffusers, index["vae"][1])
                parts["vae"] = vae_class.from_pretrained(root / "vae").to(device).eval()
            if "embedder" in index and (root / "embedder").is_dir():
                parts["embedder"] = PCAEmbedder.load(root / "embedder")
    return EmbeddingDiffusionModel(kind, root, parts, device)


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
