"""Tiny text models and tokenizers built in memory (no network, no downloaded files).

- ``wordpiece_tokenizer()``: a hand-written WordPiece vocabulary, so that the subwords of each
  word are known in advance (``"unbelievable,"`` → ``un ##believ ##able ,``).
- ``bpe_tokenizer(kind)``: a BPE trained in memory on :data:`STORY`, byte-level (GPT-2 style:
  ``"Ġcat"`` tokens whose offsets include the preceding space) or Metaspace (SentencePiece
  style ``"▁cat"``).
- ``save_tiny_model(kind, folder, tokenizer)``: a random-weight GPT-2, Llama or BERT config
  (seeded) saved with its tokenizer as a model folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(autouse=True, scope="module")
def torch_one_thread():
    """Tiny models run fastest on one thread; two threads stall on a busy 2-core machine."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


# Original prose written for these tests.
STORY = (
    "The lighthouse keeper woke before dawn and climbed the narrow stairs. "
    "Outside, the sea was grey and restless, and a small boat rocked near the harbour wall. "
    "She wrote the weather in her notebook: wind from the north, rain by noon. "
    "Her brother had promised to bring bread, lamp oil and the newspaper, "
    "but the ferry was late again. "
    "Was it the fog? She did not know. "
    "At nine o'clock a bell rang twice, and the gulls rose from the rocks like paper. "
    "The keeper laughed, put on her coat, and walked down to meet the boat."
)

HAND_VOCAB = [
    "[PAD]",
    "[UNK]",
    "[BOS]",
    "[CLS]",
    "[SEP]",
    "the",
    "cat",
    "un",
    "##believ",
    "##able",
    "dog",
    "sat",
    ",",
    ".",
    "ran",
    "a",
    "big",
    "red",
    "##s",
]


def story_words(n: int | None = None) -> list[str]:
    words = STORY.split()
    if n is None:
        return words
    return (words * (n // len(words) + 1))[:n]


def make_word_events(words, *, start: float = 0.5, step: float = 0.3, extra_rows: bool = True):
    """An events table with one Word row per word (and a few non-word rows)."""
    import pandas as pd

    n = len(words)
    df = pd.DataFrame(
        {
            "onset": start + step * np.arange(n),
            "duration": np.full(n, 0.8 * step),
            "type": "Word",
            "text": list(words),
        }
    )
    if extra_rows:
        other = pd.DataFrame(
            {
                "onset": [0.0, start + step * n],
                "duration": [0.0, 0.0],
                "type": "Sound",
                "text": ["", ""],
            }
        )
        df = pd.concat([other.iloc[:1], df, other.iloc[1:]], ignore_index=True)
    return df


def wordpiece_tokenizer(*, cls_sep: bool = False):
    """A fast tokenizer over :data:`HAND_VOCAB` (BERT pre-tokenization: punctuation split)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(HAND_VOCAB)}
    tk = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    kwargs = {"bos_token": "[BOS]", "unk_token": "[UNK]", "pad_token": "[PAD]"}
    if cls_sep:
        tk.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 3), ("[SEP]", 4)]
        )
        kwargs.update(cls_token="[CLS]", sep_token="[SEP]")
    return PreTrainedTokenizerFast(tokenizer_object=tk, **kwargs)


def bpe_tokenizer(kind: str = "bytelevel", *, vocab_size: int = 330):
    """A BPE tokenizer trained in memory on :data:`STORY`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if kind == "bytelevel":
        tk = Tokenizer(models.BPE())
        tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tk.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
        special = ["<|endoftext|>"]
    elif kind == "metaspace":
        tk = Tokenizer(models.BPE(unk_token="<unk>"))
        tk.pre_tokenizer = pre_tokenizers.Metaspace()
        tk.decoder = decoders.Metaspace()
        alphabet = []
        special = ["<unk>", "<s>"]
    else:
        raise ValueError(kind)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special,
        initial_alphabet=alphabet,
        show_progress=False,
    )
    tk.train_from_iterator([STORY] * 4, trainer=trainer)
    if kind == "bytelevel":
        return PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<|endoftext|>")
    return PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", unk_token="<unk>")


def tiny_model(kind: str, vocab_size: int, *, max_positions: int = 512, seed: int = 0):
    """A random-weight model (eval mode) of ``kind`` in {"llama", "gpt2", "bert"}."""
    import torch
    from transformers import BertConfig, BertModel, GPT2Config, GPT2Model, LlamaConfig, LlamaModel

    torch.manual_seed(seed)
    if kind == "llama":
        cfg = LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=3,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=max_positions,
            bos_token_id=0,
            eos_token_id=0,
            pad_token_id=0,
        )
        model = LlamaModel(cfg)
    elif kind == "gpt2":
        cfg = GPT2Config(
            vocab_size=vocab_size,
            n_embd=32,
            n_layer=3,
            n_head=4,
            n_positions=max_positions,
            bos_token_id=0,
            eos_token_id=0,
        )
        model = GPT2Model(cfg)
    elif kind == "bert":
        cfg = BertConfig(
            vocab_size=vocab_size,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=max_positions,
            pad_token_id=0,
        )
        model = BertModel(cfg)
    else:
        raise ValueError(kind)
    return model.eval()


def save_tiny_model(kind: str, folder: Path, tokenizer, *, max_positions: int = 512) -> Path:
    """Save a tiny ``kind`` model and ``tokenizer`` into ``folder``; returns the folder."""
    from transformers.utils import logging as hf_logging

    model = tiny_model(kind, len(tokenizer), max_positions=max_positions)
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    finally:
        hf_logging.enable_progress_bar()
    return Path(folder)


def layer_close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-5) -> float:
    """max |a - b| / max |a| (the tolerance unit of the naive-vs-strided checks)."""
    return float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-30))


def rowwise_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``a`` with the same row of ``b``."""
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    return (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))
