"""fMRIPrep derivatives reader: volume, parcels, fsaverage surfaces, confounds, raw events."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _fixtures_bids import (
    TR,
    brain_mask_array,
    default_events,
    make_bids_func,
    make_fmriprep,
    make_labels_img,
    write_json,
)

from brainalign.exceptions import DataFormatError
from brainalign.io import read_fmriprep, read_fmriprep_confounds, read_fmriprep_runs

MASK = brain_mask_array().astype(bool)


@pytest.fixture
def tree(tmp_path):
    """A raw BIDS dataset with its fMRIPrep derivatives (volume + fsaverage5)."""
    raw = make_bids_func(tmp_path / "ds", runs=(1,))
    deriv = tmp_path / "ds" / "derivatives" / "fmriprep"
    out = make_fmriprep(deriv, surface="fsaverage5")
    return {"raw": raw, "deriv": deriv, "root": tmp_path / "ds", **out}


# ---------------------------------------------------------------------------- volume
def test_volume_round_trip_with_raw_events(tree):
    rec = read_fmriprep(tree["deriv"], "01", "story", raw_root=tree["root"])
    np.testing.assert_array_equal(rec.data, tree["data"][1][MASK].T)
    assert rec.data.shape == (20, int(MASK.sum()))
    assert rec.space.kind == "volume" and rec.space.name == "MNI152NLin2009cAsym"
    np.testing.assert_array_equal(rec.space.mask, MASK)
    assert rec.sfreq == pytest.approx(1 / TR) and rec.sample_point == "start"
    assert (rec.subject, rec.run, rec.task) == ("01", "1", "story")
    written = default_events()
    np.testing.assert_allclose(rec.events["onset"], written["onset"])
    assert rec.events["type"].tolist() == ["music", "word", "word", "Event"]
    md = rec.metadata
    assert md["source"]["mask"].endswith(
        "sub-01_task-story_run-1_space-MNI152NLin2009cAsym_desc-brain_mask.nii.gz"
    )
    assert md["source"]["events"].endswith("ds/sub-01/func/sub-01_task-story_run-1_events.tsv")
    assert md["source"]["sidecars"][0].endswith("_desc-preproc_bold.json")
    assert md["confounds"] is None and md["sample_mask"] is None
    # Without the raw tree there are no events.
    assert read_fmriprep(tree["deriv"], "01", "story").events is None


def test_confounds_match_nilearn(tree):
    from nilearn.interfaces.fmriprep import load_confounds

    rec = read_fmriprep(
        tree["deriv"],
        "01",
        "story",
        confounds=("motion", "wm_csf"),
        confounds_kwargs={"motion": "basic"},
    )
    expected, expected_mask = load_confounds(
        str(tree["bold"][1]), strategy=("motion", "wm_csf"), motion="basic"
    )
    conf = rec.metadata["confounds"]
    assert conf.shape == (20, 8)
    pd.testing.assert_frame_equal(conf, expected)
    # The non-steady-state first volume is flagged, not removed from the data.
    np.testing.assert_array_equal(rec.metadata["sample_mask"], expected_mask)
    np.testing.assert_array_equal(rec.metadata["sample_mask"], np.arange(1, 20))
    assert rec.n_times == 20
    np.testing.assert_array_equal(rec.data, tree["data"][1][MASK].T)  # not applied


def test_apply_confounds_regresses_them_out(tree):
    rec = read_fmriprep(
        tree["deriv"],
        "01",
        "story",
        confounds=("motion", "wm_csf"),
        confounds_kwargs={"motion": "basic"},
        apply_confounds=True,
    )
    conf = rec.metadata["confounds"].to_numpy()
    raw = tree["data"][1][MASK].T.astype(float)
    # Ground truth: least-squares residuals of the data on [1, confounds].
    design = np.column_stack([np.ones(20), conf])
    beta, *_ = np.linalg.lstsq(design, raw, rcond=None)
    resid = raw - design @ beta
    np.testing.assert_allclose(rec.data - rec.data.mean(0), resid - resid.mean(0), atol=2e-2)
    assert np.abs(conf.T @ (rec.data - rec.data.mean(0))).max() < 0.5
    assert "confounds regressed" in rec.metadata["preprocessing"][-1]
    with pytest.raises(ValueError, match="`apply_confounds=True` needs a `confounds` strategy"):
        read_fmriprep(tree["deriv"], "01", "story", apply_confounds=True)


def test_read_fmriprep_confounds_scrub(tree):
    from nilearn.interfaces.fmriprep import load_confounds

    conf, mask = read_fmriprep_confounds(
        tree["bold"][1], ("motion", "scrub"), motion="basic", fd_threshold=0.1, scrub=0
    )
    ref, ref_mask = load_confounds(
        str(tree["bold"][1]),
        strategy=("motion", "scrub"),
        motion="basic",
        fd_threshold=0.1,
        scrub=0,
    )
    pd.testing.assert_frame_equal(conf, ref)
    np.testing.assert_array_equal(mask, ref_mask)
    fd = tree["confounds"][1]["framewise_displacement"].to_numpy()
    assert not np.isin(np.flatnonzero(fd > 0.1), mask).any()  # scrubbed volumes are out
    with pytest.raises(DataFormatError, match=r"expected 21 rows; got 20"):
        read_fmriprep_confounds(tree["bold"][1], ("motion",), n_volumes=21)


def test_parcels_with_labels_img(tree, tmp_path):
    path, labels = make_labels_img(tmp_path / "atlas_dseg.nii.gz")
    rec = read_fmriprep(
        tree["deriv"], "01", "story", labels_img=path, labels=["Background", "V1", "A1", "M1"]
    )
    assert rec.space.kind == "parcels" and rec.space.labels == ["V1", "A1", "M1"]
    assert rec.space.name == "atlas_dseg.nii.gz"
    for j, value in enumerate((1, 2, 3)):
        expected = tree["data"][1][(labels == value) & MASK].mean(0)
        np.testing.assert_allclose(rec.data[:, j], expected, rtol=1e-5)
    rec = read_fmriprep(tree["deriv"], "01", "story", labels_img=path, atlas_name="tiny3")
    assert rec.space.name == "tiny3" and rec.n_targets == 3


def test_user_masker(tree):
    from nilearn.maskers import NiftiMasker

    masker = NiftiMasker(mask_img=str(tree["mask"][1]), standardize=None, detrend=True)
    rec = read_fmriprep(tree["deriv"], "01", "story", masker=masker)
    np.testing.assert_allclose(rec.data.mean(0), 0, atol=1e-3)
    with pytest.raises(ValueError, match=r"at most one of .*got \['mask_img', 'masker'\]"):
        read_fmriprep(tree["deriv"], "01", "story", masker=masker, mask_img=tree["mask"][1])


# ---------------------------------------------------------------------------- surface
def test_surface_round_trip(tree):
    rec = read_fmriprep(tree["deriv"], "01", "story", space="fsaverage5", raw_root=tree["root"])
    left, right = tree["surf"][1]["L"][1], tree["surf"][1]["R"][1]
    assert rec.data.shape == (20, 2 * 10242)
    np.testing.assert_array_equal(rec.data, np.concatenate([left, right], axis=1))
    assert rec.space.kind == "surface" and rec.space.name == "fsaverage5"
    assert rec.space.hemi_slices == {"left": slice(0, 10242), "right": slice(10242, 20484)}
    np.testing.assert_array_equal(rec.space.to_surface_arrays(rec.data[2])["right"], right[2])
    np.testing.assert_allclose(rec.events["onset"], default_events()["onset"])
    assert rec.metadata["source"]["bold_right"].endswith("_hemi-R_space-fsaverage5_bold.func.gii")
    # Same result from the file, and nilearn's SurfaceMasker agrees on the layout.
    from nilearn.datasets import load_fsaverage
    from nilearn.maskers import SurfaceMasker
    from nilearn.surface import SurfaceImage

    mesh = load_fsaverage("fsaverage5")["pial"]
    img = SurfaceImage(
        mesh=mesh,
        data={"left": str(tree["surf"][1]["L"][0]), "right": str(tree["surf"][1]["R"][0])},
    )
    ref = SurfaceMasker(standardize=None).fit_transform(img)
    np.testing.assert_allclose(rec.data, ref, rtol=1e-6)


def test_surface_confounds_applied(tree):
    from nilearn.signal import clean

    rec = read_fmriprep(
        tree["deriv"],
        "01",
        "story",
        space="fsaverage5",
        confounds=("motion",),
        confounds_kwargs={"motion": "basic"},
        apply_confounds=True,
    )
    conf = rec.metadata["confounds"]
    assert conf.shape == (20, 6)
    raw = np.concatenate([tree["surf"][1]["L"][1], tree["surf"][1]["R"][1]], axis=1)
    ref = clean(raw, confounds=conf.to_numpy(), detrend=False, standardize=None, t_r=TR)
    np.testing.assert_allclose(rec.data, ref, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="`mask_img` applies to volume outputs only"):
        read_fmriprep(tree["deriv"], "01", "story", space="fsaverage5", mask_img=tree["mask"][1])


def _fsaverage5_image(data):
    from nilearn.datasets import load_fsaverage
    from nilearn.surface import SurfaceImage

    return SurfaceImage(mesh=load_fsaverage("fsaverage5")["pial"], data=data)


def test_surface_masker_keeps_the_masked_vertices(tree):
    from nilearn.maskers import SurfaceMasker

    left, right = tree["surf"][1]["L"][1], tree["surf"][1]["R"][1]
    keep = {"left": np.zeros(10242, bool), "right": np.zeros(10242, bool)}
    keep["left"][:30] = True
    keep["right"][[5, 100, 2000]] = True
    masker = SurfaceMasker(mask_img=_fsaverage5_image(keep), standardize=None)
    rec = read_fmriprep(
        tree["deriv"], "01", "story", space="fsaverage5", masker=masker, raw_root=tree["root"]
    )
    expected = np.concatenate([left[:, :30], right[:, [5, 100, 2000]]], axis=1)
    np.testing.assert_array_equal(rec.data, expected)
    assert rec.space.kind == "surface" and rec.space.name == "fsaverage5-masked"
    assert rec.space.hemi_slices == {"left": slice(0, 30), "right": slice(30, 33)}
    np.testing.assert_array_equal(rec.metadata["surface_vertices"]["right"], [5, 100, 2000])
    np.testing.assert_allclose(rec.events["onset"], default_events()["onset"])
    # An unmasked SurfaceMasker, fitted on the run, gives every vertex of fsaverage5.
    full = read_fmriprep(
        tree["deriv"], "01", "story", space="fsaverage5", masker=SurfaceMasker(standardize=None)
    )
    np.testing.assert_array_equal(full.data, np.concatenate([left, right], axis=1))
    assert full.space.name == "fsaverage5" and "surface_vertices" not in full.metadata


def test_surface_labels_masker_and_confounds(tree):
    from nilearn.maskers import SurfaceLabelsMasker

    left, right = tree["surf"][1]["L"][1], tree["surf"][1]["R"][1]
    lab = {"left": np.zeros(10242, np.int32), "right": np.zeros(10242, np.int32)}
    lab["left"][:20], lab["left"][20:50], lab["right"][:10] = 1, 2, 1
    masker = SurfaceLabelsMasker(labels_img=_fsaverage5_image(lab), standardize=None)
    rec = read_fmriprep(
        tree["deriv"], "01", "story", space="fsaverage5", masker=masker, atlas_name="toy"
    )
    parcel1 = np.concatenate([left[:, :20], right[:, :10]], axis=1).mean(axis=1)
    np.testing.assert_allclose(rec.data[:, 0], parcel1, rtol=1e-5)
    np.testing.assert_allclose(rec.data[:, 1], left[:, 20:50].mean(axis=1), rtol=1e-5)
    assert rec.space.kind == "parcels" and rec.space.name == "toy"
    assert rec.space.labels == ["1", "2"]
    # Confounds are regressed by the masker, as nilearn does it.
    rec = read_fmriprep(
        tree["deriv"],
        "01",
        "story",
        space="fsaverage5",
        masker=SurfaceLabelsMasker(labels_img=_fsaverage5_image(lab), standardize=None),
        confounds=("motion",),
        confounds_kwargs={"motion": "basic"},
        apply_confounds=True,
    )
    img = _fsaverage5_image({"left": left.T, "right": right.T})
    ref = SurfaceLabelsMasker(labels_img=_fsaverage5_image(lab), standardize=None).fit()
    expected = ref.transform(img, confounds=rec.metadata["confounds"])
    np.testing.assert_allclose(rec.data, expected, rtol=1e-4, atol=1e-5)
    assert not np.allclose(rec.data[:, 0], parcel1)
    assert rec.space.name == "fsaverage5 parcels"


def test_surface_masker_errors(tree, tmp_path):
    from nilearn.maskers import NiftiMasker, SurfaceMasker
    from nilearn.surface import InMemoryMesh, PolyMesh, SurfaceImage

    with pytest.raises(
        TypeError, match=r"`masker` must be a nilearn SurfaceMasker .* got NiftiMasker"
    ):
        read_fmriprep(tree["deriv"], "01", "story", space="fsaverage5", masker=NiftiMasker())
    tiny = InMemoryMesh(
        coordinates=np.eye(3, dtype=float), faces=np.array([[0, 1, 2]], dtype=np.int32)
    )
    mask = SurfaceImage(
        mesh=PolyMesh(left=tiny, right=tiny), data={"left": np.ones(3), "right": np.ones(3)}
    )
    with pytest.raises(
        DataFormatError,
        match=r"mesh with 3 left vertices but the 'fsaverage5' BOLD has 10242",
    ):
        read_fmriprep(
            tree["deriv"],
            "01",
            "story",
            space="fsaverage5",
            masker=SurfaceMasker(mask_img=mask, standardize=None),
        )
    make_fmriprep(tmp_path / "fp", surface="fsnative", n_vertices=642)
    with pytest.raises(ValueError, match=r"needs a `mask_img` .* surface space 'fsnative'"):
        read_fmriprep(tmp_path / "fp", "01", "story", space="fsnative", masker=SurfaceMasker())


def test_surface_tr_from_raw_sidecar(tmp_path):
    make_bids_func(tmp_path / "ds", events=None)
    deriv = tmp_path / "ds" / "derivatives" / "fmriprep"
    make_fmriprep(deriv, surface="fsaverage5", surface_json=False)
    rec = read_fmriprep(deriv, "01", "story", space="fsaverage5", raw_root=tmp_path / "ds")
    assert rec.sfreq == pytest.approx(1 / TR)
    assert rec.metadata["source"]["sidecars"][-1].endswith("ds/task-story_bold.json")
    with pytest.raises(
        DataFormatError,
        match=r"RepetitionTime is required for .*hemi-L_space-fsaverage5.*Pass `raw_root`",
    ):
        read_fmriprep(deriv, "01", "story", space="fsaverage5")


# ---------------------------------------------------------------------------- runs
def test_read_fmriprep_runs_and_tr_mismatch(tmp_path):
    deriv = tmp_path / "fmriprep"
    make_fmriprep(deriv, runs=(1, 2))
    recs = read_fmriprep_runs(deriv, "01", "story")
    assert [r.run for r in recs] == ["1", "2"]
    with pytest.raises(DataFormatError, match=r"2 fMRIPrep runs .* expected one"):
        read_fmriprep(deriv, "01", "story")
    other = tmp_path / "fmriprep2"
    make_fmriprep(other, runs=(1, 2), tr={1: 2.0, 2: 1.0})
    with pytest.raises(DataFormatError, match=r"share one RepetitionTime.*: 2 s.*: 1 s"):
        read_fmriprep_runs(other, "01", "story")
    with pytest.raises(FileNotFoundError, match=r"No fMRIPrep run \(space-T1w\)"):
        read_fmriprep_runs(deriv, "01", "story", space="T1w")


# ---------------------------------------------------------------------------- errors
def test_mismatched_hemispheres(tmp_path):
    deriv = tmp_path / "fmriprep"
    make_fmriprep(deriv, surface="fsaverage5", n_vols_right=19)
    with pytest.raises(
        DataFormatError, match=r"same number of volumes: .*hemi-L.* has 20, .*hemi-R.* has 19"
    ):
        read_fmriprep(deriv, "01", "story", space="fsaverage5")


def test_confounds_with_another_length(tmp_path):
    deriv = tmp_path / "fmriprep"
    make_fmriprep(deriv, surface="fsaverage5", n_conf_rows=18)
    for space in ("MNI152NLin2009cAsym", "fsaverage5"):
        with pytest.raises(DataFormatError, match=r"one row per volume: expected 20 rows; got 18"):
            read_fmriprep(deriv, "01", "story", space=space, confounds=("motion",))


def test_missing_files(tree):
    func = tree["deriv"] / "sub-01" / "func"
    (func / "sub-01_task-story_run-1_desc-confounds_timeseries.tsv").unlink()
    with pytest.raises(
        FileNotFoundError,
        match=r"confounds .* not found: expected .*run-1_desc-confounds_timeseries.tsv",
    ):
        read_fmriprep(tree["deriv"], "01", "story", confounds=("motion",))
    mask = func / "sub-01_task-story_run-1_space-MNI152NLin2009cAsym_desc-brain_mask.nii.gz"
    mask.unlink()
    with pytest.raises(
        FileNotFoundError, match=r"brain mask \(desc-brain_mask\) not found.*desc-brain_mask"
    ):
        read_fmriprep(tree["deriv"], "01", "story")
    (func / "sub-01_task-story_run-1_hemi-R_space-fsaverage5_bold.func.gii").unlink()
    with pytest.raises(FileNotFoundError, match=r"surface BOLD .* not found.*hemi-R"):
        read_fmriprep(tree["deriv"], "01", "story", space="fsaverage5")
    with pytest.raises(
        FileNotFoundError, match=r"No fMRIPrep run \(desc-preproc_bold, space-T1w\)"
    ):
        read_fmriprep(tree["deriv"], "01", "story", space="T1w")
    with pytest.raises(FileNotFoundError, match="fMRIPrep folder of sub-02 not found"):
        read_fmriprep(tree["deriv"], "02", "story")


def test_missing_tr_and_corrupt_files(tmp_path):
    deriv = tmp_path / "fmriprep"
    out = make_fmriprep(deriv, surface="fsaverage5", volume_json=False)
    with pytest.raises(
        DataFormatError, match=r"RepetitionTime is required for .*desc-preproc_bold"
    ):
        read_fmriprep(deriv, "01", "story")
    write_json(deriv / "task-story_bold.json", {"TaskName": "story"})
    with pytest.raises(
        DataFormatError, match=r"not found in the sidecar\(s\) .*task-story_bold.json"
    ):
        read_fmriprep(deriv, "01", "story")
    left = out["surf"][1]["L"][0]
    left.write_text("<?xml version='1.0'?><GIFTI", encoding="utf-8")
    with pytest.raises(
        DataFormatError, match=r"hemi-L_space-fsaverage5_bold.func.gii' is not a readable GIfTI"
    ):
        read_fmriprep(deriv, "01", "story", space="fsaverage5")
    out["bold"][1].write_bytes(b"garbage")
    with pytest.raises(DataFormatError, match=r"desc-preproc_bold.nii.gz' is not a readable NIfTI"):
        read_fmriprep(deriv, "01", "story")


def test_wrong_vertex_count(tmp_path):
    deriv = tmp_path / "fmriprep"
    make_fmriprep(deriv, surface="fsaverage5", n_vertices=642)
    with pytest.raises(DataFormatError, match=r"must have 10242 vertices .*got 642"):
        read_fmriprep(deriv, "01", "story", space="fsaverage5")
    # A mesh the reader does not know keeps whatever it finds.
    make_fmriprep(tmp_path / "fp2", surface="fsnative", n_vertices=642)
    rec = read_fmriprep(tmp_path / "fp2", "01", "story", space="fsnative")
    assert rec.space.hemi_slices["right"] == slice(642, 1284)


def test_events_outside_run_from_raw(tmp_path):
    ev = pd.DataFrame({"onset": [1.0, 45.0], "duration": [1.0, 1.0]})
    make_bids_func(tmp_path / "ds", events=ev)
    deriv = tmp_path / "ds" / "derivatives" / "fmriprep"
    make_fmriprep(deriv)
    with pytest.raises(DataFormatError, match=r"run-1_events.tsv'.*within the run \[0, 40\) s"):
        read_fmriprep(deriv, "01", "story", raw_root=tmp_path / "ds")
    rec = read_fmriprep(deriv, "01", "story", raw_root=tmp_path / "ds", events_outside="drop")
    assert rec.events["onset"].tolist() == [1.0]


def test_argument_and_confound_errors(tree):
    deriv = tree["deriv"]
    with pytest.raises(ValueError, match="`subject` is required to find fMRIPrep outputs"):
        read_fmriprep(deriv, task="story")
    with pytest.raises(ValueError, match="Pass `bold_file`, or `fmriprep_dir`"):
        read_fmriprep()
    with pytest.raises(ValueError, match="`events_outside` must be one of"):
        read_fmriprep(deriv, "01", "story", events_outside="keep")
    with pytest.raises(ValueError, match="`apply_confounds=True` needs a `confounds` strategy"):
        read_fmriprep(deriv, "01", "story", space="fsaverage5", apply_confounds=True)
    with pytest.raises(
        DataFormatError, match=r"nilearn could not load .* strategy=\('nonsense',\)"
    ):
        read_fmriprep_confounds(tree["bold"][1], ("nonsense",))
    conf_file = deriv / "sub-01" / "func" / "sub-01_task-story_run-1_desc-confounds_timeseries.tsv"
    conf = pd.read_csv(conf_file, sep="\t").drop(columns=["std_dvars"])
    conf.to_csv(conf_file, sep="\t", index=False, na_rep="n/a")
    with pytest.raises(
        DataFormatError, match=r"lack the column 'std_dvars' needed by strategy=\('scrub',\)"
    ):
        read_fmriprep_confounds(tree["bold"][1], ("scrub",))


def test_gifti_layout_errors(tmp_path):
    import nibabel as nib

    deriv = tmp_path / "fmriprep"
    out = make_fmriprep(deriv, surface="fsaverage5")
    left = out["surf"][1]["L"][0]
    no_hemi = left.with_name(left.name.replace("_hemi-L", ""))
    left.rename(no_hemi)
    with pytest.raises(
        DataFormatError, match=r"must carry a `hemi-L` or `hemi-R` entity; got None"
    ):
        read_fmriprep(bold_file=no_hemi)
    nib.save(nib.GiftiImage(), left)
    with pytest.raises(
        DataFormatError, match=r"hemi-L_space-fsaverage5_bold.func.gii' holds no data arrays"
    ):
        read_fmriprep(bold_file=left)
    darrays = [nib.gifti.GiftiDataArray(np.zeros(n, np.float32)) for n in (10242, 10)]
    nib.save(nib.GiftiImage(darrays=darrays), left)
    with pytest.raises(
        DataFormatError, match=r"one 1-D data array \(n_vertices,\) per volume; got .*\(10,\)"
    ):
        read_fmriprep(bold_file=left)
