"""Brain → text: language-model beam search scored by an encoding model (Tang et al. 2023).

:class:`BeamSearchTextDecoder` is the estimator. The algorithm (word proposals, the two LM
contexts, cost, scoring, voxel selection) is described in
:mod:`brainalign.decoders.heads._text_search`, which runs the search; the encoding model is
in :mod:`brainalign.decoders.heads._text_encoding`, the LM side in
:mod:`brainalign.decoders.heads._text_lm`, the checks of words and times and the output in
:mod:`brainalign.decoders.heads._text_words`.

A decoding is only meaningful beside its null: decode permuted or noise brain data with the
same decoder (:func:`brainalign.decoders.permute_rows`,
:func:`brainalign.decoders.noise_like`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from brainalign._validation import check_array, check_choice, check_positive
from brainalign.decoders.heads._text_encoding import fit_encoder, word_covariance, word_design
from brainalign.decoders.heads._text_lm import WordLM
from brainalign.decoders.heads._text_search import beam_search, load_word_lm, propose_words
from brainalign.decoders.heads._text_words import (
    DecodedText,
    _check_runs,
    _check_word_times,
    _check_words,
    _decode_times,
)

__all__ = ["BeamSearchTextDecoder"]

SCORINGS = ("likelihood", "correlation")


# --------------------------------------------------------------------------------------------
# the estimator
# --------------------------------------------------------------------------------------------
class BeamSearchTextDecoder(BaseEstimator):
    """Decode word sequences from brain responses: LM proposals ranked by an encoding model.

    See :mod:`brainalign.decoders.heads._text_search` for the algorithm. ``fit`` fits the
    encoding model (word features → brain) on training runs; ``decode`` runs the beam search
    on a held-out run.

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
        Beam score (see the notes of :mod:`~brainalign.decoders.heads._text_search`).
    future_variance : bool
        With ``scoring="likelihood"``: add to each frame's noise variance the expected
        variance of the contributions of the words not decoded yet (notes of
        :mod:`~brainalign.decoders.heads._text_search`).
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
        word_lm = load_word_lm(
            self.lm,
            layer=self.layer,
            context=self.context,
            bos=self.bos,
            batch_size=self.batch_size,
            device=self.device,
            dtype=self.dtype,
            verbose=self.verbose,
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
        return word_design(
            feats,
            times,
            n_frames,
            feature_mean=self.feature_mean_,
            feature_scale=self.feature_scale_,
            tr=self.tr,
            delays=self.delays,
            lanczos_window=self.lanczos_window,
        )

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
        runs, Ys = _check_runs(stimuli, Y, float(self.tr))
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
        self.encoder_, self.voxel_scores_, self.voxels_, self.noise_var_ = fit_encoder(
            template, X, Yz, groups, self.n_voxels
        )
        n_targets = self.voxel_scores_.shape[0]
        self.word_cov_ = word_covariance(
            self.encoder_,
            self.voxels_,
            allf,
            self.feature_mean_,
            self.feature_scale_,
            self.delays,
            n_features=X[0].shape[1],
            n_targets=n_targets,
        )
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
        return propose_words(
            lm,
            words,
            prompt=self.prompt,
            lm_context=self.lm_context,
            n_candidates=self.n_candidates,
            top_p=self.top_p,
            min_ratio=self.min_ratio,
            max_word_tokens=self.max_word_tokens,
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
        from brainalign.alignment import zscore_runs

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
        times = _decode_times(n_frames, tr, word_times, word_rate, start)
        lm = self._word_lm()
        y = zscore_runs(Y)[:, self.voxels_].astype(np.float64)
        lags = self._delays_samples()
        n_delays = lags.size
        coef = np.asarray(self.encoder_.coef_, dtype=np.float64)[:, self.voxels_]
        W = coef.reshape(n_delays, self.n_features_in_, -1) / self.feature_scale_[None, :, None]
        base = np.broadcast_to(
            np.asarray(self.encoder_.intercept_, dtype=np.float64)[self.voxels_], y.shape
        )
        return beam_search(
            lm,
            y,
            times,
            W=W,
            base=base,
            lags=lags,
            tr=tr,
            lanczos_window=self.lanczos_window,
            feature_mean=self.feature_mean_,
            noise_var=self.noise_var_,
            word_cov=self.word_cov_,
            prompt=self.prompt,
            scoring=self.scoring,
            future_variance=self.future_variance,
            beam_width=self.beam_width,
            n_candidates=self.n_candidates,
            top_p=self.top_p,
            min_ratio=self.min_ratio,
            max_word_tokens=self.max_word_tokens,
            lm_context=self.lm_context,
            verbose=self.verbose,
        )
