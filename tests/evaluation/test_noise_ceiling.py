"""Explainable variance and NSD noise ceilings on hand-computed and simulated data."""

from __future__ import annotations

import numpy as np
import pytest

from brainalign.evaluation import compute_ncsnr, explainable_variance, noise_ceiling


def _simulate(n_repeats, n_samples, signal_fraction, seed=0, scale=None, offset=None):
    """Repeats = shared signal + independent noise, with the planted signal fraction."""
    rng = np.random.default_rng(seed)
    f = np.asarray(signal_fraction, dtype=float)
    signal = rng.standard_normal((1, n_samples, f.size))
    noise = rng.standard_normal((n_repeats, n_samples, f.size))
    data = np.sqrt(f) * signal + np.sqrt(1 - f) * noise
    if scale is not None:
        data = data * scale + offset
    return data


def test_explainable_variance_hand_computed():
    # Two repeats of three samples, one target; zscore=False keeps the numbers simple.
    repeats = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 5.0]])[:, :, None]
    # Mean over repeats: [1, 2, 4], var (ddof=1) = 7/3.
    # Per-repeat variances (ddof=1): 1 and 13/3, mean 8/3.  ev = (7/3) / (8/3) = 7/8.
    ev_raw = explainable_variance(repeats, bias_correction=False, zscore=False)
    np.testing.assert_allclose(ev_raw, [7 / 8], rtol=1e-14)
    # Bias correction with 2 repeats: ev - (1 - ev) / 1 = 3/4.
    ev = explainable_variance(repeats, bias_correction=True, zscore=False)
    np.testing.assert_allclose(ev, [3 / 4], rtol=1e-14)


def test_explainable_variance_zscore_removes_scale_and_offset():
    rng = np.random.default_rng(3)
    repeats = rng.standard_normal((4, 50, 6))
    scaled = repeats * rng.uniform(0.1, 10, (4, 1, 6)) + rng.uniform(-100, 100, (4, 1, 6))
    np.testing.assert_allclose(
        explainable_variance(scaled), explainable_variance(repeats), atol=1e-12
    )
    # Without z-scoring, the scale differences between repeats do matter.
    assert not np.allclose(
        explainable_variance(scaled, zscore=False), explainable_variance(repeats, zscore=False)
    )


def test_explainable_variance_recovers_planted_fraction():
    fractions = np.array([0.0, 0.1, 0.3, 0.6, 0.9])
    repeats = _simulate(10, 4000, np.repeat(fractions, 20), seed=1, scale=3.0, offset=5.0)
    ev = explainable_variance(repeats).reshape(5, 20).mean(1)
    np.testing.assert_allclose(ev, fractions, atol=0.02)
    # Uncorrected, noise-only targets sit at 1 / n_repeats.
    ev_raw = explainable_variance(repeats, bias_correction=False).reshape(5, 20).mean(1)
    assert ev_raw[0] == pytest.approx(1 / 10, abs=0.01)


def test_explainable_variance_constant_target_is_zero():
    repeats = np.zeros((3, 10, 2))
    repeats[:, :, 1] = np.random.default_rng(0).standard_normal((3, 10))
    ev = explainable_variance(repeats, bias_correction=False)
    assert ev[0] == 0.0
    assert np.isfinite(ev).all()


def test_ncsnr_hand_computed_without_zscore():
    # Two repeats of three stimuli.  Noise variance per stimulus (ddof=1): 0, 0, 2 -> mean 2/3.
    # Pooled trials [1, 2, 3, 1, 2, 5]: variance (ddof=1) = 34/15.  Signal var 34/15 - 2/3 = 8/5.
    repeats = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 5.0]])[:, :, None]
    ncsnr = compute_ncsnr(repeats, zscore=False)
    np.testing.assert_allclose(ncsnr, [np.sqrt((8 / 5) / (2 / 3))], rtol=1e-14)


def test_ncsnr_zscored_uses_one_minus_noise_variance():
    # With zscore=True each repeat is z-scored (ddof=0) and signal var = 1 - noise var.
    rng = np.random.default_rng(5)
    repeats = rng.standard_normal((3, 40, 4)) + rng.standard_normal((1, 40, 4))
    z = (repeats - repeats.mean(1, keepdims=True)) / repeats.std(1, keepdims=True)
    noise_var = z.var(axis=0, ddof=1).mean(axis=0)
    expected = np.sqrt(np.maximum(1 - noise_var, 0)) / np.sqrt(noise_var)
    np.testing.assert_allclose(compute_ncsnr(repeats), expected, rtol=1e-12)


def test_ncsnr_and_noise_ceiling_recover_planted_snr():
    # Signal sd 1, noise sd sigma: ncsnr = 1 / sigma.
    rng = np.random.default_rng(2)
    sigma = np.array([0.5, 1.0, 2.0])
    signal = rng.standard_normal((1, 20000, 3))
    repeats = signal + sigma * rng.standard_normal((3, 20000, 3))
    ncsnr = compute_ncsnr(repeats)
    np.testing.assert_allclose(ncsnr, 1 / sigma, rtol=0.05)
    # Percentage of the variance of a 3-trial average that the signal explains.
    nc = noise_ceiling(ncsnr, n_averaged=3)
    np.testing.assert_allclose(nc, 100 / (1 + sigma**2 / 3), atol=1.5)
    # ... which is what a perfect model reaches: R² of the true signal on the average.
    avg = repeats.mean(0)
    r2_oracle = [np.corrcoef(signal[0, :, j], avg[:, j])[0, 1] ** 2 for j in range(3)]
    np.testing.assert_allclose(nc / 100, r2_oracle, atol=0.02)


def test_noise_ceiling_formula_and_limits():
    snr = np.array([0.0, 0.5, 1.0, np.inf])
    np.testing.assert_allclose(noise_ceiling(snr), [0, 20, 50, 100])
    np.testing.assert_allclose(
        noise_ceiling(snr, n_averaged=3), [0, 100 * 0.25 / (0.25 + 1 / 3), 75, 100]
    )


def test_ncsnr_edge_cases():
    repeats = np.zeros((2, 4, 2))
    repeats[:, :, 1] = np.arange(4.0)  # identical repeats: no noise
    ncsnr = compute_ncsnr(repeats, zscore=False)
    assert ncsnr[0] == 0.0 and np.isinf(ncsnr[1])


def test_errors():
    with pytest.raises(ValueError, match=r"`repeats` must have shape \(n_repeats, n_samples"):
        explainable_variance(np.zeros((3, 10)))
    with pytest.raises(ValueError, match=r"at least 2 repeats along axis 0"):
        explainable_variance(np.zeros((1, 10, 3)))
    with pytest.raises(ValueError, match=r"at least 2 stimuli along axis 1.*transposed"):
        compute_ncsnr(np.zeros((3, 1, 5)))
    with pytest.raises(ValueError, match=r"`ncsnr` must be >= 0 and not NaN"):
        noise_ceiling(np.array([0.5, -1.0]))
    with pytest.raises(ValueError, match=r"`n_averaged` must be >= 1"):
        noise_ceiling(np.array([0.5]), n_averaged=0)
    with pytest.raises(TypeError, match=r"`n_averaged` must be a number >= 1; got 'three'"):
        noise_ceiling(np.array([0.5]), n_averaged="three")
