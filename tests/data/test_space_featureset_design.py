import numpy as np
import pandas as pd
import pytest

from brainalign.data import Design, FeatureSet, Space, TrialSet


def test_space_constructors_and_errors():
    s = Space.surface("fsaverage5")
    assert s.n_targets == 20484 and s.hemi_slices["right"] == slice(10242, 20484)
    with pytest.raises(ValueError, match=r"`n_vertices` is required for mesh 'mymesh'"):
        Space.surface("mymesh")
    with pytest.raises(
        ValueError, match=r"`values` must have shape \(n_targets,\).*n_targets=20484"
    ):
        s.to_surface_arrays(np.zeros(10))
    with pytest.raises(ValueError, match="to_nifti needs a volume space"):
        s.to_nifti(np.zeros(20484))
    with pytest.raises(ValueError, match=r"`coords` must have shape \(n_electrodes, 3\)"):
        Space.electrodes(["a", "b"], np.zeros((2, 2)))
    with pytest.raises(ValueError, match="`kind` must be one of"):
        Space("blob", 3)
    p = Space.parcels(["V1", "V2"])
    with pytest.raises(ValueError, match="to_image is defined for volume and surface"):
        p.to_image([0.1, 0.2])


def test_featureset_select_and_cache_key():
    fs = FeatureSet(
        np.array([0.0, 0.5, 0.5, 1.0]),
        {"l0": np.zeros((4, 3)), "l1": np.ones((4, 2))},
        config={"model": "m", "layers": [0, 1], "pooling": "last"},
    )
    sub = fs.select("l1")
    assert sub.layer_names == ["l1"] and sub["l1"].shape == (4, 2)
    fs2 = FeatureSet(fs.times, fs.layers, config={"model": "m", "layers": [3], "pooling": "last"})
    fs3 = FeatureSet(fs.times, fs.layers, config={"model": "m", "layers": [0], "pooling": "mean"})
    assert fs.cache_key == fs2.cache_key != fs3.cache_key
    with pytest.raises(KeyError, match=r"among the extracted layers \['l0', 'l1'\]; got \['l9'\]"):
        fs.select(["l9"])
    with pytest.raises(ValueError, match=r"`layers\['x'\]` must have one row per item \(4"):
        FeatureSet(fs.times, {"x": np.zeros((3, 2))})
    with pytest.raises(ValueError, match=r"`times` must be non-decreasing"):
        FeatureSet([1.0, 0.0], {"x": np.zeros((2, 2))})


def test_design_bands_and_errors():
    rng = np.random.default_rng(0)
    d = Design(
        {"a": rng.standard_normal((6, 2)), "b": rng.standard_normal((6, 3))},
        rng.standard_normal((6, 4)),
        groups=[0, 0, 0, 1, 1, 1],
    )
    assert d.X.shape == (6, 5) and d.band_slices["b"] == slice(2, 5) and d.runs == [0, 1]
    np.testing.assert_array_equal(d.X[:, d.band_slices["b"]], d.bands["b"])
    assert d.select_bands(["b"]).band_names == ["b"]
    with pytest.raises(KeyError, match=r"unknown band name\(s\) \['c'\]; the design has bands"):
        d.select_bands("c")
    with pytest.raises(ValueError, match=r"`bands\['a'\]` must have as many samples as `Y`.*trim"):
        Design({"a": np.zeros((5, 2))}, np.zeros((6, 1)), groups=np.zeros(6))
    with pytest.raises(ValueError, match=r"`groups` must label each run as one contiguous block"):
        Design({"a": np.zeros((4, 1))}, np.zeros((4, 1)), groups=[0, 1, 0, 1])
    with pytest.raises(
        ValueError, match=r"`times` must have one entry per sample of `Y` \(4\); got times.shape"
    ):
        Design({"a": np.zeros((4, 1))}, np.zeros((4, 1)), groups=np.zeros(4), times=np.arange(5.0))
    ok = Design({"a": np.zeros((4, 1))}, np.zeros((4, 1)), groups=[0, 0, 1, 1], times=[0, 2, 0, 2])
    assert ok.times.dtype == np.float64


def test_trialset_repeats():
    data = np.arange(12, dtype=float).reshape(6, 2)
    trials = pd.DataFrame({"stim_id": ["x", "y", "x", "z", "y", "x"]})
    ts = TrialSet(data, trials)
    avg = ts.average_repeats()
    assert avg.trials["stim_id"].tolist() == ["x", "y", "z"]
    np.testing.assert_allclose(avg.data[0], data[[0, 2, 5]].mean(0))
    np.testing.assert_allclose(avg.trials["n_repeats"], [3, 2, 1])
    reps = ts.to_repeats()
    assert reps.shape == (2, 2, 2)  # x and y have >= 2 repeats
    np.testing.assert_allclose(reps[:, 1], data[[1, 4]])
    with pytest.raises(ValueError, match=r"`trials` must have one row per trial \(6"):
        TrialSet(data, trials.iloc[:3])
    with pytest.raises(ValueError, match=r"`by` must name a column of `trials`; got 'img'"):
        ts.average_repeats("img")


def test_trialset_repeats_keep_float32_and_check_n_repeats():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((6, 3)).astype(np.float32)
    trials = pd.DataFrame({"stim_id": ["x", "y", "x", "z", "y", "x"]})
    ts = TrialSet(data, trials)
    avg = ts.average_repeats()
    assert avg.data.dtype == np.float32
    np.testing.assert_allclose(avg.data[0], data[[0, 2, 5]].mean(0), rtol=1e-6)
    reps = ts.to_repeats(n_repeats=3)
    assert reps.dtype == np.float32 and reps.shape == (3, 1, 3)  # only x is shown 3 times
    np.testing.assert_array_equal(reps[:, 0], data[[0, 2, 5]])
    # asking for more repeats than any stimulus has used to return an empty array
    with pytest.raises(
        ValueError, match=r"`n_repeats` must be an integer between 2 and .* \(3\); got 4"
    ):
        ts.to_repeats(n_repeats=4)
    with pytest.raises(ValueError, match=r"`n_repeats` must be an integer between 2 .*got 1"):
        ts.to_repeats(n_repeats=1)
    once = TrialSet(data[:3], pd.DataFrame({"stim_id": ["a", "b", "c"]}))
    with pytest.raises(ValueError, match=r"needs stimuli shown at least twice; got at most 1"):
        once.to_repeats()


def test_data_model_errors():
    with pytest.raises(ValueError, match=r"`n_targets` must be >= 1; got 0"):
        Space.generic(0)
    with pytest.raises(ValueError, match=r"`labels` must have one entry per target \(3\); got 2"):
        Space("parcels", 3, labels=["a", "b"])
    with pytest.raises(ValueError, match=r"`n_vertices` keys must be 'left'/'right'; got \['lh'\]"):
        Space.surface("mymesh", {"lh": 3})
    with pytest.raises(ValueError, match=r"`durations` must have 2 entries; got 3"):
        FeatureSet([0.0, 1.0], {"x": np.zeros((2, 1))}, durations=[0.1, 0.1, 0.1])
    trials = pd.DataFrame({"stim_id": [0, 1]})
    with pytest.raises(ValueError, match=r"`times` is required for epoched \(3-D\) data"):
        TrialSet(np.zeros((2, 3, 4)), trials)
    with pytest.raises(ValueError, match=r"`times` must have 4 entries \(one per sample\); got 3"):
        TrialSet(np.zeros((2, 3, 4)), trials, times=[0.0, 0.1, 0.2])
    with pytest.raises(ValueError, match=r"`space` must describe 3 targets; got n_targets=5"):
        TrialSet(np.zeros((2, 3)), trials, space=Space.generic(5))
    with pytest.raises(TypeError, match=r"`trials` must be a pandas DataFrame; got dict"):
        TrialSet(np.zeros((2, 3)), {"stim_id": [0, 1]})


def test_run_edges():
    from brainalign._validation import run_edges

    np.testing.assert_array_equal(run_edges(np.array([3, 3, 1, 1, 1, 7])), [0, 2, 5, 6])
    np.testing.assert_array_equal(run_edges(np.array(["a"])), [0, 1])
