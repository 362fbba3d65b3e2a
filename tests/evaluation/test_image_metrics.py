"""Image metrics: SSIM against scikit-image, PixCorr and two-way identification by hand."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
from skimage.color import rgb2gray
from skimage.metrics import structural_similarity

from brainalign.data import FeatureSet
from brainalign.evaluation import network_features, pixcorr, ssim, two_way_identification
from brainalign.evaluation._image_metrics import resize_images, to_grayscale


def _sk_ssim(gt, rec, data_range=1.0):
    """The protocol's call (MindEye2 final_evaluations), image by image."""
    return structural_similarity(
        rec,
        gt,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=data_range,
    )


def _degrade(images, rng, amount):
    return np.clip(images + amount * rng.standard_normal(images.shape), 0, 1)


# --------------------------------------------------------------------------------------------
# SSIM
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "shape"),
    [("astronaut", (128, 128)), ("coffee", (100, 150)), ("chelsea", (75, 113))],
)
def test_ssim_equals_skimage_on_rgb_fixtures(name, shape):
    rng = np.random.default_rng(0)
    img = getattr(skimage.data, name)()
    step_r, step_c = img.shape[0] // shape[0], img.shape[1] // shape[1]
    gt = img[::step_r, ::step_c][: shape[0], : shape[1]] / 255.0
    gts = np.stack([gt, gt[::-1], np.clip(gt * 0.7 + 0.2, 0, 1)])
    recs = np.stack([_degrade(gts[0], rng, 0.1), _degrade(gts[1], rng, 0.3), rng.random(gt.shape)])
    ours = ssim(gts, recs, size=None, average=False)
    expected = [_sk_ssim(rgb2gray(g), rgb2gray(r)) for g, r in zip(gts, recs)]
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-6)
    assert ssim(gts, recs, size=None) == pytest.approx(np.mean(expected), abs=1e-6)
    assert ssim(gts, gts, size=None) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("shape", [(11, 11), (37, 53), (64, 48)])
@pytest.mark.parametrize("data_range", [1.0, 0.5, 255.0])
def test_ssim_equals_skimage_on_gray_sizes_and_ranges(shape, data_range):
    rng = np.random.default_rng(int(data_range) + shape[0])
    gt = rng.random((4, *shape)) * data_range
    rec = np.clip(gt + 0.2 * data_range * rng.standard_normal(gt.shape), 0, data_range)
    ours = ssim(gt, rec, size=None, data_range=data_range, average=False)
    expected = [_sk_ssim(g, r, data_range) for g, r in zip(gt, rec)]
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-6)


def test_ssim_uint8_and_camera():
    cam = skimage.data.camera()[::4, ::4]  # uint8 gray, 128 x 128
    rng = np.random.default_rng(1)
    noisy = np.clip(cam.astype(int) + rng.integers(-40, 40, cam.shape), 0, 255).astype(np.uint8)
    expected = _sk_ssim(cam / 255.0, noisy / 255.0)
    assert ssim(cam[None], noisy[None], size=None) == pytest.approx(expected, abs=1e-6)
    # channel axis of length 1 is the same gray image
    assert ssim(cam[None, ..., None], noisy[None], size=None) == pytest.approx(expected, abs=1e-6)


def test_ssim_protocol_resize_then_gray():
    rng = np.random.default_rng(2)
    gt = skimage.data.astronaut()[::8, ::8] / 255.0  # 64 x 64 RGB
    rec = _degrade(gt, rng, 0.15)[::2, ::2]  # a smaller reconstruction (32 x 32)
    ours = ssim(gt[None], rec[None])  # default size=425
    big_gt, big_rec = resize_images(gt[None], 425), resize_images(rec[None], 425)
    assert big_gt.shape == (1, 425, 425, 3) == big_rec.shape
    expected = _sk_ssim(rgb2gray(big_gt[0]), rgb2gray(big_rec[0]))
    assert ours == pytest.approx(expected, abs=1e-6)


def test_grayscale_is_skimage_rgb2gray():
    rgb = np.random.default_rng(3).random((2, 9, 7, 3))
    np.testing.assert_allclose(to_grayscale(rgb), rgb2gray(rgb), atol=1e-12)


def _bilinear_reference(img, out_h, out_w):
    """Half-pixel bilinear upsampling (align_corners=False), loops only."""
    in_h, in_w = img.shape
    out = np.zeros((out_h, out_w))
    for y in range(out_h):
        sy = max((y + 0.5) * in_h / out_h - 0.5, 0.0)
        y0 = int(np.floor(sy))
        y1, wy = min(y0 + 1, in_h - 1), sy - y0
        for x in range(out_w):
            sx = max((x + 0.5) * in_w / out_w - 0.5, 0.0)
            x0 = int(np.floor(sx))
            x1, wx = min(x0 + 1, in_w - 1), sx - x0
            top = (1 - wx) * img[y0, x0] + wx * img[y0, x1]
            bottom = (1 - wx) * img[y1, x0] + wx * img[y1, x1]
            out[y, x] = (1 - wy) * top + wy * bottom
    return out


def test_resize_is_half_pixel_bilinear_shorter_side():
    img = np.random.default_rng(4).random((1, 5, 7))
    out = resize_images(img, 11)  # shorter side 5 -> 11, longer int(11 * 7 / 5) = 15
    assert out.shape == (1, 11, 15)
    np.testing.assert_allclose(out[0], _bilinear_reference(img[0], 11, 15), atol=1e-12)


# --------------------------------------------------------------------------------------------
# PixCorr
# --------------------------------------------------------------------------------------------
def test_pixcorr_hand_computed():
    gt = np.array([[[0.0, 1.0], [1.0, 0.0]]])
    rec = np.array([[[0.0, 1.0], [0.0, 0.0]]])
    # deviations (-.5, .5, .5, -.5) and (-.25, .75, -.25, -.25): r = .5 / sqrt(1 * .75)
    assert pixcorr(gt, rec, size=None) == pytest.approx(1 / np.sqrt(3), abs=1e-12)
    assert pixcorr(gt, 1 - gt, size=None) == pytest.approx(-1.0, abs=1e-12)
    assert pixcorr(gt, 0.2 + 0.5 * gt, size=None) == pytest.approx(1.0, abs=1e-12)
    # a constant reconstruction has no defined r: 0 by convention
    assert pixcorr(gt, np.full_like(gt, 0.3), size=None) == 0.0
    both = pixcorr(
        np.concatenate([gt, gt]), np.concatenate([rec, 1 - gt]), size=None, average=False
    )
    np.testing.assert_allclose(both, [1 / np.sqrt(3), -1.0], atol=1e-12)


def test_pixcorr_matches_corrcoef_of_flattened_rgb():
    rng = np.random.default_rng(5)
    gt = rng.random((3, 16, 16, 3))
    rec = _degrade(gt, rng, 0.5)
    expected = [np.corrcoef(g.ravel(), r.ravel())[0, 1] for g, r in zip(gt, rec)]
    np.testing.assert_allclose(pixcorr(gt, rec, size=None, average=False), expected, atol=1e-12)
    big_gt, big_rec = resize_images(gt, 425), resize_images(rec, 425)
    expected = [np.corrcoef(g.ravel(), r.ravel())[0, 1] for g, r in zip(big_gt, big_rec)]
    assert pixcorr(gt, rec) == pytest.approx(np.mean(expected), abs=1e-12)


# --------------------------------------------------------------------------------------------
# two-way identification
# --------------------------------------------------------------------------------------------
def test_two_way_identification_hand_computed():
    # rows are permutations of (1, 2, 3): r = (centred dot) / 2
    G = np.array([[1, 2, 3], [3, 2, 1], [1, 3, 2]], dtype=float)
    P = np.array([[1, 2, 3], [2, 1, 3], [2, 3, 1]], dtype=float)
    # r[i, j] = corr(G_i, P_j):   P0    P1    P2
    #                       G0   1    0.5  -0.5
    #                       G1  -1   -0.5   0.5
    #                       G2   0.5 -0.5   0.5
    # recon 0: 1 > -1, 0.5  -> 2/2; recon 1: -0.5 < 0.5, tie with -0.5 -> 0/2;
    # recon 2: 0.5 > -0.5, tie with 0.5 -> 1/2
    per_image = two_way_identification(G, P, average=False)
    np.testing.assert_allclose(per_image, [1.0, 0.0, 0.5], atol=1e-12)
    assert two_way_identification(G, P) == pytest.approx(0.5)
    assert two_way_identification(G, G) == 1.0


def test_two_way_matches_mindeye_code_on_random_features():
    rng = np.random.default_rng(6)
    G = rng.standard_normal((25, 4, 3, 3))
    P = G + 2.0 * rng.standard_normal(G.shape)
    # MindEye2 final_evaluations.two_way_identification, verbatim semantics
    reals, preds = G.reshape(25, -1), P.reshape(25, -1)
    r = np.corrcoef(reals, preds)[:25, 25:]
    congruents = np.diag(r)
    expected = np.mean(np.sum(r < congruents, 0)) / (25 - 1)
    assert two_way_identification(G, P) == pytest.approx(expected, abs=1e-12)


def test_network_features_with_callable_and_extractor():
    rng = np.random.default_rng(7)
    images = rng.random((4, 12, 12, 3))

    def feats(batch):
        return batch.mean(axis=(1, 2))  # mean colour

    out = network_features(images, feats, layer="mean_rgb")
    np.testing.assert_allclose(out, images.mean(axis=(1, 2)))

    class FakeExtractor:
        def extract(self, items):
            arr = np.stack([np.asarray(i).std(axis=(0, 1)) for i in items])
            return FeatureSet(np.arange(len(items), dtype=float), {"layer_1": arr})

    out = network_features(list(images), FakeExtractor(), layer="layer_1")
    assert out.shape == (4, 3)
    with pytest.raises(KeyError, match="available layers"):
        network_features(images, FakeExtractor(), layer="layer_9")


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------
def test_bad_image_input():
    rng = np.random.default_rng(8)
    a = rng.random((3, 16, 16, 3))
    with pytest.raises(ValueError, match="must have one image per image of `images_true`"):
        ssim(a, a[:2])
    with pytest.raises(ValueError, match="must hold images of one size"):
        pixcorr([a[0], a[1][:8]], a[:2])
    with pytest.raises(ValueError, match=r"same image size.*Pass size=425"):
        ssim(a, a[:, :12, :12], size=None)
    with pytest.raises(ValueError, match="Channels-first images"):
        pixcorr(np.moveaxis(a, -1, 1), np.moveaxis(a, -1, 1))
    with pytest.raises(ValueError, match="at least one image"):
        pixcorr([], [])
    with pytest.raises(ValueError, match=r"values must lie in \[0, data_range=1\]"):
        ssim(a * 255, a)
    with pytest.raises(ValueError, match="at least 11 x 11 pixels"):
        ssim(a[:, :8, :8], a[:, :8, :8], size=None)
    with pytest.raises(ValueError, match="`size` must be None or an int >= 1"):
        pixcorr(a, a, size=0)
    with pytest.raises(TypeError, match=r"uint8 .* or float"):
        pixcorr(a.astype(np.int32), a.astype(np.int32))


def test_bad_feature_input():
    G = np.random.default_rng(9).standard_normal((5, 10))
    with pytest.raises(ValueError, match="one row per row of `features_true`"):
        two_way_identification(G, G[:4])
    with pytest.raises(ValueError, match="same number of features"):
        two_way_identification(G, G[:, :8])
    with pytest.raises(ValueError, match="at least 2 images"):
        two_way_identification(G[:1], G[:1])
    with pytest.raises(ValueError, match="must not be empty"):
        two_way_identification(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError, match="`layer` must name a layer"):
        network_features(np.zeros((2, 8, 8, 3)), lambda x: x, layer="")
    with pytest.raises(TypeError, match="`model` must be 'efficientnet-lite0'"):
        network_features(np.zeros((2, 8, 8, 3)), 3, layer="layer_8")


# --------------------------------------------------------------------------------------------
# slow: real EfficientNet-Lite0 features
# --------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_two_way_with_efficientnet_lite0_on_skimage_images():
    pytest.importorskip("efficientnet_lite_pytorch")
    from skimage.transform import resize

    names = ["astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "moon", "page"]
    images = []
    for n in names:
        img = getattr(skimage.data, n)()
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        images.append(resize(img[..., :3], (224, 224), anti_aliasing=True))
    images = np.stack(images)
    rng = np.random.default_rng(0)
    true = network_features(images, "efficientnet-lite0", layer="layer_8")
    assert true.shape == (8, 1280)
    same = network_features(images, "efficientnet-lite0", layer="layer_8")
    assert two_way_identification(true, same) == 1.0
    mild = network_features(_degrade(images, rng, 0.05), "efficientnet-lite0", layer="layer_8")
    noise = network_features(rng.random(images.shape), "efficientnet-lite0", layer="layer_8")
    score_mild = two_way_identification(true, mild)
    score_noise = two_way_identification(true, noise)
    assert score_mild >= 0.9
    assert score_noise < score_mild
