"""HRF convolution against nilearn's compute_regressor."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from brainalign.alignment import HRF_MODELS, hrf_convolve

nilearn_fl = pytest.importorskip("nilearn.glm.first_level")

# Agreement with compute_regressor for items on its oversampled grid: max abs difference
# <= 1e-10 x max |regressor| (observed ~1e-15: both compute the same sums).
RTOL_NILEARN = 1e-10


def _nilearn_grid(frame_times: np.ndarray, oversampling: int, min_onset: float = -24.0):
    """The oversampled grid of nilearn's ``_sample_condition`` (recomputed from its formula)."""
    n = frame_times.size
    lo, hi = frame_times.min(), frame_times.max()
    n_hr = (n - 1) / (hi - lo) * (hi * (1 + 1 / (n - 1)) - lo - min_onset) * oversampling + 1
    return np.linspace(lo + min_onset, hi * (1 + 1 / (n - 1)), int(np.rint(n_hr)))


def _events_on_grid(frame_times, oversampling, n_events, n_dims, seed):
    rng = np.random.default_rng(seed)
    grid = _nilearn_grid(frame_times, oversampling)
    # onsets from 20 s before the first frame to the last frame
    ok = np.flatnonzero((grid >= frame_times[0] - 20) & (grid <= frame_times[-1]))
    onsets = grid[np.sort(rng.choice(ok, n_events, replace=False))]
    return onsets, rng.normal(size=(n_events, n_dims))


def _assert_close(ours, ref):
    scale = np.abs(ref).max()
    assert scale > 0
    np.testing.assert_allclose(ours, ref, rtol=0, atol=RTOL_NILEARN * scale)


@pytest.mark.parametrize("hrf_model", list(HRF_MODELS))
@pytest.mark.parametrize("tr", [2.0, 1.5])
def test_matches_compute_regressor(hrf_model, tr):
    frame_times = np.arange(60) * tr
    onsets, amps = _events_on_grid(frame_times, 50, n_events=25, n_dims=3, seed=int(tr * 10))
    ours = hrf_convolve(amps, onsets, frame_times, hrf_model=hrf_model, orthogonalize=True)
    n_basis = HRF_MODELS[hrf_model]
    assert ours.shape == (60, 3 * n_basis)
    for d in range(3):
        cond = np.vstack([onsets, np.zeros_like(onsets), amps[:, d]])
        ref, names = nilearn_fl.compute_regressor(cond, hrf_model, frame_times, oversampling=50)
        assert len(names) == n_basis
        # basis-major columns: column b * n_dims + d
        _assert_close(ours[:, [b * 3 + d for b in range(n_basis)]], ref)


@pytest.mark.parametrize(
    ("hrf_model", "derivs"),
    [
        (
            "glover + derivative + dispersion",
            ["glover_time_derivative", "glover_dispersion_derivative"],
        ),
        ("spm + derivative + dispersion", ["spm_time_derivative", "spm_dispersion_derivative"]),
    ],
)
def test_derivatives_not_orthogonalised_by_default(hrf_model, derivs):
    # compute_regressor orthogonalises the derivatives; a single custom kernel is left alone,
    # which gives the raw convolution to compare with.
    frame_times = np.arange(50) * 2.0
    onsets, amps = _events_on_grid(frame_times, 50, n_events=20, n_dims=1, seed=3)
    ours = hrf_convolve(amps, onsets, frame_times, hrf_model=hrf_model)
    cond = np.vstack([onsets, np.zeros_like(onsets), amps[:, 0]])
    for b, name in enumerate(derivs, start=1):
        ref, _ = nilearn_fl.compute_regressor(
            cond, getattr(nilearn_fl, name), frame_times, oversampling=50
        )
        _assert_close(ours[:, [b]], ref)
    # and the raw derivative is really not orthogonal to the main regressor here
    orth = hrf_convolve(amps, onsets, frame_times, hrf_model=hrf_model, orthogonalize=True)
    assert np.abs(ours[:, 1] - orth[:, 1]).max() > 1e-3 * np.abs(ours[:, 1]).max()
    np.testing.assert_allclose(orth[:, 0], ours[:, 0])
    assert abs(orth[:, 0] @ orth[:, 1]) < 1e-10 * np.linalg.norm(orth[:, 0]) ** 2


def test_impulse_response_shape_and_linearity():
    tr = 2.0
    frame_times = np.arange(30) * tr
    one = hrf_convolve(np.array([[1.0]]), [4.0], frame_times)
    # causal: nothing at or before the onset; peak ~5 s after the onset (Glover)
    assert np.all(one[frame_times <= 4.0] == 0)
    assert frame_times[np.argmax(one[:, 0])] - 4.0 in (4.0, 6.0)
    # linear in the amplitudes and additive over items
    two = hrf_convolve(np.array([[2.0], [-1.0]]), [4.0, 10.0], frame_times)
    ten = hrf_convolve(np.array([[1.0]]), [10.0], frame_times)
    np.testing.assert_allclose(two, 2 * one - ten, atol=1e-15)
    # items after the last sample contribute nothing; the kernel is 32 s long
    late = hrf_convolve(np.array([[1.0]]), [100.0], frame_times)
    assert np.all(late == 0)
    early = hrf_convolve(np.array([[1.0]]), [-10.0], frame_times)
    assert early[0, 0] != 0 and np.all(early[frame_times >= 22.0 + 2.0] == 0)


def test_import_alignment_does_not_import_nilearn():
    code = (
        "import sys, brainalign.alignment; "
        "bad = [m for m in ('nilearn', 'mne', 'torch', 'matplotlib', 'dask') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_hrf_errors():
    ft = np.arange(10) * 2.0
    with pytest.raises(
        ValueError, match=r"`hrf_model` must be one of \['spm', 'glover'.*got 'fir'"
    ):
        hrf_convolve(np.ones((1, 1)), [1.0], ft, hrf_model="fir")
    with pytest.raises(ValueError, match=r"`oversampling` must be a positive integer; got 2.5"):
        hrf_convolve(np.ones((1, 1)), [1.0], ft, oversampling=2.5)
    with pytest.raises(ValueError, match=r"`time_length` must be > 0"):
        hrf_convolve(np.ones((1, 1)), [1.0], ft, time_length=-1)
    with pytest.raises(ValueError, match=r"`new_times` must hold at least 2"):
        hrf_convolve(np.ones((1, 1)), [1.0], [0.0])
