import json
import subprocess
import sys

import numpy as np
import pytest

from brainalign.cli import main
from brainalign.datasets import make_encoding_data
from brainalign.study import load_results


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("brainalign 0.")


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "brainalign", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "brainalign" in out.stdout


def _write_npz(path, random_state=0):
    sim = make_encoding_data(
        n_runs=3,
        n_samples_per_run=80,
        band_sizes={"a": 8, "b": 4},
        n_targets=30,
        snr=(1.0, 3.0),
        response="none",
        random_state=random_state,
    )
    np.savez(
        path, Y=sim.Y, groups=sim.groups, X_a=sim.bands["a"], X_b=sim.bands["b"], sfreq=sim.sfreq
    )
    return sim


def test_fit_from_npz_writes_results(tmp_path, capsys):
    _write_npz(tmp_path / "d.npz")
    cfg = tmp_path / "study.yaml"
    cfg.write_text(
        "name: t\ndata: {kind: arrays, path: d.npz}\nalignment: {delays: [0]}\n"
        "model: {kind: banded_ridge, n_iter: 4, alphas: {start: -2, stop: 4, num: 7}}\n"
        "evaluation: {n_permutations: 20, permutation_block_s: 10}\n"
        f"output: {tmp_path / 'out'}\n"
    )
    assert main(["fit", str(cfg), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "held-out correlation" in printed and "results.h5" in printed
    res = load_results(tmp_path / "out")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert res.scores.shape == (30,) and res.fold_scores.shape == (3, 30)
    assert res.split_scores.shape == (2, 30) and res.band_names == ["a", "b"]
    assert summary["mean_score"] == pytest.approx(float(res.scores.mean()))
    # the planted signal is strong: held-out scores are clearly positive, p-values small
    assert res.scores.mean() > 0.4
    assert np.median(res.pvalues) < 0.1
    # no temporary files are left behind
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["results.h5", "summary.json"]


def test_fit_errors(tmp_path, capsys):
    cfg = tmp_path / "study.yaml"
    cfg.write_text("data: {kind: arrays, path: missing.npz}\n")
    assert main(["fit", str(cfg), "--quiet"]) == 2
    assert "`data.path` must be an existing .npz or HDF5 file" in capsys.readouterr().err
    cfg.write_text("data: {kind: arrays, path: d.npz}\nmodel: {kind: ridge, bogus: 1}\n")
    assert main(["fit", str(cfg)]) == 2
    assert "unknown key `model.bogus`" in capsys.readouterr().err


def test_unknown_band_in_config(tmp_path):
    _write_npz(tmp_path / "d.npz")
    cfg = tmp_path / "study.yaml"
    cfg.write_text("data: {kind: arrays, path: d.npz, bands: [a, zz]}\n")
    with pytest.raises(ValueError, match=r"unknown band name\(s\) \['zz'\] in `data.bands`"):
        main(["fit", str(cfg), "--quiet"])


def test_results_survive_a_failed_rewrite(tmp_path, monkeypatch):
    """Writing is atomic: a crash mid-write leaves the previous results intact."""
    from brainalign.study import StudyResult, save_results

    res = StudyResult(
        scores=np.ones(3),
        fold_scores=np.ones((2, 3)),
        band_names=["a"],
        alphas=np.ones((2, 3)),
        summary={"mean_score": 1.0},
    )
    save_results(res, tmp_path)
    import h5py

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(h5py.File, "create_dataset", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        save_results(
            StudyResult(
                scores=np.zeros(3),
                fold_scores=np.zeros((2, 3)),
                band_names=["a"],
                alphas=np.zeros((2, 3)),
            ),
            tmp_path,
        )
    monkeypatch.undo()
    back = load_results(tmp_path)
    np.testing.assert_array_equal(back.scores, np.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.h5", "summary.json"]


def test_load_results_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"`out_dir` must contain results.h5"):
        load_results(tmp_path)
    (tmp_path / "results.h5").write_bytes(b"not an hdf5 file")
    with pytest.raises(ValueError, match="is not a readable brainalign results file"):
        load_results(tmp_path)
