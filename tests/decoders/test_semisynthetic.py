"""Semi-synthetic decoding data: planted noise levels, shared noise, splits, errors."""

from __future__ import annotations

import numpy as np
import pytest
from _fixtures_image_heads import save_tiny_dcgan

from brainalign.decoders import (
    digit_split,
    load_digit_images,
    load_face_generator,
    make_semisynthetic_digits,
    make_semisynthetic_faces,
    simulate_brain,
)


def _colwise_corr(a, b):
    a = (a - a.mean(0)) / a.std(0)
    b = (b - b.mean(0)) / b.std(0)
    return (a * b).mean(0)


@pytest.fixture(scope="module")
def features():
    return np.random.default_rng(0).standard_normal((4000, 12))


def test_simulate_brain_plants_the_single_trial_correlation(features):
    brain, truth = simulate_brain(features, n_voxels=200, r_range=(0.1, 0.3), seed=0)
    assert brain.shape == (4000, 200) and brain.dtype == np.float32
    assert truth["weights"].shape == (12, 200)
    assert np.all((truth["voxel_r"] >= 0.1) & (truth["voxel_r"] <= 0.3))
    # the noiseless signal is the standardized features times the weights, unit variance
    Fz = (features - features.mean(0)) / features.std(0)
    np.testing.assert_allclose(
        truth["signal"], Fz @ truth["weights"] - (Fz @ truth["weights"]).mean(0), atol=1e-9
    )
    np.testing.assert_allclose(truth["signal"].std(0), 1.0, rtol=1e-9)
    r = _colwise_corr(truth["signal"], brain.astype(np.float64))
    # sampling error of r with n = 4000 is about 0.016
    assert np.abs(r - truth["voxel_r"]).mean() < 0.02
    assert abs(np.mean(r - truth["voxel_r"])) < 0.005


def test_simulate_brain_repeats_average_the_noise(features):
    brain, truth = simulate_brain(features, n_voxels=200, r_range=(0.2, 0.2), n_repeats=3, seed=1)
    r = _colwise_corr(truth["signal"], brain.astype(np.float64))
    r3 = 1 / np.sqrt(1 + (1 - 0.2**2) / (3 * 0.2**2))  # noise variance divided by 3
    assert abs(r.mean() - r3) < 0.01


def test_simulate_brain_shared_noise(features):
    def top_share(shared):
        brain, truth = simulate_brain(
            features, n_voxels=100, shared_noise=shared, n_noise_sources=5, seed=2
        )
        noise = (brain - truth["signal"]) / truth["noise_sd"]
        ev = np.linalg.eigvalsh(np.cov(noise.T))[::-1]
        return ev[:5].sum() / ev.sum()

    independent, shared = top_share(0.0), top_share(0.8)
    assert independent < 0.1  # ~ 5 / 100
    assert shared > 0.75  # 0.8 + 0.2 * 5 / 100


def test_simulate_brain_is_seeded(features):
    a, _ = simulate_brain(features[:50], n_voxels=10, seed=3)
    b, _ = simulate_brain(features[:50], n_voxels=10, seed=3)
    c, _ = simulate_brain(features[:50], n_voxels=10, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_simulate_brain_errors(features):
    with pytest.raises(ValueError, match=r"`r_range` must satisfy 0 < low <= high < 1"):
        simulate_brain(features, r_range=(0.3, 0.1))
    with pytest.raises(ValueError, match=r"`r_range` must be a pair"):
        simulate_brain(features, r_range=0.2)
    with pytest.raises(ValueError, match=r"`shared_noise` must be the shared fraction"):
        simulate_brain(features, shared_noise=1.5)
    with pytest.raises(ValueError, match=r"`n_repeats` must be >= 1"):
        simulate_brain(features, n_repeats=0)
    with pytest.raises(ValueError, match=r"`fit_mask` must be a boolean array with one entry"):
        simulate_brain(features, fit_mask=np.ones(3, bool))
    with pytest.raises(ValueError, match=r"`n_voxels` must be an int >= 1"):
        simulate_brain(features, n_voxels=0)
    with pytest.raises(ValueError, match=r"`features` must have shape \(n_stimuli, n_features\)"):
        simulate_brain(np.zeros(5))


def test_digits_split_and_images():
    images, labels = load_digit_images()
    assert images.shape == (1797, 8, 8, 1) and labels.shape == (1797,)
    assert images.min() == 0 and images.max() == 1
    big, _ = load_digit_images(16)
    assert big.shape == (1797, 16, 16, 1) and 0 <= big.min() and big.max() <= 1
    test = digit_split(300, seed=0)
    assert test.sum() == 300
    np.testing.assert_array_equal(test, digit_split(300, seed=0))
    assert not np.array_equal(test, digit_split(300, seed=1))
    with pytest.raises(ValueError, match=r"`n_test` must leave at least 100"):
        digit_split(1750)


def test_make_semisynthetic_digits():
    data = make_semisynthetic_digits(n_test=200, n_voxels=150, n_repeats_test=2, seed=0)
    test = digit_split(200, seed=0)
    images, labels = load_digit_images()
    np.testing.assert_array_equal(data.stimuli_test, images[test])
    np.testing.assert_array_equal(data.labels_train, labels[~test])
    assert data.features_train.shape == (1597, 16) and data.brain_test.shape == (200, 150)
    # whitened PCA fitted on the training digits only
    np.testing.assert_allclose(data.features_train.std(0, ddof=1), 1.0, rtol=1e-6)
    assert data.info["n_repeats_test"] == 2 and data.info["stimuli"] == "sklearn-digits"
    up = make_semisynthetic_digits(n_test=200, n_voxels=10, image_size=16)
    assert up.stimuli_train.shape == (1597, 16, 16, 1)
    np.testing.assert_allclose(up.features_train, data.features_train)  # features at 8 x 8
    custom = make_semisynthetic_digits(
        n_test=200, n_voxels=10, features=lambda im: im.reshape(len(im), -1)[:, :5]
    )
    assert custom.features_train.shape == (1597, 5)


def test_make_semisynthetic_faces_with_a_generator(tmp_path):
    gen = load_face_generator(save_tiny_dcgan(tmp_path / "w.tar"))
    data = make_semisynthetic_faces(30, 10, n_voxels=20, generator=gen, seed=5)
    assert data.stimuli_train.shape == (30, 64, 64, 3) and data.stimuli_test.shape == (
        10,
        64,
        64,
        3,
    )
    assert data.features_train.shape == (30, 6) and data.brain_train.shape == (30, 20)
    np.testing.assert_allclose(gen.generate(data.features_test), data.stimuli_test)
    again = make_semisynthetic_faces(30, 10, n_voxels=20, generator=gen, seed=5)
    np.testing.assert_array_equal(again.brain_test, data.brain_test)
    # the brain may encode image features; the decoding targets stay the latents
    mean_rgb = make_semisynthetic_faces(
        30, 10, n_voxels=20, generator=gen, features=lambda im: im.mean(axis=(1, 2)), seed=5
    )
    assert mean_rgb.weights.shape == (3, 20) and mean_rgb.features_train.shape == (30, 6)
    with pytest.raises(ValueError, match=r"`features` must be 'latent' or a callable"):
        make_semisynthetic_faces(30, 10, generator=gen, features="pixels")
    with pytest.raises(
        ValueError, match=r"must return one row per image, shape \(40, n_features\)"
    ):
        make_semisynthetic_faces(30, 10, generator=gen, features=lambda im: im[:3, 0, 0])
    with pytest.raises(ValueError, match=r"`n_test` must be an int >= 2"):
        make_semisynthetic_faces(30, 1, generator=gen)
