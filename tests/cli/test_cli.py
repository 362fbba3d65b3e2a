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


def test_fit_without_zscore_and_blocked_cv(tmp_path, capsys):
    # Responses with a large offset and no z-scoring: the held-out variance partitioning must
    # centre Y on each fold (an uncentred sum of squares would shrink every share towards 0),
    # and the printed outer CV must be the one configured, not leave-one-run-out.
    sim = _write_npz(tmp_path / "d.npz")
    with np.load(tmp_path / "d.npz") as z:
        arrays = dict(z)
    arrays["Y"] = arrays["Y"] + 5.0
    np.savez(tmp_path / "d.npz", **arrays)
    cfg = tmp_path / "study.yaml"
    cfg.write_text(
        "data: {kind: arrays, path: d.npz}\nalignment: {delays: [0], zscore: false}\n"
        "model: {kind: banded_ridge, n_iter: 4, alphas: {start: -2, stop: 4, num: 7}}\n"
        f"evaluation: {{cv: 3}}\noutput: {tmp_path / 'out'}\n"
    )
    assert main(["fit", str(cfg), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "outer BlockedKFold(n_splits=3, gap=0), 3 folds" in printed
    res = load_results(tmp_path / "out")
    # the joint held-out R² of this strong planted signal is large; shares sum to it
    assert res.split_scores.shape == (2, sim.Y.shape[1])
    assert res.split_scores.sum(0).mean() > 0.3


def test_fit_errors(tmp_path, capsys):
    cfg = tmp_path / "study.yaml"
    cfg.write_text("data: {kind: arrays, path: missing.npz}\n")
    assert main(["fit", str(cfg), "--quiet"]) == 2
    assert "`data.path` must be an existing .npz or HDF5 file" in capsys.readouterr().err
    cfg.write_text("data: {kind: arrays, path: d.npz}\nmodel: {kind: ridge, bogus: 1}\n")
    assert main(["fit", str(cfg)]) == 2
    assert "unknown key `model.bogus`" in capsys.readouterr().err


def test_unknown_band_in_config(tmp_path, capsys):
    _write_npz(tmp_path / "d.npz")
    cfg = tmp_path / "study.yaml"
    cfg.write_text("data: {kind: arrays, path: d.npz, bands: [a, zz]}\n")
    assert main(["fit", str(cfg), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "brainalign: error: unknown band name(s) ['zz'] in `data.bands`" in err


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


def test_array_data_errors(tmp_path):
    from brainalign.study import load_config, load_study_design

    def design(name, **arrays):
        np.savez(tmp_path / name, **arrays)
        return load_study_design(load_config({"data": {"kind": "arrays", "path": tmp_path / name}}))

    Y, groups, X = np.zeros((20, 2)), np.repeat([0, 1], 10), np.ones((20, 3))
    with pytest.raises(
        ValueError, match=r"must hold arrays 'Y' and 'groups'; missing \['groups'\]"
    ):
        design("a.npz", Y=Y, X_a=X, sfreq=0.5)
    with pytest.raises(ValueError, match=r"holds no feature band \(X_<band> in npz"):
        design("b.npz", Y=Y, groups=groups, sfreq=0.5)
    with pytest.raises(ValueError, match=r"`data.sfreq` is required: the file has no 'sfreq'"):
        design("c.npz", Y=Y, groups=groups, X_a=X)
    (tmp_path / "d.csv").write_text("1,2\n")
    with pytest.raises(
        ValueError, match=r"`data.path` must end in .npz, .h5 or .hdf5; got 'd.csv'"
    ):
        load_study_design(load_config({"data": {"kind": "arrays", "path": tmp_path / "d.csv"}}))


def test_fit_from_hdf5(tmp_path):
    import h5py

    sim = make_encoding_data(
        n_runs=3,
        n_samples_per_run=60,
        band_sizes={"a": 5, "b": 3},
        n_targets=12,
        snr=2.0,
        response="none",
        random_state=3,
    )
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["Y"], f["groups"], f["sfreq"] = sim.Y, sim.groups, sim.sfreq
        f["X/a"], f["X/b"] = sim.bands["a"], sim.bands["b"]
    cfg = tmp_path / "study.yaml"
    cfg.write_text(
        "data: {kind: arrays, path: d.h5}\nalignment: {delays: [0]}\nmodel: {kind: ridge}\n"
    )
    assert main(["fit", str(cfg), "--quiet", "--out", str(tmp_path / "o")]) == 0
    res = load_results(tmp_path / "o")
    assert res.band_names == ["a", "b"] and res.split_scores is None
    assert res.scores.mean() > 0.4
    (tmp_path / "bad.h5").write_bytes(b"\x89HDF\r\n\x1a\n truncated")
    cfg.write_text("data: {kind: arrays, path: bad.h5}\n")
    with pytest.raises(ValueError, match=r"`data.path` .*bad.h5' is not a readable HDF5 file"):
        from brainalign.study import load_config, run_study

        run_study(load_config(cfg), out_dir=tmp_path / "o2")


def test_demo_summary_prints_decoding_beside_nulls(tmp_path, capsys):
    """`brainalign demo` prints the decoding part's key figures with nulls and chance."""
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "study"))
    from _fake_results import write_fake_results

    from brainalign.cli._main import _print_demo_summary

    results = write_fake_results(tmp_path)
    _print_demo_summary(results, results / "report.html")
    out = capsys.readouterr().out
    assert "[3] decoding" in out
    assert "faces (test responses averaged over 3 repeats):" in out
    line = next(ln for ln in out.splitlines() if "EfficientNet-Lite0" in ln)
    assert "permuted-brain null" in line and "noise null" in line and "chance 0.500" in line
    assert "WER (lower is better)" in out
    # the report command dispatches on the folder's kind (demo here)
    assert main(["report", str(results)]) == 0
    assert "3.1 Decoding: faces" in (results / "report.html").read_text()


def test_demo_synthetic_still_runs(tmp_path, capsys):
    assert main(["demo", "--synthetic", "--quick", "--quiet", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "demo (synthetic banded encoding study)" in out
    assert (tmp_path / "results.h5").is_file() and "decoding" not in out
