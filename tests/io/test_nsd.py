"""NSD readers on a tiny tree that mimics the real files (keys, dtypes, axis order, 1-based ids)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from _fixtures_nsd import make_nsd

from brainalign.data import TrialSet
from brainalign.exceptions import DataFormatError
from brainalign.io import (
    read_nsd,
    read_nsd_betas,
    read_nsd_expdesign,
    read_nsd_stiminfo,
    read_nsd_stimuli,
)

BETAS = "nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR"
EXPDESIGN = "nsddata/experiments/nsd/nsd_expdesign.mat"
STIMINFO = "nsddata/experiments/nsd/nsd_stim_info_merged.csv"


@pytest.fixture(scope="module")
def nsd(tmp_path_factory):
    root = tmp_path_factory.mktemp("nsd")
    return root, make_nsd(root)


@pytest.fixture
def nsd_copy(nsd, tmp_path):
    """A private copy for the tests that damage files."""
    root, truth = nsd
    dst = tmp_path / "nsd"
    shutil.copytree(root, dst)
    return dst, truth


def _expected_trials(truth, sessions, subj=1):
    tps = truth["tps"]
    trial = np.concatenate([np.arange((s - 1) * tps, s * tps) for s in sessions])
    order = truth["masterordering"]
    stim = truth["subjectim"][subj - 1, order[trial]]
    rep = np.array([np.sum(order[:t] == order[t]) for t in trial])
    return trial, stim, rep


# ---------------------------------------------------------------------------- helpers
def test_read_nsd_expdesign_is_zero_based(nsd):
    root, truth = nsd
    design = read_nsd_expdesign(root)  # the root resolves to the standard path
    np.testing.assert_array_equal(design["masterordering"], truth["masterordering"])
    np.testing.assert_array_equal(design["subjectim"], truth["subjectim"])
    np.testing.assert_array_equal(design["sharedix"], truth["shared"])
    np.testing.assert_array_equal(design["stimpattern"], truth["stimpattern"])
    assert design["masterordering"].dtype == np.int64
    # the shared images are the first columns of subjectim for every subject
    np.testing.assert_array_equal(
        design["subjectim"][:, : len(truth["shared"])][3], truth["shared"]
    )


def test_read_nsd_stiminfo(nsd):
    root, truth = nsd
    info = read_nsd_stiminfo(root / STIMINFO)
    assert "Unnamed: 0" not in info.columns
    np.testing.assert_array_equal(info["nsdId"], np.arange(truth["n73k"]))
    assert info["shared1000"].dtype == bool
    np.testing.assert_array_equal(np.flatnonzero(info["shared1000"]), truth["shared"])
    np.testing.assert_array_equal(info["cocoId"], truth["cocoId"])


def test_read_nsd_stimuli_reads_rows_lazily(nsd):
    root, truth = nsd
    with read_nsd_stimuli(root) as stim:
        assert len(stim) == truth["n73k"]
        assert stim.shape == truth["images"].shape
        ids = [7, 2, 7, 0]  # unsorted, repeated: h5py alone refuses these
        np.testing.assert_array_equal(stim[ids], truth["images"][ids])
        np.testing.assert_array_equal(stim.get(5), truth["images"][5])
        assert stim[np.int64(3)].shape == truth["images"].shape[1:]
        assert stim[[]].shape == (0, *truth["images"].shape[1:])
        with pytest.raises(IndexError, match=r"0-based 73k ids in \[0, \d+\); got -1"):
            stim[[-1, 2]]
        with pytest.raises(IndexError, match="got 9999"):
            stim[9999]
        with pytest.raises(TypeError, match="integer 73k id"):
            stim[[True, False]]
        with pytest.raises(TypeError, match="integer 73k id"):
            stim[1.5]


def test_read_nsd_betas_hdf5_and_nifti_agree_after_transpose(nsd):
    root, truth = nsd
    h5 = read_nsd_betas(root / BETAS / "betas_session01.hdf5")
    nii = read_nsd_betas(root / BETAS / "betas_session01.nii.gz", n_trials=truth["tps"])
    assert h5.dtype == np.float32
    assert h5.shape == (truth["tps"], *truth["grid"])
    np.testing.assert_array_equal(h5, truth["psc"][(1, 1)])  # exact int16 / 300
    np.testing.assert_array_equal(nii, h5)
    mask = truth["mask"][1]
    masked = read_nsd_betas(root / BETAS / "betas_session01.hdf5", mask=mask)
    np.testing.assert_array_equal(masked, truth["psc"][(1, 1)][:, mask])


# ---------------------------------------------------------------------------- read_nsd
@pytest.mark.parametrize("fmt", ["hdf5", "nifti"])
def test_read_nsd_round_trip(nsd, fmt):
    root, truth = nsd
    ts = read_nsd(root, "subj01", space="func1pt8mm", fmt=fmt)
    assert isinstance(ts, TrialSet)
    mask = truth["mask"][1]
    expected = np.concatenate([truth["psc"][(1, s)][:, mask] for s in (1, 2)])
    assert ts.data.dtype == np.float32
    np.testing.assert_array_equal(ts.data, expected)
    trial, stim, rep = _expected_trials(truth, (1, 2))
    t = ts.trials
    np.testing.assert_array_equal(t["trial"], trial)
    np.testing.assert_array_equal(t["stim_id"], stim)
    np.testing.assert_array_equal(t["nsd_id"], stim)
    np.testing.assert_array_equal(t["repetition"], rep)
    np.testing.assert_array_equal(t["session"], np.repeat([1, 2], truth["tps"]))
    np.testing.assert_array_equal(t["coco_id"], truth["cocoId"][stim])
    shared = np.isin(stim, truth["shared"])
    assert shared.any() and not shared.all()
    np.testing.assert_array_equal(t["is_shared"], shared)
    np.testing.assert_array_equal(t["split"], np.where(shared, "test", "train"))
    np.testing.assert_array_equal(t["subject_image_index"], truth["masterordering"][trial])
    # runs from stimpattern: 1-based, in order, trials_per_run each
    runs = t.loc[t["session"] == 1, "run"].to_numpy()
    np.testing.assert_array_equal(runs, np.repeat([1, 2], truth["tps"] // 2))
    np.testing.assert_array_equal(
        t.loc[t["session"] == 2, "trial_in_run"], np.tile(np.arange(truth["tps"] // 2), 2)
    )
    # the stim ids index the image brick (0-based 73k ids, like nsdId)
    with read_nsd_stimuli(root) as images:
        np.testing.assert_array_equal(images[t["stim_id"][:3]], truth["images"][stim[:3]])
    # the space maps values back into the NSD grid
    assert ts.space.kind == "volume" and ts.space.name == "func1pt8mm"
    np.testing.assert_array_equal(ts.space.mask, mask)
    np.testing.assert_allclose(ts.space.affine, truth["affine"])
    back = np.asanyarray(ts.space.to_nifti(ts.data[0]).dataobj)
    np.testing.assert_array_equal(back[mask], ts.data[0])
    assert ts.metadata["units"] == "percent signal change"
    assert ts.subject == "subj01" and ts.modality == "fmri"


def test_read_nsd_repeats_structure(nsd):
    root, _ = nsd
    ts = read_nsd(root, 1, sessions=[1, 2])
    counts = ts.trials["stim_id"].value_counts()
    avg = ts.average_repeats("stim_id")
    assert avg.n_trials == len(counts)
    sid = counts.index[counts.argmax()]
    rows = ts.trials["stim_id"].to_numpy() == sid
    i = int(np.flatnonzero(avg.trials["stim_id"].to_numpy() == sid)[0])
    np.testing.assert_allclose(avg.data[i], ts.data[rows].mean(0), rtol=1e-6)
    # repetition counts earlier presentations across the whole design
    for s in np.unique(ts.trials["stim_id"]):
        reps = ts.trials.loc[ts.trials["stim_id"] == s, "repetition"].to_numpy()
        assert np.all(np.diff(reps) > 0)


def test_read_nsd_session_zscore(nsd):
    root, truth = nsd
    raw = read_nsd(root, 1, mask=None)
    z = read_nsd(root, 1, mask=None, zscore_sessions=True)
    assert raw.n_targets == int(np.prod(truth["grid"]))
    assert raw.space.mask.shape == truth["grid"] and raw.space.mask.all()
    np.testing.assert_allclose(raw.space.affine, truth["affine"])  # from brainmask.nii.gz
    assert z.metadata["units"] == "zscore"
    for ses in (1, 2):
        sel = (z.trials["session"] == ses).to_numpy()
        x = raw.data[sel].astype(np.float64)
        ref = (x - x.mean(0)) / x.std(0)
        np.testing.assert_allclose(z.data[sel], ref, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(z.data[sel].mean(0), 0, atol=1e-5)
    # the fixture plants a session offset (means 2 and 4); z-scoring removes it
    means = [raw.data[(raw.trials["session"] == s).to_numpy()].mean() for s in (1, 2)]
    assert means[1] - means[0] > 1.0
    assert z.metadata["n_constant_targets"] == {1: 0, 2: 0}


def test_read_nsd_one_session_and_brainmask(nsd):
    root, truth = nsd
    ts = read_nsd(root, 1, sessions=2, mask="brainmask")
    trial, stim, _ = _expected_trials(truth, (2,))
    np.testing.assert_array_equal(ts.trials["trial"], trial)
    np.testing.assert_array_equal(ts.trials["stim_id"], stim)
    assert ts.n_targets == int(ts.space.mask.sum())


def test_read_nsd_fsaverage(nsd):
    root, truth = nsd
    ts = read_nsd(root, 1, space="fsaverage")
    keep = truth["surf_masks"]
    expected = np.concatenate(
        [
            np.concatenate([truth["surf"][(1, s)][h][:, keep[h]] for h in ("lh", "rh")], axis=1)
            for s in (1, 2)
        ]
    )
    np.testing.assert_array_equal(ts.data, expected)  # float PSC: no /300
    assert ts.space.kind == "surface"
    assert ts.space.hemi_slices["left"] == slice(0, int(keep["lh"].sum()))
    np.testing.assert_array_equal(
        ts.metadata["fsaverage_vertices"]["right"], np.flatnonzero(keep["rh"])
    )
    full = read_nsd(root, 1, space="fsaverage", mask=None, sessions=[1])
    assert full.n_targets == 2 * len(keep["lh"])


# ---------------------------------------------------------------------------- errors
def test_read_nsd_parameter_errors(nsd):
    root, _ = nsd
    with pytest.raises(ValueError, match=r"`subject` must be an NSD subject 1\.\.8.*got 9"):
        read_nsd(root, 9)
    with pytest.raises(ValueError, match="`space` must be one of"):
        read_nsd(root, 1, space="MNI")
    with pytest.raises(ValueError, match=r"`fmt` must be one of \['mgh'\] for space 'fsaverage'"):
        read_nsd(root, 1, space="fsaverage", fmt="hdf5")
    with pytest.raises(ValueError, match="`sessions` must be a 1-based session number"):
        read_nsd(root, 1, sessions=[0])
    with pytest.raises(ValueError, match="must not repeat"):
        read_nsd(root, 1, sessions=[1, 1])
    with pytest.raises(FileNotFoundError, match=r"NSD root not found"):
        read_nsd(root / "nope", 1)
    with pytest.raises(FileNotFoundError, match=r"NSD betas file not found.*betas_session03\.hdf5"):
        read_nsd(root, 1, sessions=[3])  # in the design, not on disk
    with pytest.raises(
        DataFormatError,
        match=r"within the 3 sessions of the NSD design '.*nsd_expdesign\.mat'; got session 4",
    ):
        read_nsd(root, 1, sessions=[4])
    with pytest.raises(FileNotFoundError, match=r"NSD betas folder \(func1pt8mm.*not found"):
        read_nsd(root, 2)
    with pytest.raises(FileNotFoundError, match=r"NSD mask 'prf-visualrois' not found"):
        read_nsd(root, 1, mask="prf-visualrois")
    with pytest.raises(
        DataFormatError, match=r"`trials_per_session`=750 disagrees .*nsd_expdesign\.mat'"
    ):
        read_nsd(root, 1, trials_per_session=750)


def test_read_nsd_betas_errors(nsd_copy, tmp_path):
    root, truth = nsd_copy
    bdir = root / BETAS
    (bdir / "betas_session01.hdf5").write_bytes(b"\x00garbage" * 50)
    with pytest.raises(
        DataFormatError, match=r"NSD betas file at .*betas_session01\.hdf5.*not a readable HDF5"
    ):
        read_nsd(root, 1)
    (bdir / "betas_session02.nii.gz").write_bytes(b"garbage" * 50)
    with pytest.raises(DataFormatError, match=r"betas_session02\.nii\.gz' is not a readable image"):
        read_nsd(root, 1, sessions=[2], fmt="nifti")
    # wrong trial count: 11 trials where the design has 12
    import h5py

    with h5py.File(bdir / "betas_session01.hdf5", "w") as h5:
        h5["betas"] = np.zeros((truth["tps"] - 1, 3, 5, 4), dtype=np.int16)
    with pytest.raises(DataFormatError, match=r"must hold 12 trials \(from the design\); got 11"):
        read_nsd(root, 1, sessions=[1])
    with h5py.File(bdir / "betas_session01.hdf5", "w") as h5:
        h5["betas"] = np.zeros((truth["tps"], 3, 5), dtype=np.int16)
    with pytest.raises(
        DataFormatError, match=r"must have shape \(n_trials, Z, Y, X\).*got \(12, 3, 5\)"
    ):
        read_nsd_betas(bdir / "betas_session01.hdf5")
    with h5py.File(bdir / "betas_session01.hdf5", "w") as h5:
        h5["beta"] = np.zeros((truth["tps"], 3, 5, 4), dtype=np.int16)
    with pytest.raises(DataFormatError, match=r"lacks the key\(s\) \['betas'\]"):
        read_nsd_betas(bdir / "betas_session01.hdf5")
    # a mask from another grid (func1mm vs func1pt8mm)
    with pytest.raises(
        DataFormatError, match=r"`mask` must have the grid shape.*\(4, 5, 3\); got \(4, 5, 4\)"
    ):
        read_nsd_betas(bdir / "betas_session02.hdf5", mask=np.ones((4, 5, 4), bool))
    with pytest.raises(ValueError, match=r"ending in \.hdf5, \.nii\.gz or \.mgh"):
        other = tmp_path / "betas.npy"
        other.write_bytes(b"x")
        read_nsd_betas(other)


def test_read_nsd_design_and_table_errors(nsd_copy):
    import pandas as pd
    import scipy.io

    root, _ = nsd_copy
    mat = root / EXPDESIGN
    good = scipy.io.loadmat(mat)
    mat.write_bytes(b"garbage" * 40)
    with pytest.raises(DataFormatError, match=r"nsd_expdesign\.mat' is not a readable MATLAB"):
        read_nsd_expdesign(mat)
    scipy.io.savemat(
        mat, {"masterordering": good["masterordering"] - 1, "subjectim": good["subjectim"]}
    )
    with pytest.raises(
        DataFormatError, match=r"`masterordering` .* must hold MATLAB 1-based indices.*minimum of 0"
    ):
        read_nsd_expdesign(mat)
    scipy.io.savemat(mat, {"subjectim": good["subjectim"]})
    with pytest.raises(DataFormatError, match=r"lacks the key\(s\) \['masterordering'\]"):
        read_nsd_expdesign(mat)
    scipy.io.savemat(mat, {k: v for k, v in good.items() if not k.startswith("__")})

    csv = root / STIMINFO
    table = pd.read_csv(csv, index_col=0)
    table.drop(columns=["cocoId"]).to_csv(csv)
    with pytest.raises(DataFormatError, match=r"lacks the column\(s\) \['cocoId'\]"):
        read_nsd(root, 1)
    bad = table.copy()
    bad["subject1_rep1"] = bad["subject1_rep1"].where(
        bad["subject1_rep1"] == 0, bad["subject1_rep1"] + 1
    )
    bad.to_csv(csv)
    with pytest.raises(
        DataFormatError,
        match=r"`subject1_rep1` of the NSD stimulus table '.*nsd_stim_info_merged\.csv' "
        r"disagrees with the design '.*nsd_expdesign\.mat': 73k id \d+ is presented at "
        r"1-based trial \d+",
    ):
        read_nsd(root, 1)
    bad = table.copy()
    bad["shared1000"] = False
    bad.to_csv(csv)
    with pytest.raises(
        DataFormatError,
        match=r"`shared1000` .*merged\.csv' disagrees with `sharedix` .*nsd_expdesign\.mat'",
    ):
        read_nsd(root, 1)
    bad = table.copy()
    bad["shared1000"] = "maybe"
    bad.to_csv(csv)
    with pytest.raises(DataFormatError, match=r"`shared1000` .* must be boolean.*'maybe'"):
        read_nsd_stiminfo(csv)
    table.iloc[:5].to_csv(csv)
    with pytest.raises(
        DataFormatError, match=r"table '.*nsd_stim_info_merged\.csv' lacks the 73k id\(s\)"
    ):
        read_nsd(root, 1)


def test_read_nsd_stimuli_errors(nsd_copy):
    import h5py

    root, _ = nsd_copy
    path = root / "nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5"
    with h5py.File(path, "w") as h5:
        h5["imgBrick"] = np.zeros((3, 4, 4), dtype=np.uint8)
    with pytest.raises(
        DataFormatError, match=r"`imgBrick` .* \(n_images, height, width, 3\); got \(3, 4, 4\)"
    ):
        read_nsd_stimuli(path)
    path.write_bytes(b"garbage" * 30)
    with pytest.raises(DataFormatError, match=r"NSD stimuli file .* not a readable HDF5"):
        read_nsd_stimuli(root)
    path.unlink()
    with pytest.raises(
        FileNotFoundError, match=r"NSD stimuli file .* not found.*nsd_stimuli\.hdf5"
    ):
        read_nsd_stimuli(root)


def test_read_nsd_zscore_constant_target_and_corrupt_mgh(nsd_copy):
    import h5py

    root, truth = nsd_copy
    raw = np.transpose(np.round(truth["psc"][(1, 1)] * 300), (0, 3, 2, 1)).astype(np.int16)
    raw[:, 0, 0, 0] = 450  # voxel (0, 0, 0) is constant in session 1 (out of the field of view)
    with h5py.File(root / BETAS / "betas_session01.hdf5", "w") as h5:
        h5["betas"] = raw
    ts = read_nsd(root, 1, zscore_sessions=True)
    assert ts.metadata["n_constant_targets"] == {1: 1, 2: 0}
    first = np.flatnonzero(ts.space.mask.ravel())[0] == 0  # voxel (0, 0, 0) is in the mask
    assert first
    np.testing.assert_array_equal(ts.data[ts.trials["session"] == 1, 0], 0.0)
    assert np.all(np.isfinite(ts.data))
    mgh = root / "nsddata_betas/ppdata/subj01/fsaverage/betas_fithrf_GLMdenoise_RR"
    (mgh / "rh.betas_session02.mgh").write_bytes(b"garbage" * 20)
    with pytest.raises(DataFormatError, match=r"rh\.betas_session02\.mgh' is not a readable image"):
        read_nsd(root, 1, space="fsaverage", sessions=[2])


def test_read_nsd_index_and_table_content_errors(nsd_copy, tmp_path):
    import h5py
    import nibabel as nib
    import pandas as pd
    import scipy.io

    root, truth = nsd_copy
    mat = root / EXPDESIGN
    good = {k: v for k, v in scipy.io.loadmat(mat).items() if not k.startswith("__")}
    scipy.io.savemat(mat, {**good, "masterordering": good["masterordering"] + 0.5})
    with pytest.raises(DataFormatError, match=r"`masterordering` in .* must hold integer indices"):
        read_nsd_expdesign(mat)
    n_images = good["subjectim"].shape[1]
    bad_order = good["masterordering"].copy()
    bad_order[0, 0] = n_images + 1  # a column subjectim does not have
    scipy.io.savemat(mat, {**good, "masterordering": bad_order})
    with pytest.raises(
        DataFormatError, match=rf"must index 1\.\.{n_images}; got a maximum of {n_images + 1}"
    ):
        read_nsd_expdesign(mat)
    # MATLAB v7.3 files are HDF5 behind a 512-byte user block holding the MAT header.
    with h5py.File(tmp_path / "v73.mat", "w", userblock_size=512) as h5:
        h5["masterordering"] = np.ones((3, 1))
    header = b"MATLAB 7.3 MAT-file".ljust(116) + b"\x00" * 8 + b"\x00\x02" + b"IM"
    raw = (tmp_path / "v73.mat").read_bytes()
    (tmp_path / "v73.mat").write_bytes(header + raw[len(header) :])
    with pytest.raises(DataFormatError, match=r"v73\.mat' must be a MATLAB v5 \.mat file"):
        read_nsd_expdesign(tmp_path / "v73.mat")
    scipy.io.savemat(mat, good)

    csv = root / STIMINFO
    table = pd.read_csv(csv, index_col=0)
    table.assign(nsdId=table["nsdId"] + 0.5).to_csv(csv)
    with pytest.raises(DataFormatError, match=r"`nsdId` of .* 0-based integer 73k ids; got dtype"):
        read_nsd_stiminfo(csv)
    table.assign(nsdId=table["nsdId"].where(table["nsdId"] != 1, 0)).to_csv(csv)
    with pytest.raises(DataFormatError, match=r"`nsdId` of .* must be unique"):
        read_nsd_stiminfo(csv)
    table.to_csv(csv)

    roi = root / "nsddata/ppdata/subj01/func1pt8mm/roi/nsdgeneral.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros(truth["grid"], np.int16) - 1, truth["affine"]), roi)
    with pytest.raises(DataFormatError, match=r"nsdgeneral\.nii\.gz' selects no voxel"):
        read_nsd(root, 1)
    for f in (root / BETAS).glob("betas_session*.hdf5"):
        f.unlink()
    with pytest.raises(FileNotFoundError, match=r"expected betas_sessionNN files in .*GLMdenoise"):
        read_nsd(root, 1, mask=None)
