"""BIDS raw fMRI reader: entities, sidecar inheritance, events on the scan clock, masking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _fixtures_bids import (
    SLICE_TIMING,
    TR,
    brain_mask_array,
    default_events,
    make_bids_func,
    save_nifti,
    write_json,
    write_tsv,
)

from brainalign.exceptions import DataFormatError
from brainalign.io import (
    parse_bids_entities,
    read_bids_func,
    read_bids_func_runs,
    read_bids_sidecar,
)


@pytest.fixture
def ds(tmp_path):
    return make_bids_func(tmp_path / "ds", runs=(1, 2))


@pytest.fixture
def mask_path(tmp_path):
    return save_nifti(tmp_path / "mask.nii.gz", brain_mask_array())


# ---------------------------------------------------------------------------- entities
def test_parse_bids_entities_raw_and_derivative_names():
    ent = parse_bids_entities("sub-01/ses-2/func/sub-01_ses-2_task-story_acq-mb_run-02_bold.nii.gz")
    assert ent == {
        "sub": "01",
        "ses": "2",
        "task": "story",
        "acq": "mb",
        "run": "02",
        "suffix": "bold",
        "extension": ".nii.gz",
    }
    assert list(ent)[:5] == ["sub", "ses", "task", "acq", "run"]
    ent = parse_bids_entities("sub-01_task-x_run-1_hemi-L_space-fsaverage5_bold.func.gii")
    assert (ent["hemi"], ent["space"], ent["extension"]) == ("L", "fsaverage5", ".func.gii")
    assert parse_bids_entities("task-story_bold.json") == {
        "task": "story",
        "suffix": "bold",
        "extension": ".json",
    }


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("sub01_task-x_bold.nii.gz", "`key-value` entities.*'sub01'"),
        ("sub-01_run-1_run-2_bold.nii.gz", "repeats the entity 'run'"),
    ],
)
def test_parse_bids_entities_errors(name, match):
    with pytest.raises(DataFormatError, match=match):
        parse_bids_entities(name)


# ---------------------------------------------------------------------------- sidecars
def test_sidecar_inheritance_more_specific_wins(ds):
    root = ds["root"]
    write_json(root / "sub-01" / "sub-01_task-story_bold.json", {"EchoTime": 0.03, "Foo": "sub"})
    write_json(
        root / "sub-01" / "func" / "sub-01_task-story_run-2_bold.json",
        {"RepetitionTime": 1.5, "Foo": "run"},
    )
    # Not applicable: another task, another run, another suffix.
    write_json(root / "task-other_bold.json", {"RepetitionTime": 9.0})
    write_json(root / "sub-01" / "func" / "sub-01_task-story_run-3_bold.json", {"Foo": "x"})
    write_json(root / "task-story_sbref.json", {"Foo": "sbref"})

    run1 = read_bids_sidecar(ds["bold"][1])
    assert run1 == {
        "TaskName": "story",
        "RepetitionTime": TR,
        "SliceTiming": SLICE_TIMING,
        "EchoTime": 0.03,
        "Foo": "sub",
    }
    run2 = read_bids_sidecar(ds["bold"][2], bids_root=root)
    assert run2["RepetitionTime"] == 1.5 and run2["Foo"] == "run" and run2["EchoTime"] == 0.03


def test_read_bids_sidecar_errors(tmp_path):
    out = make_bids_func(tmp_path / "ds", sidecar_level="none")
    with pytest.raises(FileNotFoundError, match=r"No \*_bold.json sidecar applies to .*run-1_bold"):
        read_bids_sidecar(out["bold"][1])
    (tmp_path / "ds" / "task-story_bold.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"task-story_bold.json' is not valid JSON"):
        read_bids_sidecar(out["bold"][1])
    (tmp_path / "ds" / "task-story_bold.json").write_text("[2.0]", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"must hold an object.*got a list"):
        read_bids_sidecar(out["bold"][1])


# ---------------------------------------------------------------------------- round trip
def test_read_bids_func_round_trip(ds, mask_path):
    rec = read_bids_func(ds["bold"][1], mask_img=mask_path)
    mask = brain_mask_array().astype(bool)
    # Voxels are the mask's True entries in C order; values are what was written.
    np.testing.assert_array_equal(rec.data, ds["data"][1][mask].T)
    assert rec.data.shape == (20, int(mask.sum()))
    assert rec.modality == "fmri" and rec.sfreq == pytest.approx(1 / TR)
    assert rec.sample_point == "start"
    np.testing.assert_allclose(rec.times, np.arange(20) * TR)
    assert (rec.subject, rec.session, rec.run, rec.task) == ("01", None, "1", "story")
    assert rec.space.kind == "volume"
    np.testing.assert_array_equal(rec.space.mask, mask)
    np.testing.assert_array_equal(rec.space.to_nifti(rec.data[3]).get_fdata()[mask], rec.data[3])

    written = default_events()
    ev = rec.events
    np.testing.assert_allclose(ev["onset"], written["onset"])  # scan clock, unchanged
    np.testing.assert_allclose(ev["duration"], [2.0, 0.5, 0.0, 1.0])  # n/a → 0
    assert list(ev["type"]) == ["music", "word", "word", "Event"]  # trial_type → type
    assert ev["trial_type"].isna().tolist() == [False, False, False, True]
    # Only "n/a" is missing: the word "NA" stays a word.
    assert ev["word"].iloc[1] == "hello" and pd.isna(ev["word"].iloc[2])
    assert ev["word"].iloc[3] == "NA"

    md = rec.metadata
    assert md["RepetitionTime"] == TR and md["SliceTiming"] == SLICE_TIMING
    assert md["source"]["bold"] == str(ds["bold"][1])
    assert md["source"]["events"].endswith("sub-01_task-story_run-1_events.tsv")
    assert md["source"]["sidecars"][0].endswith("task-story_bold.json")
    assert md["mask"] == str(mask_path) and md["events_na_duration_as_zero"] == 1
    assert md["tr_header"] == pytest.approx(TR)


def test_read_bids_func_by_entities_with_sessions(tmp_path, mask_path):
    out = make_bids_func(tmp_path / "ds", session="A", runs=(1, 2))
    rec = read_bids_func(
        bids_root=tmp_path / "ds",
        subject="01",
        session="A",
        task="story",
        run=2,
        mask_img=mask_path,
    )
    assert (rec.session, rec.run) == ("A", "2")
    np.testing.assert_array_equal(rec.data, out["data"][2][brain_mask_array().astype(bool)].T)
    with pytest.raises(DataFormatError, match=r"2 BOLD runs .* expected exactly one.*run-1"):
        read_bids_func(bids_root=tmp_path / "ds", subject="01", task="story", mask_img=mask_path)
    with pytest.raises(FileNotFoundError, match=r"No BOLD run found .*task='movie'"):
        read_bids_func(bids_root=tmp_path / "ds", subject="01", task="movie")
    with pytest.raises(FileNotFoundError, match="Subject folder of sub-02 not found"):
        read_bids_func(bids_root=tmp_path / "ds", subject="02", task="story")
    with pytest.raises(ValueError, match="Pass `bold_file`, or `bids_root`"):
        read_bids_func()


def test_epi_mask_matches_nilearn(ds):
    from nilearn.masking import compute_epi_mask

    rec = read_bids_func(ds["bold"][1])
    expected = np.asarray(compute_epi_mask(str(ds["bold"][1])).dataobj).astype(bool)
    assert expected.any()
    np.testing.assert_array_equal(rec.space.mask, expected)
    np.testing.assert_array_equal(rec.data, ds["data"][1][expected].T)
    assert "epi" in rec.metadata["mask"]


def test_user_masker_and_sample_point_middle(ds, mask_path):
    from nilearn.maskers import NiftiMasker

    masker = NiftiMasker(mask_img=str(mask_path), standardize="zscore_sample")
    rec = read_bids_func(ds["bold"][1], masker=masker, sample_point="middle")
    np.testing.assert_allclose(rec.data.mean(0), 0, atol=1e-3)  # float32 data
    np.testing.assert_allclose(rec.data.std(0, ddof=1), 1, rtol=1e-3)
    np.testing.assert_allclose(rec.times, np.arange(20) * TR + TR / 2)
    assert rec.start == 0.0 and rec.stop == pytest.approx(40.0)
    with pytest.raises(ValueError, match="at most one of `mask_img` or `masker`; got both"):
        read_bids_func(ds["bold"][1], masker=masker, mask_img=mask_path)


def test_dict_literal_trial_types_in_func_events(tmp_path, mask_path):
    ev = pd.DataFrame(
        {
            "onset": [1.0, 3.0],
            "duration": [0.5, 0.5],
            "trial_type": ["{'kind': 'word', 'word': 'hi'}", "{'kind': 'word', 'word': 'yo'}"],
        }
    )
    out = make_bids_func(tmp_path / "ds", events=ev)
    rec = read_bids_func(out["bold"][1], mask_img=mask_path, trial_type_dicts="expand")
    assert list(rec.events["type"]) == ["word", "word"]
    assert list(rec.events["word"]) == ["hi", "yo"]
    rec = read_bids_func(out["bold"][1], mask_img=mask_path)
    assert rec.events["type"].iloc[0] == "{'kind': 'word', 'word': 'hi'}"


# ---------------------------------------------------------------------------- runs
def test_read_bids_func_runs_shared_mask(ds):
    recs = read_bids_func_runs(ds["root"], "01", "story")
    assert [r.run for r in recs] == ["1", "2"]
    assert recs[0].n_targets == recs[1].n_targets
    np.testing.assert_array_equal(recs[0].space.mask, recs[1].space.mask)
    for run, rec in zip((1, 2), recs):
        np.testing.assert_array_equal(rec.data, ds["data"][run][rec.space.mask].T)
    only2 = read_bids_func_runs(ds["root"], "01", "story", runs=[2])
    assert [r.run for r in only2] == ["2"]
    assert [r.run for r in read_bids_func_runs(ds["root"], "01", "story", runs=2)] == ["2"]
    with pytest.raises(FileNotFoundError, match=r"No BOLD run found .*runs=7"):
        read_bids_func_runs(ds["root"], "01", "story", runs=7)
    with pytest.raises(FileNotFoundError, match=r"No BOLD run found .*runs=\[7\]"):
        read_bids_func_runs(ds["root"], "01", "story", runs=[7])


def test_runs_with_different_trs_raise(tmp_path, mask_path):
    out = make_bids_func(tmp_path / "ds", runs=(1, 2), tr={1: 2.0, 2: 1.5}, events=None)
    assert read_bids_func(out["bold"][2], mask_img=mask_path).sfreq == pytest.approx(1 / 1.5)
    with pytest.raises(DataFormatError, match=r"share one RepetitionTime.*run-1_bold.nii.gz: 2 s"):
        read_bids_func_runs(tmp_path / "ds", "01", "story", mask_img=mask_path)


# ---------------------------------------------------------------------------- errors
def test_missing_repetition_time(tmp_path, mask_path):
    out = make_bids_func(tmp_path / "ds", sidecar_level="none")
    with pytest.raises(DataFormatError, match=r"RepetitionTime is required for .*run-1_bold.*none"):
        read_bids_func(out["bold"][1], mask_img=mask_path)
    write_json(tmp_path / "ds" / "task-story_bold.json", {"TaskName": "story"})
    with pytest.raises(DataFormatError, match=r"not found in the sidecar\(s\) .*task-story_bold"):
        read_bids_func(out["bold"][1], mask_img=mask_path)
    write_json(tmp_path / "ds" / "task-story_bold.json", {"VolumeTiming": [0, 2, 4]})
    with pytest.raises(DataFormatError, match=r"VolumeTiming.*does not support"):
        read_bids_func(out["bold"][1], mask_img=mask_path)
    write_json(tmp_path / "ds" / "task-story_bold.json", {"RepetitionTime": "2"})
    with pytest.raises(DataFormatError, match="positive number of seconds; got '2'"):
        read_bids_func(out["bold"][1], mask_img=mask_path)


def test_events_outside_run(tmp_path, mask_path):
    ev = pd.DataFrame({"onset": [1.0, 40.0, 55.0], "duration": [1.0, 1.0, 1.0]})
    out = make_bids_func(tmp_path / "ds", events=ev)
    with pytest.raises(
        DataFormatError,
        match=r"run-1_events.tsv'.*within the run \[0, 40\) s.*2 event\(s\).*onset 40 s \(row 1\)",
    ):
        read_bids_func(out["bold"][1], mask_img=mask_path)
    rec = read_bids_func(out["bold"][1], mask_img=mask_path, events_outside="drop")
    assert rec.events["onset"].tolist() == [1.0] and rec.metadata["events_dropped"] == 2
    with pytest.raises(ValueError, match="`events_outside` must be one of"):
        read_bids_func(out["bold"][1], mask_img=mask_path, events_outside="crop")


def test_events_outside_run_names_the_file_row_of_unsorted_events(tmp_path, mask_path):
    # BIDS rows need not be sorted; the reader sorts them, the message names the file's row.
    ev = pd.DataFrame({"onset": [3.0, 55.0, 1.0], "duration": [1.0, 1.0, 1.0]})
    out = make_bids_func(tmp_path / "ds", events=ev)
    with pytest.raises(
        DataFormatError, match=r"run-1_events.tsv'.*1 event\(s\) outside, .*onset 55 s \(row 1\)"
    ):
        read_bids_func(out["bold"][1], mask_img=mask_path)
    rec = read_bids_func(out["bold"][1], mask_img=mask_path, events_outside="drop")
    assert rec.events["onset"].tolist() == [1.0, 3.0]
    assert "tsv_rows" not in rec.events.attrs and "n_na_duration" not in rec.events.attrs


def test_malformed_events(tmp_path, mask_path):
    out = make_bids_func(tmp_path / "ds")
    path = tmp_path / "ds" / "sub-01" / "func" / "sub-01_task-story_run-1_events.tsv"
    write_tsv(path, pd.DataFrame({"onset": [1.0], "trial_type": ["a"]}))
    with pytest.raises(
        DataFormatError, match=r"run-1_events.tsv' must have .*missing \['duration'\]"
    ):
        read_bids_func(out["bold"][1], mask_img=mask_path)
    write_tsv(path, pd.DataFrame({"onset": [1.0, "soon"], "duration": [1, 1]}))
    with pytest.raises(DataFormatError, match="'onset' must hold seconds; got 'soon' at row 1"):
        read_bids_func(out["bold"][1], mask_img=mask_path)
    write_tsv(path, pd.DataFrame({"onset": [1.0, np.nan], "duration": [1, 1]}))
    with pytest.raises(
        DataFormatError, match="'onset' must be set on every row; got 'n/a' at row 1"
    ):
        read_bids_func(out["bold"][1], mask_img=mask_path)
    write_tsv(
        path, pd.DataFrame({"onset": [5.0, 1.0], "duration": [1, 1], "trial_type": ["b", "a"]})
    )
    rec = read_bids_func(out["bold"][1], mask_img=mask_path)
    assert rec.events["type"].tolist() == ["a", "b"]  # BIDS rows need not be sorted
    write_tsv(path, pd.DataFrame({"onset": [1.0], "duration": [1], "trial_type": ["{'kind': 1"]}))
    with pytest.raises(DataFormatError, match="at row 0 must be a Python dict literal"):
        read_bids_func(out["bold"][1], mask_img=mask_path, trial_type_dicts=True)
    write_tsv(path, pd.DataFrame({"onset": [1.0], "duration": [1], "trial_type": ["[1, 2]"]}))
    with pytest.raises(DataFormatError, match="must be a dict literal; got a list"):
        read_bids_func(out["bold"][1], mask_img=mask_path, trial_type_dicts=True)


def test_inherited_events_and_no_events(tmp_path, mask_path):
    out = make_bids_func(tmp_path / "ds", events=None)
    assert read_bids_func(out["bold"][1], mask_img=mask_path).events is None
    write_tsv(
        tmp_path / "ds" / "task-story_events.tsv", pd.DataFrame({"onset": [2.0], "duration": [1.0]})
    )
    rec = read_bids_func(out["bold"][1], mask_img=mask_path)
    assert rec.events["onset"].tolist() == [2.0] and rec.events["type"].tolist() == ["Event"]
    assert read_bids_func(out["bold"][1], mask_img=mask_path, events=False).events is None


def test_missing_corrupt_and_misshaped_files(tmp_path, mask_path):
    import nibabel as nib

    out = make_bids_func(tmp_path / "ds")
    func = tmp_path / "ds" / "sub-01" / "func"
    with pytest.raises(
        FileNotFoundError, match=r"BIDS BOLD image \(\*_bold.nii.gz\) not found.*run-9"
    ):
        read_bids_func(func / "sub-01_task-story_run-9_bold.nii.gz")
    bad = func / "sub-01_task-story_run-1_bold.nii.gz"
    bad.write_bytes(b"\x1f\x8b not a nifti at all")
    with pytest.raises(
        DataFormatError, match=r"BOLD image at .*run-1_bold.nii.gz' is not a readable"
    ):
        read_bids_func(bad, mask_img=mask_path)
    save_nifti(bad, out["data"][1][..., 0], tr=None)
    with pytest.raises(
        DataFormatError, match=r"must be 4-D \(x, y, z, time\); got shape \(12, 12, 10\)"
    ):
        read_bids_func(bad, mask_img=mask_path)
    save_nifti(bad, out["data"][1], tr=TR)
    small = save_nifti(tmp_path / "small.nii.gz", np.ones((4, 4, 4), np.uint8))
    with pytest.raises(DataFormatError, match=r"expected shape \(12, 12, 10\); got \(4, 4, 4\)"):
        read_bids_func(bad, mask_img=small)
    shifted = nib.Nifti1Image(brain_mask_array(), np.eye(4))
    with pytest.raises(DataFormatError, match="must share the affine"):
        read_bids_func(bad, mask_img=shifted)
    with pytest.raises(FileNotFoundError, match=r"Mask image \(`mask_img`\) not found"):
        read_bids_func(bad, mask_img=tmp_path / "nope.nii.gz")


def test_header_tr_disagreeing_with_sidecar_uses_sidecar(tmp_path, mask_path):
    out = make_bids_func(tmp_path / "ds", tr=2.0)
    save_nifti(out["bold"][1], out["data"][1], tr=1.0)
    rec = read_bids_func(out["bold"][1], mask_img=mask_path)
    assert rec.sfreq == pytest.approx(0.5) and rec.metadata["tr_header"] == pytest.approx(1.0)


def test_layout_errors(tmp_path, mask_path):
    out = make_bids_func(tmp_path / "ds")
    loose = save_nifti(tmp_path / "loose" / "sub-01_task-story_bold.nii.gz", out["data"][1], tr=TR)
    with pytest.raises(DataFormatError, match=r"Cannot find the BIDS dataset folder of .*loose"):
        read_bids_func(loose, mask_img=mask_path)
    with pytest.raises(
        DataFormatError, match=r"is not inside the BIDS dataset .*ds'; check `bids_root`"
    ):
        read_bids_func(loose, bids_root=tmp_path / "ds", mask_img=mask_path)
    with pytest.raises(ValueError, match="`subject` is required when `bids_root` is given"):
        read_bids_func(bids_root=tmp_path / "ds", task="story")


def test_empty_events_and_truncated_bold(tmp_path, mask_path):
    out = make_bids_func(tmp_path / "ds")
    events = tmp_path / "ds" / "sub-01" / "func" / "sub-01_task-story_run-1_events.tsv"
    events.write_text("", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"run-1_events.tsv' is not a readable TSV"):
        read_bids_func(out["bold"][1], mask_img=mask_path)
    raw = out["bold"][1].read_bytes()
    out["bold"][1].write_bytes(raw[: len(raw) // 2])
    with pytest.raises(
        DataFormatError, match=r"run-1_bold.nii.gz' could not be read \(corrupt or truncated"
    ):
        read_bids_func(out["bold"][1], mask_img=mask_path, events=False)


# nilearn warns before our error when the computed mask is empty; the error is what we test.
@pytest.mark.filterwarnings("ignore:Computed an empty mask")
def test_empty_computed_mask(tmp_path):
    out = make_bids_func(tmp_path / "ds", events=None)
    save_nifti(out["bold"][1], np.zeros_like(out["data"][1]), tr=TR)
    with pytest.raises(
        DataFormatError,
        match=r"could not compute a 'background' mask from .*run-1_bold.*empty.*Pass `mask_img`",
    ):
        read_bids_func(out["bold"][1], mask_strategy="background")
