"""Local diffusion model folders: components each kind needs, their check, the conditional layout.

The two layouts (``"unclip"`` and brainalign's ``"conditional"``) are described in
:mod:`brainalign.decoders.heads._diffusion`. Nothing here imports diffusers at module level.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brainalign._validation import check_choice

if TYPE_CHECKING:
    from brainalign.decoders.heads._diffusion_embed import PCAEmbedder

__all__ = [
    "CONDITIONAL_PIPELINE",
    "DIFFUSION_KINDS",
    "check_diffusion_dir",
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
