"""Brain → text beam search (Tang et al. 2023): the algorithm, and the search itself.

Used by :class:`~brainalign.decoders.heads._text_beam.BeamSearchTextDecoder`. Here: loading
the language model as a :class:`~brainalign.decoders.heads._text_lm.WordLM`, the proposals'
context (prompt and the last ``lm_context`` words) and the search, which extends the beams
word by word and ranks them by the encoding model's score of the observed response (the
encoding model: :mod:`brainalign.decoders.heads._text_encoding`).

The scheme
----------
A causal language model (SmolLM2-135M by default) proposes the next **word** of every beam;
an encoding model (ridge from per-word LM features, Lanczos-resampled to the TR grid and
FIR-delayed, to every voxel) predicts the brain response of each extended text; the beams
whose predicted response best explains the observed response survive. Word times are known
(given onsets, or a fixed word rate), as in Tang et al., who took them from the speech rate.

Words, not subword fragments
    At each step the LM's next-token distribution is restricted to tokens that **start** a
    word (a leading space marker, ``Ġ`` / ``▁``, and at least one letter or digit); the
    nucleus of that distribution (mass ``top_p``, probability at least ``min_ratio`` times the
    best one, at most ``n_candidates`` tokens) gives the candidate first tokens (Tang et al.:
    nucleus mass 0.9, ratio 0.1). Each candidate is then completed greedily: while the LM's
    most likely next token continues the word (no space, no special or control character)
    and the word has fewer than ``max_word_tokens`` tokens, that token is appended.
    Punctuation glued to a word (``"cup."``) stays part of it, as in the events tables the
    features are fitted on.

Two contexts
    *Proposals* see the ``prompt`` and the last ``lm_context`` decoded words (Tang et al.:
    8 s of words). Each beam keeps that context as a key/value cache (``past_key_values``)
    that grows by the chosen word's tokens at every step (right padding stays masked,
    positions count real tokens only), so a step costs one token per beam and candidate;
    it is rebuilt from the last ``lm_context`` words when it reaches ``1.5 * lm_context``.
    *Features* see exactly what the encoding model was fitted on: the hidden state ``layer``
    at the word's last token over the last ``context`` words (the word included), each word
    tokenized as in running text (the text's first word without a leading space, the others
    with one), with a BOS token per the ``bos`` policy. This is
    :class:`~brainalign.features.TextExtractor` with ``context_mode="naive"``,
    ``context_unit="words"``, ``pooling="last"`` (the tests check the equality), and
    :meth:`BeamSearchTextDecoder.fit` uses the same code path as decoding. Per step the
    beams' last ``context - 1`` words run once (left-padded, explicit positions) and the
    candidates' canonical tokens run on top of that cache, in batches of ``batch_size``.

Cost per word, in token-forwards of the LM: ``beam_width * context * tokens_per_word``
(feature contexts) plus about ``beam_width * n_candidates * (1 + tokens_per_word)``
(completion and features) plus ``beam_width * tokens_per_word`` (LM contexts).

Scoring
    Everything after the LM is linear, so a word's contribution to the predicted response
    (word feature → standardised with the training word statistics → Lanczos kernel column →
    delays → ridge weights) is added to its parent's prediction on the few TRs it touches.
    ``scoring="likelihood"`` (default): the Gaussian log-likelihood of the observed response
    (z-scored per run) under the prediction, with one noise variance per voxel estimated on
    held-out training data (Tang et al. use a full, shrunk covariance over voxels; this is
    its diagonal). It is summed over the frames up to the last one that the words decoded so
    far reach: later frames are predicted by the intercept for every beam, so the sum equals
    the likelihood of the whole run up to a constant shared by all candidates. With
    ``future_variance=True`` (default) the frames that words still to come also reach are
    down-weighted: their variance is the noise variance plus the expected variance of
    those words' contributions (one word's contribution covariance over the training
    words, words independent), i.e. the future words are marginalised under a Gaussian
    approximation. Without it, a candidate is judged on frames that mostly the next 10-20
    words drive (Lanczos window and delays), and a small beam searches almost blindly;
    once every word is decoded, both scores are the same.
    ``scoring="correlation"``: Pearson r between predicted and observed responses over the
    same TRs and all selected voxels (flattened).

Only ``n_voxels`` voxels are used (Tang et al.: the 10,000 best), ranked by the correlation
of the encoding model's prediction on the last training run when the model is fitted on the
others (one training run: in-sample); the residual variance on that run is the noise
variance.

The LM is the proposal distribution only: beams are ranked by the encoding score alone, as in
Tang et al. A decoding is only meaningful beside its null: decode permuted or noise brain
data with the same decoder (:func:`brainalign.decoders.permute_rows`,
:func:`brainalign.decoders.noise_like`).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from brainalign._logging import logger, progress
from brainalign.decoders.heads._text_lm import WordLM
from brainalign.decoders.heads._text_words import DecodedText, frame_times

__all__ = ["beam_search", "load_word_lm", "propose_words"]


def load_word_lm(
    lm: Any,
    *,
    layer: int | None,
    context: int,
    bos: str,
    batch_size: int,
    device: str,
    dtype: str,
    verbose: bool | None,
) -> WordLM:
    """Wrap ``lm`` (a folder, a (model, tokenizer) pair or None: SmolLM2) as a WordLM."""
    if isinstance(lm, tuple):
        if len(lm) != 2:
            raise TypeError("`lm` given as a tuple must be (model, tokenizer)")
        model, tokenizer = lm
    else:
        from brainalign.features._hf import quiet_transformers
        from brainalign.features._models import load_causal_lm, smollm2_path

        path = smollm2_path() if lm is None else lm
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(
                f"`lm` must be a model folder, a (model, tokenizer) pair or None; got "
                f"{type(lm).__name__}"
            )
        with quiet_transformers(verbose):
            model, tokenizer = load_causal_lm(path, device=device, dtype=dtype)
    return WordLM(
        model,
        tokenizer,
        layer=layer,
        context=context,
        bos=bos,
        batch_size=batch_size,
    )


def _lm_window(history: list[Any], lm_context: int | None) -> list[Any]:
    """The last ``lm_context`` words of a history (all with ``lm_context=None``)."""
    if lm_context is None:
        return history
    return history[max(0, len(history) - int(lm_context)) :]


def _prompt_ids(lm: WordLM, prompt: str | None) -> list[int]:
    if prompt is not None:
        ids = lm.tok(prompt, add_special_tokens=False)["input_ids"]
        if ids:
            return list(lm.bos) + [int(i) for i in ids]
    for tid in (lm.tok.bos_token_id, lm.tok.eos_token_id):
        if tid is not None:
            return [int(tid)]
    raise ValueError(
        "the tokenizer has neither a BOS nor an EOS token to start the first word from; "
        "pass a `prompt`"
    )


def propose_words(
    lm: WordLM,
    words: list[str],
    *,
    prompt: str | None,
    lm_context: int | None,
    n_candidates: int,
    top_p: float,
    min_ratio: float,
    max_word_tokens: int,
) -> list[tuple[str, float]]:
    """Next-word proposals after ``words`` (checked), greedily completed, most likely first."""
    state = lm.prefix([lm.history_ids(_prompt_ids(lm, prompt), _lm_window(words, lm_context))])
    props = lm.proposals(
        state["logits"],
        n_candidates=n_candidates,
        top_p=float(top_p),
        min_ratio=float(min_ratio),
    )[0]
    tokens = lm.complete(
        state, np.zeros(len(props), np.intp), [t for t, _ in props], int(max_word_tokens)
    )
    out: dict[str, float] = {}
    for toks, (_, p) in zip(tokens, props):
        out.setdefault(lm.decode_word(toks), p)
    return list(out.items())


def beam_search(
    lm: WordLM,
    y: np.ndarray,
    times: np.ndarray,
    *,
    W: np.ndarray,
    base: np.ndarray,
    lags: np.ndarray,
    tr: float,
    lanczos_window: int,
    feature_mean: np.ndarray,
    noise_var: np.ndarray,
    word_cov: np.ndarray,
    prompt: str | None,
    scoring: str,
    future_variance: bool,
    beam_width: int,
    n_candidates: int,
    top_p: float,
    min_ratio: float,
    max_word_tokens: int,
    lm_context: int | None,
    verbose: bool | None,
) -> DecodedText:
    """Beam-search the words at ``times`` that best explain the responses ``y``.

    Parameters
    ----------
    lm : WordLM
        Proposals (LM context) and word features (feature windows).
    y : ndarray, shape (n_frames, n_selected)
        Z-scored responses of the scoring voxels.
    times : ndarray, shape (n_words,)
        Word onsets in seconds (frame ``i`` at ``i * tr``).
    W : ndarray, shape (n_delays, n_dims, n_selected)
        Encoding weights per delay, divided by the feature scale.
    base : ndarray, shape (n_frames, n_selected)
        The prediction without words (the intercept).
    lags : ndarray of int, shape (n_delays,)
        Delays in frames.
    tr, lanczos_window, scoring, future_variance, beam_width, n_candidates, top_p, \
min_ratio, max_word_tokens, lm_context, verbose, prompt :
        As in :class:`~brainalign.decoders.heads._text_beam.BeamSearchTextDecoder`.
    feature_mean : ndarray, shape (n_dims,)
    noise_var : ndarray, shape (n_selected,)
    word_cov : ndarray, shape (n_delays, n_delays, n_selected)
        The fitted attributes of the same names (trailing underscore) of the decoder.

    Returns
    -------
    DecodedText
    """
    from brainalign.alignment import lanczos_kernel

    n_frames = y.shape[0]
    n_delays = lags.size
    # Lanczos kernel column of each word, delayed: S[n][t, d] = K[t - lag_d, n]
    ft = frame_times(n_frames, tr)
    K = lanczos_kernel(ft[:, None] - times[None, :], 1.0 / tr, int(lanczos_window))

    def delayed_kernel(n: int) -> tuple[np.ndarray, int, int]:
        """S[t, d] = K[t - lag_d, n] on the frames lo..hi that word n reaches."""
        S = np.zeros((n_frames, n_delays))
        for d, lag in enumerate(lags):
            if lag >= 0:
                S[lag:, d] = K[: n_frames - lag, n]
            else:
                S[:lag, d] = K[-lag:, n]
        rows = np.flatnonzero(np.abs(S).sum(1) > 0)
        if not rows.size:
            return S[:0], 0, -1
        return S[rows[0] : rows[-1] + 1], int(rows[0]), int(rows[-1])

    # expected variance of the contributions of the words not decoded yet, per frame
    future = np.zeros_like(y)
    if future_variance and scoring == "likelihood":
        for m in range(times.size):
            Sm, a, b = delayed_kernel(m)
            future[a : b + 1] += np.einsum("td,te,dev->tv", Sm, Sm, word_cov)
    prompt_ids = _prompt_ids(lm, prompt)
    beam_words: list[list[str]] = [[]]
    beam_tokens: list[list[tuple[int, ...]]] = [[]]  # generated tokens of each word
    beam_pred = base[None].copy()
    beam_score = np.zeros(1)
    lm_state = lm.prefix([prompt_ids])  # the proposals' context, extended word by word
    inv_var = 1.0 / noise_var
    hi_prev = -1
    for n in progress(range(times.size), desc="beam search", total=times.size, verbose=verbose):
        S, lo, hi = delayed_kernel(n)
        if hi < lo:  # the word reaches no frame
            lo, hi = hi_prev + 1, hi_prev
        hi_prev = max(hi_prev, hi)
        if future.any():
            future[lo : hi + 1] -= np.einsum("td,te,dev->tv", S, S, word_cov)
            np.maximum(future, 0.0, out=future)
        # proposals (LM context) completed into words; features (feature windows)
        props = lm.proposals(
            lm_state["logits"],
            n_candidates=n_candidates,
            top_p=float(top_p),
            min_ratio=float(min_ratio),
        )
        parent = np.asarray([b for b, p in enumerate(props) for _ in p], dtype=np.intp)
        first = [t for p in props for t, _ in p]
        tokens = lm.complete(lm_state, parent, first, int(max_word_tokens))
        words, keep, canon = [], [], []
        seen: set[tuple[int, str]] = set()
        for i, toks in enumerate(tokens):
            word = lm.decode_word(toks)
            if not word or any(c.isspace() for c in word) or (parent[i], word) in seen:
                continue
            seen.add((parent[i], word))
            keep.append(i)
            words.append(word)
            canon.append(lm.candidate_ids([*beam_words[parent[i]], word]))
        if not keep:
            raise RuntimeError(f"the LM proposed no usable word at word {n}")
        keep_arr = np.asarray(keep, dtype=np.intp)
        parent = parent[keep_arr]
        feat_state = lm.prefix([lm.prefix_ids(w) for w in beam_words])
        feats, _, _ = lm.extend(feat_state, parent, canon)
        # encoding score of each candidate
        P = np.einsum("cf,dfv->cdv", feats - feature_mean, W)
        contrib = np.einsum("td,cdv->ctv", S, P)
        cand_pred = beam_pred[parent, lo : hi + 1] + contrib
        resid_range = y[None, lo : hi + 1] - cand_pred
        if scoring == "likelihood":
            before = -0.5 * np.einsum("btv,v->b", (y[None, :lo] - beam_pred[:, :lo]) ** 2, inv_var)
            inv_range = 1.0 / (noise_var + future[lo : hi + 1])
            score = before[parent] - 0.5 * np.einsum("ctv,tv->c", resid_range**2, inv_range)
        else:
            score = _prefix_corr(y, beam_pred, parent, cand_pred, lo, hi)
        order = np.argsort(-score, kind="stable")[: int(beam_width)]
        new_pred = beam_pred[parent[order]].copy()
        new_pred[:, lo : hi + 1] = cand_pred[order]
        chosen = [tuple(tokens[keep[i]]) for i in order]
        beam_words = [beam_words[parent[i]] + [words[i]] for i in order]
        beam_tokens = [beam_tokens[parent[i]] + [c] for i, c in zip(order, chosen)]
        beam_pred, beam_score = new_pred, score[order]
        # the LM context of the survivors: append their word, or rebuild when too long
        if lm_context is not None and len(beam_tokens[0]) >= 1.5 * lm_context:
            lm_state = lm.prefix(
                [
                    prompt_ids + [t for w in _lm_window(h, lm_context) for t in w]
                    for h in beam_tokens
                ]
            )
        else:
            _, _, lm_state = lm.extend(lm_state, parent[order], chosen, keep_state=True)
        logger.debug("word %d: %s (%.4g)", n, " ".join(beam_words[0][-5:]), beam_score[0])
    beams = [(w, float(s)) for w, s in zip(beam_words, beam_score)]
    return DecodedText(
        words=list(beam_words[0]), times=times, score=float(beam_score[0]), beams=beams
    )


def _prefix_corr(
    y: np.ndarray,
    beam_pred: np.ndarray,
    parent: np.ndarray,
    cand_pred: np.ndarray,
    lo: int,
    hi: int,
) -> np.ndarray:
    """Pearson r over frames [0, hi] and all voxels (flattened) of each candidate."""
    y_all = y[: hi + 1]
    n = y_all.size
    sy, syy = y_all.sum(), (y_all**2).sum()
    head = beam_pred[:, :lo]
    sp = head.sum((1, 2))[parent] + cand_pred.sum((1, 2))
    spp = (head**2).sum((1, 2))[parent] + (cand_pred**2).sum((1, 2))
    spy = np.einsum("btv,tv->b", head, y[:lo])[parent] + np.einsum(
        "ctv,tv->c", cand_pred, y[lo : hi + 1]
    )
    cov = spy - sp * sy / n
    var_p = np.maximum(spp - sp**2 / n, 0.0)
    var_y = max(syy - sy**2 / n, 0.0)
    den = np.sqrt(var_p * var_y)
    return np.where(den > 0, cov / np.where(den > 0, den, 1.0), 0.0)
