"""read_things_eeg2 and read_things_meg on tiny files in the real layouts."""

from __future__ import annotations

import numpy as np
import pytest
from _fixtures_things import EEG2_CHANNELS, EEG2_TIMES, make_things_eeg2, make_things_meg

from brainalign.exceptions import DataFormatError
from brainalign.io import read_things_eeg2, read_things_meg


def test_eeg2_round_trip(tmp_path):
    truth = make_things_eeg2(tmp_path)
    for partition, width in (("training", 5), ("test", 3)):
        arr = truth[partition]
        n_cond, n_rep = arr.shape[:2]
        ts = read_things_eeg2(tmp_path, 1, partition)
        assert ts.data.shape == (n_cond * n_rep, 17, 100) and ts.data.dtype == np.float32
        assert ts.modality == "eeg" and ts.subject == "sub-01"
        assert ts.space.kind == "sensors" and ts.space.labels == EEG2_CHANNELS
        np.testing.assert_array_equal(ts.times, EEG2_TIMES)
        assert ts.metadata["sfreq"] == pytest.approx(100.0)
        assert (ts.metadata["n_conditions"], ts.metadata["n_repetitions"]) == (n_cond, n_rep)
        # condition-major flattening: trial c * n_rep + r is arr[c, r]
        for c in range(n_cond):
            for r in range(n_rep):
                k = c * n_rep + r
                np.testing.assert_array_equal(ts.data[k], arr[c, r].astype(np.float32))
                row = ts.trials.iloc[k]
                assert (row["condition"], row["repetition"]) == (c + 1, r)
                assert row["stim_id"] == f"{partition}_{c + 1:0{width}d}"
        assert (ts.trials["partition"] == partition).all()
        # repeats average back to the per-condition mean
        avg = ts.average_repeats("stim_id")
        np.testing.assert_allclose(avg.data, arr.mean(axis=1), rtol=1e-5, atol=1e-6)
        # image metadata found at root/image_set/image_metadata.npy
        key = "train" if partition == "training" else "test"
        meta = truth["image_metadata"]
        assert ts.trials["concept"].tolist() == list(np.repeat(meta[f"{key}_img_concepts"], n_rep))
        assert ts.trials["image_file"].iloc[-1] == (
            f"{partition}_images/{meta[f'{key}_img_concepts'][-1]}/{meta[f'{key}_img_files'][-1]}"
        )


def test_eeg2_root_variants_and_no_image_metadata(tmp_path):
    truth = make_things_eeg2(tmp_path, subject=3, with_image_metadata=False)
    for root in (
        tmp_path,
        tmp_path / "eeg_dataset",
        tmp_path / "eeg_dataset" / "preprocessed_data",
    ):
        ts = read_things_eeg2(root, "sub-03", "test")
        np.testing.assert_array_equal(ts.data[0], truth["test"][0, 0].astype(np.float32))
        assert "concept" not in ts.trials.columns
        assert ts.metadata["source_files"]["image_metadata"] is None


def test_eeg2_errors(tmp_path):
    truth = make_things_eeg2(tmp_path)
    sub = tmp_path / "eeg_dataset" / "preprocessed_data" / "sub-01"
    with pytest.raises(
        ValueError, match=r"`partition` must be one of \['training', 'test'\]; got 'train'"
    ):
        read_things_eeg2(tmp_path, 1, "train")
    with pytest.raises(ValueError, match="`subject` must be a subject number"):
        read_things_eeg2(tmp_path, "s1")
    with pytest.raises(FileNotFoundError, match=r"'preprocessed_eeg_test.npy' in one of .*sub-02"):
        read_things_eeg2(tmp_path, 2, "test")

    path = sub / "preprocessed_eeg_test.npy"
    path.write_bytes(b"\x93NUMPY garbage bytes" * 5)
    with pytest.raises(DataFormatError, match=r"preprocessed_eeg_test.npy' is not a readable .npy"):
        read_things_eeg2(tmp_path, 1, "test")
    np.save(path, np.zeros((3, 5, 17, 100)))
    with pytest.raises(
        DataFormatError,
        match=r"must hold a pickled dict .*; got an array of shape \(3, 5, 17, 100\)",
    ):
        read_things_eeg2(tmp_path, 1, "test")
    arr = truth["test"]
    np.save(path, {"preprocessed_eeg_data": arr, "times": EEG2_TIMES})
    with pytest.raises(DataFormatError, match=r"lacks the key\(s\) \['ch_names'\]"):
        read_things_eeg2(tmp_path, 1, "test")
    np.save(path, {"preprocessed_eeg_data": arr[0], "ch_names": EEG2_CHANNELS, "times": EEG2_TIMES})
    with pytest.raises(
        DataFormatError, match=r"e.g. \(200, 80, 17, 100\); got shape \(5, 17, 100\)"
    ):
        read_things_eeg2(tmp_path, 1, "test")
    np.save(
        path, {"preprocessed_eeg_data": arr, "ch_names": EEG2_CHANNELS[:-1], "times": EEG2_TIMES}
    )
    with pytest.raises(DataFormatError, match=r"one name per channel \(axis 2 .*, 17\); got 16"):
        read_things_eeg2(tmp_path, 1, "test")
    np.save(
        path, {"preprocessed_eeg_data": arr, "ch_names": EEG2_CHANNELS, "times": EEG2_TIMES[:50]}
    )
    with pytest.raises(
        DataFormatError, match=r"one entry per time point \(axis 3 .*, 100\); got 50"
    ):
        read_things_eeg2(tmp_path, 1, "test")
    # channels x times swapped: caught by the names check
    swapped = np.swapaxes(arr, 2, 3)
    np.save(
        path, {"preprocessed_eeg_data": swapped, "ch_names": EEG2_CHANNELS, "times": EEG2_TIMES}
    )
    with pytest.raises(DataFormatError, match=r"one name per channel \(axis 2 .*, 100\); got 17"):
        read_things_eeg2(tmp_path, 1, "test")

    meta_path = tmp_path / "image_set" / "image_metadata.npy"
    meta = dict(truth["image_metadata"])
    meta["train_img_files"] = meta["train_img_files"][:-1]
    np.save(meta_path, meta)
    with pytest.raises(
        DataFormatError, match=r"one entry per image condition of the EEG data \(6\); got 6 and 5"
    ):
        read_things_eeg2(tmp_path, 1, "training")
    np.save(meta_path, {"train_img_files": meta["train_img_files"]})
    with pytest.raises(
        DataFormatError, match=r"image metadata at .* lacks the key\(s\) \['train_img_concepts'\]"
    ):
        read_things_eeg2(tmp_path, 1, "training")
    with pytest.raises(FileNotFoundError, match=r"THINGS-EEG2 image_metadata\.npy not found"):
        read_things_eeg2(tmp_path, 1, "training", image_metadata=tmp_path / "nope.npy")


def test_meg_round_trip(tmp_path):
    path = tmp_path / "preprocessed_P1-epo.fif"
    truth = make_things_meg(path)
    ts = read_things_meg(path)
    keep = (truth["metadata"]["trial_type"] != "catch").to_numpy()
    assert ts.metadata["n_catch_dropped"] == 2
    assert ts.data.shape == (int(keep.sum()), 5, 29) and ts.data.dtype == np.float32
    # FIF stores single precision: the float32 values come back exactly
    np.testing.assert_array_equal(ts.data, truth["data"][keep].astype(np.float32))
    np.testing.assert_allclose(ts.times, truth["times"])
    assert ts.times[0] == pytest.approx(-0.1) and ts.metadata["sfreq"] == 200.0
    assert ts.modality == "meg" and ts.space.kind == "sensors"
    assert ts.space.labels == truth["names"] and ts.space.info["sfreq"] == 200.0
    expected = truth["metadata"][keep].reset_index(drop=True)
    for col in expected.columns:
        assert ts.trials[col].tolist() == expected[col].tolist()
    assert ts.trials["stim_id"].tolist() == expected["image_nr"].tolist()
    # test images repeat: averaging them uses stim_id
    test = ts.trials["trial_type"] == "test"
    assert ts.to_repeats("stim_id").shape[1] == 1  # image 22001 shown twice
    assert int(test.sum()) == 3

    every = read_things_meg(
        path, drop_catch=False, picks=["MLO11-1609", "MRO11-1609"], chunk_size=3
    )
    assert every.data.shape == (8, 2, 29)
    np.testing.assert_array_equal(every.data, truth["data"][:, [0, 2]].astype(np.float32))
    assert every.metadata["n_catch_dropped"] == 0
    assert every.space.labels == ["MLO11-1609", "MRO11-1609"]
    assert every.trials["trial_type"].tolist() == truth["metadata"]["trial_type"].tolist()


def test_meg_errors(tmp_path):
    import mne

    with pytest.raises(FileNotFoundError, match="THINGS-MEG epochs file not found"):
        read_things_meg(tmp_path / "preprocessed_P9-epo.fif")
    garbage = tmp_path / "preprocessed_P2-epo.fif"
    garbage.write_bytes(b"not a fif file at all" * 20)
    with pytest.raises(
        DataFormatError, match=r"preprocessed_P2-epo.fif' cannot be read by mne.read_epochs"
    ):
        read_things_meg(garbage)

    path = tmp_path / "preprocessed_P1-epo.fif"
    make_things_meg(path)
    with pytest.raises(
        ValueError, match=r"`picks` must name channels of .*unknown channel\(s\) \['MZZ'\]"
    ):
        read_things_meg(path, picks=["MZZ"])
    with pytest.raises(ValueError, match="`chunk_size` must be a positive integer; got 0"):
        read_things_meg(path, chunk_size=0)
    epochs = mne.read_epochs(path, verbose="error")
    epochs.metadata = epochs.metadata.drop(columns="trial_type")
    no_type = tmp_path / "notype-epo.fif"
    epochs.save(no_type, verbose="error")
    with pytest.raises(DataFormatError, match=r"drop_catch=True needs a 'trial_type' column"):
        read_things_meg(no_type)
    assert read_things_meg(no_type, drop_catch=False).n_trials == 8

    epochs.metadata = None
    bare = tmp_path / "bare-epo.fif"
    epochs.save(bare, verbose="error")
    with pytest.raises(DataFormatError, match="has no metadata; expected the trial table"):
        read_things_meg(bare)
