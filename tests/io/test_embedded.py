"""Readers of the real recordings shipped in nitime and brainspace.

The real-data tests read the installed package files (nitime is a dependency; brainspace is
installed with --no-deps and its tests are skipped without it). Format and error tests use
tiny files written in ``tmp_path`` with the same names, columns, dtypes and shapes.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainalign.alignment import Delayer
from brainalign.data import Recording
from brainalign.encoders import RidgeEncoder, TRFEncoder
from brainalign.exceptions import DataFormatError
from brainalign.io import read_brainspace_rest, read_nitime_event_related

STEM = "sub-010188_ses-02_task-rest_acq-AP_run-01"
N_VERTICES = 10242  # fsaverage5, per hemisphere
FIR_DELAYS = np.arange(0.0, 22.0, 2.0)  # 0..20 s at TR = 2 s
ALPHAS = np.logspace(-3, 3, 13)


def _package_file(package: str, *parts: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    return p if p.is_file() else None


NITIME_CSV = _package_file("nitime", "data", "event_related_fmri.csv")
BRAINSPACE_LH = _package_file("brainspace", "datasets", "preprocessing", f"{STEM}.fsa5.lh.mgz")
needs_nitime = pytest.mark.skipif(NITIME_CSV is None, reason="nitime data file not installed")
needs_brainspace = pytest.mark.skipif(
    BRAINSPACE_LH is None, reason="brainspace 0.3.0 not installed (pip install --no-deps)"
)


@pytest.fixture(scope="module")
def nitime_rec() -> Recording:
    if NITIME_CSV is None:
        pytest.skip("nitime data file not installed")
    return read_nitime_event_related()


@pytest.fixture(scope="module")
def brainspace_rec() -> Recording:
    if BRAINSPACE_LH is None:
        pytest.skip("brainspace 0.3.0 not installed")
    return read_brainspace_rest(confounds=True)


def _hide_package(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Make ``name`` look uninstalled to find_spec and importlib.metadata."""
    real_find_spec = importlib.util.find_spec
    real_distribution = importlib.metadata.distribution

    def find_spec(fullname, *args, **kwargs):
        return None if fullname == name else real_find_spec(fullname, *args, **kwargs)

    def distribution(dist_name):
        if dist_name == name:
            raise importlib.metadata.PackageNotFoundError(dist_name)
        return real_distribution(dist_name)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(importlib.metadata, "distribution", distribution)


# ====================================================================== nitime: real file
def test_nitime_real_file_layout(nitime_rec):
    rec = nitime_rec
    raw = np.genfromtxt(NITIME_CSV, delimiter=",", names=True)  # independent parse
    assert rec.modality == "fmri" and rec.sfreq == 0.5 and rec.tr == 2.0
    assert rec.data.shape == (3360, 1) and rec.n_times == raw.shape[0]
    np.testing.assert_array_equal(rec.data[:, 0], raw["bold"])
    assert rec.space.kind == "parcels" and rec.space.labels == ["MT"] and rec.space.name == "MT"
    # One event per nonzero code, at sample index x 2 s, 6 conditions x 96 trials.
    samples = np.flatnonzero(raw["events"])
    ev = rec.events
    assert len(ev) == samples.size == 6 * 96
    np.testing.assert_allclose(ev["onset"].to_numpy(), samples * 2.0)
    np.testing.assert_array_equal(ev["condition"].to_numpy(), raw["events"][samples])
    np.testing.assert_array_equal(ev["value"].to_numpy(), ev["condition"].to_numpy())
    assert (ev["duration"] == 0).all() and set(ev["type"]) == {"Motion"}
    assert ev["condition"].value_counts().to_dict() == {c: 96 for c in range(1, 7)}
    md = rec.metadata
    assert md["sha256"] == hashlib.sha256(NITIME_CSV.read_bytes()).hexdigest()
    assert Path(md["source_file"]) == NITIME_CSV
    assert md["units"] == "percent signal change"
    assert md["package_version"] == importlib.metadata.version("nitime")


def test_nitime_event_locked_average_peaks_6_to_8_s(nitime_rec):
    """Hand-made event-locked average over all trials: peak 3-4 TRs (6-8 s) after onset."""
    y = nitime_rec.data[:, 0]
    onsets = np.round(nitime_rec.events["onset"].to_numpy() * nitime_rec.sfreq).astype(int)
    n_lags = 12
    onsets = onsets[onsets + n_lags <= y.size]
    epochs = y[onsets[:, None] + np.arange(n_lags)]
    average = epochs.mean(axis=0)
    peak = int(np.argmax(average))
    assert peak * nitime_rec.tr in (6.0, 8.0), average
    assert average[peak] > 0.1  # a real positive response (percent signal change)
    assert average[peak] > average[0] + 0.1  # rises after onset
    assert average[8:].mean() < 0  # post-stimulus undershoot


def _condition_design(rec: Recording) -> np.ndarray:
    """One impulse regressor per condition, built from the events table."""
    X = np.zeros((rec.n_times, 6))
    idx = np.round(rec.events["onset"].to_numpy() * rec.sfreq).astype(int)
    X[idx, rec.events["condition"].to_numpy() - 1] = 1.0
    return X


def test_nitime_fir_peak_between_4_and_8_s(nitime_rec):
    """FIR deconvolution (Delayer + RidgeEncoder) of the 6 conditions: peak at 4-8 s."""
    X = _condition_design(nitime_rec)
    y = nitime_rec.data
    delayer = Delayer(delays=FIR_DELAYS, sfreq=nitime_rec.sfreq)
    model = RidgeEncoder(alphas=ALPHAS).fit(delayer.fit_transform(X), y)  # 5 contiguous folds
    fir = delayer.reshape_by_delays(model.coef_)[:, :, 0]  # (n_delays, n_conditions)
    mean_fir = fir.mean(axis=1)
    peak = float(FIR_DELAYS[np.argmax(mean_fir)])
    assert 4.0 <= peak <= 8.0, mean_fir
    assert mean_fir.max() > 0.1 and mean_fir[0] < 0.5 * mean_fir.max()
    assert (fir[np.argmax(mean_fir)] > 0).all()  # every condition responds at the peak
    # The lagged-ridge encoder (lags in seconds) at the selected penalty gives the same FIR.
    alpha = float(model.alphas_[0])
    trf = TRFEncoder(tmin=0.0, tmax=20.0, sfreq=nitime_rec.sfreq, alpha=alpha).fit(X, y)
    np.testing.assert_allclose(trf.times_, FIR_DELAYS)
    np.testing.assert_allclose(trf.trf_[:, :, 0], fir, atol=0.02)
    # The estimate tracks timing: BOLD delayed by 2 TRs moves the FIR 4 s later, with no
    # response at 0-2 s (before the shifted onset).
    shifted = TRFEncoder(tmin=0.0, tmax=20.0, sfreq=nitime_rec.sfreq, alpha=alpha)
    mean_shifted = shifted.fit(X, np.roll(y, 2, axis=0)).trf_[:, :, 0].mean(axis=1)
    assert FIR_DELAYS[np.argmax(mean_shifted)] == peak + 4.0
    assert np.abs(mean_shifted[:2]).max() < 0.2 * mean_fir.max()


# ====================================================================== nitime: format
def _write_csv(path: Path, n_times: int = 40, seed: int = 0, **columns) -> Path:
    rng = np.random.default_rng(seed)
    codes = np.zeros(n_times)
    codes[1::4] = rng.integers(1, 7, size=codes[1::4].size)
    table = {"bold": rng.standard_normal(n_times), "events": codes}
    table.update(columns)
    pd.DataFrame(table).to_csv(path, index=False)
    return path


def test_nitime_user_file_round_trip(tmp_path):
    file = _write_csv(tmp_path / "event_related_fmri.csv")
    table = pd.read_csv(file)
    rec = read_nitime_event_related(file, strict=False, tr=1.5)
    np.testing.assert_allclose(rec.data[:, 0], table["bold"])
    samples = np.flatnonzero(table["events"])
    np.testing.assert_allclose(rec.events["onset"], samples * 1.5)
    np.testing.assert_array_equal(rec.events["sample"], samples)
    assert rec.sfreq == pytest.approx(1 / 1.5) and "package" not in rec.metadata
    assert rec.metadata["sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
    # A folder holding the file, flat or in the package layout, reads the same.
    for folder in (tmp_path, tmp_path / "wheel"):
        if folder != tmp_path:
            (folder / "nitime" / "data").mkdir(parents=True)
            file.replace(folder / "nitime" / "data" / file.name)
        again = read_nitime_event_related(folder, strict=False, tr=1.5)
        np.testing.assert_array_equal(again.data, rec.data)


def test_nitime_strict_refuses_modified_copy(tmp_path):
    file = _write_csv(tmp_path / "event_related_fmri.csv", n_times=40)
    with pytest.raises(DataFormatError, match=r"event_related_fmri\.csv.*expected 3360 samples"):
        read_nitime_event_related(file)
    with pytest.raises(DataFormatError, match=r"96 trials of each condition.*strict=False"):
        read_nitime_event_related(file)
    if NITIME_CSV is not None:  # a real file, cropped: same message, readable when not strict
        cropped = tmp_path / "cropped.csv"
        cropped.write_text("".join(NITIME_CSV.read_text().splitlines(True)[:101]))
        with pytest.raises(DataFormatError, match=r"3360 samples \(got 100\)"):
            read_nitime_event_related(cropped)
        assert read_nitime_event_related(cropped, strict=False).n_times == 100


def test_nitime_format_errors(tmp_path):
    bad = _write_csv(tmp_path / "renamed.csv")
    pd.read_csv(bad).rename(columns={"bold": "signal"}).to_csv(bad, index=False)
    with pytest.raises(
        DataFormatError, match=r"renamed\.csv.*columns \['bold', 'events'\].*signal"
    ):
        read_nitime_event_related(bad, strict=False)
    extra = _write_csv(tmp_path / "extra.csv", note=1.0)
    with pytest.raises(DataFormatError, match=r"extra\.csv.*got \['bold', 'events', 'note'\]"):
        read_nitime_event_related(extra)
    assert read_nitime_event_related(extra, strict=False).n_targets == 1
    frac = _write_csv(tmp_path / "frac.csv")
    table = pd.read_csv(frac)
    table.loc[5, "events"] = 2.5
    table.to_csv(frac, index=False)
    with pytest.raises(DataFormatError, match=r"frac\.csv.*non-negative integer.*2\.5 at row 5"):
        read_nitime_event_related(frac, strict=False)
    nan = _write_csv(tmp_path / "nan.csv")
    table = pd.read_csv(nan)
    table.loc[3, "bold"] = np.nan
    table.to_csv(nan, index=False)
    with pytest.raises(DataFormatError, match=r"nan\.csv.*'bold' must be finite.*row 3"):
        read_nitime_event_related(nan, strict=False)
    text = tmp_path / "text.csv"
    text.write_text("bold,events\nhigh,0\n")
    with pytest.raises(DataFormatError, match=r"text\.csv.*must be numeric"):
        read_nitime_event_related(text, strict=False)
    with pytest.raises(ValueError, match=r"`tr` must be > 0"):
        read_nitime_event_related(frac, strict=False, tr=0)


def test_nitime_missing_file_messages(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"looked for .*event_related_fmri\.csv"):
        read_nitime_event_related(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"`path` must be the CSV file or an existing"):
        read_nitime_event_related(tmp_path / "nope.csv")
    _hide_package(monkeypatch, "nitime")
    with pytest.raises(
        FileNotFoundError,
        match=r"'nitime' package is not installed.*brainalign datasets fetch .*pip install",
    ):
        read_nitime_event_related()


# ====================================================================== brainspace: real
@needs_brainspace
def test_brainspace_real_files(brainspace_rec):
    import nibabel as nib

    rec = brainspace_rec
    assert rec.modality == "fmri" and rec.data.shape == (652, 2 * N_VERTICES)
    assert rec.data.dtype == np.float32
    assert rec.tr == pytest.approx(1.4)
    assert rec.space.kind == "surface" and rec.space.name == "fsaverage5"
    assert rec.events is None
    assert (rec.subject, rec.session, rec.task, rec.run) == ("010188", "02", "rest", "01")
    # lh then rh, frames as rows: compare a few vertices with nibabel's own read.
    parts = rec.space.to_surface_arrays(rec.data)
    for hemi, h in (("left", "lh"), ("right", "rh")):
        img = nib.load(BRAINSPACE_LH.with_name(f"{STEM}.fsa5.{h}.mgz"))
        for v in (0, 5000, N_VERTICES - 1):
            column = np.asarray(img.dataobj[v, 0, 0, :], dtype=np.float32)
            np.testing.assert_array_equal(parts[hemi][:, v], column)
    md = rec.metadata
    assert md["header_tr_ms"] == 1000.0 and md["header_tr_trusted"] is False
    assert "1.4" in md["tr_source"]
    # Preprocessed: centred per vertex; medial wall constant.
    assert np.abs(rec.data.mean(axis=0, dtype=np.float64)).max() < 1e-4
    assert md["n_constant_vertices"] == int((rec.data.std(axis=0) == 0).sum()) > 0
    assert md["sha256"]["left"] == hashlib.sha256(BRAINSPACE_LH.read_bytes()).hexdigest()
    # Confounds: 652 x 29, no header row in the file.
    conf = md["confounds"]
    raw = np.loadtxt(BRAINSPACE_LH.with_name(f"{STEM}_confounds.txt"))
    assert conf.shape == (652, 29) and list(conf.columns)[:2] == ["confound_00", "confound_01"]
    np.testing.assert_array_equal(conf.to_numpy(), raw)
    spikes = conf[md["confounds_layout"]["spikes"]].to_numpy()
    assert ((spikes != 0).sum(axis=0) == 1).all()  # the grouping matches the values


@needs_brainspace
def test_brainspace_tr_parameter_and_no_confounds():
    rec = read_brainspace_rest(tr=2.0)
    assert rec.sfreq == 0.5 and "confounds" not in rec.metadata
    assert rec.metadata["header_tr_ms"] == 1000.0


@needs_brainspace
def test_brainspace_matches_nilearn_fsaverage5_and_plots(brainspace_rec):
    """Per-hemisphere maps plot on nilearn's fsaverage5; the constant medial-wall vertices
    of each hemisphere lie at the midline of the matching mesh (so lh/rh order is right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from nilearn import datasets, plotting

    fsaverage = datasets.load_fsaverage("fsaverage5")
    std_map = brainspace_rec.data.std(axis=0)
    maps = brainspace_rec.space.to_surface_arrays(std_map)
    for hemi, values in maps.items():
        x = np.abs(fsaverage["pial"].parts[hemi].coordinates[:, 0])
        assert x.shape == values.shape == (N_VERTICES,)
        wall = values == 0
        assert np.median(x[wall]) < 15.0 and np.median(x[wall]) < 0.5 * np.median(x[~wall])
        fig = plotting.plot_surf_stat_map(
            fsaverage["inflated"].parts[hemi], values, hemi=hemi, colorbar=False
        )
        assert fig.axes
        plt.close(fig)


def test_brainspace_missing_package_message(monkeypatch):
    _hide_package(monkeypatch, "brainspace")
    with pytest.raises(
        FileNotFoundError,
        match=r"'brainspace' package is not installed.*"
        r"brainalign datasets fetch brainspace-rest-fsaverage5.*"
        r"pip install --no-deps brainspace==0\.3\.0",
    ):
        read_brainspace_rest()


# ====================================================================== brainspace: fake files
def _write_mgz(path: Path, data: np.ndarray, tr_ms: float = 1000.0) -> Path:
    import nibabel as nib

    img = nib.MGHImage(data.astype(np.float32), np.eye(4))
    img.header["tr"] = tr_ms
    nib.save(img, path)
    return path


def _write_run(folder: Path, n_times: int = 5, seed: int = 0, n_confounds: int = 29) -> dict:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for hemi, h in (("left", "lh"), ("right", "rh")):
        arrays[hemi] = rng.standard_normal((N_VERTICES, 1, 1, n_times)).astype(np.float32)
        _write_mgz(folder / f"{STEM}.fsa5.{h}.mgz", arrays[hemi])
    conf = rng.standard_normal((n_times, n_confounds))
    np.savetxt(folder / f"{STEM}_confounds.txt", conf, fmt="%.10f")
    return {"arrays": arrays, "confounds": conf}


def test_brainspace_fake_round_trip(tmp_path):
    truth = _write_run(tmp_path, n_times=5)
    rec = read_brainspace_rest(tmp_path, strict=False, confounds=True)
    assert rec.data.shape == (5, 2 * N_VERTICES) and rec.data.dtype == np.float32
    parts = rec.space.to_surface_arrays(rec.data)
    for hemi in ("left", "right"):
        np.testing.assert_array_equal(parts[hemi], truth["arrays"][hemi][:, 0, 0, :].T)
    np.testing.assert_allclose(rec.metadata["confounds"].to_numpy(), truth["confounds"])
    assert rec.metadata["header_tr_ms"] == 1000.0 and rec.tr == pytest.approx(1.4)
    assert "package" not in rec.metadata and "confounds_layout" not in rec.metadata
    # The unpacked-wheel layout is found too.
    wheel = tmp_path / "wheel"
    _write_run(wheel / "brainspace" / "datasets" / "preprocessing", n_times=5)
    assert read_brainspace_rest(wheel, strict=False).n_times == 5


def test_brainspace_confounds_header_row(tmp_path):
    truth = _write_run(tmp_path, n_times=4, n_confounds=3)
    file = tmp_path / f"{STEM}_confounds.txt"
    body = file.read_text()
    file.write_text("csf wm framewise_displacement\n" + body)
    rec = read_brainspace_rest(tmp_path, strict=False, confounds=True)
    assert list(rec.metadata["confounds"].columns) == ["csf", "wm", "framewise_displacement"]
    np.testing.assert_allclose(rec.metadata["confounds"].to_numpy(), truth["confounds"])
    file.write_text("csf wm\n" + body)
    with pytest.raises(DataFormatError, match=r"confounds\.txt.*header row names 2 columns.*3"):
        read_brainspace_rest(tmp_path, strict=False, confounds=True)


def test_brainspace_missing_rh_file(tmp_path):
    _write_run(tmp_path)
    (tmp_path / f"{STEM}.fsa5.rh.mgz").unlink()
    with pytest.raises(FileNotFoundError, match=r"right hemisphere MGZ.*fsa5\.rh\.mgz"):
        read_brainspace_rest(tmp_path, strict=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"looked for .*empty/sub-010188.*fsa5\.lh\.mgz"):
        read_brainspace_rest(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match=r"`path` must be an existing folder.*not exist"):
        read_brainspace_rest(tmp_path / "missing")


def test_brainspace_missing_confounds_only_when_asked(tmp_path):
    _write_run(tmp_path)
    (tmp_path / f"{STEM}_confounds.txt").unlink()
    assert read_brainspace_rest(tmp_path, strict=False).n_times == 5
    with pytest.raises(FileNotFoundError, match=r"confounds file.*_confounds\.txt"):
        read_brainspace_rest(tmp_path, strict=False, confounds=True)


def test_brainspace_mismatched_n_times(tmp_path):
    _write_run(tmp_path, n_times=5)
    _write_mgz(tmp_path / f"{STEM}.fsa5.rh.mgz", np.zeros((N_VERTICES, 1, 1, 6)))
    with pytest.raises(
        DataFormatError, match=r"same number of time points; got 5 in .*lh\.mgz.* and 6 in .*rh"
    ):
        read_brainspace_rest(tmp_path, strict=False)


def test_brainspace_wrong_vertex_count_and_shape(tmp_path):
    _write_run(tmp_path, n_times=5)
    lh = tmp_path / f"{STEM}.fsa5.lh.mgz"
    _write_mgz(lh, np.zeros((642, 1, 1, 5)))
    with pytest.raises(DataFormatError, match=r"lh\.mgz.*must have 10242 vertices.*got 642"):
        read_brainspace_rest(tmp_path, strict=False)
    _write_mgz(lh, np.zeros((N_VERTICES, 2, 1, 5)))
    with pytest.raises(DataFormatError, match=r"lh\.mgz.*\(n_vertices, 1, 1, n_times\).*got"):
        read_brainspace_rest(tmp_path, strict=False)
    lh.write_bytes(b"not an mgz file")
    with pytest.raises(DataFormatError, match=r"lh\.mgz.*not a readable MGH/MGZ image"):
        read_brainspace_rest(tmp_path, strict=False)


def test_brainspace_strict_and_confounds_rows(tmp_path):
    _write_run(tmp_path, n_times=5)
    with pytest.raises(DataFormatError, match=r"must have 652 time points.*got 5.*strict=False"):
        read_brainspace_rest(tmp_path)
    np.savetxt(tmp_path / f"{STEM}_confounds.txt", np.zeros((4, 29)))
    with pytest.raises(DataFormatError, match=r"confounds\.txt.*one row per time point \(5.*4"):
        read_brainspace_rest(tmp_path, strict=False, confounds=True)
    (tmp_path / f"{STEM}_confounds.txt").write_text("1 2 3\n4 5\n" * 3)
    with pytest.raises(DataFormatError, match=r"confounds\.txt.*numeric table"):
        read_brainspace_rest(tmp_path, strict=False, confounds=True)
    with pytest.raises(FileNotFoundError, match=r"`path` must be an existing folder.*is a file"):
        read_brainspace_rest(tmp_path / f"{STEM}.fsa5.lh.mgz")
    with pytest.raises(ValueError, match=r"`tr` must be > 0"):
        read_brainspace_rest(tmp_path, strict=False, tr=-1)
