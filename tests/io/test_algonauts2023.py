"""Algonauts 2023 reader on a tiny subject folder in the real layout."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from _fixtures_algonauts import make_algonauts2023

from brainalign.data import TrialSet
from brainalign.exceptions import DataFormatError
from brainalign.io import read_algonauts2023

TRAIN_FMRI = "subj01/training_split/training_fmri"
TRAIN_IMAGES = "subj01/training_split/training_images"
ROI = "subj01/roi_masks"


@pytest.fixture(scope="module")
def a23(tmp_path_factory):
    root = tmp_path_factory.mktemp("algonauts2023")
    return root, make_algonauts2023(root)


@pytest.fixture
def a23_copy(a23, tmp_path):
    root, truth = a23
    dst = tmp_path / "a23"
    shutil.copytree(root, dst)
    return dst, truth


def test_read_algonauts2023_train_round_trip(a23):
    root, truth = a23
    ts = read_algonauts2023(root, "subj01")
    assert isinstance(ts, TrialSet) and ts.subject == "subj01"
    lh, rh = truth[("train", "lh")], truth[("train", "rh")]
    np.testing.assert_array_equal(ts.data, np.concatenate([lh, rh], axis=1))
    assert ts.data.dtype == np.float32
    # file names: 1-based row, 0-based 73k id (the stim_id convention of read_nsd)
    np.testing.assert_array_equal(ts.trials["image_index"], np.arange(1, 7))
    np.testing.assert_array_equal(ts.trials["stim_id"], truth["train_ids"])
    np.testing.assert_array_equal(ts.trials["nsd_id"], truth["train_ids"])
    assert ts.trials["image_file"][0].endswith(f"train-0001_nsd-{truth['train_ids'][0]:05d}.png")
    assert (ts.trials["split"] == "train").all()
    # space: left challenge vertices then right, each mapped onto fsaverage by the masks
    assert ts.space.kind == "surface" and ts.space.name == "algonauts2023_challenge"
    assert ts.space.hemi_slices == {"left": slice(0, 5), "right": slice(5, 9)}
    md = ts.metadata
    np.testing.assert_array_equal(md["fsaverage_vertices"]["left"], truth[("vertices", "lh")])
    np.testing.assert_array_equal(md["fsaverage_vertices"]["right"], truth[("vertices", "rh")])
    full = np.zeros(md["n_vertices_per_hemi"])
    full[md["fsaverage_vertices"]["right"]] = ts.data[2, ts.space.hemi_slices["right"]]
    np.testing.assert_array_equal(full[truth[("vertices", "rh")]], rh[2])
    assert np.count_nonzero(full) == rh.shape[1]
    # ROI masks over the concatenated targets
    v1v = md["rois"]["prf-visualrois"]["V1v"]
    expected = np.concatenate(
        [truth[("prf-visualrois", "lh")] == 1, truth[("prf-visualrois", "rh")] == 1]
    )
    np.testing.assert_array_equal(v1v, expected)
    assert set(md["rois"]) == {"prf-visualrois", "floc-faces"}
    assert set(md["rois"]["floc-faces"]) == {"OFA", "FFA-1"}  # id 0 ("Unknown") left out
    assert "rois" not in read_algonauts2023(root, 1, rois=False).metadata


def test_read_algonauts2023_test_split(a23, tmp_path):
    root, truth = a23
    ts = read_algonauts2023(root, 1, "test")
    np.testing.assert_array_equal(ts.trials["stim_id"], truth["test_ids"])
    np.testing.assert_array_equal(ts.data[:, :5], truth[("test", "lh")])
    assert ts.trials["image_file"][0].endswith(f"test-0001_nsd-{truth['test_ids'][0]:05d}.png")
    other = tmp_path / "challenge"
    make_algonauts2023(other, subject=2, test_fmri=False)
    with pytest.raises(FileNotFoundError, match=r"test responses not found.*released afterwards"):
        read_algonauts2023(other, 2, "test")
    assert read_algonauts2023(other, "02").n_trials == 6


def test_read_algonauts2023_parameter_errors(a23):
    root, _ = a23
    with pytest.raises(
        ValueError, match=r"`subject` must be an Algonauts 2023 subject 1\.\.8.*got 9"
    ):
        read_algonauts2023(root, 9)
    with pytest.raises(ValueError, match="`split` must be one of"):
        read_algonauts2023(root, 1, "val")
    with pytest.raises(FileNotFoundError, match="Algonauts 2023 folder of subj03 not found"):
        read_algonauts2023(root, 3)


def test_read_algonauts2023_file_errors(a23_copy):
    root, truth = a23_copy
    lh = root / TRAIN_FMRI / "lh_training_fmri.npy"
    rh = root / TRAIN_FMRI / "rh_training_fmri.npy"
    np.save(rh, truth[("train", "rh")][:5])
    with pytest.raises(
        DataFormatError,
        match=r"lh and rh responses in .*training_fmri. must have as many images \(rows\); "
        r"got lh \(6, 5\), rh \(5, 4\)",
    ):
        read_algonauts2023(root, 1)
    np.save(rh, truth[("train", "rh")])
    np.save(lh, truth[("train", "lh")][0])
    with pytest.raises(
        DataFormatError,
        match=r"must be a float array \(n_images, n_vertices\); got dtype float32, shape \(5,\)",
    ):
        read_algonauts2023(root, 1)
    lh.write_bytes(b"garbage" * 20)
    with pytest.raises(
        DataFormatError, match=r"lh responses .*lh_training_fmri\.npy' is not a readable \.npy"
    ):
        read_algonauts2023(root, 1)
    np.save(lh, truth[("train", "lh")])

    images = root / TRAIN_IMAGES
    first = sorted(images.iterdir())[0]
    first.rename(images / "train-1_nsd13.png")
    with pytest.raises(
        DataFormatError,
        match=r"must be named like 'train-0001_nsd-00013\.png'.*'train-1_nsd13\.png'",
    ):
        read_algonauts2023(root, 1)
    (images / "train-1_nsd13.png").unlink()
    with pytest.raises(DataFormatError, match=r"numbered 1\.\.5 without gaps.*missing \[1\]"):
        read_algonauts2023(root, 1)
    shutil.copy(sorted(images.iterdir())[0], images / "train-0001_nsd-00001.png")
    (images / sorted(p.name for p in images.iterdir())[-1]).unlink()
    with pytest.raises(
        DataFormatError, match=r"responses have 6 rows \(images\) but .* has 5 images"
    ):
        read_algonauts2023(root, 1)


def test_read_algonauts2023_mask_errors(a23_copy):
    root, _ = a23_copy
    mask = root / ROI / "lh.all-vertices_fsaverage_space.npy"
    good = np.load(mask)
    bad = good.copy()
    bad[np.flatnonzero(bad == 0)[0]] = 1
    np.save(mask, bad)
    with pytest.raises(
        DataFormatError, match=r"selects 6 fsaverage vertices but the lh responses have 5 columns"
    ):
        read_algonauts2023(root, 1)
    np.save(mask, good)
    np.save(root / ROI / "rh.floc-faces_challenge_space.npy", np.zeros(7, int))
    with pytest.raises(DataFormatError, match=r"one value per rh challenge vertex \(4\); got 7"):
        read_algonauts2023(root, 1)
    np.save(root / ROI / "mapping_floc-faces.npy", np.arange(3))
    with pytest.raises(DataFormatError, match=r"must hold a dict ROI id -> name; got ndarray"):
        read_algonauts2023(root, 1)
    (root / ROI / "mapping_floc-faces.npy").write_bytes(b"garbage" * 10)
    with pytest.raises(DataFormatError, match=r"ROI mapping 'floc-faces' .* not a readable \.npy"):
        read_algonauts2023(root, 1)
    assert read_algonauts2023(root, 1, rois=False).n_targets == 9
    shutil.rmtree(root / ROI)
    with pytest.raises(FileNotFoundError, match="roi_masks folder of subj01 not found"):
        read_algonauts2023(root, 1, rois=False)


def test_read_algonauts2023_image_id_and_hemisphere_errors(a23_copy):
    root, truth = a23_copy
    images = root / TRAIN_IMAGES
    first, second = (f"train-{i:04d}_nsd-{int(truth['train_ids'][i - 1]):05d}.png" for i in (1, 2))
    repeated = images / f"train-0002_nsd-{int(truth['train_ids'][0]):05d}.png"
    (images / second).rename(repeated)  # image 2 named with the 73k id of image 1
    with pytest.raises(
        DataFormatError,
        match=rf"must show distinct 73k ids; got nsd-{int(truth['train_ids'][0]):05d} twice",
    ):
        read_algonauts2023(root, 1)
    repeated.rename(images / second)
    assert (images / first).is_file()
    mask = root / ROI / "rh.all-vertices_fsaverage_space.npy"
    np.save(mask, np.concatenate([np.load(mask), np.zeros(3, int)]))
    with pytest.raises(DataFormatError, match=r"same length for lh and rh .*got 30 and 33"):
        read_algonauts2023(root, 1, rois=False)
