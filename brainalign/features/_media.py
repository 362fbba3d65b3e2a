"""Decoding shared by the vision, video and audio extractors: images, video frames, audio.

Images come from paths, arrays or PIL images; video frames are decoded with PyAV in one
sequential pass (only the frames that a window needs are kept); audio is decoded with PyAV (or
taken as an array with its rate), mixed to mono and resampled with
:func:`scipy.signal.resample_poly`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "AudioSignal",
    "ImageStimuli",
    "VideoInfo",
    "as_image_stimuli",
    "audio_uid_parts",
    "decode_video_frames",
    "file_digest",
    "image_stimuli_uid",
    "image_uid_parts",
    "load_audio",
    "load_image",
    "load_waveform",
    "probe_video",
    "read_events_tsv",
    "read_image_stimulus",
    "resample_audio",
]

_IMAGE_HINT = "an image path, an (H, W[, 3|4]) array or a PIL image"


def _require(module: str, extra: str = "features") -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"this feature needs the optional package {module!r}; install it with "
            f"`pip install 'brainalign[{extra}]'`"
        ) from err


def file_digest(path: str | os.PathLike[str], *, chunk: int = 1 << 22) -> str:
    """sha256 hex digest of a file's content (read in 4 MiB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def read_events_tsv(path: str | os.PathLike[str]) -> Any:
    """Read an events TSV (BIDS ``events.tsv`` style) without turning words into NaN.

    ``"n/a"`` and empty cells of ``onset`` / ``duration`` become NaN; every other column is
    kept as strings (so the words ``"NA"`` or ``"null"`` survive).

    Parameters
    ----------
    path : str or path-like
        A tab-separated file with a header row.

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"events file {str(path)!r} does not exist")
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    for col in ("onset", "duration"):
        if col in df.columns:
            df[col] = pd.to_numeric(df[col].replace({"n/a": None, "": None}), errors="coerce")
    return df


# --------------------------------------------------------------------------------------------
# images


@dataclass
class ImageStimuli:
    """A normalised list of images (not decoded yet) with their times.

    Attributes
    ----------
    images : list
        Paths, arrays or PIL images, as given.
    times : ndarray, shape (n_images,)
        Onsets in seconds.
    durations : ndarray, shape (n_images,) or None
        Durations in seconds.
    texts : list of str or None
        One text per image (captions, instructions) when the extractor takes them.
    labels : list of str
        How each image is named in error messages (the file name or ``images[i]``).
    """

    images: list[Any]
    times: np.ndarray
    durations: np.ndarray | None
    texts: list[str] | None
    labels: list[str]

    def __len__(self) -> int:
        return len(self.images)


def _is_image_like(item: Any) -> bool:
    if isinstance(item, (str, os.PathLike, np.ndarray)):
        return True
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover
        return False
    return isinstance(item, Image.Image)


def _label(item: Any, i: int) -> str:
    if isinstance(item, (str, os.PathLike)):
        return repr(os.fspath(item))
    return f"images[{i}]"


def as_image_stimuli(stimulus: Any, *, text: str = "never") -> ImageStimuli:
    """Normalise the stimulus forms that image extractors take.

    Parameters
    ----------
    stimulus : DataFrame, list or dict
        - an events table with ``stim_file`` (paths, absolute or relative to the current
          directory: prefix BIDS ``stimuli/`` paths yourself) and ``onset`` (s), optional
          ``duration`` and, for extractors that take text, ``text``;
        - a list of images (paths, arrays, PIL images), shown at ``times = 0, 1, ..., n - 1``
          s, or of ``(image, text)`` pairs for extractors that take text;
        - a dict with ``images`` and optional ``times``, ``durations`` and ``texts``.
    text : {"never", "optional", "required"}
        Whether the extractor takes one text per image.

    Returns
    -------
    ImageStimuli
    """
    import pandas as pd

    texts: list[str] | None = None
    durations = None
    if isinstance(stimulus, pd.DataFrame):
        missing = [c for c in ("stim_file", "onset") if c not in stimulus.columns]
        if missing:
            raise ValueError(
                f"an image events table must have columns 'stim_file' and 'onset'; missing "
                f"{missing} (got columns {list(stimulus.columns)})"
            )
        images = [str(p) for p in stimulus["stim_file"]]
        times = stimulus["onset"].to_numpy(dtype=float)
        if "duration" in stimulus.columns:
            durations = stimulus["duration"].to_numpy(dtype=float)
        if text != "never" and "text" in stimulus.columns:
            texts = [str(t) for t in stimulus["text"]]
    elif isinstance(stimulus, dict):
        unknown = sorted(set(stimulus) - {"images", "times", "durations", "texts"})
        if unknown or "images" not in stimulus:
            raise ValueError(
                "an image stimulus dict must have the key 'images' and optionally 'times', "
                f"'durations', 'texts'; got keys {sorted(stimulus)}"
            )
        images = list(stimulus["images"])
        n = len(images)
        times = np.asarray(stimulus.get("times", np.arange(n)), dtype=float)
        if stimulus.get("durations") is not None:
            durations = np.asarray(stimulus["durations"], dtype=float)
        if stimulus.get("texts") is not None:
            if text == "never":
                raise ValueError("this extractor takes images only; remove the 'texts' key")
            texts = [str(t) for t in stimulus["texts"]]
    elif isinstance(stimulus, (list, tuple)):
        items = list(stimulus)
        pairs = [
            isinstance(it, (tuple, list)) and len(it) == 2 and isinstance(it[1], str)
            for it in items
        ]
        if text != "never" and items and all(pairs):
            images = [it[0] for it in items]
            texts = [it[1] for it in items]
        else:
            bad = [i for i, it in enumerate(items) if not _is_image_like(it)]
            if bad:
                i = bad[0]
                pair_hint = " or (image, text) pairs" if text != "never" else ""
                raise TypeError(
                    f"`stimulus` must be a list of images{pair_hint} ({_IMAGE_HINT}); item "
                    f"{i} is a {type(items[i]).__name__}"
                )
            images = items
        times = np.arange(len(images), dtype=float)
    elif _is_image_like(stimulus):
        raise TypeError(
            "`stimulus` must be a list of images, an events table or a dict, not a single "
            f"image; got a {type(stimulus).__name__}. Wrap it in a list: [image]"
        )
    else:
        raise TypeError(
            "`stimulus` must be an events table (stim_file, onset), a list of images or a "
            f"dict with 'images'; got {type(stimulus).__name__}"
        )
    n = len(images)
    if n == 0:
        raise ValueError("`stimulus` holds no image")
    if times.shape != (n,):
        raise ValueError(f"`times` must have one entry per image ({n}); got shape {times.shape}")
    from brainalign.features._base import check_onsets

    check_onsets(times, "image", lambda i: _label(images[i], i))
    if durations is not None and durations.shape != (n,):
        raise ValueError(
            f"`durations` must have one entry per image ({n}); got shape {durations.shape}"
        )
    if texts is not None and len(texts) != n:
        raise ValueError(f"`texts` must have one entry per image ({n}); got {len(texts)}")
    if text == "required" and texts is None:
        raise ValueError(
            "this extractor needs one text per image: pass (image, text) pairs, a 'texts' "
            "key, or a 'text' column in the events table"
        )
    labels = [_label(im, i) for i, im in enumerate(images)]
    return ImageStimuli(images, times, durations, texts, labels)


def _array_to_pil(arr: np.ndarray, label: str) -> Any:
    from PIL import Image

    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] in (3, 4))):
        raise ValueError(
            f"image {label} must have shape (H, W), (H, W, 3) or (H, W, 4); got {a.shape}"
        )
    if a.dtype == np.uint8:
        pass
    elif np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)) or a.min() < 0 or a.max() > 1:
            raise ValueError(
                f"image {label} is a float array, so its values must lie in [0, 1]; got range "
                f"[{np.nanmin(a):g}, {np.nanmax(a):g}]. Pass uint8 values 0..255 instead."
            )
        a = np.round(a * 255).astype(np.uint8)
    else:
        raise ValueError(
            f"image {label} must be uint8 (0..255) or float in [0, 1]; got dtype {a.dtype}"
        )
    img = Image.fromarray(np.ascontiguousarray(a))
    return img.convert("RGB")


def load_image(item: Any, label: str | None = None) -> Any:
    """Decode one image to an RGB PIL image.

    Parameters
    ----------
    item : str, path-like, ndarray or PIL.Image.Image
        A file, an ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` array (uint8, or float in [0, 1];
        alpha is dropped), or a PIL image.
    label : str, optional
        How the image is named in error messages.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file cannot be decoded as an image, or the array has the wrong shape or dtype.
    """
    _require("PIL")
    from PIL import Image, UnidentifiedImageError

    label = label or _label(item, 0)
    if isinstance(item, (str, os.PathLike)):
        path = Path(item).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"image file {os.fspath(item)!r} does not exist")
        try:
            with Image.open(path) as img:
                img.load()
                return img.convert("RGB")
        except (UnidentifiedImageError, OSError, ValueError) as err:
            raise ValueError(f"could not decode image file {os.fspath(item)!r}: {err}") from err
    if isinstance(item, np.ndarray):
        return _array_to_pil(item, label)
    if isinstance(item, Image.Image):
        return item.convert("RGB")
    raise TypeError(f"image {label} must be {_IMAGE_HINT}; got {type(item).__name__}")


def read_image_stimulus(path: str | os.PathLike[str]) -> Any:
    """One stimulus file of ``brainalign extract`` for the image families.

    Parameters
    ----------
    path : str or path-like
        An events TSV (``stim_file``, ``onset``, optional ``duration`` and ``text``) whose
        relative ``stim_file`` paths are relative to the TSV's folder, or a single image file
        (shown at 0 s).

    Returns
    -------
    pandas.DataFrame or list of str
        What :func:`as_image_stimuli` takes.
    """
    p = Path(path)
    if p.suffix.lower() != ".tsv":
        return [str(p)]
    df = read_events_tsv(p)
    if "stim_file" in df.columns:
        df["stim_file"] = [
            f if Path(f).expanduser().is_absolute() else str(p.parent / f) for f in df["stim_file"]
        ]
    return df


def image_stimuli_uid(tag: str, stim: ImageStimuli) -> str:
    """Content hash of images (file bytes or pixels), their times, durations and texts."""
    from brainalign.features._base import content_uid

    parts = [image_uid_parts(im) for im in stim.images]
    return content_uid(tag, stim.times, stim.durations, stim.texts, *parts)


def image_uid_parts(item: Any) -> Any:
    """What identifies an image's content: the file bytes' digest, or the pixels."""
    if isinstance(item, (str, os.PathLike)):
        path = Path(item).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"image file {os.fspath(item)!r} does not exist")
        return file_digest(path)
    if isinstance(item, np.ndarray):
        return item
    return np.asarray(item.convert("RGB"))


# --------------------------------------------------------------------------------------------
# video


@dataclass
class VideoInfo:
    """What one pass over a video file's packets tells (no decoding).

    Attributes
    ----------
    path : str
        The file.
    times : ndarray, shape (n_frames,)
        Presentation time of each frame in seconds, from the start of the stream, sorted.
    duration : float
        Seconds from the first frame to the end of the last (``times[-1]`` plus one frame).
    fps : float
        Average frame rate.
    width, height : int
        Frame size in pixels.
    """

    path: str
    times: np.ndarray
    duration: float
    fps: float
    width: int
    height: int


def _open_container(path: str | os.PathLike[str], kind: str) -> Any:
    """Open a media file with PyAV; ``kind`` ("video" or "audio") names it in errors."""
    av = _require("av")
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"{kind} file {os.fspath(path)!r} does not exist")
    try:
        return av.open(str(p))
    except av.error.FFmpegError as err:
        raise ValueError(f"could not open {kind} file {os.fspath(path)!r}: {err}") from err


def _open_video(path: str | os.PathLike[str]) -> tuple[Any, Any]:
    container = _open_container(path, "video")
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        container.close()
        raise ValueError(
            f"video file {os.fspath(path)!r} has no video stream (streams: {kinds}). Is it an "
            "audio file? Use the audio extractor for sound."
        )
    return container, container.streams.video[0]


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Frame times of a video file, read from its packets (fast: nothing is decoded).

    Parameters
    ----------
    path : str or path-like
        A video file that PyAV (FFmpeg) can read.

    Returns
    -------
    VideoInfo

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file cannot be read or has no video stream or no frame.
    """
    av = _require("av")
    container, stream = _open_video(path)
    try:
        base = float(stream.time_base)
        start = stream.start_time or 0
        pts = []
        try:
            for packet in container.demux(stream):
                if packet.size == 0 or packet.is_discard:
                    continue
                if packet.pts is None:
                    pts = None
                    break
                pts.append(packet.pts)
        except av.error.FFmpegError as err:
            raise ValueError(f"could not read video file {os.fspath(path)!r}: {err}") from err
        if pts is None:  # no timestamps in the container: decode once to read them
            container.seek(0)
            pts = [f.pts for f in container.decode(stream)]
            if any(p is None for p in pts):
                rate = float(stream.average_rate or stream.guessed_rate or 0)
                if rate <= 0:
                    raise ValueError(
                        f"video file {os.fspath(path)!r} has neither timestamps nor a frame rate"
                    )
                pts = [round(i / rate / base) + start for i in range(len(pts))]
        if not pts:
            raise ValueError(f"video file {os.fspath(path)!r} has no video frame")
        times = (np.sort(np.asarray(pts, dtype=np.int64)) - start) * base
        rate = stream.average_rate or stream.guessed_rate
        if rate:
            fps = float(rate)
        elif len(times) > 1:
            fps = float((len(times) - 1) / (times[-1] - times[0]))
        else:
            fps = 1.0
        duration = float(times[-1] + 1.0 / fps)
        return VideoInfo(str(path), times, duration, fps, int(stream.width), int(stream.height))
    finally:
        container.close()


def decode_video_frames(
    path: str | os.PathLike[str], info: VideoInfo, wanted: Sequence[int]
) -> Iterator[tuple[int, np.ndarray]]:
    """Decode a video once, sequentially, yielding only the frames whose index is wanted.

    Parameters
    ----------
    path : str or path-like
        The video file.
    info : VideoInfo
        Its :func:`probe_video` result; frame ``i`` is the one shown at ``info.times[i]``.
    wanted : sequence of int
        Frame indices to return.

    Yields
    ------
    index : int
        The frame index, increasing.
    frame : ndarray, shape (height, width, 3), uint8
        The frame in RGB.

    Raises
    ------
    RuntimeError
        A wanted frame was never decoded (the decoder's timestamps disagree with the
        container's).
    """
    av = _require("av")
    todo = np.unique(np.asarray(wanted, dtype=int))
    if todo.size == 0:
        return
    last = int(todo[-1])
    wanted_set = set(todo.tolist())
    found: set[int] = set()
    container, stream = _open_video(path)
    base = float(stream.time_base)
    start = stream.start_time or 0
    half = 0.5 / info.fps
    try:
        for count, frame in enumerate(container.decode(stream)):
            if frame.pts is None:
                index = count
            else:
                t = (frame.pts - start) * base
                index = int(np.clip(np.searchsorted(info.times, t), 0, len(info.times) - 1))
                if index > 0 and abs(info.times[index - 1] - t) < abs(info.times[index] - t):
                    index -= 1
                if abs(info.times[index] - t) > half:
                    continue  # a frame the container did not list (dropped at demux)
            if index in wanted_set and index not in found:
                found.add(index)
                yield index, frame.to_ndarray(format="rgb24")
            if index >= last and len(found) == len(wanted_set):
                break
    except av.error.FFmpegError as err:
        raise ValueError(f"could not decode video file {os.fspath(path)!r}: {err}") from err
    finally:
        container.close()
    missing = sorted(wanted_set - found)
    if missing:
        raise RuntimeError(
            f"{len(missing)} frame(s) of {os.fspath(path)!r} were listed by the container but "
            f"not decoded (first: index {missing[0]} at {info.times[missing[0]]:.3f} s); the "
            "file may be truncated"
        )


# --------------------------------------------------------------------------------------------
# audio


@dataclass
class AudioSignal:
    """A mono waveform and its sampling rate.

    Attributes
    ----------
    waveform : ndarray, shape (n_samples,), float32
    sfreq : float
        Samples per second.
    """

    waveform: np.ndarray
    sfreq: float

    @property
    def duration(self) -> float:
        return self.waveform.shape[0] / self.sfreq


def _decode_audio_file(path: str | os.PathLike[str]) -> tuple[np.ndarray, float]:
    av = _require("av")
    container = _open_container(path, "audio")
    try:
        if not container.streams.audio:
            raise ValueError(f"file {os.fspath(path)!r} has no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp")  # planar float, same layout and rate
        chunks = []
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
        except av.error.FFmpegError as err:
            raise ValueError(f"could not decode audio file {os.fspath(path)!r}: {err}") from err
        sfreq = float(stream.rate or stream.sample_rate)
    finally:
        container.close()
    if not chunks:
        raise ValueError(f"audio file {os.fspath(path)!r} holds no sample")
    data = np.concatenate(chunks, axis=1)  # (n_channels, n_samples)
    return data.mean(axis=0).astype(np.float32), sfreq


def load_audio(source: Any) -> AudioSignal:
    """Decode or take a waveform, mixed down to mono (mean over channels), as float32.

    Parameters
    ----------
    source : str, path-like, tuple or dict
        An audio (or video) file that PyAV can decode; a ``(waveform, sfreq)`` pair with
        ``waveform`` of shape ``(n_samples,)`` or ``(n_samples, n_channels)``; or a dict
        with keys ``waveform`` and ``sfreq``.

    Returns
    -------
    AudioSignal
    """
    if isinstance(source, (str, os.PathLike)):
        waveform, sfreq = _decode_audio_file(source)
        return AudioSignal(waveform, sfreq)
    if isinstance(source, dict):
        if set(source) != {"waveform", "sfreq"}:
            raise ValueError(
                f"an audio dict must have exactly the keys 'waveform' and 'sfreq'; got "
                f"{sorted(source)}"
            )
        waveform, sfreq = source["waveform"], source["sfreq"]
    elif isinstance(source, (tuple, list)) and len(source) == 2:
        waveform, sfreq = source
    elif isinstance(source, np.ndarray):
        raise TypeError(
            "an audio array needs its sampling rate: pass (waveform, sfreq) or "
            "{'waveform': ..., 'sfreq': ...}"
        )
    else:
        raise TypeError(
            "audio must be a file path, a (waveform, sfreq) pair or a dict with 'waveform' and "
            f"'sfreq'; got {type(source).__name__}"
        )
    arr = np.asarray(waveform)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"`waveform` must be numeric; got dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = arr.mean(axis=1)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            "`waveform` must have shape (n_samples,) or (n_samples, n_channels); got "
            f"{np.asarray(waveform).shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError("`waveform` must be finite; it holds NaN or inf")
    sfreq = float(sfreq)
    if not np.isfinite(sfreq) or sfreq <= 0:
        raise ValueError(f"`sfreq` must be a positive number of Hz; got {sfreq!r}")
    return AudioSignal(arr.astype(np.float32), sfreq)


def load_waveform(source: Any, sfreq: float, *, resample: bool, what: str) -> np.ndarray:
    """A mono float32 waveform at ``sfreq`` Hz, shape ``(n_samples,)``.

    Parameters
    ----------
    source : str, path-like, tuple or dict
        See :func:`load_audio`.
    sfreq : float
        The rate the model takes (Hz).
    resample : bool
        Resample audio at another rate; when False such audio is an error.
    what : str
        What expects ``sfreq``, for the error message.
    """
    signal = load_audio(source)
    if signal.sfreq == sfreq:
        return signal.waveform
    if not resample:
        raise ValueError(
            f"the audio is sampled at {signal.sfreq:g} Hz but {what} expects {sfreq:g} Hz; set "
            "resample=True or resample it yourself"
        )
    return resample_audio(signal.waveform, signal.sfreq, sfreq)


def audio_uid_parts(source: Any) -> tuple[Any, ...]:
    """What identifies an audio stimulus: the file digest, or the samples and their rate."""
    if isinstance(source, (str, os.PathLike)):
        p = Path(source).expanduser()
        if not p.is_file():
            raise FileNotFoundError(f"audio file {os.fspath(source)!r} does not exist")
        return (file_digest(p),)
    signal = load_audio(source)
    return (signal.waveform, signal.sfreq)


def _ratio(sfreq: float, target: float) -> tuple[int, int]:
    up = Fraction(target).limit_denominator(1000) / Fraction(sfreq).limit_denominator(1000)
    if abs(float(up) - target / sfreq) > 1e-9 * target / sfreq:
        raise ValueError(
            f"cannot resample from {sfreq:g} Hz to {target:g} Hz with a rational factor; "
            "round the rates to integers"
        )
    return up.numerator, up.denominator


def resample_audio(waveform: np.ndarray, sfreq: float, target: float) -> np.ndarray:
    """Resample a 1-D waveform with :func:`scipy.signal.resample_poly` (polyphase FIR).

    Parameters
    ----------
    waveform : ndarray, shape (n_samples,)
    sfreq, target : float
        The current and the wanted rate (Hz); their ratio must be rational.

    Returns
    -------
    ndarray, shape (ceil(n_samples * target / sfreq),), float32
        Sample ``k`` is at ``k / target`` s, as sample ``k`` of the input is at ``k / sfreq``.
    """
    if sfreq == target:
        return np.asarray(waveform, dtype=np.float32)
    from scipy.signal import resample_poly

    up, down = _ratio(sfreq, target)
    return resample_poly(np.asarray(waveform, dtype=np.float64), up, down).astype(np.float32)
