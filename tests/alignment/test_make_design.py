"""make_design: per-run pipeline, no leakage across runs, metadata, every error."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from brainalign.alignment import (
    Delayer,
    hrf_convolve,
    lanczos_resample,
    make_design,
    window_mean_resample,
    zscore_runs,
)
from brainalign.data import Design, FeatureSet, Recording

TR = 2.0


def _rec(n_times, n_targets=4, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    return Recording(data=rng.normal(size=(n_times, n_targets)), sfreq=1 / TR, **kwargs)


def _words(duration, n_words, dim=3, seed=0):
    rng = np.random.default_rng(seed)
    times = np.sort(rng.uniform(0.5, duration - 0.5, n_words))
    return FeatureSet(times=times, layers={"emb": rng.normal(size=(n_words, dim))})


@pytest.fixture
def two_runs():
    recs = [_rec(30, seed=0), _rec(25, seed=1)]
    feats = [
        {"words": _words(60.0, 80, seed=2), "rms": np.random.default_rng(3).normal(size=(30, 2))},
        {"words": _words(50.0, 60, seed=4), "rms": np.random.default_rng(5).normal(size=(25, 2))},
    ]
    return recs, feats


def test_plain_lanczos_equals_per_run_resampling(two_runs):
    recs, feats = two_runs
    design = make_design(recs, feats, zscore=False)
    assert isinstance(design, Design)
    assert design.band_names == ["words", "rms"]
    assert design.band_sizes == {"words": 3, "rms": 2}
    expected = np.concatenate(
        [
            lanczos_resample(f["words"]["emb"], f["words"].times, r.times)
            for r, f in zip(recs, feats)
        ]
    )
    np.testing.assert_allclose(design.bands["words"], expected, rtol=1e-12)
    np.testing.assert_array_equal(design.bands["rms"], np.concatenate([f["rms"] for f in feats]))
    np.testing.assert_array_equal(design.Y, np.concatenate([r.data for r in recs]))
    np.testing.assert_array_equal(design.groups, np.repeat([0, 1], [30, 25]))
    np.testing.assert_array_equal(design.times, np.concatenate([r.times for r in recs]))
    assert design.space is recs[0].space


def test_full_pipeline_equals_composed_steps(two_runs):
    recs, feats = two_runs
    delays, trim = [2.0, 4.0, 6.0], (4.0, 2.0)  # 1-3 TRs; trim 2 TRs at start, 1 at end
    design = make_design(recs, feats, delays=delays, trim=trim, lanczos_window=2)
    words, ys = [], []
    for r, f in zip(recs, feats):
        x = lanczos_resample(f["words"]["emb"], f["words"].times, r.times, window=2)
        x = Delayer(delays, 1 / TR).fit_transform(x)[2:-1]
        words.append(zscore_runs(x))
        ys.append(stats.zscore(r.data[2:-1], ddof=0))
    np.testing.assert_allclose(design.bands["words"], np.concatenate(words), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(design.Y, np.concatenate(ys), rtol=1e-10, atol=1e-12)
    assert design.bands["rms"].shape == (27 + 22, 2 * 3)
    np.testing.assert_array_equal(design.groups, np.repeat([0, 1], [27, 22]))
    np.testing.assert_array_equal(design.times[:2], recs[0].times[2:4])
    md = design.metadata
    assert md["steps"] == ["resample", "delays", "trim", "zscore"]
    assert md["resample"] == {"method": "lanczos", "lanczos_window": 2, "cutoff_mult": 1.0}
    assert md["delays"] == {"seconds": [2.0, 4.0, 6.0], "samples": [1, 2, 3]}
    assert md["trim"] == {"seconds": (4.0, 2.0), "samples": (2, 1)}
    assert md["zscore"] is True and md["hrf_model"] is None and md["tr"] == TR
    assert md["band_sources"] == {"words": "featureset", "rms": "array"}
    assert md["n_samples_per_run"] == {"before_trim": [30, 25], "after_trim": [27, 22]}


def test_delays_never_leak_across_runs():
    recs = [_rec(10, seed=0), _rec(10, seed=1)]
    impulse = np.zeros((10, 1))
    impulse[-1] = 1.0  # very end of run 0
    feats = [{"x": impulse}, {"x": np.zeros((10, 1))}]
    design = make_design(recs, feats, delays=[2.0, 4.0], zscore=False)
    run1 = design.bands["x"][design.groups == 1]
    np.testing.assert_array_equal(run1, 0.0)
    # sanity: the impulse is there (and shifted) in the delayed copy of a single long run
    joined = Delayer([2.0, 4.0], 1 / TR).fit_transform(np.concatenate([impulse, impulse * 0]))
    assert joined[10:].any()


def test_lanczos_of_run1_ignores_run0_features(two_runs):
    recs, feats = two_runs
    base = make_design(recs, feats, zscore=False)
    # Put many strong items at the end of run 0 (same clock values as run 1's start).
    loud = FeatureSet(times=np.linspace(0.0, 59.9, 500), layers={"emb": np.full((500, 3), 1e3)})
    changed = [{"words": loud, "rms": feats[0]["rms"]}, feats[1]]
    other = make_design(recs, changed, zscore=False)
    run1 = base.groups == 1
    np.testing.assert_array_equal(other.bands["words"][run1], base.bands["words"][run1])
    assert not np.allclose(other.bands["words"][~run1], base.bands["words"][~run1])
    solo = make_design([recs[1]], [feats[1]], zscore=False)
    np.testing.assert_array_equal(solo.bands["words"], base.bands["words"][run1])


def test_window_resample_follows_sample_point():
    fs = FeatureSet(
        times=[0.5, 1.5, 2.5, 3.9], layers={"e": np.array([[1.0], [3.0], [5.0], [7.0]])}
    )
    start = make_design([_rec(3)], [{"w": fs}], resample="window", zscore=False)
    # TR windows [0, 2), [2, 4), [4, 6): means 2, 6, empty -> 0
    np.testing.assert_allclose(start.bands["w"][:, 0], [2.0, 6.0, 0.0])
    mid = make_design(
        [_rec(3, sample_point="middle")], [{"w": fs}], resample="window", zscore=False
    )
    # times 1, 3, 5 mark the middle of the same acquisitions: same windows
    np.testing.assert_allclose(mid.bands["w"][:, 0], [2.0, 6.0, 0.0])
    expected = window_mean_resample(fs["e"], fs.times, [1.0, 3.0, 5.0], align="center")
    np.testing.assert_allclose(mid.bands["w"], expected)
    assert mid.metadata["resample"] == {"method": "window", "width_s": TR, "align": ["center"]}


def test_hrf_model_convolves_featuresets_and_grid_arrays(two_runs):
    recs, feats = two_runs
    design = make_design(recs, feats, hrf_model="glover + derivative", zscore=False)
    assert design.band_sizes == {"words": 6, "rms": 4}
    r, f = recs[1], feats[1]
    run1 = design.groups == 1
    np.testing.assert_allclose(
        design.bands["words"][run1],
        hrf_convolve(f["words"]["emb"], f["words"].times, r.times, hrf_model="glover + derivative"),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        design.bands["rms"][run1],
        hrf_convolve(f["rms"], r.times, r.times, hrf_model="glover + derivative"),
        rtol=1e-12,
    )
    assert design.metadata["steps"] == ["hrf"]
    assert design.metadata["resample"] is None
    assert design.metadata["hrf_model"] == "glover + derivative"


def test_zscore_per_run(two_runs):
    recs, feats = two_runs
    design = make_design(recs, feats, delays=[0.0, 2.0])
    for g in (0, 1):
        for arr in (design.Y, design.bands["words"]):
            block = arr[design.groups == g]
            np.testing.assert_allclose(block.mean(0), 0.0, atol=1e-12)
            np.testing.assert_allclose(block.std(0), 1.0, rtol=1e-12)


# ---------------------------------------------------------------------------- errors
def test_error_counts_differ(two_runs):
    recs, feats = two_runs
    with pytest.raises(
        ValueError, match=r"one mapping per recording; got 2 recordings and 1 feature"
    ):
        make_design(recs, feats[:1])
    with pytest.raises(TypeError, match=r"`recordings` must be a sequence of Recording.*single"):
        make_design(recs[0], feats[:1])
    with pytest.raises(TypeError, match=r"`features` must be a sequence with one mapping"):
        make_design(recs[:1], feats[0])
    with pytest.raises(TypeError, match=r"`recordings\[1\]` must be a brainalign.data.Recording"):
        make_design([recs[0], "run2"], feats)


def test_error_band_names_differ(two_runs):
    recs, feats = two_runs
    bad = [feats[0], {"words": feats[1]["words"], "env": feats[1]["rms"]}]
    with pytest.raises(
        ValueError,
        match=r"Band names differ between runs: features\[1\] has bands \['words', 'env'\] but "
        r"features\[0\] has \['words', 'rms'\] \(missing \['rms'\], extra \['env'\]\)",
    ):
        make_design(recs, bad)


def test_error_tr_mismatch(two_runs):
    recs, feats = two_runs
    other = Recording(data=np.zeros((25, 4)), sfreq=1 / 1.5)
    with pytest.raises(
        ValueError,
        match=r"TR mismatch between runs: recordings\[1\] has sfreq=0.666667 Hz \(TR=1.5 s\) but "
        r"recordings\[0\] has sfreq=0.5 Hz \(TR=2 s\)",
    ):
        make_design([recs[0], other], feats)


def test_error_n_targets_differ(two_runs):
    recs, feats = two_runs
    with pytest.raises(ValueError, match=r"`recordings\[1\]` must have as many targets"):
        make_design([recs[0], _rec(25, n_targets=5)], feats)


def test_error_featureset_outside_run(two_runs):
    recs, feats = two_runs
    late = FeatureSet(times=[10.0, 49.0, 55.0], layers={"emb": np.ones((3, 3))})
    with pytest.raises(
        ValueError,
        match=r"`features\[1\]\['words'\]` has 1 item times outside run 1, which spans \[0, 50\] s; "
        r"got item times from 10 to 55 s",
    ):
        make_design(recs, [feats[0], {"words": late, "rms": feats[1]["rms"]}])


def test_error_multilayer_featureset(two_runs):
    recs, _ = two_runs
    fs = FeatureSet(times=[1.0, 2.0], layers={"l1": np.ones((2, 2)), "l2": np.ones((2, 2))})
    with pytest.raises(
        ValueError,
        match=r"exactly one layer; got layers \['l1', 'l2'\]. Pick one with fs.select\('l1'\)",
    ):
        make_design(recs[:1], [{"words": fs}])


def test_error_on_grid_array_wrong_length(two_runs):
    recs, _ = two_runs
    with pytest.raises(
        ValueError,
        match=r"`features\[0\]\['rms'\]` is an on-grid array and must have one row per sample of "
        r"recordings\[0\] \(30\); got shape \(29, 2\)",
    ):
        make_design(recs[:1], [{"rms": np.ones((29, 2))}])
    with pytest.raises(
        TypeError, match=r"`features\[0\]\['rms'\]` must be a FeatureSet or an ndarray"
    ):
        make_design(recs[:1], [{"rms": [[1.0]] * 30}])


def test_error_unknown_resample(two_runs):
    recs, feats = two_runs
    with pytest.raises(
        ValueError, match=r"`resample` must be one of \['lanczos', 'window'\]; got 'cubic'"
    ):
        make_design(recs, feats, resample="cubic")


def test_error_delays_and_hrf(two_runs):
    recs, feats = two_runs
    with pytest.raises(
        ValueError,
        match=r"`delays` and `hrf_model` are exclusive; got delays=\[2.0\] and hrf_model='spm'",
    ):
        make_design(recs, feats, delays=[2.0], hrf_model="spm")
    with pytest.raises(ValueError, match=r"`hrf_model` must be one of"):
        make_design(recs, feats, hrf_model="canonical")


def test_error_trim_and_delays_units(two_runs):
    recs, feats = two_runs
    with pytest.raises(ValueError, match=r"`start` must be a whole number of samples.*got 3 s"):
        make_design(recs, feats, trim=(3.0, 0.0))
    with pytest.raises(ValueError, match=r"`trim` must be a pair \(start, end\)"):
        make_design(recs, feats, trim=4.0)
    with pytest.raises(ValueError, match=r"leaves no sample in run 1, which has 25 samples"):
        make_design(recs, feats, trim=(40.0, 12.0))
    with pytest.raises(ValueError, match=r"`delays\[0\]` must be a whole number of samples"):
        make_design(recs, feats, delays=[1.0])
    with pytest.raises(ValueError, match=r"`lanczos_window` must be a positive integer; got 0"):
        make_design(recs, feats, lanczos_window=0)
