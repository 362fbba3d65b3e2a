"""BeamSearchTextDecoder: word features, word proposals, encoding-scored beams, nulls, errors."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pandas as pd
import pytest
from _fixtures_text_heads import (
    _save,
    causal_lm,
    metaspace_tokenizer,
    tiny_causal_lm,
    torch_one_thread,  # noqa: F401  (autouse fixture)
)
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from brainalign.decoders import BeamSearchTextDecoder

SETTINGS = dict(layer=1, context=3, tr=1.0, delays=(1.0, 2.0, 3.0), batch_size=16)
TEXT = (
    "The morning train was late because of the snow on the tracks. "
    "She poured hot coffee into a blue cup and sat by the window."
).split()


@pytest.fixture(scope="module")
def lm_path(tmp_path_factory):
    return tiny_causal_lm(tmp_path_factory.mktemp("lm") / "llama")


@pytest.fixture(scope="module")
def story(lm_path):
    from brainalign.decoders import make_story_brain_data

    return make_story_brain_data(
        str(lm_path),
        n_runs=3,
        words_per_run=60,
        test_words=10,
        word_rate=1.0,
        tr=1.0,
        delays=(1.0, 2.0, 3.0),
        layer=1,
        context=3,
        n_voxels=60,
        n_components=8,
        snr=3.0,
        seed=0,
    )


@pytest.fixture(scope="module")
def fitted(lm_path, story):
    dec = BeamSearchTextDecoder(str(lm_path), beam_width=3, n_candidates=4, **SETTINGS)
    return dec.fit(story.train_runs, story.train_Y)


def _planted(dec, n_words=10, rank=2, noise=0.1, seed=0):
    """A text the LM can propose (the rank-th proposal at every step) and its response."""
    truth: list[str] = []
    for _ in range(n_words):
        props = dec.propose(truth)
        truth.append(props[min(rank, len(props) - 1)][0])
    times = 2.0 + np.arange(n_words, dtype=float)
    n_frames = n_words + 4  # every frame is reached by some word (delays <= 3 s, window 3 s)
    pred = dec.predict(truth, times, n_frames)
    rng = np.random.default_rng(seed)
    Y = pred + noise * pred.std() * rng.standard_normal(pred.shape)
    return truth, times, Y


def _accuracy(a, b):
    return float(np.mean([x == y for x, y in zip(a, b)]))


# ------------------------------------------------------------------ features
@pytest.mark.parametrize("kind", ["llama", "gpt2"])
@pytest.mark.parametrize("context", [1, 3, 6])
def test_word_features_equal_text_extractor_naive_words(tmp_path, kind, context):
    """Decoder features = TextExtractor(context_mode='naive', context_unit='words')."""
    from _fixtures_text_heads import bytelevel_tokenizer

    from brainalign.features import TextExtractor

    tok = bytelevel_tokenizer()
    path = _save(causal_lm(tok, kind=kind), tok, tmp_path / kind)
    dec = BeamSearchTextDecoder(str(path), layer=-1, context=context, batch_size=5)
    ours = dec.word_features(TEXT)
    events = pd.DataFrame(
        {"onset": 0.4 * np.arange(len(TEXT)), "duration": 0.0, "type": "Word", "text": TEXT}
    )
    ext = TextExtractor(
        model=str(path),
        context_mode="naive",
        context_unit="words",
        context=context,
        pooling="last",
        verbose=False,
    )
    ref = ext.compute(events).layers["layer_2"]
    assert ours.shape == (len(TEXT), 32)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5 * np.abs(ref).max())


def test_word_features_metaspace_tokenizer(tmp_path):
    from brainalign.features import TextExtractor

    tok = metaspace_tokenizer()
    path = _save(causal_lm(tok), tok, tmp_path / "meta")
    dec = BeamSearchTextDecoder(str(path), layer=1, context=4, batch_size=7)
    events = pd.DataFrame({"onset": np.arange(len(TEXT), dtype=float), "text": TEXT})
    ref = TextExtractor(
        model=str(path), context_mode="naive", context_unit="words", context=4, word_type=None
    ).compute(events)
    np.testing.assert_allclose(
        dec.word_features(TEXT),
        ref.layers["layer_1"],
        atol=1e-5 * np.abs(ref.layers["layer_1"]).max(),
    )
    words = [w for w, _ in dec.propose(["The"])]
    assert words and all(w and " " not in w for w in words)


# ------------------------------------------------------------------ proposals
def test_proposals_are_whole_words_capped_by_parameters(lm_path):
    dec = BeamSearchTextDecoder(str(lm_path), n_candidates=6, **SETTINGS)
    props = dec.propose(TEXT[:4])
    assert 1 <= len(props) <= 6
    probs = [p for _, p in props]
    assert probs == sorted(probs, reverse=True)
    assert all(w and not any(c.isspace() for c in w) for w, _ in props)
    one = dec.set_params(n_candidates=1).propose(TEXT[:4])
    assert one == props[:1]
    # top_p: a tiny nucleus keeps the most likely word only
    assert dec.set_params(n_candidates=6, top_p=1e-6).propose(TEXT[:4]) == props[:1]
    # one token per word
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(lm_path)
    for word, _ in dec.set_params(top_p=0.9, max_word_tokens=1).propose(TEXT[:4]):
        assert len(tok(" " + word, add_special_tokens=False)["input_ids"]) == 1


# ------------------------------------------------------------------ decoding
@pytest.mark.parametrize("scoring", ["likelihood", "correlation"])
def test_decoder_picks_the_planted_continuation_and_the_null_does_not(fitted, story, scoring):
    """Brain simulated from one LM-proposable text (never the LM's first choice)."""
    dec = fitted
    if scoring != fitted.scoring:
        dec = clone(fitted).set_params(scoring=scoring).fit(story.train_runs, story.train_Y)
    truth, times, Y = _planted(dec)
    out = dec.decode(Y, times)
    assert out.words == truth
    np.testing.assert_array_equal(out.times, times)
    rng = np.random.default_rng(1)
    null = [dec.decode(Y[rng.permutation(Y.shape[0])], times) for _ in range(3)]
    null_acc = np.mean([_accuracy(n.words, truth) for n in null])
    assert null_acc < 0.5  # chance: about 1 / n_candidates per word


def test_lm_context_grows_on_the_cache_and_is_rebuilt(fitted):
    """A context longer than the text gives the whole history (no rebuild): same as None."""
    _truth, times, Y = _planted(fitted, n_words=7, noise=1.0)
    whole = fitted.decode(Y, times)
    long = copy.deepcopy(fitted).set_params(lm_context=100)
    assert long.decode(Y, times).beams == whole.beams
    assert long.set_params(lm_context=None).decode(Y, times).beams == whole.beams
    short = long.set_params(lm_context=2).decode(Y, times)  # rebuilt at 3, 5 and 7 words
    assert len(short.words) == 7 and len(short.beams) == fitted.beam_width


@pytest.mark.parametrize("kind", ["gpt2"])
def test_planted_continuation_with_absolute_positions(tmp_path, kind):
    """GPT-2 (absolute positions): the masked right padding of the growing LM context."""
    from _fixtures_text_heads import bytelevel_tokenizer

    from brainalign.decoders import make_story_brain_data

    tok = bytelevel_tokenizer()
    path = _save(causal_lm(tok, kind=kind, seed=1), tok, tmp_path / kind)
    story = make_story_brain_data(
        str(path),
        n_runs=2,
        words_per_run=80,
        test_words=5,
        word_rate=1.0,
        tr=1.0,
        delays=(1.0, 2.0, 3.0),
        layer=1,
        context=3,
        n_voxels=40,
        n_components=8,
        snr=3.0,
    )
    dec = BeamSearchTextDecoder(str(path), beam_width=8, n_candidates=4, **SETTINGS)
    dec.fit(story.train_runs, story.train_Y)
    truth, times, Y = _planted(dec, n_words=8)
    assert dec.decode(Y, times).words == truth


@pytest.mark.parametrize("future_variance", [True, False])
def test_beam_score_is_the_encoding_log_likelihood(fitted, future_variance):
    """The final score equals the Gaussian log-likelihood of the full prediction."""
    from brainalign.alignment import lanczos_kernel, zscore_runs

    fitted = copy.deepcopy(fitted).set_params(future_variance=future_variance)
    assert fitted.word_cov_.shape == (3, 3, 60)
    _truth, times, Y = _planted(fitted, n_words=8, noise=0.5)
    out = fitted.decode(Y, times)
    assert [s for _, s in out.beams] == sorted((s for _, s in out.beams), reverse=True)
    assert len(out.beams) == fitted.beam_width and out.score == out.beams[0][1]
    # the score covers frames 0 .. the last one that a word reaches (here: all of them);
    # frames that no word reaches have the same prediction (the intercept) in every beam
    K = lanczos_kernel(np.arange(Y.shape[0], dtype=float)[:, None] - times[None], 1.0, 3)
    assert np.abs(K[-1 - 3 :]).sum() > 0
    y = zscore_runs(Y)[:, fitted.voxels_]
    for words, score in out.beams:
        pred = fitted.predict(words, times, Y.shape[0])[:, fitted.voxels_]
        ll = -0.5 * np.sum((y - pred) ** 2 / fitted.noise_var_)
        np.testing.assert_allclose(score, ll, rtol=1e-6)


def test_decode_with_a_fixed_word_rate(fitted):
    Y = np.random.default_rng(0).standard_normal((12, fitted.n_targets_))
    out = fitted.decode(Y, word_rate=0.5, start=1.0)
    np.testing.assert_allclose(out.times, [1.0, 3.0, 5.0, 7.0, 9.0, 11.0])
    assert len(out.words) == 6
    texts = out.window_texts([0.0, 6.0], 6.0)
    assert texts == [" ".join(out.words[:3]), " ".join(out.words[3:])]
    assert out.text == " ".join(out.words)


def test_fit_selects_voxels_with_signal(lm_path, story):
    dec = BeamSearchTextDecoder(str(lm_path), n_voxels=20, **SETTINGS)
    dec.fit(story.train_runs, story.train_Y)
    assert dec.voxels_.shape == (20,) and dec.noise_var_.shape == (20,)
    assert np.all(story.snr[dec.voxels_] > 0)  # the planted signal voxels score best
    assert dec.layer_ == 1 and dec.n_features_in_ == 32 and dec.n_targets_ == 60
    # events tables are accepted as runs
    ev = [
        pd.DataFrame({"onset": t, "duration": 0.0, "type": "Word", "text": w})
        for w, t in story.train_runs
    ]
    dec2 = BeamSearchTextDecoder(str(lm_path), n_voxels=20, **SETTINGS).fit(ev, story.train_Y)
    np.testing.assert_allclose(dec2.encoder_.coef_, dec.encoder_.coef_)


def test_clone_and_pickle(fitted):
    _truth, times, Y = _planted(fitted, n_words=5)
    again = pickle.loads(pickle.dumps(fitted))
    assert "_lm_state" not in again.__dict__
    assert again.decode(Y, times).words == fitted.decode(Y, times).words
    assert clone(fitted).get_params()["beam_width"] == fitted.beam_width


# ------------------------------------------------------------------ errors
def test_fit_errors(lm_path, story):
    dec = BeamSearchTextDecoder(str(lm_path), **SETTINGS)
    runs, Ys = story.train_runs, story.train_Y
    with pytest.raises(ValueError, match=r"same number of runs.*2 stimulus runs and 1 brain"):
        dec.fit(runs, Ys[:1])
    with pytest.raises(TypeError, match=r"one \(n_frames, n_targets\) array per run"):
        dec.fit(runs[:1], Ys[0])
    with pytest.raises(ValueError, match="brain and stimulus do not match"):
        dec.fit(runs, [Ys[0][:20], Ys[1]])
    with pytest.raises(ValueError, match="same targets"):
        dec.fit(runs, [Ys[0], Ys[1][:, :10]])
    with pytest.raises(TypeError, match=r"`stimuli\[0\]` must be an events DataFrame"):
        dec.fit([42, runs[1]], Ys)
    with pytest.raises(ValueError, match="one time per word"):
        dec.fit([(runs[0][0], runs[0][1][:-1]), runs[1]], Ys)
    with pytest.raises(ValueError, match="without spaces"):
        dec.fit([(["two words", *runs[0][0][1:]], runs[0][1]), runs[1]], Ys)

    class Nonlinear:
        def get_params(self, deep=True):
            return {}

        def fit(self, X, Y, groups=None):
            return self

        def predict(self, X):
            return np.zeros((X.shape[0], 60))

    with pytest.raises(TypeError, match="must be linear with coef_"):
        BeamSearchTextDecoder(str(lm_path), encoder=Nonlinear(), **SETTINGS).fit(runs, Ys)


@pytest.mark.parametrize(
    ("params", "exc", "match"),
    [
        ({"beam_width": 0}, ValueError, "`beam_width` must be an integer >= 1; got 0"),
        ({"context": 1.5}, ValueError, "`context` must be an integer"),
        ({"scoring": "bleu"}, ValueError, "`scoring` must be one of"),
        ({"top_p": 0.0}, ValueError, r"`top_p` must be in \(0, 1\]"),
        ({"min_ratio": 2.0}, ValueError, r"`min_ratio` must be in \[0, 1\]"),
        ({"n_voxels": 0}, ValueError, "`n_voxels` must be None or an integer"),
        ({"layer": 9}, IndexError, "`layer` must index the model's 3 hidden states"),
        ({"bos": "sometimes"}, ValueError, "`bos` must be one of"),
        ({"lm": 3.0}, TypeError, "`lm` must be a model folder"),
    ],
)
def test_parameter_errors(lm_path, params, exc, match):
    dec = BeamSearchTextDecoder(**{"lm": str(lm_path), **SETTINGS, **params})
    with pytest.raises(exc, match=match):
        dec.propose([])


def test_decode_errors(fitted, lm_path):
    Y = np.zeros((14, fitted.n_targets_))
    with pytest.raises(NotFittedError):
        BeamSearchTextDecoder(str(lm_path), **SETTINGS).decode(Y, np.arange(3.0))
    with pytest.raises(ValueError, match=r"must have 60 targets \(voxels\), as during fit"):
        fitted.decode(Y[:, :50], np.arange(3.0))
    with pytest.raises(ValueError, match="exactly one of `word_times`"):
        fitted.decode(Y)
    with pytest.raises(ValueError, match="exactly one of `word_times`"):
        fitted.decode(Y, np.arange(3.0), word_rate=1.0)
    with pytest.raises(ValueError, match="non-decreasing"):
        fitted.decode(Y, [1.0, 3.0, 2.0])
    with pytest.raises(ValueError, match="brain and stimulus do not match"):
        fitted.decode(Y, np.arange(3.0) + 30.0)
    with pytest.raises(ValueError, match="`word_rate` must be > 0"):
        fitted.decode(Y, word_rate=-1.0)
    with pytest.raises(ValueError, match="without spaces"):
        fitted.predict(["a b"], [0.0], 5)
    with pytest.raises(ValueError, match="at least one word"):
        fitted.word_features([])


# ------------------------------------------------------------------ slow: real SmolLM2
@pytest.mark.slow
def test_smollm2_beam_search_beats_its_null_on_semisynthetic_story(capsys):
    """Real SmolLM2 features and proposals; BOLD simulated from held-out real sentences."""
    from brainalign.decoders import (
        evaluate_text_decoder,
        make_story_brain_data,
    )

    data = make_story_brain_data(
        n_runs=7, words_per_run=250, test_words=80, word_rate=1.0, n_voxels=1000, snr=1.0, seed=0
    )
    dec = BeamSearchTextDecoder(
        layer=data.layer,
        context=data.context,
        tr=data.tr,
        delays=data.delays,
        beam_width=5,
        n_candidates=5,
        prompt="It was an ordinary day.",  # a neutral start (the null has it too)
    ).fit(data.train_runs, data.train_Y)
    window = 10.0
    starts = np.arange(0.0, data.test_times[-1] + 1e-9, window)
    refs_all = [
        " ".join(w for w, t in zip(data.test_words, data.test_times) if s <= t < s + window)
        for s in starts
    ]
    keep = [i for i, r in enumerate(refs_all) if r]
    refs = [refs_all[i] for i in keep]

    decoded = []

    def decode(Y):
        out = dec.decode(Y, data.test_times)
        decoded.append(out.text)
        texts = out.window_texts(starts, window)
        return [texts[i] for i in keep]

    scores = evaluate_text_decoder(decode, data.test_Y, refs, n_null=2, embedder=None, seed=0)
    with capsys.disabled():
        print(f"\nbeam search (SmolLM2), held-out run of {len(data.test_words)} words")
        print("  truth:  ", " ".join(data.test_words))
        print("  decoded:", decoded[0])
        print("  null:   ", decoded[1])
        for s in scores:
            print(" ", s)
    by = {(s.metric, s.null_kind): s for s in scores}
    for kind in ("permuted-brain", "noise"):
        assert by["bleu1", kind].score > by["bleu1", kind].null_mean
        assert by["wer", kind].score < by["wer", kind].null_mean
