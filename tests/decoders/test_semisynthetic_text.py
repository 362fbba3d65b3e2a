"""Semi-synthetic text-decoding data: sentences, planted SNR, story runs, null evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _fixtures_text_heads import (
    tiny_causal_lm,
    torch_one_thread,  # noqa: F401  (autouse fixture)
)

from brainalign.decoders import (
    evaluate_text_decoder,
    make_sentence_brain_data,
    make_story_brain_data,
    read_sentences,
)


def _hash_embedder(dim=12):
    """A deterministic stand-in for a sentence encoder."""

    def embed(texts):
        return np.stack(
            [np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(dim) for t in texts]
        )

    return embed


@pytest.fixture(scope="module")
def lm_path(tmp_path_factory):
    return tiny_causal_lm(tmp_path_factory.mktemp("lm") / "llama")


def test_read_sentences(tmp_path):
    sents = read_sentences()
    assert 200 <= len(sents) <= 400
    assert len(set(sents)) == len(sents)
    assert all(s[0].isupper() and s[-1] in ".!?" and len(s.split()) >= 4 for s in sents)
    f = tmp_path / "s.txt"
    f.write_text("# comment\nOne two three.\n\n  Four five six.  \n")
    assert read_sentences(f) == ["One two three.", "Four five six."]
    f.write_text("# only a comment\n")
    with pytest.raises(ValueError, match="no sentences in"):
        read_sentences(f)


def test_sentence_brain_data_planted_snr():
    data = make_sentence_brain_data(
        _hash_embedder(), n_voxels=400, snr=0.5, signal_fraction=0.5, seed=3
    )
    n = len(read_sentences())
    assert data.Y.shape == (n, 400) and data.embeddings.shape == (n, 12)
    assert np.intersect1d(data.train, data.test).size == 0
    assert data.train.size + data.test.size == n and data.test.size == round(0.2 * n)
    assert np.mean(data.snr == 0) == 0.5 and data.snr.mean() == pytest.approx(0.25, rel=0.2)
    E = data.embeddings.astype(np.float64)
    signal = ((E - E.mean(0)) / E.std(0)) @ data.weights
    np.testing.assert_allclose(signal.var(0), data.snr, rtol=1e-6, atol=1e-12)
    noise = data.Y - signal
    assert noise.var(0).mean() == pytest.approx(1.0, abs=0.05)
    # the shared noise sources correlate the voxels
    c = np.corrcoef(noise.T)
    assert c[np.triu_indices(400, 1)].std() > 1.5 / np.sqrt(n)  # independent: 1 / sqrt(n)
    Y_tr, s_tr, Y_te, s_te = data.split()
    assert Y_tr.shape[0] == len(s_tr) and Y_te.shape[0] == len(s_te)
    again = make_sentence_brain_data(
        _hash_embedder(), n_voxels=400, snr=0.5, signal_fraction=0.5, seed=3
    )
    np.testing.assert_array_equal(again.Y, data.Y)


def test_sentence_brain_data_errors():
    with pytest.raises(ValueError, match="`n_voxels` must be an integer >= 1"):
        make_sentence_brain_data(_hash_embedder(), n_voxels=0)
    with pytest.raises(ValueError, match="`snr` must be > 0"):
        make_sentence_brain_data(_hash_embedder(), snr=0)
    with pytest.raises(ValueError, match=r"`test_size` must be in \[0, 1\)"):
        make_sentence_brain_data(_hash_embedder(), test_size=1.0)
    with pytest.raises(ValueError, match="both need at least 2"):
        make_sentence_brain_data(_hash_embedder(), sentences=["A b c.", "D e f.", "G h i."])
    with pytest.raises(ValueError, match="the embedder must return"):
        make_sentence_brain_data(lambda t: np.zeros((3, 2)))


def test_story_brain_data(lm_path):
    from brainalign.alignment import Delayer, lanczos_resample
    from brainalign.features import TextExtractor

    data = make_story_brain_data(
        str(lm_path),
        n_runs=3,
        words_per_run=40,
        test_words=12,
        word_rate=2.0,
        jitter=0.2,
        tr=1.0,
        delays=(1.0, 2.0),
        context=3,
        n_voxels=50,
        n_components=6,
        snr=2.0,
        ar=0.5,
        seed=1,
    )
    assert data.layer == 1  # round(2 * 2 / 3): the decoder's default rule
    assert len(data.runs) == 3 and len(data.train_runs) == 2
    assert len(data.test_words) >= 12 and len(data.runs[0][0]) >= 40
    sentences = set(read_sentences())
    seen = []
    for words, times in data.runs:
        gaps = np.diff(times)
        assert times[0] == 4.0 and np.all((gaps >= 0.4 - 1e-9) & (gaps <= 0.6 + 1e-9))
        text = " ".join(words)
        parts = [p + "." for p in text.split(". ") if p]
        parts[-1] = parts[-1][:-1]
        assert all(p in sentences for p in parts)  # whole sentences
        seen += parts
    assert len(seen) == len(set(seen))  # no sentence repeated
    for (_, times), y, s in zip(data.runs, data.Y, data.signal):
        assert y.shape == (int(np.ceil((times[-1] + 10.0) / 1.0)) + 1, 50) == s.shape
    # planted SNR and noise
    sig = np.concatenate(data.signal)
    np.testing.assert_allclose(sig.var(0), data.snr, rtol=1e-6, atol=1e-12)
    noise = np.concatenate([y - s for y, s in zip(data.Y, data.signal)])
    assert noise.var(0).mean() == pytest.approx(1.0, abs=0.15)
    lag1 = np.mean(
        [
            np.corrcoef(y[1:, v] - s[1:, v], y[:-1, v] - s[:-1, v])[0, 1]
            for y, s in zip(data.Y, data.signal)
            for v in range(50)
        ]
    )
    assert lag1 == pytest.approx(0.5, abs=0.15)
    # signal = linear in the (TextExtractor, naive word contexts) -> PCA -> Lanczos -> delays -> W
    ext = TextExtractor(model=str(lm_path), context_mode="naive", context_unit="words", context=3)
    words, times = data.runs[0]
    feats = ext.compute(
        pd.DataFrame({"onset": times, "duration": 0.0, "type": "Word", "text": words})
    ).layers["layer_1"]
    X = Delayer(delays=(1.0, 2.0), sfreq=1.0).fit_transform(
        lanczos_resample(  # a column of ones: the word rate, which the centring brings in
            np.c_[feats, np.ones(len(words))], times, np.arange(data.Y[0].shape[0], dtype=float)
        )
    )
    coef, *_ = np.linalg.lstsq(np.c_[X, np.ones(len(X))], data.signal[0], rcond=None)
    fit = np.c_[X, np.ones(len(X))] @ coef
    assert np.allclose(fit[:, data.snr > 0], data.signal[0][:, data.snr > 0], atol=1e-6)


def test_story_brain_data_errors(lm_path):
    with pytest.raises(ValueError, match="`n_runs` must be an integer >= 2"):
        make_story_brain_data(str(lm_path), n_runs=1)
    with pytest.raises(ValueError, match="not enough sentences"):
        make_story_brain_data(str(lm_path), n_runs=3, words_per_run=2000)
    with pytest.raises(ValueError, match=r"`ar` must be in \[0, 1\)"):
        make_story_brain_data(str(lm_path), ar=1.0)
    with pytest.raises(ValueError, match="`delays\\[0\\]` must be a whole number of samples"):
        make_story_brain_data(str(lm_path), delays=(1.5,), tr=2.0, words_per_run=10)
    with pytest.raises(IndexError, match="`layer` must index the LM's 3 hidden states"):
        make_story_brain_data(str(lm_path), layer=7, words_per_run=10)


def test_evaluate_text_decoder_reports_nulls_and_chance():
    refs = ["the cat sat on the mat", "a dog ran in the park", "rain fell all day long"]
    Y = np.arange(30, dtype=float).reshape(3, 10)

    def decode(y):  # perfect on the real data, a fixed wrong guess otherwise
        return refs if np.array_equal(y, Y) else ["the the the", "a a", "sun"]

    scores = evaluate_text_decoder(decode, Y, refs, n_null=3, chance={"bleu1": 0.1}, seed=0)
    by = {(s.metric, s.null_kind): s for s in scores}
    assert set(by) == {
        (m, k) for m in ("bleu1", "wer", "meteor") for k in ("permuted-brain", "noise")
    }
    b = by["bleu1", "noise"]
    assert b.score == 1.0 and b.null.shape == (3,) and b.null.max() < 1.0
    assert b.chance == 0.1 and b.p_value == pytest.approx(0.25)
    w = by["wer", "permuted-brain"]
    assert w.score == 0.0 and not w.greater_is_better and w.p_value == pytest.approx(0.25)
    assert by["meteor", "noise"].chance is None
    sims = evaluate_text_decoder(decode, Y, refs, nulls=("noise",), embedder=_hash_embedder())
    assert {s.metric for s in sims} == {"bleu1", "wer", "meteor", "embedding_similarity"}
    with pytest.raises(ValueError, match=r"one text per reference \(3\); got 2"):
        evaluate_text_decoder(lambda y: refs[:2], Y, refs)
    with pytest.raises(ValueError, match="'permuted-brain' or 'noise'; got 'shuffle'"):
        evaluate_text_decoder(decode, Y, refs, nulls=("shuffle",))
