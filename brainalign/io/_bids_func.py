"""BIDS raw fMRI: ``*_bold.nii.gz`` + inherited JSON sidecars + ``*_events.tsv`` → `Recording`.

pybids is not a dependency, so the two BIDS mechanisms the readers need are written here and
kept small: entity parsing of file names and the inheritance principle for sidecars (a file
at the dataset, subject or session level applies to every data file whose name holds all of
its entities; more specific files override less specific ones, key by key).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._logging import logger
from brainalign.exceptions import DataFormatError
from brainalign.io._files import require_dir, require_file

__all__ = [
    "parse_bids_entities",
    "read_bids_func",
    "read_bids_func_runs",
    "read_bids_sidecar",
]

PathLike = str | os.PathLike[str]

#: Entities that name an acquisition in raw BIDS (derivative-only entities excluded).
RAW_ENTITIES = ("sub", "ses", "task", "acq", "ce", "rec", "dir", "run", "echo", "part")
_ENTITY_RE = re.compile(r"^([a-zA-Z]+)-([a-zA-Z0-9+]+)$")
_EVENTS_OUTSIDE = ("raise", "drop")


# ---------------------------------------------------------------------------- entities
def parse_bids_entities(path: PathLike) -> dict[str, str]:
    """Parse the entities of a BIDS file name.

    Parameters
    ----------
    path : str or path-like
        A BIDS file name or path, e.g.
        ``sub-01/func/sub-01_ses-1_task-story_run-2_bold.nii.gz``.

    Returns
    -------
    entities : dict of str to str
        The ``key-value`` pairs with their short BIDS keys, in file-name order
        (``{"sub": "01", "ses": "1", "task": "story", "run": "2"}``), plus ``"suffix"``
        (``"bold"``) and ``"extension"`` (``".nii.gz"``; everything from the first dot).
        Values are kept as strings (``run-02`` gives ``"02"``).

    Raises
    ------
    DataFormatError
        When a part of the name is not ``key-value`` or a key is repeated.
    """
    name = Path(path).name
    stem, dot, ext = name.partition(".")
    parts = stem.split("_")
    entities: dict[str, str] = {}
    suffix = parts[-1] if parts and "-" not in parts[-1] else ""
    for part in parts[:-1] if suffix else parts:
        match = _ENTITY_RE.match(part)
        if match is None:
            raise DataFormatError(
                f"BIDS file name {name!r} must be made of `key-value` entities joined by '_' "
                f"and end with a suffix; got the part {part!r}"
            )
        key, value = match.groups()
        if key in entities:
            raise DataFormatError(
                f"BIDS file name {name!r} repeats the entity {key!r}; each entity may appear once"
            )
        entities[key] = value
    entities["suffix"] = suffix
    entities["extension"] = dot + ext
    return entities


def _name_entities(path: PathLike) -> dict[str, str]:
    ent = parse_bids_entities(path)
    ent.pop("suffix")
    ent.pop("extension")
    return ent


def find_bids_root(path: PathLike) -> Path:
    """The dataset folder of ``path``: the nearest parent with ``dataset_description.json``.

    Without one, the folder that holds the ``sub-<label>`` directory.
    """
    p = Path(path).expanduser().resolve()
    for parent in p.parents:
        if (parent / "dataset_description.json").is_file():
            return parent
    for parent in p.parents:
        if parent.name.startswith("sub-"):
            return parent.parent
    raise DataFormatError(
        f"Cannot find the BIDS dataset folder of {str(p)!r}: no parent holds "
        f"dataset_description.json or a sub-<label> directory. Pass `bids_root`."
    )


def _inherited(data_file: Path, suffix: str, extension: str, root: Path) -> list[Path]:
    """Metadata files applicable to ``data_file`` (inheritance principle), general first."""
    data_file = Path(data_file).expanduser().resolve()
    root = Path(root).expanduser().resolve()
    entities = _name_entities(data_file)
    try:
        rel = data_file.parent.relative_to(root)
    except ValueError as err:
        raise DataFormatError(
            f"{str(data_file)!r} is not inside the BIDS dataset {str(root)!r}; check `bids_root`"
        ) from err
    dirs = [root]
    for part in rel.parts:
        dirs.append(dirs[-1] / part)
    found: list[tuple[int, int, Path]] = []
    for depth, d in enumerate(dirs):
        if not d.is_dir():
            continue
        for cand in d.glob(f"*{suffix}{extension}"):
            if cand.name != f"{suffix}{extension}" and not cand.name.endswith(
                f"_{suffix}{extension}"
            ):
                continue
            try:
                cent = _name_entities(cand)
            except DataFormatError:
                continue
            if all(entities.get(k) == v for k, v in cent.items()):
                found.append((depth, len(cent), cand))
    return [p for _, _, p in sorted(found, key=lambda t: (t[0], t[1], t[2].name))]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataFormatError(f"JSON sidecar {str(path)!r} is not valid JSON: {err}") from err
    if not isinstance(obj, dict):
        raise DataFormatError(
            f"JSON sidecar {str(path)!r} must hold an object (key: value); got a "
            f"{type(obj).__name__}"
        )
    return obj


def _merged_sidecar(
    data_file: Path, root: Path, suffix: str | None = None
) -> tuple[dict[str, Any], list[Path]]:
    """Merged sidecar of ``data_file`` (more specific wins) and the files it came from."""
    suffix = suffix or parse_bids_entities(data_file)["suffix"]
    files = _inherited(data_file, suffix, ".json", root)
    merged: dict[str, Any] = {}
    for f in files:
        merged.update(_read_json(f))
    return merged, files


def read_bids_sidecar(
    data_file: PathLike, *, bids_root: PathLike | None = None, suffix: str | None = None
) -> dict[str, Any]:
    """Read the JSON metadata of a BIDS data file, following the inheritance principle.

    Every ``*_<suffix>.json`` from the dataset folder down to the file's folder whose
    entities all match the data file applies; they are merged from the most general to the
    most specific, so the most specific value of a key wins.

    Parameters
    ----------
    data_file : str or path-like
        The data file (e.g. ``..._bold.nii.gz``). It need not exist.
    bids_root : str or path-like, optional
        The dataset folder. Default: the nearest parent with ``dataset_description.json``.
    suffix : str, optional
        Sidecar suffix. Default: the data file's suffix (``bold``).

    Returns
    -------
    metadata : dict
        The merged sidecar.

    Raises
    ------
    FileNotFoundError
        When no sidecar applies to the file.
    DataFormatError
        When a sidecar is not valid JSON.
    """
    data_file = Path(data_file).expanduser()
    root = Path(bids_root).expanduser() if bids_root is not None else find_bids_root(data_file)
    merged, files = _merged_sidecar(data_file, root, suffix)
    if not files:
        suffix = suffix or parse_bids_entities(data_file)["suffix"]
        raise FileNotFoundError(
            f"No *_{suffix}.json sidecar applies to {str(data_file)!r}: searched "
            f"{str(root)!r} down to {str(data_file.parent)!r} for files whose entities match."
        )
    return merged


# ---------------------------------------------------------------------------- events.tsv
def read_events_tsv(path: Path, *, trial_type_dicts: bool | str = False) -> Any:
    """Read a BIDS ``events.tsv`` into an events table (``n/a`` → missing).

    ``trial_type`` becomes ``type`` (``"Event"`` where missing); the original column and all
    extra columns are kept. ``n/a`` durations become 0 (impulse events). Rows are sorted by
    onset (stable). Only the string ``n/a`` means missing: a word such as ``"NA"`` or
    ``"null"`` stays a string.
    """
    import pandas as pd

    path = require_file(path, "BIDS events file (*_events.tsv)")
    try:
        df = pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False, dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DataFormatError(f"Events file {str(path)!r} is not a readable TSV: {err}") from err
    missing = [c for c in ("onset", "duration") if c not in df.columns]
    if missing:
        raise DataFormatError(
            f"Events file {str(path)!r} must have the BIDS columns 'onset' and 'duration'; "
            f"missing {missing} (got columns {list(df.columns)})"
        )
    out = df.copy()
    for col in out.columns:
        if col in ("onset", "duration"):
            continue
        numeric = pd.to_numeric(out[col], errors="coerce")
        if numeric.notna().sum() == out[col].notna().sum():
            out[col] = numeric
    for col in ("onset", "duration"):
        values = pd.to_numeric(out[col], errors="coerce")
        bad = values.isna() & out[col].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataFormatError(
                f"Events file {str(path)!r}: column {col!r} must hold seconds; got "
                f"{df[col].iloc[i]!r} at row {i}"
            )
        out[col] = values.astype(float)
    if out["onset"].isna().any():
        i = int(np.flatnonzero(out["onset"].isna().to_numpy())[0])
        raise DataFormatError(
            f"Events file {str(path)!r}: 'onset' must be set on every row; got 'n/a' at row {i}"
        )
    n_na_dur = int(out["duration"].isna().sum())
    out["duration"] = out["duration"].fillna(0.0)
    if "trial_type" in out.columns:
        out["trial_type"] = df["trial_type"]
        out["type"] = df["trial_type"].fillna("Event").astype(str)
    else:
        out["type"] = "Event"
    if trial_type_dicts and "trial_type" in out.columns:
        out = _expand_dict_trial_types(out, path, expand=trial_type_dicts == "expand")
    cols = ["onset", "duration", "type"] + [
        c for c in out.columns if c not in ("onset", "duration", "type")
    ]
    out = out[cols].sort_values("onset", kind="stable").reset_index(drop=True)
    out.attrs["n_na_duration"] = n_na_dur
    return out


def _expand_dict_trial_types(df: Any, path: Path, *, expand: bool) -> Any:
    """Parse dict-literal ``trial_type`` values (MEG-MASC) with :func:`ast.literal_eval`."""
    import ast

    parsed: list[dict[str, Any] | None] = []
    for i, text in enumerate(df["trial_type"]):
        if not isinstance(text, str):
            parsed.append(None)
            continue
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError) as err:
            raise DataFormatError(
                f"Events file {str(path)!r}: `trial_type` at row {i} must be a Python dict "
                f"literal (MEG-MASC style); got {text[:80]!r} ({err}). Pass "
                f"trial_type_dicts=False to keep the strings as they are."
            ) from err
        if not isinstance(value, dict):
            raise DataFormatError(
                f"Events file {str(path)!r}: `trial_type` at row {i} must be a dict literal; "
                f"got a {type(value).__name__}: {text[:80]!r}"
            )
        parsed.append(value)
    df = df.copy()
    df["type"] = [str(d.get("kind", "Event")) if d is not None else "Event" for d in parsed]
    if expand:
        keys: list[str] = []
        for d in parsed:
            for k in d or {}:
                if k not in keys:
                    keys.append(k)
        for key in keys:
            col = key if key not in df.columns else f"trial_type_{key}"
            df[col] = [d.get(key) if d is not None else None for d in parsed]
    return df


def looks_like_dict_literals(values: Sequence[Any]) -> bool:
    """Whether every non-missing value is a string that starts with ``{`` and ends with ``}``."""
    strings = [v for v in values if isinstance(v, str)]
    return bool(strings) and all(
        s.strip().startswith("{") and s.strip().endswith("}") for s in strings
    )


def events_in_run(
    events: Any, *, start: float, stop: float, path: Path, events_outside: str
) -> tuple[Any, int]:
    """Check (or drop, when asked) events whose onset is outside ``[start, stop)``."""
    onset = events["onset"].to_numpy()
    outside = (onset < start) | (onset >= stop)
    if not outside.any():
        return events, 0
    if events_outside == "drop":
        return events.loc[~outside].reset_index(drop=True), int(outside.sum())
    i = int(np.flatnonzero(outside)[0])
    raise DataFormatError(
        f"Events file {str(path)!r}: onsets must lie within the run [{start:g}, {stop:g}) s "
        f"(on the scan clock, 0 = start of the first stored sample); got {int(outside.sum())} "
        f"event(s) outside, the first at onset {onset[i]:g} s (row {i}). Is this the events "
        f"file of this run? Pass events_outside='drop' to drop them explicitly."
    )


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


def tr_from_sidecar(
    data_file: Path, root: Path, sidecar: dict[str, Any], files: list[Path]
) -> float:
    """``RepetitionTime`` from the merged sidecar, or an error naming the files searched."""
    if "RepetitionTime" not in sidecar:
        where = (
            f"the sidecar(s) {[str(f) for f in files]}"
            if files
            else f"any *_bold.json sidecar (none applies; searched {str(root)!r} down to "
            f"{str(data_file.parent)!r})"
        )
        extra = (
            " It has `VolumeTiming` (sparse acquisition), which brainalign does not support."
            if "VolumeTiming" in sidecar
            else ""
        )
        raise DataFormatError(
            f"RepetitionTime is required for {str(data_file)!r} but was not found in "
            f"{where}.{extra} Add it to the _bold.json sidecar (seconds)."
        )
    tr = sidecar["RepetitionTime"]
    if not isinstance(tr, (int, float)) or isinstance(tr, bool) or not tr > 0:
        raise DataFormatError(
            f"RepetitionTime for {str(data_file)!r} must be a positive number of seconds; got "
            f"{tr!r} (from {[str(f) for f in files]})"
        )
    return float(tr)


def check_same_tr(trs: dict[str, float]) -> None:
    """All runs must share one TR."""
    values = sorted(set(trs.values()))
    if len(values) > 1:
        listing = ", ".join(f"{Path(k).name}: {v:g} s" for k, v in trs.items())
        raise DataFormatError(
            f"All runs must share one RepetitionTime; got {len(values)} different values "
            f"({listing}). Read runs with different TRs separately."
        )


# ---------------------------------------------------------------------------- readers
def _find_bold_files(
    root: Path,
    *,
    subject: str | None,
    session: str | None,
    task: str | None,
    run: Any,
    acquisition: str | None,
    pattern: str = "*_bold.nii*",
) -> list[Path]:
    if subject is None:
        raise ValueError(
            "`subject` is required when `bids_root` is given instead of a file; got None"
        )
    sub_dir = require_dir(root / f"sub-{subject}", f"Subject folder of sub-{subject}")
    files = sorted(sub_dir.glob(f"func/{pattern}")) + sorted(sub_dir.glob(f"ses-*/func/{pattern}"))
    wanted = {"sub": subject, "ses": session, "task": task, "acq": acquisition}
    out = []
    for f in files:
        ent = parse_bids_entities(f)
        if any(v is not None and ent.get(k) != str(v) for k, v in wanted.items()):
            continue
        if run is not None and (ent.get("run") is None or int(ent["run"]) != int(run)):
            continue
        out.append(f)
    return out


def _describe(**entities: Any) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in entities.items() if v is not None)


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
        single=True,
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
    runs: Sequence[int | str] | None = None,
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
    if runs is not None:
        wanted = {int(r) for r in runs}
        files = [f for f in files if int(parse_bids_entities(f).get("run", -1)) in wanted]
    if not files:
        raise FileNotFoundError(
            f"No BOLD run found in {str(root)!r} for "
            f"{_describe(subject=subject, session=session, task=task, acquisition=acquisition)}"
            f"{f', runs={list(runs)}' if runs is not None else ''}: expected files "
            f"sub-{subject}/[ses-*/]func/sub-{subject}_*task-{task}*_bold.nii[.gz]"
        )
    return _read_runs(
        files,
        bids_root=root,
        entities={},
        single=False,
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
    single: bool,
    mask_img: Any,
    mask_strategy: str,
    masker: Any,
    events: bool,
    events_outside: str,
    trial_type_dicts: bool | str,
    sample_point: str,
) -> list[Any]:
    from brainalign.data import Recording, Space

    if events_outside not in _EVENTS_OUTSIDE:
        raise ValueError(
            f"`events_outside` must be one of {list(_EVENTS_OUTSIDE)}; got {events_outside!r}"
        )
    if files is None:
        if bids_root is None:
            raise ValueError(
                "Pass `bold_file`, or `bids_root` with the entities of one run; got neither"
            )
        root = require_dir(bids_root, "BIDS dataset folder (`bids_root`)")
        files = _find_bold_files(root, **entities)
        if not files:
            raise FileNotFoundError(
                f"No BOLD run found in {str(root)!r} for {_describe(**entities)}; expected "
                f"one file sub-<l>/[ses-<l>/]func/..._bold.nii[.gz] with these entities"
            )
        if len(files) > 1:
            raise DataFormatError(
                f"{len(files)} BOLD runs in {str(root)!r} match {_describe(**entities)}; "
                f"expected exactly one. Candidates: {[f.name for f in files]}. Add `run`, "
                f"`session` or `acquisition`, or use read_bids_func_runs."
            )
    paths = [require_file(f, "BIDS BOLD image (*_bold.nii.gz)") for f in files]
    root = Path(bids_root).expanduser() if bids_root is not None else find_bids_root(paths[0])
    imgs = [load_bold(p, "BOLD image") for p in paths]
    sidecars, trs = [], {}
    for p in paths:
        sidecar, sfiles = _merged_sidecar(p, root, "bold")
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
            ev_files = _inherited(p, "events", ".tsv", root)
            if ev_files:
                ev_file = ev_files[-1]
                ev = read_events_tsv(ev_file, trial_type_dicts=trial_type_dicts)
                n_na = ev.attrs.pop("n_na_duration", 0)
                ev, n_dropped = events_in_run(
                    ev, start=0.0, stop=n_vols * tr, path=ev_file, events_outside=events_outside
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
