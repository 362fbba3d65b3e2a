"""Algonauts 2025 (CNeuroMod Friends and Movie10): parcel time series with movie and word events.

Layout of ``algonauts_2025.competitors/`` (see ``data-formats.md`` §3)::

    fmri/sub-0X/func/sub-0X_task-friends_space-MNI152NLin2009cAsym_atlas-Schaefer18_parcel-1000Par7Net_desc-s123456_bold.h5
    fmri/sub-0X/func/sub-0X_task-movie10_space-MNI152NLin2009cAsym_atlas-Schaefer18_parcel-1000Par7Net_bold.h5
    fmri/sub-0X/atlas/sub-0X_space-MNI152NLin2009cAsym_atlas-Schaefer18_parcel-1000Par7Net_desc-dseg_parcellation.nii.gz
    stimuli/movies/friends/s1/friends_s01e01a.mkv        stimuli/movies/movie10/bourne/bourne01.mkv
    stimuli/transcripts/friends/s1/friends_s01e01a.tsv   stimuli/transcripts/movie10/bourne/movie10_bourne01.tsv

Each HDF5 dataset is one run ``(n_TR, 1000)`` float32, keyed ``ses-001_task-s01e02a`` (Friends)
or ``ses-003_task-figures01_run-1`` (Movie10; ``run`` only for the movies seen twice).
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._logging import logger, progress
from brainalign.data._recording import Recording
from brainalign.data._space import Space
from brainalign.exceptions import DataFormatError
from brainalign.io._files import open_hdf5, read_table, require_dir, require_file

__all__ = ["read_algonauts2025", "read_algonauts2025_transcript"]

PathLike = str | os.PathLike[str]

#: Repetition time of the CNeuroMod movie runs, in seconds.
TR = 1.49
N_PARCELS = 1000
SUBJECTS = ("01", "02", "03", "05")
TASKS = ("friends", "movie10")
ATLAS_NAME = "Schaefer2018_1000Parcels7Networks"
_LIST_COLUMNS = ("words_per_tr", "onsets_per_tr", "durations_per_tr")
_FRIENDS = re.compile(r"s(\d+)e(\d+)([a-z])")
_MOVIE10 = re.compile(r"([a-z]+)(\d+)")


# ---------------------------------------------------------------------------- transcripts
def _literal_list(cell: Any, path: Path, row: int, column: str) -> list[Any]:
    """Parse one stringified Python list safely (``ast.literal_eval``, never ``eval``)."""
    if str(cell).strip() == "":
        return []
    try:
        value = ast.literal_eval(str(cell))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as err:
        raise DataFormatError(
            f"`{column}` of transcript {str(path)!r}, row {row}, must be a Python list literal "
            f"such as \"['hi', 'there']\"; got {str(cell)[:60]!r} ({type(err).__name__})"
        ) from err
    if not isinstance(value, (list, tuple)):
        raise DataFormatError(
            f"`{column}` of transcript {str(path)!r}, row {row}, must be a list; got "
            f"{type(value).__name__} {str(cell)[:60]!r}"
        )
    return list(value)


def _parse_transcript(path: Path, tr: float) -> tuple[Any, int]:
    """Word events (movie clock) and the number of TR rows of one transcript TSV."""
    import pandas as pd

    table = read_table(
        path,
        "Algonauts 2025 transcript",
        _LIST_COLUMNS,
        hint="Expected one row per TR with text_per_tr, words_per_tr, onsets_per_tr, "
        "durations_per_tr.",
        sep="\t",
        dtype=str,
        keep_default_na=False,
        na_values=[""],
    )
    onsets, durations, words, rows = [], [], [], []
    n_rows = len(table)
    cells = {c: table[c].fillna("").tolist() for c in _LIST_COLUMNS}  # empty cell -> []
    for i in range(n_rows):
        w, o, d = (_literal_list(cells[c][i], path, i, c) for c in _LIST_COLUMNS)
        if not len(w) == len(o) == len(d):
            raise DataFormatError(
                f"transcript {str(path)!r}, row {i}: words_per_tr, onsets_per_tr and "
                f"durations_per_tr must have the same length; got {len(w)}, {len(o)}, {len(d)}"
            )
        for col, values in (("onsets_per_tr", o), ("durations_per_tr", d)):
            for v in values:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
                    raise DataFormatError(
                        f"`{col}` of transcript {str(path)!r}, row {i}, must hold finite "
                        f"numbers (seconds); got {v!r}"
                    )
        for k, (on, du) in enumerate(zip(o, d)):
            # a word is listed in the TR where it ends: it must start before that TR ends
            # and end no earlier than one TR before it starts (one TR of slack for rounding)
            if on < 0 or du < 0 or on > (i + 1) * tr + 1e-6 or on + du < (i - 1) * tr - 1e-6:
                raise DataFormatError(
                    f"transcript {str(path)!r}, row {i} (TR [{i * tr:g}, {(i + 1) * tr:g}) s): "
                    f"word {str(w[k])!r} has onset {on:g} s and duration {du:g} s, outside its TR. "
                    f"Onsets must be seconds from the movie onset (not from the TR, not in ms)."
                )
        words.extend(str(x) for x in w)
        onsets.extend(float(x) for x in o)
        durations.extend(float(x) for x in d)
        rows.extend([i] * len(w))
    events = pd.DataFrame(
        {
            "onset": np.asarray(onsets, dtype=float),
            "duration": np.asarray(durations, dtype=float),
            "type": "Word",
            "text": pd.Series(words, dtype=object),
            "tr_index": np.asarray(rows, dtype=np.int64),
        }
    )
    events = events.sort_values("onset", kind="stable").reset_index(drop=True)
    return events, n_rows


def read_algonauts2025_transcript(path: PathLike, *, tr: float = TR) -> Any:
    """Read an Algonauts 2025 transcript TSV into word events on the movie clock.

    Parameters
    ----------
    path : path-like
        ``stimuli/transcripts/friends/s1/friends_s01e01a.tsv`` or
        ``stimuli/transcripts/movie10/bourne/movie10_bourne01.tsv``: one row per TR, with
        ``text_per_tr`` and the stringified lists ``words_per_tr``, ``onsets_per_tr``,
        ``durations_per_tr`` (parsed with :func:`ast.literal_eval`; empty rows are ``[]``).
    tr : float
        Seconds per row (1.49).

    Returns
    -------
    events : pandas.DataFrame, shape (n_words, 5)
        ``onset`` and ``duration`` (seconds from the movie onset), ``type`` = ``"Word"``,
        ``text`` (the word), ``tr_index`` (the 0-based TSV row listing the word: the TR in
        which it ends). Sorted by onset.
    """
    from brainalign._validation import check_positive

    events, _ = _parse_transcript(
        require_file(path, "Algonauts 2025 transcript"), check_positive(tr, "tr")
    )
    return events


# ---------------------------------------------------------------------------- fMRI
def _subject(subject: Any) -> str:
    m = re.fullmatch(r"(?:sub-)?0*(\d+)", str(subject).strip())
    sub = f"{int(m.group(1)):02d}" if m else None
    if sub not in SUBJECTS:
        raise ValueError(
            f"`subject` must be one of the Algonauts 2025 subjects {list(SUBJECTS)} (1, '01' or "
            f"'sub-01'); got {subject!r}"
        )
    return sub


def _parse_key(key: str, task: str, path: Path) -> dict[str, Any]:
    """``ses-001_task-s01e02a`` / ``ses-003_task-figures01_run-1`` -> entities."""
    try:
        ents = dict(kv.split("-", 1) for kv in key.split("_"))
    except ValueError:
        ents = {}
    pattern = _FRIENDS if task == "friends" else _MOVIE10
    m = pattern.fullmatch(ents.get("task", ""))
    if "ses" not in ents or m is None:
        example = "ses-001_task-s01e02a" if task == "friends" else "ses-003_task-figures01_run-1"
        raise DataFormatError(
            f"dataset {key!r} of {str(path)!r} must be named like {example!r} for task "
            f"{task!r}; got entities {ents}"
        )
    info: dict[str, Any] = {"key": key, "session": ents["ses"], "task": ents["task"]}
    info["run"] = ents.get("run")
    if task == "friends":
        info.update(season=int(m.group(1)), episode=int(m.group(2)), split=m.group(3))
        info["stim_id"] = f"friends_{ents['task']}"
    else:
        info.update(movie=m.group(1), part=int(m.group(2)))
        info["stim_id"] = ents["task"]
    return info


def _stim_paths(info: dict[str, Any], task: str) -> tuple[str, str]:
    """(movie path, transcript path) relative to ``stimuli/movies`` / ``stimuli/transcripts``."""
    name = info["task"]
    if task == "friends":
        folder = f"friends/s{info['season']}"
        return f"{folder}/friends_{name}.mkv", f"{folder}/friends_{name}.tsv"
    folder = f"movie10/{info['movie']}"
    return f"{folder}/{name}.mkv", f"{folder}/movie10_{name}.tsv"


def _stim_dir(value: Any, default: Path, what: str) -> Path | None:
    if value is None:
        return None
    if isinstance(value, str) and value == "auto":
        return default if default.is_dir() else None
    return require_dir(value, what)


def _select(
    infos: list[dict[str, Any]],
    task: str,
    seasons: int | Iterable[int] | None,
    movies: str | Iterable[str] | None,
    episodes: str | Iterable[str] | None,
    path: Path,
) -> list[dict[str, Any]]:
    if seasons is not None and task != "friends":
        raise ValueError(f"`seasons` applies to task 'friends'; got task {task!r}")
    if movies is not None and task != "movie10":
        raise ValueError(f"`movies` applies to task 'movie10'; got task {task!r}")
    out = infos
    if seasons is not None:
        # one season or several; a string "3" is a season too, not the seasons 3 (digits)
        items = [seasons] if isinstance(seasons, (int, str, np.integer)) else list(seasons)
        wanted = {int(s) for s in items}
        out = [i for i in out if i["season"] in wanted]
    if movies is not None:
        wanted_m = {movies} if isinstance(movies, str) else set(movies)
        unknown = wanted_m - {i["movie"] for i in infos}
        if unknown:
            raise ValueError(
                f"`movies` must name movies of {str(path)!r}; got unknown {sorted(unknown)} "
                f"(available: {sorted({i['movie'] for i in infos})})"
            )
        out = [i for i in out if i["movie"] in wanted_m]
    if episodes is not None:
        wanted_e = [episodes] if isinstance(episodes, str) else list(episodes)
        unknown = set(wanted_e) - {i["task"] for i in infos}
        if unknown:
            available = sorted({i["task"] for i in infos})
            raise ValueError(
                f"`episodes` must name runs of {str(path)!r}; got unknown {sorted(unknown)} "
                f"(available: {available[:8]}{'...' if len(available) > 8 else ''}). A few "
                f"Friends chunks are missing for some subjects (e.g. sub-02 s05e20a)."
            )
        out = [i for i in out if i["task"] in set(wanted_e)]
    if not out:
        raise ValueError(
            f"the selection (seasons={seasons!r}, movies={movies!r}, episodes={episodes!r}) "
            f"matches no run of {str(path)!r}"
        )
    return out


def read_algonauts2025(
    root: PathLike,
    subject: int | str,
    task: str = "friends",
    *,
    seasons: int | Iterable[int] | None = None,
    movies: str | Iterable[str] | None = None,
    episodes: str | Iterable[str] | None = None,
    movies_dir: PathLike | None = "auto",
    transcripts_dir: PathLike | None = "auto",
    n_parcels: int | None = N_PARCELS,
    max_length_mismatch: int = 3,
    words_after_run: str = "drop",
    verbose: bool | None = None,
) -> list[Recording]:
    """Read the Algonauts 2025 parcel time series of one subject, one Recording per run.

    Parameters
    ----------
    root : path-like
        ``algonauts_2025.competitors/`` (holding ``fmri/`` and ``stimuli/``).
    subject : int or str
        1, 2, 3 or 5 (``"01"``, ``"sub-01"``).
    task : {"friends", "movie10"}
        Which HDF5 file: Friends seasons 1-6 or Movie10.
    seasons : int, iterable of int or None
        Friends seasons to keep.
    movies : str, iterable of str or None
        Movie10 movies to keep (``bourne``, ``wolf``, ``figures``, ``life``).
    episodes : str, iterable of str or None
        Runs to keep by task name (``"s01e02a"``, ``"figures01"``; both runs of a repeated movie).
    movies_dir, transcripts_dir : path-like, "auto" or None
        Folders holding ``friends/`` and ``movie10/`` (``<root>/stimuli/movies`` and
        ``<root>/stimuli/transcripts``). ``"auto"`` uses those folders when they exist;
        ``None`` skips them. When a folder is used, every run's file must be present.
    n_parcels : int or None
        Expected number of parcels (1000); ``None`` accepts any, the same for every run.
    max_length_mismatch : int
        Largest accepted difference, in TRs, between the fMRI run and its transcript (one row
        per TR of the movie). Published pipelines see 1-2 TRs.
    words_after_run : {"drop", "raise"}
        Words starting after the last fMRI sample (the movie outlasting the scan, within
        ``max_length_mismatch``): dropped and counted in ``metadata["n_words_after_run"]``,
        or an error.
    verbose : bool or None
        Progress bar over runs.

    Returns
    -------
    recordings : list of Recording
        In acquisition order (sorted dataset keys: session, then task). Each has ``data``
        float32 ``(n_TR, n_parcels)``, ``sfreq = 1 / 1.49`` Hz, ``times = arange(n_TR) * 1.49``
        (TR starts), ``task`` (``"s01e02a"``, ``"bourne01"``), ``session`` (``"001"``), ``run``
        (``"1"``/``"2"`` for repeated movies, else None), a parcel space (labels ``"1"`` ..
        ``"1000"``: the value of the parcel in the dseg atlas, ``metadata["atlas"]``), and
        events on the run clock, whose 0 is the movie onset: a ``Video`` row at 0
        (``stim_id`` = ``"friends_s01e02a"`` / ``"bourne01"``, ``stim_file`` = the ``.mkv``
        when ``movies_dir`` is used) and one ``Word`` row per transcript word (``text``,
        ``tr_index``).

    Raises
    ------
    FileNotFoundError
        Missing HDF5, movie or transcript files.
    DataFormatError
        Corrupt files, unexpected keys or shapes, non-finite values, run lengths that
        disagree with the transcript, or words outside the run.
    """
    from brainalign._validation import check_choice

    check_choice(task, "task", TASKS)
    check_choice(words_after_run, "words_after_run", ("drop", "raise"))
    if int(max_length_mismatch) != max_length_mismatch or max_length_mismatch < 0:
        raise ValueError(
            f"`max_length_mismatch` must be a non-negative integer (TRs); got "
            f"{max_length_mismatch!r}"
        )
    base = require_dir(root, "Algonauts 2025 root")
    sub = _subject(subject)
    func = require_dir(
        base / "fmri" / f"sub-{sub}" / "func", f"Algonauts 2025 fMRI folder of sub-{sub}"
    )
    candidates = sorted(func.glob(f"sub-{sub}_task-{task}_*_bold.h5"))
    if len(candidates) != 1:
        raise FileNotFoundError(
            f"Algonauts 2025 {task} fMRI of sub-{sub}: expected one file "
            f"sub-{sub}_task-{task}_space-MNI152NLin2009cAsym_atlas-Schaefer18_parcel-1000Par7Net"
            f"[_desc-...]_bold.h5 in {str(func)!r}; got {[c.name for c in candidates]}"
        )
    h5_path = candidates[0]
    movie_root = _stim_dir(movies_dir, base / "stimuli" / "movies", "Algonauts 2025 movies folder")
    text_root = _stim_dir(
        transcripts_dir, base / "stimuli" / "transcripts", "Algonauts 2025 transcripts folder"
    )
    atlas = (
        base
        / "fmri"
        / f"sub-{sub}"
        / "atlas"
        / f"sub-{sub}_space-MNI152NLin2009cAsym_atlas-Schaefer18_parcel-1000Par7Net_desc-dseg"
        "_parcellation.nii.gz"
    )
    recordings: list[Recording] = []
    space: Space | None = None
    with open_hdf5(h5_path, f"Algonauts 2025 {task} fMRI file") as h5:
        infos = [_parse_key(k, task, h5_path) for k in sorted(h5.keys())]
        infos = _select(infos, task, seasons, movies, episodes, h5_path)
        for info in progress(infos, desc=f"Algonauts 2025 sub-{sub} {task}", verbose=verbose):
            data = _read_run(h5, info["key"], h5_path, n_parcels)
            n_parcels = data.shape[1]
            if space is None:
                space = Space.parcels([str(i + 1) for i in range(n_parcels)], name=ATLAS_NAME)
            events, meta = _run_events(
                info,
                task,
                data.shape[0],
                movie_root,
                text_root,
                max_length_mismatch,
                words_after_run,
                h5_path,
            )
            meta.update(
                dataset="algonauts2025",
                series=task,
                h5_file=str(h5_path),
                h5_key=info["key"],
                tr=TR,
                atlas=str(atlas) if atlas.is_file() else None,
                **{
                    k: info[k] for k in ("season", "episode", "split", "movie", "part") if k in info
                },
            )
            recordings.append(
                Recording(
                    data,
                    sfreq=1.0 / TR,
                    modality="fmri",
                    events=events,
                    space=space,
                    subject=sub,
                    session=info["session"],
                    run=info["run"],
                    task=info["task"],
                    metadata=meta,
                )
            )
    return recordings


def _read_run(h5: Any, key: str, path: Path, n_parcels: int | None) -> np.ndarray:
    ds = h5[key]
    if ds.ndim != 2 or (n_parcels is not None and ds.shape[1] != n_parcels):
        expected = f"(n_TR, {n_parcels})" if n_parcels is not None else "(n_TR, n_parcels)"
        raise DataFormatError(
            f"dataset {key!r} of {str(path)!r} must have shape {expected}; got {ds.shape}"
            + (". Transposed (parcels, TRs)?" if ds.ndim == 2 and ds.shape[0] == n_parcels else "")
        )
    data = np.asarray(ds[()], dtype=np.float32)
    if not np.all(np.isfinite(data)):
        bad = np.argwhere(~np.isfinite(data))[0]
        raise DataFormatError(
            f"dataset {key!r} of {str(path)!r} holds {int((~np.isfinite(data)).sum())} "
            f"non-finite value(s) (first at TR {bad[0]}, parcel {bad[1]})"
        )
    return data


def _run_events(
    info: dict[str, Any],
    task: str,
    n_tr: int,
    movie_root: Path | None,
    text_root: Path | None,
    max_length_mismatch: int,
    words_after_run: str,
    h5_path: Path,
) -> tuple[Any, dict[str, Any]]:
    import pandas as pd

    movie_rel, text_rel = _stim_paths(info, task)
    run_stop = n_tr * TR
    meta: dict[str, Any] = {"n_words_after_run": 0}
    stim_file = None
    if movie_root is not None:
        movie = movie_root / movie_rel
        if not movie.is_file():
            raise FileNotFoundError(
                f"Algonauts 2025 movie not found: expected a file at {str(movie)!r} for "
                f"{info['key']!r} (a broken datalad link? run `datalad get` on it), or pass "
                f"movies_dir=None"
            )
        stim_file = str(movie)
    words = None
    video_duration = run_stop
    if text_root is not None:
        path = require_file(text_root / text_rel, "Algonauts 2025 transcript")
        words, n_rows = _parse_transcript(path, TR)
        if abs(n_rows - n_tr) > max_length_mismatch:
            raise DataFormatError(
                f"run {info['key']!r} of {str(h5_path)!r} has {n_tr} TRs but its transcript "
                f"{str(path)!r} has {n_rows} rows (one per TR of the movie): they differ by more "
                f"than max_length_mismatch={max_length_mismatch}. Is it the right transcript?"
            )
        video_duration = n_rows * TR
        late = words["onset"].to_numpy() >= run_stop
        if late.any():
            if words_after_run == "raise":
                first = words.loc[late].iloc[0]
                raise DataFormatError(
                    f"transcript {str(path)!r} has {int(late.sum())} word(s) after the end of "
                    f"run {info['key']!r} ({n_tr} TRs = {run_stop:g} s), the first "
                    f"{first['text']!r} at {first['onset']:g} s. Pass words_after_run='drop' to "
                    f"leave them out."
                )
            logger.info(
                "Algonauts 2025 %s: %d word(s) after the run end (%g s) left out",
                info["key"],
                int(late.sum()),
                run_stop,
            )
            words = words.loc[~late]
        meta["n_words_after_run"] = int(late.sum())
        meta["transcript_file"] = str(path)
        meta["n_transcript_rows"] = n_rows
    video = pd.DataFrame(
        {
            "onset": [0.0],
            "duration": [video_duration],
            "type": ["Video"],
            "stim_id": [info["stim_id"]],
            "stim_file": [stim_file],
        }
    )
    parts = [video] if words is None else [video, words.assign(stim_id=info["stim_id"])]
    events = pd.concat(parts, ignore_index=True)
    if "tr_index" in events.columns:
        events["tr_index"] = events["tr_index"].astype("Int64")
    return events, meta
