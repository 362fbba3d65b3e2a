"""Diffusion head over local diffusers folders: tiny random components, offline.

Covers both kinds (brainalign's ``"conditional"`` layout, pixel-space with a class-embedding
projection and latent-space with cross-attention tokens; diffusers' StableUnCLIPImg2Img
pipeline with ``image_embeds``), the missing-component errors, determinism, and the head
end to end (brain → embedding → image).
"""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest
from _fixtures_image_heads import (
    EMBED_DIM,
    save_tiny_conditional,
    save_tiny_latent_cross_attention,
    save_tiny_unclip,
)
from sklearn.base import clone

from brainalign.decoders import (
    DiffusionHead,
    RidgeDecoder,
    check_diffusion_dir,
    load_diffusion_model,
)

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: tiny models run much faster without thread contention."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("diffusion")
    return {
        "conditional": save_tiny_conditional(root / "conditional"),
        "cross": save_tiny_latent_cross_attention(root / "cross"),
        "unclip": save_tiny_unclip(root / "unclip"),
    }


def _copy(src, tmp_path):
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    return dst


# --------------------------------------------------------------------------------------------
# loading and generation
# --------------------------------------------------------------------------------------------
def test_conditional_projection_model_generates_deterministically(model_dirs):
    model = load_diffusion_model(model_dirs["conditional"])
    assert model.kind == "conditional"
    assert model.embedding_dim == EMBED_DIM and model.image_shape == (8, 8, 1)
    E = np.random.default_rng(0).standard_normal((5, EMBED_DIM))
    a = model.generate(E, num_inference_steps=4, seed=3, batch_size=2)
    b = model.generate(E, num_inference_steps=4, seed=3, batch_size=5)
    c = model.generate(E, num_inference_steps=4, seed=4)
    assert a.shape == (5, 8, 8, 1) and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 1
    np.testing.assert_allclose(a, b, atol=1e-5)  # independent of batching
    assert np.abs(a - c).max() > 1e-3  # the seed matters
    # the embedding conditions the image: same noise, other embedding -> other image
    d = model.generate(E[::-1].copy(), num_inference_steps=4, seed=3)
    assert np.abs(a[0] - d[0]).max() > 1e-4
    guided = model.generate(E, num_inference_steps=4, seed=3, guidance_scale=3.0)
    assert guided.shape == a.shape and np.abs(guided - a).max() > 1e-4


def test_conditional_cross_attention_latent_model(model_dirs):
    model = load_diffusion_model(model_dirs["cross"], kind="conditional")
    assert model.embedding_dim is None and model.token_dim == 4
    assert model.image_shape == (8, 8, 3)  # 4 x 4 latents, VAE upsamples by 2
    E = np.random.default_rng(1).standard_normal((2, 8))  # 2 tokens of 4
    images = model.generate(E, num_inference_steps=3)
    assert images.shape == (2, 8, 8, 3)
    with pytest.raises(ValueError, match=r"multiple of 4 columns .*cross_attention_dim=4"):
        model.generate(np.ones((2, 6)), num_inference_steps=2)
    with pytest.raises(ValueError, match=r"no 'embedder' component"):
        model.embed_images(np.zeros((2, 8, 8, 3)))


def test_unclip_pipeline_with_image_embeds(model_dirs):
    model = load_diffusion_model(model_dirs["unclip"])
    assert model.kind == "unclip" and model.embedding_dim == EMBED_DIM
    E = np.random.default_rng(2).standard_normal((3, EMBED_DIM))
    a = model.generate(E, num_inference_steps=3, guidance_scale=1.0, seed=0, batch_size=2)
    b = model.generate(E, num_inference_steps=3, guidance_scale=1.0, seed=0, batch_size=3)
    assert a.shape == (3, 8, 8, 3) and a.min() >= 0 and a.max() <= 1
    np.testing.assert_allclose(a, b, atol=1e-5)
    guided = model.generate(E, num_inference_steps=2, noise_level=10)  # default guidance 10
    assert guided.shape == (3, 8, 8, 3)
    emb = model.embed_images(np.random.default_rng(0).uniform(size=(2, 16, 16, 3)))
    assert emb.shape == (2, EMBED_DIM) and np.all(np.isfinite(emb))
    with pytest.raises(ValueError, match=r"must have 8 columns .*'unclip'"):
        model.generate(np.ones((1, 5)))


def test_unclip_without_feature_extractor_still_generates(model_dirs, tmp_path):
    root = _copy(model_dirs["unclip"], tmp_path)
    shutil.rmtree(root / "feature_extractor")
    model = load_diffusion_model(root)
    out = model.generate(np.zeros((1, EMBED_DIM)), num_inference_steps=2, guidance_scale=1.0)
    assert out.shape == (1, 8, 8, 3)
    with pytest.raises(ValueError, match=r"no 'feature_extractor' component"):
        model.embed_images(np.zeros((1, 16, 16, 3)))


def test_generation_argument_errors(model_dirs):
    model = load_diffusion_model(model_dirs["conditional"])
    E = np.zeros((2, EMBED_DIM))
    with pytest.raises(ValueError, match=r"`guidance_scale` must be >= 1"):
        model.generate(E, guidance_scale=0.5)
    with pytest.raises(ValueError, match=r"`num_inference_steps` must be an int >= 1"):
        model.generate(E, num_inference_steps=0)
    with pytest.raises(ValueError, match=r"`embeddings` must have 8 columns"):
        model.generate(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"`embeddings` must have shape \(n_samples, n_dims\)"):
        model.generate(np.zeros(EMBED_DIM))


# --------------------------------------------------------------------------------------------
# missing components: clear errors
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "component", ["vae", "unet", "text_encoder", "tokenizer", "image_normalizer", "image_encoder"]
)
def test_unclip_missing_component_folder_is_named(model_dirs, tmp_path, component):
    root = _copy(model_dirs["unclip"], tmp_path)
    shutil.rmtree(root / component)
    with pytest.raises(FileNotFoundError, match=rf"missing the component '{component}' .*'unclip'"):
        load_diffusion_model(root)


def test_missing_component_not_listed_or_without_weights(model_dirs, tmp_path):
    root = _copy(model_dirs["unclip"], tmp_path)
    index = json.loads((root / "model_index.json").read_text())
    index["scheduler"] = [None, None]
    (root / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(FileNotFoundError, match=r"'scheduler' .*does not list it"):
        check_diffusion_dir(root)

    root = _copy(model_dirs["conditional"], tmp_path / "b")
    for weights in (root / "unet").glob("*.safetensors"):
        weights.unlink()
    with pytest.raises(FileNotFoundError, match=r"component 'unet' .*has no weights"):
        load_diffusion_model(root)

    root = _copy(model_dirs["conditional"], tmp_path / "c")
    (root / "scheduler" / "scheduler_config.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"component 'scheduler' .*no configuration file"):
        check_diffusion_dir(root)


def test_model_dir_errors(model_dirs, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"`model_dir` .* is not a folder"):
        check_diffusion_dir(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match=r"has no model_index.json"):
        check_diffusion_dir(tmp_path)
    root = _copy(model_dirs["conditional"], tmp_path / "a")
    with pytest.raises(
        ValueError, match=r"`kind` is 'unclip' but .*'BrainalignConditionalPipeline'"
    ):
        check_diffusion_dir(root, kind="unclip")
    with pytest.raises(ValueError, match=r"`kind` must be one of"):
        check_diffusion_dir(root, kind="ip-adapter")
    index = json.loads((root / "model_index.json").read_text())
    index["_class_name"] = "StableDiffusionXLPipeline"
    (root / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match=r"'StableDiffusionXLPipeline' .* is not supported"):
        check_diffusion_dir(root)
    assert check_diffusion_dir(root, kind="conditional") == "conditional"


# --------------------------------------------------------------------------------------------
# the head: brain -> embedding -> image
# --------------------------------------------------------------------------------------------
def _brain_from(E, n_voxels=60, noise=0.3, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((E.shape[1], n_voxels))
    return E @ W + noise * rng.standard_normal((E.shape[0], n_voxels))


def test_head_decodes_embeddings_and_reconstructs(model_dirs):
    rng = np.random.default_rng(0)
    E = rng.standard_normal((120, EMBED_DIM))
    X = _brain_from(E)
    head = DiffusionHead(
        model_dirs["conditional"], num_inference_steps=3, decoder=None, rescale="none"
    )
    head.fit(X[:100], E[:100])
    assert head.n_features_in_ == 60 and head.n_outputs_ == EMBED_DIM
    assert head.score(X[100:], E[100:]) > 0.9
    images = head.reconstruct(X[100:])
    assert images.shape == (20, 8, 8, 1)
    # the head's images are the model's images of the decoded embeddings
    direct = head.model.generate(head.predict(X[100:]), num_inference_steps=3)
    np.testing.assert_allclose(images, direct, atol=1e-5)


def test_head_fits_on_images_through_the_embedder(model_dirs):
    rng = np.random.default_rng(1)
    images = rng.uniform(size=(80, 8, 8, 1))
    head = DiffusionHead(model_dirs["conditional"], num_inference_steps=2)
    E = head.embed_images(images)
    X = _brain_from(E, seed=1)
    head.fit(X, images)
    np.testing.assert_allclose(head.latent_mean_, E.mean(axis=0), atol=1e-6)
    assert head.score(X, images) > 0.8
    assert head.reconstruct(X[:3]).shape == (3, 8, 8, 1)


def test_head_is_clonable_and_picklable(model_dirs):
    rng = np.random.default_rng(2)
    E = rng.standard_normal((50, EMBED_DIM))
    X = _brain_from(E, seed=2)
    head = DiffusionHead(model_dirs["conditional"], num_inference_steps=2).fit(X, E)
    _ = head.model  # loaded
    again = pickle.loads(pickle.dumps(head))
    np.testing.assert_allclose(again.predict(X), head.predict(X))
    np.testing.assert_allclose(again.reconstruct(X[:2]), head.reconstruct(X[:2]), atol=1e-5)
    params = clone(head).get_params()
    assert params["model_dir"] == model_dirs["conditional"] and params["num_inference_steps"] == 2


def test_head_errors(model_dirs, tmp_path):
    X = np.random.default_rng(0).standard_normal((20, 10))
    with pytest.raises(ValueError, match=r"`model_dir` must be a local diffusion model folder"):
        DiffusionHead().fit(X, np.zeros((20, 2, 2)))
    with pytest.raises(ValueError, match=r"`rescale` must be one of"):
        DiffusionHead(model_dirs["conditional"], rescale="sphere").fit(X, X[:, :EMBED_DIM])
    with pytest.raises(ValueError, match=r"`Y` must have one row per brain sample \(20\)"):
        DiffusionHead(model_dirs["conditional"]).fit(X, X[:5, :EMBED_DIM])
    fixed = RidgeDecoder(alphas=[1.0])
    head = DiffusionHead(model_dirs["conditional"], decoder=fixed, num_inference_steps=2)
    head.fit(X, X[:, :3])
    with pytest.raises(ValueError, match=r"`embeddings` must have 8 columns"):
        head.reconstruct(X)
    with pytest.raises(ValueError, match=r"`X` must have the 10 voxels seen during fit"):
        head.predict(X[:, :4])
    with pytest.raises(TypeError, match=r"`decoder` must be None .* or an estimator"):
        DiffusionHead(model_dirs["conditional"], decoder="ridge").fit(X, X[:, :EMBED_DIM])
    with pytest.raises(FileNotFoundError, match=r"has no model_index.json"):
        DiffusionHead(tmp_path).fit(X, np.zeros((20, 8, 8, 1)))
