"""BIDS raw fMRI: ``*_bold.nii.gz`` + inherited JSON sidecars + ``*_events.tsv`` → `Recording`.

The BIDS mechanisms (entities, inheritance of sidecars and events) live in
:mod:`brainalign.io._bids`; this module holds the NIfTI and masking helpers shared with the
fMRIPrep reader, and the raw fMRI readers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._logging import logger
from brainalign._validation import check_choice
from brainalign.exceptions import DataFormatError
from brainalign.io._bids import (
    EVENTS_OUTSIDE,
    check_same_tr,
    describe_entities,
    filter_runs,
    find_bids_root,
    find_func_files,
    inherited_run_events,
    merged_sidecar,
    parse_bids_entities,
    tr_from_sidecar,
)
from brainalign.io._files import require_dir, require_file

__all__ = ["read_bids_func", "read_bids_func_runs"]

PathLike = str | os.PathLike[str]


# ---------------------------------------------------------------------------- NIfTI
def load_nifti(path: PathLike, what: str) -> Any:
    """Load a NIfTI image; a missing or corrupt file raises an error naming it."""
    import nibabel as nib

    p = require_file(path, what)
    try:
        img = nib.load(p)
        img.header.get_data_shape()
    except Exception as err:  # nibabel raises several unrelated types on corrupt files
        raise DataFormatError(
            f"{what} at {str(p)!r} is not a readable NIfTI image (corrupt or truncated?): {err}"
        ) from err
    return img


def load_bold(path: PathLike, what: str = "BOLD image") -> Any:
    """Load a 4-D image fully (so truncated data fail here, naming the file)."""
    import nibabel as nib

    img = load_nifti(path, what)
    if len(img.shape) != 4:
        raise DataFormatError(
            f"{what} at {str(path)!r} must be 4-D (x, y, z, time); got shape {img.shape}"
        )
    try:
        data = np.asarray(img.dataobj)
    except Exception as err:
        raise DataFormatError(
            f"{what} at {str(path)!r} could not be read (corrupt or truncated?): {err}"
        ) from err
    return nib.Nifti1Image(data, img.affine, img.header)


def header_tr(img: Any) -> float | None:
    """Repetition time in the NIfTI header (pixdim[4]) in seconds, or None."""
    zooms = img.header.get_zooms()
    if len(zooms) < 4 or not zooms[3] > 0:
        return None
    unit = img.header.get_xyzt_units()[1] if hasattr(img.header, "get_xyzt_units") else "sec"
    return float(zooms[3]) / (1000.0 if unit == "msec" else 1.0)


def check_mask_shape(mask: Any, bold: Any, mask_path: Any, bold_path: Any) -> None:
    """The mask must be 3-D on the BOLD grid (shape and affine)."""
    if len(mask.shape) != 3 or tuple(mask.shape) != tuple(bold.shape[:3]):
        raise DataFormatError(
            f"Mask {mask_path!s} must be a 3-D image on the grid of {bold_path!s}: expected "
            f"shape {tuple(bold.shape[:3])}; got {tuple(mask.shape)}"
        )
    if not np.allclose(mask.affine, bold.affine, atol=1e-4):
        raise DataFormatError(
            f"Mask {mask_path!s} must share the affine of {bold_path!s}; got\n{mask.affine}\n"
            f"and\n{bold.affine}. Resample the mask to the BOLD grid first."
        )


def make_masker(
    *, mask_img: Any, mask_strategy: str, masker: Any, imgs: list[Any], paths: list[Path]
) -> tuple[Any, str]:
    """A fitted nilearn masker shared by all runs, and a description of where its mask came from."""
    from nilearn.maskers import MultiNiftiMasker, NiftiMasker

    if masker is not None and mask_img is not None:
        raise ValueError(
            "Pass at most one of `mask_img` or `masker`; got both. Put the mask into the "
            "masker (NiftiMasker(mask_img=...)) instead."
        )
    if masker is not None:
        if not hasattr(masker, "mask_img_"):
            if getattr(masker, "mask_img", None) is not None:
                masker.fit()
            else:
                masker.fit(imgs[0] if len(imgs) == 1 else imgs)
        return masker, f"user masker {type(masker).__name__}"
    if mask_img is not None:
        label = str(mask_img) if isinstance(mask_img, (str, os.PathLike)) else "given image"
        if isinstance(mask_img, (str, os.PathLike)):
            mask_img = load_nifti(mask_img, "Mask image (`mask_img`)")
        for img, path in zip(imgs, paths):
            check_mask_shape(mask_img, img, label, path)
        return NiftiMasker(mask_img=mask_img, standardize=None).fit(), label
    try:
        if len(imgs) == 1:
            fitted = NiftiMasker(mask_strategy=mask_strategy, standardize=None).fit(imgs[0])
        else:
            multi = MultiNiftiMasker(mask_strategy=mask_strategy, standardize=None).fit(imgs)
            fitted = NiftiMasker(mask_img=multi.mask_img_, standardize=None).fit()
    except ValueError as err:  # nilearn refuses empty masks and unknown strategies
        raise DataFormatError(
            f"nilearn could not compute a {mask_strategy!r} mask from "
            f"{[str(p) for p in paths]}: {err} Pass `mask_img` (e.g. the brain mask) or "
            f"another `mask_strategy`."
        ) from err
    return fitted, f"computed by nilearn (mask_strategy={mask_strategy!r})"


# ---------------------------------------------------------------------------- readers
def _find_bold_files(
    root: Path,
    *,
    subject: str | None,
    session: str | None,
    task: str | None,
    run: Any,
    acquisition: str | None,
) -> list[Path]:
    if subject is None:
        raise ValueError(
            "`subject` is required when `bids_root` is given instead of a file; got None"
        )
    sub_dir = require_dir(root / f"sub-{subject}", f"Subject folder of sub-{subject}")
    wanted = {"sub": subject, "ses": session, "task": task, "acq": acquisition}
    return find_func_files(sub_dir, "*_bold.nii*", wanted, run)


def read_bids_func(
    bold_file: PathLike | None = None,
    *,
    bids_root: PathLike | None = None,
    subject: str | None = None,
    session: str | None = None,
    task: str | None = None,
    run: int | str | None = None,
    acquisition: str | None = None,
    mask_img: Any = None,
    mask_strategy: str = "epi",
    masker: Any = None,
    events: bool = True,
    events_outside: str = "raise",
    trial_type_dicts: bool | str = False,
    sample_point: str = "start",
) -> Any:
    """Read one raw BIDS fMRI run into a `Recording` (time × voxels) with its events.

    Either give ``bold_file`` (``sub-<l>/[ses-<l>/]func/..._bold.nii.gz``) or ``bids_root``
    with the entities that select exactly one run.

    Parameters
    ----------
    bold_file : str or path-like, optional
        The 4-D BOLD image.
    bids_root : str or path-like, optional
        The dataset folder; default: the nearest parent with ``dataset_description.json``.
    subject, session, task, run, acquisition : str or int, optional
        Entities that select the run when ``bold_file`` is not given.
    mask_img : nibabel image or path, optional
        Brain mask on the BOLD grid; voxels are its non-zero entries in C order.
    mask_strategy : str
        When neither ``mask_img`` nor ``masker`` is given, nilearn computes a mask with this
        strategy (``"epi"``, ``"background"``, ``"whole-brain-template"``...).
    masker : nilearn masker, optional
        A ready ``NiftiMasker`` (smoothing, detrending...). Exclusive with ``mask_img``.
    events : bool
        Read the (inherited) ``*_events.tsv`` of the run.
    events_outside : {"raise", "drop"}
        What to do with events whose onset is outside the run ``[0, n_volumes * TR)``:
        raise an error naming the file (default) or drop them (the count goes in
        ``metadata["events_dropped"]``).
    trial_type_dicts : bool or "expand"
        Parse ``trial_type`` values written as Python dict literals; ``"expand"`` also adds
        one column per dict key.
    sample_point : {"start", "middle"}
        BIDS times mark the start of each volume (default); ``"middle"`` shifts the sample
        times by TR/2. Slice timing is not applied; it is in ``metadata["SliceTiming"]``.

    Returns
    -------
    recording : Recording
        ``data`` of shape ``(n_volumes, n_voxels)``, ``sfreq = 1 / RepetitionTime``,
        ``modality="fmri"``, a volume ``Space`` and the events on the scan clock (0 = start
        of the first volume). ``metadata`` holds the source files, the merged sidecar,
        ``RepetitionTime``, ``SliceTiming``, the header TR and how the mask was made.

    Raises
    ------
    FileNotFoundError
        Missing BOLD file, subject folder, or mask.
    DataFormatError
        No ``RepetitionTime`` in the sidecars, events outside the run, a corrupt or non-4-D
        image, a mask on another grid, an ambiguous selection.
    """
    recs = _read_runs(
        [bold_file] if bold_file is not None else None,
        bids_root=bids_root,
        entities=dict(
            subject=subject, session=session, task=task, run=run, acquisition=acquisition
        ),
        mask_img=mask_img,
        mask_strategy=mask_strategy,
        masker=masker,
        events=events,
        events_outside=events_outside,
        trial_type_dicts=trial_type_dicts,
        sample_point=sample_point,
    )
    return recs[0]


def read_bids_func_runs(
    bids_root: PathLike,
    subject: str,
    task: str,
    *,
    session: str | None = None,
    acquisition: str | None = None,
    runs: int | str | Sequence[int | str] | None = None,
    mask_img: Any = None,
    mask_strategy: str = "epi",
    masker: Any = None,
    events: bool = True,
    events_outside: str = "raise",
    trial_type_dicts: bool | str = False,
    sample_point: str = "start",
) -> list[Any]:
    """Read every run of a subject and task (one `Recording` per run, in run order).

    All runs share one voxel set: ``mask_img``, ``masker``, or one mask computed from all
    runs together (``nilearn.maskers.MultiNiftiMasker``). All runs must share one TR.
    Parameters are those of :func:`read_bids_func`; ``runs`` restricts to these run numbers.

    Returns
    -------
    recordings : list of Recording
        One per run, each ``(n_volumes_run, n_voxels)``.

    Raises
    ------
    FileNotFoundError
        No run matches.
    DataFormatError
        Runs with different TRs, or any error of :func:`read_bids_func`.
    """
    root = require_dir(bids_root, "BIDS dataset folder (`bids_root`)")
    files = _find_bold_files(
        root, subject=subject, session=session, task=task, run=None, acquisition=acquisition
    )
    files = filter_runs(files, runs)
    if not files:
        raise FileNotFoundError(
            f"No BOLD run found in {str(root)!r} for "
            f"{describe_entities(subject=subject, session=session, task=task)}"
            f"{f', acquisition={acquisition!r}' if acquisition is not None else ''}"
            f"{f', runs={runs!r}' if runs is not None else ''}: expected files "
            f"sub-{subject}/[ses-*/]func/sub-{subject}_*task-{task}*_bold.nii[.gz]"
        )
    return _read_runs(
        files,
        bids_root=root,
        entities={},
        mask_img=mask_img,
        mask_strategy=mask_strategy,
        masker=masker,
        events=events,
        events_outside=events_outside,
        trial_type_dicts=trial_type_dicts,
        sample_point=sample_point,
    )


def _read_runs(
    files: list[Any] | None,
    *,
    bids_root: PathLike | None,
    entities: dict[str, Any],
    mask_img: Any,
    mask_strategy: str,
    masker: Any,
    events: bool,
    events_outside: str,
    trial_type_dicts: bool | str,
    sample_point: str,
) -> list[Any]:
    from brainalign.data import Recording, Space

    check_choice(events_outside, "events_outside", EVENTS_OUTSIDE)
    if files is None:
        if bids_root is None:
            raise ValueError(
                "Pass `bold_file`, or `bids_root` with the entities of one run; got neither"
            )
        root = require_dir(bids_root, "BIDS dataset folder (`bids_root`)")
        files = _find_bold_files(root, **entities)
        if not files:
            raise FileNotFoundError(
                f"No BOLD run found in {str(root)!r} for {describe_entities(**entities)}; expected "
                f"one file sub-<l>/[ses-<l>/]func/..._bold.nii[.gz] with these entities"
            )
        if len(files) > 1:
            raise DataFormatError(
                f"{len(files)} BOLD runs in {str(root)!r} match {describe_entities(**entities)}; "
                f"expected exactly one. Candidates: {[f.name for f in files]}. Add `run`, "
                f"`session` or `acquisition`, or use read_bids_func_runs."
            )
    paths = [require_file(f, "BIDS BOLD image (*_bold.nii.gz)") for f in files]
    root = Path(bids_root).expanduser() if bids_root is not None else find_bids_root(paths[0])
    imgs = [load_bold(p, "BOLD image") for p in paths]
    sidecars, trs = [], {}
    for p in paths:
        sidecar, sfiles = merged_sidecar(p, root, "bold")
        trs[str(p)] = tr_from_sidecar(p, root, sidecar, sfiles)
        sidecars.append((sidecar, sfiles))
    check_same_tr(trs)
    fitted, mask_source = make_masker(
        mask_img=mask_img, mask_strategy=mask_strategy, masker=masker, imgs=imgs, paths=paths
    )
    recs = []
    for p, img, (sidecar, sfiles) in zip(paths, imgs, sidecars):
        tr = trs[str(p)]
        n_vols = int(img.shape[3])
        ev, ev_file, n_dropped, n_na = None, None, 0, 0
        if events:
            ev, ev_file, n_dropped, n_na = inherited_run_events(
                p,
                root,
                stop=n_vols * tr,
                events_outside=events_outside,
                trial_type_dicts=trial_type_dicts,
            )
        ent = parse_bids_entities(p)
        h_tr = header_tr(img)
        if h_tr is not None and abs(h_tr - tr) > 1e-3:
            logger.info(
                "%s: header TR %.4g s differs from RepetitionTime %.4g s; using the sidecar",
                p.name,
                h_tr,
                tr,
            )
        data = fitted.transform(img)
        metadata = {
            "source": {
                "bold": str(p),
                "sidecars": [str(f) for f in sfiles],
                "events": None if ev_file is None else str(ev_file),
                "bids_root": str(root),
            },
            "sidecar": sidecar,
            "RepetitionTime": tr,
            "SliceTiming": sidecar.get("SliceTiming"),
            "tr_header": h_tr,
            "n_volumes": n_vols,
            "mask": mask_source,
            "events_dropped": n_dropped,
            "events_na_duration_as_zero": n_na,
            "preprocessing": [],
        }
        recs.append(
            Recording(
                data=data,
                sfreq=1.0 / tr,
                modality="fmri",
                sample_point=sample_point,
                events=ev,
                space=Space.volume(fitted.mask_img_, name=ent.get("space")),
                subject=ent.get("sub"),
                session=ent.get("ses"),
                run=ent.get("run"),
                task=ent.get("task"),
                metadata=metadata,
            )
        )
    return recs
