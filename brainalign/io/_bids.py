"""Shared BIDS machinery for the readers: entities, sidecar inheritance, events.tsv, runs.

pybids is not a dependency, so the BIDS mechanisms the readers need are written here and kept
small: entity parsing of file names and the inheritance principle for sidecars and events (a
file at the dataset, subject or session level applies to every data file whose name holds all
of its entities; more specific files override less specific ones, key by key). Used by the
raw fMRI (:mod:`._bids_func`), fMRIPrep (:mod:`._fmriprep`) and M/EEG (:mod:`._bids_meeg`)
readers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from brainalign.exceptions import DataFormatError
from brainalign.io._files import read_json, read_table, require_file

__all__ = [
    "EVENTS_OUTSIDE",
    "RAW_ENTITIES",
    "check_same_tr",
    "describe_entities",
    "events_in_run",
    "filter_runs",
    "find_bids_root",
    "find_func_files",
    "inherited_files",
    "inherited_run_events",
    "looks_like_dict_literals",
    "merged_sidecar",
    "parse_bids_entities",
    "read_bids_sidecar",
    "read_events_tsv",
    "read_json_object",
    "read_run_events",
    "tr_from_sidecar",
]

PathLike = str | os.PathLike[str]

#: Entities that name an acquisition in raw BIDS (derivative-only entities excluded).
RAW_ENTITIES = ("sub", "ses", "task", "acq", "ce", "rec", "dir", "run", "echo", "part")
#: What a reader may do with events whose onset lies outside the run.
EVENTS_OUTSIDE = ("raise", "drop")
_ENTITY_RE = re.compile(r"^([a-zA-Z]+)-([a-zA-Z0-9+]+)$")


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


def inherited_files(data_file: Path, suffix: str, extension: str, root: Path) -> list[Path]:
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


def read_json_object(path: Path, what: str = "JSON sidecar") -> dict[str, Any]:
    """A JSON file holding an object (``key: value``), as BIDS sidecars do."""
    obj = read_json(path, what)
    if not isinstance(obj, dict):
        raise DataFormatError(
            f"{what} at {str(path)!r} must hold an object (key: value); got a {type(obj).__name__}"
        )
    return obj


def merged_sidecar(
    data_file: Path, root: Path, suffix: str | None = None
) -> tuple[dict[str, Any], list[Path]]:
    """Merged sidecar of ``data_file`` (more specific wins) and the files it came from."""
    suffix = suffix or parse_bids_entities(data_file)["suffix"]
    files = inherited_files(data_file, suffix, ".json", root)
    merged: dict[str, Any] = {}
    for f in files:
        merged.update(read_json_object(f))
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
    merged, files = merged_sidecar(data_file, root, suffix)
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
    ``"null"`` stays a string. ``attrs`` holds ``n_na_duration`` and ``tsv_rows`` (the
    0-based data row of the file of each sorted row), used by :func:`read_run_events`.
    """
    import pandas as pd

    path = require_file(path, "BIDS events file (*_events.tsv)")
    df = read_table(
        path,
        "BIDS events file",
        sep="\t",
        na_values=["n/a"],
        keep_default_na=False,
        dtype=str,
    )
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
    order = np.argsort(out["onset"].to_numpy(), kind="stable")
    out = out[cols].iloc[order].reset_index(drop=True)
    out.attrs["n_na_duration"] = n_na_dur
    out.attrs["tsv_rows"] = tuple(int(r) for r in order)
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
    events: Any,
    *,
    start: float,
    stop: float,
    path: Path,
    events_outside: str,
    rows: Sequence[int] | None = None,
) -> tuple[Any, int]:
    """Check (or drop, when asked) events whose onset is outside ``[start, stop)``.

    ``rows`` gives the file row of each event (``events`` is sorted by onset, the file need
    not be), so that the error names the row to look at.
    """
    onset = events["onset"].to_numpy()
    outside = (onset < start) | (onset >= stop)
    if not outside.any():
        return events, 0
    if events_outside == "drop":
        return events.loc[~outside].reset_index(drop=True), int(outside.sum())
    i = int(np.flatnonzero(outside)[0])
    row = i if rows is None else int(rows[i])
    raise DataFormatError(
        f"Events file {str(path)!r}: onsets must lie within the run [{start:g}, {stop:g}) s "
        f"(on the scan clock, 0 = start of the first stored sample); got {int(outside.sum())} "
        f"event(s) outside, the first at onset {onset[i]:g} s (row {row}). Is this the events "
        f"file of this run? Pass events_outside='drop' to drop them explicitly."
    )


def read_run_events(
    path: Path, *, stop: float, events_outside: str, trial_type_dicts: bool | str
) -> tuple[Any, int, int]:
    """The events of one run from its ``events.tsv``, checked against the run ``[0, stop)``.

    Returns
    -------
    events : pandas.DataFrame
        See :func:`read_events_tsv`; sorted by onset.
    n_dropped : int
        Events outside the run dropped (``events_outside="drop"``).
    n_na_duration : int
        ``n/a`` durations read as 0.
    """
    events = read_events_tsv(path, trial_type_dicts=trial_type_dicts)
    n_na = events.attrs.pop("n_na_duration", 0)
    rows = events.attrs.pop("tsv_rows", None)
    events, n_dropped = events_in_run(
        events, start=0.0, stop=stop, path=path, events_outside=events_outside, rows=rows
    )
    return events, n_dropped, n_na


def inherited_run_events(
    data_file: Path,
    root: Path,
    *,
    stop: float,
    events_outside: str,
    trial_type_dicts: bool | str,
) -> tuple[Any, Path | None, int, int]:
    """:func:`read_run_events` of the most specific ``events.tsv`` that applies to a data file.

    Returns ``(events, events_file, n_dropped, n_na_duration)``, or ``(None, None, 0, 0)``
    when no ``*_events.tsv`` applies.
    """
    files = inherited_files(data_file, "events", ".tsv", root)
    if not files:
        return None, None, 0, 0
    events, n_dropped, n_na = read_run_events(
        files[-1], stop=stop, events_outside=events_outside, trial_type_dicts=trial_type_dicts
    )
    return events, files[-1], n_dropped, n_na


# ---------------------------------------------------------------------------- runs
def describe_entities(**entities: Any) -> str:
    """``"subject='01', task='story'"`` for the entities that are set."""
    return ", ".join(f"{k}={v!r}" for k, v in entities.items() if v is not None)


def find_func_files(
    sub_dir: Path, pattern: str, wanted: dict[str, Any], run: Any = None
) -> list[Path]:
    """Files matching ``pattern`` in ``sub_dir/func/`` and ``sub_dir/ses-*/func/``, sorted,
    whose entities equal ``wanted`` (``None`` values ignored) and whose run is ``run``."""
    files = sorted(sub_dir.glob(f"func/{pattern}")) + sorted(sub_dir.glob(f"ses-*/func/{pattern}"))
    out = []
    for f in files:
        ent = parse_bids_entities(f)
        if any(v is not None and ent.get(k) != str(v) for k, v in wanted.items()):
            continue
        if run is not None and (ent.get("run") is None or int(ent["run"]) != int(run)):
            continue
        out.append(f)
    return out


def filter_runs(files: Iterable[Path], runs: int | str | Iterable[int | str] | None) -> list[Path]:
    """The files whose ``run`` entity is one of ``runs`` (all files when ``runs`` is None)."""
    if runs is None:
        return list(files)
    wanted = {int(r) for r in ([runs] if isinstance(runs, (int, str, np.integer)) else runs)}
    return [f for f in files if int(parse_bids_entities(f).get("run", -1)) in wanted]


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
