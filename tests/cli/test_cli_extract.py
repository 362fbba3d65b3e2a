"""`brainalign extract CONFIG.yaml`: features of a list of event files through the cache."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from brainalign.cli import main
from brainalign.features import FeatureCache, TextExtractor, available_families, read_word_events

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features"))
from _fixtures_text import (
    bpe_tokenizer,
    make_word_events,
    save_tiny_model,
    story_words,
    torch_one_thread,  # noqa: F401 (autouse fixture)
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model("llama", tmp_path_factory.mktemp("llama"), bpe_tokenizer("metaspace"))


def _write_setup(folder: Path, model_dir: Path, **config) -> Path:
    stim = folder / "stimuli"
    stim.mkdir(parents=True, exist_ok=True)
    for i, n in enumerate((30, 45)):
        make_word_events(story_words(n)[i:]).to_csv(stim / f"story{i}.tsv", sep="\t", index=False)
    data = {
        "family": "text",
        "model": str(model_dir),
        "context": 16,
        "layers": [1, -1],
        "stimuli": ["stimuli/story0.tsv", "stimuli/story1.tsv"],
        "cache_dir": "features",
        **config,
    }
    path = folder / "extract.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_extract_writes_through_the_cache(tmp_path, model_dir, capsys):
    path = _write_setup(tmp_path, model_dir)
    assert main(["extract", str(path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "2 stimuli: 2 computed, 0 from the cache" in out
    assert "story0.tsv: 30 items, 2 layers × 32 dims" in out
    assert "story1.tsv: 44 items" in out
    # the files are where the Python API looks for them, and hold every layer
    ext = TextExtractor(model=str(model_dir), context=16, cache_dir=str(tmp_path / "features"))
    events = read_word_events(tmp_path / "stimuli" / "story1.tsv")
    feats = ext.extract(events)
    assert ext.n_forward_calls == 0
    assert feats.layer_names == [f"layer_{i}" for i in range(4)]
    direct = TextExtractor(model=str(model_dir), context=16).extract(events)
    np.testing.assert_array_equal(feats.layers["layer_3"], direct.layers["layer_3"])
    files = list((tmp_path / "features").rglob("*.h5"))
    assert len(files) == 2
    # second run: everything from the cache
    assert main(["extract", str(path), "--quiet"]) == 0
    assert "2 stimuli: 0 computed, 2 from the cache" in capsys.readouterr().out


def test_extract_words_family_with_out(tmp_path, model_dir, capsys):
    path = _write_setup(tmp_path, model_dir, family="words", out="results")
    data = yaml.safe_load(path.read_text())
    for key in ("model", "context", "layers", "cache_dir"):
        data.pop(key)
    path.write_text(yaml.safe_dump(data))
    assert main(["extract", str(path), "--quiet"]) == 0
    summary = json.loads((tmp_path / "results" / "summary.json").read_text())
    assert summary["family"] == "words"
    assert [r["n_items"] for r in summary["stimuli"]] == [30, 44]
    assert summary["stimuli"][0]["layers"] == {"word_rate": 1, "word_onsets": 1, "word_length": 1}
    assert Path(summary["stimuli"][0]["file"]).is_file()
    assert Path(summary["cache_dir"]) == tmp_path / "results" / "cache"
    assert "summary:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"contxt": 5}, r"invalid TextConfig: .*contxt"),
        ({"family": "smell"}, r"unknown extractor family 'smell'; known families: \['audio'"),
        ({"stimuli": ["stimuli/missing.tsv"]}, r"stimulus files not found: .*missing\.tsv"),
        ({"stimuli": []}, r"`stimuli` must be a path or a non-empty list"),
        ({"cache_dir": None}, r"give `cache_dir` .* or `out`"),
        ({"model": "no/such/model"}, r"`model` path .* does not exist"),
    ],
)
def test_extract_errors(tmp_path, model_dir, capsys, change, message):
    path = _write_setup(tmp_path, model_dir, **change)
    assert main(["extract", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("brainalign: error:")
    import re

    assert re.search(message, err, flags=re.S), err


def test_extract_missing_config(tmp_path, capsys):
    assert main(["extract", str(tmp_path / "nope.yaml")]) == 2
    assert "extraction config" in capsys.readouterr().err


def test_registry_lists_every_family():
    assert {"text", "words", "image", "clip", "vlm", "video", "audio"} <= set(available_families())


def test_console_script_extract(tmp_path, model_dir):
    path = _write_setup(tmp_path, model_dir, stimuli="stimuli/story0.tsv")
    out = subprocess.run(
        [sys.executable, "-m", "brainalign", "extract", str(path), "--quiet"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "1 stimuli: 1 computed" in out.stdout
    cache = FeatureCache(tmp_path / "features")
    assert cache.root.is_dir()


# ------------------------------------------------------------------- every registered family
def _png(path: Path, seed: int) -> str:
    from PIL import Image

    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (36, 40, 3), dtype=np.uint8)).save(path)
    return path.name


def _image_table(folder: Path, texts=None) -> str:
    """Two PNGs and an events TSV naming them relative to its own folder."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    names = [_png(folder / f"img{i}.png", i) for i in range(2)]
    table = {"onset": [1.0, 3.5], "duration": [0.5, 0.5], "type": "Image", "stim_file": names}
    if texts is not None:
        table["text"] = texts
    pd.DataFrame(table).to_csv(folder / "events.tsv", sep="\t", index=False)
    return "stimuli/events.tsv"


def _setup_image(tmp, models):
    from _fixtures_media import save_vit

    tsv = _image_table(tmp / "stimuli")
    _png(tmp / "stimuli" / "single.png", 7)
    cfg = {"model": save_vit(models / "vit"), "layers": [-1]}
    return cfg, [tsv, "stimuli/single.png"], [2, 1], {"layer_2.cls": 16, "layer_2.mean": 16}


def _setup_clip(tmp, models):
    from _fixtures_media import save_clip

    tsv = _image_table(tmp / "stimuli", texts=["a photo of a cat", "red dog"])
    cfg = {"model": save_clip(models / "clip"), "layers": ["image_embeds", "text_embeds"]}
    return cfg, [tsv], [2], {"image_embeds": 8, "text_embeds": 8}


def _setup_vlm(tmp, models):
    from _fixtures_media import save_llava

    tsv = _image_table(tmp / "stimuli", texts=["what is in the image", "describe the colour"])
    cfg = {"model": save_llava(models / "llava"), "pooling": ["last"], "layers": [-1]}
    return cfg, [tsv], [2], {"layer_3": 16}


def _setup_efficientnet(tmp, models):
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    torch.manual_seed(0)
    models.mkdir(parents=True, exist_ok=True)
    torch.save(EfficientNet.from_name("efficientnet-lite0").state_dict(), models / "lite0.pth")
    tsv = _image_table(tmp / "stimuli")
    cfg = {"model": str(models / "lite0.pth"), "layers": [-1]}
    return cfg, [tsv], [2], {"layer_8": 1280}


def _setup_video(tmp, models):
    from _fixtures_media import save_videomae, write_video

    (tmp / "stimuli").mkdir(parents=True, exist_ok=True)
    write_video(tmp / "stimuli" / "movie.mp4")  # 3 s at 10 fps
    cfg = {"model": save_videomae(models / "videomae"), "tr": 1.5, "window": 1.0}
    layers = {f"layer_{i}": 16 for i in range(3)}
    return cfg, ["stimuli/movie.mp4"], [3], layers  # grid 0, 1.5, 3.0 s


def _setup_audio(tmp, models):
    from _fixtures_media import SR, save_wav2vec2
    from scipy.io import wavfile

    (tmp / "stimuli").mkdir(parents=True, exist_ok=True)
    wave = np.random.default_rng(0).standard_normal(4000) * 0.1
    wavfile.write(tmp / "stimuli" / "speech.wav", SR, (wave * 32767).astype(np.int16))
    cfg = {"model": save_wav2vec2(models / "w2v"), "layers": [0, -1]}
    return cfg, ["stimuli/speech.wav"], [200], {"layer_0": 16, "layer_2": 16}


def _setup_whisper(tmp, models):
    from scipy.io import wavfile

    (tmp / "stimuli").mkdir(parents=True, exist_ok=True)
    wave = np.random.default_rng(0).standard_normal(16000 * 2) * 0.1
    wavfile.write(tmp / "stimuli" / "speech.wav", 16000, (wave * 32767).astype(np.int16))
    models.mkdir(parents=True, exist_ok=True)
    (models / "model.bin").write_bytes(b"")
    return {"model": str(models)}, ["stimuli/speech.wav"], [100], {"encoder": 4}


class _FakeWhisperModel:
    """The part of faster_whisper.WhisperModel that WhisperExtractor.compute uses."""

    def __init__(self, path, device="cpu", device_index=0, compute_type="default"):
        from faster_whisper.feature_extractor import FeatureExtractor

        self.feature_extractor = FeatureExtractor()
        self.input_stride = 2

    def encode(self, features):
        pairs = features.reshape(features.shape[0], -1, 2).mean(axis=(0, 2))
        return np.repeat(pairs[None, :, None], 4, axis=2).astype(np.float32)


_SETUPS = {
    "image": (_setup_image, ()),
    "clip": (_setup_clip, ()),
    "vlm": (_setup_vlm, ()),
    "efficientnet": (_setup_efficientnet, ("efficientnet_lite_pytorch",)),
    "video": (_setup_video, ("av",)),
    "audio": (_setup_audio, ("av",)),
    "whisper": (_setup_whisper, ("faster_whisper", "av")),
}


def test_every_registered_family_has_a_cli_smoke_test():
    assert set(available_families()) == set(_SETUPS) | {"text", "words"}


@pytest.mark.parametrize("family", sorted(_SETUPS))
def test_extract_each_family_through_the_cli(family, tmp_path, capsys, monkeypatch):
    setup, needs = _SETUPS[family]
    for module in needs:
        pytest.importorskip(module)
    if family == "whisper":
        import faster_whisper

        monkeypatch.setattr(faster_whisper, "WhisperModel", _FakeWhisperModel)
    cfg, stimuli, n_items, layers = setup(tmp_path, tmp_path / "models")
    data = {"family": family, **cfg, "stimuli": stimuli, "out": "results"}
    path = tmp_path / "extract.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["extract", str(path), "--quiet"]) == 0, capsys.readouterr().err
    assert capsys.readouterr().err == ""  # --quiet: no progress bar at all
    summary = json.loads((tmp_path / "results" / "summary.json").read_text())
    assert summary["family"] == family
    assert [r["n_items"] for r in summary["stimuli"]] == n_items
    for row in summary["stimuli"]:
        assert row["layers"] == layers
        assert row["source"] == "computed" and Path(row["file"]).is_file()
    assert main(["extract", str(path), "--quiet"]) == 0
    again = json.loads((tmp_path / "results" / "summary.json").read_text())
    assert [r["source"] for r in again["stimuli"]] == ["cache"] * len(stimuli)


def test_image_table_paths_are_relative_to_the_table(tmp_path):
    """The CLI's cache files are the ones the Python API finds for the same images."""
    import pandas as pd

    from brainalign.features import ImageExtractor

    cfg, stimuli, _, _ = _setup_image(tmp_path, tmp_path / "models")
    path = tmp_path / "extract.yaml"
    path.write_text(yaml.safe_dump({"family": "image", **cfg, "stimuli": stimuli[:1],
                                    "cache_dir": "cache"}))  # fmt: skip
    assert main(["extract", str(path), "--quiet"]) == 0
    events = pd.read_csv(tmp_path / "stimuli" / "events.tsv", sep="\t")
    events["stim_file"] = [str(tmp_path / "stimuli" / f) for f in events["stim_file"]]
    ext = ImageExtractor(model=cfg["model"], cache_dir=str(tmp_path / "cache"))
    feats = ext.extract(events)
    assert ext.n_forward_calls == 0
    np.testing.assert_array_equal(feats.times, [1.0, 3.5])
    np.testing.assert_array_equal(feats.durations, [0.5, 0.5])


def test_quiet_silences_the_progress_bars_of_the_extraction(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BRAINALIGN_PROGRESS", "1")
    cfg, stimuli, _, _ = _setup_image(tmp_path, tmp_path / "models")
    path = tmp_path / "extract.yaml"
    data = {"family": "image", **cfg, "stimuli": stimuli, "cache_dir": "a", "batch_size": 1}
    path.write_text(yaml.safe_dump(data))
    assert main(["extract", str(path), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    path.write_text(yaml.safe_dump({**data, "cache_dir": "b"}))
    assert main(["extract", str(path)]) == 0
    err = capsys.readouterr().err
    assert "stimuli" in err and "images" in err  # the outer and the inner bars
