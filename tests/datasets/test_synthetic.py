import numpy as np
import pytest

from brainalign.datasets import make_encoding_data


def test_truth_is_consistent_with_data():
    sim = make_encoding_data(
        n_runs=3,
        n_samples_per_run=120,
        band_sizes={"a": 6, "b": 3},
        n_targets=20,
        snr=2.0,
        random_state=0,
    )
    t = sim.truth
    assert sim.Y.shape == (360, 20) and sim.groups.tolist() == [0] * 120 + [1] * 120 + [2] * 120
    np.testing.assert_allclose(sim.Y, t.signal + t.noise, atol=1e-10)
    # the signal is exactly the response features times the planted weights
    pred = sum(t.response_bands[b] @ t.weights[b].reshape(-1, 20) for b in ("a", "b"))
    np.testing.assert_allclose(pred - pred.mean(0), t.signal, atol=1e-10)
    np.testing.assert_allclose(t.signal.var(0) / t.noise.var(0), 2.0, rtol=1e-10)
    np.testing.assert_allclose(t.band_shares.sum(0), 1.0)
    # each band's share of the signal variance is the planted one (bands are independent)
    var_a = (t.response_bands["a"] @ t.weights["a"][0]).var(0)
    np.testing.assert_allclose(var_a, t.band_shares[0], rtol=1e-10)


def test_hrf_response_is_convolution_within_runs():
    sim = make_encoding_data(
        n_runs=2, n_samples_per_run=50, band_sizes={"a": 1}, n_targets=1, random_state=1
    )
    from nilearn.glm.first_level import glover_hrf

    k = glover_hrf(2.0, oversampling=1, time_length=32.0)
    x1 = sim.bands["a"][50:, 0]
    np.testing.assert_allclose(sim.truth.response_bands["a"][50:, 0], np.convolve(x1, k)[:50])


def test_fir_response_and_snr_range():
    sim = make_encoding_data(
        n_runs=2,
        n_samples_per_run=40,
        band_sizes={"a": 2},
        n_targets=50,
        response="fir",
        delays=[0, 2, 4],
        snr=(0.5, 4.0),
        random_state=2,
    )
    assert sim.truth.response_bands["a"].shape == (80, 6)
    assert sim.truth.weights["a"].shape == (3, 2, 50)
    assert 0.5 <= sim.truth.snr.min() and sim.truth.snr.max() <= 4.0
    # FIR shifts never cross runs: the first rows of run 1 hold zeros for delay 4 s
    np.testing.assert_array_equal(sim.truth.response_bands["a"][40:42, 4:6], 0.0)


def test_to_recordings_and_design():
    sim = make_encoding_data(n_runs=3, n_samples_per_run=30, n_targets=4, random_state=0)
    recs, feats = sim.to_recordings()
    assert len(recs) == 3 and recs[1].n_times == 30 and recs[1].sfreq == 0.5
    np.testing.assert_allclose(feats[2]["semantic"], sim.bands["semantic"][60:])
    d = sim.to_design()
    assert d.band_names == ["semantic", "lowlevel"] and d.n_samples == 90


def test_errors():
    with pytest.raises(ValueError, match=r"`band_sizes` must map band names to sizes >= 1"):
        make_encoding_data(band_sizes={"a": 0})
    with pytest.raises(ValueError, match=r"`band_shares` must be a non-negative array of shape"):
        make_encoding_data(band_sizes={"a": 2}, n_targets=3, band_shares=np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"`delays` must be multiples of the sample period 2 s"):
        make_encoding_data(response="fir", delays=[1.0])
    with pytest.raises(ValueError, match=r"`response` must be one of"):
        make_encoding_data(response="boxcar")
    with pytest.raises(ValueError, match=r"`snr` must be > 0"):
        make_encoding_data(snr=0.0)
