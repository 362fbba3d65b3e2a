"""Image extractor on tiny random-weight backbones saved with save_pretrained (no network)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _fixtures_media import VISION, save_vit

from brainalign.exceptions import ConfigError
from brainalign.features import ImageExtractor, ImageExtractorConfig

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
Image = pytest.importorskip("PIL.Image")

VIT = VISION
N_LAYERS = VIT["num_hidden_layers"]


def _vit_processor():
    return transformers.ViTImageProcessor(size={"height": 32, "width": 32})


def _save(model, processor, folder):
    model.eval().save_pretrained(folder)
    processor.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def vit_dir(tmp_path_factory):
    return save_vit(tmp_path_factory.mktemp("vit"))


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (40 + 4 * i, 48, 3), dtype=np.uint8) for i in range(3)]


def _hidden_states(folder, images, cls=transformers.AutoModel):
    processor = transformers.AutoImageProcessor.from_pretrained(folder)
    model = cls.from_pretrained(folder).eval()
    pil = [Image.fromarray(im) for im in images]
    pixel_values = processor(images=pil, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        if hasattr(model, "vision_model"):
            model = model.vision_model
        return model(pixel_values=pixel_values, output_hidden_states=True).hidden_states


def test_vit_layers_shapes_and_pooling_by_hand(vit_dir, images):
    fs = ImageExtractor(model=vit_dir).extract(images)
    assert fs.layer_names == [
        f"layer_{i}.{p}" for i in range(N_LAYERS + 1) for p in ("cls", "mean")
    ]
    np.testing.assert_array_equal(fs.times, [0.0, 1.0, 2.0])
    assert fs.durations is None
    hidden = _hidden_states(vit_dir, images)
    assert len(hidden) == N_LAYERS + 1
    for i, h in enumerate(hidden):
        assert fs[f"layer_{i}.cls"].shape == (3, 16)
        np.testing.assert_allclose(fs[f"layer_{i}.cls"], h[:, 0].numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            fs[f"layer_{i}.mean"], h[:, 1:].mean(1).numpy(), rtol=1e-5, atol=1e-6
        )
    # the mean excludes the CLS token: including it would give another vector
    assert not np.allclose(fs["layer_2.mean"], hidden[2].mean(1).numpy(), atol=1e-4)


def test_dinov2_registers_excluded_from_patch_mean(tmp_path, images):
    cfg = transformers.Dinov2WithRegistersConfig(**VIT, num_register_tokens=4)
    torch.manual_seed(1)
    folder = _save(transformers.Dinov2WithRegistersModel(cfg), _vit_processor(), tmp_path)
    fs = ImageExtractor(model=folder, pooling=["mean"]).extract(images)
    assert fs.layer_names == [f"layer_{i}" for i in range(N_LAYERS + 1)]
    hidden = _hidden_states(folder, images)
    assert hidden[0].shape[1] == 1 + 4 + 16  # CLS + registers + 4x4 patches
    for i, h in enumerate(hidden):
        np.testing.assert_allclose(fs[f"layer_{i}"], h[:, 5:].mean(1).numpy(), rtol=1e-5, atol=1e-6)


def test_deit_distillation_token_is_a_prefix_token(tmp_path, images):
    torch.manual_seed(5)
    model = transformers.DeiTModel(transformers.DeiTConfig(**VIT), add_pooling_layer=False)
    folder = _save(model, _vit_processor(), tmp_path)
    fs = ImageExtractor(model=folder).extract(images[:2])
    hidden = _hidden_states(folder, images[:2])
    assert hidden[0].shape[1] == 2 + 16  # CLS + distillation + patches
    np.testing.assert_allclose(fs["layer_2.mean"], hidden[2][:, 2:].mean(1).numpy(), atol=1e-5)


def test_unexpected_token_layout_is_refused(tmp_path, images):
    cfg = transformers.SwinConfig(
        image_size=32, patch_size=4, embed_dim=8, depths=[1, 1], num_heads=[1, 1], window_size=4
    )
    folder = _save(transformers.SwinModel(cfg), _vit_processor(), tmp_path)
    with pytest.raises(RuntimeError, match=r"64 tokens, but the config implies 1 prefix token"):
        ImageExtractor(model=folder).extract(images[:1])


def test_model_without_cls_gives_mean_only(tmp_path, images):
    cfg = transformers.SiglipVisionConfig(**VIT)
    torch.manual_seed(2)
    folder = _save(transformers.SiglipVisionModel(cfg), _vit_processor(), tmp_path)
    fs = ImageExtractor(model=folder).extract(images[:2])
    assert fs.layer_names == [f"layer_{i}" for i in range(N_LAYERS + 1)]
    hidden = _hidden_states(folder, images[:2])
    assert hidden[1].shape[1] == 16  # patches only
    np.testing.assert_allclose(fs["layer_1"], hidden[1].mean(1).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="has no CLS token"):
        ImageExtractor(model=folder, pooling=["cls"]).extract(images[:1])


def test_clip_checkpoint_uses_its_vision_tower(tmp_path, images):
    vc = transformers.CLIPVisionConfig(**VIT)
    tc = transformers.CLIPTextConfig(
        vocab_size=10,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=8,
    )
    cfg = transformers.CLIPConfig(vision_config=vc.to_dict(), text_config=tc.to_dict())
    torch.manual_seed(3)
    processor = transformers.CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    folder = _save(transformers.CLIPModel(cfg), processor, tmp_path)
    fs = ImageExtractor(model=folder).extract(images[:2])
    hidden = _hidden_states(folder, images[:2])
    assert len(fs.layer_names) == 2 * (N_LAYERS + 1)
    np.testing.assert_allclose(fs["layer_2.cls"], hidden[2][:, 0].numpy(), rtol=1e-5, atol=1e-6)


def test_cnn_feature_maps_are_mean_pooled(tmp_path, images):
    cfg = transformers.ResNetConfig(
        embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic"
    )
    torch.manual_seed(4)
    folder = _save(transformers.ResNetModel(cfg), _vit_processor(), tmp_path)
    fs = ImageExtractor(model=folder).extract(images[:2])
    hidden = _hidden_states(folder, images[:2])
    assert fs.layer_names == [f"layer_{i}" for i in range(len(hidden))]
    np.testing.assert_allclose(fs["layer_2"], hidden[2].mean((2, 3)).numpy(), rtol=1e-5, atol=1e-6)


def test_events_table_files_times_and_durations(vit_dir, images, tmp_path):
    paths = []
    for i, im in enumerate(images):
        p = tmp_path / f"img{i}.png"
        Image.fromarray(im).save(p)
        paths.append(str(p))
    events = pd.DataFrame(
        {"onset": [2.0, 5.5, 9.0], "duration": [1.0, 1.0, 0.5], "type": "Image", "stim_file": paths}
    )
    ext = ImageExtractor(model=vit_dir, batch_size=2)
    fs = ext.extract(events)
    assert ext.n_forward_calls == 2  # 3 images in batches of 2
    np.testing.assert_array_equal(fs.times, [2.0, 5.5, 9.0])
    np.testing.assert_array_equal(fs.durations, [1.0, 1.0, 0.5])
    # PNG is lossless: the same pixels as the arrays, hence the same features
    ref = ImageExtractor(model=vit_dir).extract({"images": images, "times": [2.0, 5.5, 9.0]})
    np.testing.assert_allclose(fs["layer_2.mean"], ref["layer_2.mean"], rtol=1e-5, atol=1e-6)


def test_cache_second_extraction_runs_no_forward(vit_dir, images, tmp_path):
    ext = ImageExtractor(model=vit_dir, cache_dir=str(tmp_path / "cache"))
    first = ext.extract(images)
    assert ext.n_forward_calls == 1
    again = ImageExtractor(model=vit_dir, cache_dir=str(tmp_path / "cache"), layers=[-1])
    second = again.extract(images)
    assert again.n_forward_calls == 0
    assert second.layer_names == ["layer_2.cls", "layer_2.mean"]
    np.testing.assert_allclose(second["layer_2.cls"], first["layer_2.cls"], rtol=1e-6)
    # the pooling is part of the key: another pooling recomputes
    other = ImageExtractor(model=vit_dir, cache_dir=str(tmp_path / "cache"), pooling=["mean"])
    other.extract(images)
    assert other.n_forward_calls == 1


def test_undecodable_and_missing_image_files_are_named(vit_dir, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match=r"could not decode image file .*broken\.png"):
        ImageExtractor(model=vit_dir).extract([str(bad)])
    with pytest.raises(FileNotFoundError, match=r"image file .*missing\.jpg.* does not exist"):
        ImageExtractor(model=vit_dir).extract([str(tmp_path / "missing.jpg")])


def test_bad_arrays_and_stimulus_forms(vit_dir):
    ext = ImageExtractor(model=vit_dir)
    with pytest.raises(ValueError, match=r"values must lie in \[0, 1\]"):
        ext.extract([np.full((8, 8, 3), 2.0)])
    with pytest.raises(ValueError, match=r"must have shape \(H, W\), \(H, W, 3\)"):
        ext.extract([np.zeros((8, 8, 2), np.uint8)])
    with pytest.raises(TypeError, match="not a single image"):
        ext.extract(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="'stim_file' and 'onset'"):
        ext.extract(pd.DataFrame({"onset": [0.0]}))


def test_image_onsets_must_be_finite_and_sorted(vit_dir, images):
    ext = ImageExtractor(model=vit_dir)
    with pytest.raises(
        ValueError, match=r"every image needs a finite onset .* image 1 \(images\[1\]\)"
    ):
        ext.extract({"images": images[:2], "times": [0.0, np.nan]})
    with pytest.raises(ValueError, match=r"image onsets must be non-decreasing; got onset 1 s"):
        ext.extract({"images": images, "times": [0.0, 2.0, 1.0]})
    assert ext.n_forward_calls == 0  # refused before any forward


def test_layer_index_out_of_range(vit_dir, images):
    with pytest.raises(IndexError, match=r"out of range: the model has 3 hidden states"):
        ImageExtractor(model=vit_dir, layers=[5]).extract(images[:1])


def test_missing_model_path_and_bad_config(tmp_path):
    missing = str(tmp_path / "no_such_model")
    with pytest.raises(FileNotFoundError, match=r"`model` .*no_such_model.* does not exist"):
        ImageExtractor(model=missing).extract([np.zeros((8, 8, 3), np.uint8)])
    with pytest.raises(ConfigError, match="poolling"):
        ImageExtractor(model=missing, poolling=["cls"])
    with pytest.raises(ConfigError, match="distinct poolings"):
        ImageExtractor(model=missing, pooling=["cls", "cls"])
    a = ImageExtractorConfig(model="m", pooling=["cls"]).cache_key()
    assert a != ImageExtractorConfig(model="m", pooling=["mean"]).cache_key()
    assert a == ImageExtractorConfig(model="m", pooling=["cls"], layers=[1]).cache_key()
