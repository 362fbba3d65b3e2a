"""WhisperExtractor code paths with a stand-in CTranslate2 model (real weights: slow tier).

The stand-in replaces ``faster_whisper.WhisperModel`` only; the log-mel front end is
faster-whisper's own. Its encoder returns, for each 30 s window, the window's mean log-mel
value per frame pair, so that the windowing and the frame bookkeeping can be checked exactly.
"""

from __future__ import annotations

import sys
from typing import ClassVar

import numpy as np
import pytest

from brainalign.features import WhisperExtractor, transcribe_words

fw = pytest.importorskip("faster_whisper")
from faster_whisper.feature_extractor import FeatureExtractor  # noqa: E402
from faster_whisper.transcribe import Segment, Word  # noqa: E402

SR = 16000


class FakeWhisperModel:
    """What WhisperExtractor uses of faster_whisper.WhisperModel."""

    instances: ClassVar[list] = []

    def __init__(self, path, device="cpu", device_index=0, compute_type="default"):
        self.args = (path, device, device_index, compute_type)
        self.feature_extractor = FeatureExtractor()
        self.input_stride = 2
        self.encoded: list[np.ndarray] = []
        self.transcribed: list[np.ndarray] = []
        FakeWhisperModel.instances.append(self)

    def encode(self, features):
        assert features.shape == (80, 3000)
        self.encoded.append(features)
        pairs = features.reshape(80, 1500, 2).mean(axis=(0, 2))
        return np.repeat(pairs[None, :, None], 4, axis=2).astype(np.float32)  # (1, 1500, 4)

    def transcribe(self, audio, **kwargs):
        self.transcribed.append((audio, kwargs))
        words = [Word(1.5, 1.9, " world", 0.8), Word(0.2, 0.6, " Hello", 0.9)]

        def segments():
            yield Segment(0, 0, 0.2, 1.9, " Hello world", [], 0.0, 1.0, 0.0, words, 0.0)

        return segments(), None


@pytest.fixture
def fake_model(tmp_path, monkeypatch):
    monkeypatch.setattr(fw, "WhisperModel", FakeWhisperModel)
    FakeWhisperModel.instances.clear()
    (tmp_path / "model.bin").write_bytes(b"")
    return str(tmp_path)


def test_encoder_windows_frames_and_times(fake_model):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(65 * SR).astype(np.float32) * 0.1  # 65 s: windows of 30, 30, 5 s
    ext = WhisperExtractor(model=fake_model, device="cuda:1", compute_type="float16")
    fs = ext.extract((x, SR))
    model = FakeWhisperModel.instances[-1]
    assert model.args == (fake_model, "cuda", 1, "float16")
    assert ext.n_forward_calls == 3 and len(model.encoded) == 3
    n_mel = 65 * SR // 160  # 6500 mel frames at 100 Hz
    assert fs.layer_names == ["encoder"]
    assert fs["encoder"].shape == (n_mel // 2, 4)  # 3250 frames at 50 Hz
    np.testing.assert_allclose(fs.times, np.arange(3250) * 0.02)
    # frame k comes from mel frames 2k, 2k + 1 of the whole-recording spectrogram
    mel = FeatureExtractor()(x)[:, :-1]
    expected = mel.reshape(80, -1, 2).mean(axis=(0, 2))
    np.testing.assert_allclose(fs["encoder"][:, 0], expected, rtol=1e-5, atol=1e-6)
    # the last window is zero-padded to 30 s, as Whisper expects
    assert np.all(model.encoded[2][:, 500:] == 0)


def test_resampling_and_unexpected_rate(fake_model):
    x8 = np.random.default_rng(1).standard_normal(8000 * 2).astype(np.float32)
    fs = WhisperExtractor(model=fake_model).extract((x8, 8000))
    assert fs.n_items == 100  # 2 s at 50 Hz
    with pytest.raises(ValueError, match=r"sampled at 8000 Hz but Whisper expects 16000 Hz"):
        WhisperExtractor(model=fake_model, resample=False).extract((x8, 8000))


def test_transcribe_gives_a_sorted_word_events_table(fake_model):
    x = np.zeros(3 * SR, np.float32)
    events = transcribe_words((x, SR), model=fake_model, beam_size=2)
    assert list(events.columns) == ["onset", "duration", "type", "text", "probability", "segment"]
    assert events["text"].tolist() == ["Hello", "world"]
    np.testing.assert_allclose(events["onset"], [0.2, 1.5])
    np.testing.assert_allclose(events["duration"], [0.4, 0.4])
    assert set(events["type"]) == {"Word"}
    audio, kwargs = FakeWhisperModel.instances[-1].transcribed[-1]
    assert audio.dtype == np.float32 and audio.shape == (3 * SR,)
    assert kwargs["word_timestamps"] is True and kwargs["beam_size"] == 2


def test_cache_second_extraction_runs_no_forward(fake_model, tmp_path):
    x = np.random.default_rng(2).standard_normal(SR).astype(np.float32)
    ext = WhisperExtractor(model=fake_model, cache_dir=str(tmp_path / "cache"))
    ext.extract((x, SR))
    again = WhisperExtractor(model=fake_model, cache_dir=str(tmp_path / "cache"))
    fs = again.extract((x, SR))
    assert (ext.n_forward_calls, again.n_forward_calls) == (1, 0)
    assert fs["encoder"].shape == (50, 4)


def test_missing_model_and_missing_package(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"`model` .*nowhere.* does not exist"):
        WhisperExtractor(model=str(tmp_path / "nowhere")).extract((np.zeros(SR), SR))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no model\.bin"):
        WhisperExtractor(model=str(tmp_path / "empty")).extract((np.zeros(SR), SR))
    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    with pytest.raises(ImportError, match=r"pip install 'brainalign\[whisper\]'"):
        WhisperExtractor().extract((np.zeros(SR), SR))
