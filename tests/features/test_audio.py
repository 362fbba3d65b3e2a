"""Audio model features (tiny wav2vec2 / Whisper encoders) and acoustic bands (no model)."""

from __future__ import annotations

import numpy as np
import pytest
from _fixtures_media import SR, save_wav2vec2
from scipy.io import wavfile
from scipy.signal import resample_poly

from brainalign.exceptions import ConfigError
from brainalign.features import (
    AudioExtractor,
    compute_envelope,
    compute_mel_spectrogram,
    conv_frame_geometry,
    load_audio,
    mel_filterbank,
)

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

N_LAYERS = 2


@pytest.fixture(scope="module")
def w2v_dir(tmp_path_factory):
    # hop 5 * 4 = 20 samples (800 Hz), receptive field 10 + 2 * 5 = 20 samples
    return save_wav2vec2(tmp_path_factory.mktemp("w2v"))


@pytest.fixture(scope="module")
def wave():
    rng = np.random.default_rng(0)
    return rng.standard_normal(4000).astype(np.float32) * 0.1


def _forward(folder, x):
    fe = transformers.AutoFeatureExtractor.from_pretrained(folder)
    model = transformers.AutoModel.from_pretrained(folder).eval()
    with torch.no_grad():
        return model(**fe(x, sampling_rate=SR, return_tensors="pt"), output_hidden_states=True)


def test_wav2vec2_default_geometry_is_50_hz():
    cfg = transformers.Wav2Vec2Config()
    hop, field = conv_frame_geometry(cfg.conv_kernel, cfg.conv_stride)
    assert (hop, field) == (320, 400)
    assert SR / hop == 50.0


def test_frames_times_and_layers_match_a_direct_forward(w2v_dir, wave):
    ext = AudioExtractor(model=w2v_dir)
    fs = ext.extract((wave, SR))
    assert ext.frame_rate == SR / 20
    assert fs.layer_names == [f"layer_{i}" for i in range(N_LAYERS + 1)]
    n = (((4000 - 10) // 5 + 1) - 3) // 4 + 1  # 200 frames
    assert fs["layer_0"].shape == (n, 16)
    np.testing.assert_allclose(fs.times, (np.arange(n) * 20 + 9.5) / SR)  # receptive-field centre
    out = _forward(w2v_dir, wave)
    assert len(out.hidden_states) == N_LAYERS + 1
    for i, h in enumerate(out.hidden_states):
        np.testing.assert_allclose(fs[f"layer_{i}"], h[0].numpy(), rtol=1e-5, atol=1e-5)


def test_chunks_with_context_keep_frames_aligned(w2v_dir, wave):
    # chunks of 40 frames (0.05 s) with 16 frames (0.02 s) of context on each side
    ext = AudioExtractor(model=w2v_dir, chunk_length=0.05, context=0.02)
    fs = ext.extract((wave, SR))
    assert ext.n_forward_calls == 5
    full = AudioExtractor(model=w2v_dir).extract((wave, SR))
    np.testing.assert_array_equal(fs.times, full.times)
    # layer 0 is local (conv front end + positional conv of 8 frames): chunking is invisible
    np.testing.assert_allclose(fs["layer_0"], full["layer_0"], rtol=1e-4, atol=1e-5)
    # deeper layers attend to the whole input, so they depend on the chunking
    assert np.abs(fs["layer_2"] - full["layer_2"]).max() > 1e-4
    # without context, frames at the chunk edges change already in layer 0
    bare = AudioExtractor(model=w2v_dir, chunk_length=0.05, context=0.0).extract((wave, SR))
    assert np.abs(bare["layer_0"] - full["layer_0"]).max() > 1e-3


def test_resampling_mono_and_files(w2v_dir, wave, tmp_path):
    x8 = resample_poly(wave.astype(np.float64), 1, 2).astype(np.float32)
    fs = AudioExtractor(model=w2v_dir).extract((x8, 8000))
    ref = AudioExtractor(model=w2v_dir).extract((resample_poly(x8, 2, 1), SR))
    np.testing.assert_allclose(fs["layer_2"], ref["layer_2"], rtol=1e-4, atol=1e-5)
    with pytest.raises(
        ValueError, match=r"sampled at 8000 Hz but the model's feature extractor expects 16000 Hz"
    ):
        AudioExtractor(model=w2v_dir, resample=False).extract((x8, 8000))
    # a stereo int16 file: decoded by PyAV, scaled to [-1, 1) and averaged over channels
    stereo = np.stack([wave, -0.5 * wave], axis=1)
    pcm = np.round(stereo * 32767).astype(np.int16)
    path = tmp_path / "stereo.wav"
    wavfile.write(path, SR, pcm)
    signal = load_audio(str(path))
    assert signal.sfreq == SR
    np.testing.assert_allclose(signal.waveform, pcm.mean(1) / 32768, atol=1e-6)
    from_file = AudioExtractor(model=w2v_dir).extract(str(path))
    from_array = AudioExtractor(model=w2v_dir).extract((pcm / 32768.0, SR))
    np.testing.assert_allclose(from_file["layer_1"], from_array["layer_1"], rtol=1e-4, atol=1e-5)


def test_cache_second_extraction_runs_no_forward(w2v_dir, wave, tmp_path):
    ext = AudioExtractor(model=w2v_dir, cache_dir=str(tmp_path))
    first = ext.extract({"waveform": wave, "sfreq": SR})
    again = AudioExtractor(model=w2v_dir, cache_dir=str(tmp_path), layers=[-1])
    second = again.extract({"waveform": wave, "sfreq": SR})
    assert (ext.n_forward_calls, again.n_forward_calls) == (1, 0)
    assert second.layer_names == [f"layer_{N_LAYERS}"]
    np.testing.assert_allclose(second[f"layer_{N_LAYERS}"], first[f"layer_{N_LAYERS}"], rtol=1e-6)


def test_whisper_encoder_frames_at_50_hz(tmp_path):
    cfg = transformers.WhisperConfig(
        d_model=16,
        encoder_layers=2,
        encoder_attention_heads=2,
        decoder_layers=1,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        num_mel_bins=80,
        vocab_size=60,
        max_source_positions=1500,
        max_target_positions=32,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
    )
    torch.manual_seed(0)
    transformers.WhisperModel(cfg).eval().save_pretrained(tmp_path)
    fe = transformers.WhisperFeatureExtractor(feature_size=80)
    fe.save_pretrained(tmp_path)
    x = np.random.default_rng(1).standard_normal(SR).astype(np.float32) * 0.1  # 1 s
    ext = AudioExtractor(model=str(tmp_path))
    fs = ext.extract((x, SR))
    assert ext.frame_rate == 50.0
    np.testing.assert_allclose(fs.times, np.arange(50) * 0.02)
    assert fs.layer_names == ["layer_0", "layer_1", "layer_2"]
    model = transformers.WhisperModel.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        out = model.get_encoder()(
            **fe(x, sampling_rate=SR, return_tensors="pt"), output_hidden_states=True
        )
    np.testing.assert_allclose(fs["layer_2"], out.hidden_states[2][0, :50].numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="exceeds the 30 s that this Whisper encoder takes"):
        AudioExtractor(model=str(tmp_path), chunk_length=30.0).extract((x, SR))


def test_audio_errors(w2v_dir, tmp_path):
    ext = AudioExtractor(model=w2v_dir)
    with pytest.raises(ValueError, match="too short for one model frame"):
        ext.extract((np.zeros(10, np.float32), SR))
    with pytest.raises(FileNotFoundError, match=r"audio file .*nope\.wav.* does not exist"):
        ext.extract(str(tmp_path / "nope.wav"))
    with pytest.raises(TypeError, match="needs its sampling rate"):
        ext.extract(np.zeros(100))
    with pytest.raises(ValueError, match="must be finite"):
        ext.extract((np.full(100, np.nan), SR))
    with pytest.raises(ConfigError, match="chunk_length"):
        AudioExtractor(model=w2v_dir, chunk_length=0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        AudioExtractor(model=str(tmp_path / "nomodel")).extract((np.zeros(400), SR))
    with pytest.raises(IndexError, match="out of range"):
        AudioExtractor(model=w2v_dir, layers=[3]).extract((np.zeros(400, np.float32), SR))


# --------------------------------------------------------------------------------------- bands


def test_envelope_recovers_a_planted_modulation():
    sr = 8000
    t = np.arange(3 * sr) / sr
    mod = 1 + 0.5 * np.sin(2 * np.pi * 3 * t)
    x = mod * np.sin(2 * np.pi * 1000 * t)
    fs = compute_envelope((x, sr), sfreq_out=100.0)
    assert fs.layer_names == ["envelope"]
    assert fs["envelope"].shape == (300, 1)
    np.testing.assert_allclose(fs.times, np.arange(300) / 100)
    core = slice(20, 280)  # edges of the Hilbert transform and filters
    expected = 1 + 0.5 * np.sin(2 * np.pi * 3 * fs.times[core])
    np.testing.assert_allclose(fs["envelope"][core, 0], expected, atol=0.02)


def test_mel_filterbank_matches_the_librosa_port_in_faster_whisper():
    fw = pytest.importorskip("faster_whisper.feature_extractor")
    ref = fw.FeatureExtractor.get_mel_filters(16000, 400, n_mels=80)
    np.testing.assert_allclose(mel_filterbank(16000, 400, n_mels=80), ref, rtol=1e-5, atol=1e-8)


def test_mel_spectrogram_against_a_hand_computed_dft():
    sr = 8000
    rng = np.random.default_rng(0)
    x = rng.standard_normal(sr)  # 1 s
    fs = compute_mel_spectrogram((x, sr), sfreq_out=100.0, n_mels=20, win_length=0.025)
    assert fs["mel"].shape == (100, 20)
    np.testing.assert_allclose(fs.times, np.arange(100) / 100)
    win, n_fft = 200, 256
    k = 37  # frame centred on sample 37 * 80
    centre = k * 80
    seg = np.zeros(n_fft)
    start = centre - n_fft // 2
    seg[:] = x[start : start + n_fft]
    w = np.zeros(n_fft)
    w[28:228] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)  # periodic Hann
    n = np.arange(n_fft)
    dft = np.array([np.sum(seg * w * np.exp(-2j * np.pi * f * n / n_fft)) for f in range(129)])
    expected = 10 * np.log10(mel_filterbank(sr, n_fft, 20) @ np.abs(dft) ** 2)
    np.testing.assert_allclose(fs["mel"][k], expected, rtol=1e-4)


def test_mel_spectrogram_puts_a_tone_in_its_band():
    sr = 16000
    t = np.arange(sr) / sr
    fs = compute_mel_spectrogram((np.sin(2 * np.pi * 2000 * t), sr), n_mels=32)
    fb = mel_filterbank(sr, 512, 32)
    band = int(np.argmax(fb[:, round(2000 * 512 / sr)]))
    assert np.all(np.argmax(fs["mel"][5:-5], axis=1) == band)


def test_band_errors():
    with pytest.raises(ValueError, match=r"fmin < fmax <= sfreq / 2"):
        mel_filterbank(8000, 256, fmax=5000)
    with pytest.raises(ValueError, match="`sfreq_out` must be positive"):
        compute_envelope((np.zeros(100), 100), sfreq_out=200.0)
    with pytest.raises(ValueError, match="`lowpass` must lie in"):
        compute_envelope((np.zeros(1000), 1000), lowpass=600.0)
    with pytest.raises(ValueError, match="n_fft"):
        compute_mel_spectrogram((np.zeros(1000), 1000), n_fft=8)
