"""read_lebel on a tiny ds003020 derivative tree."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _fixtures_lebel import make_lebel

from brainalign.alignment import lanczos_resample, make_design
from brainalign.data import FeatureSet
from brainalign.exceptions import DataFormatError
from brainalign.io import read_lebel

DROPPED = {"sp", "lg", "sentence_start", "ns", "br", ""}


def _clean(label):
    return label.lower().strip("{}").strip()


def test_round_trip_on_the_sound_onset_clock(tmp_path):
    truth = make_lebel(tmp_path)
    recs = read_lebel(tmp_path, "UTS01", ["wheretheressmoke", "adollshouse"])
    assert [r.task for r in recs] == ["wheretheressmoke", "adollshouse"]
    for rec in recs:
        t = truth[rec.task]
        np.testing.assert_array_equal(rec.data, t["data"])
        assert rec.data.dtype == np.float32
        ntr = t["n_raw"] - 5
        assert rec.n_times == t["n_raw"] - 20
        # HuthLab grid: TR k starts at 2k - 10 s, sampled at its midpoint; keep [10:-5].
        np.testing.assert_allclose(rec.times, (np.arange(ntr) * 2.0 - 10.0 + 1.0)[10:-5])
        assert rec.times[0] == 11.0 and rec.start == 10.0
        assert rec.stop == 10.0 + 2.0 * rec.n_times
        assert rec.sfreq == 0.5 and rec.sample_point == "middle" and rec.modality == "fmri"
        assert rec.subject == "UTS01" and rec.space.name == "UTS01_native"
        md = rec.metadata
        assert md["trim"] == (10, 5) and md["tr"] == 2.0
        assert md["time_reference"] == "sound_onset" and md["tr_sample_point"] == "mid"
        assert md["story"] == rec.task and md["n_TR_raw"] == t["n_raw"]
        np.testing.assert_allclose(md["tr_times_all"][md["kept_slice"]], rec.times)
        assert md["word_tier"] == "word"

        # every word of the TextGrid except the dropped tokens, exactly as written
        expected = [w for w in t["words"] if _clean(w[2]) not in DROPPED]
        words = md["words"]
        assert words["text"].tolist() == [w[2] for w in expected]
        np.testing.assert_array_equal(words["onset"], [w[0] for w in expected])
        np.testing.assert_allclose(words["onset"] + words["duration"], [w[1] for w in expected])
        assert (words["type"] == "Word").all()
        n_dropped = sum(_clean(w[2]) in DROPPED for w in t["words"])
        assert sum(md["dropped_tokens"].values()) == n_dropped and md["dropped_tokens"]["sp"] > 0

        # the events are the words inside the run, on the same clock
        inside = [w for w in expected if rec.start <= w[0] < rec.stop]
        assert rec.events["text"].tolist() == [w[2] for w in inside]
        np.testing.assert_array_equal(rec.events["onset"], [w[0] for w in inside])
        before = sum(w[0] < rec.start for w in expected)
        after = sum(w[0] >= rec.stop for w in expected)
        assert before > 0 and after > 0
        assert md["n_words_outside_run"] == (before, after)
        assert words["in_run"].sum() == len(inside)
        assert "café" in set(words["text"]) and 'the "big"' in set(words["text"])


def test_all_words_cannot_be_run_events(tmp_path):
    """Why the reader splits the words: the run-span check refuses the early words."""
    make_lebel(tmp_path)
    rec = read_lebel(tmp_path, "UTS01", "wheretheressmoke")[0]
    with pytest.raises(ValueError, match=r"must lie within the run \[10, 50\) s; got onset 0"):
        rec.copy(events=rec.metadata["words"].drop(columns="in_run"))


def test_phones_and_story_listing(tmp_path):
    truth = make_lebel(tmp_path)
    recs = read_lebel(tmp_path, "sub-UTS01", include_phones=True)
    assert [r.task for r in recs] == sorted(truth)  # all hf5 files, sorted
    rec = recs[1]
    phones = rec.metadata["phones"]
    expected = [p for p in truth[rec.task]["phones"] if p[2] != "sp"]
    assert phones["text"].tolist() == [p[2] for p in expected]
    assert set(rec.events["type"]) == {"Word", "Phone"}
    assert np.all(np.diff(rec.events["onset"]) >= 0)
    n_phone_events = int((rec.events["type"] == "Phone").sum())
    assert n_phone_events == int(phones["in_run"].sum()) > 0
    assert "phones" not in read_lebel(tmp_path, "UTS01", rec.task)[0].metadata


def test_feature_recipe_matches_the_full_grid(tmp_path):
    """The docstring recipe: all words -> Lanczos on kept TRs == full grid then [10:-5]."""
    make_lebel(tmp_path)
    recs = read_lebel(tmp_path, "UTS01")
    rng = np.random.default_rng(1)
    features = []
    for rec in recs:
        words = rec.metadata["words"]
        vecs = rng.standard_normal((len(words), 3))
        mid = (words["onset"] + words["duration"] / 2).to_numpy()
        x = lanczos_resample(vecs, mid, rec.times)
        full = lanczos_resample(vecs, mid, rec.metadata["tr_times_all"])
        np.testing.assert_allclose(x, full[rec.metadata["kept_slice"]], rtol=1e-12, atol=1e-12)
        # words before the first kept TR contribute (they are not dropped)
        early = mid < rec.start
        x_late = lanczos_resample(vecs[~early], mid[~early], rec.times)
        assert not np.allclose(x[0], x_late[0])
        features.append({"emb": x})
    design = make_design(recs, features, delays=[2.0, 4.0])
    assert design.Y.shape == (sum(r.n_times for r in recs), 6)
    assert design.bands["emb"].shape[1] == 6
    # a FeatureSet of all words is refused: its items lie outside the trimmed run
    words = recs[0].metadata["words"]
    fs = FeatureSet(words["onset"].to_numpy(), {"rate": np.ones((len(words), 1))})
    with pytest.raises(ValueError, match="item times outside run 0"):
        make_design(recs[:1], [{"rate": fs}])


def test_errors(tmp_path):
    make_lebel(tmp_path)
    deriv = tmp_path / "derivative"
    sub = deriv / "preprocessed_data" / "UTS01"

    with pytest.raises(ValueError, match="`subject` must be a ds003020 subject such as 'UTS01'"):
        read_lebel(tmp_path, "01")
    with pytest.raises(FileNotFoundError, match="ds003020 'derivative' folder not found"):
        read_lebel(tmp_path / "nowhere", "UTS01")
    with pytest.raises(FileNotFoundError, match="preprocessed data of subject UTS02 not found"):
        read_lebel(tmp_path, "UTS02")
    with pytest.raises(FileNotFoundError, match=r"LeBel responses of story 'nostory' not found"):
        read_lebel(tmp_path, "UTS01", "nostory")
    with pytest.raises(ValueError, match="`stories` must name at least one story"):
        read_lebel(tmp_path, "UTS01", [])

    # corrupt HDF5 (garbage bytes)
    (sub / "broken.hf5").write_bytes(b"\x00garbage, not an HDF5 file" * 10)
    with pytest.raises(DataFormatError, match=r"broken\.hf5' is not a readable HDF5 file"):
        read_lebel(tmp_path, "UTS01", "broken")

    import h5py

    with h5py.File(sub / "nokey.hf5", "w") as f:
        f.create_dataset("resp", data=np.zeros((20, 3), np.float32))
    with pytest.raises(DataFormatError, match=r"lacks the key\(s\) \['data'\]; found \['resp'\]"):
        read_lebel(tmp_path, "UTS01", "nokey")

    with h5py.File(sub / "flat.hf5", "w") as f:
        f.create_dataset("data", data=np.zeros(20, np.float32))
    with pytest.raises(
        DataFormatError, match=r"must have shape \(n_TR, n_voxels\); got shape \(20,\)"
    ):
        read_lebel(tmp_path, "UTS01", "flat")

    # a story without a respdict entry
    with h5py.File(sub / "extra.hf5", "w") as f:
        f.create_dataset("data", data=np.zeros((20, 3), np.float32))
    with pytest.raises(DataFormatError, match=r"respdict\.json .* has no entry for story 'extra'"):
        read_lebel(tmp_path, "UTS01", "extra")

    # mismatched run length: hf5 rows != respdict - 5 - 15
    respdict = json.loads((deriv / "respdict.json").read_text())
    (deriv / "respdict.json").write_text(json.dumps({**respdict, "wheretheressmoke": 41}))
    with pytest.raises(
        DataFormatError,
        match=r"Mismatched run length for story 'wheretheressmoke': .*wheretheressmoke\.hf5' "
        r"has 20 rows but .* n_TR_raw=41, .* must have 41 - 5 - 15 = 21 rows",
    ):
        read_lebel(tmp_path, "UTS01", "wheretheressmoke")
    (deriv / "respdict.json").write_text(json.dumps(respdict))

    # missing TextGrid, one-tier TextGrid
    grid = deriv / "TextGrids" / "adollshouse.TextGrid"
    text = grid.read_text()
    grid.unlink()
    with pytest.raises(FileNotFoundError, match="TextGrid of story 'adollshouse' not found"):
        read_lebel(tmp_path, "UTS01", "adollshouse")
    grid.write_text(text.replace("size = 2 \nitem", "size = 1 \nitem").split("    item [2]:")[0])
    with pytest.raises(DataFormatError, match=r"must have a phone tier \(0\) and a word tier"):
        read_lebel(tmp_path, "UTS01", "adollshouse")

    (deriv / "respdict.json").write_text("{not json")
    with pytest.raises(
        DataFormatError,
        match=r"respdict\.json \(story lengths in TRs\) at .*respdict\.json. is not valid JSON",
    ):
        read_lebel(tmp_path, "UTS01", "adollshouse")
    (deriv / "respdict.json").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"respdict.json \(story lengths in TRs\) not found"
    ):
        read_lebel(tmp_path, "UTS01")

    empty = tmp_path / "empty"
    (empty / "derivative" / "preprocessed_data" / "UTS01").mkdir(parents=True)
    (empty / "derivative" / "TextGrids").mkdir()
    (empty / "derivative" / "respdict.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"No preprocessed story found: expected files"):
        read_lebel(empty, "UTS01")


def test_respdict_must_be_a_mapping(tmp_path):
    make_lebel(tmp_path)
    (tmp_path / "derivative" / "respdict.json").write_text("[311, 291]")
    with pytest.raises(
        DataFormatError, match=r"respdict\.json at .* must map story -> number of TRs; got a list"
    ):
        read_lebel(tmp_path, "UTS01", "wheretheressmoke")
