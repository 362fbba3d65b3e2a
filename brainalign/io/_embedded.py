"""Readers for the real recordings that ship inside registry packages (nitime, brainspace).

Two small real datasets are found in packages that install from the package registry, so
examples and tests can use real brain data without downloads:

- :func:`read_nitime_event_related`: an event-related fMRI time series from motion-sensitive
  cortex (MT), shipped with ``nitime`` (``nitime/data/event_related_fmri.csv``).
- :func:`read_brainspace_rest`: one preprocessed resting-state run on the fsaverage5 surface,
  shipped with ``brainspace`` 0.3.0 (``brainspace/datasets/preprocessing/``).

Both readers take an explicit ``path`` (the folder that holds the files, e.g. the one that
``brainalign datasets fetch`` prints) and otherwise look inside the installed package,
without importing it (``import brainspace`` fails when vtk is missing).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._logging import logger
from brainalign._validation import check_positive
from brainalign.data._recording import Recording
from brainalign.data._space import FSAVERAGE_N_VERTICES, Space
from brainalign.exceptions import DataFormatError
from brainalign.io._files import read_table, require_file

__all__ = [
    "BRAINSPACE_DATASET",
    "BRAINSPACE_REST_TR",
    "NITIME_DATASET",
    "NITIME_TR",
    "read_brainspace_rest",
    "read_nitime_event_related",
]

PathLike = str | os.PathLike[str]

#: Registry name of the nitime event-related recording (for ``brainalign datasets fetch``).
NITIME_DATASET = "nitime-mt-fmri"
#: Repetition time of the nitime recording in seconds (nitime documentation; not in the CSV).
NITIME_TR = 2.0
_NITIME_FILE = "event_related_fmri.csv"
_NITIME_SUBDIR = ("nitime", "data")
_NITIME_INSTALL = "pip install nitime==0.12.1"
# Published layout of the shipped file: checked when ``strict=True``.
_NITIME_N_TIMES = 3360
_NITIME_CONDITIONS = (1, 2, 3, 4, 5, 6)
_NITIME_TRIALS_PER_CONDITION = 96

#: Registry name of the brainspace resting-state run (for ``brainalign datasets fetch``).
BRAINSPACE_DATASET = "brainspace-rest-fsaverage5"
#: Default repetition time of the brainspace run in seconds. The MGZ headers say 1000 ms,
#: which is not the acquisition TR; see :func:`read_brainspace_rest`.
BRAINSPACE_REST_TR = 1.4
_BRAINSPACE_STEM = "sub-010188_ses-02_task-rest_acq-AP_run-01"
_BRAINSPACE_HEMIS = {"left": "lh", "right": "rh"}
_BRAINSPACE_SUBDIR = ("brainspace", "datasets", "preprocessing")
_BRAINSPACE_INSTALL = "pip install --no-deps brainspace==0.3.0"
_BRAINSPACE_MESH = "fsaverage5"
_BRAINSPACE_N_TIMES = 652
_BRAINSPACE_N_CONFOUNDS = 29


# ---------------------------------------------------------------------- locating the files
def _package_dir(package: str) -> Path | None:
    """Folder of an installed package, found without importing it (None if not installed)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return None
    located = Path(str(dist.locate_file(package)))
    return located if located.is_dir() else None


def _fetched_dir(dataset: str) -> Path | None:
    """The folder ``brainalign datasets fetch`` fills for ``dataset`` (None if unknown)."""
    from brainalign.datasets._registry import get_dataset_dir

    try:
        return get_dataset_dir(dataset)
    except (KeyError, ValueError):
        return None


def _file_sha256(path: Path) -> str:
    """sha256 of a file (the registry's hash, so readers and fetches agree)."""
    from brainalign.datasets._download import file_sha256

    return file_sha256(path)


def _package_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _locate_dir(
    path: PathLike | None,
    first_file: str,
    *,
    subdir: tuple[str, ...],
    dataset: str,
    install: str,
    what: str,
    expect: str = "an existing folder",
) -> tuple[Path, str]:
    """Return ``(folder holding first_file, source)``; ``source`` is ``"path"``, ``"fetched"`` or the package.

    With ``path``, the file is looked for in ``path`` itself, then in ``path/<package tree>``
    (an unpacked wheel). Without it, in the folder that ``brainalign datasets fetch`` fills
    (under the data directory), then in the installed package. Raises FileNotFoundError with
    the places searched and how to get the data.
    """
    package = subdir[0]
    fix = (
        f"Run `brainalign datasets fetch {dataset}` and pass the folder it gives as `path=`, "
        f"or install the package: `{install}`."
    )
    if path is not None:
        root = Path(path).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(
                f"`path` must be {expect} holding {what}; got {str(root)!r}, which "
                f"{'is a file' if root.exists() else 'does not exist'}. {fix}"
            )
        candidates = [root, root.joinpath(*subdir)]
        for folder in candidates:
            if (folder / first_file).is_file():
                return folder, "path"
        looked = ", ".join(repr(str(c / first_file)) for c in candidates)
        raise FileNotFoundError(f"{what} not found under `path`: looked for {looked}. {fix}")
    fetched = _fetched_dir(dataset)
    if fetched is not None and (fetched / first_file).is_file():
        return fetched, "fetched"
    pkg_dir = _package_dir(package)
    if pkg_dir is None:
        raise FileNotFoundError(
            f"{what} not found: `path` is None and the {package!r} package is not installed. {fix}"
        )
    folder = pkg_dir.parent.joinpath(*subdir)
    if not (folder / first_file).is_file():
        raise FileNotFoundError(
            f"{what} not found: the installed {package!r} package ({str(pkg_dir)!r}) lacks "
            f"{str(folder / first_file)!r} (a different version?). {fix}"
        )
    return folder, package


# ---------------------------------------------------------------------- nitime
def read_nitime_event_related(
    path: PathLike | None = None, *, tr: float = NITIME_TR, strict: bool = True
) -> Recording:
    """Read nitime's event-related fMRI time series from motion area MT.

    A real, stimulus-locked BOLD time series (one region of interest, in percent signal
    change) from motion-sensitive voxels near MT while a subject viewed motion stimuli of six
    conditions, with the onset of every trial. It ships with ``nitime`` as
    ``nitime/data/event_related_fmri.csv``: 3360 samples at TR = 2 s (112 minutes), six
    conditions of 96 trials each, onsets 3 to 32 TRs apart (median 4).

    Parameters
    ----------
    path : str, path-like or None
        The CSV file, or a folder holding ``event_related_fmri.csv`` (directly or under
        ``nitime/data/``, as in an unpacked wheel). ``None`` reads the copy in the installed
        ``nitime`` package (found without importing it).
    tr : float
        Repetition time in seconds. The CSV holds no timing; 2 s is the value documented by
        nitime.
    strict : bool
        Check the published layout: 3360 samples and exactly the conditions 1-6 with 96
        trials each; a different file raises :class:`~brainalign.exceptions.DataFormatError`.
        ``False`` accepts any length and any set of positive integer condition codes (e.g. a
        cropped copy, or another region exported in the same two-column layout). The two
        columns are checked either way.

    Returns
    -------
    Recording
        ``data`` of shape (n_times, 1): the MT BOLD in percent signal change (float64);
        ``sfreq = 1 / tr``; ``modality="fmri"``; ``space`` a parcels space with the one label
        ``"MT"`` (named ``"MT"``); ``events`` with one row per nonzero ``events`` entry:
        ``onset`` = sample index × ``tr`` (sample times mark the start of each TR, the first
        at 0 s), ``duration`` 0, ``type`` ``"Motion"``, ``condition`` and ``value`` the
        integer condition code (1-6) and ``sample`` the sample index. ``metadata`` holds
        ``source_file``, ``sha256``, ``units``, ``tr_source``, ``n_trials_per_condition``
        and, when read from the package, ``package_version``.

    Raises
    ------
    FileNotFoundError
        No file at ``path``, or ``path=None`` and nitime is not installed.
    DataFormatError
        Not a CSV with the columns ``bold`` and ``events``; non-finite BOLD; event codes that
        are not non-negative integers; with ``strict``, a length or trial count that differs
        from the published file.

    Notes
    -----
    The CSV gives onsets only, not stimulus durations, so every event has ``duration=0``;
    model the stimulus length in the design (e.g. FIR delays) rather than in the events.
    The raw event-locked average (by sample, all conditions) rises from the first TR and
    peaks about 4 TRs (8 s) after onset; trials overlap, so a FIR deconvolution is the
    cleaner estimate. nitime's own ``EventRelatedAnalyzer(..., offset=-5)`` fails with recent
    numpy; this reader does not use it.

    Examples
    --------
    >>> from brainalign.io import read_nitime_event_related
    >>> rec = read_nitime_event_related()
    >>> rec.data.shape, rec.tr, len(rec.events)
    ((3360, 1), 2.0, 576)
    """
    import pandas as pd

    tr = check_positive(tr, "tr")
    what = "the nitime event-related fMRI CSV (event_related_fmri.csv)"
    if path is not None and Path(path).expanduser().is_file():
        file, source = Path(path).expanduser(), "path"
    else:
        folder, source = _locate_dir(
            path,
            _NITIME_FILE,
            subdir=_NITIME_SUBDIR,
            dataset=NITIME_DATASET,
            install=_NITIME_INSTALL,
            what=what,
            expect="the CSV file or an existing folder",
        )
        file = folder / _NITIME_FILE
    table = read_table(file, what)
    columns = [str(c) for c in table.columns]
    expected = ["bold", "events"]
    missing = [c for c in expected if c not in columns]
    extra = [c for c in columns if c not in expected]
    if missing or (strict and extra):
        raise DataFormatError(
            f"{what} at {str(file)!r} must have the columns {expected} (header row); got "
            f"{columns}" + (". Pass strict=False to ignore extra columns." if not missing else "")
        )
    try:
        bold = pd.to_numeric(table["bold"]).to_numpy(dtype=np.float64)
        codes = pd.to_numeric(table["events"]).to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DataFormatError(
            f"{what} at {str(file)!r}: columns 'bold' and 'events' must be numeric: {err}"
        ) from err
    if bold.size == 0:
        raise DataFormatError(f"{what} at {str(file)!r} has a header but no samples")
    bad = ~np.isfinite(bold)
    if bad.any():
        raise DataFormatError(
            f"{what} at {str(file)!r}: 'bold' must be finite; got {int(bad.sum())} missing or "
            f"non-finite value(s), the first at row {int(np.flatnonzero(bad)[0])}"
        )
    bad = ~np.isfinite(codes) | (codes < 0) | (codes != np.round(codes))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataFormatError(
            f"{what} at {str(file)!r}: 'events' must hold non-negative integer condition "
            f"codes (0 = no event); got {codes[i]:g} at row {i}"
        )
    codes = codes.astype(np.int64)
    samples = np.flatnonzero(codes)
    conditions, counts = np.unique(codes[samples], return_counts=True)
    n_trials = {int(c): int(n) for c, n in zip(conditions, counts, strict=True)}
    if strict:
        problems = []
        if bold.shape[0] != _NITIME_N_TIMES:
            problems.append(f"{_NITIME_N_TIMES} samples (got {bold.shape[0]})")
        published = {c: _NITIME_TRIALS_PER_CONDITION for c in _NITIME_CONDITIONS}
        if n_trials != published:
            problems.append(
                f"{_NITIME_TRIALS_PER_CONDITION} trials of each condition "
                f"{list(_NITIME_CONDITIONS)} (got trials per condition {n_trials})"
            )
        if problems:
            raise DataFormatError(
                f"{what} at {str(file)!r} differs from the published file: expected "
                f"{' and '.join(problems)}. Pass strict=False to read a modified copy."
            )
    events = pd.DataFrame(
        {
            "onset": samples * tr,
            "duration": 0.0,
            "type": "Motion",
            "condition": codes[samples],
            "value": codes[samples],
            "sample": samples,
        }
    )
    metadata: dict[str, Any] = {
        "dataset": "nitime event-related fMRI (MT)",
        "source_file": str(file),
        "sha256": _file_sha256(file),
        "units": "percent signal change",
        "tr_source": (
            f"parameter tr={tr:g} s (default {NITIME_TR:g} s from the nitime documentation; "
            "the CSV holds no timing)"
        ),
        "event_durations": "not given in the CSV; set to 0 s",
        "n_trials_per_condition": n_trials,
    }
    if source not in ("path", "fetched"):
        metadata["package"] = source
        metadata["package_version"] = _package_version(source)
    return Recording(
        data=bold[:, None],
        sfreq=1.0 / tr,
        modality="fmri",
        events=events,
        space=Space.parcels(["MT"], name="MT"),
        task="motion",
        metadata=metadata,
    )


# ---------------------------------------------------------------------- brainspace
def _read_mgz_hemi(file: Path, hemi: str, n_vertices: int) -> tuple[np.ndarray, float | None]:
    """One hemisphere's MGZ as ``(n_times, n_vertices)`` float32, plus the header TR in ms."""
    import nibabel as nib
    from nibabel.filebasedimages import ImageFileError

    what = f"the {hemi} hemisphere MGZ"
    try:
        img = nib.load(file)
    except (ImageFileError, OSError, EOFError, ValueError) as err:
        raise DataFormatError(
            f"{what} at {str(file)!r} is not a readable MGH/MGZ image (corrupt or truncated?): "
            f"{err}"
        ) from err
    shape = tuple(int(s) for s in img.shape)
    if len(shape) != 4 or shape[1:3] != (1, 1):
        raise DataFormatError(
            f"{what} at {str(file)!r} must have shape (n_vertices, 1, 1, n_times) (surface "
            f"data, one frame per TR); got {shape}"
        )
    if shape[0] != n_vertices:
        raise DataFormatError(
            f"{what} at {str(file)!r} must have {n_vertices} vertices ({_BRAINSPACE_MESH}); "
            f"got {shape[0]} (shape {shape}). Is it on another mesh?"
        )
    try:
        data = img.get_fdata(dtype=np.float32)
    except (OSError, EOFError, ValueError) as err:
        raise DataFormatError(
            f"{what} at {str(file)!r} could not be read (corrupt or truncated?): {err}"
        ) from err
    header = img.header
    header_tr = float(header["tr"]) if "tr" in header else None
    return np.ascontiguousarray(data.reshape(shape[0], shape[3]).T), header_tr


def _read_confounds(file: Path, n_times: int, strict: bool) -> Any:
    """The confounds text file as a DataFrame ``(n_times, n_confounds)``."""
    import pandas as pd

    what = "the brainspace confounds file"
    with open(file, encoding="utf-8") as f:
        first = f.readline().split()
    try:
        [float(tok) for tok in first]
        has_header = False
    except ValueError:
        has_header = True
    try:
        values = np.loadtxt(file, dtype=np.float64, skiprows=int(has_header), ndmin=2)
    except ValueError as err:
        raise DataFormatError(
            f"{what} at {str(file)!r} must be a whitespace-separated numeric table "
            f"(n_times, n_confounds), with an optional header row: {err}"
        ) from err
    if has_header and len(first) != values.shape[1]:
        raise DataFormatError(
            f"{what} at {str(file)!r}: the header row names {len(first)} columns but the "
            f"table has {values.shape[1]}"
        )
    if values.shape[0] != n_times:
        raise DataFormatError(
            f"{what} at {str(file)!r} must have one row per time point ({n_times}, as the "
            f"MGZ files); got {values.shape[0]} rows"
        )
    if strict and values.shape[1] != _BRAINSPACE_N_CONFOUNDS:
        raise DataFormatError(
            f"{what} at {str(file)!r} must have {_BRAINSPACE_N_CONFOUNDS} columns as the "
            f"published file; got {values.shape[1]}. Pass strict=False to read a modified copy."
        )
    names = first if has_header else [f"confound_{i:02d}" for i in range(values.shape[1])]
    return pd.DataFrame(values, columns=names)


def _confound_layout(confounds: Any) -> dict[str, list[str]]:
    """Groups of the unnamed published columns, as read from their values (not documented)."""
    cols = list(confounds.columns)
    return {
        "unit_norm_components": cols[0:6],
        "motion": cols[6:12],
        "motion_derivatives": cols[12:18],
        "spikes": cols[18:26],
        "polynomial_trends": cols[26:29],
    }


def read_brainspace_rest(
    path: PathLike | None = None,
    *,
    confounds: bool = False,
    tr: float = BRAINSPACE_REST_TR,
    strict: bool = True,
) -> Recording:
    """Read brainspace's preprocessed resting-state fMRI run on the fsaverage5 surface.

    One real resting-state run (``sub-010188_ses-02_task-rest_acq-AP_run-01``) projected on
    fsaverage5, as shipped with ``brainspace`` 0.3.0 in ``brainspace/datasets/preprocessing/``:
    ``<stem>.fsa5.lh.mgz`` and ``<stem>.fsa5.rh.mgz`` (10242 vertices × 652 frames each,
    float32) and ``<stem>_confounds.txt`` (652 × 29). There is no stimulus; it is real
    noise, on the same vertices as nilearn's bundled fsaverage5 meshes.

    Parameters
    ----------
    path : str, path-like or None
        Folder holding the three files (directly or under ``brainspace/datasets/
        preprocessing/``, as in an unpacked wheel). ``None`` reads them from the installed
        ``brainspace`` package, found without importing it (importing needs vtk).
    confounds : bool
        Also read the confounds table into ``metadata["confounds"]``.
    tr : float
        Repetition time in seconds. Default 1.4 s (see Notes): the MGZ header field reads
        1000 ms and is not trusted.
    strict : bool
        Check the published layout: 652 time points (and 29 confound columns). ``False``
        accepts any number of time points and confounds. The vertex count (10242 per
        hemisphere) and the agreement of the two hemispheres are checked either way.

    Returns
    -------
    Recording
        ``data`` of shape (n_times, 20484), float32, left hemisphere then right;
        ``sfreq = 1 / tr``; ``modality="fmri"``; ``space = Space.surface("fsaverage5")``
        (split back with ``space.to_surface_arrays``); no events; ``subject="010188"``,
        ``session="02"``, ``task="rest"``, ``run="01"``. ``metadata`` holds ``source_files``
        and their ``sha256``, ``header_tr_ms`` (the value in the files),
        ``header_tr_trusted=False``, ``tr_source``, ``n_constant_vertices`` (medial wall,
        all zeros) and a ``preprocessing`` note; with ``confounds=True`` also ``confounds``
        (a DataFrame of shape (n_times, n_confounds)), ``confounds_file`` and
        ``confounds_layout``.

    Raises
    ------
    FileNotFoundError
        A file is missing (the message names it), or ``path=None`` and brainspace is not
        installed.
    DataFormatError
        An MGZ is unreadable, is not (10242, 1, 1, n_times), or the two hemispheres have
        different numbers of time points; a confounds table with the wrong number of rows;
        with ``strict``, a layout that differs from the published files.

    Notes
    -----
    **Repetition time.** Both MGZ headers say TR = 1000 ms, which does not match the
    acquisition described here, so it is recorded but not used. The BIDS entities (``sub-010188``,
    ``ses-02``, ``task-rest``, ``acq-AP``, ``run-01``) are those of the MPI-Leipzig
    Mind-Brain-Body dataset (OpenNeuro ds000221), whose session-2 resting-state runs have
    657 volumes at TR = 1.4 s; 652 = 657 - 5 discarded initial volumes, as in that dataset's
    standard preprocessing. Hence the 1.4 s default. brainspace documents no TR, so this is
    inferred; pass ``tr=`` to override it.

    **Values.** The time series are already preprocessed: every vertex has mean 0 over time
    (the BOLD baseline and its units are gone) and 1769 medial-wall vertices are constant
    0. Standardise per vertex before using them as noise of a given level.

    **Confounds.** The text file has no header row; columns are named ``confound_00`` to
    ``confound_28``. From their values (brainspace does not document them) they read as six
    unit-norm components, six motion parameters, their six temporal derivatives, eight
    single-frame spike regressors, and constant, linear and quadratic trends; this grouping
    is in ``metadata["confounds_layout"]``. A file with a header row keeps its names.

    Examples
    --------
    >>> from brainalign.io import read_brainspace_rest
    >>> rec = read_brainspace_rest(confounds=True)  # doctest: +SKIP
    >>> rec.data.shape, rec.metadata["confounds"].shape  # doctest: +SKIP
    ((652, 20484), (652, 29))
    """
    tr = check_positive(tr, "tr")
    n_vertices = FSAVERAGE_N_VERTICES[_BRAINSPACE_MESH]
    names = {hemi: f"{_BRAINSPACE_STEM}.fsa5.{h}.mgz" for hemi, h in _BRAINSPACE_HEMIS.items()}
    folder, source = _locate_dir(
        path,
        names["left"],
        subdir=_BRAINSPACE_SUBDIR,
        dataset=BRAINSPACE_DATASET,
        install=_BRAINSPACE_INSTALL,
        what=f"the brainspace resting-state run ({names['left']})",
    )
    files = {
        hemi: require_file(folder / name, f"the {hemi} hemisphere MGZ of the brainspace run")
        for hemi, name in names.items()
    }
    conf_file = None
    if confounds:
        conf_file = require_file(
            folder / f"{_BRAINSPACE_STEM}_confounds.txt", "the brainspace confounds file"
        )
    arrays, header_trs = {}, {}
    for hemi, file in files.items():
        arrays[hemi], header_trs[hemi] = _read_mgz_hemi(file, hemi, n_vertices)
    n_left, n_right = arrays["left"].shape[0], arrays["right"].shape[0]
    if n_left != n_right:
        raise DataFormatError(
            f"The two hemispheres must have the same number of time points; got {n_left} in "
            f"{str(files['left'])!r} and {n_right} in {str(files['right'])!r}"
        )
    if strict and n_left != _BRAINSPACE_N_TIMES:
        raise DataFormatError(
            f"The brainspace run must have {_BRAINSPACE_N_TIMES} time points as the published "
            f"files; got {n_left} in {str(files['left'])!r}. Pass strict=False to read a "
            f"modified copy."
        )
    header_tr = header_trs["left"]
    if header_tr is not None and abs(header_tr / 1000.0 - tr) > 1e-6:
        logger.info(
            "brainspace run: ignoring the MGZ header TR (%g ms); using tr=%g s", header_tr, tr
        )
    data = np.concatenate([arrays["left"], arrays["right"]], axis=1)
    metadata: dict[str, Any] = {
        "dataset": "brainspace resting-state fMRI (fsaverage5)",
        "source_files": {hemi: str(f) for hemi, f in files.items()},
        "sha256": {hemi: _file_sha256(f) for hemi, f in files.items()},
        "header_tr_ms": header_tr,
        "header_tr_trusted": False,
        "tr_source": (
            f"parameter tr={tr:g} s (default {BRAINSPACE_REST_TR:g} s: MPI-Leipzig "
            "Mind-Brain-Body ds000221 session-2 rest protocol; the MGZ header value is not "
            "trusted)"
        ),
        "units": "arbitrary (preprocessed, mean 0 per vertex)",
        "preprocessing": (
            "preprocessed by the brainspace authors and projected on fsaverage5; each vertex "
            "is centred (mean 0 over time); medial-wall vertices are constant 0"
        ),
        "n_constant_vertices": int(np.count_nonzero(np.ptp(data, axis=0) == 0)),
        "acquisition": "AP",
    }
    if source not in ("path", "fetched"):
        metadata["package"] = source
        metadata["package_version"] = _package_version(source)
    if conf_file is not None:
        table = _read_confounds(conf_file, n_left, strict)
        metadata["confounds"] = table
        metadata["confounds_file"] = str(conf_file)
        generic = [f"confound_{i:02d}" for i in range(_BRAINSPACE_N_CONFOUNDS)]
        if strict and list(table.columns) == generic:
            metadata["confounds_layout"] = _confound_layout(table)
    return Recording(
        data=data,
        sfreq=1.0 / tr,
        modality="fmri",
        space=Space.surface(_BRAINSPACE_MESH),
        subject="010188",
        session="02",
        task="rest",
        run="01",
        metadata=metadata,
    )
