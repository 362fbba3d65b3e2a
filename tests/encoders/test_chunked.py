"""fit_targets_in_chunks: chunked == whole fit, HDF5/zarr sources, Dask, resume, errors."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import warnings

import h5py
import numpy as np
import pytest

from brainalign.encoders import (
    BandedRidgeEncoder,
    RidgeEncoder,
    TRFEncoder,
    fit_targets_in_chunks,
)
from brainalign.evaluation import cross_validate_encoder
from brainalign.exceptions import AlphaGridWarning
from brainalign.parallel import DaskExecutor, SerialExecutor

GRID = np.logspace(-1, 4, 6)
N_SAMPLES, N_FEATURES, N_TARGETS = 96, 8, 37
GROUPS = np.repeat(np.arange(4), N_SAMPLES // 4)


def _ridge(**kw):
    return RidgeEncoder(alphas=GRID, warn_alpha_edge=False, **kw)


@pytest.fixture(scope="module")
def data():
    """Planted weights with per-target noise levels (so that the selected alphas differ)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N_SAMPLES, N_FEATURES))
    W = rng.standard_normal((N_FEATURES, N_TARGETS)) / np.sqrt(N_FEATURES)
    noise = np.linspace(0.3, 3.0, N_TARGETS)
    Y = X @ W + noise * rng.standard_normal((N_SAMPLES, N_TARGETS))
    return X, Y


@pytest.fixture
def y_h5(tmp_path, data):
    path = tmp_path / "bold.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("sub-01/Y", data=data[1], chunks=(N_SAMPLES, 8))
        f["other"] = np.zeros(3)
    return path


@pytest.fixture(scope="module")
def dask_executor():
    with DaskExecutor(n_workers=2, threads_per_worker=1, processes=False) as ex:
        yield ex


# ---------------------------------------------------------------------------------------------
# chunked == whole
def test_chunked_fit_equals_whole_fit(tmp_path, data, y_h5):
    X, Y = data
    res = fit_targets_in_chunks(
        _ridge(), X, f"{y_h5}:/sub-01/Y", out=tmp_path / "out.h5", chunk_size=10, groups=GROUPS
    )
    whole = _ridge().fit(X, Y, groups=GROUPS)
    assert res.n_chunks == 4 and res.computed == [0, 1, 2, 3] and res.skipped == []
    assert res.complete
    assert res.names == ["alphas_", "coef_", "cv_scores_", "intercept_"]
    assert len(np.unique(whole.alphas_)) > 1  # the check below is not trivially true
    np.testing.assert_array_equal(res.load("alphas_"), whole.alphas_)
    np.testing.assert_allclose(res.load("coef_"), whole.coef_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.load("intercept_"), whole.intercept_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.load("cv_scores_"), whole.cv_scores_, rtol=1e-12)
    np.testing.assert_allclose(res.load("coef_", slice(3, 5)), whole.coef_[:, 3:5], rtol=1e-12)
    with h5py.File(res.path) as f:
        assert f["_chunks/done"][()].tolist() == [1, 1, 1, 1]
        assert json.loads(f.attrs["fitted"])["solver_"] == whole.solver_
        assert f.attrs["n_targets"] == N_TARGETS
    with pytest.raises(KeyError, match=r"`name` must be one of \['alphas_'"):
        res.load("deltas_")


def test_chunked_banded_ridge_with_band_dict(tmp_path, data, y_h5):
    X, Y = data
    bands = {"low": X[:, :3], "high": X[:, 3:]}
    est = BandedRidgeEncoder(
        alphas=GRID, n_iter=4, random_state=0, warn_alpha_edge=False, verbose=False
    )
    res = fit_targets_in_chunks(
        est, bands, y_h5, key="sub-01/Y", out=tmp_path / "b.h5", chunk_size=16
    )
    whole = BandedRidgeEncoder(**est.get_params()).fit(bands, Y)
    assert {"deltas_", "band_alphas_", "band_weights_"} <= set(res.names)
    np.testing.assert_array_equal(res.load("alphas_"), whole.alphas_)
    # products over chunks of other widths differ in the last bits only
    np.testing.assert_allclose(res.load("deltas_"), whole.deltas_, rtol=1e-10)
    np.testing.assert_allclose(res.load("coef_"), whole.coef_, rtol=1e-9, atol=1e-12)
    with h5py.File(res.path) as f:
        assert json.loads(f.attrs["fitted"])["band_names_"] == ["low", "high"]


def test_cv_mode_equals_cross_validate_encoder(tmp_path, data, y_h5):
    X, Y = data
    res = fit_targets_in_chunks(
        _ridge(), X, f"{y_h5}:/sub-01/Y", out=tmp_path / "cv.h5", chunk_size=12,
        mode="cv", groups=GROUPS, save_predictions=True,
    )  # fmt: skip
    ref = cross_validate_encoder(_ridge(), X, Y, groups=GROUPS, verbose=False)
    assert res.names == ["mean_scores", "predictions", "scores"]
    np.testing.assert_allclose(res.load("scores"), ref.scores, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.load("mean_scores"), ref.mean_scores, rtol=1e-10)
    np.testing.assert_allclose(res.load("predictions"), ref.predictions, rtol=1e-10)
    assert ref.mean_scores.max() > 0.5  # planted signal is recovered
    with h5py.File(res.path) as f:
        assert json.loads(f.attrs["fitted"])["test_groups"] == [[0], [1], [2], [3]]


def test_trf_encoder_attributes(tmp_path, data):
    X, Y = data
    est = TRFEncoder(tmin=0.0, tmax=0.2, sfreq=10.0, alpha=GRID, warn_alpha_edge=False)
    res = fit_targets_in_chunks(
        est, X[:, :2], Y[:, :9], out=tmp_path / "trf.h5", chunk_size=4,
        attributes=["trf_", "alphas_"],
    )  # fmt: skip
    whole = TRFEncoder(**est.get_params()).fit(X[:, :2], Y[:, :9])
    np.testing.assert_allclose(res.load("trf_"), whole.trf_, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(res.load("alphas_"), whole.alphas_)


# ---------------------------------------------------------------------------------------------
# sources
def test_sources_hdf5_zarr_dataset_and_memory_agree(tmp_path, data, y_h5):
    zarr = pytest.importorskip("zarr")
    X, Y = data
    arr = zarr.create_array(tmp_path / "y.zarr", shape=Y.shape, chunks=(N_SAMPLES, 8), dtype="f8")
    arr[:] = Y
    grp = zarr.open_group(tmp_path / "g.zarr", mode="w")
    grp.create_array("bold", shape=Y.shape, dtype="f8")[:] = Y
    with h5py.File(y_h5, "r") as f:
        runs = {
            "hdf5": dict(targets=y_h5, key="/sub-01/Y"),
            "zarr": dict(targets=tmp_path / "y.zarr"),
            "zarr_group": dict(targets=f"{tmp_path / 'g.zarr'}:/bold"),
            "zarr_array": dict(targets=zarr.open_array(tmp_path / "y.zarr", mode="r")),
            "h5py_dataset": dict(targets=f["sub-01/Y"]),
            "memory": dict(targets=Y),
        }
        results = {
            name: fit_targets_in_chunks(
                _ridge(), X, out=tmp_path / f"{name}.h5", chunk_size=9, **kw
            )
            for name, kw in runs.items()
        }
    ref = results["hdf5"].load("coef_")
    for name, res in results.items():
        np.testing.assert_array_equal(res.load("coef_"), ref, err_msg=name)
    # a last chunk of one target goes through BLAS gemv instead of gemm: last bits only
    np.testing.assert_allclose(ref, _ridge().fit(X, Y).coef_, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------------------------
# Dask
def test_dask_local_cluster_equals_serial(tmp_path, data, y_h5, dask_executor):
    X, _ = data
    kw = dict(chunk_size=7, groups=GROUPS)
    serial = fit_targets_in_chunks(_ridge(), X, f"{y_h5}:/sub-01/Y", out=tmp_path / "s.h5", **kw)
    dist = fit_targets_in_chunks(
        _ridge(), X, f"{y_h5}:/sub-01/Y", out=tmp_path / "d.h5", executor=dask_executor,
        max_in_flight=2, **kw,
    )  # fmt: skip
    assert sorted(dist.computed) == list(range(6))
    for name in serial.names:
        np.testing.assert_array_equal(dist.load(name), serial.load(name), err_msg=name)
    cv_kw = dict(mode="cv", groups=GROUPS, chunk_size=10)
    s_cv = fit_targets_in_chunks(_ridge(), X, y_h5, key="sub-01/Y", out=tmp_path / "sc.h5", **cv_kw)
    d_cv = fit_targets_in_chunks(
        _ridge(), X, y_h5, key="sub-01/Y", out=tmp_path / "dc.h5", executor=dask_executor, **cv_kw
    )
    np.testing.assert_array_equal(d_cv.load("scores"), s_cv.load("scores"))


def test_dask_banded_ridge_equals_serial_and_whole_fit(tmp_path, data, y_h5, dask_executor):
    X, Y = data
    bands = {"low": X[:, :3], "high": X[:, 3:]}
    est = BandedRidgeEncoder(
        alphas=GRID, n_iter=6, random_state=0, warn_alpha_edge=False, verbose=False
    )
    kw = dict(key="sub-01/Y", chunk_size=9)
    serial = fit_targets_in_chunks(est, bands, y_h5, out=tmp_path / "s.h5", **kw)
    dist = fit_targets_in_chunks(
        est, bands, y_h5, out=tmp_path / "d.h5", executor=dask_executor, **kw
    )
    assert sorted(dist.computed) == list(range(5))
    for name in serial.names:
        np.testing.assert_array_equal(dist.load(name), serial.load(name), err_msg=name)
    whole = BandedRidgeEncoder(**est.get_params()).fit(bands, Y)
    assert len(np.unique(whole.band_weights_[0])) > 1  # selections differ between targets
    np.testing.assert_allclose(dist.load("deltas_"), whole.deltas_, rtol=1e-10)
    np.testing.assert_allclose(dist.load("coef_"), whole.coef_, rtol=1e-9, atol=1e-12)


@pytest.mark.slow
def test_dask_worker_processes_equal_serial(tmp_path, data, y_h5):
    X, _ = data
    serial = fit_targets_in_chunks(
        _ridge(), X, f"{y_h5}:/sub-01/Y", out=tmp_path / "s.h5", chunk_size=10
    )
    with DaskExecutor(n_workers=2, processes=True) as ex:
        dist = fit_targets_in_chunks(
            _ridge(), X, f"{y_h5}:/sub-01/Y", out=tmp_path / "d.h5", chunk_size=10, executor=ex
        )
    np.testing.assert_allclose(dist.load("coef_"), serial.load("coef_"), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(dist.load("alphas_"), serial.load("alphas_"))


def test_dask_error_in_a_chunk_names_the_chunk(tmp_path, data, dask_executor):
    X, Y = data
    Y = Y.copy()
    Y[5, 20] = np.nan
    with pytest.raises(ValueError, match="must contain only finite values") as info:
        fit_targets_in_chunks(
            _ridge(), X, Y, out=tmp_path / "nan.h5", chunk_size=10, executor=dask_executor
        )
    assert "chunk 2, targets 20:30" in "".join(getattr(info.value, "__notes__", []))


# ---------------------------------------------------------------------------------------------
# resume
_FLAKY = {"fail_at": None, "calls": 0}


class FlakyRidge(RidgeEncoder):
    """RidgeEncoder that fails on its n-th fit while `_FLAKY['fail_at']` is set."""

    def fit(self, X, Y, groups=None):
        _FLAKY["calls"] += 1
        if _FLAKY["fail_at"] is not None and _FLAKY["calls"] == _FLAKY["fail_at"]:
            raise RuntimeError("simulated crash")
        return super().fit(X, Y, groups)


def test_resume_after_an_error_skips_done_chunks(tmp_path, data, y_h5):
    X, Y = data
    est = FlakyRidge(alphas=GRID, warn_alpha_edge=False)
    out = tmp_path / "resume.h5"
    _FLAKY.update(fail_at=3, calls=0)
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit_targets_in_chunks(est, X, f"{y_h5}:/sub-01/Y", out=out, chunk_size=5)
    with h5py.File(out) as f:
        assert f["_chunks/done"][()].tolist() == [1, 1, 0, 0, 0, 0, 0, 0]
        assert np.isnan(f["alphas_"][10:]).all()  # not-done targets are NaN, not zeros
    _FLAKY.update(fail_at=None, calls=0)
    res = fit_targets_in_chunks(est, X, f"{y_h5}:/sub-01/Y", out=out, chunk_size=5)
    assert res.skipped == [0, 1] and res.computed == [2, 3, 4, 5, 6, 7]
    assert _FLAKY["calls"] == 6  # finished chunks were not recomputed
    np.testing.assert_allclose(res.load("coef_"), _ridge().fit(X, Y).coef_, rtol=1e-12)
    again = fit_targets_in_chunks(est, X, f"{y_h5}:/sub-01/Y", out=out, chunk_size=5)
    assert again.computed == [] and again.skipped == list(range(8)) and again.complete


_SLOW_RIDGE = """
import time
from brainalign.encoders import RidgeEncoder

DELAY = 0.3
FITS_LOG = None

class SlowRidge(RidgeEncoder):
    def fit(self, X, Y, groups=None):
        if FITS_LOG is not None:
            with open(FITS_LOG, "a") as fh:
                fh.write(f"{Y.shape[1]}\\n")
        time.sleep(DELAY)
        return super().fit(X, Y, groups)
"""

_CHILD = """
import sys
import numpy as np
from brainalign import set_log_level
from brainalign.encoders import fit_targets_in_chunks
from slow_ridge import SlowRidge

set_log_level("INFO")
fit_targets_in_chunks(
    SlowRidge(alphas=np.logspace(-1, 4, 6), warn_alpha_edge=False), np.load(sys.argv[1]),
    sys.argv[2], out=sys.argv[3], chunk_size=4, verbose=False,
)
"""


def test_sigkill_midway_then_rerun_resumes(tmp_path, data, y_h5, monkeypatch):
    X, Y = data
    np.save(tmp_path / "X.npy", X)
    (tmp_path / "slow_ridge.py").write_text(_SLOW_RIDGE)
    (tmp_path / "child.py").write_text(_CHILD)
    out = tmp_path / "killed.h5"
    src = f"{y_h5}:/sub-01/Y"
    env = {**os.environ, "BRAINALIGN_PROGRESS": "0", "PYTHONPATH": str(tmp_path)}
    n_chunks = 10  # 37 targets by 4
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "child.py"), str(tmp_path / "X.npy"), src, str(out)],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    written = 0
    for line in proc.stderr:
        written += "written" in line
        if written == 3:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    with h5py.File(out) as f:  # the killed writer left a readable file
        done_at_kill = np.flatnonzero(f["_chunks/done"][()]).tolist()
    assert 3 <= len(done_at_kill) < n_chunks
    # rerun the same job (same estimator class, same files) here
    monkeypatch.syspath_prepend(str(tmp_path))
    slow_ridge = importlib.import_module("slow_ridge")
    monkeypatch.setattr(slow_ridge, "DELAY", 0.0)
    monkeypatch.setattr(slow_ridge, "FITS_LOG", str(tmp_path / "fits.log"))
    est = slow_ridge.SlowRidge(alphas=np.logspace(-1, 4, 6), warn_alpha_edge=False)
    res = fit_targets_in_chunks(est, np.load(tmp_path / "X.npy"), src, out=out, chunk_size=4)
    assert res.skipped == done_at_kill
    assert sorted(res.computed) == sorted(set(range(n_chunks)) - set(done_at_kill))
    # the rerun fitted exactly the chunks that were not done: nothing finished was recomputed
    assert len((tmp_path / "fits.log").read_text().split()) == n_chunks - len(done_at_kill)
    whole = _ridge().fit(X, Y)
    np.testing.assert_allclose(res.load("coef_"), whole.coef_, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(res.load("alphas_"), whole.alphas_)


def test_resume_into_a_different_job_is_refused(tmp_path, data, y_h5):
    X, _ = data
    out = tmp_path / "job.h5"
    src = f"{y_h5}:/sub-01/Y"
    fit_targets_in_chunks(_ridge(), X, src, out=out, chunk_size=10)
    with pytest.raises(ValueError, match=r"different job .* differs in the estimator or its param"):
        fit_targets_in_chunks(_ridge(fit_intercept=False), X, src, out=out, chunk_size=10)
    with pytest.raises(ValueError, match=r"differs in `chunk_size`"):
        fit_targets_in_chunks(_ridge(), X, src, out=out, chunk_size=12)
    with pytest.raises(ValueError, match=r"differs in the features `X`"):
        fit_targets_in_chunks(_ridge(), X + 1, src, out=out, chunk_size=10)
    with pytest.raises(ValueError, match=r"differs in `groups`"):
        fit_targets_in_chunks(_ridge(), X, src, out=out, chunk_size=10, groups=GROUPS)
    with pytest.raises(ValueError, match=r"differs in `mode`"):
        fit_targets_in_chunks(_ridge(), X, src, out=out, chunk_size=10, attributes=["coef_"])
    with h5py.File(y_h5, "a") as f:
        f["copy"] = f["sub-01/Y"][()]
    with pytest.raises(ValueError, match=r"differs in the targets .*Stored targets"):
        fit_targets_in_chunks(_ridge(), X, f"{y_h5}:/copy", out=out, chunk_size=10)
    # `verbose` changes no result: resuming with it is allowed
    res = fit_targets_in_chunks(_ridge(), X, src, out=out, chunk_size=10, verbose=False)
    assert res.computed == []
    res = fit_targets_in_chunks(
        _ridge(fit_intercept=False), X, src, out=out, chunk_size=10, overwrite=True
    )
    assert res.computed == [0, 1, 2, 3]


# ---------------------------------------------------------------------------------------------
# warnings and errors
def test_chunk_warnings_are_reemitted_once(tmp_path, data):
    X = data[0]
    noise_only = np.random.default_rng(1).standard_normal((N_SAMPLES, 12))
    est = RidgeEncoder(alphas=np.logspace(-1, 1, 3))  # too narrow: every target at an edge
    with pytest.warns(AlphaGridWarning, match="edge of the alpha grid") as record:
        fit_targets_in_chunks(est, X, noise_only, out=tmp_path / "w.h5", chunk_size=4)
    messages = [str(w.message) for w in record if w.category is AlphaGridWarning]
    assert len(messages) == len(set(messages)) >= 1


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, None])
def test_error_chunk_size(tmp_path, data, bad):
    X, Y = data
    with pytest.raises(ValueError, match=r"`chunk_size` must be a positive int \(targets per"):
        fit_targets_in_chunks(_ridge(), X, Y, out=tmp_path / "o.h5", chunk_size=bad)


def test_error_missing_key_and_file(tmp_path, data, y_h5):
    X, _ = data
    with pytest.raises(KeyError, match=r"`key` must name a dataset of .*got 'Y'.*'/sub-01/Y'"):
        fit_targets_in_chunks(_ridge(), X, y_h5, key="Y", out=tmp_path / "o.h5")
    with pytest.raises(KeyError, match=r"`key` must name a dataset"):
        fit_targets_in_chunks(_ridge(), X, f"{y_h5}:/nope", out=tmp_path / "o.h5")
    with pytest.raises(ValueError, match=r"`key` must name the targets dataset .*got None"):
        fit_targets_in_chunks(_ridge(), X, y_h5, out=tmp_path / "o.h5")
    with pytest.raises(ValueError, match=r"`key` must be None when `targets` names one"):
        fit_targets_in_chunks(_ridge(), X, f"{y_h5}:/sub-01/Y", key="Y", out=tmp_path / "o.h5")
    with pytest.raises(FileNotFoundError, match=r"no such file: '.*missing.h5:/Y'"):
        fit_targets_in_chunks(_ridge(), X, tmp_path / "missing.h5:/Y", out=tmp_path / "o.h5")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"must be an HDF5 file or a zarr store directory"):
        fit_targets_in_chunks(_ridge(), X, tmp_path / "notes.txt", out=tmp_path / "o.h5")
    zarr = pytest.importorskip("zarr")
    zarr.open_group(tmp_path / "g.zarr", mode="w").create_array("bold", shape=(2, 2), dtype="f8")
    with pytest.raises(KeyError, match=r"array of the zarr group .*got None, a group.*\['bold'\]"):
        fit_targets_in_chunks(_ridge(), X, tmp_path / "g.zarr", out=tmp_path / "o.h5")
    with pytest.raises(KeyError, match=r"`key` must name an array of the zarr store"):
        fit_targets_in_chunks(_ridge(), X, tmp_path / "g.zarr", key="nope", out=tmp_path / "o.h5")
    assert not (tmp_path / "o.h5").exists()


def test_error_shapes(tmp_path, data, y_h5):
    X, Y = data
    with pytest.raises(
        ValueError,
        match=r"`targets` must have as many samples \(rows\) as `X`; got X with 95 samples, targets of shape \(96, 37\)",
    ):
        fit_targets_in_chunks(_ridge(), X[:-1], f"{y_h5}:/sub-01/Y", out=tmp_path / "o.h5")
    with pytest.raises(
        ValueError,
        match=r"`targets` must have shape \(n_samples, n_targets\) \(2 dimensions\); got shape \(3,\)",
    ):
        fit_targets_in_chunks(_ridge(), X, f"{y_h5}:/other", out=tmp_path / "o.h5")
    with pytest.raises(ValueError, match=r"`X` must have shape \(n_samples, n_features\)"):
        fit_targets_in_chunks(_ridge(), X[:, 0], Y, out=tmp_path / "o.h5")
    with pytest.raises(TypeError, match=r"`targets` must be a path .* got list"):
        fit_targets_in_chunks(_ridge(), X, Y.tolist(), out=tmp_path / "o.h5")
    with pytest.raises(
        ValueError, match=r"`groups` must give the run label of each sample in mode='cv'"
    ):
        fit_targets_in_chunks(_ridge(), X, Y, out=tmp_path / "o.h5", mode="cv")
    with pytest.raises(ValueError, match=r"`mode` must be one of"):
        fit_targets_in_chunks(_ridge(), X, Y, out=tmp_path / "o.h5", mode="predict")
    with pytest.raises(AttributeError, match=r"has no 'deltas_' after fit"):
        fit_targets_in_chunks(_ridge(), X, Y, out=tmp_path / "o.h5", attributes=["deltas_"])
    with pytest.raises(ValueError, match=r"per-target arrays .*n_features_in_ has shape \(\)"):
        fit_targets_in_chunks(_ridge(), X, Y, out=tmp_path / "o.h5", attributes=["n_features_in_"])
    assert not (tmp_path / "o.h5").exists()


def test_error_corrupt_or_foreign_output(tmp_path, data):
    X, Y = data
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 40)  # a truncated HDF5 signature
    with pytest.raises(ValueError, match=r"`out` exists but is not a readable HDF5 file"):
        fit_targets_in_chunks(_ridge(), X, Y, out=corrupt, chunk_size=10)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["coef_"] = np.zeros(3)
    with pytest.raises(
        ValueError, match=r"`out` exists and was not written by fit_targets_in_chunks"
    ):
        fit_targets_in_chunks(_ridge(), X, Y, out=foreign, chunk_size=10)
    res = fit_targets_in_chunks(_ridge(), X, Y, out=corrupt, chunk_size=10, overwrite=True)
    assert res.complete


def test_explicit_serial_executor_and_no_stray_files(tmp_path, data):
    X, Y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = fit_targets_in_chunks(
            _ridge(), X, Y, out=tmp_path / "o.h5", chunk_size=50, executor=SerialExecutor()
        )
    assert res.n_chunks == 1 and res.computed == [0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.h5"]  # no temporary left behind


class _NoGroupsModel:
    """A minimal estimator without `groups` in fit, whose coef_ shape varies with the chunk."""

    def __init__(self, square=False):
        self.square = square

    def get_params(self, deep=True):
        return {"square": self.square}

    def set_params(self, **params):
        self.square = params.get("square", self.square)
        return self

    def fit(self, X, Y):
        width = Y.shape[1]
        self.coef_ = np.zeros((width if self.square else X.shape[1], width))
        self.n_features_in_ = X.shape[1]
        return self


def test_error_inputs(tmp_path, data, y_h5):
    X, Y = data
    o = tmp_path / "o.h5"
    with pytest.raises(TypeError, match=r"`estimator` must be a scikit-learn compatible"):
        fit_targets_in_chunks(object(), X, Y, out=o)
    with h5py.File(y_h5, "r") as f:
        with pytest.raises(TypeError, match=r"`targets` must be an h5py.Dataset \(not a File"):
            fit_targets_in_chunks(_ridge(), X, f, out=o)
    with pytest.raises(ValueError, match=r"`key` must be None when `targets` is an array"):
        fit_targets_in_chunks(_ridge(), X, Y, key="Y", out=o)
    with pytest.raises(TypeError, match=r"`targets` must be numeric; got dtype <U1"):
        fit_targets_in_chunks(_ridge(), X, np.full((N_SAMPLES, 2), "a"), out=o)
    with pytest.raises(ValueError, match=r"`targets` must not be empty; got shape \(96, 0\)"):
        fit_targets_in_chunks(_ridge(), X, Y[:, :0], out=o)
    with pytest.raises(ValueError, match=r"`attributes` must be None in mode='cv'"):
        fit_targets_in_chunks(_ridge(), X, Y, out=o, mode="cv", groups=GROUPS, attributes=["a"])
    with pytest.raises(TypeError, match=r"`attributes` must be a sequence of attribute names"):
        fit_targets_in_chunks(_ridge(), X, Y, out=o, attributes="coef_")
    with pytest.raises(ValueError, match=r"`attributes` must name at least one"):
        fit_targets_in_chunks(_ridge(), X, Y, out=o, attributes=[])
    with pytest.raises(ValueError, match=r"_NoGroupsModel.fit has no `groups` parameter"):
        fit_targets_in_chunks(_NoGroupsModel(), X, Y, out=o, groups=GROUPS)
    zarr = pytest.importorskip("zarr")
    grp = zarr.open_group(tmp_path / "g.zarr", mode="w")
    with pytest.raises(TypeError, match=r"`targets` must be a zarr array, not a group"):
        fit_targets_in_chunks(_ridge(), X, grp, out=o)
    assert not o.exists()


def test_error_estimator_outputs(tmp_path, data):
    X, Y = data
    # no default attribute: the names must be given
    with pytest.raises(ValueError, match=r"Bare has none of the default fitted"):
        fit_targets_in_chunks(
            type("Bare", (_NoGroupsModel,), {"fit": lambda self, X, Y: self})(), X, Y,
            out=tmp_path / "a.h5",
        )  # fmt: skip
    res = fit_targets_in_chunks(_NoGroupsModel(), X, Y, out=tmp_path / "b.h5", chunk_size=10)
    assert res.names == ["coef_"] and res.load("coef_").shape == (N_FEATURES, N_TARGETS)
    with pytest.raises(
        ValueError, match=r"chunk 1 returned coef_ with shape \(5, 5\); expected \(10, 5\)"
    ):
        fit_targets_in_chunks(
            _NoGroupsModel(square=True), X, Y[:, :15], out=tmp_path / "c.h5", chunk_size=10
        )


def test_error_tampered_output(tmp_path, data):
    X, Y = data
    out = tmp_path / "t.h5"
    _FLAKY.update(fail_at=2, calls=0)
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit_targets_in_chunks(
            FlakyRidge(alphas=GRID, warn_alpha_edge=False), X, Y, out=out, chunk_size=10
        )
    _FLAKY.update(fail_at=None, calls=0)
    with h5py.File(out, "a") as f:
        del f["coef_"]
    with pytest.raises(
        ValueError, match=r"`out` is corrupt or from another estimator: .* no dataset 'coef_'"
    ):
        fit_targets_in_chunks(
            FlakyRidge(alphas=GRID, warn_alpha_edge=False), X, Y, out=out, chunk_size=10
        )
    with h5py.File(out, "a") as f:
        del f["_chunks/done"]
        f["_chunks/done"] = np.zeros(2, dtype="u1")
    with pytest.raises(
        ValueError, match=r"`out` is corrupt: .* done record of shape \(2,\), expected \(4,\)"
    ):
        fit_targets_in_chunks(
            FlakyRidge(alphas=GRID, warn_alpha_edge=False), X, Y, out=out, chunk_size=10
        )
