"""Video extractor on a tiny mp4 written with PyAV (frame i has pixel value 8 * i)."""

from __future__ import annotations

import numpy as np
import pytest
from _fixtures_media import CLIP_FRAMES, FPS, VIDEO_SIZE, save_videomae, write_video

from brainalign.exceptions import ConfigError
from brainalign.features import VideoExtractor, window_frame_indices

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
av = pytest.importorskip("av")

SIZE = VIDEO_SIZE
N_LAYERS = 2


def frame_index(frames):
    """Recover the frame indices from the pixel values."""
    return np.round(frames.reshape(len(frames), -1).mean(1) / 8).astype(int)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("video") / "movie.mp4")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_videomae(tmp_path_factory.mktemp("videomae"))


def test_window_frame_indices_causal_uniform_and_repeated():
    times = np.arange(30) / 10
    np.testing.assert_array_equal(window_frame_indices(times, 1.0, 1.0, 4), [1, 4, 7, 10])
    np.testing.assert_array_equal(window_frame_indices(times, 0.0, 1.0, 4), [0, 0, 0, 0])
    np.testing.assert_array_equal(window_frame_indices(times, 0.2, 1.0, 4), [0, 1, 1, 2])
    # a window shorter than a frame period: the frame on screen at t
    np.testing.assert_array_equal(window_frame_indices(times, 0.55, 0.01, 2), [5, 5])


def test_clips_take_the_right_frames(video, model_dir):
    ext = VideoExtractor(model=model_dir, sfreq=2.0, window=1.0)
    clips = list(ext.iter_clips(video))
    grid = [t for t, _, _ in clips]
    np.testing.assert_allclose(grid, np.arange(7) * 0.5)  # 0 .. 3.0 s (end of the last frame)
    for t, frame_times, frames in clips:
        assert frames.shape == (CLIP_FRAMES, SIZE, SIZE, 3)
        got = frame_index(frames)
        np.testing.assert_array_equal(got, np.round(frame_times * FPS).astype(int))
        assert np.all(frame_times <= t + 1e-9) and np.all(frame_times > t - 1.0 - 1e-9)
        np.testing.assert_array_equal(got, window_frame_indices(np.arange(30) / 10, t, 1.0, 4))
    np.testing.assert_array_equal(frame_index(clips[2][2]), [1, 4, 7, 10])  # t = 1.0
    np.testing.assert_array_equal(frame_index(clips[-1][2]), [21, 24, 26, 29])  # t = 3.0


def test_features_shapes_times_and_token_mean_by_hand(video, model_dir):
    ext = VideoExtractor(model=model_dir, tr=1.5, window=2.0, batch_size=2)
    fs = ext.extract(video)
    np.testing.assert_allclose(fs.times, [0.0, 1.5, 3.0])
    np.testing.assert_allclose(fs.durations, 2.0)
    assert fs.layer_names == [f"layer_{i}" for i in range(N_LAYERS + 1)]
    assert fs["layer_1"].shape == (3, 16)
    assert ext.n_forward_calls == 2
    # by hand: the clip at t = 1.5 s covers (-0.5, 1.5]: frames 0..15
    idx = window_frame_indices(np.arange(30) / 10, 1.5, 2.0, CLIP_FRAMES)
    np.testing.assert_array_equal(idx, [0, 5, 10, 15])
    processor = transformers.AutoImageProcessor.from_pretrained(model_dir)
    model = transformers.AutoModel.from_pretrained(model_dir).eval()
    clip = [np.full((SIZE, SIZE, 3), 8 * i, np.uint8) for i in idx]
    with torch.no_grad():
        out = model(**processor([clip], return_tensors="pt"), output_hidden_states=True)
    for i, h in enumerate(out.hidden_states):
        assert h.shape[1] == (CLIP_FRAMES // 2) * 16  # tubelets x patches, no CLS
        # the decoded frames are within 1-2 grey levels of the written ones
        np.testing.assert_allclose(fs[f"layer_{i}"][1], h[0].mean(0).numpy(), atol=0.05)


def test_cache_second_extraction_runs_no_forward(video, model_dir, tmp_path):
    ext = VideoExtractor(model=model_dir, window=1.0, cache_dir=str(tmp_path))
    first = ext.extract(video)
    assert ext.n_forward_calls > 0
    again = VideoExtractor(model=model_dir, window=1.0, cache_dir=str(tmp_path), layers=[0, -1])
    second = again.extract(video)
    assert again.n_forward_calls == 0
    assert second.layer_names == ["layer_0", f"layer_{N_LAYERS}"]
    np.testing.assert_allclose(second["layer_0"], first["layer_0"], rtol=1e-6)
    np.testing.assert_allclose(first.times, np.arange(7) * 0.5)  # default grid: 2 Hz


def test_mpeg4_codec_and_explicit_n_frames(tmp_path, model_dir):
    path = write_video(tmp_path / "m.mp4", n=12, fps=4, codec="mpeg4")
    ext = VideoExtractor(model=model_dir, sfreq=1.0, window=2.0, n_frames=4)
    clips = list(ext.iter_clips(path))
    np.testing.assert_allclose([c[0] for c in clips], [0, 1, 2, 3])
    np.testing.assert_allclose(clips[2][1], [0.25, 0.75, 1.5, 2.0])  # (0, 2]: frames 1..8


def test_bad_videos_and_configs(tmp_path, model_dir, video):
    ext = VideoExtractor(model=model_dir)
    with pytest.raises(FileNotFoundError, match=r"video file .*nope\.mp4.* does not exist"):
        ext.extract(str(tmp_path / "nope.mp4"))
    from scipy.io import wavfile

    wav = tmp_path / "sound.wav"
    wavfile.write(wav, 8000, np.zeros(800, np.int16))
    with pytest.raises(
        ValueError, match=r"sound\.wav.* has no video stream \(streams: \['audio'\]\)"
    ):
        ext.extract(str(wav))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match=r"could not open video file .*junk\.mp4"):
        ext.extract(str(junk))
    with pytest.raises(ValueError, match=r"`window` \(10 s\) is longer than the video"):
        VideoExtractor(model=model_dir, window=10.0).extract(video)
    with pytest.raises(ConfigError, match="either `sfreq` or `tr`"):
        VideoExtractor(model=model_dir, sfreq=2.0, tr=1.5)
    with pytest.raises(ConfigError, match="positive"):
        VideoExtractor(model=model_dir, window=0.0)
    with pytest.raises(TypeError, match="must be a file path"):
        ext.extract(np.zeros((3, 8, 8, 3)))
    with pytest.raises(IndexError, match="out of range"):
        VideoExtractor(model=model_dir, window=1.0, layers=[7]).extract(video)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        VideoExtractor(model=str(tmp_path / "no_model")).extract(video)
