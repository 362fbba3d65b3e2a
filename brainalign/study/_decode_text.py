"""Text tasks of a decoding study: sentences (embedding-guided), story (LM beam search).

See :mod:`brainalign.study._decode_tasks` for the nulls and chance levels.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from brainalign._logging import logger
from brainalign.study._decode_tasks import (
    _N_CHANCE_PAIRINGS,
    TaskResult,
    _evaluate,
    _retrieval_chance,
    _retrieval_metrics,
    derangement,
    stream_seed,
)

#: Random hypothesis draws behind the sentence-task chance levels.
_N_CHANCE_DRAWS = 200

__all__ = ["sentences_task", "story_task"]


class _CachedEmbedder:
    """Sentence embeddings memoised by text (the hypotheses are test sentences)."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self._cache: dict[str, np.ndarray] = {}

    def __call__(self, texts: Any) -> np.ndarray:
        missing = sorted({t for t in texts if t not in self._cache})
        if missing:
            for t, e in zip(missing, np.asarray(self.embedder(missing))):
                self._cache[t] = e
        return np.stack([self._cache[t] for t in texts])


def _text_metrics(refs: list[str], hyps: list[str], embed: Any) -> dict[str, float]:
    from brainalign.evaluation import bleu1, embedding_similarity, meteor, wer

    m = {
        "bleu1": float(bleu1(refs, hyps)),
        "wer": float(wer(refs, hyps)),
        "meteor": float(meteor(refs, hyps)),
    }
    if embed is not None:
        m["embedding_similarity"] = float(embedding_similarity(refs, hyps, model=embed))
    return m


def sentences_task(study: Any, verbose: bool | None) -> TaskResult:
    """Brain → sentence embedding → the closest test sentence, with nulls and chance."""
    from brainalign import decoders as dec
    from brainalign.evaluation import bleu1, meteor, wer

    cfg = study.sentences
    seed = int(study.seed)
    t0 = time.perf_counter()
    raw = dec.SentenceEmbedder(
        None if cfg.embedder is None else str(cfg.embedder), device=study.device
    )
    embed = _CachedEmbedder(raw)
    data = dec.make_sentence_brain_data(
        embed,
        n_voxels=cfg.n_voxels,
        snr=cfg.snr,
        signal_fraction=cfg.signal_fraction,
        shared_noise=cfg.shared_noise,
        test_size=cfg.test_size,
        seed=seed,
    )
    Y_tr, _, Y_te, s_te = data.split()
    E_tr = data.embeddings[data.train].astype(np.float64)
    C = data.embeddings[data.test].astype(np.float64)

    def fit(X: Any) -> Any:
        return dec.EmbeddingTextDecoder(embedder=embed, device=study.device).fit(X, E_tr)

    def outputs(model: Any, X: Any) -> dict[str, Any]:
        P = model.predict(X)
        best = np.argmax(model.similarity(P, C), axis=1)
        return {"texts": [s_te[i] for i in best], "P": P - model.embedding_mean_}

    centred_C = C - E_tr.mean(0)

    def metrics(out: dict[str, Any], _cond: str) -> dict[str, float]:
        m = _text_metrics(s_te, out["texts"], embed)
        m.update(
            _retrieval_metrics(out["P"], centred_C, study.retrieval, stream_seed(seed, "retrieval"))
        )
        return m

    # chance: the decoder's output with a uniformly random candidate per item, scored exactly
    # as the decoder is (corpus-level BLEU-1 / WER / METEOR), averaged over random draws
    rng = np.random.default_rng(stream_seed(seed, "sentences.chance"))
    draws = [rng.integers(len(s_te), size=len(s_te)) for _ in range(_N_CHANCE_DRAWS)]
    Cn = C / np.linalg.norm(C, axis=1, keepdims=True)
    chance = {
        name: float(np.mean([f(s_te, [s_te[j] for j in d]) for d in draws]))
        for name, f in (("bleu1", bleu1), ("wer", wer), ("meteor", meteor))
    }
    chance["embedding_similarity"] = float(np.mean(Cn @ Cn.T))
    chance.update(_retrieval_chance(len(s_te), study.retrieval))
    rows, real, first_null = _evaluate(
        "sentences",
        fit,
        outputs,
        metrics,
        Y_tr,
        {"single": Y_te},
        {"single": chance},
        nulls=list(study.nulls),
        n_null=study.task_permutations("sentences"),
        refit=bool(study.null_refit),
        seed=stream_seed(seed, "sentences.nulls"),
        verbose=verbose,
    )
    examples = []
    for i in range(min(cfg.n_show, len(s_te))):
        row = {"truth": s_te[i], "decoded": real["single"]["texts"][i]}
        for kind in study.nulls:
            row[f"null ({kind})"] = first_null["single", kind]["texts"][i]
        examples.append(row)
    summary = {
        "n_sentences": len(data.sentences),
        "n_train": len(data.train),
        "n_test": len(data.test),
        "n_voxels": int(cfg.n_voxels),
        "snr": float(cfg.snr),
        "signal_fraction": float(cfg.signal_fraction),
        "embedder": str(cfg.embedder) if cfg.embedder else "all-MiniLM-L6-v2 (packaged)",
        "conditions": {"single": "single-trial responses, candidates = the test sentences"},
        "examples": examples,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    return TaskResult(rows, {}, summary)


def story_task(study: Any, verbose: bool | None) -> TaskResult:
    """Beam-search decoding of a held-out story run, with nulls and chance."""
    from brainalign import decoders as dec

    cfg = study.story
    seed = int(study.seed)
    t0 = time.perf_counter()
    n_null = study.task_permutations("story")
    if n_null < 19:
        logger.warning(
            "story: %d null run(s) per null kind (each a full beam search), so no p-value can "
            "go below 1/%d; set `story.n_permutations` higher for a significance test",
            n_null,
            n_null + 1,
        )
    lm = None if cfg.lm is None else str(cfg.lm)
    data = dec.make_story_brain_data(
        lm,
        n_runs=cfg.n_runs,
        words_per_run=cfg.words_per_run,
        test_words=cfg.test_words,
        word_rate=cfg.word_rate,
        tr=cfg.tr,
        n_voxels=cfg.n_voxels,
        snr=cfg.snr,
        seed=seed,
        device=study.device,
    )
    starts = np.arange(0.0, data.test_times[-1] + 1e-9, cfg.window_s)
    refs_all = [
        " ".join(w for w, t in zip(data.test_words, data.test_times) if s <= t < s + cfg.window_s)
        for s in starts
    ]
    keep = [i for i, r in enumerate(refs_all) if r]
    refs = [refs_all[i] for i in keep]
    embed = None
    if cfg.embedder is not False:
        embed = _CachedEmbedder(
            dec.SentenceEmbedder(
                None if cfg.embedder is None else str(cfg.embedder), device=study.device
            )
        )

    def fit(Ys: Any) -> Any:
        return dec.BeamSearchTextDecoder(
            lm,
            layer=data.layer,
            context=data.context,
            tr=data.tr,
            delays=data.delays,
            beam_width=cfg.beam_width,
            n_candidates=cfg.n_candidates,
            prompt=cfg.prompt,
            device=study.device,
            verbose=False,
        ).fit(data.train_runs, list(Ys))

    def outputs(model: Any, Y: Any) -> dict[str, Any]:
        out = model.decode(Y, data.test_times)
        texts = out.window_texts(starts, cfg.window_s)
        return {"texts": [texts[i] for i in keep], "text": out.text}

    def metrics(out: dict[str, Any], _cond: str) -> dict[str, float]:
        return _text_metrics(refs, out["texts"], embed)

    rows, real, first_null = _evaluate(
        "story",
        fit,
        outputs,
        metrics,
        list(data.train_Y),
        {"single": data.test_Y},
        {"single": {}},
        nulls=list(study.nulls),
        n_null=study.task_permutations("story"),
        refit=bool(study.null_refit),
        seed=stream_seed(seed, "story.nulls"),
        verbose=verbose,
    )
    # chance: the decoded windows paired with other windows of the run
    rng = np.random.default_rng(stream_seed(seed, "story.chance"))
    hyps = real["single"]["texts"]
    if len(hyps) < 2:  # one scored window: no other window to pair it with
        logger.warning(
            "story: only %d scored window(s) of %s s, so text chance levels are undefined "
            "(reported as null); raise `story.test_words` or lower `story.window_s`",
            len(hyps),
            cfg.window_s,
        )
        shuffles = []
    else:
        shuffles = [
            _text_metrics(refs, [hyps[j] for j in derangement(rng, len(hyps))], embed)
            for _ in range(_N_CHANCE_PAIRINGS)
        ]
    for row in rows:
        values = [s[row["metric"]] for s in shuffles]
        row["chance"] = float(np.mean(values)) if values else float("nan")
    summary = {
        "n_runs": int(cfg.n_runs),
        "n_test_words": len(data.test_words),
        "n_voxels": int(cfg.n_voxels),
        "snr": float(cfg.snr),
        "tr": float(cfg.tr),
        "window_s": float(cfg.window_s),
        "beam_width": int(cfg.beam_width),
        "lm": lm or "SmolLM2-135M (packaged)",
        "conditions": {"single": "held-out run"},
        "truth": " ".join(data.test_words),
        "decoded": real["single"]["text"],
        "null_decoded": {k: first_null["single", k]["text"] for k in study.nulls},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    return TaskResult(rows, {}, summary)
