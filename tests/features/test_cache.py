"""The feature cache seen through a text extractor: no recompute, layer choice, bad files."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from _fixtures_text import (
    bpe_tokenizer,
    make_word_events,
    save_tiny_model,
    story_words,
    torch_one_thread,  # noqa: F401 (autouse fixture)
)

from brainalign.features import FeatureCache, TextExtractor


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model("llama", tmp_path_factory.mktemp("llama"), bpe_tokenizer("metaspace"))


@pytest.fixture
def events():
    return make_word_events(story_words(40))


def _final_path(ext, events):
    return FeatureCache(ext.config.cache_dir).path(ext.config, ext.stimulus_uid(events))


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def brainalign_log():
    handler = _Records()
    logger = logging.getLogger("brainalign")
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


def test_second_extraction_runs_no_forward(model_dir, events, tmp_path):
    cfg = {"model": str(model_dir), "cache_dir": str(tmp_path), "context": 16}
    first = TextExtractor(cfg)
    a = first.extract(events)
    assert first.n_forward_calls > 0
    assert _final_path(first, events).is_file()
    second = TextExtractor(cfg)
    b = second.extract(events)
    assert second.n_forward_calls == 0
    for name in a.layer_names:
        np.testing.assert_array_equal(a.layers[name], b.layers[name])
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.durations, b.durations)
    # another context policy is another cache entry
    other = TextExtractor(cfg, context=20)
    other.extract(events)
    assert other.n_forward_calls > 0


def test_other_layers_device_batch_never_recompute(model_dir, events, tmp_path):
    cfg = {"model": str(model_dir), "cache_dir": str(tmp_path)}
    full = TextExtractor(cfg).extract(events)
    for extra in ({"layers": [1]}, {"layers": [-1, 0]}, {"batch_size": 3, "device": "cpu"}):
        ext = TextExtractor(cfg, **extra)
        feats = ext.extract(events)
        assert ext.n_forward_calls == 0, extra
        for name in feats.layer_names:
            np.testing.assert_array_equal(feats.layers[name], full.layers[name])
    assert TextExtractor(cfg, layers=[-1, 0]).extract(events).layer_names == [
        "layer_3",
        "layer_0",
    ]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "no_complete_flag", "bad_bytes"])
def test_unusable_file_is_recomputed(damage, model_dir, events, tmp_path, brainalign_log):
    cfg = {"model": str(model_dir), "cache_dir": str(tmp_path)}
    ref = TextExtractor(cfg).extract(events)
    path = _final_path(TextExtractor(cfg), events)
    if damage == "garbage":
        path.write_bytes(b"not an hdf5 file")
    elif damage == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif damage == "bad_bytes":  # a readable file whose layer_3 values were damaged on disk
        with h5py.File(path, "r") as h5:
            offset = h5["layers"]["layer_3"].id.get_chunk_info(0).byte_offset
        data = bytearray(path.read_bytes())
        data[offset + 8 : offset + 16] = bytes(8)
        path.write_bytes(bytes(data))
    else:  # a half-written file: some layers, never marked complete
        path.unlink()
        with h5py.File(path, "w") as h5:
            h5.create_dataset("times", data=ref.times)
            h5.create_group("layers").create_dataset("layer_0", data=ref.layers["layer_0"])
    ext = TextExtractor(cfg)
    feats = ext.extract(events)
    assert ext.n_forward_calls > 0
    assert any("unusable" in m and "recomputing" in m for m in brainalign_log)
    np.testing.assert_array_equal(feats.layers["layer_3"], ref.layers["layer_3"])
    again = TextExtractor(cfg)
    again.extract(events)
    assert again.n_forward_calls == 0  # the rewritten file is good


def test_extraction_killed_while_writing(model_dir, events, tmp_path):
    """SIGKILL in the middle of writing leaves no file under the final name."""
    cache_dir = tmp_path / "cache"
    events_path = tmp_path / "events.tsv"
    events.to_csv(events_path, sep="\t", index=False)
    script = textwrap.dedent(
        f"""
        import os, signal
        import h5py
        from brainalign.features import TextExtractor, read_word_events

        calls = [0]
        create = h5py.Group.create_dataset

        def dying(self, name, *args, **kwargs):
            calls[0] += 1
            if calls[0] == 4:  # times, durations, layer_0, then die writing layer_1
                os.kill(os.getpid(), signal.SIGKILL)
            return create(self, name, *args, **kwargs)

        h5py.Group.create_dataset = dying
        ext = TextExtractor(model={str(model_dir)!r}, cache_dir={str(cache_dir)!r})
        ext.extract(read_word_events({str(events_path)!r}))
        print("not killed")
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    ext = TextExtractor(model=str(model_dir), cache_dir=str(cache_dir))
    final = _final_path(ext, events)
    assert not final.exists()
    leftovers = list(final.parent.glob(f".{final.name}.*.part"))
    assert leftovers  # the killed write happened (under a temporary name)
    feats = ext.extract(events)
    assert ext.n_forward_calls > 0 and final.is_file()
    assert feats.n_items == 40
    again = TextExtractor(model=str(model_dir), cache_dir=str(cache_dir))
    again.extract(events)
    assert again.n_forward_calls == 0


def test_stale_temporary_files_are_removed_young_ones_kept(model_dir, events, tmp_path):
    ext = TextExtractor(model=str(model_dir), cache_dir=str(tmp_path))
    final = _final_path(ext, events)
    final.parent.mkdir(parents=True)
    old = final.parent / f".{final.name}.dead.part"
    young = final.parent / f".{final.name}.alive.part"
    old.write_bytes(b"half")
    young.write_bytes(b"half")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    ext.extract(events)
    assert final.is_file() and not old.exists() and young.exists()


def test_float16_storage(model_dir, events, tmp_path):
    cfg = {"model": str(model_dir), "cache_dir": str(tmp_path)}
    f32 = TextExtractor(cfg).extract(events)
    half = TextExtractor(cfg, dtype="float16")
    f16 = half.extract(events)
    path = _final_path(half, events)
    assert path != _final_path(TextExtractor(cfg), events)  # dtype is part of the key
    with h5py.File(path, "r") as h5:
        assert h5["layers"]["layer_2"].dtype == np.float16
        assert h5.attrs["complete"]
    for name in f32.layer_names:
        assert f16.layers[name].dtype == np.float32
        np.testing.assert_allclose(f16.layers[name], f32.layers[name], rtol=2e-3, atol=2e-3)
    reread = TextExtractor(cfg, dtype="float16")
    np.testing.assert_array_equal(reread.extract(events).layers["layer_1"], f16.layers["layer_1"])
    assert reread.n_forward_calls == 0
    assert Path(path).stat().st_size < _final_path(TextExtractor(cfg), events).stat().st_size


def test_model_files_are_in_the_key(model_dir, tmp_path, events):
    """Editing the model folder (weights or tokenizer / processor settings) recomputes."""
    import shutil

    from brainalign.features import TextConfig

    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    cfg = {"model": str(folder), "cache_dir": str(tmp_path / "cache")}
    TextExtractor(cfg).extract(events)
    key = TextConfig(**cfg).cache_key()
    assert TextConfig(**cfg).cache_dict()["model_files"]
    same = TextExtractor(cfg, layers=[0])
    same.extract(events)
    assert same.n_forward_calls == 0
    # a processor / tokenizer setting changes the key
    tok_cfg = folder / "tokenizer_config.json"
    tok_cfg.write_text(tok_cfg.read_text().replace("}", ', "note": "edited"}', 1))
    assert TextConfig(**cfg).cache_key() != key
    edited = TextExtractor(cfg)
    edited.extract(events)
    assert edited.n_forward_calls > 0
    # a label that is not a path has no fingerprint
    assert "model_files" not in TextConfig(model="not/a/path/here").cache_dict()
