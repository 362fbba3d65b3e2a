"""Words and tokens: words from an events table, word ↔ token alignment, per-word pooling.

How words map to tokens
-----------------------
The words of a stimulus are joined with single spaces into one text, and each word keeps its
character span ``[start, end)`` in that text (:func:`join_words`). A fast tokenizer returns,
for every token, the character span it came from (``return_offsets_mapping=True``). A token
belongs to every word whose span it overlaps (:func:`align_tokens`):

- a token that carries the preceding space (GPT-2 / Llama byte-level ``"Ġcat"`` with offsets
  that include the space, SentencePiece ``"▁cat"``) overlaps only the word after the space,
  so it belongs to that word whether or not the tokenizer trims its offsets;
- punctuation attached to a word in the events table (``"said,"``) belongs to that word, even
  when the tokenizer splits it off: the word's last token is then the comma;
- special tokens (BOS, ``[CLS]``, ``[SEP]``, padding) have empty spans and belong to no word;
- a token that spans two words (possible with tokenizers that do not split on spaces first)
  belongs to both; with last-token pooling the first word then also sees the start of the
  next one;
- a word with no token at all (possible only with a tokenizer that drops characters) is an
  error that names the word.

Tokens are in text order, so the tokens of a word are a contiguous range
``first[w] .. last[w]`` (inclusive), and ``last`` is non-decreasing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["align_tokens", "join_words", "pool_words", "split_sentences", "words_from_events"]

#: A word that ends a sentence: final punctuation, then optional closing quotes or brackets.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*$")


def words_from_events(
    events: Any, *, word_type: str | None = "Word", text_column: str = "text"
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The words of an events table, with their onsets and durations.

    Parameters
    ----------
    events : pandas.DataFrame
        An events table (``onset``, ``duration``, ``type``, and ``text_column``); onsets in
        seconds on the recording's clock.
    word_type : str or None
        Keep the rows whose ``type`` equals this (``"Word"``); ``None`` keeps every row.
    text_column : str
        The column that holds each word.

    Returns
    -------
    words : list of str, length n_words
        Each word with surrounding whitespace removed (inner spaces, as in ``"New York"``,
        are kept).
    onsets : ndarray, shape (n_words,)
        Onsets in seconds, non-decreasing.
    durations : ndarray, shape (n_words,)
        Durations in seconds (0 where the table has no ``duration`` column).

    Raises
    ------
    ValueError
        No words, a missing column, an empty or missing word, a missing (NaN) or infinite
        onset, or decreasing onsets.
    """
    import pandas as pd

    if not isinstance(events, pd.DataFrame):
        raise TypeError(f"`events` must be a pandas DataFrame; got {type(events).__name__}")
    for col in ("onset", text_column) + (("type",) if word_type is not None else ()):
        if col not in events.columns:
            raise ValueError(
                f"`events` must have a {col!r} column for text features; got columns "
                f"{list(events.columns)}"
            )
    rows = events if word_type is None else events[events["type"].astype(str) == word_type]
    if len(rows) == 0:
        types = sorted(map(str, events["type"].unique())) if "type" in events.columns else []
        raise ValueError(
            f"the text is empty: `events` has no rows of type {word_type!r} (types present: "
            f"{types}). Set `word_type` to the type of your word rows."
        )
    words: list[str] = []
    for i, (idx, raw) in enumerate(zip(rows.index, rows[text_column])):
        word = "" if raw is None or (isinstance(raw, float) and np.isnan(raw)) else str(raw)
        word = word.strip()
        if not word:
            raise ValueError(
                f"`events[{text_column!r}]` must hold a non-empty word on every word row; got "
                f"{raw!r} at row {idx} (word {i})"
            )
        words.append(word)
    from brainalign.features._base import check_onsets

    onsets = pd.to_numeric(rows["onset"], errors="coerce").to_numpy(dtype=float)
    raw = rows["onset"].tolist()
    check_onsets(
        onsets,
        "word",
        lambda i: f"{words[i]!r}, row {rows.index[i]}",
        lambda i: "nan (missing)" if pd.isna(raw[i]) else repr(raw[i]),
    )
    if "duration" in rows.columns:
        durations = pd.to_numeric(rows["duration"], errors="coerce").to_numpy(dtype=float)
        durations = np.where(np.isfinite(durations), durations, 0.0)
    else:
        durations = np.zeros_like(onsets)
    return words, onsets, durations


def join_words(words: Sequence[str]) -> tuple[str, np.ndarray]:
    """Join words with single spaces and return each word's character span.

    Parameters
    ----------
    words : sequence of str, length n_words
        Non-empty words.

    Returns
    -------
    text : str
        ``" ".join(words)``.
    spans : ndarray of int, shape (n_words, 2)
        ``text[spans[w, 0]:spans[w, 1]] == words[w]``.
    """
    spans = np.zeros((len(words), 2), dtype=np.int64)
    pos = 0
    for w, word in enumerate(words):
        spans[w] = (pos, pos + len(word))
        pos += len(word) + 1
    return " ".join(words), spans


def align_tokens(
    offsets: Any,
    spans: Any,
    *,
    special_mask: Any = None,
    words: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The first and last token of every word, from the tokenizer's character offsets.

    A token belongs to every word whose span it overlaps (see the module notes); tokens with
    an empty span, or flagged in ``special_mask``, belong to none.

    Parameters
    ----------
    offsets : array-like of int, shape (n_tokens, 2)
        ``[start, end)`` character span of each token (``offset_mapping``).
    spans : array-like of int, shape (n_words, 2)
        ``[start, end)`` character span of each word, sorted and non-overlapping.
    special_mask : array-like of bool, shape (n_tokens,), optional
        True for special tokens (``return_special_tokens_mask=True``).
    words : sequence of str, optional
        The words, only to name a word without tokens in the error.

    Returns
    -------
    first, last : ndarray of int, shape (n_words,)
        Index of the first and last token of each word (inclusive).

    Raises
    ------
    ValueError
        A word overlaps no token.
    """
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    n_words = spans.shape[0]
    t_start, t_end = offsets[:, 0], offsets[:, 1]
    valid = t_end > t_start
    if special_mask is not None:
        valid &= ~np.asarray(special_mask, dtype=bool)
    # Words overlapped by token t: those with start < t_end and end > t_start.
    lo = np.searchsorted(spans[:, 1], t_start, side="right")  # first word ending after start
    hi = np.searchsorted(spans[:, 0], t_end, side="left") - 1  # last word starting before end
    valid &= lo <= hi
    first = np.full(n_words, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(n_words, -1, dtype=np.int64)
    tokens = np.flatnonzero(valid)
    for t in tokens:  # each token overlaps one word, rarely more
        for w in range(lo[t], hi[t] + 1):
            if first[w] > t:
                first[w] = t
            last[w] = t
    missing = np.flatnonzero(last < 0)
    if missing.size:
        w = int(missing[0])
        name = f" ({words[w]!r})" if words is not None else ""
        raise ValueError(
            f"word {w}{name} at characters {spans[w].tolist()} maps to no token; the tokenizer "
            f"dropped it (its characters are not in the vocabulary and there is no unknown "
            f"token). Remove or replace that word."
        )
    return first, last


def pool_words(hidden: Any, first: Any, last: Any, pooling: str) -> Any:
    """Pool token states into word states.

    Parameters
    ----------
    hidden : torch.Tensor or ndarray, shape (n_tokens, n_dims)
        Token states (several sequences may be flattened into one axis).
    first, last : array-like of int, shape (n_words,)
        First and last token of each word in ``hidden`` (inclusive).
    pooling : {"last", "mean"}
        ``"last"``: the state of the word's last token (what a causal model knows at the end
        of the word); ``"mean"``: the mean over the word's tokens.

    Returns
    -------
    torch.Tensor or ndarray, shape (n_words, n_dims)
        Same type as ``hidden``.
    """
    first = np.asarray(first, dtype=np.int64)
    last = np.asarray(last, dtype=np.int64)
    if pooling not in ("last", "mean"):
        raise ValueError(f"`pooling` must be 'last' or 'mean'; got {pooling!r}")
    if np.any(last < first):
        raise ValueError("every word needs last >= first token")
    is_numpy = isinstance(hidden, np.ndarray)
    if is_numpy:
        if pooling == "last":
            return hidden[last]
        counts = last - first + 1
        token_idx = np.concatenate([np.arange(a, b + 1) for a, b in zip(first, last)])
        word_idx = np.repeat(np.arange(first.size), counts)
        out = np.zeros((first.size, hidden.shape[1]), dtype=hidden.dtype)
        np.add.at(out, word_idx, hidden[token_idx])
        return out / counts[:, None].astype(hidden.dtype)
    import torch

    if pooling == "last":
        return hidden.index_select(0, torch.as_tensor(last, device=hidden.device))
    counts = last - first + 1
    token_idx = np.concatenate([np.arange(a, b + 1) for a, b in zip(first, last)])
    word_idx = np.repeat(np.arange(first.size), counts)
    out = torch.zeros((first.size, hidden.shape[1]), dtype=hidden.dtype, device=hidden.device)
    out.index_add_(
        0,
        torch.as_tensor(word_idx, device=hidden.device),
        hidden.index_select(0, torch.as_tensor(token_idx, device=hidden.device)),
    )
    return out / torch.as_tensor(counts, dtype=hidden.dtype, device=hidden.device)[:, None]


def split_sentences(words: Sequence[str]) -> list[tuple[int, int]]:
    """Split words into sentences at words that end with ``.``, ``!``, ``?`` or ``…``.

    Closing quotes or brackets after the punctuation are allowed (``'end."'``). The last
    sentence ends with the last word whether or not it is punctuated.

    Parameters
    ----------
    words : sequence of str, length n_words

    Returns
    -------
    list of (start, stop)
        Word index ranges ``words[start:stop]``, covering every word in order.
    """
    bounds: list[tuple[int, int]] = []
    start = 0
    for i, word in enumerate(words):
        if _SENTENCE_END.search(word):
            bounds.append((start, i + 1))
            start = i + 1
    if start < len(words):
        bounds.append((start, len(words)))
    return bounds
