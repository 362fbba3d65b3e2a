"""Simple text bands from word timings: word rate, word onsets, word length.

Each band is a :class:`~brainalign.data.FeatureSet` with one layer, one row per word, times at
the word onsets (seconds on the recording's clock) and the word durations. They become
regressors in :func:`brainalign.alignment.make_design`, like any other event-locked band:

- ``word_rate`` (a 1 per word) is meant for ``resample="lanczos"``: the Lanczos kernel is not
  normalised, so it sums nearby words and gives the number of words per sample, smoothed
  (the Huth-lab word-rate regressor), before FIR ``delays``.
- ``word_onsets`` (a 1 per word, i.e. an impulse at each onset) is meant for ``hrf_model=``:
  each word is then an impulse convolved with the HRF (``hrf_convolve``), as a nilearn event
  of duration 0. With Lanczos it gives the same values as ``word_rate``; the two names say
  how the band is used.
- ``word_length`` (number of characters, letters and digits only, so punctuation attached to
  a word does not count) works with either resampling; z-scoring per run happens in
  ``make_design``.

Example::

    bands = word_bands(events)   # {"word_rate": FeatureSet, "word_length": ...}
    design = make_design([rec], [{"rate": bands["word_rate"], "gpt": gpt_layer}],
                         delays=[2, 4, 6, 8])
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import field_validator

from brainalign.data._featureset import FeatureSet
from brainalign.features._base import FeatureExtractor, content_uid
from brainalign.features._config import ExtractorConfig
from brainalign.features._words import words_from_events

__all__ = [
    "WORD_BANDS",
    "WordBandsConfig",
    "WordBandsExtractor",
    "word_bands",
    "word_length",
    "word_onsets",
    "word_rate",
]

#: The simple bands, in order.
WORD_BANDS = ("word_rate", "word_onsets", "word_length")
Band = Literal["word_rate", "word_onsets", "word_length"]


def _band(events: Any, name: str, word_type: str | None, text_column: str, fn: Any) -> FeatureSet:
    words, onsets, durations = words_from_events(
        events, word_type=word_type, text_column=text_column
    )
    values = np.asarray([fn(w) for w in words], dtype=np.float32)[:, None]
    return FeatureSet(
        times=onsets,
        layers={name: values},
        durations=durations,
        config={"family": "words", "band": name, "word_type": word_type},
    )


def word_rate(
    events: Any, *, word_type: str | None = "Word", text_column: str = "text"
) -> FeatureSet:
    """A 1 at each word onset, to be Lanczos-resampled into a word rate.

    Parameters
    ----------
    events : pandas.DataFrame
        Events table with word rows (``onset`` in seconds, ``text``).
    word_type : str or None
        ``type`` of the word rows (``None``: every row).
    text_column : str
        Column holding the words.

    Returns
    -------
    FeatureSet
        One layer ``"word_rate"`` of shape ``(n_words, 1)``, all ones; ``times`` the word
        onsets (s), ``durations`` the word durations.
    """
    return _band(events, "word_rate", word_type, text_column, lambda w: 1.0)


def word_onsets(
    events: Any, *, word_type: str | None = "Word", text_column: str = "text"
) -> FeatureSet:
    """Unit impulses at the word onsets, to be convolved with an HRF.

    Same parameters as :func:`word_rate`. Returns a FeatureSet with one layer
    ``"word_onsets"`` of shape ``(n_words, 1)``, all ones, at the word onsets.
    """
    return _band(events, "word_onsets", word_type, text_column, lambda w: 1.0)


def word_length(
    events: Any, *, word_type: str | None = "Word", text_column: str = "text"
) -> FeatureSet:
    """The number of letters and digits of each word (punctuation not counted).

    Same parameters as :func:`word_rate`. Returns a FeatureSet with one layer
    ``"word_length"`` of shape ``(n_words, 1)`` at the word onsets; ``"don't,"`` counts 4.
    """
    return _band(events, "word_length", word_type, text_column, _n_chars)


def _n_chars(word: str) -> float:
    return float(sum(ch.isalnum() for ch in word))


_FUNCS = {"word_rate": word_rate, "word_onsets": word_onsets, "word_length": word_length}


def word_bands(
    events: Any,
    bands: tuple[str, ...] | list[str] = WORD_BANDS,
    *,
    word_type: str | None = "Word",
    text_column: str = "text",
) -> dict[str, FeatureSet]:
    """Several simple bands at once, one single-layer FeatureSet per band.

    Parameters
    ----------
    events : pandas.DataFrame
        Events table with word rows.
    bands : sequence of str
        Among :data:`WORD_BANDS`.

    Returns
    -------
    dict of str to FeatureSet
        Keyed by band name, ready to go into the band mapping of ``make_design``.
    """
    unknown = [b for b in bands if b not in _FUNCS]
    if unknown or not bands:
        raise ValueError(f"`bands` must be a non-empty subset of {list(WORD_BANDS)}; got {bands}")
    return {b: _FUNCS[b](events, word_type=word_type, text_column=text_column) for b in bands}


class WordBandsConfig(ExtractorConfig):
    """Config of :class:`WordBandsExtractor` (``family: words`` in ``brainalign extract``).

    Parameters
    ----------
    model : str
        Not a model: a label kept for the cache folder name (default ``"word-bands"``).
    bands : list of str
        Among :data:`WORD_BANDS`; each becomes one layer of the FeatureSet.
    word_type, text_column : see :func:`word_rate`.
    """

    family: ClassVar[str] = "words"
    model_is_path: ClassVar[bool] = False

    model: str = "word-bands"
    bands: list[Band] = list(WORD_BANDS)  # noqa: RUF012 (pydantic copies defaults)
    word_type: str | None = "Word"
    text_column: str = "text"

    @field_validator("bands")
    @classmethod
    def _nonempty(cls, value: list[str]) -> list[str]:
        if not value or len(set(value)) != len(value):
            raise ValueError(f"must be a non-empty list without repeats; got {value}")
        return value


class WordBandsExtractor(FeatureExtractor):
    """The simple bands as one FeatureSet (one layer per band), through the extractor API.

    Select one band with ``features.select("word_rate")`` before ``make_design`` (which takes
    one layer per FeatureSet), or use :func:`word_bands`.
    """

    config_class = WordBandsConfig
    config: WordBandsConfig

    def load_stimulus(self, path: Any) -> Any:
        """Read an events TSV (see :func:`brainalign.features.read_word_events`)."""
        from brainalign.features._media import read_events_tsv

        return read_events_tsv(path)

    def stimulus_uid(self, stimulus: Any) -> str:
        words, onsets, durations = words_from_events(
            stimulus, word_type=self.config.word_type, text_column=self.config.text_column
        )
        return content_uid("\x1f".join(words), onsets, durations)

    def compute(self, stimulus: Any) -> FeatureSet:
        bands = word_bands(
            stimulus,
            self.config.bands,
            word_type=self.config.word_type,
            text_column=self.config.text_column,
        )
        first = bands[self.config.bands[0]]
        return FeatureSet(
            times=first.times,
            layers={name: fs.layers[name] for name, fs in bands.items()},
            durations=first.durations,
        )
