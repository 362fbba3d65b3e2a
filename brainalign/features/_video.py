"""Video features (VideoMAE-style clip models) on causal windows aligned to a sampling grid.

For each grid time ``t`` (every ``tr`` seconds, or at ``sfreq`` Hz, from 0 to the end of the
video), the clip is made of the frames shown in the causal window ``(t - window, t]``:
``n_frames`` of them picked uniformly with ``linspace`` over the window's frames (frames repeat
when the window holds fewer). A window that holds no frame (only possible when the frame rate
is below ``1 / window``) takes the frame on screen at ``t``. The video is decoded once,
sequentially, and only the frames that some window uses are kept in memory, until the last
window that uses them has been run. Each layer is the mean over the model's tokens.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
from pydantic import field_validator, model_validator

from brainalign._logging import progress
from brainalign.data._featureset import FeatureSet
from brainalign.features._base import FeatureExtractor, content_uid
from brainalign.features._config import ExtractorConfig
from brainalign.features._hf import (
    load_pretrained,
    require_transformers,
    stack_layers,
    to_device,
)
from brainalign.features._media import VideoInfo, decode_video_frames, file_digest, probe_video

__all__ = ["VideoExtractor", "VideoExtractorConfig", "window_frame_indices"]

_EPS = 1e-6  # seconds: tolerance on frame times at a window's edges


class VideoExtractorConfig(ExtractorConfig):
    """Configuration of :class:`VideoExtractor`.

    Parameters
    ----------
    model : str
        A directory written by ``save_pretrained`` holding a video model (VideoMAE, ...) and
        its image (or video) processor.
    sfreq : float or None
        Grid rate in Hz (default 2 Hz when ``tr`` is not given).
    tr : float or None
        Grid step in seconds (one feature per TR); exclusive with ``sfreq``.
    window : float
        Length of the causal window in seconds: frames in ``(t - window, t]``.
    n_frames : int or None
        Frames per clip; ``None`` takes the model's ``config.num_frames``.
    **kwargs
        See :class:`~brainalign.features.ExtractorConfig`.
    """

    family: ClassVar[str] = "video"

    sfreq: float | None = None
    tr: float | None = None
    window: float = 4.0
    n_frames: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _grid(cls, data: Any) -> Any:
        if isinstance(data, dict):
            sfreq, tr = data.get("sfreq"), data.get("tr")
            if sfreq is not None and tr is not None:
                raise ValueError(
                    f"give either `sfreq` or `tr`, not both; got sfreq={sfreq}, tr={tr}"
                )
            if sfreq is None and tr is None:
                data = {**data, "sfreq": 2.0}
        return data

    @field_validator("sfreq", "tr", "window")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and not (np.isfinite(value) and value > 0):
            raise ValueError(f"must be a positive number of Hz or seconds; got {value}")
        return value

    @field_validator("n_frames")
    @classmethod
    def _frames(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError(f"`n_frames` must be >= 1; got {value}")
        return value

    @property
    def step(self) -> float:
        """Seconds between grid points."""
        return float(self.tr) if self.tr is not None else 1.0 / float(self.sfreq or 2.0)


def window_frame_indices(
    frame_times: np.ndarray, t: float, window: float, n_frames: int
) -> np.ndarray:
    """Which frames make the clip of the causal window ``(t - window, t]``.

    Parameters
    ----------
    frame_times : ndarray, shape (n_video_frames,)
        Sorted frame times in seconds.
    t : float
        End of the window (the grid time), seconds.
    window : float
        Window length, seconds.
    n_frames : int
        Frames per clip.

    Returns
    -------
    ndarray of int, shape (n_frames,)
        Indices into ``frame_times``, non-decreasing: ``linspace`` over the window's frames
        (repeats when it holds fewer than ``n_frames``); the frame on screen at ``t`` when
        the window holds none.
    """
    lo = np.searchsorted(frame_times, t - window + _EPS, side="left")
    hi = np.searchsorted(frame_times, t + _EPS, side="right")
    if hi <= lo:  # no frame starts in the window: the one on screen at t (or the first)
        lo = max(hi - 1, 0)
        hi = lo + 1
    picks = np.linspace(lo, hi - 1, n_frames)
    return np.round(picks).astype(int)


class VideoExtractor(FeatureExtractor):
    """Clip features of a video file on a regular grid, one per TR or at ``sfreq`` Hz.

    The stimulus is a video file path. ``times`` are the grid times ``0, step, 2 step, ...``
    (seconds from the first frame) up to the end of the video; the feature at ``t`` sees only
    the frames of ``(t - window, t]`` (causal). Layer ``layer_<i>`` is hidden state ``i``
    (0 = embeddings) averaged over all tokens.

    Parameters
    ----------
    config : VideoExtractorConfig or dict, optional
    **kwargs
        Config fields.
    """

    config_class: ClassVar[type[ExtractorConfig]] = VideoExtractorConfig
    config: VideoExtractorConfig

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            _, transformers = require_transformers()
            try:
                processor = load_pretrained(
                    transformers.AutoImageProcessor, self.config, "processor"
                )
            except FileNotFoundError:
                raise
            except (OSError, ValueError) as err:  # e.g. V-JEPA 2 ships a video processor only
                try:
                    processor = load_pretrained(
                        transformers.AutoVideoProcessor, self.config, "video processor"
                    )
                except (OSError, ValueError, ImportError) as err2:
                    raise OSError(
                        f"no image or video processor could be loaded from "
                        f"{self.config.model!r}: {err}; {err2}"
                    ) from err2
            model = load_pretrained(transformers.AutoModel, self.config, "model")
            model.eval().to(self.config.device)
            self._loaded = (processor, model)
        return self._loaded

    def n_frames(self) -> int:
        """Frames per clip: the config's, else the model's ``num_frames``."""
        if self.config.n_frames is not None:
            return self.config.n_frames
        _, model = self._load()
        n = getattr(model.config, "num_frames", None) or getattr(
            model.config, "frames_per_clip", None
        )
        if n is None:
            raise ValueError(
                f"the model {self.config.model!r} does not say how many frames a clip has; "
                "set `n_frames`"
            )
        return int(n)

    def grid(self, info: VideoInfo) -> np.ndarray:
        """Grid times (s) for a video: ``k * step`` for every ``k * step <= duration``."""
        step = self.config.step
        n = int(np.floor(info.duration / step + 1e-9)) + 1
        return np.arange(n) * step

    def _check(self, path: Any) -> VideoInfo:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"the video stimulus must be a file path; got {type(path).__name__}")
        info = probe_video(path)
        if self.config.window > info.duration + _EPS:
            raise ValueError(
                f"`window` ({self.config.window:g} s) is longer than the video "
                f"{os.fspath(path)!r} ({info.duration:g} s); use a window of at most the "
                "video's duration"
            )
        return info

    def iter_clips(
        self, path: str | os.PathLike[str]
    ) -> Iterator[tuple[float, np.ndarray, np.ndarray]]:
        """Decode the clips fed to the model, in grid order (one decoding pass).

        Parameters
        ----------
        path : str or path-like
            The video file.

        Yields
        ------
        t : float
            Grid time (end of the window), seconds.
        frame_times : ndarray, shape (n_frames,)
            Times of the frames of the clip, seconds.
        frames : ndarray, shape (n_frames, height, width, 3), uint8
            The clip, RGB.
        """
        info = self._check(path)
        n_frames = self.n_frames()
        grid = self.grid(info)
        picks = [window_frame_indices(info.times, t, self.config.window, n_frames) for t in grid]
        last_use: dict[int, int] = {}
        for k, idx in enumerate(picks):
            for i in idx:
                last_use[int(i)] = k
        kept: dict[int, np.ndarray] = {}
        k = 0
        for index, frame in decode_video_frames(path, info, sorted(last_use)):
            kept[index] = frame
            while k < len(picks) and int(picks[k][-1]) <= index:
                lost = [int(i) for i in picks[k] if int(i) not in kept]
                if lost:
                    raise RuntimeError(
                        f"frame {lost[0]} ({info.times[lost[0]]:.3f} s) of {os.fspath(path)!r} "
                        "was listed by the container but not decoded; the file may be damaged"
                    )
                yield (
                    float(grid[k]),
                    info.times[picks[k]],
                    np.stack([kept[int(i)] for i in picks[k]]),
                )
                for i in set(picks[k].tolist()):
                    if last_use[int(i)] == k:
                        del kept[int(i)]
                k += 1

    def stimulus_uid(self, stimulus: Any) -> str:
        if not isinstance(stimulus, (str, os.PathLike)):
            raise TypeError(
                f"the video stimulus must be a file path; got {type(stimulus).__name__}"
            )
        if not os.path.isfile(stimulus):
            raise FileNotFoundError(f"video file {os.fspath(stimulus)!r} does not exist")
        return content_uid("video", file_digest(stimulus))

    def compute(self, stimulus: Any) -> FeatureSet:
        """Clip features of a video file on the grid.

        Parameters
        ----------
        stimulus : str or path-like
            A video file PyAV can decode.

        Returns
        -------
        FeatureSet
            ``times`` = grid times (s), ``durations`` = ``window``; ``layer_<i>`` of shape
            ``(n_grid, dim)``.
        """
        torch, _ = require_transformers()
        processor, model = self._load()
        device = self.config.device
        times: list[float] = []
        chunks: dict[str, list[np.ndarray]] = {}
        pending: list[np.ndarray] = []

        def run() -> None:
            inputs = processor([list(clip) for clip in pending], return_tensors="pt")
            with torch.inference_mode():
                out = model(**to_device(inputs, device), output_hidden_states=True)
            self.n_forward_calls += 1
            for i, hidden in enumerate(out.hidden_states):
                arr = hidden.float().mean(dim=1).cpu().numpy()
                chunks.setdefault(f"layer_{i}", []).append(arr)
            pending.clear()

        clips = self.iter_clips(stimulus)
        for t, _, frames in progress(clips, desc="video clips", verbose=self.config.verbose):
            times.append(t)
            pending.append(frames)
            if len(pending) == self.config.batch_size:
                run()
        if pending:
            run()
        n = len(times)
        return FeatureSet(np.asarray(times), stack_layers(chunks), np.full(n, self.config.window))
