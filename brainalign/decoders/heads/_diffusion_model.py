"""A loaded embedding-conditioned diffusion model: loading a folder, embedding, generating.

Folder layouts and their checks: :mod:`brainalign.decoders.heads._diffusion_dir`.
torch and diffusers are imported only inside the functions that need them.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._logging import progress
from brainalign.decoders._base import check_embeddings
from brainalign.decoders.heads._diffusion_dir import (
    _OPTIONAL,
    _component_problem,
    check_diffusion_dir,
)
from brainalign.decoders.heads._diffusion_embed import PCAEmbedder, _as_images, _resize

__all__ = ["EmbeddingDiffusionModel", "load_diffusion_model"]

_DEFAULT_GUIDANCE = {"conditional": 1.0, "unclip": 10.0}


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
