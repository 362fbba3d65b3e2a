"""Image features from transformers vision backbones (ViT, DINOv2, CLIP vision, ...).

Every hidden state is pooled two ways, stored separately: the CLS token, and the mean over
the patch tokens (CLS and register tokens excluded). The number of prefix tokens comes from
the model's config (one CLS unless the architecture has none, plus ``num_register_tokens``)
and is checked against the number of tokens that the patch grid implies.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import field_validator

from brainalign.data._featureset import FeatureSet
from brainalign.features._base import FeatureExtractor
from brainalign.features._config import ExtractorConfig
from brainalign.features._hf import (
    iter_image_batches,
    layer_name,
    load_processor_and_model,
    require_transformers,
    stack_layers,
)
from brainalign.features._media import as_image_stimuli, image_stimuli_uid, read_image_stimulus

__all__ = ["ImageExtractor", "ImageExtractorConfig", "pool_tokens", "prefix_token_count"]

#: Vision architectures without a CLS token (their patch tokens are pooled by a head).
NO_CLS_MODEL_TYPES = frozenset(
    {"siglip", "siglip_vision_model", "siglip2", "siglip2_vision_model", "videomae"}
)
#: Extra prefix tokens after CLS that are not registers (DeiT's distillation token).
EXTRA_PREFIX_TOKENS = {"deit": 1}


def prefix_token_count(config: Any) -> tuple[int, bool]:
    """How many tokens precede the patch tokens, and whether the first is a CLS token.

    Parameters
    ----------
    config : transformers.PretrainedConfig
        A vision config (``model_type``, optional ``num_register_tokens``).

    Returns
    -------
    n_prefix : int
        CLS (1, unless the architecture has none), DeiT's distillation token, and the
        register tokens.
    has_cls : bool
    """
    model_type = getattr(config, "model_type", "")
    has_cls = model_type not in NO_CLS_MODEL_TYPES
    n_reg = int(getattr(config, "num_register_tokens", 0) or 0)
    return int(has_cls) + EXTRA_PREFIX_TOKENS.get(model_type, 0) + n_reg, has_cls


def _patch_count(config: Any, pixel_values: Any) -> int | None:
    patch = getattr(config, "patch_size", None)
    if patch is None:
        return None
    ph, pw = (patch, patch) if isinstance(patch, int) else tuple(patch)[-2:]
    h, w = pixel_values.shape[-2:]
    return int(h // ph) * int(w // pw)


def pool_tokens(
    hidden: Any, n_prefix: int, has_cls: bool, poolings: list[str]
) -> dict[str, np.ndarray]:
    """Pool one hidden state per image.

    Parameters
    ----------
    hidden : torch.Tensor, shape (batch, n_tokens, dim) or (batch, dim, height, width)
        Token sequences (transformers) or feature maps (CNNs, mean pooled over space).
    n_prefix : int
        Tokens before the patch tokens (CLS and registers), excluded from the mean.
    has_cls : bool
        Whether token 0 is a CLS token.
    poolings : list of {"cls", "mean"}

    Returns
    -------
    dict of str to ndarray, shape (batch, dim)
    """
    out: dict[str, np.ndarray] = {}
    if hidden.ndim == 4:
        if "cls" in poolings:
            raise ValueError("a convolutional feature map has no CLS token; use pooling=['mean']")
        out["mean"] = hidden.float().mean(dim=(2, 3)).cpu().numpy()
        return out
    if "cls" in poolings:
        if not has_cls:
            raise ValueError(
                "`pooling` asks for 'cls' but this model has no CLS token; use ['mean']"
            )
        out["cls"] = hidden[:, 0].float().cpu().numpy()
    if "mean" in poolings:
        out["mean"] = hidden[:, n_prefix:].float().mean(dim=1).cpu().numpy()
    return out


class ImageExtractorConfig(ExtractorConfig):
    """Configuration of :class:`ImageExtractor`.

    Parameters
    ----------
    model : str
        A directory written by ``save_pretrained`` holding a vision model (ViT, DINOv2,
        DINOv2 with registers, CLIP / SigLIP: their vision tower) and its image processor.
    pooling : list of {"cls", "mean"} or None
        Poolings stored per layer (part of the cache key). ``None``: CLS and patch mean when
        the model has a CLS token, the patch mean otherwise.
    **kwargs
        See :class:`~brainalign.features.ExtractorConfig`.
    """

    family: ClassVar[str] = "image"

    pooling: list[Literal["cls", "mean"]] | None = None

    @field_validator("pooling")
    @classmethod
    def _check_pooling(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or len(set(value)) != len(value)):
            raise ValueError(f"`pooling` must list distinct poolings; got {value}")
        return value


class ImageExtractor(FeatureExtractor):
    """Per-layer CLS and patch-mean features of images through a transformers vision model.

    The stimulus is an events table (``stim_file``, ``onset``, optional ``duration``), a
    list of images (paths, arrays, PIL images; ``times = 0, 1, ..., n - 1`` s) or a dict
    ``{"images": ..., "times": ..., "durations": ...}``. Each image goes through the model's
    own image processor. Layer ``layer_<i>`` is hidden state ``i`` (0 = embeddings), so a
    model with ``n`` blocks gives ``n + 1`` layers, each stored as ``layer_<i>.cls`` and
    ``layer_<i>.mean`` (or ``layer_<i>`` when a single pooling is kept).

    Parameters
    ----------
    config : ImageExtractorConfig or dict, optional
    **kwargs
        Config fields.

    Examples
    --------
    >>> ext = ImageExtractor(model="path/to/vit", cache_dir="features")  # doctest: +SKIP
    >>> fs = ext.extract(["a.png", "b.png"])  # doctest: +SKIP
    >>> fs["layer_12.cls"].shape  # doctest: +SKIP
    (2, 768)
    """

    config_class: ClassVar[type[ExtractorConfig]] = ImageExtractorConfig
    config: ImageExtractorConfig

    def _load(self) -> tuple[Any, Any, Any]:
        """(image processor, vision module, vision config), loaded once."""
        if self._loaded is None:
            processor, model = load_processor_and_model(
                self.config, "AutoImageProcessor", what="image processor"
            )
            vision_config = model.config
            if hasattr(model, "vision_model") and hasattr(model.config, "vision_config"):
                model, vision_config = model.vision_model, model.config.vision_config
            self._loaded = (processor, model, vision_config)
        return self._loaded

    def load_stimulus(self, path: Any) -> Any:
        """An events TSV (``stim_file`` relative to its folder) or one image file."""
        return read_image_stimulus(path)

    def poolings(self, vision_config: Any) -> list[str]:
        """The poolings stored for a model (the config's, or the default for that model)."""
        if self.config.pooling is not None:
            return list(self.config.pooling)
        _, has_cls = prefix_token_count(vision_config)
        return ["cls", "mean"] if has_cls else ["mean"]

    def stimulus_uid(self, stimulus: Any) -> str:
        return image_stimuli_uid("image", as_image_stimuli(stimulus))

    def compute(self, stimulus: Any) -> FeatureSet:
        """Features of every image, every layer.

        Parameters
        ----------
        stimulus : DataFrame, list or dict
            See the class docstring.

        Returns
        -------
        FeatureSet
            ``times`` = onsets (s); ``layer_<i>[.<pooling>]`` of shape ``(n_images, dim)``.
        """
        stim = as_image_stimuli(stimulus)
        torch, _ = require_transformers()
        processor, model, vision_config = self._load()
        n_prefix, has_cls = prefix_token_count(vision_config)
        poolings: list[str] = []
        chunks: dict[str, list[np.ndarray]] = {}
        for _, images in iter_image_batches(
            stim, self.config.batch_size, desc="images", verbose=self.config.verbose
        ):
            pixel_values = processor(images=images, return_tensors="pt")["pixel_values"]
            with torch.inference_mode():
                out = model(
                    pixel_values=pixel_values.to(self.config.device), output_hidden_states=True
                )
            self.n_forward_calls += 1
            n_patch = _patch_count(vision_config, pixel_values)
            if not poolings:  # feature maps (CNNs) have no CLS token: mean over space only
                conv = out.hidden_states[0].ndim == 4 and self.config.pooling is None
                poolings = ["mean"] if conv else self.poolings(vision_config)
            several = len(poolings) > 1
            for i, hidden in enumerate(out.hidden_states):
                if (
                    hidden.ndim == 3
                    and n_patch is not None
                    and hidden.shape[1] != n_prefix + n_patch
                ):
                    raise RuntimeError(
                        f"hidden state {i} has {hidden.shape[1]} tokens, but the config implies "
                        f"{n_prefix} prefix token(s) (CLS + num_register_tokens) + {n_patch} "
                        f"patches; model_type={getattr(vision_config, 'model_type', '?')!r} is "
                        "not supported by the CLS/patch pooling"
                    )
                for pooling, arr in pool_tokens(hidden, n_prefix, has_cls, poolings).items():
                    chunks.setdefault(layer_name(i, pooling, several), []).append(arr)
        return FeatureSet(stim.times, stack_layers(chunks), stim.durations)
