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
