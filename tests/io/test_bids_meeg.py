"""BIDS MEG / EEG / iEEG reader (mne-bids): data, full events table on the raw clock, spaces."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from _fixtures_bids import (
    EEG_CHANNELS,
    IEEG_CHANNELS,
    make_bids_eeg,
    make_bids_ieeg,
    make_bids_meg,
    masc_trial_types,
    write_tsv,
)

from brainalign.exceptions import DataFormatError
from brainalign.io import read_bids_meeg


@pytest.fixture
def eeg(tmp_path):
    return make_bids_eeg(tmp_path / "eeg" / "bids")


@pytest.fixture
def meg(tmp_path):
    return make_bids_meg(tmp_path / "meg" / "bids")


def _events_tsv(bids_path):
    return bids_path.copy().update(suffix="events", extension=".tsv").fpath


# ---------------------------------------------------------------------------- EEG
def test_eeg_round_trip(eeg):
    from mne_bids import read_raw_bids

    rec = read_bids_meeg(eeg["bids_path"])
    assert rec.modality == "eeg" and rec.sfreq == 100.0
    assert rec.data.shape == (1000, 4)
    # float32 µV on disk: the volts come back to float32 precision.
    np.testing.assert_allclose(rec.data, eeg["data"].T, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(rec.times, np.arange(1000) / 100.0)
    assert (rec.subject, rec.session, rec.run, rec.task) == ("01", "0", "1", "listen")
    assert rec.space.kind == "sensors" and rec.space.labels == EEG_CHANNELS
    assert rec.space.info["ch_names"] == EEG_CHANNELS
    assert rec.space.info.get_montage() is not None  # electrodes.tsv → positions

    ev = rec.events
    np.testing.assert_allclose(ev["onset"], [1.0, 2.5, 2.5, 7.25])
    assert ev["type"].tolist() == ["word", "sound", "word", "sound"]
    assert ev["word"].tolist()[::2] == ["hi", "there"] and ev["word"].isna().tolist()[1::2] == [
        True,
        True,
    ]
    assert ev["sample"].tolist() == [100, 250, 250, 725] and "value" in ev
    # The same clock as mne-bids' annotations (reference reader).
    raw = read_raw_bids(eeg["bids_path"], verbose=False)
    ann = raw.annotations
    np.testing.assert_allclose(sorted(ann.onset - raw.first_time), ev["onset"])
    assert sorted(ann.description) == sorted(ev["type"])
    md = rec.metadata
    assert md["source"]["events"].endswith("sub-01_ses-0_task-listen_run-1_events.tsv")
    assert md["mne_bids_warnings"] == [] and md["sfreq_original"] == 100.0


def test_eeg_by_entities_keeps_rows_mne_bids_drops(eeg):
    path = _events_tsv(eeg["bids_path"])
    df = pd.read_csv(path, sep="\t", keep_default_na=False)
    extra = pd.DataFrame(
        {"onset": [8.0], "duration": ["n/a"], "trial_type": ["n/a"], "value": ["n/a"]}
    )
    write_tsv(path, pd.concat([df, extra], ignore_index=True))
    rec = read_bids_meeg(bids_root=eeg["bids_path"].root, subject="01", task="listen")
    assert len(rec.events) == 5  # mne-bids drops the n/a trial_type row from annotations
    last = rec.events.iloc[-1]
    assert (last["onset"], last["duration"], last["type"]) == (8.0, 0.0, "Event")
    assert rec.metadata["events_na_duration_as_zero"] == 1


def test_picks_and_resample(eeg):
    from mne_bids import read_raw_bids

    rec = read_bids_meeg(eeg["bids_path"], picks=["Fz", "Pz"], resample=50.0)
    raw = read_raw_bids(eeg["bids_path"], verbose=False).pick(["Fz", "Pz"])
    ref = raw.load_data().resample(50.0, verbose=False).get_data().T
    assert rec.sfreq == 50.0 and rec.data.shape == (500, 2)
    np.testing.assert_allclose(rec.data, ref)
    np.testing.assert_allclose(rec.events["onset"], [1.0, 2.5, 2.5, 7.25])  # seconds unchanged
    assert rec.events["sample"].tolist()[0] == 100  # original sample numbers
    assert rec.metadata["sfreq_original"] == 100.0 and rec.space.labels == ["Fz", "Pz"]
    assert rec.metadata["preprocessing"] == ["resampled 100 -> 50 Hz"]
    with pytest.raises(ValueError, match=r"`picks`='mag' selects no channel .*\['eeg'\]"):
        read_bids_meeg(eeg["bids_path"], picks="mag")
    with pytest.raises(ValueError, match="`resample` must be a positive rate in Hz; got -1"):
        read_bids_meeg(eeg["bids_path"], resample=-1)


# ---------------------------------------------------------------------------- iEEG
@pytest.mark.parametrize("strip_space", [True, False])
def test_ieeg_electrodes(tmp_path, strip_space):
    out = make_bids_ieeg(tmp_path / "bids", strip_space=strip_space)
    if strip_space:  # the real layout: no space- entity on the run files
        rec = read_bids_meeg(bids_root=tmp_path / "bids", subject="01", task="movie")
    else:  # mne-bids 0.20's own layout, read from the data file path
        rec = read_bids_meeg(out["bids_path"].fpath)
    assert rec.modality == "ieeg" and rec.data.shape == (2000, 4)
    np.testing.assert_allclose(rec.data, out["data"].T, rtol=1e-6, atol=1e-12)
    assert rec.space.kind == "electrodes" and rec.space.labels == IEEG_CHANNELS
    np.testing.assert_allclose(rec.space.coords, out["coords"])
    assert rec.space.coord_frame == "fsaverage"
    assert rec.space.info["ch_names"] == IEEG_CHANNELS
    assert set(rec.metadata["channel_types"]) == {"seeg"}
    assert rec.metadata["source"]["electrodes"].endswith(
        "sub-01_ses-0_space-fsaverage_electrodes.tsv"
    )
    np.testing.assert_allclose(rec.events["onset"], [0.5, 4.0])


def test_ieeg_millimetres_and_missing_channels(tmp_path):
    out = make_bids_ieeg(tmp_path / "bids")
    ddir = out["bids_path"].directory
    elec = ddir / "sub-01_ses-0_space-fsaverage_electrodes.tsv"
    df = pd.read_csv(elec, sep="\t", keep_default_na=False)
    df[["x", "y", "z"]] = df[["x", "y", "z"]].astype(float) * 1000
    write_tsv(elec, df.iloc[:3])  # RH1 has no position
    coordsys = ddir / "sub-01_ses-0_space-fsaverage_coordsystem.json"
    meta = json.loads(coordsys.read_text())
    coordsys.write_text(json.dumps({**meta, "iEEGCoordinateUnits": "mm"}))
    # mne-bids cannot build a montage from the partial file; it warns, and we record it.
    rec = read_bids_meeg(out["bids_path"])
    np.testing.assert_allclose(rec.space.coords[:3], out["coords"][:3])
    assert np.isnan(rec.space.coords[3]).all()
    assert rec.metadata["channels_without_position"] == ["RH1"]
    assert rec.metadata["coordinate_units"] == "mm"
    assert any("subset of info" in w for w in rec.metadata["mne_bids_warnings"])
    coordsys.write_text(json.dumps({**meta, "iEEGCoordinateUnits": "pixels"}))
    with pytest.raises(
        DataFormatError, match=r"units in .*coordsystem.json' must be one of .*got 'pixels'"
    ):
        read_bids_meeg(out["bids_path"])


# ---------------------------------------------------------------------------- MEG / MEG-MASC
def test_meg_clock_and_dict_trial_types(meg):
    rec = read_bids_meeg(bids_root=meg["bids_path"].root, subject="01", task="0")
    assert rec.modality == "meg" and rec.data.shape == (2500, 5)  # stim channel not picked
    np.testing.assert_allclose(rec.data, meg["data"].T)
    assert rec.space.kind == "sensors" and rec.space.info["sfreq"] == 250.0
    assert rec.metadata["first_time"] == pytest.approx(2.0)  # first_samp=500 at 250 Hz
    ev = rec.events
    np.testing.assert_allclose(ev["onset"], meg["onsets"])
    # Clock check: each onset lands on the sample where the spike was planted.
    idx = np.searchsorted(rec.times, ev["onset"].to_numpy())
    np.testing.assert_array_equal(np.unique(idx), np.unique(meg["spikes"]))
    assert (rec.data[idx, 0] > 1e-10).all()
    # "auto": every trial_type is a dict literal → type is its `kind`, one column per key
    # (MEG-MASC: one row per word or phoneme, with its annotations).
    kinds = [d["kind"] for d in masc_trial_types()]
    assert sorted(ev["type"]) == sorted(kinds)
    by_type = ev.set_index("type")
    assert by_type.loc["word", "word"] == "tara"
    assert by_type.loc["sound", "sound"].endswith("lw1_0.wav")
    assert set(by_type.loc["phoneme", "phoneme"]) == {"t_B", "a_E"}
    assert (by_type["story"] == "lw1").all() and by_type.loc["sound", "start"] == 0.0

    rec = read_bids_meeg(meg["bids_path"], trial_type_dicts=True)  # kind only
    assert sorted(rec.events["type"]) == sorted(kinds) and "word" not in rec.events.columns
    rec = read_bids_meeg(meg["bids_path"], trial_type_dicts=False, picks="all")
    assert rec.events["type"].str.startswith("{'kind'").all()
    assert rec.n_targets == 6


def test_bad_dict_literal(meg):
    path = _events_tsv(meg["bids_path"])
    df = pd.read_csv(path, sep="\t", keep_default_na=False)
    df.loc[2, "trial_type"] = "{'kind': 'word', 'word': }"
    write_tsv(path, df)
    with pytest.raises(
        DataFormatError, match=r"events.tsv'.*at row 2 must be a Python dict literal"
    ):
        read_bids_meeg(meg["bids_path"])


# ---------------------------------------------------------------------------- errors
def test_selection_errors(eeg, tmp_path):
    root = eeg["bids_path"].root
    with pytest.raises(FileNotFoundError, match=r"No meg/eeg/ieeg recording found .*task='rest'"):
        read_bids_meeg(bids_root=root, subject="01", task="rest")
    make_bids_eeg(root, run=2)
    with pytest.raises(
        DataFormatError, match=r"2 recordings .* expected exactly one.*run-2_eeg.vhdr"
    ):
        read_bids_meeg(bids_root=root, subject="01")
    assert read_bids_meeg(bids_root=root, subject="01", run=2).run == "2"
    with pytest.raises(FileNotFoundError, match=r"expected a data file at .*_run-7"):
        read_bids_meeg(eeg["bids_path"].copy().update(run=7))
    with pytest.raises(FileNotFoundError, match=r"expected a data file at .*nope.fif"):
        read_bids_meeg(tmp_path / "nope.fif")
    with pytest.raises(ValueError, match="`datatype` must be one of"):
        read_bids_meeg(bids_root=root, subject="01", datatype="nirs")
    with pytest.raises(ValueError, match="Pass `bids_path`, or `bids_root`"):
        read_bids_meeg()
    with pytest.raises(ValueError, match="`trial_type_dicts` must be"):
        read_bids_meeg(eeg["bids_path"], trial_type_dicts="yes")


def test_events_outside_recording(eeg):
    path = _events_tsv(eeg["bids_path"])
    df = pd.read_csv(path, sep="\t", keep_default_na=False)
    df.loc[3, "onset"] = 12.0
    write_tsv(path, df)
    with pytest.raises(
        DataFormatError, match=r"run-1_events.tsv'.*within the run \[0, 10\) s.*onset 12 s"
    ):
        read_bids_meeg(eeg["bids_path"])
    rec = read_bids_meeg(eeg["bids_path"], events_outside="drop")
    assert rec.events["onset"].max() == 2.5 and rec.metadata["events_dropped"] == 1
    # mne-bids omitted the annotation and warned; the warning is kept, not lost.
    assert any("outside data range" in w for w in rec.metadata["mne_bids_warnings"])


def test_corrupt_recording(meg):
    meg["bids_path"].fpath.write_bytes(b"this is not a FIF file")
    with pytest.raises(DataFormatError, match=r"could not read the recording .*_meg.fif"):
        read_bids_meeg(meg["bids_path"])


def test_readers_import_lightly():
    """Every reader module imports without nibabel, nilearn, mne, mne-bids or h5py."""
    code = (
        "import importlib, sys, brainalign.io\n"
        "for m in sorted(set(brainalign.io._READERS.values()) | {'_files', '_bids'}):\n"
        "    importlib.import_module('brainalign.io.' + m)\n"
        "heavy = ('nibabel', 'nilearn', 'mne', 'mne_bids', 'h5py')\n"
        "loaded = [m for m in heavy if m in sys.modules]\n"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_electrodes_file_errors(tmp_path):
    out = make_bids_ieeg(tmp_path / "bids")
    ddir = out["bids_path"].directory
    elec = ddir / "sub-01_ses-0_space-fsaverage_electrodes.tsv"
    other = ddir / "sub-01_ses-0_space-ACPC_electrodes.tsv"
    other.write_text(elec.read_text())
    with pytest.raises(DataFormatError, match=r"2 electrodes files apply .*pass `space`"):
        read_bids_meeg(out["bids_path"])
    rec = read_bids_meeg(out["bids_path"], space="fsaverage")
    np.testing.assert_allclose(rec.space.coords, out["coords"])
    other.unlink()
    # mne-bids parses electrodes.tsv first; its error comes back naming the recording.
    df = pd.read_csv(elec, sep="\t", keep_default_na=False)
    df["x"] = "left"
    write_tsv(elec, df)
    with pytest.raises(
        DataFormatError, match=r"could not read the recording .*_ieeg.vhdr.*convert string to float"
    ):
        read_bids_meeg(out["bids_path"])
    with pytest.raises(ValueError, match="`events_outside` must be one of"):
        read_bids_meeg(out["bids_path"], events_outside="keep")
