import pytest

from brainalign.exceptions import ConfigError
from brainalign.study import StudyConfig, load_config


def test_defaults_and_yaml(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: x\ndata: {kind: arrays, path: d.npz}\nmodel: {n_iter: 5}\n")
    cfg = load_config(p)
    assert isinstance(cfg, StudyConfig) and cfg.model.n_iter == 5
    # relative data paths are relative to the config file
    assert cfg.data.path == tmp_path / "d.npz"
    assert cfg.model.alpha_grid()[0] == pytest.approx(1e-2)


@pytest.mark.parametrize(
    ("raw", "pattern"),
    [
        ({"modle": {}}, r"unknown key `modle`; valid keys here are \['alignment', 'data'"),
        ({"model": {"n_itr": 3}}, r"unknown key `model.n_itr`; valid keys here are \['alphas'"),
        (
            {"data": {"kind": "arrays", "path": "a.npz", "foo": 1}},
            r"unknown key `data.foo`; valid keys here are \['bands', 'kind', 'path', 'sfreq'\]",
        ),
        ({"model": {"kind": "lasso"}}, r"`model.kind`: Input should be 'banded_ridge' or 'ridge'"),
        ({"model": {"alphas": [1.0, -2.0]}}, r"alphas must be a non-empty list of positive"),
        ({"evaluation": {"cv": 1}}, r"`evaluation.cv"),
        ({"alignment": {"hrf_model": "glover"}}, r"delays and hrf_model are exclusive"),
    ],
)
def test_config_errors(raw, pattern):
    with pytest.raises(ConfigError, match=pattern):
        load_config(raw)


def test_missing_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match=r"`config` must be an existing YAML file; got .*nope"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping; got list"):
        load_config(lst)


def test_data_kind_required():
    with pytest.raises(ConfigError, match=r"`data.kind` is required and must be one of"):
        load_config({"data": {"n_targets": 10}})
    with pytest.raises(ConfigError, match=r"`data.kind` is required and must be one of"):
        load_config({"data": {"kind": "nsd"}})
