"""Top-k retrieval against a brute-force reference, the MindEye draw protocol, ties, errors."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from brainalign.decoders import RetrievalResult, cosine_similarity, retrieval_topk


def _cos(u, v):
    dot = sum(a * b for a, b in zip(u, v))
    nu = math.sqrt(sum(a * a for a in u))
    nv = math.sqrt(sum(b * b for b in v))
    return dot / (nu * nv)


def _brute_topk(brain, stim, idx, k, direction):
    """Loops only: for each query, count candidates ranked above its match (no ties)."""
    hits = 0
    for qi in idx:
        query = brain[qi] if direction == "brain_to_stimulus" else stim[qi]
        pool = stim if direction == "brain_to_stimulus" else brain
        correct = _cos(query, pool[qi])
        above = 0
        for ci in idx:
            if ci != qi and _cos(query, pool[ci]) > correct:
                above += 1
        hits += above < k
    return hits / len(idx)


@pytest.fixture
def noisy_pairs():
    rng = np.random.default_rng(3)
    stim = rng.standard_normal((120, 6))
    brain = stim + 1.2 * rng.standard_normal((120, 6))
    return brain, stim


def test_cosine_similarity_matches_loops(noisy_pairs):
    brain, stim = noisy_pairs
    sim = cosine_similarity(brain[:5], stim[:7])
    expected = [[_cos(brain[i], stim[j]) for j in range(7)] for i in range(5)]
    np.testing.assert_allclose(sim, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("direction", ["brain_to_stimulus", "stimulus_to_brain"])
def test_all_candidates_matches_brute_force(noisy_pairs, direction):
    brain, stim = noisy_pairs
    res = retrieval_topk(brain, stim, k=(1, 5), draw_size=None, direction=direction)
    assert res.n_draws == 1 and res.n_candidates == 120
    idx = list(range(120))
    for k in (1, 5):
        assert res.accuracy(direction, k) == pytest.approx(
            _brute_topk(brain, stim, idx, k, direction), abs=1e-12
        )
    # not a trivial task: neither perfect nor at chance
    assert 0.05 < res.accuracy(direction, 1) < 0.95


def test_draws_match_brute_force_with_fixed_seed(noisy_pairs):
    brain, stim = noisy_pairs
    res = retrieval_topk(brain, stim, k=(1, 5), n_draws=4, draw_size=30, seed=7)
    rs = np.random.RandomState(7)
    expected_idx = np.stack([rs.choice(120, size=30, replace=False) for _ in range(4)])
    np.testing.assert_array_equal(res.indices, expected_idx)
    for d in ("brain_to_stimulus", "stimulus_to_brain"):
        for k in (1, 5):
            expected = [_brute_topk(brain, stim, list(idx), k, d) for idx in expected_idx]
            np.testing.assert_allclose(res.draws(d, k), expected, rtol=0, atol=1e-12)
            assert res.accuracy(d, k) == pytest.approx(np.mean(expected), abs=1e-12)
    assert res.chance(1) == pytest.approx(1 / 30) and res.chance(5) == pytest.approx(5 / 30)


def test_mindeye_default_protocol_30_draws_of_300():
    rng = np.random.default_rng(0)
    stim = rng.standard_normal((400, 8))
    brain = stim + 2.0 * rng.standard_normal((400, 8))
    res = retrieval_topk(brain, stim)  # defaults: k=(1, 5), 30 draws of 300, seed 42
    assert res.k == (1, 5) and res.seed == 42
    assert res.indices.shape == (30, 300) and res.n_candidates == 300
    assert all(len(set(row)) == 300 for row in res.indices)
    rs = np.random.RandomState(42)
    for row in res.indices:
        np.testing.assert_array_equal(row, rs.choice(400, size=300, replace=False))
    # reference: per draw, rank of the match in a sorted similarity row (loops over queries)
    for d in ("brain_to_stimulus", "stimulus_to_brain"):
        per_draw = []
        for idx in res.indices:
            q, c = (brain[idx], stim[idx]) if d == "brain_to_stimulus" else (stim[idx], brain[idx])
            hits = 0
            norms = np.linalg.norm(c, axis=1)
            for i in range(300):
                sims = (c @ q[i]) / (norms * np.linalg.norm(q[i]))
                rank = int(np.sum(sims > sims[i]))
                hits += rank < 1
            per_draw.append(hits / 300)
        np.testing.assert_allclose(res.draws(d, 1), per_draw, atol=1e-12)
    lo, hi = res.ci95("brain_to_stimulus", 1)
    m = res.accuracy("brain_to_stimulus", 1)
    sd = np.std(res.draws("brain_to_stimulus", 1), ddof=1)
    assert (hi - m) == pytest.approx(1.959963984540054 * sd / math.sqrt(30))
    assert lo < m < hi


def test_perfect_and_hand_computed_directions():
    rng = np.random.default_rng(1)
    stim = rng.standard_normal((50, 5))
    res = retrieval_topk(stim, stim, k=1, draw_size=None)
    assert res.accuracy("brain_to_stimulus") == 1.0 == res.accuracy("stimulus_to_brain")
    # a "hub" decoded embedding equally similar to every stimulus: its own query ties
    # three ways (1/3), while as a candidate it never beats a perfect match
    stim = np.eye(3)
    brain = np.array([[1.0, 1.0, 1.0], [0, 1, 0], [0, 0, 1]])
    res = retrieval_topk(brain, stim, k=1, draw_size=None)
    assert res.accuracy("brain_to_stimulus") == pytest.approx((1 / 3 + 1 + 1) / 3)
    assert res.accuracy("stimulus_to_brain") == 1.0


def test_ties_are_deterministic():
    rng = np.random.default_rng(2)
    const = np.ones((20, 4))
    stim = rng.standard_normal((20, 4))
    avg = retrieval_topk(const, stim, k=(1, 5), draw_size=None, direction="stimulus_to_brain")
    # every brain candidate ties: expected accuracy under random tie-breaking is k / N
    assert avg.accuracy("stimulus_to_brain", 1) == pytest.approx(1 / 20)
    assert avg.accuracy("stimulus_to_brain", 5) == pytest.approx(5 / 20)
    pess = retrieval_topk(
        const, stim, k=1, draw_size=None, direction="stimulus_to_brain", ties="pessimistic"
    )
    assert pess.accuracy("stimulus_to_brain", 1) == 0.0
    # two identical stimuli: their queries tie once (p = 1/2 each), the others hit
    stim = np.eye(4)
    stim[1] = stim[0]
    res = retrieval_topk(stim, stim, k=1, draw_size=None)
    assert res.accuracy("brain_to_stimulus") == pytest.approx((0.5 + 0.5 + 1 + 1) / 4)
    res = retrieval_topk(stim, stim, k=1, draw_size=None, ties="pessimistic")
    assert res.accuracy("brain_to_stimulus") == pytest.approx(0.5)
    # repeated calls give the same numbers
    again = retrieval_topk(stim, stim, k=1, draw_size=None, ties="pessimistic")
    np.testing.assert_array_equal(again.draws(), res.draws())


def test_result_summary():
    rng = np.random.default_rng(4)
    stim = rng.standard_normal((40, 3))
    res = retrieval_topk(stim, stim, k=(1, 2), n_draws=3, draw_size=10)
    assert isinstance(res, RetrievalResult)
    d = res.to_dict()
    assert d["brain_to_stimulus_top1"] == res.accuracy() and d["chance_top2"] == 0.2
    assert "stimulus_to_brain top-2" in str(res)
    with pytest.raises(ValueError, match="one of the scored values"):
        res.accuracy("brain_to_stimulus", 5)
    with pytest.raises(ValueError, match="`direction` must be one of"):
        res.accuracy("sideways", 1)


def test_bad_inputs():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((10, 4))
    with pytest.raises(ValueError, match="must have one row per row of `brain`"):
        retrieval_topk(a, a[:9])
    with pytest.raises(ValueError, match="same width"):
        retrieval_topk(a, a[:, :3])
    with pytest.raises(ValueError, match="candidate set is empty"):
        retrieval_topk(np.zeros((0, 4)), np.zeros((0, 4)))
    with pytest.raises(ValueError, match="must not exceed the number of candidates"):
        retrieval_topk(a, a, k=(1, 20))
    with pytest.raises(ValueError, match="`k` must be an int >= 1"):
        retrieval_topk(a, a, k=0)
    with pytest.raises(ValueError, match="`n_draws` must be an int >= 1"):
        retrieval_topk(a, a, n_draws=0, draw_size=5)
    with pytest.raises(ValueError, match="`draw_size` must be None or an int >= 2"):
        retrieval_topk(a, a, draw_size=1)
    with pytest.raises(ValueError, match="`direction` must be one of"):
        retrieval_topk(a, a, direction="up")
    with pytest.raises(ValueError, match="`ties` must be one of"):
        retrieval_topk(a, a, ties="random")
    with pytest.raises(ValueError, match="finite"):
        retrieval_topk(np.full((10, 4), np.nan), a)


def test_import_is_lazy():
    code = (
        "import sys, brainalign.decoders as d; assert 'torch' not in sys.modules; "
        "d.retrieval_topk; assert 'torch' not in sys.modules; print(sorted(d.__all__)[:2])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
