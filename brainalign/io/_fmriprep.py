"""fMRIPrep derivatives → `Recording`: volume (brain mask or atlas parcels) or fsaverage surfaces.

Confounds go through :func:`nilearn.interfaces.fmriprep.load_confounds`; masking through
nilearn's ``NiftiMasker`` / ``NiftiLabelsMasker``; GIfTI time series through nibabel (one data
array per volume, as fMRIPrep writes them). Events come from the raw BIDS tree.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._validation import check_choice
from brainalign.exceptions import DataFormatError
from brainalign.io._bids import (
    EVENTS_OUTSIDE,
    RAW_ENTITIES,
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
from brainalign.io._bids_func import check_mask_shape, header_tr, load_bold, load_nifti
from brainalign.io._files import require_dir, require_file

__all__ = ["read_fmriprep", "read_fmriprep_confounds", "read_fmriprep_runs"]

PathLike = str | os.PathLike[str]
_SURFACE_SPACES = ("fsaverage", "fsnative", "fsLR")
_DEFAULT_STRATEGY = ("motion", "high_pass", "wm_csf")


def _is_surface_space(space: str) -> bool:
    return space.startswith(_SURFACE_SPACES)


# ---------------------------------------------------------------------------- confounds
def read_fmriprep_confounds(
    bold_file: PathLike | Sequence[PathLike],
    strategy: Sequence[str] = _DEFAULT_STRATEGY,
    *,
    n_volumes: int | None = None,
    **kwargs: Any,
) -> tuple[Any, np.ndarray | None]:
    """Select fMRIPrep confounds for one run with nilearn's ``load_confounds``.

    Parameters
    ----------
    bold_file : path, or [left, right] paths
        The preprocessed BOLD (``..._desc-preproc_bold.nii.gz``) or the two hemisphere
        GIfTIs. The ``..._desc-confounds_timeseries.tsv`` (or the older
        ``desc-confounds_regressors.tsv``) must sit next to it.
    strategy : sequence of str
        Passed through to :func:`nilearn.interfaces.fmriprep.load_confounds`
        (``"motion"``, ``"high_pass"``, ``"wm_csf"``, ``"global_signal"``, ``"compcor"``,
        ``"scrub"``, ``"non_steady_state"``, ``"ica_aroma"``).
    n_volumes : int, optional
        When given, the confounds must have this many rows (the run length).
    **kwargs
        Other ``load_confounds`` options (``motion="basic"``, ``fd_threshold``, ``scrub``...).

    Returns
    -------
    confounds : pandas.DataFrame, shape (n_volumes, n_confounds)
        The selected regressors (demeaned by default), one row per volume.
    sample_mask : ndarray of int, shape (n_kept,) or None
        Indices of the volumes to keep (non-steady-state and scrubbed volumes removed), or
        None when every volume is kept. Pass it to a nilearn masker's ``sample_mask``.

    Raises
    ------
    FileNotFoundError
        The image or its confounds file is missing.
    DataFormatError
        The confounds do not have ``n_volumes`` rows, or nilearn cannot read them.
    """
    from nilearn.interfaces.fmriprep import load_confounds

    if isinstance(bold_file, (str, os.PathLike)):
        files: Any = str(require_file(bold_file, "fMRIPrep preprocessed BOLD"))
        first = Path(files)
    else:
        files = [str(require_file(f, "fMRIPrep BOLD GIfTI")) for f in bold_file]
        first = Path(files[0])
    candidates = sorted(first.parent.glob("*_desc-confounds_*.tsv"))
    try:
        confounds, sample_mask = load_confounds(files, strategy=tuple(strategy), **kwargs)
    except ValueError as err:
        if "Could not find associated confound file" in str(err):
            stem = "_".join(
                f"{k}-{v}" for k, v in parse_bids_entities(first).items() if k in RAW_ENTITIES
            )
            raise FileNotFoundError(
                f"fMRIPrep confounds for {str(first)!r} not found: expected "
                f"{str(first.parent / (stem + '_desc-confounds_timeseries.tsv'))!r} (found "
                f"{[c.name for c in candidates]} in that folder)"
            ) from err
        raise DataFormatError(
            f"nilearn could not load the fMRIPrep confounds of {str(first)!r} with "
            f"strategy={tuple(strategy)}: {err}"
        ) from err
    except KeyError as err:
        raise DataFormatError(
            f"The fMRIPrep confounds next to {str(first)!r} lack the column {err} needed by "
            f"strategy={tuple(strategy)} {kwargs or ''}; found files {[c.name for c in candidates]}"
        ) from err
    if n_volumes is not None and confounds is not None and len(confounds) != n_volumes:
        raise DataFormatError(
            f"The fMRIPrep confounds of {str(first)!r} must have one row per volume: "
            f"expected {n_volumes} rows; got {len(confounds)} (files "
            f"{[c.name for c in candidates]}). Do the confounds belong to this run?"
        )
    return confounds, sample_mask


# ---------------------------------------------------------------------------- GIfTI
def _load_gifti_timeseries(path: Path) -> np.ndarray:
    """``(n_volumes, n_vertices)`` from a ``.func.gii`` (one darray per volume, or one 2-D)."""
    import nibabel as nib

    path = require_file(path, "fMRIPrep surface BOLD (*.func.gii)")
    try:
        img = nib.load(path)
        arrays = [np.asarray(d.data) for d in img.darrays]
    except Exception as err:  # nibabel raises ExpatError, ValueError, ... on corrupt files
        raise DataFormatError(
            f"Surface BOLD {str(path)!r} is not a readable GIfTI file (corrupt?): {err}"
        ) from err
    if not arrays:
        raise DataFormatError(f"Surface BOLD {str(path)!r} holds no data arrays")
    if len(arrays) == 1 and arrays[0].ndim == 2:
        return arrays[0].T.astype(np.float32, copy=False)
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1 or arrays[0].ndim != 1:
        raise DataFormatError(
            f"Surface BOLD {str(path)!r} must hold one 1-D data array (n_vertices,) per "
            f"volume; got data arrays of shapes {sorted(shapes)}"
        )
    return np.stack(arrays).astype(np.float32, copy=False)


# ---------------------------------------------------------------------------- finding files
def _find_runs(
    deriv: Path,
    *,
    subject: str | None,
    session: str | None,
    task: str | None,
    run: Any,
    acquisition: str | None,
    space: str,
    res: str | None,
) -> list[Path]:
    """The run files of one space: the preproc volume, or the hemi-L GIfTI."""
    if subject is None:
        raise ValueError("`subject` is required to find fMRIPrep outputs; got None")
    sub_dir = require_dir(deriv / f"sub-{subject}", f"fMRIPrep folder of sub-{subject}")
    if _is_surface_space(space):
        pattern = f"*_hemi-L_space-{space}_bold.func.gii"
    else:
        pattern = f"*_space-{space}*_desc-preproc_bold.nii*"
    wanted = {"space": space, "ses": session, "task": task, "acq": acquisition, "res": res}
    return find_func_files(sub_dir, pattern, wanted, run)


def _sibling(path: Path, replace: dict[str, str | None], suffix_ext: str) -> Path:
    """A file next to ``path`` with some entities replaced (None drops one)."""
    ent = parse_bids_entities(path)
    ent.pop("suffix")
    ent.pop("extension")
    for k, v in replace.items():
        if v is None:
            ent.pop(k, None)
        else:
            ent[k] = v
    return path.with_name("_".join(f"{k}-{v}" for k, v in ent.items()) + suffix_ext)


def _raw_bold_path(path: Path, raw_root: Path) -> Path:
    """Where the raw BOLD of a derivative run lives (it need not exist)."""
    ent = parse_bids_entities(path)
    raw = {k: v for k, v in ent.items() if k in RAW_ENTITIES}
    folder = raw_root / f"sub-{raw['sub']}"
    if "ses" in raw:
        folder = folder / f"ses-{raw['ses']}"
    name = "_".join(f"{k}-{v}" for k, v in raw.items()) + "_bold.nii.gz"
    return folder / "func" / name


# ---------------------------------------------------------------------------- readers
def read_fmriprep(
    fmriprep_dir: PathLike | None = None,
    subject: str | None = None,
    task: str | None = None,
    *,
    session: str | None = None,
    run: int | str | None = None,
    acquisition: str | None = None,
    space: str = "MNI152NLin2009cAsym",
    res: str | None = None,
    bold_file: PathLike | None = None,
    mask_img: Any = None,
    labels_img: Any = None,
    labels: Sequence[str] | None = None,
    atlas_name: str | None = None,
    masker: Any = None,
    confounds: Sequence[str] | None = None,
    confounds_kwargs: dict[str, Any] | None = None,
    apply_confounds: bool = False,
    raw_root: PathLike | None = None,
    events_outside: str = "raise",
    trial_type_dicts: bool | str = False,
    sample_point: str = "start",
) -> Any:
    """Read one fMRIPrep run into a `Recording` (volume voxels, atlas parcels or surface).

    Parameters
    ----------
    fmriprep_dir : str or path-like, optional
        The derivatives folder (``derivatives/fmriprep``, with ``dataset_description.json``).
    subject, task, session, run, acquisition : str or int, optional
        Entities that select exactly one run (not needed with ``bold_file``).
    space : str
        Output space: a volume template (``"MNI152NLin2009cAsym"``, ``"T1w"``) reads
        ``..._space-<space>[_res-<r>]_desc-preproc_bold.nii.gz``; a surface space
        (``"fsaverage5"``, ``"fsaverage6"``, ``"fsnative"``) reads the two files
        ``..._hemi-{L,R}_space-<space>_bold.func.gii``, left then right.
    res : str, optional
        The ``res-`` entity of the volume outputs, when several resolutions exist.
    bold_file : str or path-like, optional
        The preproc volume or the ``hemi-L`` GIfTI, instead of the entities.
    mask_img : nibabel image or path, optional
        Volume only. Default: the ``..._desc-brain_mask.nii.gz`` next to the BOLD.
    labels_img : nibabel image or path, optional
        Volume only. An integer atlas on any grid: targets become parcels (mean signal per
        label within the brain mask, ``NiftiLabelsMasker``) and the space a ``parcels``
        space.
    labels : sequence of str, optional
        Parcel names for ``labels_img``, background first (nilearn's convention).
    atlas_name : str, optional
        Name of the parcels space (default: the file name of ``labels_img``, or
        ``"<space> parcels"`` for a ``SurfaceLabelsMasker``).
    masker : nilearn masker, optional
        A ready nilearn masker (smoothing, detrending...). Volume: ``NiftiMasker`` /
        ``NiftiLabelsMasker``, exclusive with ``mask_img`` and ``labels_img``. Surface:
        ``SurfaceMasker`` / ``SurfaceLabelsMasker``; the mesh is that of its ``mask_img`` /
        ``labels_img`` (a ``SurfaceImage``), else nilearn's ``load_fsaverage(space)``. A
        masked surface becomes a ``surface`` space named ``"<space>-masked"`` with the kept
        vertex indices in ``metadata["surface_vertices"]``; labels become a ``parcels`` space.
    confounds : sequence of str, optional
        A ``load_confounds`` strategy, e.g. ``("motion", "wm_csf")``. When given, the
        selected confounds ``(n_volumes, n_confounds)`` and ``sample_mask`` go into
        ``metadata["confounds"]`` / ``metadata["sample_mask"]``.
    confounds_kwargs : dict, optional
        Other ``load_confounds`` options (``motion="basic"``, ``fd_threshold``...).
    apply_confounds : bool
        Regress the confounds out of the data (through the masker, or through
        :func:`nilearn.signal.clean` for surfaces read without one). ``sample_mask`` is
        **not** applied:
        every volume is kept so that the run stays on a uniform clock; drop or weight the
        flagged volumes downstream with ``metadata["sample_mask"]``.
    raw_root : str or path-like, optional
        The raw BIDS dataset: its ``*_events.tsv`` (with inheritance) gives the events, and
        its ``_bold.json`` the ``RepetitionTime`` when the derivative has no sidecar.
    events_outside, trial_type_dicts, sample_point
        As in :func:`brainalign.io.read_bids_func`.

    Returns
    -------
    recording : Recording
        ``data`` of shape ``(n_volumes, n_targets)``: voxels of the brain mask (volume
        space named after ``space``), parcels (``parcels`` space with labels) or vertices of
        both hemispheres (``surface`` space, left then right). ``metadata`` holds the
        source files, ``RepetitionTime``, the confounds and what was applied.

    Raises
    ------
    FileNotFoundError
        Missing BOLD, mask, hemisphere file or confounds file.
    DataFormatError
        No ``RepetitionTime``; hemispheres or confounds with another number of volumes than
        the BOLD; events outside the run; a mask on another grid; corrupt files.
    """
    check_choice(events_outside, "events_outside", EVENTS_OUTSIDE)
    if bold_file is None:
        if fmriprep_dir is None:
            raise ValueError(
                "Pass `bold_file`, or `fmriprep_dir` with the entities of one run; got neither"
            )
        deriv = require_dir(fmriprep_dir, "fMRIPrep derivatives folder (`fmriprep_dir`)")
        entities = dict(
            subject=subject, session=session, task=task, run=run, acquisition=acquisition
        )
        files = _find_runs(deriv, space=space, res=res, **entities)
        if not files:
            kind = "hemi-L ... .func.gii" if _is_surface_space(space) else "desc-preproc_bold"
            raise FileNotFoundError(
                f"No fMRIPrep run ({kind}, space-{space}) found in {str(deriv)!r} for "
                f"{describe_entities(**entities, res=res)}"
            )
        if len(files) > 1:
            raise DataFormatError(
                f"{len(files)} fMRIPrep runs in {str(deriv)!r} match "
                f"{describe_entities(**entities, space=space, res=res)}; expected one. Candidates: "
                f"{[f.name for f in files]}. Add `run`, `session`, `acquisition` or `res`, or "
                f"use read_fmriprep_runs."
            )
        bold = files[0]
    else:
        bold = require_file(bold_file, "fMRIPrep BOLD (`bold_file`)")
        ent = parse_bids_entities(bold)
        space = ent.get("space", space)
    deriv_root = Path(fmriprep_dir).expanduser() if fmriprep_dir else find_bids_root(bold)
    raw = Path(raw_root).expanduser() if raw_root is not None else None
    if raw is not None:
        require_dir(raw, "Raw BIDS dataset (`raw_root`)")
    opts = _RunOptions(
        deriv_root=deriv_root,
        raw_root=raw,
        space=space,
        confounds=None if confounds is None else tuple(confounds),
        confounds_kwargs=dict(confounds_kwargs or {}),
        apply_confounds=apply_confounds,
        events_outside=events_outside,
        trial_type_dicts=trial_type_dicts,
        sample_point=sample_point,
    )
    if str(bold).endswith(".func.gii") or _is_surface_space(space):
        for name, value in (("mask_img", mask_img), ("labels_img", labels_img)):
            if value is not None:
                raise ValueError(
                    f"`{name}` applies to volume outputs only; got it with the surface space "
                    f"{space!r}. For surfaces pass `masker` (a nilearn SurfaceMasker or "
                    f"SurfaceLabelsMasker)."
                )
        return _read_surface(bold, opts, masker=masker, atlas_name=atlas_name)
    return _read_volume(
        bold,
        opts,
        mask_img=mask_img,
        labels_img=labels_img,
        labels=labels,
        atlas_name=atlas_name,
        masker=masker,
    )


def read_fmriprep_runs(
    fmriprep_dir: PathLike,
    subject: str,
    task: str,
    *,
    session: str | None = None,
    acquisition: str | None = None,
    space: str = "MNI152NLin2009cAsym",
    res: str | None = None,
    runs: int | str | Sequence[int | str] | None = None,
    **kwargs: Any,
) -> list[Any]:
    """Read every fMRIPrep run of a subject and task (one `Recording` per run).

    ``kwargs`` are those of :func:`read_fmriprep`. All runs must share one TR. With the
    default per-run brain masks the voxel sets may differ between runs; pass one
    ``mask_img`` (or ``labels_img``) to get the same targets in every run.

    Raises
    ------
    FileNotFoundError
        No run matches.
    DataFormatError
        Runs with different TRs, or any error of :func:`read_fmriprep`.
    """
    deriv = require_dir(fmriprep_dir, "fMRIPrep derivatives folder (`fmriprep_dir`)")
    files = _find_runs(
        deriv,
        subject=subject,
        session=session,
        task=task,
        run=None,
        acquisition=acquisition,
        space=space,
        res=res,
    )
    files = filter_runs(files, runs)
    if not files:
        raise FileNotFoundError(
            f"No fMRIPrep run (space-{space}) found in {str(deriv)!r} for "
            f"{describe_entities(subject=subject, session=session, task=task)}"
            f"{f', acquisition={acquisition!r}' if acquisition is not None else ''}"
            f"{f', runs={runs!r}' if runs is not None else ''}"
        )
    recs = [read_fmriprep(deriv, bold_file=f, space=space, **kwargs) for f in files]
    check_same_tr({r.metadata["source"]["bold"]: r.metadata["RepetitionTime"] for r in recs})
    return recs


def _find_tr(
    bold: Path, deriv_root: Path, raw_root: Path | None
) -> tuple[float, dict[str, Any], list[Path]]:
    """RepetitionTime: the derivative sidecar, else the raw BIDS sidecar."""
    sidecar, files = merged_sidecar(bold, deriv_root, "bold")
    searched = list(files)
    if "RepetitionTime" not in sidecar and raw_root is not None:
        raw_bold = _raw_bold_path(bold, raw_root)
        raw_sidecar, raw_files = merged_sidecar(raw_bold, raw_root, "bold")
        searched += raw_files
        sidecar = {**raw_sidecar, **sidecar}
    if "RepetitionTime" not in sidecar and not searched:
        hint = "" if raw_root is not None else " Pass `raw_root` to use the raw BIDS sidecar."
        raise DataFormatError(
            f"RepetitionTime is required for {str(bold)!r} but no *_bold.json sidecar applies "
            f"to it (searched {str(deriv_root)!r}"
            f"{' and ' + repr(str(raw_root)) if raw_root is not None else ''}).{hint}"
        )
    return tr_from_sidecar(bold, deriv_root, sidecar, searched), sidecar, searched


@dataclass(frozen=True)
class _RunOptions:
    """The options shared by the volume and the surface readers."""

    deriv_root: Path
    raw_root: Path | None
    space: str
    confounds: tuple[str, ...] | None
    confounds_kwargs: dict[str, Any]
    apply_confounds: bool
    events_outside: str
    trial_type_dicts: bool | str
    sample_point: str


def _confounds(bold: Any, n_vols: int, opts: _RunOptions) -> tuple[Any, np.ndarray | None]:
    """``(confounds, sample_mask)`` of the run, or ``(None, None)`` without a strategy."""
    if opts.confounds is None:
        if opts.apply_confounds:
            raise ValueError(
                "`apply_confounds=True` needs a `confounds` strategy; got confounds=None"
            )
        return None, None
    return read_fmriprep_confounds(bold, opts.confounds, n_volumes=n_vols, **opts.confounds_kwargs)


def _recording(
    data: np.ndarray,
    space: Any,
    *,
    bold: Path,
    source: dict[str, Any],
    n_vols: int,
    tr: float,
    sidecar: dict[str, Any],
    sidecar_files: list[Path],
    conf: tuple[Any, np.ndarray | None],
    opts: _RunOptions,
    **extra: Any,
) -> Any:
    """The Recording of one run: events from the raw tree, and the metadata of both readers."""
    from brainalign.data import Recording

    events, ev_file, n_dropped, n_na = None, None, 0, 0
    if opts.raw_root is not None:
        events, ev_file, n_dropped, n_na = inherited_run_events(
            _raw_bold_path(bold, opts.raw_root),
            opts.raw_root,
            stop=n_vols * tr,
            events_outside=opts.events_outside,
            trial_type_dicts=opts.trial_type_dicts,
        )
    applied = [f"confounds regressed ({opts.confounds})"] if opts.apply_confounds else []
    metadata = {
        "source": {
            "bold": str(bold),
            **source,
            "sidecars": [str(f) for f in sidecar_files],
            "events": None if ev_file is None else str(ev_file),
            "fmriprep_dir": str(opts.deriv_root),
            "raw_root": None if opts.raw_root is None else str(opts.raw_root),
        },
        "sidecar": sidecar,
        "RepetitionTime": tr,
        "SliceTiming": sidecar.get("SliceTiming"),
        **extra,
        "n_volumes": n_vols,
        "confounds": conf[0],
        "sample_mask": conf[1],
        "confounds_strategy": opts.confounds,
        "events_dropped": n_dropped,
        "events_na_duration_as_zero": n_na,
        "preprocessing": ["fmriprep", *applied],
    }
    ent = parse_bids_entities(bold)
    return Recording(
        data=data,
        sfreq=1.0 / tr,
        modality="fmri",
        sample_point=opts.sample_point,
        events=events,
        space=space,
        subject=ent.get("sub"),
        session=ent.get("ses"),
        run=ent.get("run"),
        task=ent.get("task"),
        metadata=metadata,
    )


def _parcels_space(masker: Any, name: str) -> Any:
    """A parcels space named ``name`` from a fitted labels masker's ``region_names_``."""
    from brainalign.data import Space

    names = masker.region_names_
    return Space.parcels([names[i] for i in sorted(names)], name=name)


def _read_volume(
    bold: Path,
    opts: _RunOptions,
    *,
    mask_img: Any,
    labels_img: Any,
    labels: Sequence[str] | None,
    atlas_name: str | None,
    masker: Any,
) -> Any:
    from nilearn.maskers import NiftiLabelsMasker, NiftiMasker

    from brainalign.data import Space

    img = load_bold(bold, "fMRIPrep preprocessed BOLD")
    n_vols = int(img.shape[3])
    tr, sidecar, sidecar_files = _find_tr(bold, opts.deriv_root, opts.raw_root)
    given = [n for n, v in (("mask_img", mask_img), ("masker", masker)) if v is not None]
    if masker is not None and labels_img is not None:
        given.append("labels_img")
    if len(given) > 1:
        raise ValueError(
            f"Pass at most one of `mask_img`, `labels_img` (alone or with `mask_img`) or "
            f"`masker`; got {given}"
        )
    mask_path: Any = None
    labels_path: Path | None = None
    if masker is None:
        if mask_img is None:
            mask_path = _sibling(bold, {"desc": "brain"}, "_mask.nii.gz")
            mask_img = mask_path
        else:
            mask_path = mask_img if isinstance(mask_img, (str, os.PathLike)) else "given image"
        if isinstance(mask_img, (str, os.PathLike)):
            mask_img = load_nifti(mask_img, "fMRIPrep brain mask (desc-brain_mask)")
        check_mask_shape(mask_img, img, mask_path, bold)
        if labels_img is not None:
            if isinstance(labels_img, (str, os.PathLike)):
                labels_path = Path(labels_img)
                labels_img = load_nifti(labels_img, "Atlas labels image (`labels_img`)")
            masker = NiftiLabelsMasker(
                labels_img,
                labels=None if labels is None else list(labels),
                mask_img=mask_img,
                standardize=None,
                t_r=tr,
            )
        else:
            masker = NiftiMasker(mask_img=mask_img, standardize=None, t_r=tr)
    if not hasattr(masker, "mask_img_") and not hasattr(masker, "region_ids_"):
        # A masker that holds its mask (or atlas) is fitted without images (no mask computed).
        has_mask = getattr(masker, "mask_img", None) is not None
        masker.fit() if has_mask or hasattr(masker, "labels_img") else masker.fit(img)
    conf = _confounds(bold, n_vols, opts)
    data = masker.transform(img, confounds=conf[0] if opts.apply_confounds else None)
    if labels_img is not None or isinstance(masker, NiftiLabelsMasker):
        default = labels_path.name if labels_path is not None else "parcels"
        space_obj = _parcels_space(masker, atlas_name or default)
    else:
        space_obj = Space.volume(masker.mask_img_, name=opts.space)
    return _recording(
        data,
        space_obj,
        bold=bold,
        source={
            "mask": None if mask_path is None else str(mask_path),
            "labels_img": None if labels_path is None else str(labels_path),
        },
        n_vols=n_vols,
        tr=tr,
        sidecar=sidecar,
        sidecar_files=sidecar_files,
        conf=conf,
        opts=opts,
        tr_header=header_tr(img),
    )


def _surface_masker_transform(
    masker: Any, arrays: dict[str, np.ndarray], confounds: Any, space: str, atlas_name: str | None
) -> tuple[np.ndarray, Any, dict[str, Any]]:
    """Apply a nilearn ``SurfaceMasker`` / ``SurfaceLabelsMasker`` to the two hemispheres.

    The mesh comes from the masker's mask (or labels) image, else from
    :func:`nilearn.datasets.load_fsaverage` for the fsaverage spaces.
    """
    from nilearn.maskers import SurfaceLabelsMasker, SurfaceMasker
    from nilearn.surface import SurfaceImage

    from brainalign.data import FSAVERAGE_N_VERTICES, Space

    if not isinstance(masker, (SurfaceMasker, SurfaceLabelsMasker)):
        raise TypeError(
            f"`masker` must be a nilearn SurfaceMasker or SurfaceLabelsMasker for the surface "
            f"space {space!r}; got {type(masker).__name__}"
        )
    ref = next(
        (
            img
            for img in (
                getattr(masker, "mask_img_", None),
                getattr(masker, "labels_img", None),
                masker.mask_img,
            )
            if img is not None
        ),
        None,
    )
    if ref is not None:
        mesh = ref.mesh
    elif space in FSAVERAGE_N_VERTICES:
        from nilearn.datasets import load_fsaverage

        mesh = load_fsaverage(space)["pial"]
    else:
        raise ValueError(
            f"`masker` needs a `mask_img` (a SurfaceImage) for the surface space {space!r}: "
            f"nilearn ships no mesh for it; got a {type(masker).__name__} without one"
        )
    for hemi, h in (("left", "L"), ("right", "R")):
        if mesh.parts[hemi].n_vertices != arrays[h].shape[1]:
            raise DataFormatError(
                f"`masker` is on a mesh with {mesh.parts[hemi].n_vertices} {hemi} vertices but "
                f"the {space!r} BOLD has {arrays[h].shape[1]}; use a mask on the {space} mesh"
            )
    img = SurfaceImage(mesh=mesh, data={"left": arrays["L"].T, "right": arrays["R"].T})
    if not masker.__sklearn_is_fitted__():
        masker.fit() if ref is not None else masker.fit(img)
    data = np.asarray(masker.transform(img, confounds=confounds), dtype=np.float32)
    if isinstance(masker, SurfaceLabelsMasker):
        return data, _parcels_space(masker, atlas_name or f"{space} parcels"), {}
    parts = {hemi: np.asarray(masker.mask_img_.data.parts[hemi]).ravel() > 0 for hemi in mesh.parts}
    vertices = {hemi: np.flatnonzero(m) for hemi, m in parts.items()}
    n = {hemi: int(v.size) for hemi, v in vertices.items()}
    full = all(m.all() for m in parts.values())
    space_obj = Space.surface(space if full else f"{space}-masked", n)
    return data, space_obj, {} if full else {"surface_vertices": vertices}


def _read_surface(
    left_file: Path, opts: _RunOptions, *, masker: Any, atlas_name: str | None
) -> Any:
    from brainalign.data import FSAVERAGE_N_VERTICES, Space

    space = opts.space
    ent = parse_bids_entities(left_file)
    if ent.get("hemi") not in ("L", "R"):
        raise DataFormatError(
            f"Surface BOLD {str(left_file)!r} must carry a `hemi-L` or `hemi-R` entity; got "
            f"{ent.get('hemi')!r}"
        )
    files = {hemi: _sibling(left_file, {"hemi": hemi}, "_bold.func.gii") for hemi in ("L", "R")}
    arrays = {hemi: _load_gifti_timeseries(f) for hemi, f in files.items()}
    if arrays["L"].shape[0] != arrays["R"].shape[0]:
        raise DataFormatError(
            f"Both hemispheres must have the same number of volumes: {files['L'].name} has "
            f"{arrays['L'].shape[0]}, {files['R'].name} has {arrays['R'].shape[0]}. Are they "
            f"from the same run?"
        )
    expected = FSAVERAGE_N_VERTICES.get(space)
    for hemi, arr in arrays.items():
        if expected is not None and arr.shape[1] != expected:
            raise DataFormatError(
                f"Surface BOLD {str(files[hemi])!r} must have {expected} vertices per volume "
                f"for space {space!r}; got {arr.shape[1]} (array shape {arr.shape})"
            )
    n_vols = int(arrays["L"].shape[0])
    tr, sidecar, sidecar_files = _find_tr(files["L"], opts.deriv_root, opts.raw_root)
    conf = _confounds([files["L"], files["R"]], n_vols, opts)
    regress = conf[0] if opts.apply_confounds else None
    extra: dict[str, Any] = {}
    if masker is not None:
        data, space_obj, extra = _surface_masker_transform(
            masker, arrays, regress, space, atlas_name
        )
    else:
        data = np.concatenate([arrays["L"], arrays["R"]], axis=1)
        if regress is not None:
            from nilearn.signal import clean

            data = clean(
                data,
                confounds=regress.to_numpy(),
                detrend=False,
                standardize=None,
                standardize_confounds=True,
                t_r=tr,
            ).astype(np.float32, copy=False)
        n = {"left": arrays["L"].shape[1], "right": arrays["R"].shape[1]}
        space_obj = Space.surface(space, n)
    return _recording(
        data,
        space_obj,
        bold=files["L"],
        source={"bold_right": str(files["R"])},
        n_vols=n_vols,
        tr=tr,
        sidecar=sidecar,
        sidecar_files=sidecar_files,
        conf=conf,
        opts=opts,
        **extra,
    )
