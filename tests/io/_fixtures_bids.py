"""Tiny BIDS / fMRIPrep / M/EEG datasets written in ``tmp_path`` with the real layouts.

Names, keys, dtypes and shapes follow the BIDS specification, fMRIPrep's outputs
(``ds005_outputs.txt``) and what mne-bids 0.20 writes. Every writer returns what it wrote, so
tests can check that a reader gives back exactly that.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SUBJECT = "01"
TASK = "story"
TR = 2.0
N_VOLS = 20
SHAPE = (12, 12, 10)
# Interleaved acquisition of 10 slices within a 2 s TR.
SLICE_TIMING = [0.0, 1.0, 0.2, 1.2, 0.4, 1.4, 0.6, 1.6, 0.8, 1.8]
CONFOUND_COLUMNS = [
    "global_signal",
    "csf",
    "white_matter",
    "trans_x",
    "trans_y",
    "trans_z",
    "rot_x",
    "rot_y",
    "rot_z",
    "trans_x_derivative1",
    "trans_y_derivative1",
    "trans_z_derivative1",
    "rot_x_derivative1",
    "rot_y_derivative1",
    "rot_z_derivative1",
    "trans_x_power2",
    "trans_y_power2",
    "trans_z_power2",
    "rot_x_power2",
    "rot_y_power2",
    "rot_z_power2",
    "trans_x_derivative1_power2",
    "trans_y_derivative1_power2",
    "trans_z_derivative1_power2",
    "rot_x_derivative1_power2",
    "rot_y_derivative1_power2",
    "rot_z_derivative1_power2",
    "framewise_displacement",
    "dvars",
    "std_dvars",
    "rmsd",
    "non_steady_state_outlier00",
    "cosine00",
    "cosine01",
]


# ---------------------------------------------------------------------------- generic writers
def write_json(path: Path, obj: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2), encoding="utf-8")
    return path


def write_tsv(path: Path, df: pd.DataFrame) -> Path:
    """BIDS TSV: tab-separated, header row, missing values written as ``n/a``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, sep="\t", index=False, na_rep="n/a", lineterminator="\n")
    return path


def make_bold_array(
    n_vols: int = N_VOLS, shape: tuple[int, int, int] = SHAPE, seed: int = 0
) -> np.ndarray:
    """float32 (x, y, z, t): a bright 'brain' box in a dim background, plus noise."""
    rng = np.random.default_rng(seed)
    data = rng.normal(0.0, 1.0, (*shape, n_vols)).astype(np.float32) + 5.0
    box = tuple(slice(1, s - 1) for s in shape)
    data[box] += 500.0
    return data


def brain_mask_array(shape: tuple[int, int, int] = SHAPE) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    mask[tuple(slice(1, s - 1) for s in shape)] = 1
    return mask


def save_nifti(path: Path, data: np.ndarray, *, tr: float | None = None) -> Path:
    import nibabel as nib

    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    affine[:3, 3] = -12.0
    img = nib.Nifti1Image(data, affine)
    if tr is not None:
        img.header.set_zooms((3.0, 3.0, 3.0, tr))
        img.header.set_xyzt_units("mm", "sec")
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, path)
    return path


def default_events() -> pd.DataFrame:
    """Events with a BIDS `trial_type`, an extra `word` column and `n/a` values."""
    return pd.DataFrame(
        {
            "onset": [0.0, 4.5, 9.0, 31.25],
            "duration": [2.0, 0.5, np.nan, 1.0],
            "trial_type": ["music", "word", "word", np.nan],
            "word": ["n/a-free", "hello", np.nan, "NA"],
        }
    )


def _stem(subject: str, session: str | None, task: str, run: int | None) -> str:
    parts = [f"sub-{subject}"]
    if session is not None:
        parts.append(f"ses-{session}")
    parts.append(f"task-{task}")
    if run is not None:
        parts.append(f"run-{run}")
    return "_".join(parts)


def _func_dir(root: Path, subject: str, session: str | None) -> Path:
    d = root / f"sub-{subject}"
    if session is not None:
        d = d / f"ses-{session}"
    return d / "func"


# ---------------------------------------------------------------------------- BIDS raw fMRI
def make_bids_func(
    root: Path,
    *,
    subject: str = SUBJECT,
    session: str | None = None,
    task: str = TASK,
    runs: tuple[int | None, ...] = (1,),
    n_vols: int | dict[int | None, int] = N_VOLS,
    tr: float | dict[int | None, float] = TR,
    shape: tuple[int, int, int] = SHAPE,
    sidecar_level: str = "top",
    events: pd.DataFrame | bool | None = True,
    slice_timing: bool = True,
) -> dict[str, Any]:
    """Write a raw BIDS dataset with one ``_bold.nii.gz`` per run.

    ``sidecar_level`` puts the ``_bold.json`` with ``RepetitionTime`` at the dataset level
    (``task-<t>_bold.json``, inherited), next to each run (``"run"``), or nowhere (``"none"``).
    A per-TR dict gives each run its own TR (then sidecars are written per run).
    """
    root.mkdir(parents=True, exist_ok=True)
    write_json(
        root / "dataset_description.json",
        {"Name": "tiny", "BIDSVersion": "1.9.0", "DatasetType": "raw"},
    )
    fdir = _func_dir(root, subject, session)
    out: dict[str, Any] = {"bold": {}, "data": {}, "events": {}, "root": root}
    top_sidecar = {"TaskName": task, "RepetitionTime": TR}
    if slice_timing:
        top_sidecar["SliceTiming"] = SLICE_TIMING
    if isinstance(tr, dict):
        sidecar_level = "run" if sidecar_level == "top" else sidecar_level
    if sidecar_level == "top":
        top_sidecar["RepetitionTime"] = float(tr)  # type: ignore[arg-type]
        write_json(root / f"task-{task}_bold.json", top_sidecar)
    for i, run in enumerate(runs):
        nv = n_vols[run] if isinstance(n_vols, dict) else n_vols
        run_tr = tr[run] if isinstance(tr, dict) else tr
        data = make_bold_array(nv, shape, seed=i)
        stem = _stem(subject, session, task, run)
        path = save_nifti(fdir / f"{stem}_bold.nii.gz", data, tr=run_tr)
        if sidecar_level == "run":
            write_json(fdir / f"{stem}_bold.json", {**top_sidecar, "RepetitionTime": run_tr})
        if events is not False and events is not None:
            ev = default_events() if events is True else events
            write_tsv(fdir / f"{stem}_events.tsv", ev)
            out["events"][run] = ev
        out["bold"][run] = path
        out["data"][run] = data
    return out


# ---------------------------------------------------------------------------- fMRIPrep
def make_confounds(n_vols: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(0, 0.1, (n_vols, len(CONFOUND_COLUMNS))), columns=CONFOUND_COLUMNS)
    df["framewise_displacement"] = np.abs(df["framewise_displacement"])
    for col in CONFOUND_COLUMNS:
        if col.endswith("derivative1") or col.endswith("derivative1_power2"):
            df.loc[0, col] = np.nan
    df["dvars"] = 20.0 + np.abs(df["dvars"])
    df["std_dvars"] = 1.0 + np.abs(df["std_dvars"])
    df["rmsd"] = np.abs(df["rmsd"])
    for col in ("framewise_displacement", "dvars", "std_dvars", "rmsd"):
        df.loc[0, col] = np.nan
    # fMRIPrep flags the first (non-steady-state) volume with a one-hot column.
    df["non_steady_state_outlier00"] = (np.arange(n_vols) == 0).astype(float)
    t = np.arange(n_vols)
    df["cosine00"] = np.cos(np.pi * (t + 0.5) / n_vols)
    df["cosine01"] = np.cos(2 * np.pi * (t + 0.5) / n_vols)
    return df


def write_gifti_timeseries(path: Path, data: np.ndarray) -> Path:
    """One GIfTI data array per volume (``NIFTI_INTENT_TIME_SERIES``), as fMRIPrep writes."""
    import nibabel as nib

    darrays = [
        nib.gifti.GiftiDataArray(
            np.ascontiguousarray(vol, dtype=np.float32),
            intent="NIFTI_INTENT_TIME_SERIES",
            datatype="NIFTI_TYPE_FLOAT32",
        )
        for vol in data
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.GiftiImage(darrays=darrays), path)
    return path


def make_fmriprep(
    deriv: Path,
    *,
    subject: str = SUBJECT,
    session: str | None = None,
    task: str = TASK,
    runs: tuple[int | None, ...] = (1,),
    n_vols: int = N_VOLS,
    tr: float | dict[int | None, float] = TR,
    shape: tuple[int, int, int] = SHAPE,
    space: str = "MNI152NLin2009cAsym",
    surface: str | None = None,
    n_vertices: int = 10242,
    surface_json: bool = True,
    volume_json: bool = True,
    n_vols_right: int | None = None,
    n_conf_rows: int | None = None,
) -> dict[str, Any]:
    """Write an fMRIPrep derivatives tree (volume outputs, optionally fsaverage GIfTIs)."""
    write_json(
        deriv / "dataset_description.json",
        {
            "Name": "fMRIPrep - fMRI PREProcessing workflow",
            "BIDSVersion": "1.4.0",
            "DatasetType": "derivative",
            "GeneratedBy": [{"Name": "fMRIPrep", "Version": "23.2.0"}],
        },
    )
    fdir = _func_dir(deriv, subject, session)
    out: dict[str, Any] = {"bold": {}, "data": {}, "mask": {}, "confounds": {}, "surf": {}}
    for i, run in enumerate(runs):
        run_tr = tr[run] if isinstance(tr, dict) else tr
        stem = _stem(subject, session, task, run)
        pre = f"{stem}_space-{space}"
        data = make_bold_array(n_vols, shape, seed=10 + i)
        bold = save_nifti(fdir / f"{pre}_desc-preproc_bold.nii.gz", data, tr=run_tr)
        if volume_json:
            write_json(
                fdir / f"{pre}_desc-preproc_bold.json",
                {"RepetitionTime": run_tr, "SkullStripped": False, "TaskName": task},
            )
        mask = save_nifti(fdir / f"{pre}_desc-brain_mask.nii.gz", brain_mask_array(shape))
        save_nifti(fdir / f"{pre}_boldref.nii.gz", data.mean(-1).astype(np.float32))
        conf = make_confounds(n_conf_rows or n_vols, seed=i)
        write_tsv(fdir / f"{stem}_desc-confounds_timeseries.tsv", conf)
        write_json(
            fdir / f"{stem}_desc-confounds_timeseries.json",
            {"global_signal": {"Method": "mean"}},
        )
        out["bold"][run], out["data"][run], out["mask"][run] = bold, data, mask
        out["confounds"][run] = conf
        if surface is not None:
            rng = np.random.default_rng(100 + i)
            surf = {}
            for hemi, nv in (("L", n_vols), ("R", n_vols_right or n_vols)):
                arr = rng.normal(0, 1, (nv, n_vertices)).astype(np.float32)
                name = f"{stem}_hemi-{hemi}_space-{surface}_bold"
                surf[hemi] = (write_gifti_timeseries(fdir / f"{name}.func.gii", arr), arr)
                if surface_json:
                    write_json(fdir / f"{name}.json", {"RepetitionTime": run_tr, "TaskName": task})
            out["surf"][run] = surf
    return out


def make_labels_img(path: Path, shape: tuple[int, int, int] = SHAPE) -> tuple[Path, np.ndarray]:
    """An int16 atlas with 3 parcels (1, 2, 3) inside the brain box, 0 elsewhere."""
    labels = np.zeros(shape, dtype=np.int16)
    labels[1:5, 1:-1, 1:-1] = 1
    labels[5:-1, 1:6, 1:-1] = 2
    labels[5:-1, 6:-1, 1:-1] = 3
    return save_nifti(path, labels), labels


# ---------------------------------------------------------------------------- M/EEG / iEEG
def write_brainvision(vhdr: Path, data: np.ndarray, ch_names: list[str], sfreq: float) -> Path:
    """Hand-written BrainVision triplet (.vhdr/.vmrk/.eeg, float32 µV, multiplexed).

    ``data`` is ``(n_channels, n_times)`` in volts. pybv is not installed, so this is the
    way to a BrainVision file that ``write_raw_bids`` then copies into the BIDS tree.
    """
    stem = vhdr.stem
    vhdr.parent.mkdir(parents=True, exist_ok=True)
    samples = np.ascontiguousarray((np.asarray(data) * 1e6).T, dtype="<f4")
    (vhdr.parent / f"{stem}.eeg").write_bytes(samples.tobytes())
    header = [
        "Brain Vision Data Exchange Header File Version 1.0",
        "",
        "[Common Infos]",
        "Codepage=UTF-8",
        f"DataFile={stem}.eeg",
        f"MarkerFile={stem}.vmrk",
        "DataFormat=BINARY",
        "DataOrientation=MULTIPLEXED",
        f"NumberOfChannels={len(ch_names)}",
        f"SamplingInterval={1e6 / sfreq:g}",
        "",
        "[Binary Infos]",
        "BinaryFormat=IEEE_FLOAT_32",
        "",
        "[Channel Infos]",
        *[f"Ch{i + 1}={name},,1,µV" for i, name in enumerate(ch_names)],
    ]
    vhdr.write_text("\n".join(header) + "\n", encoding="utf-8")
    marker = [
        "Brain Vision Data Exchange Marker File, Version 1.0",
        "",
        "[Common Infos]",
        "Codepage=UTF-8",
        f"DataFile={stem}.eeg",
        "",
        "[Marker Infos]",
        "Mk1=New Segment,,1,1,0",
    ]
    (vhdr.parent / f"{stem}.vmrk").write_text("\n".join(marker) + "\n", encoding="utf-8")
    return vhdr


EEG_CHANNELS = ["Fz", "Cz", "Pz", "Oz"]
IEEG_CHANNELS = ["LA1", "LA2", "LA3", "RH1"]


def make_bids_eeg(
    root: Path,
    *,
    sfreq: float = 100.0,
    duration: float = 10.0,
    task: str = "listen",
    run: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """EEG (BrainVision) with a head-frame montage and a `word` column in events.tsv."""
    import mne
    from mne_bids import BIDSPath, write_raw_bids

    rng = np.random.default_rng(seed)
    n = round(sfreq * duration)
    data = rng.standard_normal((len(EEG_CHANNELS), n)) * 1e-5
    src = write_brainvision(root.parent / "src" / "recording.vhdr", data, EEG_CHANNELS, sfreq)
    raw = mne.io.read_raw_brainvision(src, verbose="error")
    pos = {c: np.array([0.02 * i - 0.03, 0.05, 0.08]) for i, c in enumerate(EEG_CHANNELS)}
    montage = mne.channels.make_dig_montage(
        ch_pos=pos, nasion=[0, 0.1, 0], lpa=[-0.08, 0, 0], rpa=[0.08, 0, 0], coord_frame="head"
    )
    raw.set_montage(montage)
    raw.info["line_freq"] = 50
    onsets = [1.0, 2.5, 2.5, 7.25]
    raw.set_annotations(
        mne.Annotations(
            onsets,
            [0.3, 0.2, 0.0, 0.0],
            ["word", "word", "sound", "sound"],
            extras=[{"word": "hi"}, {"word": "there"}, {"word": "n/a"}, {"word": "n/a"}],
        )
    )
    bids_path = BIDSPath(
        subject=SUBJECT, session="0", task=task, run=run, datatype="eeg", root=root
    )
    write_raw_bids(raw, bids_path, verbose=False)
    return {"bids_path": bids_path, "data": data, "sfreq": sfreq, "onsets": onsets}


def make_bids_ieeg(
    root: Path, *, sfreq: float = 200.0, duration: float = 10.0, strip_space: bool = True
) -> dict[str, Any]:
    """sEEG (BrainVision) with MNI electrode positions (``space-fsaverage`` electrodes.tsv).

    mne-bids 0.20 puts ``space-`` into the data file names too; real datasets do not, so with
    ``strip_space`` the run files are renamed to the real layout (electrodes and coordsystem
    keep their ``space-`` entity).
    """
    import mne
    from mne_bids import BIDSPath, write_raw_bids

    rng = np.random.default_rng(1)
    n = round(sfreq * duration)
    data = rng.standard_normal((len(IEEG_CHANNELS), n)) * 1e-4
    src = write_brainvision(root.parent / "src" / "recording.vhdr", data, IEEG_CHANNELS, sfreq)
    raw = mne.io.read_raw_brainvision(src, verbose="error")
    raw.set_channel_types({c: "seeg" for c in IEEG_CHANNELS})
    raw.info["line_freq"] = 60
    raw.set_annotations(mne.Annotations([0.5, 4.0], [1.0, 1.0], ["clip", "clip"]))
    coords = np.array([[0.01 * i, -0.02, 0.03] for i in range(len(IEEG_CHANNELS))])
    montage = mne.channels.make_dig_montage(
        ch_pos=dict(zip(IEEG_CHANNELS, coords)), coord_frame="mni_tal"
    )
    bids_path = BIDSPath(
        subject=SUBJECT,
        session="0",
        task="movie",
        run=1,
        datatype="ieeg",
        root=root,
        space="fsaverage",
    )
    write_raw_bids(raw, bids_path, montage=montage, verbose=False)
    ddir = bids_path.directory
    if strip_space:
        for f in sorted(ddir.glob("*_task-*_space-fsaverage_*")):
            new = f.with_name(f.name.replace("_space-fsaverage", ""))
            if f.suffix == ".vhdr" or f.suffix == ".vmrk":
                text = f.read_text(encoding="utf-8").replace("_space-fsaverage", "")
                new.write_text(text, encoding="utf-8")
                f.unlink()
            else:
                f.rename(new)
        scans = next(ddir.parent.glob("*_scans.tsv"))
        scans.write_text(scans.read_text().replace("_space-fsaverage", ""), encoding="utf-8")
        bids_path = bids_path.copy().update(space=None)
    return {"bids_path": bids_path, "data": data, "coords": coords, "sfreq": sfreq}


def masc_trial_types() -> list[dict[str, Any]]:
    """MEG-MASC-style event descriptions (Python dict literals)."""
    return [
        {"kind": "word", "word": "tara", "story": "lw1", "story_uid": 0, "word_index": 0},
        {"kind": "phoneme", "phoneme": "t_B", "story": "lw1", "word_index": 0},
        {"kind": "phoneme", "phoneme": "a_E", "story": "lw1", "word_index": 0},
        {"kind": "sound", "sound": "stimuli/audio/lw1_0.wav", "story": "lw1", "start": 0.0},
    ]


def make_bids_meg(root: Path, *, sfreq: float = 250.0, first_samp: int = 500) -> dict[str, Any]:
    """KIT-like MEG as FIF (5 magnetometers + a stim channel), MEG-MASC dict trial types.

    ``first_samp`` > 0 checks the clock: BIDS onsets count from the first stored sample.
    """
    import mne
    from mne_bids import BIDSPath, write_raw_bids

    rng = np.random.default_rng(2)
    names = [f"MEG {i:03d}" for i in range(1, 6)]
    info = mne.create_info([*names, "STI 014"], sfreq, ["mag"] * 5 + ["stim"])
    n = int(sfreq * 10)
    data = np.vstack([rng.standard_normal((5, n)) * 1e-12, np.zeros((1, n))])
    onsets = [1.0, 1.0, 1.2, 1.5]
    durations = [0.4, 0.2, 0.2, 5.0]
    # A spike on the first channel at each onset sample (counted from the first stored sample).
    spikes = np.round(np.array(onsets) * sfreq).astype(int)
    data[0, spikes] = 1e-9
    raw = mne.io.RawArray(data, info, first_samp=first_samp, verbose=False)
    raw.info["line_freq"] = 50
    descs = [str(d) for d in masc_trial_types()]
    raw.set_annotations(mne.Annotations(onsets, durations, descs))  # relative to first sample
    bids_path = BIDSPath(subject=SUBJECT, session="0", task="0", datatype="meg", root=root)
    write_raw_bids(raw, bids_path, allow_preload=True, format="FIF", verbose=False)
    return {
        "bids_path": bids_path,
        "data": data[:5],
        "onsets": onsets,
        "descs": descs,
        "spikes": spikes,
    }
