"""Tiny Algonauts 2025 and 2023 trees in the real layouts (names, keys, dtypes, list columns).

Real sizes: 1000 Schaefer parcels and ~300-600 TRs per run (2025); ~9,000-10,000 images and
~20,000 challenge vertices per hemisphere out of 163,842 fsaverage vertices (2023).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

TR = 1.49
FRIENDS_H5 = (
    "sub-{sub}_task-friends_space-MNI152NLin2009cAsym_atlas-Schaefer18_parcel-1000Par7Net"
    "_desc-s123456_bold.h5"
)
MOVIE10_H5 = (
    "sub-{sub}_task-movie10_space-MNI152NLin2009cAsym_atlas-Schaefer18_parcel-1000Par7Net_bold.h5"
)

#: key -> (n_TR, transcript rows - n_TR)
FRIENDS_RUNS = {
    "ses-001_task-s01e01a": (14, 1),  # the movie outlasts the scan by one TR
    "ses-001_task-s01e01b": (12, 0),
    "ses-002_task-s02e03a": (10, -1),
}
MOVIE10_RUNS = {
    "ses-003_task-bourne01": (11, 0),
    "ses-004_task-figures01_run-1": (9, 0),
    "ses-005_task-figures01_run-2": (9, 0),
}
VOCAB = ["hi", "there", "don't", "Joey", "how", "you", "doin'", "okay"]


def _write_transcript(path: Path, n_rows: int, rng: np.random.Generator) -> list:
    """One row per TR; each word is listed in the row where it ends. Returns the words."""
    import pandas as pd

    words = []
    t = 0.3
    while True:
        dur = float(np.round(rng.uniform(0.15, 0.6), 3))
        if t + dur >= n_rows * TR:
            break
        words.append((float(np.round(t, 3)), dur, VOCAB[len(words) % len(VOCAB)]))
        t += dur + float(rng.uniform(0.05, 1.2))
        if len(words) == 2:
            t += 2.5 * TR  # a silence: rows with '[]' lists and no text
    # make sure a word starts in the last TR (it lies after the run when the scan is shorter)
    last = (float(np.round((n_rows - 1) * TR + 0.2, 3)), 0.3, "bye")
    words = [w for w in words if w[0] + w[1] < last[0]] + [last]
    rows = [[] for _ in range(n_rows)]
    for w in words:
        rows[min(int((w[0] + w[1]) // TR), n_rows - 1)].append(w)
    table = pd.DataFrame(
        {
            "text_per_tr": [" ".join(w[2] for w in r) if r else np.nan for r in rows],
            "words_per_tr": [str([w[2] for w in r]) for r in rows],
            "onsets_per_tr": [str([w[0] for w in r]) for r in rows],
            "durations_per_tr": [str([w[1] for w in r]) for r in rows],
        }
    )
    table.to_csv(path, sep="\t", index=False)
    return words


def make_algonauts2025(
    root: Path, *, subject: str = "01", n_parcels: int = 10, seed: int = 0
) -> dict:
    """Write fMRI h5 files, atlas, movies (empty .mkv) and transcripts; return the truth."""
    import h5py
    import nibabel as nib

    rng = np.random.default_rng(seed)
    func = root / "fmri" / f"sub-{subject}" / "func"
    func.mkdir(parents=True)
    atlas_dir = root / "fmri" / f"sub-{subject}" / "atlas"
    atlas_dir.mkdir()
    dseg = rng.integers(0, n_parcels + 1, size=(4, 4, 3)).astype(np.int16)
    nib.save(
        nib.Nifti1Image(dseg, np.eye(4)),
        atlas_dir / f"sub-{subject}_space-MNI152NLin2009cAsym_atlas-Schaefer18_parcel-"
        "1000Par7Net_desc-dseg_parcellation.nii.gz",
    )
    truth: dict = {"data": {}, "words": {}, "n_rows": {}}
    written: dict = {}
    for task, fname, runs in (
        ("friends", FRIENDS_H5, FRIENDS_RUNS),
        ("movie10", MOVIE10_H5, MOVIE10_RUNS),
    ):
        with h5py.File(func / fname.format(sub=subject), "w") as h5:
            for key, (n_tr, _) in runs.items():
                data = rng.normal(size=(n_tr, n_parcels)).astype(np.float32)
                h5.create_dataset(key, data=data)
                truth["data"][key] = data
        for key, (n_tr, delta) in runs.items():
            name = key.split("task-")[1].split("_")[0]
            if task == "friends":
                folder = f"friends/s{int(name[1:3])}"
                movie, text = f"friends_{name}.mkv", f"friends_{name}.tsv"
            else:
                folder = f"movie10/{name.rstrip('0123456789')}"
                movie, text = f"{name}.mkv", f"movie10_{name}.tsv"
            mdir = root / "stimuli" / "movies" / folder
            tdir = root / "stimuli" / "transcripts" / folder
            mdir.mkdir(parents=True, exist_ok=True)
            tdir.mkdir(parents=True, exist_ok=True)
            (mdir / movie).write_bytes(b"\x1a\x45\xdf\xa3")  # the EBML magic of .mkv
            if text not in written:  # the second run of a repeated movie shares it
                written[text] = (n_tr + delta, _write_transcript(tdir / text, n_tr + delta, rng))
            truth["n_rows"][key], truth["words"][key] = written[text]
    return truth


def make_algonauts2023(
    root: Path,
    *,
    subject: int = 1,
    n_train: int = 6,
    n_test: int = 3,
    n_left: int = 5,
    n_right: int = 4,
    n_fsaverage: int = 30,
    test_fmri: bool = True,
    seed: int = 0,
) -> dict:
    """Write one subject of the challenge data; return the truth."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    sdir = root / f"subj{subject:02d}"
    nsd_ids = np.sort(rng.choice(73000, n_train + n_test, replace=False))
    train_ids, test_ids = nsd_ids[:n_train], nsd_ids[n_train:]
    truth: dict = {"train_ids": train_ids, "test_ids": test_ids}
    for split, ids, (split_dir, fmri_dir, stem, img_dir, prefix) in (
        (
            "train",
            train_ids,
            ("training_split", "training_fmri", "training", "training_images", "train"),
        ),
        ("test", test_ids, ("test_split", "test_fmri", "test", "test_images", "test")),
    ):
        idir = sdir / split_dir / img_dir
        idir.mkdir(parents=True)
        for i, nsd in enumerate(ids):
            img = Image.fromarray(rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8))
            img.save(idir / f"{prefix}-{i + 1:04d}_nsd-{int(nsd):05d}.png")
        if split == "test" and not test_fmri:
            continue
        fdir = sdir / split_dir / fmri_dir
        fdir.mkdir(parents=True)
        for h, n in (("lh", n_left), ("rh", n_right)):
            arr = rng.normal(size=(len(ids), n)).astype(np.float32)
            np.save(fdir / f"{h}_{stem}_fmri.npy", arr)
            truth[(split, h)] = arr
    rdir = sdir / "roi_masks"
    rdir.mkdir()
    mappings = {
        "prf-visualrois": {0: "Unknown", 1: "V1v", 2: "V1d", 3: "V2v"},
        "floc-faces": {0: "Unknown", 1: "OFA", 2: "FFA-1"},
    }
    for family, mapping in mappings.items():
        np.save(rdir / f"mapping_{family}.npy", mapping)
    for h, n in (("lh", n_left), ("rh", n_right)):
        mask = np.zeros(n_fsaverage, dtype=np.int64)  # the official files are int 0/1
        idx = np.sort(rng.choice(n_fsaverage, n, replace=False))
        mask[idx] = 1
        np.save(rdir / f"{h}.all-vertices_fsaverage_space.npy", mask)
        truth[("vertices", h)] = idx
        for family, mapping in mappings.items():
            challenge = rng.integers(0, len(mapping), size=n)
            fsavg = np.zeros(n_fsaverage, dtype=np.int64)
            fsavg[idx] = challenge
            np.save(rdir / f"{h}.{family}_challenge_space.npy", challenge)
            np.save(rdir / f"{h}.{family}_fsaverage_space.npy", fsavg)
            truth[(family, h)] = challenge
    truth["mappings"] = mappings
    return truth
