"""``brainalign datasets {list,info,fetch}``."""

from __future__ import annotations

import pytest

from brainalign.cli import main
from brainalign.datasets import get_dataset_spec, list_datasets


def test_list_prints_a_row_per_dataset(capsys):
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["name", "modality", "source", "licence", "size", "citation"]
    rows = {line.split()[0]: line for line in out[2:]}
    assert sorted(rows) == list_datasets()
    assert "openneuro:ds003020" in rows["lebel2023"] and "CC0-1.0" in rows["lebel2023"]
    assert "LeBel et al. 2023" in rows["lebel2023"]
    assert "package" in rows["nitime-mt-fmri"] and "85 KB" in rows["nitime-mt-fmri"]


def test_list_shows_every_licence_and_citation_in_full(capsys):
    assert main(["datasets", "list"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:]}
    assert len(rows) >= 12
    for name, line in rows.items():
        spec = get_dataset_spec(name)
        assert spec.licence in line, (name, spec.licence)
        assert spec.citation_short in line, (name, spec.citation_short)


def test_list_by_modality(capsys):
    assert main(["datasets", "list", "--modality", "ieeg"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out[2:]] == ["brain-treebank"]


def test_info_shows_fields_files_pins_and_presence(capsys, tmp_path):
    assert main(["datasets", "info", "nitime-mt-fmri", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    spec = get_dataset_spec("nitime-mt-fmri")
    assert f"licence: {spec.licence}" in out
    assert f"citation: {spec.citation}" in out
    assert "reader: brainalign.io.read_nitime_event_related" in out
    assert "package: nitime==0.12.1" in out
    assert f"event_related_fmri.csv  [absent; pinned sha256 {spec.files[0].sha256}" in out
    assert main(["datasets", "fetch", "nitime-mt-fmri", "--data-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["datasets", "info", "nitime-mt-fmri", "--data-dir", str(tmp_path)]) == 0
    assert "event_related_fmri.csv  [present; pinned" in capsys.readouterr().out


def test_info_of_unpinned_and_manual_datasets(capsys, tmp_path):
    assert main(["datasets", "info", "nsd", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "files (2; pinned: none)" in out
    assert "[absent; unpinned (sha256 recorded on first download); size unknown]" in out
    assert "https://natural-scenes-dataset.s3.amazonaws.com/nsddata/experiments/nsd/" in out
    assert main(["datasets", "info", "zuco"]) == 0
    assert "brainalign cannot download this dataset" in capsys.readouterr().out


def test_fetch_package_dataset(capsys, tmp_path):
    assert main(["datasets", "fetch", "nitime-mt-fmri", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    target = tmp_path / "nitime-mt-fmri" / "event_related_fmri.csv"
    assert f"-> {target}" in out
    assert target.is_file()


@pytest.mark.parametrize("action", ["info", "fetch"])
def test_unknown_name_lists_valid_names_exit_2(capsys, action):
    assert main(["datasets", action, "lebel"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "brainalign: error: unknown dataset `name`: got 'lebel'" in captured.err
    assert "Did you mean 'lebel2023'?" in captured.err
    for name in list_datasets():
        assert name in captured.err


def test_fetch_manual_dataset_exit_2(capsys, tmp_path):
    assert main(["datasets", "fetch", "meg-masc", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "'meg-masc' cannot be downloaded by brainalign" in err and "OSF" in err


def test_fetch_download_error_exit_2(capsys, tmp_path, monkeypatch):
    from brainalign.datasets import DownloadError, _download

    def _fail(*args, **kwargs):
        raise DownloadError("could not download http://x/y: refused.")

    monkeypatch.setattr(_download, "download_file", _fail)
    assert main(["datasets", "fetch", "lebel2023", "--data-dir", str(tmp_path)]) == 2
    assert "brainalign: error: could not download http://x/y" in capsys.readouterr().err


def test_datasets_without_action_prints_help_exit_2(capsys):
    assert main(["datasets"]) == 2
    assert "list" in capsys.readouterr().err
