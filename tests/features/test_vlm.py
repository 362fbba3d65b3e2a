"""CLIP and LLaVA-style extractors on tiny random-weight models saved in tmp_path."""

from __future__ import annotations

import numpy as np
import pytest
from _fixtures_media import VISION, clip_image_processor, save_clip, save_llava, word_tokenizer

from brainalign.exceptions import ConfigError
from brainalign.features import CLIPExtractor, VLMExtractor

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (36, 40, 3), dtype=np.uint8) for _ in range(3)]


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return save_clip(tmp_path_factory.mktemp("clip"))


@pytest.fixture(scope="module")
def llava_dir(tmp_path_factory):
    return save_llava(tmp_path_factory.mktemp("llava"))


# ---------------------------------------------------------------------------------------- CLIP


def test_clip_embeddings_match_the_model_and_layers_by_hand(clip_dir, images):
    captions = ["a photo of a cat", "red dog", "what is in the image"]
    fs = CLIPExtractor(model=clip_dir, batch_size=4).extract(list(zip(images, captions)))
    n_vis, n_txt = 3, 4  # hidden states: 2 and 3 layers + embeddings
    expected = {"image_embeds", "text_embeds"}
    expected |= {f"layer_{i}.image_{p}" for i in range(n_vis) for p in ("cls", "mean")}
    expected |= {f"layer_{i}.text_{p}" for i in range(n_txt) for p in ("last", "mean")}
    assert set(fs.layer_names) == expected
    np.testing.assert_array_equal(fs.times, [0, 1, 2])

    processor = transformers.AutoProcessor.from_pretrained(clip_dir)
    model = transformers.AutoModel.from_pretrained(clip_dir).eval()
    from PIL import Image

    inputs = processor(
        images=[Image.fromarray(im) for im in images],
        text=captions,
        padding=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True)
    np.testing.assert_allclose(fs["image_embeds"], out.image_embeds.numpy(), atol=1e-5)
    np.testing.assert_allclose(fs["text_embeds"], out.text_embeds.numpy(), atol=1e-5)
    assert fs["image_embeds"].shape == (3, 8)
    vis = out.vision_model_output.hidden_states
    np.testing.assert_allclose(fs["layer_2.image_cls"], vis[2][:, 0].numpy(), atol=1e-5)
    np.testing.assert_allclose(fs["layer_2.image_mean"], vis[2][:, 1:].mean(1).numpy(), atol=1e-5)
    txt = out.text_model_output.hidden_states
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    for row in range(3):
        n_tok = int(mask[row].sum())
        assert ids[row, n_tok - 1] == 3  # the end-of-text token is the last attended one
        for i in range(n_txt):
            np.testing.assert_allclose(
                fs[f"layer_{i}.text_last"][row], txt[i][row, n_tok - 1].numpy(), atol=1e-5
            )
            np.testing.assert_allclose(
                fs[f"layer_{i}.text_mean"][row], txt[i][row, :n_tok].mean(0).numpy(), atol=1e-5
            )


def test_clip_images_only_and_cache(clip_dir, images, tmp_path):
    ext = CLIPExtractor(model=clip_dir, cache_dir=str(tmp_path))
    fs = ext.extract(images)
    assert "text_embeds" not in fs.layers and "layer_0.text_mean" not in fs.layers
    assert ext.n_forward_calls == 1
    again = CLIPExtractor(model=clip_dir, cache_dir=str(tmp_path), layers=["image_embeds", 0])
    sel = again.extract(images)
    assert again.n_forward_calls == 0
    assert sel.layer_names == ["image_embeds", "layer_0.image_cls", "layer_0.image_mean"]


def test_clip_needs_a_dual_encoder(tmp_path):
    cfg = transformers.ViTConfig(**VISION)
    transformers.ViTModel(cfg).save_pretrained(tmp_path)
    transformers.CLIPProcessor(
        image_processor=clip_image_processor(), tokenizer=word_tokenizer(bos_eos=True)
    ).save_pretrained(tmp_path)
    with pytest.raises(TypeError, match="has no get_image_features"):
        CLIPExtractor(model=str(tmp_path)).extract([np.zeros((8, 8, 3), np.uint8)])


# ----------------------------------------------------------------------------------------- VLM


def test_vlm_instruction_changes_language_layers_not_vision(llava_dir, images):
    img = images[0]
    pairs = [(img, "what is in the image"), (img, "describe the colour")]
    fs = VLMExtractor(model=llava_dir, batch_size=1).extract(pairs)
    lm = [f"layer_{i}.{p}" for i in range(4) for p in ("text", "image", "last")]
    vis = [f"vision.layer_{j}.{p}" for j in range(3) for p in ("cls", "mean")]
    assert fs.layer_names == lm + vis
    for j in range(3):
        np.testing.assert_array_equal(
            fs[f"vision.layer_{j}.mean"][0], fs[f"vision.layer_{j}.mean"][1]
        )
    for i in range(1, 4):
        a, b = fs[f"layer_{i}.text"]
        assert np.abs(a - b).max() > 1e-3, f"layer {i} does not depend on the instruction"
        assert np.abs(fs[f"layer_{i}.last"][0] - fs[f"layer_{i}.last"][1]).max() > 1e-3
        # causal LM, image before the instruction: the image tokens cannot see it
        np.testing.assert_allclose(fs[f"layer_{i}.image"][0], fs[f"layer_{i}.image"][1], atol=1e-5)
    # instruction first: now the image tokens are conditioned on it
    ext = VLMExtractor(model=llava_dir, template="{instruction}\n{image}")
    late = ext.extract(pairs)
    assert np.abs(late["layer_3.image"][0] - late["layer_3.image"][1]).max() > 1e-3


def test_vlm_pooling_by_hand_and_batching(llava_dir, images):
    pairs = [(images[0], "what is in the image"), (images[1], "red")]
    ext = VLMExtractor(model=llava_dir, batch_size=2)
    fs = ext.extract(pairs)
    assert ext.n_forward_calls == 1
    processor = transformers.AutoProcessor.from_pretrained(llava_dir)
    model = transformers.AutoModelForImageTextToText.from_pretrained(llava_dir).eval()
    from PIL import Image

    for row, (img, text) in enumerate(pairs):
        inputs = processor(
            images=[Image.fromarray(img)], text=[f"<image>\n{text}"], return_tensors="pt"
        )
        with torch.no_grad():
            out = model(**inputs, output_hidden_states=True)
        is_img = inputs["input_ids"][0] == 4
        assert int(is_img.sum()) == 16  # 4x4 patches, CLS dropped by the "default" strategy
        for i, h in enumerate(out.hidden_states):
            h = h[0].numpy()
            np.testing.assert_allclose(fs[f"layer_{i}.image"][row], h[is_img].mean(0), atol=1e-5)
            np.testing.assert_allclose(fs[f"layer_{i}.text"][row], h[~is_img].mean(0), atol=1e-5)
            np.testing.assert_allclose(fs[f"layer_{i}.last"][row], h[-1], atol=1e-5)
        vis = out.image_outputs.hidden_states
        np.testing.assert_allclose(fs["vision.layer_1.cls"][row], vis[1][0, 0].numpy(), atol=1e-5)


def test_vlm_cache_and_errors(llava_dir, images, tmp_path):
    pairs = [(images[0], "what is in the image")]
    ext = VLMExtractor(model=llava_dir, cache_dir=str(tmp_path), pooling=["last"])
    fs = ext.extract(pairs)
    assert "layer_3" in fs.layers and "layer_3.last" not in fs.layers
    again = VLMExtractor(model=llava_dir, cache_dir=str(tmp_path), pooling=["last"], layers=[-1])
    assert again.extract(pairs).layer_names == ["layer_3"]
    assert again.n_forward_calls == 0
    with pytest.raises(ValueError, match="needs one text per image"):
        VLMExtractor(model=llava_dir).extract(images[:1])
    with pytest.raises(ConfigError, match=r"must contain \{instruction\}"):
        VLMExtractor(model=llava_dir, template="{image} describe")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        VLMExtractor(model=str(tmp_path / "nope")).extract(pairs)
