"""read_brain_treebank on a tiny release in the real layout."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _fixtures_brain_treebank import CLEAN_LABELS, SFREQ, make_brain_treebank

from brainalign.exceptions import DataFormatError
from brainalign.io import read_brain_treebank


def _quickstart_sample(t, trig, is_start=True):
    """The braintreebank.dev quickstart: nearest trigger by movie_time (idxmin: first on ties).

    It stops at the first word that *starts* after the last trigger; ends are always mapped.
    """
    if not np.isfinite(t) or (is_start and t > trig["movie_time"].iloc[-1]):
        return np.nan
    k = (trig["movie_time"] - t).abs().idxmin()
    return round(trig.loc[k, "index"] + (t - trig.loc[k, "movie_time"]) * SFREQ)


def test_round_trip_and_word_clock(tmp_path):
    truth = make_brain_treebank(tmp_path)
    rec = read_brain_treebank(tmp_path, 1, 0)
    # corrupted F3aOFa3 and the trigger channels DC1 / TRIG4 are dropped by default
    assert rec.space.kind == "electrodes"
    assert rec.space.labels == ["F3aOFa2", "F3aOFa4", "T1b2"]
    cols = [CLEAN_LABELS.index(x) for x in rec.space.labels]
    np.testing.assert_array_equal(rec.data, truth["signals"][cols].T.astype(np.float32))
    assert rec.data.dtype == np.float32 and rec.data.shape == (truth["n_samples"], 3)
    assert rec.sfreq == SFREQ and rec.modality == "ieeg"
    np.testing.assert_allclose(rec.times, np.arange(truth["n_samples"]) / SFREQ)
    assert rec.subject == "sub_1" and rec.run == "trial000" and rec.task == "Fantastic Mr. Fox"
    md = rec.metadata
    assert md["movie"] == "fantastic-mr-fox"
    assert md["n_ignored_h5_channels"] == 1  # subject 1's extra trailing channel
    assert md["dropped_electrodes"] == {"corrupted": ["F3aOFa3"], "trigger": ["DC1", "TRIG4"]}
    assert md["raw_labels"][0] == "F3aOFa2*"

    # coordinates from depth-wm.csv (mm -> m), NaN for the electrode it lacks
    assert rec.space.coord_frame == "LIP"
    np.testing.assert_allclose(
        rec.space.coords[:2], [[0.010, -0.020, 0.030], [0.012, -0.022, 0.0325]]
    )
    assert np.isnan(rec.space.coords[2]).all()

    # every word is kept in metadata, with the quickstart's sample on the neural clock
    words = md["words"]
    src = truth["words"]
    assert len(words) == len(src) and words["word_row"].tolist() == list(range(len(src)))
    expected = np.array([_quickstart_sample(t, truth["trig"]) for t in src["start"]])
    expected_end = np.array([_quickstart_sample(t, truth["trig"], False) for t in src["end"]])
    expected[~np.isfinite(expected_end)] = np.nan
    np.testing.assert_array_equal(words["sample"], expected)
    np.testing.assert_allclose(words["onset"], expected / SFREQ)
    placed = np.isfinite(expected)
    np.testing.assert_allclose(words["duration"][placed], (expected_end - expected)[placed] / SFREQ)
    # 1.51 s is nearer the trigger at 2 s; the drift makes that visible in the sample
    assert words.loc[3, "sample"] == round(truth["trig"].loc[2, "index"] - 0.49 * SFREQ)
    # extra columns kept, movie times renamed
    for col in ("pos", "gpt2_surprisal", "is_onset", "sentence", "word_idx"):
        assert col in rec.events.columns
    np.testing.assert_array_equal(words["movie_start"], src["start"])

    # events: the placed words, all inside this recording
    assert rec.events["text"].tolist() == src["text"][placed].tolist()
    assert (rec.events["type"] == "Word").all()
    assert md["n_words_outside_run"] == {"before": 0, "after": 0, "no_sample": 2}
    # the word from 3.95 to 4.1 s ends after the last trigger (4 s): mapped through it
    assert words.loc[7, "end_sample"] == round(truth["trig"].loc[4, "index"] + 0.1 * SFREQ)
    # a word onset indexes the right sample of `data`
    first = int(rec.events["sample"].iloc[0])
    assert rec.times[first] == rec.events["onset"].iloc[0]


def test_window_picks_and_options(tmp_path):
    truth = make_brain_treebank(tmp_path)
    rec = read_brain_treebank(
        tmp_path, "sub_1", "trial000", electrodes=["T1b_2", "F3aOFa3"], tmin=1.5, tmax=3.0
    )
    assert rec.space.labels == ["T1b2", "F3aOFa3"]
    first, last = int(np.ceil(1.5 * SFREQ)), int(np.floor(3.0 * SFREQ)) + 1
    np.testing.assert_array_equal(
        rec.data, truth["signals"][[3, 1], first:last].T.astype(np.float32)
    )
    np.testing.assert_allclose(rec.times, np.arange(first, last) / SFREQ)
    assert rec.metadata["first_sample"] == first
    ev = rec.events["onset"].to_numpy()
    assert ev.min() >= first / SFREQ and ev.max() < last / SFREQ
    out = rec.metadata["n_words_outside_run"]
    assert out["before"] + out["after"] + out["no_sample"] + len(ev) == len(truth["words"])
    assert out["before"] > 0 and out["after"] > 0
    assert rec.metadata["words"]["in_run"].sum() == len(ev)

    one = read_brain_treebank(tmp_path, 1, 0, electrodes="T1b_2", tmax=0.01)
    assert one.space.labels == ["T1b2"]  # a single label, not its characters
    every = read_brain_treebank(
        tmp_path, 1, 0, drop_corrupted=False, drop_triggers=False, coordinates=False
    )
    assert every.space.labels == CLEAN_LABELS and every.space.coords is None
    # without the localization file, no coordinates
    (tmp_path / "localization" / "sub_1" / "depth-wm.csv").unlink()
    assert read_brain_treebank(tmp_path, 1, 0).space.coords is None


def test_events_outside_the_recording_stay_in_metadata(tmp_path):
    """A word mapped before the first sample is not an event (the run-span check refuses it)."""
    make_brain_treebank(tmp_path, lead_in=0.0)
    rec = read_brain_treebank(tmp_path, 1, 0)
    words = rec.metadata["words"]
    assert rec.metadata["n_words_outside_run"]["before"] == 0
    rec = read_brain_treebank(tmp_path, 1, 0, tmin=0.5)
    assert rec.metadata["n_words_outside_run"]["before"] == 1  # the word at 0.12 s
    with pytest.raises(ValueError, match="must lie within the run"):
        rec.copy(events=words[words["sample"].notna()].drop(columns="in_run"))


def test_file_columns_named_like_ours_are_kept(tmp_path):
    import pandas as pd

    make_brain_treebank(tmp_path)
    feats = tmp_path / "transcripts" / "fantastic-mr-fox" / "features.csv"
    words = pd.read_csv(feats, index_col=0)
    words["onset"] = 7.0
    words["sample"] = -1
    words.to_csv(feats)
    rec = read_brain_treebank(tmp_path, 1, 0)
    assert (rec.events["onset_features_csv"] == 7.0).all()
    assert (rec.events["sample_features_csv"] == -1).all()
    assert (rec.events["sample"] >= 0).all()


def test_errors(tmp_path):
    import h5py
    import pandas as pd

    with pytest.raises(ValueError, match="`subject` must be a subject number"):
        read_brain_treebank(tmp_path, "one", 0)
    with pytest.raises(ValueError, match="`trial` must be a trial number"):
        read_brain_treebank(tmp_path, 1, "first")
    with pytest.raises(FileNotFoundError, match="electrode labels of sub_1 not found"):
        read_brain_treebank(tmp_path, 1, 0)

    make_brain_treebank(tmp_path)
    h5_path = tmp_path / "all_subject_data" / "sub_1_trial000.h5"
    with pytest.raises(
        ValueError, match=r"`electrodes` must be labels of sub_1; got unknown .*'Z9'"
    ):
        read_brain_treebank(tmp_path, 1, 0, electrodes=["Z9"])
    with pytest.raises(ValueError, match=r"window `tmin`=10.0, `tmax`=None s holds no sample"):
        read_brain_treebank(tmp_path, 1, 0, tmin=10.0)
    with pytest.raises(
        FileNotFoundError, match=r"neural data not found: expected .*sub_1_trial001"
    ):
        read_brain_treebank(tmp_path, 1, 1)

    # corrupt HDF5 (garbage bytes)
    good = h5_path.read_bytes()
    h5_path.write_bytes(b"\x89garbage" * 50)
    with pytest.raises(DataFormatError, match=r"sub_1_trial000.h5' is not a readable HDF5 file"):
        read_brain_treebank(tmp_path, 1, 0)
    h5_path.write_bytes(good)

    with h5py.File(h5_path, "a") as f:
        del f["data/electrode_3"]
    with pytest.raises(
        DataFormatError,
        match=r"lacks the dataset\(s\) data/\['electrode_3'\] for electrodes \['T1b2'\]",
    ):
        read_brain_treebank(tmp_path, 1, 0)
    with h5py.File(h5_path, "a") as f:
        f["data/electrode_3"] = np.zeros(100)
    with pytest.raises(
        DataFormatError,
        match=r"must be 1-D with the same length; got electrode_0 shape \(12288,\) and electrode_3 shape \(100,\)",
    ):
        read_brain_treebank(tmp_path, 1, 0)
    with h5py.File(h5_path, "a") as f:
        del f["data"]
    with pytest.raises(DataFormatError, match=r"lacks the key\(s\) \['data'\]"):
        read_brain_treebank(tmp_path, 1, 0)

    make_brain_treebank(tmp_path)  # restore
    timings = tmp_path / "subject_timings" / "sub_1_trial000_timings.csv"
    trig = pd.read_csv(timings)
    trig.drop(columns="index").to_csv(timings, index=False)
    with pytest.raises(
        DataFormatError,
        match=r"trigger timings of sub_1_trial000 at .* lacks the column\(s\) \['index'\]",
    ):
        read_brain_treebank(tmp_path, 1, 0)
    trig.iloc[:0].to_csv(timings, index=False)
    with pytest.raises(DataFormatError, match="has no rows"):
        read_brain_treebank(tmp_path, 1, 0)
    trig.to_csv(timings, index=False)

    feats = tmp_path / "transcripts" / "fantastic-mr-fox" / "features.csv"
    words = pd.read_csv(feats, index_col=0)
    bad = words.copy()
    bad.loc[0, "end"] = 0.05  # ends before its start (0.12 s)
    bad.to_csv(feats)
    with pytest.raises(DataFormatError, match=r"word row 0 \('Hello'\) ends before it starts"):
        read_brain_treebank(tmp_path, 1, 0)
    feats.write_bytes(b"")
    with pytest.raises(DataFormatError, match="is not a readable CSV file"):
        read_brain_treebank(tmp_path, 1, 0)
    words.to_csv(feats)

    meta = tmp_path / "subject_metadata" / "sub_1_trial000_metadata.json"
    meta.write_text(json.dumps({"title": "x"}))
    with pytest.raises(DataFormatError, match="must be a JSON object with a 'filename'"):
        read_brain_treebank(tmp_path, 1, 0)
    meta.write_text("{broken")
    with pytest.raises(
        DataFormatError, match=r"trial metadata of sub_1_trial000 at .* is not valid JSON"
    ):
        read_brain_treebank(tmp_path, 1, 0)

    (tmp_path / "corrupted_elec.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"corrupted_elec\.json not found"):
        read_brain_treebank(tmp_path, 1, 0)


def test_no_electrode_left(tmp_path):
    make_brain_treebank(tmp_path)
    labels_file = tmp_path / "electrode_labels" / "sub_1" / "electrode_labels.json"
    labels = json.loads(labels_file.read_text())
    (tmp_path / "corrupted_elec.json").write_text(json.dumps({"sub_1": labels}))
    with pytest.raises(ValueError, match="No electrode left to read for sub_1: all were dropped"):
        read_brain_treebank(tmp_path, 1, 0)
