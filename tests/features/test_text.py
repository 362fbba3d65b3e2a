"""TextExtractor on tiny random-weight models built in memory (Llama, GPT-2, BERT)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from _fixtures_text import (
    STORY,
    bpe_tokenizer,
    layer_close,
    make_word_events,
    rowwise_corr,
    save_tiny_model,
    story_words,
    tiny_model,
    torch_one_thread,  # noqa: F401 (autouse fixture)
    wordpiece_tokenizer,
)

from brainalign.exceptions import ConfigError
from brainalign.features import (
    TextConfig,
    TextExtractor,
    align_tokens,
    is_causal_model,
    join_words,
    load_causal_lm,
    load_text_model,
)

TOL = 1e-5  # max |strided - naive| <= TOL * max |naive|, per layer


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    tok = bpe_tokenizer("metaspace")
    return save_tiny_model("llama", tmp_path_factory.mktemp("llama"), tok)


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory):
    tok = bpe_tokenizer("bytelevel")
    return save_tiny_model("gpt2", tmp_path_factory.mktemp("gpt2"), tok)


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    tok = wordpiece_tokenizer(cls_sep=True)
    return save_tiny_model("bert", tmp_path_factory.mktemp("bert"), tok, max_positions=24)


def _assert_same(a, b, tol=TOL):
    assert a.layer_names == b.layer_names
    for name in a.layer_names:
        err = layer_close(a.layers[name], b.layers[name])
        assert err <= tol, f"{name}: max abs diff {err:.2e} x max abs value"


# --------------------------------------------------------------------------- shapes and times
@pytest.mark.parametrize("kind", ["llama", "gpt2"])
def test_causal_shapes_times_layers(kind, llama_dir, gpt2_dir):
    folder = llama_dir if kind == "llama" else gpt2_dir
    words = story_words()
    events = make_word_events(words)
    feats = TextExtractor(model=str(folder), context=64).extract(events)
    word_rows = events[events["type"] == "Word"]
    assert feats.n_items == len(words)
    np.testing.assert_array_equal(feats.times, word_rows["onset"].to_numpy())
    np.testing.assert_array_equal(feats.durations, word_rows["duration"].to_numpy())
    assert feats.layer_names == [f"layer_{i}" for i in range(4)]  # 3 layers + embeddings
    for arr in feats.layers.values():
        assert arr.shape == (len(words), 32)
        assert arr.dtype == np.float32
        assert np.all(np.isfinite(arr))
    # different words give different vectors at the last layer
    assert np.unique(np.round(feats.layers["layer_3"], 5), axis=0).shape[0] > len(words) // 2


def test_layer_selection(llama_dir):
    events = make_word_events(story_words(20))
    full = TextExtractor(model=str(llama_dir)).extract(events)
    some = TextExtractor(model=str(llama_dir), layers=[0, -1]).extract(events)
    assert some.layer_names == ["layer_0", "layer_3"]
    np.testing.assert_array_equal(some.layers["layer_3"], full.layers["layer_3"])


# --------------------------------------------------------------------------- pooling by hand
def test_last_and_mean_pooling_hand_checked():
    """Words split into known subwords; pooled vectors equal the hand-picked token states."""
    tok = wordpiece_tokenizer()
    model = tiny_model("llama", len(tok))
    words = ["the", "cat", "unbelievable,", "dog.", "red", "ran"]
    ids = tok(" ".join(words), add_special_tokens=False)["input_ids"]
    pieces = tok.convert_ids_to_tokens(ids)
    assert pieces == ["the", "cat", "un", "##believ", "##able", ",", "dog", ".", "red", "ran"]
    groups = [[0], [1], [2, 3, 4, 5], [6, 7], [8], [9]]  # tokens of each word, by hand
    with torch.no_grad():
        hidden = model(torch.tensor([ids]), output_hidden_states=True).hidden_states
    ext = TextExtractor(
        model="hand", backbone=model, tokenizer=tok, bos="never", pooling=["last", "mean"]
    )
    feats = ext.extract(make_word_events(words))
    assert len(feats.layer_names) == 2 * len(hidden)
    for i, h in enumerate(hidden):
        h = h[0].numpy()
        last = np.stack([h[g[-1]] for g in groups])
        mean = np.stack([h[g].mean(0) for g in groups])
        np.testing.assert_allclose(feats.layers[f"layer_{i}.last"], last, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(feats.layers[f"layer_{i}.mean"], mean, rtol=1e-5, atol=1e-6)
    # last-token pooling of "unbelievable," is the comma's state, not the first subword's
    assert not np.allclose(feats.layers["layer_2.last"][2], hidden[2][0, 2].numpy())


def test_bos_policy():
    tok = wordpiece_tokenizer()
    model = tiny_model("llama", len(tok))
    words = ["the", "cat", "sat", "."]
    events = make_word_events(words)
    never = TextExtractor(model="m", backbone=model, tokenizer=tok, bos="never")
    always = TextExtractor(model="m", backbone=model, tokenizer=tok, bos="always")
    auto = TextExtractor(model="m", backbone=model, tokenizer=tok)  # tokenizer adds no BOS
    with torch.no_grad():
        ids = [tok.bos_token_id, *tok(" ".join(words), add_special_tokens=False)["input_ids"]]
        h = model(torch.tensor([ids]), output_hidden_states=True).hidden_states[-1][0].numpy()
    np.testing.assert_allclose(always.extract(events).layers["layer_3"], h[1:], atol=1e-5)
    _assert_same(never.extract(events), auto.extract(events), tol=0)
    assert not np.allclose(never.extract(events).layers["layer_3"], h[1:], atol=1e-3)


# --------------------------------------------------------------------------- strided vs naive
@pytest.mark.parametrize("kind", ["llama", "gpt2"])
@pytest.mark.parametrize("bos", ["always", "never"])
def test_strided_equals_naive_when_text_fits(kind, bos, llama_dir, gpt2_dir):
    folder = str(llama_dir if kind == "llama" else gpt2_dir)
    events = make_word_events(story_words())
    common = {"model": folder, "context": 400, "bos": bos, "pooling": ["last", "mean"]}
    strided = TextExtractor(**common, context_mode="strided", batch_size=2)
    naive = TextExtractor(**common, context_mode="naive", batch_size=5)
    fs, fn = strided.extract(events), naive.extract(events)
    _assert_same(fn, fs)
    n_words = fn.n_items
    assert strided.n_forward_calls == 1  # the whole text is one window
    assert naive.n_forward_calls == -(-n_words // 5)


def test_padding_does_not_change_features(llama_dir):
    """Batched, right-padded windows give the same features as one window per forward."""
    events = make_word_events(story_words(40))
    common = {"model": str(llama_dir), "context": 24, "context_mode": "naive"}
    one = TextExtractor(**common, batch_size=1).extract(events)
    padded = TextExtractor(**common, batch_size=7).extract(events)
    _assert_same(one, padded)
    common["context_mode"] = "strided"
    _assert_same(
        TextExtractor(**common, batch_size=1).extract(events),
        TextExtractor(**common, batch_size=4).extract(events),
    )


def test_word_budget_fits_equals_naive(gpt2_dir):
    events = make_word_events(story_words(30))
    common = {"model": str(gpt2_dir), "context": 40, "context_unit": "words"}
    _assert_same(
        TextExtractor(**common, context_mode="naive").extract(events),
        TextExtractor(**common, context_mode="strided").extract(events),
    )


@pytest.mark.parametrize(("unit", "context", "stride"), [("tokens", 24, 12), ("words", 10, 5)])
def test_strided_windows_bound_the_context(unit, context, stride, llama_dir, record_property):
    """Each word sees between the budget and budget + stride; report agreement with naive."""
    words = story_words(100)
    events = make_word_events(words)
    common = {"model": str(llama_dir), "context": context, "context_unit": unit}
    strided = TextExtractor(**common, stride=stride)
    naive = TextExtractor(**common, context_mode="naive")
    tok = load_text_model(llama_dir)[1]
    text, spans = join_words(words)
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    first, last = align_tokens(enc["offset_mapping"], spans)
    windows = strided.context_windows(events)
    served = np.concatenate([w for _, _, w in windows])
    np.testing.assert_array_equal(served, np.arange(len(words)))  # each word once, in order
    naive_windows = {int(w[0]): (a, b) for a, b, w in naive.context_windows(events)}
    same_context = np.zeros(len(words), bool)
    for start, stop, ws in windows:
        assert stop == last[ws[-1]] + 1
        for w in ws:
            n_start = naive_windows[int(w)][0]
            assert start <= n_start  # at least the naive context
            if unit == "tokens":
                assert last[w] + 1 - start <= context + stride
            else:
                first_whole = np.searchsorted(first, start)
                assert w - first_whole + 1 <= context + stride
            same_context[w] = start == n_start
    assert 1 < len(windows) < len(words) // 3
    fs, fn = strided.extract(events), naive.extract(events)
    # words whose window starts where their naive context starts are exact...
    assert same_context.sum() >= context // 2 if unit == "words" else same_context.any()
    for name in fn.layer_names:
        err = layer_close(fn.layers[name][same_context], fs.layers[name][same_context])
        assert err <= TOL, name
    # ... the others are the documented approximation: report the agreement.
    for name in ("layer_0", "layer_2", "layer_3"):
        r = rowwise_corr(fn.layers[name], fs.layers[name])
        record_property(f"{unit}_{name}_mean_corr", float(r.mean()))
        print(f"{unit} budget {context}, stride {stride}: {name} mean per-word r = {r.mean():.4f}")
    # layer_0 of a RoPE model has no position information: equal everywhere
    assert layer_close(fn.layers["layer_0"], fs.layers["layer_0"]) <= TOL
    assert strided.n_forward_calls < naive.n_forward_calls


def test_max_positions(tmp_path):
    tok = bpe_tokenizer("metaspace")
    folder = save_tiny_model("llama", tmp_path / "m", tok, max_positions=16)
    events = make_word_events(story_words(60))
    with pytest.raises(ValueError, match=r"`context=16` tokens does not fit the model: .* 15"):
        TextExtractor(model=str(folder), context=16, bos="always").extract(events)
    ext = TextExtractor(model=str(folder), context=100, context_unit="words", bos="always")
    windows = ext.context_windows(events)
    assert max(stop - start for start, stop, _ in windows) <= 15
    assert ext.extract(events).n_items == 60


# --------------------------------------------------------------------------- bidirectional
def test_bert_sentence_mode_mean_pooling(bert_dir):
    words = ["the", "cat", "sat.", "a", "big", "red", "dog", "ran."]
    tok = load_text_model(bert_dir)[1]
    model = load_text_model(bert_dir)[0]
    ext = TextExtractor(model=str(bert_dir), sentence_embedding=True)
    assert ext.context_mode == "sentence" and ext.poolings == ["mean"]
    feats = ext.extract(make_word_events(words))
    assert feats.layer_names == ["layer_0", "layer_1", "layer_2", "sentence"]
    # sentence 2 encoded alone: [CLS] a big red dog ran . [SEP]
    enc = tok("a big red dog ran.", return_tensors="pt")
    assert tok.convert_ids_to_tokens(enc["input_ids"][0]) == [
        "[CLS]", "a", "big", "red", "dog", "ran", ".", "[SEP]",
    ]  # fmt: skip
    with torch.no_grad():
        hidden = model(**enc, output_hidden_states=True).hidden_states
    groups = [[1], [2], [3], [4], [5, 6]]
    for i, h in enumerate(hidden):
        expected = np.stack([h[0, g].numpy().mean(0) for g in groups])
        np.testing.assert_allclose(feats.layers[f"layer_{i}"][3:], expected, atol=1e-5)
    np.testing.assert_allclose(
        feats.layers["sentence"][3:], np.tile(hidden[-1][0].numpy().mean(0), (5, 1)), atol=1e-5
    )
    assert np.ptp(feats.layers["sentence"][:3], axis=0).max() == 0  # one vector per sentence


def test_bert_window_mode_and_long_sentences(bert_dir):
    words = ["the", "big", "red", "dog", "ran"] * 12  # one 60-word sentence, 24 positions
    events = make_word_events(words)
    ext = TextExtractor(model=str(bert_dir), context_mode="sentence")
    feats = ext.extract(events)  # split between words to fit the model
    assert ext.n_forward_calls >= 1
    assert np.all(np.abs(feats.layers["layer_2"]).sum(1) > 0)
    win = TextExtractor(model=str(bert_dir), context_mode="window", context=5, context_unit="words")
    f5 = win.extract(events)
    # windows of 5 words repeat the same 5 words: identical features window after window
    np.testing.assert_allclose(f5.layers["layer_2"][:5], f5.layers["layer_2"][5:10], atol=1e-6)
    tokens = TextExtractor(model=str(bert_dir), context_mode="window", context=10)
    assert tokens.extract(events).n_items == 60


def test_causal_model_in_sentence_mode(llama_dir):
    words = STORY.split()[:30]
    events = make_word_events(words)
    feats = TextExtractor(model=str(llama_dir), context_mode="sentence").extract(events)
    assert feats.n_items == 30
    # the first sentence alone gives the same features as in the text
    n_first = next(i for i, w in enumerate(words) if w.endswith(".")) + 1
    alone = TextExtractor(model=str(llama_dir), context_mode="sentence").extract(
        make_word_events(words[:n_first])
    )
    _assert_same(alone, _rows(feats, n_first))


def _rows(feats, n):
    from brainalign.data import FeatureSet

    return FeatureSet(feats.times[:n], {k: v[:n] for k, v in feats.layers.items()})


def test_sentence_band_with_causal_mode(llama_dir):
    events = make_word_events(STORY.split()[:25])
    feats = TextExtractor(model=str(llama_dir), sentence_embedding=True).extract(events)
    assert "sentence" in feats.layer_names and feats.layers["sentence"].shape == (25, 32)


# --------------------------------------------------------------------------- loading
def test_loaders_and_causal_detection(llama_dir, bert_dir, tmp_path):
    model, tok = load_text_model(llama_dir)
    assert type(model).__name__ == "LlamaModel" and tok.is_fast
    assert is_causal_model(model.config)
    assert not is_causal_model(load_text_model(bert_dir)[0].config)
    lm, _ = load_causal_lm(llama_dir)
    assert type(lm).__name__ == "LlamaForCausalLM"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r"has no config\.json"):
        load_text_model(empty)
    (tmp_path / "weights.bin").write_bytes(b"0")
    with pytest.raises(ValueError, match=r"must be a model folder or a \.gguf file"):
        load_text_model(tmp_path / "weights.bin")


def test_import_is_light():
    """Every public name resolves without loading torch, transformers, PyAV, PIL or h5py."""
    heavy = ("torch", "transformers", "tokenizers", "av", "PIL", "h5py", "faster_whisper")
    code = (
        "import sys, brainalign.features as f\n"
        "for name in f.__all__: getattr(f, name)\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- errors
def test_error_non_causal_model_with_causal_mode(bert_dir):
    events = make_word_events(["the", "cat"])
    with pytest.raises(ValueError, match=r"`context_mode='strided'` needs a causal language"):
        TextExtractor(model=str(bert_dir), context_mode="strided").extract(events)
    with pytest.raises(ValueError, match=r"`context_mode='naive'` needs a causal"):
        TextExtractor(model=str(bert_dir), context_mode="naive").compute(events)


def test_error_layer_out_of_range(llama_dir):
    events = make_word_events(["the", "cat"])
    with pytest.raises(IndexError, match=r"`layers` index 4 is out of range: .* 4 hidden states"):
        TextExtractor(model=str(llama_dir), layers=[4]).extract(events)
    with pytest.raises(IndexError, match=r"index -5 is out of range"):
        TextExtractor(model=str(llama_dir), layers=[-5]).extract(events)


def test_error_model_path_missing(tmp_path):
    events = make_word_events(["the", "cat"])
    with pytest.raises(FileNotFoundError, match=r"`model` path .*nope.* does not exist"):
        TextExtractor(model=str(tmp_path / "nope")).extract(events)


def test_error_unknown_config_key():
    with pytest.raises(
        ConfigError, match=r"(?s)invalid TextConfig: .*contxt.*Extra inputs.*Valid keys"
    ):
        TextExtractor(model="m", contxt=5)
    with pytest.raises(ConfigError, match=r"context"):
        TextExtractor(model="m", context=0)
    with pytest.raises(ValueError, match=r"extra"):
        TextConfig(model="m", windw=3)


def test_error_bad_words(llama_dir):
    ext = TextExtractor(model=str(llama_dir))
    events = make_word_events(["the", "cat", "sat"])
    with pytest.raises(ValueError, match=r"the text is empty: `events` has no rows of type"):
        ext.extract(events[events["type"] != "Word"])
    nan = events.copy()
    nan.loc[2, "onset"] = np.nan
    with pytest.raises(ValueError, match=r"every word needs a finite onset .* word 1 \('cat'"):
        ext.extract(nan)
    back = events.copy()
    back.loc[3, "onset"] = 0.1
    with pytest.raises(ValueError, match=r"word onsets must be non-decreasing"):
        ext.extract(back)
    blank = events.copy()
    blank.loc[2, "text"] = "  "
    with pytest.raises(ValueError, match=r"must hold a non-empty word"):
        ext.extract(blank)
    with pytest.raises(ValueError, match=r"`bos='always'` but the tokenizer"):
        tok = bpe_tokenizer("metaspace")
        tok.bos_token = None
        model = tiny_model("llama", len(tok))
        model.config.bos_token_id = None
        TextExtractor(model="m", backbone=model, tokenizer=tok, bos="always").extract(events)
    with pytest.raises(ValueError, match="must be given together"):
        TextExtractor(model="m", backbone=object())


@pytest.mark.parametrize("mode", ["naive", "strided", "sentence"])
def test_compute_a_subset_of_words(mode, llama_dir):
    """Spot checks: `words=` gives the same rows as the whole computation, with fewer forwards."""
    events = make_word_events(story_words(80))
    common = {"model": str(llama_dir), "context": 20, "context_mode": mode}
    full_ext, sub_ext = TextExtractor(**common), TextExtractor(**common)
    full = full_ext.compute(events)
    subset = [3, 40, 79]
    sub = sub_ext.compute(events, words=subset)
    np.testing.assert_array_equal(sub.times, full.times[subset])
    for name in full.layer_names:
        assert layer_close(full.layers[name][subset], sub.layers[name]) <= TOL
    assert sub_ext.n_forward_calls <= full_ext.n_forward_calls
    with pytest.raises(IndexError, match=r"`words` must be non-empty indices in \[0, 80\)"):
        sub_ext.compute(events, words=[80])


def test_select_sentence_band_by_name(bert_dir):
    events = make_word_events(["the", "cat", "sat.", "a", "dog", "ran."])
    ext = TextExtractor(model=str(bert_dir), sentence_embedding=True, layers=[-1, "sentence"])
    assert ext.extract(events).layer_names == ["layer_2", "sentence"]


def test_backbone_on_another_device_is_refused():
    tok = wordpiece_tokenizer()
    model = tiny_model("llama", len(tok)).to("meta")
    with pytest.raises(ValueError, match=r"`backbone` is on device 'meta' but `device` is 'cpu'"):
        TextExtractor(model="m", backbone=model, tokenizer=tok)


def test_revision_reaches_the_hub_loader(monkeypatch):
    """A hub id is loaded at the configured revision (nothing is downloaded here)."""
    import transformers

    seen = {}

    def fake(name, **kwargs):
        seen.update(name=name, **kwargs)
        raise OSError("stop")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", fake)
    with pytest.raises(OSError, match="stop"):
        load_text_model("org/model", local_files_only=False, revision="v1.0")
    assert seen == {"name": "org/model", "local_files_only": False, "revision": "v1.0"}


def test_read_word_events_keeps_words_and_names_a_missing_column(tmp_path):
    from brainalign.features import read_word_events

    path = tmp_path / "events.tsv"
    path.write_text("onset\tduration\ttype\ttext\n0.5\tn/a\tWord\tNA\n1.0\t0.2\tWord\tnull\n")
    df = read_word_events(path)
    assert df["text"].tolist() == ["NA", "null"]
    assert np.isnan(df["duration"][0]) and df["onset"].tolist() == [0.5, 1.0]
    with pytest.raises(ValueError, match=r"must have a 'word' column .* got columns \['onset'"):
        read_word_events(path, text_column="word")
