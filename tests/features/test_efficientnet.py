"""EfficientNet-Lite0 extractor on random weights saved in tmp_path (real weights: slow tier)."""

from __future__ import annotations

import numpy as np
import pytest

from brainalign.exceptions import ConfigError
from brainalign.features import EfficientNetExtractor

torch = pytest.importorskip("torch")
effnet = pytest.importorskip("efficientnet_lite_pytorch")

STAGE_DIMS = [32, 16, 24, 40, 80, 112, 192, 320, 1280]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    net = effnet.EfficientNet.from_name("efficientnet-lite0")
    path = tmp_path_factory.mktemp("effnet") / "lite0.pth"
    torch.save(net.state_dict(), path)
    return str(path)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (240, 300, 3), dtype=np.uint8) for _ in range(2)]


def test_stage_features_shapes_and_logits_match_the_network(weights, images):
    ext = EfficientNetExtractor(model=weights, logits=True)
    fs = ext.extract(images)
    assert fs.layer_names == [f"layer_{i}" for i in range(9)] + ["logits"]
    assert [fs[f"layer_{i}"].shape[1] for i in range(9)] == STAGE_DIMS
    assert fs["logits"].shape == (2, 1000)
    np.testing.assert_array_equal(fs.times, [0, 1])
    net = effnet.EfficientNet.from_name("efficientnet-lite0")
    net.load_state_dict(torch.load(weights, weights_only=True))
    net.eval()
    from brainalign.features import load_image

    x = ext.preprocess([load_image(im) for im in images])
    with torch.no_grad():
        np.testing.assert_allclose(fs["logits"], net(x).numpy(), rtol=1e-4, atol=1e-4)
        head = net.extract_features(x).mean(dim=(2, 3)).numpy()
    np.testing.assert_allclose(fs["layer_8"], head, rtol=1e-4, atol=1e-5)


def test_preprocessing_is_imagenet_normalised_centre_crop(weights):
    ext = EfficientNetExtractor(model=weights)
    from PIL import Image

    mean_colour = np.round(np.array([0.485, 0.456, 0.406]) * 255).astype(np.uint8)
    img = np.broadcast_to(mean_colour, (100, 300, 3)).copy()
    img[:, :100] = 255  # the left third is cut by the centre crop of a 3:1 image
    x = ext.preprocess([Image.fromarray(img)]).numpy()
    assert x.shape == (1, 3, 224, 224)
    np.testing.assert_allclose(x, 0.0, atol=0.01)


def test_cache_second_extraction_runs_no_forward(weights, images, tmp_path):
    ext = EfficientNetExtractor(model=weights, cache_dir=str(tmp_path))
    ext.extract(images)
    again = EfficientNetExtractor(model=weights, cache_dir=str(tmp_path), layers=[-1])
    fs = again.extract(images)
    assert (ext.n_forward_calls, again.n_forward_calls) == (1, 0)
    assert fs.layer_names == ["layer_8"] and fs["layer_8"].shape == (2, 1280)


def test_errors(weights, tmp_path, images):
    with pytest.raises(FileNotFoundError, match=r"`model` .*nope\.pth.* does not exist"):
        EfficientNetExtractor(model=str(tmp_path / "nope.pth")).extract(images)
    with pytest.raises(ValueError, match="do not fit 'efficientnet-lite1'"):
        EfficientNetExtractor(model=weights, arch="efficientnet-lite1").extract(images[:1])
    with pytest.raises(ValueError, match="loads the Lite0 weights, but `arch`"):
        EfficientNetExtractor(arch="efficientnet-b0").extract(images[:1])
    with pytest.raises(ConfigError, match="image sizes must be >= 8"):
        EfficientNetExtractor(image_size=2)
    with pytest.raises(IndexError, match="out of range"):
        EfficientNetExtractor(model=weights, layers=[9]).extract(images[:1])
