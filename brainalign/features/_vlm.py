"""Vision-language features: CLIP-style joint embeddings, and LLaVA-style VLM hidden states.

``CLIPExtractor`` returns, for images with optional captions, the projected (L2-normalised)
image and text embeddings and the pooled hidden states of both towers. ``VLMExtractor`` runs
a vision-language model on (image, instruction) pairs and pools each language-model layer
separately over the image tokens and over the text tokens, plus the vision tower's layers, so
that instruction-conditioned representations can be compared layer by layer.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator

from brainalign.data._featureset import FeatureSet
from brainalign.features._base import FeatureExtractor
from brainalign.features._config import ExtractorConfig
from brainalign.features._hf import (
    iter_image_batches,
    layer_name,
    load_processor_and_model,
    require_transformers,
    stack_layers,
    to_device,
)
from brainalign.features._media import as_image_stimuli, image_stimuli_uid, read_image_stimulus
from brainalign.features._vision import pool_tokens, prefix_token_count

__all__ = ["CLIPExtractor", "CLIPExtractorConfig", "VLMExtractor", "VLMExtractorConfig"]


def _masked_mean(hidden: Any, mask: Any) -> np.ndarray:
    """Mean of ``hidden`` (batch, seq, dim) over the positions where ``mask`` (batch, seq)."""
    m = mask.to(hidden.dtype).unsqueeze(-1)
    count = m.sum(dim=1)
    if bool((count == 0).any()):
        raise ValueError("a pooling mask selects no token for some item")
    return ((hidden * m).sum(dim=1) / count).float().cpu().numpy()


def _last_token(hidden: Any, attention_mask: Any) -> np.ndarray:
    """The hidden state of the last attended token of each row (any padding side)."""
    import torch

    positions = torch.arange(attention_mask.shape[1]).expand_as(attention_mask)
    last = (positions * attention_mask.long()).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0]), last].float().cpu().numpy()


class CLIPExtractorConfig(ExtractorConfig):
    """Configuration of :class:`CLIPExtractor`.

    Parameters
    ----------
    model : str
        A directory written by ``save_pretrained`` holding a CLIP-style dual encoder
        (``CLIPModel`` or alike with ``get_image_features`` / ``get_text_features``) and its
        processor (image processor + tokenizer).
    **kwargs
        See :class:`~brainalign.features.ExtractorConfig`.
    """

    family: ClassVar[str] = "clip"


class CLIPExtractor(FeatureExtractor):
    """Joint image / text embeddings and per-layer hidden states of a CLIP-style model.

    The stimulus is a list of images or of ``(image, caption)`` pairs, an events table
    (``stim_file``, ``onset``, optional ``text`` captions) or a dict with ``images`` and
    optional ``texts``, ``times``, ``durations``. Layers (one row per image):

    - ``image_embeds`` / ``text_embeds``: the projected embeddings, L2-normalised (their dot
      product is CLIP's cosine similarity);
    - ``layer_<i>.image_cls`` and ``layer_<i>.image_mean``: hidden state ``i`` of the vision
      tower, CLS token and mean over the patch tokens;
    - ``layer_<i>.text_last`` and ``layer_<i>.text_mean``: hidden state ``i`` of the text
      tower, at the last token (CLIP's end-of-text token) and averaged over the caption's
      tokens (padding excluded); only when captions are given.

    A layer index selects that depth in both towers; a tower with fewer layers than the other
    simply lacks the deeper names.
    """

    config_class: ClassVar[type[ExtractorConfig]] = CLIPExtractorConfig

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            processor, model = load_processor_and_model(self.config, "AutoProcessor")
            for method in ("get_image_features", "get_text_features"):
                if not hasattr(model, method):
                    raise TypeError(
                        f"`model` {self.config.model!r} loads as {type(model).__name__}, which "
                        f"has no {method}(); CLIPExtractor needs a CLIP-style dual encoder"
                    )
            self._loaded = (processor, model)
        return self._loaded

    def load_stimulus(self, path: Any) -> Any:
        """An events TSV (``stim_file``, optional ``text`` captions) or one image file."""
        return read_image_stimulus(path)

    def stimulus_uid(self, stimulus: Any) -> str:
        return image_stimuli_uid("clip", as_image_stimuli(stimulus, text="optional"))

    def compute(self, stimulus: Any) -> FeatureSet:
        """Embeddings and per-layer features of every image (and caption).

        Returns
        -------
        FeatureSet
            ``times`` = onsets (s); ``image_embeds`` ``(n_images, projection_dim)``,
            ``layer_<i>.image_cls`` ... ``(n_images, dim)``; text layers when captions exist.
        """
        stim = as_image_stimuli(stimulus, text="optional")
        torch, _ = require_transformers()
        processor, model = self._load()
        device = self.config.device
        vision_config = model.config.vision_config
        n_prefix, has_cls = prefix_token_count(vision_config)
        poolings = ["cls", "mean"] if has_cls else ["mean"]
        chunks: dict[str, list[np.ndarray]] = {}

        def add(name: str, arr: np.ndarray) -> None:
            chunks.setdefault(name, []).append(arr)

        for batch, images in iter_image_batches(
            stim, self.config.batch_size, desc="clip", verbose=self.config.verbose
        ):
            pixel_values = processor(images=images, return_tensors="pt")["pixel_values"]
            with torch.inference_mode():
                vis = model.get_image_features(
                    pixel_values=pixel_values.to(device), output_hidden_states=True
                )
            self.n_forward_calls += 1
            add("image_embeds", _normalise(vis.pooler_output))
            for i, hidden in enumerate(vis.hidden_states):
                for pooling, arr in pool_tokens(hidden, n_prefix, has_cls, poolings).items():
                    add(f"layer_{i}.image_{pooling}", arr)
            if stim.texts is None:
                continue
            tokens = processor.tokenizer(
                [stim.texts[i] for i in batch], padding=True, truncation=True, return_tensors="pt"
            )
            mask = tokens["attention_mask"]
            with torch.inference_mode():
                txt = model.get_text_features(
                    input_ids=tokens["input_ids"].to(device),
                    attention_mask=mask.to(device),
                    output_hidden_states=True,
                )
            self.n_forward_calls += 1
            add("text_embeds", _normalise(txt.pooler_output))
            for i, hidden in enumerate(txt.hidden_states):
                hidden = hidden.cpu()
                add(f"layer_{i}.text_last", _last_token(hidden, mask))
                add(f"layer_{i}.text_mean", _masked_mean(hidden, mask.bool()))
        return FeatureSet(stim.times, stack_layers(chunks), stim.durations)


def _normalise(emb: Any) -> np.ndarray:
    arr = emb.float().cpu().numpy()
    return arr / np.linalg.norm(arr, axis=1, keepdims=True)


class VLMExtractorConfig(ExtractorConfig):
    """Configuration of :class:`VLMExtractor`.

    Parameters
    ----------
    model : str
        A directory written by ``save_pretrained`` holding a LLaVA-style model (loadable with
        ``AutoModelForImageTextToText``) and its processor.
    template : str
        The prompt; ``{image}`` is replaced by the processor's image token and
        ``{instruction}`` by the instruction (part of the cache key).
    pooling : list of {"text", "image", "last"}
        Poolings of each language-model layer: mean over the text tokens (every attended
        token that is not an image token), mean over the image tokens, and the last token.
    **kwargs
        See :class:`~brainalign.features.ExtractorConfig`.
    """

    family: ClassVar[str] = "vlm"

    template: str = "{image}\n{instruction}"
    pooling: list[Literal["text", "image", "last"]] = Field(
        default_factory=lambda: ["text", "image", "last"]
    )

    @field_validator("template")
    @classmethod
    def _check_template(cls, value: str) -> str:
        for key in ("{image}", "{instruction}"):
            if key not in value:
                raise ValueError(f"`template` must contain {key}; got {value!r}")
        return value

    @field_validator("pooling")
    @classmethod
    def _check_pooling(cls, value: list[str]) -> list[str]:
        if not value or len(set(value)) != len(value):
            raise ValueError(f"`pooling` must list distinct poolings; got {value}")
        return value


class VLMExtractor(FeatureExtractor):
    """Layer-wise hidden states of a vision-language model for (image, instruction) pairs.

    The stimulus is a list of ``(image, instruction)`` pairs, an events table with
    ``stim_file``, ``onset`` and ``text`` (the instruction), or a dict with ``images``,
    ``texts`` and optional ``times`` / ``durations``. Layers (one row per pair):

    - ``layer_<i>.text``, ``layer_<i>.image``, ``layer_<i>.last``: hidden state ``i`` of the
      language model (0 = input embeddings, image features already merged in) averaged over
      the text tokens, over the image tokens, and at the last token;
    - ``vision.layer_<j>.cls`` and ``vision.layer_<j>.mean``: the vision tower's hidden state
      ``j`` (CLS and patch mean; no CLS → ``vision.layer_<j>`` mean only). They do not depend
      on the instruction; select them by name.

    In a causal language model the image tokens of the default template come before the
    instruction, so ``layer_<i>.image`` does not depend on the instruction either; put
    ``{instruction}`` first in ``template`` to condition them.
    """

    config_class: ClassVar[type[ExtractorConfig]] = VLMExtractorConfig
    config: VLMExtractorConfig

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            processor, model = load_processor_and_model(
                self.config, "AutoProcessor", "AutoModelForImageTextToText"
            )
            if getattr(processor, "image_token", None) is None:
                raise TypeError(
                    f"the processor of {self.config.model!r} ({type(processor).__name__}) has "
                    "no `image_token`; VLMExtractor needs a LLaVA-style processor"
                )
            processor.tokenizer.padding_side = "right"  # positions must not depend on batching
            self._loaded = (processor, model)
        return self._loaded

    def load_stimulus(self, path: Any) -> Any:
        """An events TSV with ``stim_file``, ``onset`` and ``text`` (the instructions)."""
        return read_image_stimulus(path)

    def stimulus_uid(self, stimulus: Any) -> str:
        return image_stimuli_uid("vlm", as_image_stimuli(stimulus, text="required"))

    def prompts(self, instructions: list[str]) -> list[str]:
        """The prompts fed to the model for some instructions (the template filled in)."""
        processor, _ = self._load()
        return [
            self.config.template.replace("{image}", processor.image_token).replace(
                "{instruction}", text
            )
            for text in instructions
        ]

    def compute(self, stimulus: Any) -> FeatureSet:
        """Per-layer pooled features of every (image, instruction) pair.

        Returns
        -------
        FeatureSet
            ``times`` = onsets (s); ``layer_<i>.<pooling>`` and ``vision.layer_<j>.<pooling>``
            of shape ``(n_pairs, dim)``.
        """
        stim = as_image_stimuli(stimulus, text="required")
        texts = list(stim.texts or [])  # text="required": one instruction per image
        torch, _ = require_transformers()
        processor, model = self._load()
        device = self.config.device
        image_token_id = getattr(model.config, "image_token_id", None)
        if image_token_id is None:
            image_token_id = model.config.image_token_index
        vision_config = model.config.vision_config
        n_prefix, has_cls = prefix_token_count(vision_config)
        vis_pool = ["cls", "mean"] if has_cls else ["mean"]
        poolings = list(self.config.pooling)
        several = len(poolings) > 1
        chunks: dict[str, list[np.ndarray]] = {}
        for batch, images in iter_image_batches(
            stim, self.config.batch_size, desc="vlm", verbose=self.config.verbose
        ):
            prompts = self.prompts([texts[i] for i in batch])
            inputs = processor(images=images, text=prompts, padding=True, return_tensors="pt")
            with torch.inference_mode():
                out = model(**to_device(inputs, device), output_hidden_states=True)
            self.n_forward_calls += 1
            vision_hidden = getattr(getattr(out, "image_outputs", None), "hidden_states", None)
            if vision_hidden is None:
                raise TypeError(
                    f"{type(model).__name__} does not return the vision tower's hidden states "
                    "(`image_outputs.hidden_states`); VLMExtractor supports LLaVA-style models"
                )
            ids = inputs["input_ids"]
            attn = inputs["attention_mask"].bool()
            is_image = ids == image_token_id
            if not bool(is_image.any(dim=1).all()):
                raise ValueError(
                    "some prompts hold no image token after processing; check `template`"
                )
            masks = {"text": attn & ~is_image, "image": is_image}
            for i, hidden in enumerate(out.hidden_states):
                hidden = hidden.cpu()
                for pooling in poolings:
                    if pooling == "last":
                        arr = _last_token(hidden, attn)
                    else:
                        arr = _masked_mean(hidden, masks[pooling])
                    chunks.setdefault(layer_name(i, pooling, several), []).append(arr)
            for j, hidden in enumerate(vision_hidden):
                for pooling, arr in pool_tokens(hidden, n_prefix, has_cls, vis_pool).items():
                    name = layer_name(j, pooling, len(vis_pool) > 1, prefix="vision.")
                    chunks.setdefault(name, []).append(arr)
        return FeatureSet(stim.times, stack_layers(chunks), stim.durations)
