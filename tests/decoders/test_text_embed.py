"""EmbeddingTextDecoder, sentence embeddings and LM candidates: ranking, nulls, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from _fixtures_text_heads import (
    tiny_causal_lm,
    tiny_encoder,
    torch_one_thread,  # noqa: F401  (autouse fixture)
)
from sklearn.exceptions import NotFittedError

from brainalign.decoders import (
    EmbeddingTextDecoder,
    SentenceEmbedder,
    embed_sentences,
    generate_candidates,
)

SENTENCES = [
    "The cat slept on the warm roof of the car.",
    "We planted tomatoes and beans in the garden.",
    "A cold wind blew across the empty parking lot.",
]


@pytest.fixture(scope="module")
def encoder_path(tmp_path_factory):
    return tiny_encoder(tmp_path_factory.mktemp("enc") / "bert")


def _planted(n=120, dim=16, n_voxels=80, noise=1.0, seed=0):
    """Embeddings, brain = embeddings @ W + noise, and names for the candidates."""
    rng = np.random.default_rng(seed)
    E = rng.standard_normal((n, dim))
    X = E @ rng.standard_normal((dim, n_voxels)) + noise * rng.standard_normal((n, n_voxels))
    names = [f"sentence number {i}" for i in range(n)]
    return E, X, names


# ------------------------------------------------------------------ embeddings
def test_embed_sentences_is_sentence_transformers_mean_pooling(encoder_path):
    """= TextExtractor's 'sentence' band (mean of the last layer, [CLS]/[SEP] included), L2."""
    from brainalign.features import TextExtractor

    emb = embed_sentences(SENTENCES, encoder_path, batch_size=2)  # padding in a batch
    assert emb.shape == (3, 24) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)
    ext = TextExtractor(model=str(encoder_path), sentence_embedding=True, verbose=False)
    for i, s in enumerate(SENTENCES):
        words = s.split()
        ev = pd.DataFrame({"onset": np.arange(len(words), dtype=float), "text": words})
        ref = ext.compute(ev.assign(type="Word")).layers["sentence"][0]
        np.testing.assert_allclose(emb[i], ref / np.linalg.norm(ref), atol=1e-5)
    raw = embed_sentences(SENTENCES[:1], encoder_path, normalize=False)
    np.testing.assert_allclose(raw[0] / np.linalg.norm(raw[0]), emb[0], atol=1e-6)


def test_sentence_embedder_errors_and_pickle(encoder_path):
    with pytest.raises(ValueError, match="`batch_size` must be an integer >= 1"):
        SentenceEmbedder(encoder_path, batch_size=0)
    emb = SentenceEmbedder(encoder_path)
    with pytest.raises(TypeError, match="`texts` must be a sequence of str"):
        emb("one sentence")
    with pytest.raises(ValueError, match="`texts` must not be empty"):
        emb([])
    assert emb.dim == 24
    again = pickle.loads(pickle.dumps(emb))
    np.testing.assert_allclose(again(SENTENCES), emb(SENTENCES))


# ------------------------------------------------------------------ decoding
def test_decoder_ranks_the_true_sentence_first_and_the_null_does_not():
    E, X, names = _planted()
    tr, te = np.arange(90), np.arange(90, 120)
    dec = EmbeddingTextDecoder().fit(X[tr], E[tr])
    assert type(dec.decoder_).__name__ == "RidgeDecoder"
    cands = [names[i] for i in te]
    ranked = dec.decode(X[te], cands, candidate_embeddings=E[te])
    top1 = np.mean([b == c for b, c in zip(ranked.best, cands)])
    assert top1 >= 0.8
    assert np.all(np.diff(ranked.scores, axis=1) <= 1e-12)  # best first
    assert ranked.indices.shape == (30, 30) and sorted(ranked.indices[0]) == list(range(30))
    # null: permuted brain rows, same fitted decoder
    rng = np.random.default_rng(0)
    null = [
        np.mean(
            [
                b == c
                for b, c in zip(
                    dec.decode(X[te][rng.permutation(30)], cands, candidate_embeddings=E[te]).best,
                    cands,
                )
            ]
        )
        for _ in range(5)
    ]
    assert np.mean(null) < 0.2  # chance 1/30
    top3 = dec.decode(X[te], cands, candidate_embeddings=E[te], top_k=3)
    assert len(top3.texts[0]) == 3 and top3.scores.shape == (30, 3)
    assert top3.texts[0] == ranked.texts[0][:3]


def test_decoder_embeds_texts_with_its_embedder():
    """Texts in fit and as candidates go through ``embedder`` (a callable here)."""
    E, X, names = _planted(n=60, noise=0.5)
    lookup = {n: e for n, e in zip(names, E)}
    calls = []

    def embedder(texts):
        calls.append(len(texts))
        return np.stack([lookup[t] for t in texts])

    dec = EmbeddingTextDecoder(embedder=embedder).fit(X[:40], names[:40])
    np.testing.assert_allclose(dec.embedding_mean_, E[:40].mean(0))
    ranked = dec.decode(X[40:], names[40:])
    assert calls == [40, 20]
    assert np.mean([b == c for b, c in zip(ranked.best, names[40:])]) >= 0.8
    pred = dec.predict(X[40:])
    assert pred.shape == (20, 16)
    sim = dec.similarity(pred, E[40:])
    np.testing.assert_allclose(np.take_along_axis(sim, ranked.indices, 1), ranked.scores)


def test_decoder_with_the_tiny_encoder_and_centering(encoder_path):
    E, X, _ = _planted(n=40, dim=24, noise=0.1)
    dec = EmbeddingTextDecoder(embedder=str(encoder_path), center=False).fit(X, E)
    ranked = dec.decode(X[:3], SENTENCES)
    emb = embed_sentences(SENTENCES, encoder_path)
    pred = dec.predict(X[:3])
    cos = (pred / np.linalg.norm(pred, axis=1, keepdims=True)) @ emb.T
    np.testing.assert_allclose(np.sort(cos, axis=1)[:, ::-1], ranked.scores, atol=1e-5)
    again = pickle.loads(pickle.dumps(dec))
    assert again.decode(X[:3], SENTENCES).texts == ranked.texts


def test_errors():
    E, X, names = _planted(n=30)
    dec = EmbeddingTextDecoder()
    with pytest.raises(NotFittedError):
        dec.predict(X)
    with pytest.raises(
        ValueError, match=r"one sentence or embedding per brain sample.*29 sentences"
    ):
        dec.fit(X, E[:29])
    with pytest.raises(
        ValueError, match=r"one sentence or embedding per brain sample.*3 sentences"
    ):
        EmbeddingTextDecoder(embedder=lambda t: E[: len(t)]).fit(X, names[:3])
    with pytest.raises(TypeError, match="got a str"):
        dec.fit(X, "one sentence")
    dec.fit(X, E)
    with pytest.raises(ValueError, match=r"width the decoder was fitted on \(16\); got width 8"):
        dec.decode(X, names[:5], candidate_embeddings=E[:5, :8])
    with pytest.raises(ValueError, match="empty candidate set"):
        dec.decode(X, [], candidate_embeddings=np.zeros((0, 16)))
    with pytest.raises(ValueError, match=r"one row per candidate \(5\)"):
        dec.decode(X, names[:5], candidate_embeddings=E[:4])
    with pytest.raises(ValueError, match="`X` must have 80 voxels, as during fit"):
        dec.decode(X[:, :10], names[:5], candidate_embeddings=E[:5])
    with pytest.raises(ValueError, match="`top_k` must be None or >= 1"):
        dec.decode(X, names[:5], candidate_embeddings=E[:5], top_k=0)
    with pytest.raises(TypeError, match=r"`candidates\[1\]` must be a str"):
        dec.decode(X, ["a", 3], candidate_embeddings=E[:2])
    bad = EmbeddingTextDecoder(embedder=lambda t: np.zeros((len(t) + 1, 16))).fit(X, E)
    with pytest.raises(ValueError, match="the embedder must return one row per text"):
        bad.decode(X, names[:5])
    with pytest.raises(TypeError, match="`embedder` must be a model folder, a callable or None"):
        EmbeddingTextDecoder(embedder=3).fit(X, names)


# ------------------------------------------------------------------ LM candidates
def test_generate_candidates_from_a_tiny_lm(tmp_path):
    path = tiny_causal_lm(tmp_path / "lm")
    import torch

    state = torch.random.get_rng_state()
    cands = generate_candidates(6, path, max_new_tokens=8, seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched
    assert len(cands) == 6 and len(set(cands)) == 6
    assert all(isinstance(c, str) and c and "\n" not in c for c in cands)
    assert generate_candidates(6, path, max_new_tokens=8, seed=1) == cands
    with_prompt = generate_candidates(2, path, prompt="The cat", max_new_tokens=4, seed=0)
    assert len(with_prompt) == 2
    with pytest.raises(ValueError, match="`n` must be an integer >= 1; got 0"):
        generate_candidates(0, path)


# ------------------------------------------------------------------ slow: real MiniLM
@pytest.mark.slow
def test_minilm_embedding_decoder_beats_its_null_on_semisynthetic_sentences(capsys):
    """Real MiniLM embeddings of real sentences; single-trial brains with modest SNR."""
    from brainalign.decoders import (
        evaluate_text_decoder,
        make_sentence_brain_data,
    )
    from brainalign.evaluation import _text_metrics as tm

    data = make_sentence_brain_data(n_voxels=500, snr=0.1, seed=0)  # single-trial SNR 0.1
    Y_tr, s_tr, Y_te, s_te = data.split()
    emb = SentenceEmbedder()
    dec = EmbeddingTextDecoder(embedder=emb).fit(Y_tr, s_tr)
    C = emb(s_te)

    def decode(Y):
        return dec.decode(Y, s_te, candidate_embeddings=C).best

    # chance: the expected score of a candidate drawn at random from the set
    pairs_ref = [r for r in s_te for _ in s_te]
    pairs_hyp = [h for _ in s_te for h in s_te]
    chance = {
        "bleu1": float(np.mean(tm.bleu1(pairs_ref, pairs_hyp, average="none"))),
        "wer": float(np.mean(tm.wer(pairs_ref, pairs_hyp, average="none"))),
        "meteor": float(np.mean(tm.meteor(pairs_ref, pairs_hyp, average="none"))),
        "embedding_similarity": float(np.mean(C @ C.T)),
    }
    scores = evaluate_text_decoder(
        decode, Y_te, s_te, n_null=20, embedder=emb, chance=chance, seed=0
    )
    top1 = np.mean([b == r for b, r in zip(decode(Y_te), s_te)])
    with capsys.disabled():
        print(
            f"\nembedding decoder (MiniLM): top-1 {top1:.3f} of {len(s_te)} (chance {1 / len(s_te):.3f})"
        )
        for s in scores:
            print(" ", s)
    by = {(s.metric, s.null_kind): s for s in scores}
    for kind in ("permuted-brain", "noise"):
        assert by["bleu1", kind].score > by["bleu1", kind].null.max()
        assert by["wer", kind].score < by["wer", kind].null.min()
