"""Text metrics on hand-checked sentence pairs: BLEU-1, METEOR (exact match), WER, MiniLM."""

from __future__ import annotations

import math

import numpy as np
import pytest

from brainalign.evaluation import bleu1, embedding_similarity, meteor, wer
from brainalign.evaluation._text_metrics import tokenize

REF = "The cat sat on the mat."


# --------------------------------------------------------------------------------------------
# tokenisation
# --------------------------------------------------------------------------------------------
def test_tokenize():
    assert tokenize(REF) == ["the", "cat", "sat", "on", "the", "mat"]
    assert tokenize("Don't stop, NOW!") == ["don't", "stop", "now"]
    assert tokenize("Don't stop, NOW!", normalize=False) == ["Don't", "stop,", "NOW!"]


# --------------------------------------------------------------------------------------------
# BLEU-1
# --------------------------------------------------------------------------------------------
def test_bleu1_hand_checked():
    # clipped precision: "the" x7 but only 2 in the reference -> 2/7; 7 > 6 words -> BP 1
    assert bleu1(REF, "the the the the the the the") == pytest.approx(2 / 7)
    # precision 1 on 3 words, reference 6 words: BP = exp(1 - 6/3)
    assert bleu1(REF, "the cat sat") == pytest.approx(math.exp(-1))
    assert bleu1(REF, "the cat sat on the mat") == 1.0
    assert bleu1(REF, "dogs run far") == 0.0
    assert bleu1(REF, "") == 0.0
    # same length: BP = exp(0) = 1; 4 of 6 words match
    assert bleu1(REF, "a dog sat on the mat") == pytest.approx(4 / 6)


def test_bleu1_multiple_references_and_averages():
    refs = [["the cat sat on the mat", "there is a cat on the mat"], "a b c d"]
    hyps = ["the cat the cat on the mat", "a b"]
    # pair 1: counts the:3 (max ref 2) cat:2 (1) on:1 mat:1 -> 2+1+1+1 = 5 of 7; shortest
    # reference 6 < 7 -> BP 1. pair 2: 2 of 2, BP exp(1 - 4/2)
    per_pair = bleu1(refs, hyps, average="none")
    np.testing.assert_allclose(per_pair, [5 / 7, math.exp(-1)])
    assert bleu1(refs, hyps, average="mean") == pytest.approx((5 / 7 + math.exp(-1)) / 2)
    # corpus: matches 7 of 9 hypothesis words; lengths 9 vs 6 + 4 = 10 -> BP exp(1 - 10/9)
    assert bleu1(refs, hyps) == pytest.approx(7 / 9 * math.exp(1 - 10 / 9))


# --------------------------------------------------------------------------------------------
# METEOR
# --------------------------------------------------------------------------------------------
def test_meteor_hand_checked():
    # 3 matches: P = 1, R = 1/2, Fmean = P R / (0.9 P + 0.1 R) = 0.5 / 0.95.
    # nltk's greedy alignment (last hypothesis word first, last equal reference word)
    # aligns "the" to the second "the" of the reference: chunks {the}, {cat sat} = 2,
    # penalty = 0.5 (2/3)^3
    fmean = 0.5 / 0.95
    expected = (1 - 0.5 * (2 / 3) ** 3) * fmean
    assert meteor(REF, "the cat sat") == pytest.approx(expected)
    # all 6 words match in a different order: P = R = 1; the greedy alignment gives
    # 5 chunks (h->r: 0->3, 1->0, 2->5, 3->4, 4->1, 5->2), penalty 0.5 (5/6)^3
    assert meteor(REF, "on the mat the cat sat") == pytest.approx(1 - 0.5 * (5 / 6) ** 3)
    # identical: one chunk of 6 words
    assert meteor(REF, "the cat sat on the mat") == pytest.approx(1 - 0.5 / 6**3)
    assert meteor(REF, "dogs run far") == 0.0
    # no stem / synonym stage: "cats" does not match "cat"
    assert meteor("cat", "cats") == 0.0


def test_meteor_best_reference_and_mean():
    refs = [["dogs run", "the cat sat on the mat"], "a b"]
    hyps = ["the cat sat on the mat", "a b"]
    scores = meteor(refs, hyps, average="none")
    np.testing.assert_allclose(scores, [1 - 0.5 / 216, 1 - 0.5 / 8])
    assert meteor(refs, hyps) == pytest.approx(np.mean(scores))
    # parameters reach the formula: gamma = 0 removes the fragmentation penalty
    assert meteor(REF, "on the mat the cat sat", gamma=0.0) == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------
# WER
# --------------------------------------------------------------------------------------------
def test_wer_hand_checked():
    # "sat" -> "sit" (substitution) and the second "the" deleted: 2 errors / 6 words
    assert wer(REF, "the cat sit on mat") == pytest.approx(2 / 6)
    assert wer("a b", "a x b y") == pytest.approx(1.0)  # two insertions
    assert wer("a b c", "") == pytest.approx(1.0)  # three deletions
    assert wer(REF, "the cat sat on the mat") == 0.0
    assert wer("a b", "c d e f g") == pytest.approx(5 / 2)  # 2 subs + 3 insertions
    refs, hyps = [REF, "a b c"], ["the cat sit on mat", "a b c"]
    assert wer(refs, hyps) == pytest.approx(2 / 9)  # pooled: 2 errors, 9 reference words
    assert wer(refs, hyps, average="mean") == pytest.approx((2 / 6 + 0) / 2)
    np.testing.assert_allclose(wer(refs, hyps, average="none"), [2 / 6, 0.0])
    # normalize=False keeps case and punctuation, as jiwer's default does
    assert wer("The cat.", "the cat", normalize=False) == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------
# embedding similarity (logic with a fake embedder; real MiniLM in the slow tier)
# --------------------------------------------------------------------------------------------
def _letter_counts(texts):
    out = np.zeros((len(texts), 26))
    for i, t in enumerate(texts):
        for ch in t.lower():
            if "a" <= ch <= "z":
                out[i, ord(ch) - 97] += 1
    return out


def test_embedding_similarity_with_callable():
    a = ["abc", "aaa", "xyz"]
    b = ["abc", "a", "abc"]
    sims = embedding_similarity(a, b, model=_letter_counts, average="none")
    np.testing.assert_allclose(sims, [1.0, 1.0, 0.0], atol=1e-12)
    assert embedding_similarity("ab", "a", model=_letter_counts) == pytest.approx(1 / math.sqrt(2))


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------
def test_bad_input():
    with pytest.raises(ValueError, match="one entry per hypothesis; got 2 references and 1"):
        bleu1(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="at least one text"):
        wer([], [])
    with pytest.raises(ValueError, match=r"`references\[0\]` must contain at least one word"):
        wer(["..."], ["a"])
    with pytest.raises(TypeError, match=r"`references\[0\]` must be a string;"):
        wer([["a", "b"]], ["a"])
    with pytest.raises(TypeError, match=r"`hypotheses\[1\]` must be a string"):
        meteor(["a", "b"], ["a", 3])
    with pytest.raises(ValueError, match="`average` must be one of"):
        meteor(REF, REF, average="corpus")
    with pytest.raises(ValueError, match="`alpha` must be a finite number"):
        meteor(REF, REF, alpha=-1)
    with pytest.raises(ValueError, match="one row per text"):
        embedding_similarity(["a", "b"], ["a", "b"], model=lambda t: np.zeros((1, 3)))


@pytest.mark.slow
def test_embedding_similarity_with_real_minilm():
    pytest.importorskip("transformers")
    texts = ["A cat sits on a mat.", "A dog runs in the park.", "Stock prices fell sharply."]
    same = embedding_similarity(texts, texts, average="none")
    np.testing.assert_allclose(same, 1.0, atol=1e-5)
    close = embedding_similarity("A cat sits on a mat.", "A kitten is sitting on a rug.")
    far = embedding_similarity("A cat sits on a mat.", "Stock prices fell sharply.")
    assert close > far + 0.3
    assert -1.0 <= far <= 1.0
