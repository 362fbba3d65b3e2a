"""Acoustic bands without a model: broadband envelope and log-mel spectrogram (scipy / numpy).

Both return a :class:`~brainalign.data.FeatureSet` on a regular grid ``k / sfreq_out`` (s),
ready for alignment with a recording.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from brainalign.data._featureset import FeatureSet
from brainalign.features._media import load_audio, resample_audio

__all__ = [
    "compute_envelope",
    "compute_mel_spectrogram",
    "hz_to_mel",
    "mel_filterbank",
    "mel_to_hz",
]

# Slaney's mel scale (as in the Auditory Toolbox and librosa's default): linear below 1 kHz,
# logarithmic above.
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(freq: Any) -> np.ndarray:
    """Hz to Slaney mels (linear below 1 kHz, logarithmic above)."""
    f = np.asarray(freq, dtype=float)
    mel = f / _F_SP
    log_region = f >= _MIN_LOG_HZ
    mel = np.where(
        log_region, _MIN_LOG_MEL + np.log(np.maximum(f, 1e-12) / _MIN_LOG_HZ) / _LOGSTEP, mel
    )
    return mel


def mel_to_hz(mel: Any) -> np.ndarray:
    """Slaney mels to Hz (inverse of :func:`hz_to_mel`)."""
    m = np.asarray(mel, dtype=float)
    return np.where(
        m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), _F_SP * m
    )


def _waveform(audio: Any, sfreq_out: float) -> tuple[np.ndarray, float]:
    """The mono waveform (float64) and its rate, checking that ``sfreq_out`` fits."""
    signal = load_audio(audio)
    if not sfreq_out > 0 or sfreq_out > signal.sfreq:
        raise ValueError(
            f"`sfreq_out` must be positive and at most the audio rate ({signal.sfreq:g} Hz); "
            f"got {sfreq_out!r}"
        )
    return signal.waveform.astype(np.float64), signal.sfreq


def mel_filterbank(
    sfreq: float, n_fft: int, n_mels: int = 40, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Triangular mel filters on the bins of an ``n_fft``-point real FFT.

    Slaney mel scale and area normalisation (each filter is scaled by ``2 / bandwidth``), the
    defaults of the Auditory Toolbox and of ``librosa.filters.mel``.

    Parameters
    ----------
    sfreq : float
        Sampling rate (Hz).
    n_fft : int
        FFT length.
    n_mels : int
        Number of filters.
    fmin, fmax : float
        Frequency range (Hz); ``fmax`` defaults to ``sfreq / 2``.

    Returns
    -------
    ndarray, shape (n_mels, n_fft // 2 + 1)
    """
    fmax = sfreq / 2 if fmax is None else fmax
    if not 0 <= fmin < fmax <= sfreq / 2:
        raise ValueError(
            f"the mel range must satisfy 0 <= fmin < fmax <= sfreq / 2 = {sfreq / 2:g}; got "
            f"fmin={fmin:g}, fmax={fmax:g}"
        )
    bins = np.fft.rfftfreq(n_fft, d=1.0 / sfreq)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    width = np.diff(edges)
    ramps = edges[:, None] - bins[None, :]
    lower = -ramps[:-2] / width[:-1, None]
    upper = ramps[2:] / width[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights


def compute_envelope(
    audio: Any, *, sfreq_out: float = 100.0, lowpass: float | None = None
) -> FeatureSet:
    """Broadband amplitude envelope: magnitude of the analytic signal, low-passed, resampled.

    Parameters
    ----------
    audio : str, path-like, tuple or dict
        A file, a ``(waveform, sfreq)`` pair or ``{"waveform", "sfreq"}`` (mixed to mono).
    sfreq_out : float
        Output rate (Hz).
    lowpass : float or None
        Cut-off (Hz) of a 4th-order zero-phase Butterworth low-pass applied to the envelope
        before resampling; ``None`` uses ``0.4 * sfreq_out``. The polyphase resampler adds
        its own anti-aliasing filter at the output Nyquist frequency.

    Returns
    -------
    FeatureSet
        ``times = k / sfreq_out`` (s); layer ``envelope`` of shape ``(n_times, 1)``.
    """
    from scipy.fft import next_fast_len
    from scipy.signal import butter, hilbert, sosfiltfilt

    x, sfreq = _waveform(audio, sfreq_out)
    cutoff = 0.4 * sfreq_out if lowpass is None else float(lowpass)
    if not 0 < cutoff < sfreq / 2:
        raise ValueError(
            f"`lowpass` must lie in (0, {sfreq / 2:g}) Hz (the audio's Nyquist); got {cutoff:g}"
        )
    n = x.shape[0]
    env = np.abs(hilbert(x, N=next_fast_len(n))[:n])
    if n > 27:  # sosfiltfilt needs a few times the filter order of padding
        env = sosfiltfilt(butter(4, cutoff, fs=sfreq, output="sos"), env)
    out = resample_audio(env, sfreq, sfreq_out).astype(np.float32)
    times = np.arange(out.shape[0]) / sfreq_out
    config = {"kind": "envelope", "sfreq_out": sfreq_out, "lowpass": cutoff}
    return FeatureSet(times, {"envelope": out[:, None]}, config=config)


def compute_mel_spectrogram(
    audio: Any,
    *,
    sfreq_out: float = 100.0,
    n_mels: int = 40,
    fmin: float = 0.0,
    fmax: float | None = None,
    win_length: float = 0.025,
    n_fft: int | None = None,
    amin: float = 1e-10,
    block: int = 2048,
) -> FeatureSet:
    """Log-mel power spectrogram in dB, one frame centred on each ``k / sfreq_out``.

    Frame ``k`` is the periodic Hann window of ``win_length`` seconds centred on sample
    ``round(k * sfreq / sfreq_out)`` (zero padding beyond the signal's ends), zero-padded to
    ``n_fft`` samples, its power spectrum ``|rfft|^2`` mapped through :func:`mel_filterbank`
    and converted to ``10 * log10(max(power, amin))``.

    Parameters
    ----------
    audio : str, path-like, tuple or dict
        A file, a ``(waveform, sfreq)`` pair or ``{"waveform", "sfreq"}`` (mixed to mono).
    sfreq_out : float
        Frame rate (Hz).
    n_mels : int
        Number of mel bands.
    fmin, fmax : float
        Band range (Hz); ``fmax`` defaults to the Nyquist frequency.
    win_length : float
        Window length (s).
    n_fft : int or None
        FFT length; the next power of two of the window length by default.
    amin : float
        Floor of the power before the log.
    block : int
        Frames computed at once (memory).

    Returns
    -------
    FeatureSet
        ``times = k / sfreq_out`` (s), ``k = 0 ... floor(duration * sfreq_out)``; layer
        ``mel`` of shape ``(n_times, n_mels)``.
    """
    from scipy.signal import get_window

    x, sfreq = _waveform(audio, sfreq_out)
    win = round(win_length * sfreq)
    if win < 2:
        raise ValueError(f"`win_length` must span at least 2 samples; got {win_length!r} s")
    n_fft = int(2 ** np.ceil(np.log2(win))) if n_fft is None else int(n_fft)
    if n_fft < win:
        raise ValueError(f"`n_fft` ({n_fft}) must be >= the window length in samples ({win})")
    window = np.zeros(n_fft)
    start = (n_fft - win) // 2
    window[start : start + win] = get_window("hann", win, fftbins=True)
    fb = mel_filterbank(sfreq, n_fft, n_mels, fmin, fmax)
    n_frames = int(np.floor((x.shape[0] - 1) / sfreq * sfreq_out + 1e-9)) + 1
    centres = np.round(np.arange(n_frames) * sfreq / sfreq_out).astype(int)
    half = n_fft // 2
    padded = np.concatenate([np.zeros(half), x, np.zeros(n_fft)])
    offsets = np.arange(n_fft)
    out = np.empty((n_frames, n_mels), dtype=np.float32)
    for b in range(0, n_frames, block):
        idx = centres[b : b + block, None] + offsets[None, :]  # start = centre - half (+ half pad)
        power = np.abs(np.fft.rfft(padded[idx] * window, axis=1)) ** 2
        out[b : b + block] = 10 * np.log10(np.maximum(power @ fb.T, amin))
    times = np.arange(n_frames) / sfreq_out
    config = {
        "kind": "mel",
        "sfreq_out": sfreq_out,
        "n_mels": n_mels,
        "fmin": fmin,
        "fmax": sfreq / 2 if fmax is None else fmax,
        "win_length": win_length,
        "n_fft": n_fft,
    }
    return FeatureSet(times, {"mel": out}, config=config)
