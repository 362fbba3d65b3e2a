"""Brain Treebank (Wang et al. 2024): stereo-EEG during movies, with word-level annotations."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._logging import logger
from brainalign.data import Recording, Space, validate_events
from brainalign.exceptions import DataFormatError
from brainalign.io._files import open_hdf5, read_json, read_table, require_keys

__all__ = ["read_brain_treebank"]

# Sampling frequency of every Brain Treebank recording, in Hz.
_SFREQ = 2048.0

_COORD_COLUMNS = ("L", "I", "P")


def _clean_label(label: str) -> str:
    """Electrode label without the ``*``, ``#`` and ``_`` markers of the release files."""
    return str(label).replace("*", "").replace("#", "").replace("_", "")


def _nearest(sorted_times: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Index of the nearest value of ``sorted_times`` for each ``t`` (ties: the earlier one)."""
    right = np.clip(np.searchsorted(sorted_times, t, side="left"), 0, len(sorted_times) - 1)
    left = np.clip(right - 1, 0, len(sorted_times) - 1)
    take_left = np.abs(t - sorted_times[left]) <= np.abs(sorted_times[right] - t)
    return np.where(take_left, left, right)


def _words_to_samples(
    times: np.ndarray,
    trigger_movie_time: np.ndarray,
    trigger_index: np.ndarray,
    sfreq: float = _SFREQ,
    *,
    after_last: bool = False,
) -> np.ndarray:
    """Neural sample of each movie time through the nearest trigger (quickstart convention).

    ``sample = round(index[k] + (t - movie_time[k]) * sfreq)`` with ``k`` the trigger whose
    ``movie_time`` is nearest to ``t``. NaN times give NaN, and so do times after the last
    trigger (the movie went on after the recording) unless ``after_last`` (the quickstart
    stops at word *starts* after the last trigger but still maps the end of a word that
    started before it).
    """
    order = np.argsort(trigger_movie_time, kind="stable")
    mt = np.asarray(trigger_movie_time, dtype=float)[order]
    idx = np.asarray(trigger_index, dtype=float)[order]
    t = np.asarray(times, dtype=float)
    out = np.full(t.shape, np.nan)
    ok = np.isfinite(t) & ((t <= mt[-1]) | after_last)
    k = _nearest(mt, t[ok])
    out[ok] = np.round(idx[k] + (t[ok] - mt[k]) * sfreq)
    return out


def _find_h5(root: Path, stem: str) -> Path:
    candidates = [root / "all_subject_data" / f"{stem}.h5", root / f"{stem}.h5"]
    for c in candidates:
        if c.is_file():
            return c
    raise FileNotFoundError(
        f"Brain Treebank neural data not found: expected {str(candidates[0])!r} (or "
        f"{str(candidates[1])!r})"
    )


def read_brain_treebank(
    root: str | os.PathLike[str],
    subject: int | str,
    trial: int | str,
    *,
    electrodes: str | Iterable[str] | None = None,
    drop_corrupted: bool = True,
    drop_triggers: bool = True,
    tmin: float | None = None,
    tmax: float | None = None,
    coordinates: bool = True,
) -> Recording:
    """Read one Brain Treebank trial (one movie): sEEG at 2048 Hz plus word events.

    Layout of ``root`` (the extracted release)::

        all_subject_data/sub_{S}_trial{NNN}.h5       # group "data", datasets "electrode_{i}" (n_samples,)
        electrode_labels/sub_{S}/electrode_labels.json   # ordered labels; i <-> "electrode_{i}"
        localization/sub_{S}/depth-wm.csv            # Electrode, L, I, P, ... (optional)
        subject_metadata/sub_{S}_trial{NNN}_metadata.json   # {"title", "filename": movie id}
        subject_timings/sub_{S}_trial{NNN}_timings.csv      # movie_time, index (neural sample), ...
        transcripts/<movie id>/features.csv           # one row per word
        corrupted_elec.json                           # {"sub_{S}": [labels]}

    (The ``.h5`` files may also sit directly in ``root``.) Labels are cleaned of the ``*``,
    ``#`` and ``_`` markers. The ``.h5`` of subject 1 holds one more channel than there are
    labels: extra trailing channels are ignored (their count is in
    ``metadata["n_ignored_h5_channels"]``).

    **Clock.** Seconds from the first neural sample: sample ``i`` is at ``i / 2048``. Each
    word's ``start`` and ``end`` (movie seconds) become samples through the nearest trigger
    of ``subject_timings`` (by ``movie_time``):
    ``sample = round(index + (start - movie_time) * 2048)``; then ``onset = sample / 2048``
    and ``duration = (end_sample - sample) / 2048``.

    **Words.** Every row of ``features.csv`` is kept in ``metadata["words"]`` (all its
    columns, plus ``onset``, ``duration``, ``type="Word"``, ``sample``, ``end_sample``,
    ``word_row`` = row number in the file, ``movie_start`` / ``movie_end`` = the file's
    ``start`` / ``end``, and ``in_run``; a column of the file with one of these names is kept
    as ``<name>_features_csv``). ``events`` holds the words whose onset falls inside
    the returned samples. Words without a sample (NaN start or end, or a start after the last
    trigger, where the quickstart stops aligning; an end after it is mapped through the last
    trigger, as in the quickstart) and words outside ``[tmin, tmax]`` appear
    only in ``metadata["words"]``; their counts are in ``metadata["n_words_outside_run"]``.

    Parameters
    ----------
    root : str or path-like
        Folder of the release.
    subject : int or str
        Subject number (1-10), e.g. ``3`` or ``"sub_3"``.
    trial : int or str
        Trial (movie) number of that subject, e.g. ``0`` for ``trial000``.
    electrodes : str, iterable of str or None
        Labels (cleaned) to read, in this order; listed electrodes are read even if
        ``drop_corrupted`` / ``drop_triggers`` would drop them. ``None``: every electrode
        but the dropped ones.
    drop_corrupted : bool
        Drop the electrodes listed for the subject in ``corrupted_elec.json``.
    drop_triggers : bool
        Drop trigger / DC channels (labels starting with ``DC`` or ``TRIG``).
    tmin, tmax : float or None
        Read only samples with times in ``[tmin, tmax]`` seconds (a full trial at 2048 Hz
        and ~130 electrodes takes several GB as float32).
    coordinates : bool
        Read electrode coordinates (columns ``L``, ``I``, ``P`` of ``depth-wm.csv``, taken
        to be millimetres and stored in metres, ``coord_frame="LIP"``) when the file
        exists. Electrodes absent from it get NaN coordinates.

    Returns
    -------
    recording : Recording
        ``data`` (n_times, n_electrodes) float32, ``sfreq=2048``, ``modality="ieeg"``,
        ``times = (first_sample + arange(n_times)) / 2048``, an ``electrodes`` space,
        ``subject="sub_{S}"``, ``run="trial{NNN}"``, ``task`` = movie title, and
        ``metadata`` with the movie id, ``words``, ``dropped_electrodes``,
        ``raw_labels``, ``first_sample``, ``n_samples_total`` and the source files.

    Raises
    ------
    FileNotFoundError
        A required file is missing (the localization file is optional).
    DataFormatError
        A corrupt ``.h5``; a missing ``data`` group or ``electrode_{i}`` dataset;
        electrodes of different lengths; a CSV lacking required columns; a word ending
        before it starts.
    ValueError
        Unknown labels in ``electrodes``, or an empty time window.
    """
    root = Path(root).expanduser()
    s = str(subject)
    s = s[4:] if s.startswith("sub_") else s
    if not s.isdigit():
        raise ValueError(
            f"`subject` must be a subject number such as 3 or 'sub_3'; got {subject!r}"
        )
    t = str(trial)
    t = t[5:] if t.startswith("trial") else t
    if not t.isdigit():
        raise ValueError(f"`trial` must be a trial number such as 0 or 'trial000'; got {trial!r}")
    sub, stem = f"sub_{int(s)}", f"sub_{int(s)}_trial{int(t):03d}"

    raw_labels = read_json(
        root / "electrode_labels" / sub / "electrode_labels.json", f"electrode labels of {sub}"
    )
    if not isinstance(raw_labels, list) or not raw_labels:
        raise DataFormatError(
            f"electrode_labels.json of {sub} must be a non-empty list of labels; got "
            f"{type(raw_labels).__name__}"
        )
    labels = [_clean_label(x) for x in raw_labels]
    dropped: dict[str, list[str]] = {"corrupted": [], "trigger": []}
    if drop_corrupted:
        corrupted = read_json(root / "corrupted_elec.json", "corrupted_elec.json")
        if not isinstance(corrupted, dict):
            raise DataFormatError(
                f"corrupted_elec.json at {str(root / 'corrupted_elec.json')!r} must map "
                f"'sub_<S>' -> list of labels; got a {type(corrupted).__name__}"
            )
        bad = {_clean_label(x) for x in corrupted.get(sub, [])}
        dropped["corrupted"] = [x for x in labels if x in bad]
    if drop_triggers:
        dropped["trigger"] = [x for x in labels if x.upper().startswith(("DC", "TRIG"))]
    excluded = set(dropped["corrupted"]) | set(dropped["trigger"])
    if electrodes is None:
        picks = [x for x in labels if x not in excluded]
    else:
        items = [electrodes] if isinstance(electrodes, str) else list(electrodes)
        picks = [_clean_label(x) for x in items]
        unknown = [x for x in picks if x not in labels]
        if unknown:
            raise ValueError(
                f"`electrodes` must be labels of {sub}; got unknown label(s) {unknown[:10]} "
                f"(known: {labels[:10]}...)"
            )
    if not picks:
        raise ValueError(f"No electrode left to read for {sub}: all were dropped or none given")
    index = {lab: i for i, lab in enumerate(labels)}

    h5_path = _find_h5(root, stem)
    what = f"Brain Treebank neural data {stem}"
    with open_hdf5(h5_path, what) as h5:
        require_keys(h5, ["data"], what)
        group = h5["data"]
        keys = [f"electrode_{index[lab]}" for lab in picks]
        missing = [k for k in keys if k not in group]
        if missing:
            raise DataFormatError(
                f"{what} at {str(h5_path)!r} lacks the dataset(s) data/{missing[:5]} for "
                f"electrodes {[picks[keys.index(k)] for k in missing[:5]]}; it has "
                f"{len(group)} electrode datasets for {len(labels)} labels"
            )
        n_extra = sum(
            1
            for k in group
            if k.startswith("electrode_") and k[10:].isdigit() and int(k[10:]) >= len(labels)
        )
        lengths = {k: group[k].shape for k in keys}
        n_total = lengths[keys[0]][0] if len(lengths[keys[0]]) == 1 else -1
        bad_shape = [k for k, sh in lengths.items() if sh != (n_total,)]
        if bad_shape:
            raise DataFormatError(
                f"{what} at {str(h5_path)!r}: every data/electrode_<i> must be 1-D with the same "
                f"length; got {keys[0]} shape {lengths[keys[0]]} and {bad_shape[0]} shape "
                f"{lengths[bad_shape[0]]}"
            )
        first = 0 if tmin is None else max(0, int(np.ceil(tmin * _SFREQ)))
        last = n_total if tmax is None else min(n_total, int(np.floor(tmax * _SFREQ)) + 1)
        if last <= first:
            raise ValueError(
                f"The window `tmin`={tmin!r}, `tmax`={tmax!r} s holds no sample of {stem} "
                f"(it spans [0, {n_total / _SFREQ:g}) s)"
            )
        data = np.empty((last - first, len(keys)), dtype=np.float32)
        for j, k in enumerate(keys):
            data[:, j] = group[k][first:last]

    meta = read_json(
        root / "subject_metadata" / f"{stem}_metadata.json", f"trial metadata of {stem}"
    )
    if not isinstance(meta, dict) or "filename" not in meta:
        raise DataFormatError(
            f"trial metadata of {stem} must be a JSON object with a 'filename' (movie id); got "
            f"{meta!r:.100}"
        )
    movie = str(meta["filename"])
    timings_path = root / "subject_timings" / f"{stem}_timings.csv"
    trig = read_table(timings_path, f"trigger timings of {stem}", ["movie_time", "index"])
    if len(trig) == 0:
        raise DataFormatError(f"trigger timings of {stem} at {str(timings_path)!r} has no rows")
    words_path = root / "transcripts" / movie / "features.csv"
    words = read_table(words_path, f"word features of movie {movie!r}", ["start", "end", "text"])
    words = _align_words(words, trig, words_path, timings_path)

    sfreq = _SFREQ
    times = (first + np.arange(data.shape[0])) / sfreq
    start, stop = first / sfreq, last / sfreq
    placed = words["sample"].notna().to_numpy()
    in_run = placed & (words["onset"] >= start).to_numpy() & (words["onset"] < stop).to_numpy()
    words["in_run"] = in_run
    n_unplaced = int((~placed).sum())
    n_before = int((placed & (words["onset"] < start)).sum())
    n_after = int((placed & (words["onset"] >= stop)).sum())
    events = words.loc[in_run].drop(columns="in_run")
    events = events.sort_values("onset", kind="stable").reset_index(drop=True)
    events = validate_events(events, name=f"words of {stem}")

    coords, coord_frame, loc_path = None, None, None
    loc_file = root / "localization" / sub / "depth-wm.csv"
    if coordinates and loc_file.is_file():
        loc = read_table(loc_file, f"localization of {sub}", ["Electrode", *_COORD_COLUMNS])
        loc = loc.assign(Electrode=loc["Electrode"].map(_clean_label)).drop_duplicates("Electrode")
        table = loc.set_index("Electrode").reindex(picks)
        coords = table[list(_COORD_COLUMNS)].to_numpy(dtype=float) / 1000.0
        coord_frame, loc_path = "LIP", str(loc_file)
    logger.info(
        "read_brain_treebank: %s: %d samples x %d electrodes, %d words in the run "
        "(%d before, %d after, %d without a sample)",
        stem,
        data.shape[0],
        data.shape[1],
        int(in_run.sum()),
        n_before,
        n_after,
        n_unplaced,
    )
    return Recording(
        data=data,
        sfreq=sfreq,
        modality="ieeg",
        times=times,
        events=events,
        space=Space.electrodes(picks, coords, coord_frame=coord_frame),
        subject=sub,
        run=f"trial{int(t):03d}",
        task=str(meta.get("title", movie)),
        metadata={
            "dataset": "brain_treebank",
            "movie": movie,
            "title": meta.get("title"),
            "words": words,
            "n_words_outside_run": {
                "before": n_before,
                "after": n_after,
                "no_sample": n_unplaced,
            },
            "dropped_electrodes": dropped,
            "raw_labels": list(raw_labels),
            "n_ignored_h5_channels": n_extra,
            "first_sample": first,
            "n_samples_total": n_total,
            "coord_units": "m" if coords is not None else None,
            "source_files": {
                "neural": str(h5_path),
                "timings": str(timings_path),
                "words": str(words_path),
                "localization": loc_path,
            },
        },
    )


def _align_words(words: Any, trig: Any, words_path: Path, timings_path: Path) -> Any:
    """Add sample, onset and duration (neural clock) to the words table, keeping every row."""
    import pandas as pd

    words = words.copy()
    if "Unnamed: 0" in words.columns:  # the row index written by pandas
        words = words.drop(columns="Unnamed: 0")
    # Columns this reader adds; a same-named column of the file is kept under another name.
    ours = ("onset", "duration", "type", "sample", "end_sample", "word_row", "in_run")
    ours += ("movie_start", "movie_end")
    words = words.rename(columns={c: f"{c}_features_csv" for c in ours if c in words.columns})
    words.insert(0, "word_row", np.arange(len(words)))
    start = pd.to_numeric(words["start"], errors="coerce").to_numpy(dtype=float)
    end = pd.to_numeric(words["end"], errors="coerce").to_numpy(dtype=float)
    mt = pd.to_numeric(trig["movie_time"], errors="coerce").to_numpy(dtype=float)
    ix = pd.to_numeric(trig["index"], errors="coerce").to_numpy(dtype=float)
    good = np.isfinite(mt) & np.isfinite(ix)
    if not good.any():
        raise DataFormatError(
            f"trigger timings at {str(timings_path)!r} must hold numeric 'movie_time' and "
            f"'index' values; got no row with both"
        )
    sample = _words_to_samples(start, mt[good], ix[good])
    end_sample = _words_to_samples(end, mt[good], ix[good], after_last=True)
    # A word without an end time gets no sample: its duration would be unknown.
    sample[~np.isfinite(end_sample)] = np.nan
    backwards = np.isfinite(sample) & (end_sample < sample)
    if backwards.any():
        i = int(np.flatnonzero(backwards)[0])
        raise DataFormatError(
            f"word features at {str(words_path)!r}: word row {i} ({words['text'].iloc[i]!r}) "
            f"ends before it starts on the neural clock (start={start[i]:g} s -> sample "
            f"{sample[i]:g}, end={end[i]:g} s -> sample {end_sample[i]:g})"
        )
    words = words.rename(columns={"start": "movie_start", "end": "movie_end"})
    words.insert(0, "onset", sample / _SFREQ)
    words.insert(1, "duration", (end_sample - sample) / _SFREQ)
    words.insert(2, "type", "Word")
    words["sample"] = sample
    words["end_sample"] = end_sample
    return words
