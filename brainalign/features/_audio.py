"""Speech / audio model features (wav2vec2, HuBERT, WavLM, Whisper encoder) at the model's rate.

The waveform is mixed to mono and resampled to the feature extractor's ``sampling_rate``.
The frame rate comes from the model: for convolutional front ends (wav2vec2 style) the hop is
the product of ``config.conv_stride`` (320 samples, i.e. 50 Hz at 16 kHz, for wav2vec2) and
the receptive field follows from ``conv_kernel``; for Whisper-style encoders it is the mel hop
times the strides of the two input convolutions.

Frame ``k`` is placed at the **centre of its receptive field**:
``t_k = (k * hop + (R - 1) / 2) / sr`` for a convolutional front end of receptive field ``R``
samples (wav2vec2: 400 samples, so ``t_k = 0.02 k + 0.0125`` s), and ``t_k = k * hop / sr``
for Whisper (its mel frames are centred on their hop).

Long audio is cut into chunks of ``chunk_length`` seconds of output frames, each run with
``context`` seconds of extra audio on both sides whose frames are discarded, so every frame
sees at least ``context`` seconds on each side (less at the ends of the recording). The
feature extractor's own normalisation (wav2vec2: zero mean, unit variance) applies per chunk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from pydantic import field_validator

from brainalign._logging import progress
from brainalign.data._featureset import FeatureSet
from brainalign.features._base import FeatureExtractor, content_uid
from brainalign.features._config import ExtractorConfig
from brainalign.features._hf import (
    load_processor_and_model,
    require_transformers,
    stack_layers,
    to_device,
)
from brainalign.features._media import audio_uid_parts, load_waveform

__all__ = ["AudioExtractor", "AudioExtractorConfig", "conv_frame_geometry"]


def conv_frame_geometry(kernels: Any, strides: Any) -> tuple[int, int]:
    """Hop and receptive field (samples) of a stack of unpadded 1-D convolutions.

    Parameters
    ----------
    kernels, strides : sequence of int
        Per layer (wav2vec2: ``config.conv_kernel``, ``config.conv_stride``).

    Returns
    -------
    hop : int
        Product of the strides.
    receptive_field : int
        Samples seen by one output frame: ``1 + sum((k_i - 1) * prod(strides before i))``.
    """
    kernels, strides = list(kernels), list(strides)
    if len(kernels) != len(strides) or not kernels:
        raise ValueError(
            f"`conv_kernel` and `conv_stride` must have the same non-zero length; got "
            f"{kernels} and {strides}"
        )
    hop, field = 1, 1
    for k, s in zip(kernels, strides):
        field += (k - 1) * hop
        hop *= s
    return hop, field


@dataclass
class _Frames:
    """How a model turns samples into frames."""

    kind: str  # "conv" or "whisper"
    hop: int
    field: int  # samples needed for the first frame
    offset: float  # samples from k * hop to the frame's time
    kernels: tuple[int, ...] = ()
    strides: tuple[int, ...] = ()
    mel_hop: int = 0
    max_samples: int | None = None

    def count(self, n_samples: int) -> int:
        """Frames produced from ``n_samples`` samples."""
        if self.kind == "whisper":
            return math.ceil((n_samples // self.mel_hop) / (self.hop // self.mel_hop))
        n = n_samples
        for k, s in zip(self.kernels, self.strides):
            n = (n - k) // s + 1 if n >= k else 0
        return int(n)

    def samples_for(self, first: int, stop: int, n_total: int) -> tuple[int, int]:
        """Sample span whose frames include ``first .. stop - 1``."""
        a = first * self.hop
        b = (stop - 1) * self.hop + self.field if self.kind == "conv" else stop * self.hop
        return a, min(b, n_total)


class AudioExtractorConfig(ExtractorConfig):
    """Configuration of :class:`AudioExtractor`.

    Parameters
    ----------
    model : str
        A directory written by ``save_pretrained`` holding an audio model (wav2vec2, HuBERT,
        WavLM, Whisper) and its feature extractor.
    resample : bool
        Resample audio at another rate to the feature extractor's ``sampling_rate``; when
        False such audio is refused.
    chunk_length : float
        Seconds of output frames per forward pass.
    context : float
        Seconds of audio added on each side of a chunk (their frames are discarded).
    **kwargs
        See :class:`~brainalign.features.ExtractorConfig`.
    """

    family: ClassVar[str] = "audio"

    resample: bool = True
    chunk_length: float = 20.0
    context: float = 2.5

    @field_validator("chunk_length")
    @classmethod
    def _positive(cls, value: float) -> float:
        if not value > 0:
            raise ValueError(f"`chunk_length` must be > 0 s; got {value}")
        return value

    @field_validator("context")
    @classmethod
    def _non_negative(cls, value: float) -> float:
        if not value >= 0:
            raise ValueError(f"`context` must be >= 0 s; got {value}")
        return value


class AudioExtractor(FeatureExtractor):
    """Hidden states of an audio model, one row per model frame, every layer.

    The stimulus is an audio (or video) file, a ``(waveform, sfreq)`` pair or a dict
    ``{"waveform": ..., "sfreq": ...}``; several channels are averaged. Layer ``layer_<i>`` is
    hidden state ``i`` (0 = input of the first transformer layer), so a model with ``n``
    layers gives ``n + 1``. See the module docstring for frame times and chunking; each chunk
    is one forward pass (``batch_size`` is not used).

    Parameters
    ----------
    config : AudioExtractorConfig or dict, optional
    **kwargs
        Config fields.
    """

    config_class: ClassVar[type[ExtractorConfig]] = AudioExtractorConfig
    config: AudioExtractorConfig

    def _load(self) -> tuple[Any, Any, _Frames]:
        if self._loaded is None:
            fe, model = load_processor_and_model(
                self.config, "AutoFeatureExtractor", what="feature extractor"
            )
            cfg = model.config
            if getattr(cfg, "is_encoder_decoder", False) and hasattr(model, "get_encoder"):
                model = model.get_encoder()
            if cfg.model_type == "whisper":
                strides = model.conv1.stride[0] * model.conv2.stride[0]
                mel_hop = int(fe.hop_length)
                frames = _Frames(
                    "whisper",
                    mel_hop * strides,
                    mel_hop * strides,
                    0.0,
                    mel_hop=mel_hop,
                    max_samples=int(fe.n_samples),
                )
            elif hasattr(cfg, "conv_stride") and hasattr(cfg, "conv_kernel"):
                if getattr(cfg, "add_adapter", False):
                    raise ValueError(
                        f"{self.config.model!r} has an adapter that changes the frame rate; "
                        "it is not supported"
                    )
                hop, field = conv_frame_geometry(cfg.conv_kernel, cfg.conv_stride)
                frames = _Frames(
                    "conv",
                    hop,
                    field,
                    (field - 1) / 2,
                    tuple(cfg.conv_kernel),
                    tuple(cfg.conv_stride),
                )
            else:
                raise TypeError(
                    f"{type(model).__name__} ({cfg.model_type!r}) has neither a convolutional "
                    "front end (conv_stride / conv_kernel) nor a Whisper encoder"
                )
            self._loaded = (fe, model, frames)
        return self._loaded

    @property
    def sampling_rate(self) -> float:
        """The rate (Hz) the model takes (its feature extractor's ``sampling_rate``)."""
        return float(self._load()[0].sampling_rate)

    @property
    def frame_rate(self) -> float:
        """Model frames per second: ``sampling_rate / hop``."""
        return self.sampling_rate / self._load()[2].hop

    def frame_times(self, n_samples: int) -> np.ndarray:
        """Times (s) of the frames of ``n_samples`` samples at :attr:`sampling_rate`."""
        frames = self._load()[2]
        k = np.arange(frames.count(n_samples))
        return (k * frames.hop + frames.offset) / self.sampling_rate

    def stimulus_uid(self, stimulus: Any) -> str:
        return content_uid("audio", *audio_uid_parts(stimulus))

    def waveform(self, stimulus: Any) -> np.ndarray:
        """The mono waveform at the model's rate, shape ``(n_samples,)``."""
        return load_waveform(
            stimulus,
            self.sampling_rate,
            resample=self.config.resample,
            what="the model's feature extractor",
        )

    def compute(self, stimulus: Any) -> FeatureSet:
        """Per-frame hidden states of every layer.

        Returns
        -------
        FeatureSet
            ``times`` = frame times (s, see the module docstring); ``layer_<i>`` of shape
            ``(n_frames, dim)``.
        """
        torch, _ = require_transformers()
        fe, model, frames = self._load()
        sr = self.sampling_rate
        x = self.waveform(stimulus)
        n_total = frames.count(x.shape[0])
        if n_total == 0:
            raise ValueError(
                f"the audio is too short for one model frame: {x.shape[0]} samples at {sr:g} "
                f"Hz, the model needs at least {frames.field}"
            )
        core = max(1, round(self.config.chunk_length * sr / frames.hop))
        ctx = round(self.config.context * sr / frames.hop)
        if frames.max_samples is not None and (core + 2 * ctx) * frames.hop > frames.max_samples:
            raise ValueError(
                f"`chunk_length` + 2 * `context` = "
                f"{self.config.chunk_length + 2 * self.config.context:g} s exceeds the "
                f"{frames.max_samples / sr:g} s that this Whisper encoder takes at once"
            )
        plan = []
        for start in range(0, n_total, core):
            stop = min(start + core, n_total)
            first, last = max(0, start - ctx), min(n_total, stop + ctx)
            a, b = frames.samples_for(first, last, x.shape[0])
            plan.append((start, stop, first, a, b))
        chunks: dict[str, list[np.ndarray]] = {}
        for start, stop, first, a, b in progress(
            plan, desc="audio chunks", total=len(plan), verbose=self.config.verbose
        ):
            inputs = fe(x[a:b], sampling_rate=int(sr), return_tensors="pt")
            with torch.inference_mode():
                out = model(**to_device(inputs, self.config.device), output_hidden_states=True)
            self.n_forward_calls += 1
            lo, hi = start - first, stop - first
            for i, hidden in enumerate(out.hidden_states):
                if hidden.shape[1] < hi:
                    raise RuntimeError(
                        f"the model returned {hidden.shape[1]} frames for {b - a} samples, "
                        f"expected at least {hi}; its frame geometry is not the one assumed"
                    )
                arr = hidden[0, lo:hi].float().cpu().numpy()
                chunks.setdefault(f"layer_{i}", []).append(arr)
        times = (np.arange(n_total) * frames.hop + frames.offset) / sr
        return FeatureSet(times, stack_layers(chunks))
