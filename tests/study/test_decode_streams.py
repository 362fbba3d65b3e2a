"""Decoding study internals: independent random streams, chance pairings, strict result files,
and the digits split check (test digits never come from the diffusion model's training set)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from brainalign.study._decode import _check_digit_split
from brainalign.study._decode_tasks import derangement, stream_seed
from brainalign.study._demo import load_demo_results, save_demo_results


def test_stream_seeds_are_distinct_and_reproducible():
    seeds = {stream_seed(0, name) for name in ("faces.brain", "faces.chance", "retrieval")}
    assert len(seeds) == 3 and 0 not in seeds
    assert stream_seed(0, "faces.brain") == stream_seed(0, "faces.brain")
    assert stream_seed(0, "faces.brain") != stream_seed(1, "faces.brain")
    # the voxel-weight stream does not replay the stimulus-latent stream (both seeded by 0)
    latents = np.random.default_rng(0).standard_normal(500)
    weights = np.random.default_rng(stream_seed(0, "faces.brain")).standard_normal(500)
    assert abs(np.corrcoef(latents, weights)[0, 1]) < 0.2


@pytest.mark.parametrize("n", [2, 3, 5, 50])
def test_derangement_pairs_every_item_with_another(n):
    rng = np.random.default_rng(0)
    for _ in range(20):
        pair = derangement(rng, n)
        assert sorted(pair.tolist()) == list(range(n))  # a permutation
        assert np.all(pair != np.arange(n))  # no item paired with itself


@pytest.mark.parametrize("n", [0, 1])
def test_derangement_needs_two_items(n):
    with pytest.raises(ValueError, match=rf"`n` must be at least 2 .*; got {n}"):
        derangement(np.random.default_rng(0), n)


def test_summary_is_strict_json_and_files_of_two_runs_are_refused(tmp_path):
    arrays = {"decoding": {"x": np.arange(3)}}
    summary = {"z": float("inf"), "p": np.float64(0.5), "n": np.int64(3), "l": [np.nan, 1.0]}
    save_demo_results(tmp_path, arrays, summary)
    text = (tmp_path / "summary.json").read_text()
    loaded = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert loaded["z"] is None and loaded["l"] == [None, 1.0] and loaded["n"] == 3
    arrays_back, summary_back = load_demo_results(tmp_path)
    assert summary_back["run_id"] == loaded["run_id"]
    np.testing.assert_array_equal(arrays_back["decoding"]["x"], np.arange(3))
    # a results.h5 of another run beside this summary.json (a crash between the two writes)
    other = tmp_path / "other"
    save_demo_results(other, arrays, summary)
    (tmp_path / "results.h5").write_bytes((other / "results.h5").read_bytes())
    with pytest.raises(ValueError, match=r"come from different runs"):
        load_demo_results(tmp_path)


def test_digit_split_check(tmp_path):
    _check_digit_split(300, None)  # the default training holds out 300
    with pytest.raises(ValueError, match=r"`digits.n_test` must be at most the 300 digits"):
        _check_digit_split(500, None)
    model = tmp_path / "model"
    model.mkdir()
    record = {"params": {"n_test": 100, "split_seed": 0}}
    (model / ".brainalign-complete.json").write_text(json.dumps(record))
    _check_digit_split(100, model)
    with pytest.raises(ValueError, match=r"at most the 100 digits .* got n_test=200"):
        _check_digit_split(200, model)
    record["params"] = {"n_test": 300, "split_seed": 3}
    (model / ".brainalign-complete.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"split_seed=3"):
        _check_digit_split(100, model)
