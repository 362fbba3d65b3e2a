import numpy as np
import pytest

from brainalign.data import Recording, Space, make_events


def test_default_times_and_span():
    rec = Recording(np.zeros((10, 3)), sfreq=0.5, modality="fmri")
    np.testing.assert_allclose(rec.times, np.arange(10) * 2.0)
    assert rec.tr == 2.0 and rec.start == 0.0 and rec.stop == 20.0 and rec.duration == 20.0
    mid = Recording(np.zeros((10, 3)), sfreq=0.5, modality="fmri", sample_point="middle")
    np.testing.assert_allclose(mid.times, np.arange(10) * 2.0 + 1.0)
    assert mid.start == 0.0 and mid.stop == 20.0
    assert "10 samples x 3 targets" in repr(rec)


def test_events_on_clock_are_validated():
    ev = make_events([0.0, 19.9], 0.0, "Word")
    rec = Recording(np.zeros((10, 2)), sfreq=0.5, modality="fmri", events=ev)
    assert len(rec.events) == 2
    with pytest.raises(ValueError, match="must lie within the run"):
        Recording(np.zeros((10, 2)), sfreq=0.5, modality="fmri", events=make_events([20.0]))


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"`data` must have shape \(n_times, n_targets\)"):
        Recording(np.zeros(10), sfreq=1.0)
    bad = np.zeros((5, 2))
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"`data` must contain only finite values; got 1 NaN"):
        Recording(bad, sfreq=1.0)
    with pytest.raises(ValueError, match=r"`times` must be strictly increasing.*times\[2\]=1"):
        Recording(np.zeros((3, 1)), sfreq=1.0, times=[0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"`times` must be spaced by 1/sfreq = 0.5 s"):
        Recording(np.zeros((3, 1)), sfreq=2.0, times=[0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"`times` must have 3 entries"):
        Recording(np.zeros((3, 1)), sfreq=1.0, times=[0.0, 1.0])
    with pytest.raises(ValueError, match=r"`sfreq` must be > 0"):
        Recording(np.zeros((3, 1)), sfreq=0.0)
    with pytest.raises(ValueError, match=r"`modality` must be one of"):
        Recording(np.zeros((3, 1)), sfreq=1.0, modality="pet")
    with pytest.raises(ValueError, match=r"`space` must describe 1 targets"):
        Recording(np.zeros((3, 1)), sfreq=1.0, space=Space.generic(4))


def test_mne_roundtrip_keeps_clock_and_events():
    mne = pytest.importorskip("mne")
    rng = np.random.default_rng(0)
    info = mne.create_info(["a", "b", "c"], 100.0, ch_types="eeg")
    data = rng.standard_normal((3, 500))
    raw = mne.io.RawArray(data, info, first_samp=250, verbose="error")
    raw.set_annotations(
        mne.Annotations(
            onset=[1.0, 2.5], duration=[0.1, 0.2], description=["w1", "w2"], orig_time=None
        )
    )
    rec = Recording.from_mne(raw)
    assert rec.modality == "eeg" and rec.space.kind == "sensors"
    np.testing.assert_allclose(rec.data, data.T)
    np.testing.assert_allclose(rec.times, np.arange(500) / 100.0)
    # annotation onsets with orig_time=None are relative to the first sample
    np.testing.assert_allclose(rec.events["onset"], [1.0, 2.5])
    assert rec.events["type"].tolist() == ["w1", "w2"]
    # the events lie on the same clock as the samples: sample 100 is at 1.0 s
    assert rec.times[100] == pytest.approx(rec.events["onset"][0])
    back = rec.to_mne()
    np.testing.assert_allclose(back.get_data(), data)
    rec2 = Recording.from_mne(back)
    np.testing.assert_allclose(rec2.events["onset"], rec.events["onset"])
    np.testing.assert_allclose(rec2.events["duration"], [0.1, 0.2])


def test_from_mne_ieeg_gets_electrodes():
    mne = pytest.importorskip("mne")
    info = mne.create_info(["e1", "e2"], 512.0, ch_types="seeg")
    raw = mne.io.RawArray(np.zeros((2, 100)), info, verbose="error")
    rec = Recording.from_mne(raw)
    assert rec.modality == "ieeg" and rec.space.kind == "electrodes"
    assert rec.space.labels == ["e1", "e2"]


def test_from_nifti_and_back():
    nib = pytest.importorskip("nibabel")
    pytest.importorskip("nilearn")
    rng = np.random.default_rng(1)
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    mask = np.zeros((4, 5, 6), dtype=np.int8)
    mask[1:3, 1:4, 2:5] = 1
    bold = rng.standard_normal((4, 5, 6, 20)).astype(np.float32)
    img = nib.Nifti1Image(bold, affine)
    img.header.set_zooms((3.0, 3.0, 3.0, 1.5))
    rec = Recording.from_nifti(img, mask_img=nib.Nifti1Image(mask, affine))
    assert rec.sfreq == pytest.approx(1 / 1.5) and rec.modality == "fmri"
    assert rec.data.shape == (20, int(mask.sum()))
    np.testing.assert_allclose(rec.data, bold[mask.astype(bool)].T, rtol=1e-6)
    back = rec.space.to_nifti(rec.data[3])
    np.testing.assert_allclose(
        back.get_fdata()[mask.astype(bool)], bold[..., 3][mask > 0], rtol=1e-6
    )
    np.testing.assert_allclose(back.affine, affine)


def test_from_nifti_without_tr():
    nib = pytest.importorskip("nibabel")
    img = nib.Nifti1Image(np.zeros((2, 2, 2, 3), dtype=np.float32), np.eye(4))
    img.header.set_zooms((1.0, 1.0, 1.0, 0.0))
    with pytest.raises(ValueError, match=r"`tr` must be given: the image header has no repetition"):
        Recording.from_nifti(img, mask_img=nib.Nifti1Image(np.ones((2, 2, 2), np.int8), np.eye(4)))


def test_from_surface_and_gifti():
    rng = np.random.default_rng(2)
    left, right = rng.standard_normal((7, 642)), rng.standard_normal((7, 642))
    rec = Recording.from_surface(left, right, tr=2.0, mesh="fsaverage3")
    assert rec.data.shape == (7, 1284) and rec.space.kind == "surface"
    halves = rec.space.to_surface_arrays(rec.data[0])
    np.testing.assert_allclose(halves["left"], left[0])
    np.testing.assert_allclose(halves["right"], right[0])
    gii = rec.space.to_gifti(rec.data[:2])
    assert len(gii["left"].darrays) == 2
    np.testing.assert_allclose(gii["right"].darrays[1].data, right[1], rtol=1e-6)
    with pytest.raises(ValueError, match=r"`left` must have 642 vertices .*Transposed"):
        Recording.from_surface(left.T, right, tr=2.0, mesh="fsaverage3")
    with pytest.raises(ValueError, match=r"`right` must have as many time points as `left`"):
        Recording.from_surface(left, right[:5], tr=2.0, mesh="fsaverage3")


def test_from_nifti_errors():
    nib = pytest.importorskip("nibabel")
    pytest.importorskip("nilearn")
    img = nib.Nifti1Image(np.zeros((2, 2, 2, 3), dtype=np.float32), np.eye(4))
    img.header.set_zooms((1.0, 1.0, 1.0, 2.0))
    mask = nib.Nifti1Image(np.ones((2, 2, 2), np.int8), np.eye(4))
    with pytest.raises(
        ValueError,
        match=r"Pass exactly one of `mask_img` or `masker`; got mask_img=None, masker=None",
    ):
        Recording.from_nifti(img)
    with pytest.raises(ValueError, match=r"`img` must be a 4-D image \(x, y, z, time\); got shape"):
        Recording.from_nifti(
            nib.Nifti1Image(np.zeros((2, 2, 2), np.float32), np.eye(4)), mask_img=mask
        )
    with pytest.raises(ValueError, match=r"`mask_img` must contain at least one non-zero voxel"):
        Space.volume(nib.Nifti1Image(np.zeros((2, 2, 2), np.int8), np.eye(4)))
    with pytest.raises(
        ValueError, match=r"`mask_img` must be a 3-D image; got shape \(2, 2, 2, 3\)"
    ):
        Space.volume(img)


def test_to_mne_sfreq_mismatch():
    mne = pytest.importorskip("mne")
    info = mne.create_info(["a", "b"], 100.0, ch_types="eeg")
    rec = Recording(np.zeros((10, 2)), sfreq=50.0, modality="eeg", space=Space.sensors(info))
    with pytest.raises(ValueError, match=r"`space.info\['sfreq'\]` \(100.0\) differs from `sfreq`"):
        rec.to_mne()


def test_to_mne_refuses_events_before_first_sample():
    pytest.importorskip("mne")
    rec = Recording(
        np.zeros((4, 2)),
        sfreq=0.5,
        modality="fmri",
        sample_point="middle",
        events=make_events([0.5, 3.0]),
    )
    with pytest.raises(ValueError, match=r"`events` before the first sample \(1 s\) cannot"):
        rec.to_mne()
