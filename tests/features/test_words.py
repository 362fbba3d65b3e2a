"""Words from events, word ↔ token alignment from offsets, pooling, sentence splitting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from _fixtures_text import (
    STORY,
    bpe_tokenizer,
    make_word_events,
    torch_one_thread,  # noqa: F401 (autouse fixture)
    wordpiece_tokenizer,
)

from brainalign.features import (
    align_tokens,
    join_words,
    pool_words,
    read_word_events,
    split_sentences,
    words_from_events,
)


def test_join_words_spans():
    words = ["Hello,", "New York", "it's", "me."]
    text, spans = join_words(words)
    assert text == "Hello, New York it's me."
    assert spans.shape == (4, 2)
    assert [text[a:b] for a, b in spans] == words


def test_align_offsets_with_and_without_the_leading_space():
    words = ["the", "cat", "sat,"]
    _, spans = join_words(words)  # the=[0,3) cat=[4,7) sat,=[8,12)
    trimmed = [(0, 3), (4, 7), (8, 11), (11, 12)]  # "the" "cat" "sat" ","
    untrimmed = [(0, 3), (3, 7), (7, 11), (11, 12)]  # "the" "Ġcat" "Ġsat" ","
    for offsets in (trimmed, untrimmed):
        first, last = align_tokens(offsets, spans)
        np.testing.assert_array_equal(first, [0, 1, 2])
        np.testing.assert_array_equal(last, [0, 1, 3])  # the comma belongs to "sat,"


def test_align_special_tokens_and_merged_tokens():
    _, spans = join_words(["a", "b", "c"])  # [0,1) [2,3) [4,5)
    offsets = [(0, 0), (0, 1), (2, 5), (0, 0)]  # BOS, "a", a token spanning "b c", EOS
    first, last = align_tokens(offsets, spans)
    np.testing.assert_array_equal(first, [1, 2, 2])
    np.testing.assert_array_equal(last, [1, 2, 2])
    # special_mask removes a token even when it has a span
    first, last = align_tokens([(0, 1), (0, 1), (2, 3), (4, 5)], spans,
                               special_mask=[1, 0, 0, 0])  # fmt: skip
    np.testing.assert_array_equal(first, [1, 2, 3])


def test_align_word_without_token():
    words = ["ok", "§§", "ok"]
    _, spans = join_words(words)
    with pytest.raises(ValueError, match=r"word 1 \('§§'\) at characters \[3, 5\] maps to no"):
        align_tokens([(0, 2), (6, 8)], spans, words=words)


@pytest.mark.parametrize("kind", ["bytelevel", "metaspace", "wordpiece"])
def test_align_real_tokenizers(kind):
    """Decoding each word's tokens gives the word back (subwords, punctuation, spaces)."""
    tok = wordpiece_tokenizer() if kind == "wordpiece" else bpe_tokenizer(kind)
    words = STORY.split()[:40] if kind != "wordpiece" else ["the", "unbelievable,", "dog."]
    text, spans = join_words(words)
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    first, last = align_tokens(enc["offset_mapping"], spans, words=words)
    assert np.all(np.diff(last) > 0) and np.all(first <= last)
    for w, word in enumerate(words):
        piece = tok.decode(enc["input_ids"][first[w] : last[w] + 1]).replace(" ##", "")
        assert piece.replace(" ", "") == word.replace(" ", "")
    if kind == "bytelevel":  # offsets carry the preceding space ("Ġcat")
        starts = np.asarray(enc["offset_mapping"])[first[1:], 0]
        assert np.any(starts == spans[1:, 0] - 1)


def test_pool_words_numpy_and_torch():
    hidden = np.arange(12, dtype=np.float32).reshape(6, 2)
    first, last = np.array([0, 1, 4]), np.array([0, 3, 5])
    expected_last = hidden[[0, 3, 5]]
    expected_mean = np.stack([hidden[0], hidden[1:4].mean(0), hidden[4:6].mean(0)])
    np.testing.assert_array_equal(pool_words(hidden, first, last, "last"), expected_last)
    np.testing.assert_allclose(pool_words(hidden, first, last, "mean"), expected_mean)
    t = torch.from_numpy(hidden)
    np.testing.assert_array_equal(pool_words(t, first, last, "last").numpy(), expected_last)
    np.testing.assert_allclose(pool_words(t, first, last, "mean").numpy(), expected_mean)
    with pytest.raises(ValueError, match=r"`pooling` must be 'last' or 'mean'; got 'max'"):
        pool_words(hidden, first, last, "max")


def test_words_from_events():
    events = make_word_events(["  the", "New York", "sat."])
    words, onsets, durations = words_from_events(events)
    assert words == ["the", "New York", "sat."]
    np.testing.assert_allclose(onsets, [0.5, 0.8, 1.1])
    np.testing.assert_allclose(durations, 0.24)
    no_dur = events.drop(columns="duration")
    np.testing.assert_array_equal(words_from_events(no_dur)[2], 0.0)
    all_rows = words_from_events(events[events["type"] == "Word"], word_type=None)
    assert all_rows[0] == words


def test_words_from_events_errors():
    events = make_word_events(["the", "cat", "sat"])
    with pytest.raises(ValueError, match=r"the text is empty: .* \(types present: \['Sound'\]\)"):
        words_from_events(events[events["type"] == "Sound"])
    with pytest.raises(ValueError, match=r"must have a 'text' column"):
        words_from_events(events.drop(columns="text"))
    nan = events.copy()
    nan.loc[1, "onset"] = np.nan
    with pytest.raises(ValueError, match=r"word 0 \('the', row 1\) has onset nan"):
        words_from_events(nan)
    back = events.copy()
    back.loc[3, "onset"] = 0.0
    with pytest.raises(
        ValueError, match=r"must be non-decreasing; .* word 2 \('sat', row 3\) after"
    ):
        words_from_events(back)
    missing = events.copy()
    missing.loc[2, "text"] = None
    with pytest.raises(
        ValueError, match=r"non-empty word on every word row; got (None|nan) at row 2"
    ):
        words_from_events(missing)
    with pytest.raises(TypeError, match="must be a pandas DataFrame"):
        words_from_events([("the", 0.0)])


def test_split_sentences():
    words = ["Hi.", "Was", "it", 'fog?"', "No", "idea…", "and", "then"]
    assert split_sentences(words) == [(0, 1), (1, 4), (4, 6), (6, 8)]
    assert split_sentences(["one", "two"]) == [(0, 2)]


def test_read_word_events_keeps_words(tmp_path):
    path = tmp_path / "events.tsv"
    pd.DataFrame(
        {
            "onset": ["0.5", "n/a", "1.5"],
            "duration": ["0.2", "0.2", "n/a"],
            "type": ["Word"] * 3,
            "text": ["NA", "null", "nan"],
        }
    ).to_csv(path, sep="\t", index=False)
    df = read_word_events(path)
    assert df["text"].tolist() == ["NA", "null", "nan"]
    assert np.isnan(df["onset"][1]) and np.isnan(df["duration"][2])
    with pytest.raises(ValueError, match=r"word 1 \('null', row 1\) has onset nan"):
        words_from_events(df)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_word_events(tmp_path / "missing.tsv")
