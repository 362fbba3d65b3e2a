"""Lanczos and window-mean resampling against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

import brainalign.alignment._lanczos as lanczos_module
from brainalign.alignment import lanczos_kernel, lanczos_resample, window_mean_resample


def _lanczos_scalar(dt: float, cutoff: float, window: int) -> float:
    """The Huth-lab formula written out on scalars, independently of the implementation."""
    t = dt * cutoff
    if t == 0:
        return 1.0
    if abs(t) > window:
        return 0.0
    return window * math.sin(math.pi * t) * math.sin(math.pi * t / window) / (math.pi**2 * t**2)


# ---------------------------------------------------------------------------- lanczos_kernel
def test_lanczos_kernel_literal_values():
    # u = 0.5: 3 sin(pi/2) sin(pi/6) / (pi^2 / 4) = 6 / pi^2
    # u = 1.5: 3 sin(3pi/2) sin(pi/2) / (2.25 pi^2) = -4 / (3 pi^2)
    # u = 0: 1; |u| > 3: 0; u = -0.5: symmetric.
    t = np.array([0.0, 0.5, 1.5, -0.5, 3.5, -4.0])
    expected = [1.0, 6 / math.pi**2, -4 / (3 * math.pi**2), 6 / math.pi**2, 0.0, 0.0]
    np.testing.assert_allclose(lanczos_kernel(t, cutoff=1.0, window=3), expected, atol=1e-15)


def test_lanczos_kernel_cutoff_scales_time():
    # With cutoff 0.5 Hz (TR = 2 s), t = 1 s is u = 0.5.
    assert lanczos_kernel(np.array([1.0]), cutoff=0.5)[0] == pytest.approx(6 / math.pi**2)
    # window=2: u=2.5 is outside, u=1.5 is inside: 2 sin(1.5pi) sin(0.75pi) / (2.25 pi^2).
    val = lanczos_kernel(np.array([1.5, 2.5]), cutoff=1.0, window=2)
    expected = 2 * -1.0 * math.sin(0.75 * math.pi) / (2.25 * math.pi**2)
    np.testing.assert_allclose(val, [expected, 0.0], atol=1e-15)


def test_lanczos_kernel_keeps_shape():
    assert lanczos_kernel(np.zeros((2, 3)), cutoff=1.0).shape == (2, 3)


# ---------------------------------------------------------------------------- lanczos_resample
def test_lanczos_resample_matches_formula_by_hand():
    times = [0.3, 1.1, 2.0, 5.7]
    values = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 4.0], [-2.0, 1.0]])
    new_times = [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]  # cutoff = 1 / 2 Hz, support +-6 s
    cutoff = 1.0 / 2.0
    expected = np.zeros((6, 2))
    for k, nt in enumerate(new_times):
        for j, t in enumerate(times):
            expected[k] += _lanczos_scalar(nt - t, cutoff, 3) * values[j]
    got = lanczos_resample(values, times, new_times)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    # The item at 0.3 s is 9.7 s (> 3 lobes = 6 s) before 10 s and must not count.
    manual = sum(_lanczos_scalar(10.0 - t, cutoff, 3) * v for t, v in zip(times, values[:, 0]))
    assert got[5, 0] == pytest.approx(manual, abs=1e-14)
    assert _lanczos_scalar(10.0 - 0.3, cutoff, 3) == 0.0


def test_lanczos_resample_cutoff_mult_and_window():
    times = np.array([0.2, 0.9, 1.4])
    values = np.array([[1.0], [2.0], [-1.0]])
    new_times = np.array([0.0, 1.0, 2.0])
    got = lanczos_resample(values, times, new_times, window=2, cutoff_mult=0.5)
    expected = [
        [sum(_lanczos_scalar(nt - t, 0.5, 2) * v for t, v in zip(times, values[:, 0]))]
        for nt in new_times
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_lanczos_ones_on_the_grid_give_ones():
    # The kernel is 1 at 0 and 0 at every other integer u: items exactly on the sample grid
    # are interpolated, not smoothed.
    new_times = np.arange(20) * 2.0 + 1.0
    out = lanczos_resample(np.ones((20, 1)), new_times, new_times)
    np.testing.assert_allclose(out, 1.0, atol=1e-12)


@pytest.mark.parametrize("per_tr", [3, 5, 10])
def test_lanczos_word_rate(per_tr):
    # Items at a steady rate: away from the edges the word rate is ~ items per TR (the
    # un-normalised kernel integrates to 0.997 TR for window=3).
    tr = 2.0
    word_times = np.arange(0, 200, tr / per_tr) + 0.013
    out = lanczos_resample(np.ones((word_times.size, 1)), word_times, np.arange(0, 200, tr))
    np.testing.assert_allclose(out[10:-10], per_tr, rtol=5e-3)
    # and the edges fall off (half the support is empty at t=0)
    assert out[0, 0] < 0.75 * per_tr


def test_lanczos_unsorted_items_same_result():
    rng = np.random.default_rng(0)
    times = np.sort(rng.uniform(0, 50, 40))
    values = rng.normal(size=(40, 3))
    new_times = np.arange(0, 50, 1.5)
    perm = rng.permutation(40)
    np.testing.assert_allclose(
        lanczos_resample(values[perm], times[perm], new_times),
        lanczos_resample(values, times, new_times),
        rtol=1e-12,
        atol=1e-12,
    )


def test_lanczos_chunked_equals_dense(monkeypatch):
    rng = np.random.default_rng(1)
    times = np.sort(rng.uniform(-5, 305, 3000))
    values = rng.normal(size=(3000, 4))
    new_times = np.arange(150) * 2.0 + 1.0
    dense = lanczos_kernel(new_times[:, None] - times[None, :], 0.5, 3) @ values
    monkeypatch.setattr(lanczos_module, "_MAX_CHUNK_ELEMENTS", 3000 * 7)  # 7 rows per chunk
    np.testing.assert_allclose(
        lanczos_resample(values, times, new_times), dense, rtol=1e-10, atol=1e-12
    )


def test_lanczos_errors():
    with pytest.raises(ValueError, match=r"`values` must have shape \(n_items, n_dims\).*reshape"):
        lanczos_resample(np.ones(3), [0.0, 1.0, 2.0], [0.0, 1.0])
    with pytest.raises(ValueError, match=r"`times` must have as many samples as `values`"):
        lanczos_resample(np.ones((3, 1)), [0.0, 1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match=r"`new_times` must hold at least 2 sample times.*got 1"):
        lanczos_resample(np.ones((3, 1)), [0.0, 1.0, 2.0], [0.0])
    with pytest.raises(ValueError, match=r"`new_times` must be strictly increasing"):
        lanczos_resample(np.ones((3, 1)), [0.0, 1.0, 2.0], [0.0, 2.0, 1.0])
    with pytest.raises(ValueError, match=r"`cutoff_mult` must be > 0"):
        lanczos_resample(np.ones((3, 1)), [0.0, 1.0, 2.0], [0.0, 1.0], cutoff_mult=0)
    with pytest.raises(ValueError, match=r"`cutoff` must be > 0"):
        lanczos_kernel([0.0], cutoff=-1.0)


# ---------------------------------------------------------------------------- window mean
def test_window_mean_start_by_hand():
    values = np.array([[0.0, 10.0], [1.0, 20.0], [2.0, 30.0], [3.0, 40.0], [4.0, 50.0]])
    times = [0.1, 0.5, 1.2, 2.9, 3.0]
    # bins [0,1): items 0,1; [1,2): item 2; [2,3): item 3; [3,4): item 4; [4,5): empty -> 0.
    expected = [[0.5, 15.0], [2.0, 30.0], [3.0, 40.0], [4.0, 50.0], [0.0, 0.0]]
    got = window_mean_resample(values, times, [0.0, 1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)


def test_window_mean_center_by_hand():
    values = np.arange(5.0)[:, None]
    times = [0.1, 0.5, 1.2, 2.9, 3.0]
    # bins [-0.5,0.5): item 0 (0.5 excluded); [0.5,1.5): items 1,2; [1.5,2.5): empty;
    # [2.5,3.5): items 3,4.
    got = window_mean_resample(values, times, [0.0, 1.0, 2.0, 3.0], align="center")
    np.testing.assert_allclose(got[:, 0], [0.0, 1.5, 0.0, 3.5], atol=1e-15)
    # width wider than the period: windows overlap. [0,2) holds items 0,1,2.
    got = window_mean_resample(values, times, [0.0, 1.0], width=2.0)
    np.testing.assert_allclose(got[:, 0], [1.0, 2.5], atol=1e-15)


def test_window_mean_unsorted_and_single_sample_with_width():
    values = np.array([[4.0], [1.0], [7.0]])
    got = window_mean_resample(values, [1.5, 0.2, 0.7], [0.0], width=1.0)
    np.testing.assert_allclose(got, [[4.0]])  # mean of 1 and 7


def test_window_mean_errors():
    with pytest.raises(ValueError, match=r"`align` must be one of \['start', 'center'\]"):
        window_mean_resample(np.ones((2, 1)), [0.0, 1.0], [0.0, 1.0], align="middle")
    with pytest.raises(ValueError, match=r"`width` must be > 0"):
        window_mean_resample(np.ones((2, 1)), [0.0, 1.0], [0.0, 1.0], width=0.0)
    with pytest.raises(ValueError, match=r"`new_times` must hold at least 2"):
        window_mean_resample(np.ones((2, 1)), [0.0, 1.0], [0.0])
