"""Natural Scenes Dataset (NSD): design, stimulus table and single-trial betas.

The stimulus images (``nsd_stimuli.hdf5``) are read by :mod:`brainalign.io._nsd_stimuli`.

Conventions (see ``data-formats.md`` §2):

- ``stim_id`` is the **0-based 73k id** (``nsdId`` of ``nsd_stim_info_merged.csv``, the row of
  ``nsd_stimuli.hdf5['imgBrick']``, the ``nsd-NNNNN`` of Algonauts 2023 file names).
- ``nsd_expdesign.mat`` stores MATLAB **1-based** indices; :func:`read_nsd_expdesign` returns
  them 0-based.
- Volume betas are **int16 = percent signal change x 300**; they are read as float32 / 300.
  The HDF5 files store ``betas`` as ``(n_trials, Z, Y, X)``; they are returned in the NIfTI
  ``(X, Y, Z)`` order. fsaverage ``.mgh`` betas are already float percent signal change.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._logging import logger, progress
from brainalign.data._space import FSAVERAGE_N_VERTICES, Space
from brainalign.data._trialset import TrialSet
from brainalign.exceptions import DataFormatError
from brainalign.io._files import (
    file_or_root,
    open_hdf5,
    read_table,
    require_dir,
    require_file,
    require_keys,
)
from brainalign.io._nsd_stimuli import STIMULI_PATH

__all__ = [
    "parse_nsd_subject",
    "read_nsd",
    "read_nsd_betas",
    "read_nsd_expdesign",
    "read_nsd_stiminfo",
]

PathLike = str | os.PathLike[str]

EXPDESIGN_PATH = "nsddata/experiments/nsd/nsd_expdesign.mat"
STIMINFO_PATH = "nsddata/experiments/nsd/nsd_stim_info_merged.csv"
#: int16 betas hold percent signal change multiplied by this factor.
BETA_SCALE = 300.0
VOLUME_SPACES = ("func1pt8mm", "func1mm")
SPACES = (*VOLUME_SPACES, "fsaverage")
_FORMATS = {"hdf5": ".hdf5", "nifti": ".nii.gz", "mgh": ".mgh"}
_CHUNK_TRIALS = 64  # trials read at once: bounds the memory of masked reads


# ---------------------------------------------------------------------------- small helpers
def parse_nsd_subject(subject: Any, dataset: str = "NSD") -> int:
    """The subject number 1..8 of ``1``, ``"01"`` or ``"subj01"`` (NSD and Algonauts 2023)."""
    m = re.fullmatch(r"(?:subj)?0*([1-8])", str(subject).strip())
    if m is None:
        raise ValueError(
            f"`subject` must be an {dataset} subject 1..8 (e.g. 1, '01' or 'subj01'); got "
            f"{subject!r}"
        )
    return int(m.group(1))


def _one_based(arr: np.ndarray, key: str, path: Path, upper: int | None = None) -> np.ndarray:
    """Convert a MATLAB 1-based index array to 0-based, checking its range."""
    arr = np.asarray(arr)
    if arr.size and (not np.issubdtype(arr.dtype, np.number) or np.any(arr != np.round(arr))):
        raise DataFormatError(
            f"`{key}` in {str(path)!r} must hold integer indices; got dtype {arr.dtype}"
        )
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 1:
        raise DataFormatError(
            f"`{key}` in {str(path)!r} must hold MATLAB 1-based indices (>= 1); got a minimum "
            f"of {int(arr.min())}. Was the file re-saved with 0-based indices?"
        )
    if upper is not None and arr.size and arr.max() > upper:
        raise DataFormatError(
            f"`{key}` in {str(path)!r} must index 1..{upper}; got a maximum of {int(arr.max())}"
        )
    return arr - 1


# ---------------------------------------------------------------------------- design
def read_nsd_expdesign(path: PathLike) -> dict[str, np.ndarray]:
    """Read ``nsd_expdesign.mat`` with :func:`scipy.io.loadmat`, converting indices to 0-based.

    Parameters
    ----------
    path : path-like
        The ``.mat`` file, or the NSD root (``nsddata/experiments/nsd/nsd_expdesign.mat``).

    Returns
    -------
    design : dict of str to ndarray
        - ``masterordering`` : int64, shape (n_trials,) -- for each trial (in presentation
          order, 30,000 in NSD), the 0-based column of ``subjectim`` it shows (the 10k index).
        - ``subjectim`` : int64, shape (n_subjects, n_images) -- 0-based 73k ids of the images
          of each subject; the first columns are the shared images.
        - ``sharedix`` : int64, shape (n_shared,) -- 0-based 73k ids of the shared images
          (only when the file has the key).
        - ``stimpattern`` : bool, shape (n_sessions, n_runs, n_slots) -- which trial slots of
          each run show an image (only when the file has the key).

    Raises
    ------
    DataFormatError
        Unreadable file, missing keys, or indices that are not 1-based.
    """
    import scipy.io

    p = file_or_root(path, EXPDESIGN_PATH, "NSD design file (nsd_expdesign.mat)")
    try:
        mat = scipy.io.loadmat(p)
    except NotImplementedError as err:  # MATLAB v7.3 (HDF5) files
        raise DataFormatError(
            f"NSD design file {str(p)!r} must be a MATLAB v5 .mat file; got another version: {err}"
        ) from err
    except (ValueError, OSError, TypeError, scipy.io.matlab.MatReadError) as err:
        raise DataFormatError(
            f"NSD design file {str(p)!r} is not a readable MATLAB .mat file (corrupt or "
            f"truncated?): {err}"
        ) from err
    missing = [k for k in ("masterordering", "subjectim") if k not in mat]
    if missing:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise DataFormatError(
            f"NSD design file {str(p)!r} lacks the key(s) {missing}; found {found}"
        )
    subjectim = np.atleast_2d(mat["subjectim"])
    out = {
        "masterordering": _one_based(
            np.ravel(mat["masterordering"]), "masterordering", p, upper=subjectim.shape[1]
        ),
        "subjectim": _one_based(subjectim, "subjectim", p),
    }
    if "sharedix" in mat:
        out["sharedix"] = _one_based(np.ravel(mat["sharedix"]), "sharedix", p)
    if "stimpattern" in mat:
        pattern = np.asarray(mat["stimpattern"])
        if pattern.ndim != 3:
            raise DataFormatError(
                f"`stimpattern` in {str(p)!r} must have shape (n_sessions, n_runs, n_slots); "
                f"got {pattern.shape}"
            )
        out["stimpattern"] = pattern.astype(bool)
    return out


def _design_trials(
    design: dict[str, np.ndarray],
    subject: int,
    sessions: list[int],
    trials_per_session: int | None,
    path: Path,
) -> Any:
    """One row per trial of ``sessions`` (presentation order) from the 0-based design."""
    import pandas as pd

    order = design["masterordering"]
    subjectim = design["subjectim"]
    if subject > subjectim.shape[0]:
        raise DataFormatError(
            f"`subjectim` of the NSD design {str(path)!r} has {subjectim.shape[0]} subjects; "
            f"got subject {subject}"
        )
    pattern = design.get("stimpattern")
    if pattern is not None:
        counts = pattern.reshape(pattern.shape[0], -1).sum(axis=1)
        if trials_per_session is not None and np.any(counts != trials_per_session):
            raise DataFormatError(
                f"`trials_per_session`={trials_per_session} disagrees with the `stimpattern` "
                f"of the NSD design {str(path)!r}, which has {sorted(set(counts.tolist()))} "
                f"trials per session. Leave `trials_per_session=None` to use the design."
            )
        n_design_sessions = pattern.shape[0]
    else:
        tps = 750 if trials_per_session is None else int(trials_per_session)
        n_design_sessions = len(order) // tps
        counts = np.full(n_design_sessions, tps)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    # repetition = number of earlier presentations of the same image (0, 1, 2)
    repetition = pd.Series(order).groupby(order).cumcount().to_numpy()
    rows = []
    for ses in sessions:
        if ses > n_design_sessions:
            raise DataFormatError(
                f"`sessions` must lie within the {n_design_sessions} sessions of the NSD design "
                f"{str(path)!r}; got session {ses}"
            )
        n = int(counts[ses - 1])
        trial = offsets[ses - 1] + np.arange(n)
        if trial[-1] >= len(order):
            raise DataFormatError(
                f"`masterordering` of the NSD design {str(path)!r} has {len(order)} trials; "
                f"session {ses} needs trials {trial[0]}..{trial[-1]}"
            )
        if pattern is not None:
            run, _slot = np.nonzero(pattern[ses - 1])  # row-major: chronological
            run = run + 1
            trial_in_run = pd.Series(run).groupby(run).cumcount().to_numpy()
        else:
            run = trial_in_run = np.full(n, -1)
        rows.append(
            pd.DataFrame(
                {
                    "trial": trial,
                    "session": ses,
                    "run": run,
                    "trial_in_session": np.arange(n),
                    "trial_in_run": trial_in_run,
                    "subject_image_index": order[trial],
                    "stim_id": subjectim[subject - 1, order[trial]],
                    "repetition": repetition[trial],
                }
            )
        )
    trials = pd.concat(rows, ignore_index=True)
    trials["nsd_id"] = trials["stim_id"]
    if pattern is None:
        trials["run"] = pd.array([pd.NA] * len(trials), dtype="Int64")
        trials["trial_in_run"] = pd.array([pd.NA] * len(trials), dtype="Int64")
    return trials


# ---------------------------------------------------------------------------- stimulus table
def read_nsd_stiminfo(path: PathLike) -> Any:
    """Read ``nsd_stim_info_merged.csv``: one row per 73k image.

    Parameters
    ----------
    path : path-like
        The CSV file, or the NSD root.

    Returns
    -------
    stiminfo : pandas.DataFrame, shape (n_images, n_columns)
        The columns of the file (``nsdId`` 0-based, ``cocoId``, ``cocoSplit``, ``cropBox``,
        ``shared1000`` as bool, ``subjectN``, ``subjectN_repK`` = 1-based trial of the K-th
        presentation or 0), without the unnamed index column of the original file.
    """
    what = "NSD stimulus table (nsd_stim_info_merged.csv)"
    p = file_or_root(path, STIMINFO_PATH, what)
    df = read_table(p, what, ("nsdId", "cocoId", "shared1000"))
    df = df.drop(columns=[c for c in df.columns if str(c).startswith("Unnamed:")])
    ids = df["nsdId"].to_numpy()
    if not np.issubdtype(ids.dtype, np.integer) or (len(ids) and ids.min() < 0):
        raise DataFormatError(
            f"`nsdId` of {str(p)!r} must hold 0-based integer 73k ids; got dtype {ids.dtype}"
            + (f" and minimum {ids.min()}" if np.issubdtype(ids.dtype, np.number) else "")
        )
    if len(np.unique(ids)) != len(ids):
        raise DataFormatError(f"`nsdId` of {str(p)!r} must be unique; got duplicated ids")
    shared = df["shared1000"]
    if shared.dtype != bool:
        mapping = {"True": True, "False": False, "1": True, "0": False}
        conv = shared.astype(str).map(mapping)
        if conv.isna().any():
            bad = shared[conv.isna()].iloc[0]
            raise DataFormatError(
                f"`shared1000` of {str(p)!r} must be boolean (True/False or 1/0); got {bad!r}"
            )
        df["shared1000"] = conv.astype(bool)
    return df


# ---------------------------------------------------------------------------- betas
def _nib_errors() -> tuple[type[BaseException], ...]:
    """What nibabel raises on corrupt files (MGH parsing can fail with a KeyError)."""
    from nibabel.filebasedimages import ImageFileError
    from nibabel.freesurfer.mghformat import MGHError
    from nibabel.spatialimages import HeaderDataError

    return (ImageFileError, MGHError, HeaderDataError, OSError, EOFError, ValueError, KeyError)


def _load_nib(path: Path, what: str) -> Any:
    import nibabel as nib

    try:
        return nib.load(path)
    except _nib_errors() as err:
        raise DataFormatError(
            f"{what} {str(path)!r} is not a readable image (corrupt or truncated?): {err}"
        ) from err


@contextlib.contextmanager
def _open_image(path: Path, what: str) -> Iterator[Any]:
    """A nibabel image whose file is closed on exit (``nib.load`` leaks MGH file handles)."""
    import nibabel as nib
    from nibabel.openers import ImageOpener

    if not path.name.lower().endswith((".mgh", ".mgz")):
        yield _load_nib(path, what)
        return
    with ImageOpener(path, "rb") as fobj:
        try:
            img = nib.MGHImage.from_file_map({"image": nib.FileHolder(fileobj=fobj)})
        except _nib_errors() as err:
            raise DataFormatError(
                f"{what} {str(path)!r} is not a readable image (corrupt or truncated?): {err}"
            ) from err
        yield img


def _to_percent(raw: np.ndarray) -> np.ndarray:
    """int16 storage holds PSC x 300; floating storage is already PSC."""
    if np.issubdtype(raw.dtype, np.integer):
        return raw.astype(np.float32) / np.float32(BETA_SCALE)
    return raw.astype(np.float32, copy=False)


def read_nsd_betas(
    path: PathLike, *, mask: np.ndarray | None = None, n_trials: int | None = None
) -> np.ndarray:
    """Read one session of NSD single-trial betas in percent signal change.

    Parameters
    ----------
    path : path-like
        ``betas_sessionNN.hdf5`` (dataset ``betas``, int16, ``(n_trials, Z, Y, X)``, or
        ``(n_trials, n_vertices)`` for ``nativesurface``), ``betas_sessionNN.nii.gz`` (int16,
        ``(X, Y, Z, n_trials)``) or ``{lh,rh}.betas_sessionNN.mgh`` (float,
        ``(n_vertices, 1, 1, n_trials)``).
    mask : ndarray of bool or None
        Volume: shape ``(X, Y, Z)`` in the NIfTI orientation; surface: ``(n_vertices,)``.
        Selected targets come out in C order.
    n_trials : int or None
        Expected number of trials (750 in NSD); checked when given.

    Returns
    -------
    betas : ndarray of float32
        ``(n_trials, X, Y, Z)`` for volumes, ``(n_trials, n_vertices)`` for surfaces, or
        ``(n_trials, n_selected)`` with a mask. Integer storage is divided by 300 (exactly
        ``int16 / 300``); floating storage (fsaverage ``.mgh``) is returned as is.
    """
    p = require_file(path, "NSD betas file")
    name = p.name.lower()
    if name.endswith((".hdf5", ".h5")):
        h5 = open_hdf5(p, "NSD betas file")
        with h5:
            require_keys(h5, ["betas"], "NSD betas file")
            ds = h5["betas"]
            if ds.ndim not in (2, 4):
                raise DataFormatError(
                    f"`betas` in {str(p)!r} must have shape (n_trials, Z, Y, X) or (n_trials, "
                    f"n_vertices); got {ds.shape}"
                )
            # HDF5 is (n_trials, Z, Y, X): MATLAB order; return the NIfTI (X, Y, Z) order.
            grid = tuple(ds.shape[1:][::-1])
            total = ds.shape[0]

            def read(t0: int, t1: int) -> np.ndarray:
                block = ds[t0:t1]
                return np.transpose(block, (0, 3, 2, 1)) if block.ndim == 4 else block

            return _read_blocks(p, read, total, grid, mask, n_trials)
    if name.endswith((".nii", ".nii.gz", ".mgh", ".mgz")):
        with _open_image(p, "NSD betas file") as img:
            shape = tuple(img.shape)
            if name.endswith((".mgh", ".mgz")):
                if len(shape) not in (2, 4) or (len(shape) == 4 and shape[1:3] != (1, 1)):
                    raise DataFormatError(
                        f"NSD surface betas {str(p)!r} must have shape (n_vertices, 1, 1, "
                        f"n_trials); got {shape}"
                    )
                grid, total = (shape[0],), shape[-1]
            else:
                if len(shape) != 4:
                    raise DataFormatError(
                        f"NSD volume betas {str(p)!r} must have shape (X, Y, Z, n_trials); got "
                        f"{shape}"
                    )
                grid, total = shape[:3], shape[3]

            def read_image(t0: int, t1: int) -> np.ndarray:
                block = np.asanyarray(img.dataobj[..., t0:t1]).reshape(*grid, t1 - t0)
                return np.moveaxis(block, -1, 0)

            return _read_blocks(p, read_image, total, grid, mask, n_trials)
    raise ValueError(
        f"`path` must be an NSD betas file ending in .hdf5, .nii.gz or .mgh; got {str(p)!r}"
    )


def _read_blocks(
    path: Path,
    read: Any,
    total: int,
    grid: tuple[int, ...],
    mask: np.ndarray | None,
    n_trials: int | None,
) -> np.ndarray:
    import zlib

    if n_trials is not None and total != n_trials:
        raise DataFormatError(
            f"NSD betas file {str(path)!r} must hold {n_trials} trials (from the design); got "
            f"{total} (grid {grid}). Is it the right session and subject?"
        )
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != grid:
            raise DataFormatError(
                f"`mask` must have the grid shape of {str(path)!r}, {grid}; got {mask.shape}. "
                f"Is the mask from the same space (func1pt8mm / func1mm / fsaverage)?"
            )
    out_shape = (total, int(mask.sum())) if mask is not None else (total, *grid)
    out = np.empty(out_shape, dtype=np.float32)
    try:
        for t0 in range(0, total, _CHUNK_TRIALS):
            t1 = min(total, t0 + _CHUNK_TRIALS)
            block = read(t0, t1)
            out[t0:t1] = _to_percent(block[:, mask] if mask is not None else block)
    except (OSError, EOFError, zlib.error) as err:
        raise DataFormatError(
            f"NSD betas file {str(path)!r} could not be read (corrupt or truncated?): {err}"
        ) from err
    if not np.all(np.isfinite(out)):
        n_bad = int((~np.isfinite(out)).any(axis=0).sum())
        raise DataFormatError(
            f"NSD betas file {str(path)!r} holds non-finite values in {n_bad} target(s). "
            f"Exclude them with `mask`."
        )
    return out


# ---------------------------------------------------------------------------- read_nsd
def _sessions(sessions: Any, found: list[int], where: Path) -> list[int]:
    if sessions is None:
        if not found:
            raise FileNotFoundError(
                f"NSD betas not found: expected betas_sessionNN files in {str(where)!r}"
            )
        return found
    items = [sessions] if isinstance(sessions, (int, np.integer)) else list(sessions)
    if not items or any(
        not isinstance(s, (int, np.integer)) or isinstance(s, bool) or s < 1 for s in items
    ):
        raise ValueError(
            f"`sessions` must be a 1-based session number or a non-empty list of them; got "
            f"{sessions!r}"
        )
    if len(set(items)) != len(items):
        raise ValueError(f"`sessions` must not repeat a session; got {sessions!r}")
    return sorted(int(s) for s in items)


def _session_files(betas_dir: Path, session: int, fmt: str) -> list[Path]:
    if fmt == "mgh":
        return [betas_dir / f"{h}.betas_session{session:02d}.mgh" for h in ("lh", "rh")]
    return [betas_dir / f"betas_session{session:02d}{_FORMATS[fmt]}"]


def _volume_mask(root: Path, subj: int, space: str, mask: PathLike) -> Any:
    """(bool mask (X, Y, Z), nibabel image) for a mask name or path."""
    text = str(mask)
    if text.endswith((".nii", ".nii.gz")) or os.sep in text or "/" in text:
        path = Path(text)
    else:
        base = root / "nsddata" / "ppdata" / f"subj{subj:02d}" / space
        path = base / (f"{text}.nii.gz" if text == "brainmask" else f"roi/{text}.nii.gz")
    img = _load_nib(require_file(path, f"NSD mask {text!r}"), "NSD mask")
    data = np.asanyarray(img.dataobj)
    if data.ndim != 3:
        raise DataFormatError(f"NSD mask {str(path)!r} must be a 3-D image; got shape {data.shape}")
    # nsdgeneral: -1 outside the brain, 0 outside the ROI, 1 inside
    sel = data > 0
    if not sel.any():
        raise DataFormatError(f"NSD mask {str(path)!r} selects no voxel (no value > 0)")
    return sel, img


def _surface_mask(root: Path, mask: PathLike) -> dict[str, np.ndarray]:
    out = {}
    for hemi in ("lh", "rh"):
        path = root / "nsddata" / "freesurfer" / "fsaverage" / "label" / f"{hemi}.{mask}.mgz"
        require_file(path, f"NSD fsaverage mask {str(mask)!r}")
        with _open_image(path, "NSD mask") as img:
            out[hemi] = np.asanyarray(img.dataobj).reshape(-1) > 0
    return out


def _zscore(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Per-column z-score over trials, in place; constant columns become 0 (count returned)."""
    mean = x.mean(axis=0, dtype=np.float64)
    std = x.std(axis=0, dtype=np.float64)
    flat = std == 0
    std[flat] = 1.0
    x -= mean.astype(x.dtype)  # float32 in place: an unmasked session is ~2 GB already
    x /= std.astype(x.dtype)
    x[:, flat] = 0.0
    return x, int(flat.sum())


def read_nsd(
    nsd_root: PathLike,
    subject: int | str,
    sessions: int | Iterable[int] | None = None,
    *,
    space: str = "func1pt8mm",
    mask: PathLike | None = "nsdgeneral",
    zscore_sessions: bool = False,
    fmt: str | None = None,
    betas: str = "betas_fithrf_GLMdenoise_RR",
    trials_per_session: int | None = None,
    verbose: bool | None = None,
) -> TrialSet:
    """Read NSD single-trial betas of one subject as a :class:`~brainalign.data.TrialSet`.

    Parameters
    ----------
    nsd_root : path-like
        The NSD root (holding ``nsddata/``, ``nsddata_betas/``, ``nsddata_stimuli/``).
    subject : int or str
        1..8, ``"01"`` or ``"subj01"``.
    sessions : int, list of int or None
        1-based sessions (``betas_sessionNN``). Default: every session whose betas file is
        present. Trials come out in presentation order (sessions ascending).
    space : {"func1pt8mm", "func1mm", "fsaverage"}
        Where the betas live (``nsddata_betas/ppdata/subjXX/<space>/<betas>/``).
    mask : str, path-like or None
        Volume: an ROI name under ``nsddata/ppdata/subjXX/<space>/roi/`` (``"nsdgeneral"``),
        ``"brainmask"``, or a NIfTI path; voxels with a value > 0 are kept (nsdgeneral stores
        -1 outside the brain, 0 outside the ROI, 1 inside). fsaverage: a label name under
        ``nsddata/freesurfer/fsaverage/label/{lh,rh}.<mask>.mgz``. ``None`` keeps every target.
    zscore_sessions : bool
        z-score each target over the trials of each session (the convention of BERG and
        Algonauts 2023). Off by default: readers do not transform silently. Targets constant
        within a session become 0; their count is in ``metadata["n_constant_targets"]``.
    fmt : {"hdf5", "nifti", "mgh"} or None
        File format of the betas. Default: ``"hdf5"`` for volumes, ``"mgh"`` for fsaverage.
    betas : str
        GLM version folder (``betas_fithrf_GLMdenoise_RR`` is "b3", the standard).
    trials_per_session : int or None
        Trials per session when the design has no ``stimpattern`` (750 in NSD).
    verbose : bool or None
        Progress bar over sessions.

    Returns
    -------
    trialset : TrialSet
        ``data`` float32 ``(n_trials, n_targets)`` in percent signal change (or z-scores);
        ``trials`` columns: ``trial`` (0-based index in the subject's 30,000-trial design),
        ``session`` (1-based), ``run`` (1-based, from ``stimpattern``), ``trial_in_session``
        and ``trial_in_run`` (0-based), ``subject_image_index`` (0-based 10k index),
        ``stim_id`` = ``nsd_id`` (0-based 73k id, the ``nsdId`` of the stimulus table and the
        row of ``imgBrick``), ``repetition`` (0, 1, 2: earlier presentations of the image),
        ``coco_id``, ``coco_split``, ``is_shared`` (one of the 1,000 images shown to every
        subject: ``shared1000`` of the table) and ``split``: the canonical split (BERG,
        brain-diffuser), ``"train"`` for the subject's own images and ``"test"`` for the shared
        ones (average their repetitions with :meth:`TrialSet.average_repeats`). ``space`` is a
        volume (with the mask and affine) or a surface space; with a surface mask,
        ``metadata["fsaverage_vertices"]`` holds the kept vertex indices per hemisphere.

    Raises
    ------
    FileNotFoundError
        A design, table, betas or mask file is missing.
    DataFormatError
        A file is corrupt, or its shape or content disagrees with the design.
    """
    from brainalign._validation import check_choice

    root = require_dir(nsd_root, "NSD root")
    subj = parse_nsd_subject(subject)
    check_choice(space, "space", SPACES)
    allowed = ("mgh",) if space == "fsaverage" else ("hdf5", "nifti")
    fmt = allowed[0] if fmt is None else fmt
    if fmt not in allowed:
        raise ValueError(f"`fmt` must be one of {list(allowed)} for space {space!r}; got {fmt!r}")
    design = read_nsd_expdesign(root / EXPDESIGN_PATH)
    stiminfo = read_nsd_stiminfo(root / STIMINFO_PATH)
    betas_dir = require_dir(
        root / "nsddata_betas" / "ppdata" / f"subj{subj:02d}" / space / betas,
        f"NSD betas folder ({space}, {betas})",
    )
    prefix = "lh." if fmt == "mgh" else ""
    pattern = re.compile(rf"{re.escape(prefix)}betas_session(\d+){re.escape(_FORMATS[fmt])}")
    found = sorted(int(m.group(1)) for f in betas_dir.iterdir() if (m := pattern.fullmatch(f.name)))
    sessions = _sessions(sessions, found, betas_dir)
    trials = _design_trials(design, subj, sessions, trials_per_session, root / EXPDESIGN_PATH)
    trials = _join_stiminfo(trials, stiminfo, design, subj, root)

    vol_mask, mask_img, surf_mask = None, None, None
    if mask is not None and space == "fsaverage":
        surf_mask = _surface_mask(root, mask)
    elif mask is not None:
        vol_mask, mask_img = _volume_mask(root, subj, space, mask)

    n_constant: dict[int, int] = {}
    grid: tuple[int, ...] = ()
    data = np.empty((0, 0), dtype=np.float32)
    row = 0
    for ses in progress(sessions, desc=f"NSD subj{subj:02d}", verbose=verbose):
        n_expected = int((trials["session"] == ses).sum())
        files = _session_files(betas_dir, ses, fmt)
        if fmt == "mgh":
            parts = [
                read_nsd_betas(
                    f, mask=None if surf_mask is None else surf_mask[h], n_trials=n_expected
                )
                for f, h in zip(files, ("lh", "rh"))
            ]
            hemi_sizes = [p.shape[1] for p in parts]
            x = np.concatenate(parts, axis=1)
        else:
            x = read_nsd_betas(files[0], mask=vol_mask, n_trials=n_expected)
            if vol_mask is None:
                grid = x.shape[1:]
                x = x.reshape(x.shape[0], -1)
        if zscore_sessions:
            x, n_constant[ses] = _zscore(x)
            if n_constant[ses]:
                logger.info(
                    "NSD subj%02d session %d: %d constant target(s) set to 0 after z-scoring",
                    subj,
                    ses,
                    n_constant[ses],
                )
        if row == 0:  # one preallocated output: no second copy of all sessions
            data = np.empty((len(trials), x.shape[1]), dtype=np.float32)
        data[row : row + len(x)] = x
        row += len(x)

    metadata: dict[str, Any] = {
        "dataset": "nsd",
        "space": space,
        "betas": betas,
        "format": fmt,
        "units": "zscore" if zscore_sessions else "percent signal change",
        "zscore_sessions": bool(zscore_sessions),
        "mask": None if mask is None else str(mask),
        "sessions": list(sessions),
        "betas_dir": str(betas_dir),
        "stimuli_file": str(root / STIMULI_PATH),
    }
    if zscore_sessions:
        metadata["n_constant_targets"] = n_constant
    if space == "fsaverage":
        n_full = FSAVERAGE_N_VERTICES["fsaverage"]
        left, right = hemi_sizes
        if surf_mask is None:
            sp = Space.surface("fsaverage", {"left": left, "right": right})
        else:
            sp = Space.surface(f"fsaverage-{mask}", {"left": left, "right": right})
            metadata["fsaverage_vertices"] = {
                "left": np.flatnonzero(surf_mask["lh"]),
                "right": np.flatnonzero(surf_mask["rh"]),
            }
        metadata["mesh"] = "fsaverage"
        metadata["n_vertices_per_hemi"] = n_full
    else:
        import nibabel as nib

        if mask_img is not None:
            sp = Space.volume(
                nib.Nifti1Image(vol_mask.astype(np.uint8), mask_img.affine), name=space
            )
        else:
            # the affine of the grid: from the NIfTI betas, or the subject's brain mask
            ppdir = root / "nsddata" / "ppdata" / f"subj{subj:02d}" / space
            ref = _session_files(betas_dir, sessions[0], fmt)[0]
            ref = ref if fmt == "nifti" else ppdir / "brainmask.nii.gz"
            affine = np.asarray(_load_nib(ref, "NSD image").affine) if ref.is_file() else None
            sp = Space(
                "volume", int(np.prod(grid)), name=space, mask=np.ones(grid, bool), affine=affine
            )
    return TrialSet(
        data,
        trials,
        modality="fmri",
        space=sp,
        subject=f"subj{subj:02d}",
        metadata=metadata,
    )


def _join_stiminfo(
    trials: Any, stiminfo: Any, design: dict[str, np.ndarray], subj: int, root: Path
) -> Any:
    """Add COCO ids and the shared flag; check the table against the design."""
    table_path, design_path = str(root / STIMINFO_PATH), str(root / EXPDESIGN_PATH)
    table = stiminfo.set_index("nsdId")
    ids = trials["stim_id"].to_numpy()
    absent = np.setdiff1d(ids, table.index.to_numpy())
    if absent.size:
        raise DataFormatError(
            f"the NSD stimulus table {table_path!r} lacks the 73k id(s) "
            f"{absent[:5].tolist()} shown to subj{subj:02d} by the design {design_path!r}; is "
            f"the table complete (73,000 rows)?"
        )
    rows = table.loc[ids]
    trials["coco_id"] = rows["cocoId"].to_numpy()
    if "cocoSplit" in rows.columns:
        trials["coco_split"] = rows["cocoSplit"].to_numpy()
    trials["is_shared"] = rows["shared1000"].to_numpy(dtype=bool)
    trials["split"] = np.where(trials["is_shared"].to_numpy(), "test", "train")
    if "sharedix" in design:
        expect = np.isin(ids, design["sharedix"])
        if np.any(expect != trials["is_shared"].to_numpy()):
            i = int(np.flatnonzero(expect != trials["is_shared"].to_numpy())[0])
            raise DataFormatError(
                f"`shared1000` of the NSD stimulus table {table_path!r} disagrees with "
                f"`sharedix` of the design {design_path!r} for 73k id {int(ids[i])} (table: "
                f"{bool(trials['is_shared'].iat[i])}, design: {bool(expect[i])})"
            )
    # subjectN_repK holds the 1-based trial of the K-th presentation: check our indexing
    for rep in range(3):
        col = f"subject{subj}_rep{rep}"
        if col not in rows.columns:
            continue
        sel = trials["repetition"].to_numpy() == rep
        if not sel.any():
            continue
        expected = trials["trial"].to_numpy()[sel] + 1
        got = rows[col].to_numpy()[sel]
        if np.any(got != expected):
            i = int(np.flatnonzero(got != expected)[0])
            raise DataFormatError(
                f"`{col}` of the NSD stimulus table {table_path!r} disagrees with the design "
                f"{design_path!r}: 73k id {int(ids[sel][i])} is presented at 1-based trial "
                f"{int(expected[i])} according to `masterordering`, the table says "
                f"{int(got[i])}. Do the two files come from the same NSD release?"
            )
    return trials
