"""Semi-synthetic text-decoding data: real sentences and real model features, simulated brains.

The ground truth is known, so a text decoder can be checked end to end before real data:

- :func:`make_sentence_brain_data`: one brain sample per sentence (a single-trial response,
  as in reading or captioning studies): MiniLM sentence embeddings (real weights) → planted
  voxel weights → response + noise with a modest single-trial SNR. For
  :class:`~brainalign.decoders.heads._text_embed.EmbeddingTextDecoder`.
- :func:`make_story_brain_data`: BOLD runs of a continuous "story" (the sentences in a
  shuffled order, one word every ``1 / word_rate`` s with jitter): per-word SmolLM2 features
  (real weights, :class:`~brainalign.features.TextExtractor` with word contexts) → Lanczos
  resampling to the TR grid → FIR delays → planted weights → BOLD + temporally autocorrelated,
  spatially shared noise. The last run is held out; the encoding model of
  :class:`~brainalign.decoders.heads._text_beam.BeamSearchTextDecoder` is fitted on the
  others and the held-out run is decoded.

Noise model (both): each voxel has unit noise variance, a share ``shared_noise`` of it from
``n_shared`` latent sources mixed over voxels (physiological / global signals), the rest
independent; story noise is AR(1) in time with coefficient ``ar``. A fraction
``signal_fraction`` of the voxels carries signal, with a per-voxel signal-to-noise variance
ratio drawn from a gamma distribution of mean ``snr``; the others carry none.

The sentences (``brainalign/decoders/data/sentences.txt``) were written for the project:
276 short, plain English sentences on everyday topics (:func:`read_sentences`).

:func:`evaluate_text_decoder` scores a decoder and the same decoder on permuted-brain and
noise input with BLEU-1, WER, METEOR (and MiniLM similarity), each with its null.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._validation import check_positive

__all__ = [
    "SentenceBrainData",
    "StoryBrainData",
    "evaluate_text_decoder",
    "make_sentence_brain_data",
    "make_story_brain_data",
    "read_sentences",
]


def read_sentences(path: str | Path | None = None) -> list[str]:
    """The project's sentences (one per line; ``#`` lines and blank lines skipped).

    Parameters
    ----------
    path : str or Path, optional
        Another file in the same format. Default: the packaged ``sentences.txt``.

    Returns
    -------
    list of str
    """
    if path is None:
        text = (
            resources.files("brainalign.decoders")
            .joinpath("data", "sentences.txt")
            .read_text(encoding="utf-8")
        )
    else:
        text = Path(path).read_text(encoding="utf-8")
    out = [ln.strip() for ln in text.splitlines()]
    out = [ln for ln in out if ln and not ln.startswith("#")]
    if not out:
        raise ValueError(f"no sentences in {path or 'the packaged sentences.txt'}")
    return out


def _check_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _check_fraction(value: Any, name: str, *, closed: bool = True) -> float:
    v = float(value)
    ok = 0 <= v <= 1 if closed else 0 <= v < 1
    if not ok:
        raise ValueError(f"`{name}` must be in [0, 1{']' if closed else ')'}; got {value!r}")
    return v


def _voxel_snr(rng: np.random.Generator, n: int, snr: float, fraction: float) -> np.ndarray:
    """Per-voxel signal-to-noise variance ratios: gamma (shape 2) with mean ``snr``."""
    out = rng.gamma(2.0, snr / 2.0, size=n)
    n_signal = round(fraction * n)
    off = rng.permutation(n)[n_signal:]
    out[off] = 0.0
    return out


def _shared_noise_mixing(rng: np.random.Generator, n_shared: int, n_voxels: int) -> np.ndarray:
    mix = rng.standard_normal((n_shared, n_voxels))
    return mix / np.linalg.norm(mix, axis=0, keepdims=True)  # unit variance per voxel


# --------------------------------------------------------------------------------------------
# sentence-level data (embedding-guided decoding)
# --------------------------------------------------------------------------------------------
@dataclass
class SentenceBrainData:
    """Simulated single-trial responses to sentences.

    Attributes
    ----------
    sentences : list of str, length n_sentences
    embeddings : ndarray, shape (n_sentences, dim)
        Sentence embeddings the responses were simulated from.
    Y : ndarray, shape (n_sentences, n_voxels)
        Brain responses (signal + noise).
    weights : ndarray, shape (dim, n_voxels)
        Planted weights (on the standardised embeddings).
    snr : ndarray, shape (n_voxels,)
        Planted signal-to-noise variance ratio of each voxel.
    train, test : ndarray of int
        A random split of the sentences.
    """

    sentences: list[str]
    embeddings: np.ndarray
    Y: np.ndarray
    weights: np.ndarray = field(repr=False)
    snr: np.ndarray = field(repr=False)
    train: np.ndarray = field(repr=False)
    test: np.ndarray = field(repr=False)

    def split(self) -> tuple[np.ndarray, list[str], np.ndarray, list[str]]:
        """``(Y_train, sentences_train, Y_test, sentences_test)``."""
        s = self.sentences
        return (
            self.Y[self.train],
            [s[i] for i in self.train],
            self.Y[self.test],
            [s[i] for i in self.test],
        )


def make_sentence_brain_data(
    embedder: Any = None,
    *,
    sentences: Sequence[str] | None = None,
    n_voxels: int = 500,
    snr: float = 0.1,
    signal_fraction: float = 0.7,
    n_shared: int = 10,
    shared_noise: float = 0.3,
    test_size: float = 0.2,
    seed: int = 0,
    batch_size: int = 32,
    device: str = "cpu",
) -> SentenceBrainData:
    """Single-trial brain responses simulated from sentence embeddings.

    ``Y = standardise(embeddings) @ weights + noise`` (module notes for the noise), with
    Gaussian weights scaled so that each voxel reaches its planted SNR.

    Parameters
    ----------
    embedder : str, path, callable or None
        Encoder folder or callable ``list[str] -> (n, dim)``; ``None``: all-MiniLM-L6-v2.
    sentences : sequence of str, optional
        Default: :func:`read_sentences`.
    n_voxels : int
    snr : float
        Mean signal-to-noise variance ratio of the signal voxels (single trial).
    signal_fraction : float
        Share of voxels with signal.
    n_shared : int
        Latent noise sources shared across voxels.
    shared_noise : float
        Share of each voxel's noise variance from the shared sources.
    test_size : float
        Share of sentences in the test split (at least 2 sentences each side).
    seed : int
    batch_size, device
        Embedding settings.

    Returns
    -------
    SentenceBrainData
    """
    from brainalign.decoders.heads._text_embed import SentenceEmbedder

    n_voxels = _check_int(n_voxels, "n_voxels")
    n_shared = _check_int(n_shared, "n_shared")
    check_positive(snr, "snr")
    signal_fraction = _check_fraction(signal_fraction, "signal_fraction")
    shared_noise = _check_fraction(shared_noise, "shared_noise")
    test_size = _check_fraction(test_size, "test_size", closed=False)
    sents = read_sentences() if sentences is None else [str(s) for s in sentences]
    n = len(sents)
    n_test = round(test_size * n)
    if n_test < 2 or n - n_test < 2:
        raise ValueError(
            f"`test_size`={test_size:g} of {n} sentences leaves {n_test} test and "
            f"{n - n_test} training sentences; both need at least 2"
        )
    embed = (
        embedder
        if callable(embedder)
        else SentenceEmbedder(embedder, batch_size=batch_size, device=device)
    )
    E = np.asarray(embed(sents), dtype=np.float64)
    if E.ndim != 2 or E.shape[0] != n:
        raise ValueError(f"the embedder must return ({n}, dim); got shape {E.shape}")
    rng = np.random.default_rng(seed)
    Ez = (E - E.mean(0)) / np.where(E.std(0) > 1e-12, E.std(0), 1.0)
    voxel_snr = _voxel_snr(rng, n_voxels, float(snr), signal_fraction)
    W = rng.standard_normal((E.shape[1], n_voxels))
    signal = Ez @ W
    scale = np.sqrt(voxel_snr / np.maximum(signal.var(0), 1e-12))
    W *= scale
    signal *= scale
    mix = _shared_noise_mixing(rng, n_shared, n_voxels)
    noise = math.sqrt(shared_noise) * (rng.standard_normal((n, n_shared)) @ mix)
    noise += math.sqrt(1.0 - shared_noise) * rng.standard_normal((n, n_voxels))
    order = rng.permutation(n)
    return SentenceBrainData(
        sentences=sents,
        embeddings=E.astype(np.float32),
        Y=signal + noise,
        weights=W,
        snr=voxel_snr,
        train=np.sort(order[n_test:]),
        test=np.sort(order[:n_test]),
    )


# --------------------------------------------------------------------------------------------
# story runs (beam-search decoding)
# --------------------------------------------------------------------------------------------
@dataclass
class StoryBrainData:
    """Simulated BOLD runs of a continuous text; the last run is the held-out one.

    Attributes
    ----------
    runs : list of (list of str, ndarray)
        Words and onsets (s) of each run.
    Y : list of ndarray, each shape (n_frames_run, n_voxels)
        BOLD of each run (frame ``i`` at ``i * tr``).
    tr : float
    delays : tuple of float
        FIR delays (s) of the simulation.
    layer : int
        Hidden state of the LM the brain "uses".
    context : int
        Words of context of each word's feature.
    snr : ndarray, shape (n_voxels,)
        Planted signal-to-noise variance ratio of each voxel.
    signal : list of ndarray
        The noise-free responses of each run.
    """

    runs: list[tuple[list[str], np.ndarray]]
    Y: list[np.ndarray]
    tr: float
    delays: tuple[float, ...]
    layer: int
    context: int
    snr: np.ndarray = field(repr=False)
    signal: list[np.ndarray] = field(repr=False)

    @property
    def train_runs(self) -> list[tuple[list[str], np.ndarray]]:
        return self.runs[:-1]

    @property
    def train_Y(self) -> list[np.ndarray]:
        return self.Y[:-1]

    @property
    def test_words(self) -> list[str]:
        return self.runs[-1][0]

    @property
    def test_times(self) -> np.ndarray:
        return self.runs[-1][1]

    @property
    def test_Y(self) -> np.ndarray:
        return self.Y[-1]


def _story_runs(
    sentences: list[str], lengths: list[int], rng: np.random.Generator
) -> list[list[str]]:
    """Whole sentences, shuffled, into runs of at least ``lengths[i]`` words (no repeats)."""
    order = rng.permutation(len(sentences))
    runs, k = [], 0
    for need in lengths:
        words: list[str] = []
        while len(words) < need:
            if k >= len(order):
                raise ValueError(
                    f"not enough sentences for runs of {lengths} words ({len(sentences)} "
                    f"sentences); lower `n_runs` or `words_per_run`"
                )
            words.extend(sentences[order[k]].split())
            k += 1
        runs.append(words)
    return runs


def _word_features(
    lm: Any,
    runs: list[list[str]],
    times: list[np.ndarray],
    *,
    layer: int | None,
    context: int,
    batch_size: int,
    device: str,
) -> tuple[list[np.ndarray], int]:
    import pandas as pd

    from brainalign.features import TextExtractor, smollm2_path

    kwargs: dict[str, Any] = {}
    if isinstance(lm, tuple):
        kwargs = {"backbone": lm[0], "tokenizer": lm[1]}
        model = getattr(lm[0], "name_or_path", None) or "in-memory-lm"
    else:
        model = str(smollm2_path() if lm is None else lm)
    ext = TextExtractor(
        model=str(model),
        context_mode="naive",
        context_unit="words",
        context=int(context),
        pooling="last",
        bos="auto",
        batch_size=int(batch_size),
        device=device,
        verbose=False,
        **kwargs,
    )
    n_layers = ext.n_hidden_states - 1
    resolved = round(2 * n_layers / 3) if layer is None else int(layer)
    if not -(n_layers + 1) <= resolved <= n_layers:
        raise IndexError(f"`layer` must index the LM's {n_layers + 1} hidden states; got {layer}")
    resolved %= n_layers + 1
    feats = []
    for words, t in zip(runs, times):
        events = pd.DataFrame({"onset": t, "duration": 0.0, "type": "Word", "text": words})
        feats.append(np.asarray(ext.compute(events).layers[f"layer_{resolved}"], np.float64))
    return feats, resolved


def make_story_brain_data(
    lm: Any = None,
    *,
    n_runs: int = 4,
    words_per_run: int = 150,
    test_words: int | None = None,
    word_rate: float = 1.0,
    jitter: float = 0.2,
    tr: float = 2.0,
    delays: Sequence[float] = (2.0, 4.0, 6.0, 8.0),
    layer: int | None = None,
    context: int = 5,
    n_voxels: int = 1000,
    n_components: int = 16,
    snr: float = 1.0,
    signal_fraction: float = 0.7,
    n_shared: int = 10,
    shared_noise: float = 0.3,
    ar: float = 0.3,
    lead_in: float = 4.0,
    tail: float = 10.0,
    sentences: Sequence[str] | None = None,
    seed: int = 0,
    batch_size: int = 16,
    device: str = "cpu",
) -> StoryBrainData:
    """BOLD runs simulated from per-word LM features of a continuous text.

    Per run: words of whole sentences (shuffled, none repeated) with onsets every
    ``1 / word_rate`` s (± ``jitter`` of that), starting at ``lead_in``; per-word features
    (hidden state ``layer`` at the word's last token over the last ``context`` words,
    :class:`~brainalign.features.TextExtractor` naive word mode), standardised over all runs
    and projected on their first ``n_components`` principal components; Lanczos resampling
    to frames at ``i * tr``; FIR delays; per-voxel weights = a random direction in the
    component space times a random HRF-like delay profile (peak at 4-6 s); scaled to the
    voxel's planted SNR; plus noise (module notes).

    Parameters
    ----------
    lm : str, path, (model, tokenizer) or None
        Causal LM (``None``: SmolLM2-135M).
    n_runs : int
        Runs (>= 2; the last is the held-out run).
    words_per_run : int
        Minimum words of each training run (whole sentences are added until reached).
    test_words : int, optional
        Minimum words of the held-out run (default ``words_per_run``).
    word_rate : float
        Words per second (1.0: a slow reading or narration pace; speech is about 2.5, which
        puts more words in each TR and makes every word's share of the response smaller).
    jitter : float
        Each inter-word interval is ``(1 + u * jitter) / word_rate`` with u uniform in
        [-1, 1].
    tr : float
    delays : sequence of float
        FIR delays (s) of the simulated response.
    layer : int or None
        LM hidden state (``None``: two thirds of the depth, as the decoder's default).
    context : int
        Words of context per feature (as the decoder's ``context``).
    n_voxels, n_components, snr, signal_fraction, n_shared, shared_noise, ar
        Simulation settings (module notes).
    lead_in, tail : float
        Silence before the first and after the last word (s).
    sentences : sequence of str, optional
        Default: :func:`read_sentences`.
    seed : int
    batch_size, device
        Feature extraction settings.

    Returns
    -------
    StoryBrainData
    """
    from brainalign.alignment import Delayer, lanczos_resample
    from brainalign.decoders.heads._text_words import frame_times

    n_runs = _check_int(n_runs, "n_runs", 2)
    words_per_run = _check_int(words_per_run, "words_per_run")
    test_words = words_per_run if test_words is None else _check_int(test_words, "test_words")
    n_voxels = _check_int(n_voxels, "n_voxels")
    n_components = _check_int(n_components, "n_components")
    n_shared = _check_int(n_shared, "n_shared")
    context = _check_int(context, "context")
    rate = check_positive(word_rate, "word_rate")
    tr = check_positive(tr, "tr")
    check_positive(snr, "snr")
    jitter = _check_fraction(jitter, "jitter", closed=False)
    signal_fraction = _check_fraction(signal_fraction, "signal_fraction")
    shared_noise = _check_fraction(shared_noise, "shared_noise")
    ar = _check_fraction(ar, "ar", closed=False)
    check_positive(lead_in, "lead_in", strict=False)
    check_positive(tail, "tail", strict=False)
    delayer = Delayer(delays=delays, sfreq=1.0 / tr)
    lags = delayer._check_delays()
    rng = np.random.default_rng(seed)
    sents = read_sentences() if sentences is None else [str(s) for s in sentences]
    runs = _story_runs(sents, [words_per_run] * (n_runs - 1) + [test_words], rng)
    times = []
    for words in runs:
        gaps = (1.0 + jitter * rng.uniform(-1, 1, len(words) - 1)) / rate
        times.append(float(lead_in) + np.concatenate([[0.0], np.cumsum(gaps)]))
    feats, resolved = _word_features(
        lm, runs, times, layer=layer, context=context, batch_size=batch_size, device=device
    )
    allf = np.concatenate(feats)
    mu, sd = allf.mean(0), np.where(allf.std(0) > 1e-12, allf.std(0), 1.0)
    _, _, vt = np.linalg.svd((allf - mu) / sd, full_matrices=False)
    k = min(n_components, vt.shape[0])
    comps = [((f - mu) / sd) @ vt[:k].T for f in feats]
    comp_sd = np.concatenate(comps).std(0)
    comps = [c / np.where(comp_sd > 1e-12, comp_sd, 1.0) for c in comps]
    n_frames = [math.ceil((t[-1] + float(tail)) / tr) + 1 for t in times]
    X = [
        delayer.fit_transform(lanczos_resample(c, t, frame_times(nf, tr)))
        for c, t, nf in zip(comps, times, n_frames)
    ]
    # weights: direction in component space x HRF-like delay profile
    delay_s = lags * tr
    peak = rng.uniform(4.0, 6.0, n_voxels)
    profile = np.exp(-0.5 * ((delay_s[:, None] - peak[None]) / 2.0) ** 2)  # (n_delays, n_vox)
    direction = rng.standard_normal((k, n_voxels))
    W = (profile[:, None, :] * direction[None]).reshape(lags.size * k, n_voxels)
    signal = [x @ W for x in X]
    voxel_snr = _voxel_snr(rng, n_voxels, float(snr), signal_fraction)
    sig_var = np.concatenate(signal).var(0)
    scale = np.sqrt(voxel_snr / np.maximum(sig_var, 1e-12))
    signal = [s * scale for s in signal]
    mix = _shared_noise_mixing(rng, n_shared, n_voxels)
    Y = []
    for s in signal:
        shared = _ar1(rng, (s.shape[0], n_shared), ar) @ mix
        own = _ar1(rng, s.shape, ar)
        Y.append(s + math.sqrt(shared_noise) * shared + math.sqrt(1 - shared_noise) * own)
    return StoryBrainData(
        runs=[(w, t) for w, t in zip(runs, times)],
        Y=Y,
        tr=float(tr),
        delays=tuple(float(d) for d in np.atleast_1d(delays)),
        layer=resolved,
        context=context,
        snr=voxel_snr,
        signal=signal,
    )


def _ar1(rng: np.random.Generator, shape: tuple[int, int], ar: float) -> np.ndarray:
    """Unit-variance AR(1) noise along axis 0."""
    e = rng.standard_normal(shape)
    out = np.empty(shape)
    out[0] = e[0]
    c = math.sqrt(1.0 - ar**2)
    for t in range(1, shape[0]):
        out[t] = ar * out[t - 1] + c * e[t]
    return out


# --------------------------------------------------------------------------------------------
# evaluation beside the nulls
# --------------------------------------------------------------------------------------------
def evaluate_text_decoder(
    decode: Callable[[np.ndarray], Sequence[str]],
    Y: Any,
    references: Sequence[str],
    *,
    nulls: Sequence[str] = ("permuted-brain", "noise"),
    n_null: int = 1,
    embedder: Any = False,
    chance: dict[str, float] | None = None,
    seed: int = 0,
) -> list[Any]:
    """Score a text decoder and the same decoder on null brain input.

    Parameters
    ----------
    decode : callable
        ``decode(Y) -> hypotheses``: the whole pipeline from brain data to one text per
        reference (e.g. the decoded words of each time window, or the top candidate of each
        trial).
    Y : ndarray, shape (n_samples, n_voxels)
        Test brain data (frames of a run, or trials).
    references : sequence of str
        The true texts, paired with the hypotheses.
    nulls : sequence of {"permuted-brain", "noise"}
        Null controls (:func:`brainalign.decoders.permute_rows`,
        :func:`brainalign.decoders.noise_like`): the rows of ``Y`` shuffled, or Gaussian
        noise with its per-voxel mean and std; the fitted decoder is unchanged.
    n_null : int
        Null runs per kind.
    embedder : False, None, str, path or callable
        MiniLM similarity (:func:`brainalign.evaluation.embedding_similarity` ``model``);
        ``False`` skips it.
    chance : dict, optional
        Chance level per metric name (e.g. the expected score of a random candidate).
    seed : int

    Returns
    -------
    list of DecodingScore
        One per (metric, null kind): ``bleu1`` (corpus), ``wer`` (corpus, lower is
        better), ``meteor`` (mean), ``embedding_similarity`` (mean).
    """
    from brainalign.decoders._nulls import DecodingScore, noise_like, permute_rows
    from brainalign.evaluation._text_metrics import bleu1, embedding_similarity, meteor, wer

    refs = list(references)
    n_null = _check_int(n_null, "n_null")
    embed = embedder
    if embedder is not False and not callable(embedder):
        from brainalign.decoders.heads._text_embed import SentenceEmbedder

        embed = SentenceEmbedder(embedder)

    def metrics(hyps: Sequence[str]) -> dict[str, float]:
        hyps = list(hyps)
        if len(hyps) != len(refs):
            raise ValueError(
                f"`decode` must return one text per reference ({len(refs)}); got {len(hyps)}"
            )
        out = {
            "bleu1": float(bleu1(refs, hyps)),
            "wer": float(wer(refs, hyps)),
            "meteor": float(meteor(refs, hyps)),
        }
        if embed is not False:
            out["embedding_similarity"] = float(embedding_similarity(refs, hyps, model=embed))
        return out

    real = metrics(decode(np.asarray(Y)))
    rng = np.random.default_rng(seed)
    results = []
    for kind in nulls:
        transform = {"permuted-brain": permute_rows, "noise": noise_like}.get(kind)
        if transform is None:
            raise ValueError(f"`nulls` entries must be 'permuted-brain' or 'noise'; got {kind!r}")
        null_runs = [metrics(decode(transform(np.asarray(Y), rng))) for _ in range(n_null)]
        for name, score in real.items():
            null = np.asarray([r[name] for r in null_runs])
            better = name != "wer"
            extreme = int(np.sum(null >= score)) if better else int(np.sum(null <= score))
            results.append(
                DecodingScore(
                    metric=name,
                    score=score,
                    null=null,
                    chance=None if chance is None or name not in chance else float(chance[name]),
                    p_value=(1 + extreme) / (1 + null.size),
                    null_kind=kind,
                    refit=False,
                    greater_is_better=better,
                )
            )
    return results
