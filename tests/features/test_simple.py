"""Simple text bands: word rate, word onsets, word length, and their use in make_design."""

from __future__ import annotations

import numpy as np
import pytest
from _fixtures_text import make_word_events

from brainalign.alignment import hrf_convolve, lanczos_resample, make_design
from brainalign.data import Recording
from brainalign.exceptions import ConfigError
from brainalign.features import (
    WORD_BANDS,
    WordBandsExtractor,
    make_extractor,
    word_bands,
    word_length,
    word_onsets,
    word_rate,
)

WORDS = ["The", "keeper's", "boat,", "at", "9", "o'clock."]


def test_bands_values_times_durations():
    events = make_word_events(WORDS, start=2.0, step=0.5)
    onsets = 2.0 + 0.5 * np.arange(6)
    rate, imp, length = word_rate(events), word_onsets(events), word_length(events)
    for fs, name in [(rate, "word_rate"), (imp, "word_onsets"), (length, "word_length")]:
        assert fs.layer_names == [name]
        assert fs.layers[name].shape == (6, 1)
        np.testing.assert_allclose(fs.times, onsets)
        np.testing.assert_allclose(fs.durations, 0.4)
    np.testing.assert_array_equal(rate.layers["word_rate"][:, 0], 1.0)
    np.testing.assert_array_equal(imp.layers["word_onsets"][:, 0], 1.0)
    # letters and digits only: "keeper's" 7, "boat," 4, "o'clock." 6
    np.testing.assert_array_equal(length.layers["word_length"][:, 0], [3, 7, 4, 2, 1, 6])


def test_word_rate_through_lanczos_counts_words():
    """Lanczos-resampling the ones gives the number of words per TR (away from the edges)."""
    tr = 2.0
    rng = np.random.default_rng(0)
    onsets = np.sort(rng.uniform(0, 200, size=400))
    events = make_word_events(["w"] * 400, extra_rows=False)
    events["onset"] = onsets
    rate = word_rate(events)
    grid = np.arange(0, 200, tr) + tr / 2
    resampled = lanczos_resample(rate.layers["word_rate"], rate.times, grid)[:, 0]
    counts = np.histogram(onsets, bins=np.arange(0, 200 + tr, tr))[0]
    inner = slice(5, -5)
    assert abs(resampled[inner].sum() - counts[inner].sum()) / counts[inner].sum() < 0.05
    assert np.corrcoef(resampled[inner], counts[inner])[0, 1] > 0.5


def test_bands_in_make_design():
    tr, n = 1.5, 80
    events = make_word_events(["a", "b", "c", "d"] * 20, start=3.0, step=1.1)
    rec = Recording(data=np.random.default_rng(1).normal(size=(n, 3)), sfreq=1 / tr)
    bands = word_bands(events, ["word_rate", "word_length"])
    design = make_design([rec], [bands], delays=[0.0, 1.5, 3.0])
    assert design.bands["word_rate"].shape == (n, 3)
    assert design.bands["word_length"].shape == (n, 3)
    onsets = word_onsets(events)
    hrf = make_design([rec], [{"onsets": onsets}], hrf_model="glover", zscore=False)
    expected = hrf_convolve(np.ones((80, 1)), onsets.times, rec.times, hrf_model="glover")
    np.testing.assert_allclose(hrf.bands["onsets"], expected)


def test_word_bands_extractor_and_registry(tmp_path):
    events = make_word_events(WORDS)
    ext = make_extractor({"family": "words", "bands": ["word_length", "word_rate"]})
    assert isinstance(ext, WordBandsExtractor)
    feats = ext.extract(events)
    assert feats.layer_names == ["word_length", "word_rate"]
    np.testing.assert_array_equal(feats["word_length"], word_length(events).layers["word_length"])
    cached = WordBandsExtractor(cache_dir=str(tmp_path)).extract(events)
    assert cached.layer_names == list(WORD_BANDS)
    again = WordBandsExtractor(cache_dir=str(tmp_path)).extract(events)
    np.testing.assert_array_equal(again["word_length"], cached["word_length"])


def test_errors():
    events = make_word_events(WORDS)
    with pytest.raises(ValueError, match=r"`bands` must be a non-empty subset of"):
        word_bands(events, ["word_rate", "pitch"])
    with pytest.raises(ConfigError, match=r"bands"):
        WordBandsExtractor(bands=["pitch"])
    with pytest.raises(ValueError, match=r"the text is empty"):
        word_rate(events, word_type="Phoneme")
