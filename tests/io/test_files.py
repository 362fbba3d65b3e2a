import pytest

from brainalign.exceptions import DataFormatError
from brainalign.io._files import open_hdf5, require_dir, require_file, require_keys


def test_require_file_and_dir(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("x")
    assert require_file(f, "the thing") == f
    assert require_dir(tmp_path, "the folder") == tmp_path
    with pytest.raises(
        FileNotFoundError, match=r"the thing not found: expected a file at .*b\.txt"
    ):
        require_file(tmp_path / "b.txt", "the thing")
    with pytest.raises(FileNotFoundError, match="it is a directory"):
        require_file(tmp_path, "the thing")
    with pytest.raises(FileNotFoundError, match="the folder not found"):
        require_dir(f, "the folder")


def test_open_hdf5_corrupt_and_keys(tmp_path):
    import h5py

    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not an hdf5 file at all" * 10)
    with pytest.raises(DataFormatError, match=r"betas at .*bad\.h5.* not a readable HDF5"):
        open_hdf5(bad, "betas")
    good = tmp_path / "good.h5"
    with h5py.File(good, "w") as h5:
        h5["data"] = [1, 2, 3]
    with open_hdf5(good, "responses") as h5:
        require_keys(h5, ["data"], "responses")
        with pytest.raises(
            DataFormatError, match=r"lacks the key\(s\) \['betas'\]; found \['data'\]"
        ):
            require_keys(h5, ["betas"], "responses")


def test_read_json_and_table(tmp_path):
    from brainalign.io._files import read_json, read_table

    good = tmp_path / "meta.json"
    good.write_text('{"a": 1}')
    assert read_json(good, "the metadata") == {"a": 1}
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataFormatError, match=r"the metadata at .*bad\.json' is not valid JSON"):
        read_json(bad, "the metadata")
    with pytest.raises(FileNotFoundError, match=r"the metadata not found: .*nope\.json"):
        read_json(tmp_path / "nope.json", "the metadata")

    table = tmp_path / "t.tsv"
    table.write_text("onset\tduration\n1.5\t0.5\n")
    df = read_table(table, "the events", ["onset"], sep="\t")
    assert df["onset"].tolist() == [1.5]
    with pytest.raises(
        DataFormatError,
        match=r"the events at .*t\.tsv' lacks the column\(s\) \['word'\]; found "
        r"\['onset', 'duration'\]\. One row per word\.",
    ):
        read_table(table, "the events", ["onset", "word"], hint="One row per word.", sep="\t")
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(DataFormatError, match=r"the table at .*e\.csv' is not a readable CSV file"):
        read_table(empty, "the table")


def test_load_npy_and_file_or_root(tmp_path):
    import numpy as np

    from brainalign.io._files import file_or_root, load_npy

    np.save(tmp_path / "a.npy", np.arange(3))
    np.testing.assert_array_equal(load_npy(tmp_path / "a.npy", "responses"), np.arange(3))
    np.save(tmp_path / "d.npy", {"k": [1, 2]})  # a pickled dict, as THINGS and Algonauts save
    assert load_npy(tmp_path / "d.npy", "metadata", allow_pickle=True) == {"k": [1, 2]}
    with pytest.raises(DataFormatError, match=r"metadata at .*d\.npy' is not a readable \.npy"):
        load_npy(tmp_path / "d.npy", "metadata")  # pickles refused unless allowed
    (tmp_path / "x.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(DataFormatError, match=r"responses at .*x\.npy' is not a readable \.npy"):
        load_npy(tmp_path / "x.npy", "responses")

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f.csv").write_text("x")
    assert file_or_root(tmp_path, "sub/f.csv", "the file") == tmp_path / "sub" / "f.csv"
    assert file_or_root(tmp_path / "sub" / "f.csv", "ignored", "the file").name == "f.csv"
    with pytest.raises(FileNotFoundError, match=r"the file not found: .*sub/g\.csv"):
        file_or_root(tmp_path, "sub/g.csv", "the file")


def test_every_public_name_resolves():
    """``brainalign.io`` maps each public name to the private module that defines it."""
    import brainalign.io

    for name in brainalign.io.__all__:
        obj = getattr(brainalign.io, name)
        assert getattr(obj, "__name__", name) == name or name.isupper(), name
    assert isinstance(brainalign.io.NSDStimuli, type)
    assert set(dir(brainalign.io)) == set(brainalign.io.__all__)
    with pytest.raises(AttributeError, match="has no attribute 'read_nothing'"):
        brainalign.io.read_nothing  # noqa: B018
