"""A tiny Natural Scenes Dataset tree in the real layout (file names, keys, dtypes, 1-based ids).

Sizes are parameters: the real dataset has 40 sessions x 12 runs x 75 slots (750 trials per
session), 10,000 images per subject (1,000 shared), 73,000 images of 425 x 425 pixels and
81 x 104 x 83 func1pt8mm volumes; here everything is a few elements.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_nsd(
    root: Path,
    *,
    n_design_sessions: int = 3,
    n_sessions: int = 2,
    n_runs: int = 2,
    n_slots: int = 8,
    trials_per_run: int = 6,
    n_shared: int = 4,
    grid: tuple[int, int, int] = (4, 5, 3),
    n_vertices: int = 7,
    subjects: tuple[int, ...] = (1,),
    seed: int = 0,
) -> dict:
    """Write the NSD files under ``root`` and return the ground truth (0-based)."""
    import h5py
    import nibabel as nib
    import pandas as pd
    import scipy.io

    rng = np.random.default_rng(seed)
    tps = n_runs * trials_per_run
    n_trials = n_design_sessions * tps
    if n_trials % 3:
        raise ValueError("the fixture shows every image 3 times: n_trials must divide by 3")
    n_images = n_trials // 3  # images per subject (the real 10,000)
    n_unique = n_images - n_shared
    n73k = n_shared + 8 * n_unique + 5  # a few images nobody saw

    # --- design (MATLAB 1-based) -------------------------------------------------------
    ids = rng.permutation(n73k)
    shared = np.sort(ids[:n_shared])
    subjectim = np.empty((8, n_images), dtype=np.int64)
    for s in range(8):
        subjectim[s, :n_shared] = shared
        subjectim[s, n_shared:] = ids[n_shared + s * n_unique : n_shared + (s + 1) * n_unique]
    masterordering = rng.permutation(np.repeat(np.arange(n_images), 3))  # 0-based 10k idx
    stimpattern = np.zeros((n_design_sessions, n_runs, n_slots), dtype=np.uint8)
    for s in range(n_design_sessions):
        for r in range(n_runs):
            stimpattern[s, r, np.sort(rng.choice(n_slots, trials_per_run, replace=False))] = 1
    exp_dir = root / "nsddata" / "experiments" / "nsd"
    exp_dir.mkdir(parents=True)
    scipy.io.savemat(
        exp_dir / "nsd_expdesign.mat",
        {
            "masterordering": (masterordering + 1)[None, :].astype(np.float64),
            "subjectim": (subjectim + 1).astype(np.float64),
            "sharedix": (shared + 1)[None, :].astype(np.float64),
            "stimpattern": stimpattern.astype(np.float64),
            "basiccnt": np.zeros((3, n_design_sessions)),
        },
    )

    # --- stimulus table (one row per 73k image, 0-based nsdId, unnamed index column) ---
    table = {
        "cocoId": 100000 + np.arange(n73k) * 7,
        "cocoSplit": np.where(np.arange(n73k) % 2, "train2017", "val2017"),
        "cropBox": ["(0, 0, 0.1, 0.1)"] * n73k,
        "loss": np.zeros(n73k),
        "nsdId": np.arange(n73k),
        "flagged": np.zeros(n73k, dtype=bool),
        "BOLD5000": np.zeros(n73k, dtype=bool),
        "shared1000": np.isin(np.arange(n73k), shared),
    }
    for s in range(8):
        table[f"subject{s + 1}"] = np.isin(np.arange(n73k), subjectim[s]).astype(int)
    for s in range(8):
        for rep in range(3):
            col = np.zeros(n73k, dtype=np.int64)
            for c in range(n_images):
                col[subjectim[s, c]] = np.flatnonzero(masterordering == c)[rep] + 1
            table[f"subject{s + 1}_rep{rep}"] = col
    pd.DataFrame(table).to_csv(exp_dir / "nsd_stim_info_merged.csv", index=True)

    # --- images ---------------------------------------------------------------------------
    stim_dir = root / "nsddata_stimuli" / "stimuli" / "nsd"
    stim_dir.mkdir(parents=True)
    images = rng.integers(0, 256, size=(n73k, 6, 5, 3), dtype=np.uint8)
    with h5py.File(stim_dir / "nsd_stimuli.hdf5", "w") as h5:
        h5.create_dataset("imgBrick", data=images, chunks=(1, 6, 5, 3))

    # --- per subject: masks and betas ---------------------------------------------------------
    affine = np.diag([1.8, 1.8, 1.8, 1.0])
    affine[:3, 3] = [-10.0, -20.0, -5.0]
    label_dir = root / "nsddata" / "freesurfer" / "fsaverage" / "label"
    label_dir.mkdir(parents=True)
    surf_masks = {}
    for hemi in ("lh", "rh"):
        lab = (rng.random(n_vertices) > 0.4).astype(np.int32)
        lab[0] = 1
        surf_masks[hemi] = lab > 0
        nib.save(
            nib.MGHImage(lab.reshape(-1, 1, 1), np.eye(4)), label_dir / f"{hemi}.nsdgeneral.mgz"
        )
    truth = {
        "masterordering": masterordering,
        "subjectim": subjectim,
        "shared": shared,
        "stimpattern": stimpattern.astype(bool),
        "tps": tps,
        "n73k": n73k,
        "images": images,
        "cocoId": table["cocoId"],
        "affine": affine,
        "grid": grid,
        "surf_masks": surf_masks,
        "psc": {},
        "surf": {},
        "mask": {},
    }
    for subj in subjects:
        tag = f"subj{subj:02d}"
        ppdir = root / "nsddata" / "ppdata" / tag / "func1pt8mm"
        (ppdir / "roi").mkdir(parents=True)
        general = rng.choice(np.array([-1, 0, 1], dtype=np.int16), size=grid, p=[0.3, 0.2, 0.5])
        general[0, 0, 0] = 1
        nib.save(nib.Nifti1Image(general, affine), ppdir / "roi" / "nsdgeneral.nii.gz")
        nib.save(
            nib.Nifti1Image((general >= 0).astype(np.int16), affine), ppdir / "brainmask.nii.gz"
        )
        truth["mask"][subj] = general > 0
        bdir = root / "nsddata_betas" / "ppdata" / tag / "func1pt8mm" / "betas_fithrf_GLMdenoise_RR"
        sdir = root / "nsddata_betas" / "ppdata" / tag / "fsaverage" / "betas_fithrf_GLMdenoise_RR"
        bdir.mkdir(parents=True)
        sdir.mkdir(parents=True)
        for ses in range(1, n_sessions + 1):
            # session offsets make per-session z-scoring matter
            raw = rng.normal(ses * 2.0, 1.5, size=(*grid, tps)) * 300
            raw = np.clip(np.round(raw), -32768, 32767).astype(np.int16)
            nib.save(nib.Nifti1Image(raw, affine), bdir / f"betas_session{ses:02d}.nii.gz")
            with h5py.File(bdir / f"betas_session{ses:02d}.hdf5", "w") as h5:
                h5.create_dataset("betas", data=np.transpose(raw, (3, 2, 1, 0)))
            truth["psc"][(subj, ses)] = np.moveaxis(raw, -1, 0).astype(np.float32) / np.float32(300)
            surf = {}
            for hemi in ("lh", "rh"):
                vals = rng.normal(ses, 1.0, size=(n_vertices, 1, 1, tps)).astype(np.float32)
                nib.save(nib.MGHImage(vals, np.eye(4)), sdir / f"{hemi}.betas_session{ses:02d}.mgh")
                surf[hemi] = vals[:, 0, 0, :].T
            truth["surf"][(subj, ses)] = surf
    return truth
