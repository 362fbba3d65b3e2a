"""Algonauts 2023 (NSD-derived, fsaverage "challenge space") responses to images.

Layout of one subject (``subjXX/``, see ``data-formats.md`` §2)::

    training_split/training_fmri/{lh,rh}_training_fmri.npy     (n_images, n_vertices_hemi) float32
    training_split/training_images/train-0001_nsd-00013.png    1-based row, 0-based 73k id
    test_split/test_images/test-0001_nsd-00845.png
    test_split/test_fmri/{lh,rh}_test_fmri.npy                 (released after the challenge)
    roi_masks/{lh,rh}.all-vertices_fsaverage_space.npy         fsaverage mask of the challenge vertices
    roi_masks/{lh,rh}.<family>_{fsaverage,challenge}_space.npy ROI ids per vertex
    roi_masks/mapping_<family>.npy                             dict ROI id -> name (pickled)

The responses are betas z-scored per vertex within each NSD session, then averaged over the
(up to 3) repetitions of each image; images are sorted by 73k id.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from brainalign.data._space import Space
from brainalign.data._trialset import TrialSet
from brainalign.exceptions import DataFormatError
from brainalign.io._files import load_npy, require_dir
from brainalign.io._nsd import parse_nsd_subject

__all__ = ["read_algonauts2023"]

PathLike = str | os.PathLike[str]

SPLITS = {
    "train": ("training_split", "training_fmri", "training", "training_images", "train"),
    "test": ("test_split", "test_fmri", "test", "test_images", "test"),
}
ROI_FAMILIES = (
    "prf-visualrois",
    "floc-bodies",
    "floc-faces",
    "floc-places",
    "floc-words",
    "streams",
)
_HEMIS = (("lh", "left"), ("rh", "right"))


def _image_table(folder: Path, prefix: str) -> Any:
    """Parse ``<prefix>-NNNN_nsd-NNNNN.png`` names: 1-based row, 0-based 73k id."""
    import pandas as pd

    pattern = re.compile(rf"{prefix}-(\d+)_nsd-(\d+)\.png")
    rows = []
    for f in sorted(folder.iterdir()):
        if not f.name.lower().endswith(".png"):
            continue
        m = pattern.fullmatch(f.name)
        if m is None:
            raise DataFormatError(
                f"image {str(f)!r} must be named like '{prefix}-0001_nsd-00013.png' (1-based "
                f"row, then the 0-based 73k id); got {f.name!r}"
            )
        rows.append((int(m.group(1)), int(m.group(2)), str(f)))
    if not rows:
        raise DataFormatError(f"no '{prefix}-NNNN_nsd-NNNNN.png' image found in {str(folder)!r}")
    table = pd.DataFrame(rows, columns=["image_index", "stim_id", "image_file"])
    table = table.sort_values("image_index", kind="stable").reset_index(drop=True)
    expected = np.arange(1, len(table) + 1)
    if not np.array_equal(table["image_index"].to_numpy(), expected):
        missing = np.setdiff1d(expected, table["image_index"].to_numpy())
        raise DataFormatError(
            f"images of {str(folder)!r} must be numbered 1..{len(table)} without gaps or "
            f"repeats; got {len(table)} files, missing {missing[:5].tolist()}"
        )
    dup = table["stim_id"].duplicated()
    if dup.any():
        raise DataFormatError(
            f"images of {str(folder)!r} must show distinct 73k ids; got nsd-"
            f"{int(table['stim_id'][dup].iloc[0]):05d} twice"
        )
    return table


def read_algonauts2023(
    root: PathLike,
    subject: int | str,
    split: str = "train",
    *,
    rois: bool = True,
) -> TrialSet:
    """Read the Algonauts 2023 responses of one subject as a :class:`~brainalign.data.TrialSet`.

    Parameters
    ----------
    root : path-like
        The challenge data folder holding ``subj01/`` .. ``subj08/``.
    subject : int or str
        1..8 (``"01"``, ``"subj01"``).
    split : {"train", "test"}
        ``train``: ``training_split``. ``test``: ``test_split``, whose ``test_fmri`` was released
        after the challenge.
    rois : bool
        Also read the ROI masks of ``roi_masks/`` into ``metadata["rois"]``. The
        ``mapping_<family>.npy`` files are pickled dicts, loaded with ``allow_pickle=True``:
        read only files from the official release.

    Returns
    -------
    trialset : TrialSet
        ``data`` float32 ``(n_images, n_left + n_right)``: left-hemisphere challenge vertices,
        then right. ``trials``: ``trial`` (0-based row), ``image_index`` (the 1-based number
        of the file name), ``stim_id`` = ``nsd_id`` (0-based 73k id, as in
        :func:`~brainalign.io.read_nsd`), ``image_file``, ``split``. ``space`` is a surface
        space named ``"algonauts2023_challenge"`` with ``hemi_slices``.
        ``metadata["fsaverage_vertices"]`` maps each hemisphere to the fsaverage vertex index
        of each challenge vertex (the nonzero entries of ``{lh,rh}.all-vertices_fsaverage_space
        .npy``), so that challenge values go back to fsaverage with::

            full = np.zeros(metadata["n_vertices_per_hemi"])
            full[metadata["fsaverage_vertices"]["left"]] = values[space.hemi_slices["left"]]

        ``metadata["rois"][family][name]`` is a boolean mask over the targets (both
        hemispheres) for each ROI of each family present.

    Raises
    ------
    FileNotFoundError
        Missing folders or files.
    DataFormatError
        Corrupt ``.npy`` files, shapes that disagree between hemispheres, images and masks, or
        badly named images.
    """
    from brainalign._validation import check_choice

    check_choice(split, "split", tuple(SPLITS))
    base = require_dir(root, "Algonauts 2023 data folder")
    subj = f"subj{parse_nsd_subject(subject, 'Algonauts 2023'):02d}"
    sdir = require_dir(base / subj, f"Algonauts 2023 folder of {subj}")
    split_dir, fmri_dir, stem, image_dir, prefix = SPLITS[split]
    hemis: dict[str, np.ndarray] = {}
    for h, _ in _HEMIS:
        path = sdir / split_dir / fmri_dir / f"{h}_{stem}_fmri.npy"
        if split == "test" and not path.is_file():
            raise FileNotFoundError(
                f"Algonauts 2023 test responses not found: expected a file at {str(path)!r}. "
                f"They were withheld during the challenge and released afterwards; add them to "
                f"{str(path.parent)!r}."
            )
        arr = load_npy(path, f"Algonauts 2023 {h} responses")
        if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.floating):
            raise DataFormatError(
                f"Algonauts 2023 responses {str(path)!r} must be a float array (n_images, "
                f"n_vertices); got dtype {arr.dtype}, shape {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise DataFormatError(
                f"Algonauts 2023 responses {str(path)!r} hold "
                f"{int((~np.isfinite(arr)).sum())} non-finite value(s)"
            )
        hemis[h] = arr.astype(np.float32, copy=False)
    if hemis["lh"].shape[0] != hemis["rh"].shape[0]:
        raise DataFormatError(
            f"Algonauts 2023 {subj} {split}: lh and rh responses in "
            f"{str(sdir / split_dir / fmri_dir)!r} must have as many images (rows); got lh "
            f"{hemis['lh'].shape}, rh {hemis['rh'].shape}"
        )
    images = _image_table(
        require_dir(sdir / split_dir / image_dir, f"Algonauts 2023 {split} images folder"), prefix
    )
    n_images = hemis["lh"].shape[0]
    if len(images) != n_images:
        raise DataFormatError(
            f"Algonauts 2023 {subj} {split}: the responses have {n_images} rows (images) but "
            f"{str(sdir / split_dir / image_dir)!r} has {len(images)} images"
        )
    trials = images.assign(trial=np.arange(n_images), split=split)
    trials["nsd_id"] = trials["stim_id"]
    trials = trials[["trial", "image_index", "stim_id", "nsd_id", "image_file", "split"]]

    roi_dir = require_dir(sdir / "roi_masks", f"Algonauts 2023 roi_masks folder of {subj}")
    vertices, n_fs = {}, {}
    for h, hemi in _HEMIS:
        path = roi_dir / f"{h}.all-vertices_fsaverage_space.npy"
        mask = np.asarray(load_npy(path, f"Algonauts 2023 {h} challenge-vertex mask")).ravel()
        idx = np.flatnonzero(mask)
        if idx.size != hemis[h].shape[1]:
            raise DataFormatError(
                f"Algonauts 2023 mask {str(path)!r} selects {idx.size} fsaverage vertices but "
                f"the {h} responses have {hemis[h].shape[1]} columns; both must describe the "
                f"same challenge vertices"
            )
        vertices[hemi], n_fs[hemi] = idx, int(mask.size)
    if n_fs["left"] != n_fs["right"]:
        raise DataFormatError(
            f"Algonauts 2023 masks of {str(roi_dir)!r} must have the same length for lh and rh "
            f"(163842 for fsaverage); got {n_fs['left']} and {n_fs['right']}"
        )
    n_left, n_right = hemis["lh"].shape[1], hemis["rh"].shape[1]
    space = Space.surface("algonauts2023_challenge", {"left": n_left, "right": n_right})
    metadata: dict[str, Any] = {
        "dataset": "algonauts2023",
        "split": split,
        "mesh": "fsaverage",
        "n_vertices_per_hemi": n_fs["left"],
        "fsaverage_vertices": vertices,
        "units": "zscore (per vertex and session), averaged over repetitions",
        "folder": str(sdir),
    }
    if rois:
        metadata["rois"] = _read_rois(roi_dir, n_left, n_right)
    return TrialSet(
        np.concatenate([hemis["lh"], hemis["rh"]], axis=1),
        trials,
        modality="fmri",
        space=space,
        subject=subj,
        metadata=metadata,
    )


def _read_rois(roi_dir: Path, n_left: int, n_right: int) -> dict[str, dict[str, np.ndarray]]:
    """``{family: {roi name: bool mask over the concatenated challenge vertices}}``."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for family in ROI_FAMILIES:
        mapping_path = roi_dir / f"mapping_{family}.npy"
        if not mapping_path.is_file():
            continue
        mapping = load_npy(
            mapping_path, f"Algonauts 2023 ROI mapping {family!r}", allow_pickle=True
        )
        if not isinstance(mapping, dict):
            raise DataFormatError(
                f"Algonauts 2023 ROI mapping {str(mapping_path)!r} must hold a dict ROI id -> "
                f"name; got {type(mapping).__name__}"
            )
        labels = []
        for h, n in (("lh", n_left), ("rh", n_right)):
            path = roi_dir / f"{h}.{family}_challenge_space.npy"
            arr = np.asarray(load_npy(path, f"Algonauts 2023 ROI mask {family!r}")).ravel()
            if arr.size != n:
                raise DataFormatError(
                    f"Algonauts 2023 ROI mask {str(path)!r} must have one value per {h} "
                    f"challenge vertex ({n}); got {arr.size}"
                )
            labels.append(arr)
        both = np.concatenate(labels)
        out[family] = {
            str(name): both == int(key) for key, name in mapping.items() if int(key) != 0
        }
    return out
