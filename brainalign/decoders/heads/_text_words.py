"""Words and their times for the beam-search text decoder: input checks and the output.

Frame ``i`` of a run is at ``i * tr`` seconds (:func:`frame_times`); word times are on the
same clock. The decoder itself is :mod:`brainalign.decoders.heads._text_beam`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from brainalign._validation import check_array, check_positive

__all__ = ["DecodedText", "frame_times"]


def frame_times(n_frames: int, tr: float) -> np.ndarray:
    """Sample times of a run's brain frames: frame ``i`` at ``i * tr`` seconds.

    Word times are on the same clock (0 = start of the first acquisition), as for a
    :class:`~brainalign.data.Recording` with ``sample_point="start"``.

    Parameters
    ----------
    n_frames : int
    tr : float
        Sampling period in seconds.

    Returns
    -------
    ndarray, shape (n_frames,)
    """
    return np.arange(int(n_frames), dtype=np.float64) * float(tr)


@dataclass
class DecodedText:
    """The output of :meth:`BeamSearchTextDecoder.decode`.

    Attributes
    ----------
    words : list of str, length n_words
        The best beam's words (punctuation glued to words, as generated).
    times : ndarray, shape (n_words,)
        Time of each word in seconds (the given onsets or the fixed-rate grid).
    score : float
        Encoding score of the best beam (log-likelihood up to a constant, or correlation).
    beams : list of (list of str, float)
        The final beams with their scores, best first.
    """

    words: list[str]
    times: np.ndarray
    score: float
    beams: list[tuple[list[str], float]] = field(default_factory=list, repr=False)

    @property
    def text(self) -> str:
        """The words joined with spaces."""
        return " ".join(self.words)

    def window_texts(self, starts: Any, length: float) -> list[str]:
        """The decoded words inside time windows (Tang et al. score 20 s windows).

        Parameters
        ----------
        starts : array-like of float, shape (n_windows,)
            Window starts in seconds.
        length : float
            Window length in seconds; a word belongs to ``[start, start + length)``.

        Returns
        -------
        list of str, length n_windows
        """
        starts = np.atleast_1d(np.asarray(starts, dtype=np.float64))
        out = []
        for s in starts:
            sel = (self.times >= s) & (self.times < s + length)
            out.append(" ".join(w for w, k in zip(self.words, sel) if k))
        return out


# --------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------
def _check_words(words: Any, name: str) -> list[str]:
    if isinstance(words, str) or not isinstance(words, Sequence):
        raise TypeError(
            f"`{name}` must be a sequence of words (str); got {type(words).__name__}. Split a "
            f"text with text.split()."
        )
    out = []
    for i, w in enumerate(words):
        if not isinstance(w, str) or not w.strip() or any(c.isspace() for c in w.strip()):
            raise ValueError(f"`{name}[{i}]` must be a non-empty word without spaces; got {w!r}")
        out.append(w.strip())
    if not out:
        raise ValueError(f"`{name}` must hold at least one word; got an empty sequence")
    return out


def _run_words(run: Any, i: int) -> tuple[list[str], np.ndarray]:
    """(words, onsets) of one training run: an events table or a (words, times) pair."""
    import pandas as pd

    if isinstance(run, pd.DataFrame):
        from brainalign.features._words import words_from_events

        words, onsets, _ = words_from_events(
            run, word_type="Word" if "type" in run.columns else None
        )
        return words, onsets
    if not isinstance(run, Sequence) or isinstance(run, str) or len(run) != 2:
        raise TypeError(
            f"`stimuli[{i}]` must be an events DataFrame (word rows with 'onset' and 'text') or "
            f"a (words, times) pair; got {type(run).__name__}"
        )
    words = _check_words(run[0], f"stimuli[{i}][0] (words)")
    times = _check_word_times(run[1], len(words), f"stimuli[{i}][1] (times)")
    return words, times


def _check_word_times(times: Any, n_words: int | None, name: str) -> np.ndarray:
    arr = check_array(times, name, ndim=1, dtype=np.float64, shape_doc="(n_words,)")
    if n_words is not None and arr.shape[0] != n_words:
        raise ValueError(
            f"`{name}` must hold one time per word ({n_words} words); got {arr.shape[0]} times"
        )
    if np.any(np.diff(arr) < 0):
        i = int(np.flatnonzero(np.diff(arr) < 0)[0]) + 1
        raise ValueError(
            f"`{name}` must be non-decreasing (words in spoken order); got {arr[i]:g} s after "
            f"{arr[i - 1]:g} s at index {i}"
        )
    return arr


def _check_runs(
    stimuli: Any, Y: Any, tr: float
) -> tuple[list[tuple[list[str], np.ndarray]], list[np.ndarray]]:
    """The training runs of ``fit``: (words, onsets) and the brain responses of each run."""
    if isinstance(stimuli, (str, bytes)) or not isinstance(stimuli, Sequence):
        raise TypeError(
            f"`stimuli` must be a sequence with one run per element; got {type(stimuli).__name__}"
        )
    if not isinstance(Y, Sequence) or isinstance(Y, np.ndarray):
        raise TypeError(
            f"`Y` must be a sequence with one (n_frames, n_targets) array per run; got "
            f"{type(Y).__name__}. Wrap a single run in a list."
        )
    if len(stimuli) != len(Y) or len(Y) == 0:
        raise ValueError(
            f"`stimuli` and `Y` must hold the same number of runs (at least 1); got "
            f"{len(stimuli)} stimulus runs and {len(Y)} brain runs"
        )
    runs = [_run_words(run, i) for i, run in enumerate(stimuli)]
    Ys = []
    for i, y in enumerate(Y):
        y = check_array(y, f"Y[{i}]", ndim=2, shape_doc="(n_frames, n_targets)")
        if y.shape[0] < 2:
            raise ValueError(f"`Y[{i}]` must have at least 2 frames; got shape {y.shape}")
        if Ys and y.shape[1] != Ys[0].shape[1]:
            raise ValueError(
                f"every run must have the same targets; got Y[0].shape={Ys[0].shape}, "
                f"Y[{i}].shape={y.shape}"
            )
        _check_in_run(runs[i][1], y.shape[0], tr, f"stimuli[{i}]", f"Y[{i}]")
        Ys.append(y)
    return runs, Ys


def _decode_times(
    n_frames: int, tr: float, word_times: Any, word_rate: float | None, start: float
) -> np.ndarray:
    """Word onsets of a run to decode: the given ones, or a fixed rate from ``start``."""
    if (word_times is None) == (word_rate is None):
        raise ValueError(
            "give exactly one of `word_times` (known onsets, s) and `word_rate` (words per "
            f"second); got word_times={'None' if word_times is None else '...'} and "
            f"word_rate={word_rate!r}"
        )
    if word_rate is not None:
        rate = check_positive(word_rate, "word_rate")
        n_words = int(np.floor((n_frames * tr - float(start)) * rate - 1e-9)) + 1
        if n_words < 1:
            raise ValueError(
                f"`start`={start!r} s leaves no word inside the run ({n_frames} frames of {tr:g} s)"
            )
        times = float(start) + np.arange(n_words) / rate
    else:
        times = _check_word_times(word_times, None, "word_times")
    _check_in_run(times, n_frames, tr, "word_times", "Y")
    return times


def _check_in_run(times: np.ndarray, n_frames: int, tr: float, tname: str, yname: str) -> None:
    """Word times must fall inside the run's frames (catches runs paired with the wrong data)."""
    end = n_frames * tr
    if times.size and (times[0] < -tr or times[-1] >= end + tr):
        raise ValueError(
            f"the words of `{tname}` span {times[0]:g}-{times[-1]:g} s but `{yname}` has "
            f"{n_frames} frames of {tr:g} s (0-{end:g} s): brain and stimulus do not match. "
            f"Check that each run's words go with its own brain data and that `tr` is right."
        )
