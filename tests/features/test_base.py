"""The extractor interface: config validation, cache key, layer selection (no model needed)."""

import numpy as np
import pytest

from brainalign.data import FeatureSet
from brainalign.exceptions import ConfigError
from brainalign.features import ExtractorConfig, FeatureExtractor, content_uid, select_layers


class _Toy(FeatureExtractor):
    """Features = the stimulus array times (layer index + 1); counts computes."""

    def stimulus_uid(self, stimulus):
        return content_uid(np.asarray(stimulus))

    def compute(self, stimulus):
        x = np.asarray(stimulus, dtype=float)
        self.n_forward_calls += 1
        layers = {f"layer_{i}": x[:, None] * (i + 1) for i in range(3)}
        return FeatureSet(times=np.arange(len(x), dtype=float), layers=layers)


def _fs():
    layers = {}
    for i in range(4):
        layers[f"layer_{i}.cls"] = np.full((2, 3), i, float)
        layers[f"layer_{i}.mean"] = np.full((2, 3), -i, float)
    return FeatureSet(times=np.array([0.0, 1.0]), layers=layers)


def test_cache_key_ignores_layers_device_and_cache_dir():
    a = ExtractorConfig(model="m", layers=[1], device="cpu", cache_dir="/a")
    b = ExtractorConfig(model="m", layers=[2, 3], device="cuda", cache_dir="/b", batch_size=2)
    assert a.cache_key() == b.cache_key()
    assert ExtractorConfig(model="m", dtype="float16").cache_key() != a.cache_key()
    assert ExtractorConfig(model="m2").cache_key() != a.cache_key()
    assert a.cache_dict()["family"] == "base"


def test_unknown_key_and_bad_batch_size():
    with pytest.raises(ConfigError, match="Valid keys"):
        _Toy(model="m", poolin="mean")
    with pytest.raises(ConfigError, match="batch_size"):
        _Toy(model="m", batch_size=0)
    with pytest.raises(TypeError, match="`config` must be"):
        _Toy(config=3)


def test_select_layers_by_index_and_name():
    fs = _fs()
    assert select_layers(fs, None) is fs
    assert select_layers(fs, [-1]).layer_names == ["layer_3.cls", "layer_3.mean"]
    assert select_layers(fs, [0, "layer_2.mean"]).layer_names == [
        "layer_0.cls",
        "layer_0.mean",
        "layer_2.mean",
    ]
    with pytest.raises(IndexError, match=r"index 4 is out of range: the model has 4 hidden"):
        select_layers(fs, [4])
    with pytest.raises(KeyError, match="not an extracted layer"):
        select_layers(fs, ["layer_9"])
    bands = FeatureSet(times=np.zeros(2), layers={"encoder": np.zeros((2, 3))})
    with pytest.raises(IndexError, match=r"no numbered layers .* by name among \['encoder'\]"):
        select_layers(bands, [-1])
    assert select_layers(bands, ["encoder"]).layer_names == ["encoder"]


def test_extract_uses_cache_and_other_layers_never_recompute(tmp_path):
    stim = [1.0, 2.0, 3.0]
    ex = _Toy(model="toy", cache_dir=str(tmp_path), layers=[0])
    first = ex.extract(stim)
    assert first.layer_names == ["layer_0"] and ex.n_forward_calls == 1
    again = _Toy(model="toy", cache_dir=str(tmp_path), layers=[-1])
    last = again.extract(stim)
    assert again.n_forward_calls == 0
    np.testing.assert_allclose(last["layer_2"][:, 0], np.array(stim) * 3)
    assert last.config["model"] == "toy" and "layers" not in last.config
    # no cache_dir: always computes
    plain = _Toy(model="toy")
    plain.extract(stim)
    plain.extract(stim)
    assert plain.n_forward_calls == 2


def test_content_uid_is_stable_and_sensitive():
    a = content_uid(np.arange(3), "x", b"y")
    assert a == content_uid(np.arange(3), "x", b"y")
    assert a != content_uid(np.arange(3.0), "x", b"y")
    assert len(a) == 24
