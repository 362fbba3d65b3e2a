"""Algonauts 2025 reader on a tiny tree in the real layout (h5 keys, transcripts, movie paths)."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pandas as pd
import pytest
from _fixtures_algonauts import FRIENDS_H5, MOVIE10_H5, TR, make_algonauts2025

from brainalign.data import Recording
from brainalign.exceptions import DataFormatError
from brainalign.io import read_algonauts2025, read_algonauts2025_transcript

FUNC = "fmri/sub-01/func"
TEXT = "stimuli/transcripts"


@pytest.fixture(scope="module")
def a25(tmp_path_factory):
    root = tmp_path_factory.mktemp("algonauts2025")
    return root, make_algonauts2025(root)


@pytest.fixture
def a25_copy(a25, tmp_path):
    root, truth = a25
    dst = tmp_path / "a25"
    shutil.copytree(root, dst)
    return dst, truth


def _check_words(rec, words, n_tr):
    inside = [w for w in words if w[0] < n_tr * TR]
    got = rec.events[rec.events["type"] == "Word"]
    assert len(got) == len(inside)
    order = np.argsort([w[0] for w in inside], kind="stable")
    np.testing.assert_array_equal(got["onset"], [inside[i][0] for i in order])
    np.testing.assert_array_equal(got["duration"], [inside[i][1] for i in order])
    assert got["text"].tolist() == [inside[i][2] for i in order]
    return len(words) - len(inside)


def test_read_algonauts2025_friends_round_trip(a25):
    root, truth = a25
    recs = read_algonauts2025(root, "sub-01", "friends", n_parcels=10)
    keys = ["ses-001_task-s01e01a", "ses-001_task-s01e01b", "ses-002_task-s02e03a"]
    assert [r.metadata["h5_key"] for r in recs] == keys  # acquisition order
    for rec, key in zip(recs, keys):
        assert isinstance(rec, Recording)
        np.testing.assert_array_equal(rec.data, truth["data"][key])
        assert rec.data.dtype == np.float32
        assert rec.sfreq == pytest.approx(1 / 1.49)
        np.testing.assert_allclose(rec.times, np.arange(rec.n_times) * 1.49)
        assert rec.space.kind == "parcels" and rec.space.labels[:2] == ["1", "2"]
        assert rec.subject == "01" and rec.run is None
        video = rec.events.iloc[0]
        assert video["type"] == "Video" and video["onset"] == 0.0
        name = key.split("task-")[1]
        season = int(name[1:3])
        assert video["stim_id"] == f"friends_{name}"
        assert video["stim_file"] == str(
            root / f"stimuli/movies/friends/s{season}/friends_{name}.mkv"
        )
        assert video["duration"] == pytest.approx(truth["n_rows"][key] * TR)
        dropped = _check_words(rec, truth["words"][key], rec.n_times)
        assert rec.metadata["n_words_after_run"] == dropped
    first = recs[0]
    assert first.task == "s01e01a" and first.session == "001"
    assert (first.metadata["season"], first.metadata["episode"], first.metadata["split"]) == (
        1,
        1,
        "a",
    )
    assert first.metadata["n_words_after_run"] >= 1  # the movie outlasts this scan
    assert first.metadata["atlas"].endswith("desc-dseg_parcellation.nii.gz")
    # words are on the run clock: each lies in the TR of its transcript row
    words = first.events[first.events["type"] == "Word"]
    offsets = words["onset"] + words["duration"]
    np.testing.assert_array_equal(np.minimum(offsets // TR, 14), words["tr_index"])


def test_read_algonauts2025_movie10_runs(a25):
    root, truth = a25
    recs = read_algonauts2025(root, 1, "movie10", n_parcels=None)
    assert [(r.task, r.run) for r in recs] == [
        ("bourne01", None),
        ("figures01", "1"),
        ("figures01", "2"),
    ]
    fig = recs[1]
    assert (fig.metadata["movie"], fig.metadata["part"]) == ("figures", 1)
    assert fig.events.iloc[0]["stim_file"] == str(
        root / "stimuli/movies/movie10/figures/figures01.mkv"
    )
    assert fig.metadata["transcript_file"].endswith("movie10/figures/movie10_figures01.tsv")
    for rec in recs:
        np.testing.assert_array_equal(rec.data, truth["data"][rec.metadata["h5_key"]])
        _check_words(rec, truth["words"][rec.metadata["h5_key"]], rec.n_times)


def test_read_algonauts2025_selection_and_no_stimuli(a25):
    root, _ = a25
    assert [r.task for r in read_algonauts2025(root, 1, seasons=[2], n_parcels=10)] == ["s02e03a"]
    assert [r.task for r in read_algonauts2025(root, 1, episodes="s01e01b", n_parcels=10)] == [
        "s01e01b"
    ]
    figs = read_algonauts2025(root, 1, "movie10", movies=["figures"], n_parcels=10)
    assert [r.run for r in figs] == ["1", "2"]
    # a single movie or season need not be wrapped in a list
    one = read_algonauts2025(root, 1, "movie10", movies="figures", n_parcels=10)
    assert [(r.task, r.run) for r in one] == [(r.task, r.run) for r in figs]
    assert [r.task for r in read_algonauts2025(root, 1, seasons=2, n_parcels=10)] == ["s02e03a"]
    bare = read_algonauts2025(
        root, 1, episodes=["s01e01a"], movies_dir=None, transcripts_dir=None, n_parcels=10
    )[0]
    assert len(bare.events) == 1
    assert pd.isna(bare.events.iloc[0]["stim_file"])
    assert bare.events.iloc[0]["duration"] == pytest.approx(bare.n_times * TR)


def test_read_algonauts2025_transcript(a25):
    root, truth = a25
    path = root / TEXT / "friends/s1/friends_s01e01b.tsv"
    raw = pd.read_csv(path, sep="\t")
    assert raw["text_per_tr"].isna().any()  # empty rows exist, with '[]' lists
    assert (raw["words_per_tr"] == "[]").any()
    events = read_algonauts2025_transcript(path)
    assert list(events.columns) == ["onset", "duration", "type", "text", "tr_index"]
    words = truth["words"]["ses-001_task-s01e01b"]
    assert events["text"].tolist() == [w[2] for w in words]
    assert "don't" in events["text"].tolist()  # quotes inside list literals
    np.testing.assert_array_equal(events["onset"], [w[0] for w in words])
    assert (events["type"] == "Word").all()


def test_read_algonauts2025_words_after_run_raise(a25):
    root, _ = a25
    with pytest.raises(
        DataFormatError, match=r"word\(s\) after the end of run 'ses-001_task-s01e01a' \(14 TRs"
    ):
        read_algonauts2025(root, 1, episodes="s01e01a", n_parcels=10, words_after_run="raise")


def test_read_algonauts2025_parameter_errors(a25):
    root, _ = a25
    with pytest.raises(
        ValueError, match=r"`subject` must be one of the Algonauts 2025 subjects.*got 4"
    ):
        read_algonauts2025(root, 4)
    with pytest.raises(ValueError, match="`task` must be one of"):
        read_algonauts2025(root, 1, "ood")
    with pytest.raises(ValueError, match="`seasons` applies to task 'friends'"):
        read_algonauts2025(root, 1, "movie10", seasons=[1])
    with pytest.raises(ValueError, match=r"`movies` must name movies.*unknown \['life'\]"):
        read_algonauts2025(root, 1, "movie10", movies=["life"], n_parcels=10)
    with pytest.raises(ValueError, match=r"`episodes` must name runs.*unknown \['s05e20a'\]"):
        read_algonauts2025(root, 1, episodes=["s05e20a"], n_parcels=10)
    with pytest.raises(ValueError, match="matches no run"):
        read_algonauts2025(root, 1, seasons=[6], n_parcels=10)
    with pytest.raises(ValueError, match="`max_length_mismatch` must be a non-negative integer"):
        read_algonauts2025(root, 1, max_length_mismatch=-1)
    with pytest.raises(FileNotFoundError, match="Algonauts 2025 fMRI folder of sub-02 not found"):
        read_algonauts2025(root, 2)
    with pytest.raises(FileNotFoundError, match="Algonauts 2025 transcripts folder not found"):
        read_algonauts2025(root, 1, transcripts_dir=root / "nope", n_parcels=10)
    # the real files hold 1000 parcels: the default check names the shape it got
    with pytest.raises(DataFormatError, match=r"must have shape \(n_TR, 1000\); got \(14, 10\)"):
        read_algonauts2025(root, 1)


def test_read_algonauts2025_file_errors(a25_copy):
    root, _ = a25_copy
    h5_path = root / FUNC / FRIENDS_H5.format(sub="01")
    movie = root / "stimuli/movies/friends/s1/friends_s01e01b.mkv"
    movie.unlink()
    with pytest.raises(
        FileNotFoundError, match=r"movie not found.*friends_s01e01b\.mkv.*datalad get"
    ):
        read_algonauts2025(root, 1, n_parcels=10)
    (root / TEXT / "friends/s2/friends_s02e03a.tsv").unlink()
    with pytest.raises(FileNotFoundError, match=r"transcript not found.*friends_s02e03a\.tsv"):
        read_algonauts2025(root, 1, seasons=[2], n_parcels=10)
    # run length vs transcript length
    with h5py.File(h5_path, "a") as h5:
        del h5["ses-001_task-s01e01a"]
        h5["ses-001_task-s01e01a"] = np.zeros((6, 10), np.float32)
    with pytest.raises(DataFormatError, match=r"has 6 TRs but its transcript .* has 15 rows"):
        read_algonauts2025(root, 1, episodes="s01e01a", n_parcels=10)
    with h5py.File(h5_path, "a") as h5:
        h5["ses-001_task-s01e01b"][3, 2] = np.nan
    with pytest.raises(
        DataFormatError,
        match=r"'ses-001_task-s01e01b' .* 1 non-finite value\(s\) \(first at TR 3, parcel 2\)",
    ):
        read_algonauts2025(root, 1, episodes="s01e01b", n_parcels=10, movies_dir=None)
    with h5py.File(h5_path, "a") as h5:
        h5["run-1_episode-3"] = np.zeros((4, 10), np.float32)
    with pytest.raises(
        DataFormatError,
        match=r"dataset 'run-1_episode-3' .* must be named like 'ses-001_task-s01e02a'",
    ):
        read_algonauts2025(root, 1, n_parcels=10)
    h5_path.write_bytes(b"garbage" * 40)
    with pytest.raises(DataFormatError, match=r"friends fMRI file at .* not a readable HDF5"):
        read_algonauts2025(root, 1)
    h5_path.unlink()
    with pytest.raises(FileNotFoundError, match=r"expected one file sub-01_task-friends_space"):
        read_algonauts2025(root, 1)
    # the movie10 file is untouched
    assert len(read_algonauts2025(root, 1, "movie10", n_parcels=10)) == 3
    assert (root / FUNC / MOVIE10_H5.format(sub="01")).is_file()


def _write_tsv(path, rows):
    pd.DataFrame(
        rows, columns=["text_per_tr", "words_per_tr", "onsets_per_tr", "durations_per_tr"]
    ).to_csv(path, sep="\t", index=False)


def test_read_algonauts2025_transcript_errors(tmp_path):
    path = tmp_path / "friends_s01e01a.tsv"
    _write_tsv(path, [["hi", "['hi'", "[0.2]", "[0.3]"]])
    with pytest.raises(
        DataFormatError, match=r"`words_per_tr` .* row 0, must be a Python list literal"
    ):
        read_algonauts2025_transcript(path)
    _write_tsv(path, [["x", "__import__('os').getcwd()", "[0.2]", "[0.3]"]])
    with pytest.raises(DataFormatError, match="must be a Python list literal"):
        read_algonauts2025_transcript(path)  # literal_eval never executes code
    _write_tsv(path, [["hi", "'hi'", "[0.2]", "[0.3]"]])
    with pytest.raises(DataFormatError, match=r"row 0, must be a list; got str"):
        read_algonauts2025_transcript(path)
    _write_tsv(path, [["hi there", "['hi', 'there']", "[0.2]", "[0.3, 0.1]"]])
    with pytest.raises(DataFormatError, match=r"row 0: words_per_tr.* same length; got 2, 1, 2"):
        read_algonauts2025_transcript(path)
    _write_tsv(path, [["hi", "['hi']", "['a']", "[0.3]"]])
    with pytest.raises(
        DataFormatError, match=r"`onsets_per_tr` .* finite numbers \(seconds\); got 'a'"
    ):
        read_algonauts2025_transcript(path)
    # onsets in milliseconds, or relative to the TR, fall outside the row's TR
    _write_tsv(path, [[np.nan, "[]", "[]", "[]"], ["hi", "['hi']", "[1600.0]", "[300.0]"]])
    with pytest.raises(
        DataFormatError, match=r"row 1 \(TR \[1.49, 2.98\) s\): word 'hi' has onset 1600 s"
    ):
        read_algonauts2025_transcript(path)
    _write_tsv(path, [[np.nan, "[]", "[]", "[]"]] * 3 + [["hi", "['hi']", "[0.1]", "[0.3]"]])
    with pytest.raises(DataFormatError, match="outside its TR"):
        read_algonauts2025_transcript(path)
    pd.DataFrame({"text": ["hi"], "words": ["['hi']"]}).to_csv(path, sep="\t", index=False)
    with pytest.raises(DataFormatError, match=r"lacks the column\(s\) \['words_per_tr'"):
        read_algonauts2025_transcript(path)
    with pytest.raises(FileNotFoundError, match="Algonauts 2025 transcript not found"):
        read_algonauts2025_transcript(tmp_path / "nope.tsv")
    with pytest.raises(ValueError, match="`tr` must be > 0"):
        read_algonauts2025_transcript(path, tr=0)
