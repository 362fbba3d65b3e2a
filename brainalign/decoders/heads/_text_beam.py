"""Brain → text: language-model beam search scored by an encoding model (Tang et al. 2023).

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from brainalign._logging import logger, progress
from brainalign._validation import check_array, check_choice, check_positive
from brainalign.decoders.heads._text_lm import WordLM

__all__ = ["BeamSearchTextDecoder", "DecodedText", "frame_times"]

SCORINGS = ("likelihood", "correlation")


def frame_times(n_frames: int, tr: float) -> np.ndarray:
    """Sample times of a run's brain frames: frame ``i`` at ``i * tr`` seconds.

    Word times are on the same clock (0 = start of the first acquisition), as for a
    :class:`~brainalign.data.Recording` with ``sample_point="start"``.

    Parameters
    ----------
    n_frames : int
    tr : float
        Sampling period in seconds.

    Returns
    -------
    ndarray, shape (n_frames,)
    """
    return np.arange(int(n_frames), dtype=np.float64) * float(tr)


@dataclass
class DecodedText:
    """The output of :meth:`BeamSearchTextDecoder.decode`.

    Attributes
    ----------
    words : list of str, length n_words
        The best beam's words (punctuation glued to words, as generated).
    times : ndarray, shape (n_words,)
        Time of each word in seconds (the given onsets or the fixed-rate grid).
    score : float
        Encoding score of the best beam (log-likelihood up to a constant, or correlation).
    beams : list of (list of str, float)
        The final beams with their scores, best first.
    """

    words: list[str]
    times: np.ndarray
    score: float
    beams: list[tuple[list[str], float]] = field(default_factory=list, repr=False)

    @property
    def text(self) -> str:
        """The words joined with spaces."""
        return " ".join(self.words)

    def window_texts(self, starts: Any, length: float) -> list[str]:
        """The decoded words inside time windows (Tang et al. score 20 s windows).

        Parameters
        ----------
        starts : array-like of float, shape (n_windows,)
            Window starts in seconds.
        length : float
            Window length in seconds; a word belongs to ``[start, start + length)``.

        Returns
        -------
        list of str, length n_windows
        """
        starts = np.atleast_1d(np.asarray(starts, dtype=np.float64))
        out = []
        for s in starts:
            sel = (self.times >= s) & (self.times < s + length)
            out.append(" ".join(w for w, k in zip(self.words, sel) if k))
        return out


# --------------------------------------------------------------------------------------------
# the estimator
# --------------------------------------------------------------------------------------------
def _check_words(words: Any, name: str) -> list[str]:
    if isinstance(words, str) or not isinstance(words, Sequence):
        raise TypeError(
            f"`{name}` must be a sequence of words (str); got {type(words).__name__}. Split a "
            f"text with text.split()."
        )
    out = []
    for i, w in enumerate(words):
        if not isinstance(w, str) or not w.strip() or any(c.isspace() for c in w.strip()):
            raise ValueError(f"`{name}[{i}]` must be a non-empty word without spaces; got {w!r}")
        out.append(w.strip())
    if not out:
        raise ValueError(f"`{name}` must hold at least one word; got an empty sequence")
    return out


def _run_words(run: Any, i: int) -> tuple[list[str], np.ndarray]:
    """(words, onsets) of one training run: an events table or a (words, times) pair."""
    import pandas as pd

    if isinstance(run, pd.DataFrame):
        from brainalign.features._words import words_from_events

        words, onsets, _ = words_from_events(
            run, word_type="Word" if "type" in run.columns else None
        )
        return words, onsets
    if not isinstance(run, Sequence) or isinstance(run, str) or len(run) != 2:
        raise TypeError(
            f"`stimuli[{i}]` must be an events DataFrame (word rows with 'onset' and 'text') or "
            f"a (words, times) pair; got {type(run).__name__}"
        )
    words = _check_words(run[0], f"stimuli[{i}][0] (words)")
    times = _check_word_times(run[1], len(words), f"stimuli[{i}][1] (times)")
    return words, times


def _check_word_times(times: Any, n_words: int | None, name: str) -> np.ndarray:
    arr = check_array(times, name, ndim=1, dtype=np.float64, shape_doc="(n_words,)")
    if n_words is not None and arr.shape[0] != n_words:
        raise ValueError(
            f"`{name}` must hold one time per word ({n_words} words); got {arr.shape[0]} times"
        )
    if np.any(np.diff(arr) < 0):
        i = int(np.flatnonzero(np.diff(arr) < 0)[0]) + 1
        raise ValueError(
            f"`{name}` must be non-decreasing (words in spoken order); got {arr[i]:g} s after "
            f"{arr[i - 1]:g} s at index {i}"
        )
    return arr


class BeamSearchTextDecoder(BaseEstimator):
    """Decode word sequences from brain responses: LM proposals ranked by an encoding model.

    See the module notes for the algorithm. ``fit`` fits the encoding model (word features →
    brain) on training runs; ``decode`` runs the beam search on a held-out run.

    Parameters
    ----------
    lm : str, path, (model, tokenizer) or None
        A causal LM folder (``AutoModelForCausalLM`` + fast tokenizer), or an already loaded
        pair. ``None``: SmolLM2-135M (:func:`brainalign.features.smollm2_path`).
    layer : int or None
        Hidden state used as the word feature (0 = embeddings, negative from the end).
        ``None``: two thirds of the depth (layer 20 of SmolLM2's 30).
    context : int
        Words each feature sees, the word itself included (Tang et al.: 5); also the LM's
        context for the proposals.
    tr : float
        Sampling period of the brain data in seconds (frame ``i`` at ``i * tr``).
    delays : sequence of float
        FIR delays in seconds (multiples of ``tr``); Tang et al.: 1-4 TRs.
    lanczos_window : int
        Lobes of the Lanczos kernel (cutoff ``1 / tr``).
    encoder : estimator or None
        A linear encoder exposing ``coef_`` (n_features, n_targets) and ``intercept_`` after
        ``fit(X, Y, groups=...)``, e.g. :class:`~brainalign.encoders.RidgeEncoder` or
        :class:`~brainalign.encoders.BandedRidgeEncoder`; cloned in ``fit``. ``None``:
        ``RidgeEncoder(alphas=np.logspace(-1, 7, 17), warn_alpha_edge=False)``.
    n_voxels : int or None
        Voxels used for scoring (the best by held-out prediction); ``None``: all.
    scoring : {"likelihood", "correlation"}
        Beam score (see the module notes).
    future_variance : bool
        With ``scoring="likelihood"``: add to each frame's noise variance the expected
        variance of the contributions of the words not decoded yet (module notes).
    beam_width : int
        Beams kept after each word (Tang et al.: 200).
    n_candidates : int
        Maximum proposals per beam and word (the nucleus may give fewer).
    top_p : float
        Nucleus mass over word-start tokens.
    min_ratio : float
        Proposals must have at least ``min_ratio`` times the best proposal's probability.
    max_word_tokens : int
        Maximum tokens per generated word.
    bos : {"auto", "always", "never"}
        BOS policy of the feature windows, as in :class:`~brainalign.features.TextConfig`.
    prompt : str or None
        Text that starts the LM's context for the proposals (e.g. the genre; never part of
        the features). ``None``: the tokenizer's BOS token, else its EOS token.
    lm_context : int or None
        Words of the decoded history in the LM's context for the proposals, after the
        prompt (Tang et al.: 8 s of words). The context grows word by word on a key/value
        cache and is rebuilt from the last ``lm_context`` words when it reaches
        ``1.5 * lm_context``; ``None``: the whole history.
    batch_size : int
        Sequences per LM forward.
    device : str
        Torch device of the LM.
    dtype : {"float32", "float16", "bfloat16"}
        LM compute dtype when it is loaded from a path.
    verbose : bool or None
        Progress bars (``None``: the ``BRAINALIGN_PROGRESS`` environment variable).

    Attributes
    ----------
    encoder_ : estimator
        The encoding model fitted on all training runs (delayed, Lanczos-resampled,
        standardised word features → z-scored responses).
    feature_mean_, feature_scale_ : ndarray, shape (n_dims,)
        Statistics of the training word features (standardisation before resampling).
    voxels_ : ndarray of int, shape (n_selected,)
        Voxels used for scoring.
    voxel_scores_ : ndarray, shape (n_targets,)
        Held-out prediction correlation of every voxel.
    noise_var_ : ndarray, shape (n_selected,)
        Residual variance of the selected voxels on the held-out run.
    word_cov_ : ndarray, shape (n_delays, n_delays, n_selected)
        Covariance over the training words of one word's (delayed) contribution to each
        selected voxel (``future_variance``).
    layer_ : int
        The resolved hidden-state index.
    n_targets_ : int
        Number of voxels seen during fit.
    n_features_in_ : int
        Word-feature width (the LM's hidden size).

    Examples
    --------
    >>> dec = BeamSearchTextDecoder(tr=2.0, delays=[2, 4, 6, 8])  # doctest: +SKIP
    >>> dec.fit(train_runs, train_bold)                           # (words, times) per run
    >>> out = dec.decode(test_bold, word_times=test_times)
    >>> out.text
    """

    def __init__(
        self,
        lm: Any = None,
        *,
        layer: int | None = None,
        context: int = 5,
        tr: float = 2.0,
        delays: Sequence[float] = (2.0, 4.0, 6.0, 8.0),
        lanczos_window: int = 3,
        encoder: Any = None,
        n_voxels: int | None = None,
        scoring: str = "likelihood",
        future_variance: bool = True,
        beam_width: int = 5,
        n_candidates: int = 5,
        top_p: float = 0.9,
        min_ratio: float = 0.1,
        max_word_tokens: int = 4,
        bos: str = "auto",
        prompt: str | None = None,
        lm_context: int | None = 32,
        batch_size: int = 32,
        device: str = "cpu",
        dtype: str = "float32",
        verbose: bool | None = None,
    ) -> None:
        self.lm = lm
        self.layer = layer
        self.context = context
        self.tr = tr
        self.delays = delays
        self.lanczos_window = lanczos_window
        self.encoder = encoder
        self.n_voxels = n_voxels
        self.scoring = scoring
        self.future_variance = future_variance
        self.beam_width = beam_width
        self.n_candidates = n_candidates
        self.top_p = top_p
        self.min_ratio = min_ratio
        self.max_word_tokens = max_word_tokens
        self.bos = bos
        self.prompt = prompt
        self.lm_context = lm_context
        self.batch_size = batch_size
        self.device = device
        self.dtype = dtype
        self.verbose = verbose

    # ------------------------------------------------------------------ checks and the LM
    def _check_params(self) -> None:
        names = ("context", "beam_width", "n_candidates", "max_word_tokens", "batch_size")
        for name in names + ("lm_context",) * (self.lm_context is not None):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"`{name}` must be an integer >= 1; got {value!r}")
        check_positive(self.tr, "tr")
        if not 0 < float(self.top_p) <= 1:
            raise ValueError(f"`top_p` must be in (0, 1]; got {self.top_p!r}")
        if not 0 <= float(self.min_ratio) <= 1:
            raise ValueError(f"`min_ratio` must be in [0, 1]; got {self.min_ratio!r}")
        check_choice(self.scoring, "scoring", SCORINGS)
        if self.n_voxels is not None and (
            isinstance(self.n_voxels, bool)
            or not isinstance(self.n_voxels, (int, np.integer))
            or self.n_voxels < 1
        ):
            raise ValueError(f"`n_voxels` must be None or an integer >= 1; got {self.n_voxels!r}")

    def _delays_samples(self) -> np.ndarray:
        from brainalign.alignment import Delayer

        return Delayer(delays=self.delays, sfreq=1.0 / float(self.tr))._check_delays()

    def _word_lm(self) -> WordLM:
        key = (
            id(self.lm) if isinstance(self.lm, tuple) else str(self.lm),
            self.layer,
            self.context,
            self.bos,
            self.batch_size,
            self.device,
            self.dtype,
        )
        cached = getattr(self, "_lm_state", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        if isinstance(self.lm, tuple):
            if len(self.lm) != 2:
                raise TypeError("`lm` given as a tuple must be (model, tokenizer)")
            model, tokenizer = self.lm
        else:
            from brainalign.features._hf import quiet_transformers
            from brainalign.features._models import load_causal_lm, smollm2_path

            path = smollm2_path() if self.lm is None else self.lm
            if not isinstance(path, (str, os.PathLike)):
                raise TypeError(
                    f"`lm` must be a model folder, a (model, tokenizer) pair or None; got "
                    f"{type(self.lm).__name__}"
                )
            with quiet_transformers(self.verbose):
                model, tokenizer = load_causal_lm(path, device=self.device, dtype=self.dtype)
        word_lm = WordLM(
            model,
            tokenizer,
            layer=self.layer,
            context=self.context,
            bos=self.bos,
            batch_size=self.batch_size,
        )
        self._lm_state = (key, word_lm)
        return word_lm

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_lm_state", None)  # the loaded LM is rebuilt from `lm` when needed
        return state

    # ------------------------------------------------------------------ features
    def word_features(self, words: Sequence[str]) -> np.ndarray:
        """Per-word LM features of a text, exactly as ``fit`` and ``decode`` compute them.

        Parameters
        ----------
        words : sequence of str, length n_words

        Returns
        -------
        ndarray, shape (n_words, n_dims)
            Hidden state ``layer`` at each word's last token, with the last ``context``
            words as context.
        """
        self._check_params()
        words = _check_words(words, "words")
        return self._word_lm().word_features(words, verbose=self.verbose)

    def _design(self, feats: np.ndarray, times: np.ndarray, n_frames: int) -> np.ndarray:
        from brainalign.alignment import Delayer, lanczos_resample

        z = (feats - self.feature_mean_) / self.feature_scale_
        X = lanczos_resample(
            z, times, frame_times(n_frames, self.tr), window=int(self.lanczos_window)
        )
        return Delayer(delays=self.delays, sfreq=1.0 / float(self.tr)).fit_transform(X)

    def fit(self, stimuli: Sequence[Any], Y: Sequence[Any]) -> BeamSearchTextDecoder:
        """Fit the encoding model on training runs and select the scoring voxels.

        Parameters
        ----------
        stimuli : sequence of runs
            Each run an events DataFrame (rows of type ``"Word"`` when there is a ``type``
            column, words in ``text``, onsets in seconds) or a ``(words, times)`` pair.
        Y : sequence of array-like, each shape (n_frames_run, n_targets)
            Brain responses of each run (frame ``i`` at ``i * tr``); z-scored per run here.

        Returns
        -------
        self : BeamSearchTextDecoder
        """
        from brainalign.alignment import zscore_runs
        from brainalign.encoders import RidgeEncoder

        self._check_params()
        self._delays_samples()
        if isinstance(stimuli, (str, bytes)) or not isinstance(stimuli, Sequence):
            raise TypeError(
                f"`stimuli` must be a sequence with one run per element; got "
                f"{type(stimuli).__name__}"
            )
        if not isinstance(Y, Sequence) or isinstance(Y, np.ndarray):
            raise TypeError(
                f"`Y` must be a sequence with one (n_frames, n_targets) array per run; got "
                f"{type(Y).__name__}. Wrap a single run in a list."
            )
        if len(stimuli) != len(Y) or len(Y) == 0:
            raise ValueError(
                f"`stimuli` and `Y` must hold the same number of runs (at least 1); got "
                f"{len(stimuli)} stimulus runs and {len(Y)} brain runs"
            )
        runs = [_run_words(run, i) for i, run in enumerate(stimuli)]
        Ys = []
        for i, y in enumerate(Y):
            y = check_array(y, f"Y[{i}]", ndim=2, shape_doc="(n_frames, n_targets)")
            if y.shape[0] < 2:
                raise ValueError(f"`Y[{i}]` must have at least 2 frames; got shape {y.shape}")
            if Ys and y.shape[1] != Ys[0].shape[1]:
                raise ValueError(
                    f"every run must have the same targets; got Y[0].shape={Ys[0].shape}, "
                    f"Y[{i}].shape={y.shape}"
                )
            _check_in_run(runs[i][1], y.shape[0], float(self.tr), f"stimuli[{i}]", f"Y[{i}]")
            Ys.append(y)
        word_lm = self._word_lm()
        feats = [word_lm.word_features(w, verbose=self.verbose) for w, _ in runs]
        allf = np.concatenate(feats).astype(np.float64)
        self.feature_mean_ = allf.mean(0)
        self.feature_scale_ = np.where(allf.std(0) > 1e-12, allf.std(0), 1.0)
        X = [self._design(f, t, y.shape[0]) for f, (_, t), y in zip(feats, runs, Ys)]
        Yz = [zscore_runs(y) for y in Ys]
        groups = np.concatenate([np.full(y.shape[0], i) for i, y in enumerate(Ys)])
        template = (
            RidgeEncoder(alphas=np.logspace(-1, 7, 17), warn_alpha_edge=False)
            if self.encoder is None
            else self.encoder
        )
        # held-out run: voxel selection and noise variance
        if len(X) >= 2:
            enc = clone(template).fit(
                np.concatenate(X[:-1]), np.concatenate(Yz[:-1]), groups=groups[groups < len(X) - 1]
            )
            Xv, Yv = X[-1], Yz[-1]
        else:
            enc, Xv, Yv = None, X[0], Yz[0]
        self.encoder_ = clone(template).fit(np.concatenate(X), np.concatenate(Yz), groups=groups)
        pred = (enc if enc is not None else self.encoder_).predict(Xv)
        pred = np.asarray(pred, dtype=np.float64).reshape(Yv.shape)
        self.voxel_scores_ = _column_corr(pred, Yv)
        n_targets = Yv.shape[1]
        k = n_targets if self.n_voxels is None else min(int(self.n_voxels), n_targets)
        order = np.argsort(-np.nan_to_num(self.voxel_scores_, nan=-np.inf), kind="stable")
        self.voxels_ = np.sort(order[:k])
        resid = Yv[:, self.voxels_] - pred[:, self.voxels_]
        self.noise_var_ = np.maximum(resid.var(0), 1e-3)
        coef = np.asarray(getattr(self.encoder_, "coef_", None))
        if coef.ndim != 2 or coef.shape[0] != X[0].shape[1]:
            raise TypeError(
                f"`encoder` must be linear with coef_ of shape (n_features, n_targets) = "
                f"({X[0].shape[1]}, {n_targets}) after fit; got coef_ of shape {coef.shape}"
            )
        # covariance over training words of one word's contribution (delays x delays, voxel)
        n_delays = len(np.atleast_1d(self.delays))
        Wz = coef[:, self.voxels_].astype(np.float64).reshape(n_delays, allf.shape[1], -1)
        z = (allf - self.feature_mean_) / self.feature_scale_
        P_mean = np.einsum("f,dfv->dv", z.mean(0), Wz)
        cov = np.zeros((n_delays, n_delays, Wz.shape[2]))
        for a in range(0, z.shape[0], 256):
            P = np.einsum("wf,dfv->wdv", z[a : a + 256], Wz) - P_mean
            cov += np.einsum("wdv,wev->dev", P, P)
        self.word_cov_ = cov / z.shape[0]
        self.layer_ = word_lm.layer
        self.n_targets_ = int(n_targets)
        self.n_features_in_ = int(word_lm.n_dims)
        return self

    def predict(self, words: Sequence[str], word_times: Any, n_frames: int) -> np.ndarray:
        """Predicted (z-scored) brain response of a text.

        Parameters
        ----------
        words : sequence of str, length n_words
        word_times : array-like, shape (n_words,)
            Onsets in seconds on the run clock.
        n_frames : int
            Number of frames of the run.

        Returns
        -------
        ndarray, shape (n_frames, n_targets)
        """
        check_is_fitted(self, "encoder_")
        words = _check_words(words, "words")
        times = _check_word_times(word_times, len(words), "word_times")
        feats = self._word_lm().word_features(words, verbose=self.verbose)
        X = self._design(feats, times, int(n_frames))
        return np.asarray(self.encoder_.predict(X)).reshape(int(n_frames), -1)

    def propose(self, words: Sequence[str]) -> list[tuple[str, float]]:
        """The LM's next-word proposals after a text (what one beam step considers).

        Parameters
        ----------
        words : sequence of str
            The text so far (may be empty: proposals after the prompt).

        Returns
        -------
        list of (str, float)
            Proposed words (greedily completed) with the probability of their first token
            among word-start tokens, most likely first.
        """
        self._check_params()
        lm = self._word_lm()
        words = _check_words(words, "words") if len(words) else []
        state = lm.prefix([lm.history_ids(self._prompt_ids(lm), self._lm_window(words))])
        props = lm.proposals(
            state["logits"],
            n_candidates=self.n_candidates,
            top_p=float(self.top_p),
            min_ratio=float(self.min_ratio),
        )[0]
        tokens = lm.complete(
            state, np.zeros(len(props), np.intp), [t for t, _ in props], int(self.max_word_tokens)
        )
        out: dict[str, float] = {}
        for toks, (_, p) in zip(tokens, props):
            out.setdefault(lm.decode_word(toks), p)
        return list(out.items())

    def _lm_window(self, history: list[Any]) -> list[Any]:
        """The last ``lm_context`` words of a history (all with ``lm_context=None``)."""
        if self.lm_context is None:
            return history
        return history[max(0, len(history) - int(self.lm_context)) :]

    def _prompt_ids(self, lm: WordLM) -> list[int]:
        if self.prompt is not None:
            ids = lm.tok(self.prompt, add_special_tokens=False)["input_ids"]
            if ids:
                return list(lm.bos) + [int(i) for i in ids]
        for tid in (lm.tok.bos_token_id, lm.tok.eos_token_id):
            if tid is not None:
                return [int(tid)]
        raise ValueError(
            "the tokenizer has neither a BOS nor an EOS token to start the first word from; "
            "pass a `prompt`"
        )

    # ------------------------------------------------------------------ decoding
    def decode(
        self,
        Y: Any,
        word_times: Any = None,
        *,
        word_rate: float | None = None,
        start: float = 0.0,
    ) -> DecodedText:
        """Beam-search the words of a run from its brain responses.

        Parameters
        ----------
        Y : array-like, shape (n_frames, n_targets)
            Brain responses of one run (frame ``i`` at ``i * tr``); z-scored here.
        word_times : array-like, shape (n_words,), optional
            Known word onsets in seconds (non-decreasing, inside the run).
        word_rate : float, optional
            Instead of ``word_times``: words per second, from ``start`` to the end of the run.
        start : float
            Time of the first word with ``word_rate``.

        Returns
        -------
        DecodedText
        """
        from brainalign.alignment import lanczos_kernel, zscore_runs

        check_is_fitted(self, "encoder_")
        self._check_params()
        Y = check_array(Y, "Y", ndim=2, shape_doc="(n_frames, n_targets)")
        if Y.shape[1] != self.n_targets_:
            raise ValueError(
                f"`Y` must have {self.n_targets_} targets (voxels), as during fit; got "
                f"Y.shape={Y.shape}"
            )
        n_frames = Y.shape[0]
        tr = float(self.tr)
        if (word_times is None) == (word_rate is None):
            raise ValueError(
                "give exactly one of `word_times` (known onsets, s) and `word_rate` (words per "
                f"second); got word_times={'None' if word_times is None else '...'} and "
                f"word_rate={word_rate!r}"
            )
        if word_rate is not None:
            rate = check_positive(word_rate, "word_rate")
            n_words = int(np.floor((n_frames * tr - float(start)) * rate - 1e-9)) + 1
            if n_words < 1:
                raise ValueError(
                    f"`start`={start!r} s leaves no word inside the run ({n_frames} frames of "
                    f"{tr:g} s)"
                )
            times = float(start) + np.arange(n_words) / rate
        else:
            times = _check_word_times(word_times, None, "word_times")
        _check_in_run(times, n_frames, tr, "word_times", "Y")
        lm = self._word_lm()
        y = zscore_runs(Y)[:, self.voxels_].astype(np.float64)
        lags = self._delays_samples()
        n_delays = lags.size
        coef = np.asarray(self.encoder_.coef_, dtype=np.float64)[:, self.voxels_]
        W = coef.reshape(n_delays, self.n_features_in_, -1) / self.feature_scale_[None, :, None]
        base = np.broadcast_to(
            np.asarray(self.encoder_.intercept_, dtype=np.float64)[self.voxels_], y.shape
        )
        # Lanczos kernel column of each word, delayed: S[n][t, d] = K[t - lag_d, n]
        ft = frame_times(n_frames, tr)
        K = lanczos_kernel(ft[:, None] - times[None, :], 1.0 / tr, int(self.lanczos_window))

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
        if self.future_variance and self.scoring == "likelihood":
            for m in range(times.size):
                Sm, a, b = delayed_kernel(m)
                future[a : b + 1] += np.einsum("td,te,dev->tv", Sm, Sm, self.word_cov_)
        prompt = self._prompt_ids(lm)
        beam_words: list[list[str]] = [[]]
        beam_tokens: list[list[tuple[int, ...]]] = [[]]  # generated tokens of each word
        beam_pred = base[None].copy()
        beam_score = np.zeros(1)
        lm_state = lm.prefix([prompt])  # the proposals' context, extended word by word
        inv_var = 1.0 / self.noise_var_
        hi_prev = -1
        for n in progress(
            range(times.size), desc="beam search", total=times.size, verbose=self.verbose
        ):
            S, lo, hi = delayed_kernel(n)
            if hi < lo:  # the word reaches no frame
                lo, hi = hi_prev + 1, hi_prev
            hi_prev = max(hi_prev, hi)
            if future.any():
                future[lo : hi + 1] -= np.einsum("td,te,dev->tv", S, S, self.word_cov_)
                np.maximum(future, 0.0, out=future)
            # proposals (LM context) completed into words; features (feature windows)
            props = lm.proposals(
                lm_state["logits"],
                n_candidates=self.n_candidates,
                top_p=float(self.top_p),
                min_ratio=float(self.min_ratio),
            )
            parent = np.asarray([b for b, p in enumerate(props) for _ in p], dtype=np.intp)
            first = [t for p in props for t, _ in p]
            tokens = lm.complete(lm_state, parent, first, int(self.max_word_tokens))
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
            P = np.einsum("cf,dfv->cdv", feats - self.feature_mean_, W)
            contrib = np.einsum("td,cdv->ctv", S, P)
            cand_pred = beam_pred[parent, lo : hi + 1] + contrib
            resid_range = y[None, lo : hi + 1] - cand_pred
            if self.scoring == "likelihood":
                before = -0.5 * np.einsum(
                    "btv,v->b", (y[None, :lo] - beam_pred[:, :lo]) ** 2, inv_var
                )
                inv_range = 1.0 / (self.noise_var_ + future[lo : hi + 1])
                score = before[parent] - 0.5 * np.einsum("ctv,tv->c", resid_range**2, inv_range)
            else:
                score = _prefix_corr(y, beam_pred, parent, cand_pred, lo, hi)
            order = np.argsort(-score, kind="stable")[: int(self.beam_width)]
            new_pred = beam_pred[parent[order]].copy()
            new_pred[:, lo : hi + 1] = cand_pred[order]
            chosen = [tuple(tokens[keep[i]]) for i in order]
            beam_words = [beam_words[parent[i]] + [words[i]] for i in order]
            beam_tokens = [beam_tokens[parent[i]] + [c] for i, c in zip(order, chosen)]
            beam_pred, beam_score = new_pred, score[order]
            # the LM context of the survivors: append their word, or rebuild when too long
            if self.lm_context is not None and len(beam_tokens[0]) >= 1.5 * self.lm_context:
                lm_state = lm.prefix(
                    [prompt + [t for w in self._lm_window(h) for t in w] for h in beam_tokens]
                )
            else:
                _, _, lm_state = lm.extend(lm_state, parent[order], chosen, keep_state=True)
            logger.debug("word %d: %s (%.4g)", n, " ".join(beam_words[0][-5:]), beam_score[0])
        beams = [(w, float(s)) for w, s in zip(beam_words, beam_score)]
        return DecodedText(
            words=list(beam_words[0]), times=times, score=float(beam_score[0]), beams=beams
        )


def _check_in_run(times: np.ndarray, n_frames: int, tr: float, tname: str, yname: str) -> None:
    """Word times must fall inside the run's frames (catches runs paired with the wrong data)."""
    end = n_frames * tr
    if times.size and (times[0] < -tr or times[-1] >= end + tr):
        raise ValueError(
            f"the words of `{tname}` span {times[0]:g}-{times[-1]:g} s but `{yname}` has "
            f"{n_frames} frames of {tr:g} s (0-{end:g} s): brain and stimulus do not match. "
            f"Check that each run's words go with its own brain data and that `tr` is right."
        )


def _column_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(0)
    b = b - b.mean(0)
    den = np.sqrt((a * a).sum(0) * (b * b).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(0) / np.where(den > 0, den, 1.0), 0.0)


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
