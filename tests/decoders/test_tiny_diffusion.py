"""The digits diffusion model brainalign trains: caching, determinism, atomicity, the head.

Fast tests train a tiny model for a few steps; the slow tier trains the default model (or
reuses it from the user cache) and checks that it reconstructs held-out digits from
semi-synthetic brain responses.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone

from brainalign.decoders import (
    DigitDiffusionHead,
    digit_diffusion_dir,
    load_diffusion_model,
    make_semisynthetic_digits,
    permute_rows,
    train_digit_diffusion,
)
from brainalign.decoders.heads import _tiny_diffusion
from brainalign.evaluation import two_way_identification

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

TINY = {"n_steps": 8, "batch_size": 16, "block_out_channels": (8, 16), "n_components": 6}


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return cache, train_digit_diffusion(cache, **TINY)


def _unet_state(path):
    from safetensors.torch import load_file

    return load_file(str(path / "unet" / "diffusion_pytorch_model.safetensors"))


def test_training_writes_a_loadable_conditional_model(tiny_model):
    cache, path = tiny_model
    assert path.parent == cache and path.name.startswith("digit-diffusion-")
    assert path == digit_diffusion_dir(cache, **TINY)
    record = json.loads((path / ".brainalign-complete.json").read_text())
    assert record["params"]["n_steps"] == 8 and np.isfinite(record["final_loss"])
    model = load_diffusion_model(path)
    assert model.kind == "conditional" and model.embedding_dim == 6
    assert model.image_shape == (8, 8, 1)
    images = model.generate(np.zeros((2, 6)), num_inference_steps=3, guidance_scale=2.0)
    assert images.shape == (2, 8, 8, 1)
    # the embedder is the whitened PCA of the training digits
    data = make_semisynthetic_digits(n_test=300, n_voxels=5, n_components=6)
    emb = model.embed_images(data.stimuli_train)
    np.testing.assert_allclose(np.abs(emb), np.abs(data.features_train), atol=1e-4)


def test_training_is_cached_and_deterministic(tiny_model, monkeypatch, tmp_path):
    cache, path = tiny_model
    before = _unet_state(path)

    def boom(*args, **kwargs):
        raise AssertionError("retrained although cached")

    with monkeypatch.context() as m:
        m.setattr(_tiny_diffusion, "_train", boom)
        assert train_digit_diffusion(cache, **TINY) == path
    # same seed, fresh folder: identical weights; another seed: another folder and weights
    again = train_digit_diffusion(tmp_path, **TINY)
    assert again.name == path.name
    for key, value in before.items():
        torch.testing.assert_close(_unet_state(again)[key], value, rtol=0, atol=0)
    other = train_digit_diffusion(tmp_path, **{**TINY, "seed": 1})
    assert other != again
    assert any(not torch.equal(_unet_state(other)[k], v) for k, v in before.items())


def test_training_is_atomic(monkeypatch, tmp_path):
    def fail(*args, **kwargs):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(_tiny_diffusion, "_train", fail)
    threads = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="interrupted"):
        train_digit_diffusion(tmp_path, num_threads=2, **TINY)
    assert list(tmp_path.iterdir()) == []  # no final folder, no partial folder
    assert torch.get_num_threads() == threads  # restored


def test_training_errors(tmp_path):
    with pytest.raises(ValueError, match=r"`cond_dropout` must be in \[0, 1\); got 1.0"):
        train_digit_diffusion(tmp_path, cond_dropout=1.0)
    with pytest.raises(ValueError, match=r"`n_steps` must be an int >= 1; got 0"):
        train_digit_diffusion(tmp_path, n_steps=0)
    with pytest.raises(TypeError, match=r"unknown training parameters \['steps'\]"):
        digit_diffusion_dir(tmp_path, steps=3)
    assert digit_diffusion_dir(tmp_path) != digit_diffusion_dir(tmp_path, n_steps=10)


def test_digit_head_fits_on_images(tiny_model):
    _, path = tiny_model
    data = make_semisynthetic_digits(n_test=300, n_voxels=80, r_range=(0.3, 0.5))
    head = DigitDiffusionHead(model_dir=path, num_inference_steps=3, batch_size=64)
    head.fit(data.brain_train, data.stimuli_train)
    assert head.n_outputs_ == 6 and head.kind == "conditional"
    assert head.score(data.brain_test, data.stimuli_test) > 0.5
    images = head.reconstruct(data.brain_test[:5])
    assert images.shape == (5, 8, 8, 1)
    params = clone(head).get_params()
    assert params["cache_dir"] is None and "kind" not in params


# --------------------------------------------------------------------------------------------
# slow tier: the default model reconstructs held-out digits
# --------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_digit_diffusion_reconstructs_held_out_digits():
    """Trains the default model once (minutes on CPU; cached in the user cache folder).

    Semi-synthetic responses (1500 voxels, single-trial r 0.1-0.3, 3 test repeats) to the
    300 held-out digits; two-way identification on pixels vs the permuted-brain null.
    """
    data = make_semisynthetic_digits(n_test=300, n_repeats_test=3, seed=0)
    head = DigitDiffusionHead().fit(data.brain_train, data.stimuli_train)
    images = head.reconstruct(data.brain_test)
    flat = data.stimuli_test.reshape(300, -1)
    acc = two_way_identification(flat, images.reshape(300, -1))
    null = two_way_identification(
        flat, head.reconstruct(permute_rows(data.brain_test, rng=0)).reshape(300, -1)
    )
    assert acc > 0.95
    assert abs(null - 0.5) < 0.05
