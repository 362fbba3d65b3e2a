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
