"""LeBel et al. 2023 narrative-listening fMRI (OpenNeuro ds003020), preprocessed derivatives."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._logging import logger, progress
from brainalign.data import Recording, Space, validate_events
from brainalign.exceptions import DataFormatError
from brainalign.io._files import open_hdf5, read_json, require_dir, require_file, require_keys
from brainalign.io._textgrid import read_textgrid

__all__ = ["LEBEL_DROPPED_TOKENS", "read_lebel"]

#: Word-tier labels that are not words (HuthLab ``DEFAULT_BAD_WORDS``), compared after
#: ``label.lower().strip("{}").strip()``; the empty label (silence) is dropped as well.
LEBEL_DROPPED_TOKENS = frozenset(
    {"sentence_start", "sentence_end", "br", "lg", "ls", "ns", "sp", ""}
)

# Timing of ds003020 (HuthLab deep-fMRI-dataset, `load_simulated_trfiles` and
# `apply_zscore_and_hrf`): TR 2 s, sound onset 10 s after the first TR, the simulated grid
# has respdict[story] - 5 TRs, and the first 10 and last 5 of those are trimmed.
_TR = 2.0
_START_TIME = 10.0
_PAD = 5
_TRIM = (10, 5)


def _normalise_subject(subject: str) -> str:
    s = str(subject)
    s = s[4:] if s.startswith("sub-") else s
    if not s.startswith("UTS"):
        raise ValueError(
            f"`subject` must be a ds003020 subject such as 'UTS01' (or 'sub-UTS01'); got "
            f"{subject!r}"
        )
    return s


def _clean_token(label: str) -> str:
    return str(label).lower().strip("{}").strip()


def _tier_events(table: Any, kind: str, drop: frozenset[str]) -> tuple[Any, dict[str, int]]:
    """Events of one TextGrid tier with the non-word tokens removed; counts of what was dropped."""
    clean = table["text"].map(_clean_token)
    bad = clean.isin(drop).to_numpy()
    dropped: dict[str, int] = {}
    for token in clean[bad]:
        dropped[token] = dropped.get(token, 0) + 1
    kept = table.loc[~bad, ["onset", "duration", "text"]].reset_index(drop=True)
    kept.insert(2, "type", kind)
    return kept, dropped


def _list_stories(subject_dir: Path) -> list[str]:
    stories = sorted(p.stem for p in subject_dir.glob("*.hf5"))
    if not stories:
        raise FileNotFoundError(
            f"No preprocessed story found: expected files '<story>.hf5' in {str(subject_dir)!r}"
        )
    return stories


def read_lebel(
    root: str | os.PathLike[str],
    subject: str,
    stories: str | Iterable[str] | None = None,
    *,
    include_phones: bool = False,
    drop_tokens: Iterable[str] = LEBEL_DROPPED_TOKENS,
    verbose: bool | None = None,
) -> list[Recording]:
    """Read the preprocessed LeBel et al. (2023) story fMRI of one subject, one run per story.

    Layout of ``root`` (the ds003020 dataset folder)::

        derivative/preprocessed_data/<UTS0X>/<story>.hf5   # dataset "data", (n_TR_kept, n_voxels)
        derivative/TextGrids/<story>.TextGrid              # tier 0 phones, tier 1 words
        derivative/respdict.json                           # {story: n_TR_raw}

    **Clock.** Times are seconds from the **sound onset** of the story (the TextGrid clock).
    The HuthLab convention simulates ``ntr = n_TR_raw - 5`` TRs starting at
    ``arange(ntr) * 2.0 - 10.0`` (the sound starts 10 s after the first TR) and samples each
    TR at its **midpoint**. The ``.hf5`` responses are already trimmed by 10 TRs at the start
    and 5 at the end, so the recording's ``times`` are the midpoints of TRs ``10 .. ntr - 6``:
    ``times = arange(ntr)[10:-5] * 2.0 - 10.0 + 1.0`` (11, 13, ... s) with
    ``sample_point="middle"``; the run spans ``[10, 10 + 2 * n_TR_kept)`` s.

    **Words.** The word tier (tier 1) of the TextGrid, minus the non-word tokens
    ``drop_tokens`` (compared after ``lower().strip("{}").strip()``; default: HuthLab's
    ``sentence_start, sentence_end, br, lg, ls, ns, sp`` and empty labels). Each word has
    ``onset`` = interval start, ``duration`` = interval length, ``text`` = label (HuthLab
    uses the word *midpoint*, ``onset + duration / 2``, as the word's time). Because the
    responses are trimmed, the story's first ~10 s and last ~10 s of words fall outside the
    run. No word is dropped:

    - ``recording.events`` holds the ``Word`` rows (and ``Phone`` rows when
      ``include_phones``) whose onset lies inside the run, as :class:`Recording` requires;
    - ``recording.metadata["words"]`` holds **every** word of the story (same columns plus
      ``in_run``), on the same clock, and ``metadata["phones"]`` every phone (tier 0, with
      the same tokens dropped) when ``include_phones``.

    **Recipe for features.** Compute word features on *all* words (the context before the
    first kept TR matters for language models and for the Lanczos kernel), resample them onto
    the kept TR midpoints, and give :func:`brainalign.alignment.make_design` the on-grid
    arrays. (A :class:`~brainalign.data.FeatureSet` of all words would be refused by
    ``make_design``, which requires item times inside the run.)::

        from brainalign.alignment import lanczos_resample, make_design
        recs = read_lebel(root, "UTS01", ["wheretheressmoke", "adollshouse"])
        features = []
        for rec in recs:
            words = rec.metadata["words"]                      # all words of the story
            vecs = embed(words["text"])                        # (n_words, n_dims), yours
            mid = words["onset"] + words["duration"] / 2       # HuthLab word times
            x = lanczos_resample(vecs, mid, rec.times)         # (n_TR_kept, n_dims)
            features.append({"emb": x})
        design = make_design(recs, features, delays=[2.0, 4.0, 6.0, 8.0])

    ``make_design`` delays the features on the kept grid, so the first delayed rows are
    zero-padded. HuthLab instead resamples onto the full simulated grid, delays, then
    trims; to reproduce that exactly, resample onto ``metadata["tr_times_all"]`` (all
    ``ntr`` midpoints), apply :class:`brainalign.alignment.Delayer`, slice
    ``metadata["kept_slice"]`` and call ``make_design(..., delays=None)``.

    Parameters
    ----------
    root : str or path-like
        The ds003020 folder (it contains ``derivative/``).
    subject : str
        ``"UTS01"`` ... ``"UTS08"`` (a ``"sub-"`` prefix is accepted).
    stories : str, iterable of str or None
        Stories to read (file stems, e.g. ``"wheretheressmoke"``). ``None`` reads every
        ``.hf5`` of the subject, sorted by name. Each story is ~100 MB in memory (float32).
    include_phones : bool
        Also add ``Phone`` events from tier 0 (``type="Phone"``).
    drop_tokens : iterable of str
        Labels that are not words (lower case, without braces).
    verbose : bool or None
        Progress bar over stories.

    Returns
    -------
    recordings : list of Recording
        One per story, in the order of ``stories``: ``data`` (n_TR_kept, n_voxels) float32,
        ``sfreq=0.5``, ``modality="fmri"``, ``sample_point="middle"``, ``task=story``,
        a ``volume`` space named ``"<UTS0X>_native"`` (no mask: the voxel mask lives in the
        pycortex database), and ``metadata`` with ``trim=(10, 5)``, ``tr=2.0``,
        ``time_reference="sound_onset"``, ``tr_sample_point="mid"``, ``story``,
        ``n_TR_raw``, ``tr_times_all`` (ndarray, shape (n_TR_raw - 5,)), ``kept_slice``,
        ``words``, ``n_words_outside_run`` (before, after), ``dropped_tokens`` (counts),
        ``word_tier`` (its name), and the source files.

    Raises
    ------
    FileNotFoundError
        A folder, ``.hf5``, TextGrid or ``respdict.json`` is missing.
    DataFormatError
        A corrupt ``.hf5``, a missing ``data`` key, a story missing from ``respdict.json``,
        or an ``.hf5`` whose row count is not ``respdict[story] - 5 - 15`` (mismatched run
        length), or a TextGrid with fewer than 2 tiers.
    """
    subject = _normalise_subject(subject)
    base = require_dir(Path(root).expanduser() / "derivative", "ds003020 'derivative' folder")
    subject_dir = require_dir(
        base / "preprocessed_data" / subject, f"preprocessed data of subject {subject}"
    )
    grid_dir = require_dir(base / "TextGrids", "TextGrid folder")
    respdict_path = base / "respdict.json"
    respdict = read_json(respdict_path, "respdict.json (story lengths in TRs)")
    if not isinstance(respdict, dict):
        raise DataFormatError(
            f"respdict.json at {str(respdict_path)!r} must map story -> number of TRs; got a "
            f"{type(respdict).__name__}"
        )
    if stories is None:
        story_list = _list_stories(subject_dir)
    elif isinstance(stories, str):
        story_list = [stories]
    else:
        story_list = [str(s) for s in stories]
        if not story_list:
            raise ValueError("`stories` must name at least one story; got an empty list")
    drop = frozenset(_clean_token(t) for t in drop_tokens)

    recordings = []
    for story in progress(story_list, desc="read_lebel", verbose=verbose):
        recordings.append(
            _read_story(
                story, subject, subject_dir, grid_dir, respdict, respdict_path, drop, include_phones
            )
        )
    return recordings


def _read_story(
    story: str,
    subject: str,
    subject_dir: Path,
    grid_dir: Path,
    respdict: dict[str, Any],
    respdict_path: Path,
    drop: frozenset[str],
    include_phones: bool,
) -> Recording:
    import pandas as pd

    h5_path = subject_dir / f"{story}.hf5"
    with open_hdf5(h5_path, f"LeBel responses of story {story!r}") as h5:
        require_keys(h5, ["data"], f"LeBel responses of story {story!r}")
        data = np.asarray(h5["data"][()], dtype=np.float32)
    if data.ndim != 2:
        raise DataFormatError(
            f"LeBel responses at {str(h5_path)!r}: dataset 'data' must have shape "
            f"(n_TR, n_voxels); got shape {data.shape}"
        )
    if story not in respdict:
        raise DataFormatError(
            f"respdict.json at {str(respdict_path)!r} has no entry for story {story!r}; "
            f"it lists {len(respdict)} stories (e.g. {sorted(respdict)[:5]})"
        )
    n_raw = int(respdict[story])
    ntr = n_raw - _PAD
    n_kept = ntr - sum(_TRIM)
    if data.shape[0] != n_kept:
        raise DataFormatError(
            f"Mismatched run length for story {story!r}: {str(h5_path)!r} has "
            f"{data.shape[0]} rows but respdict.json gives n_TR_raw={n_raw}, so the trimmed "
            f"responses must have {n_raw} - 5 - 15 = {n_kept} rows. Is this the "
            f"preprocessed (trimmed) file of the same dataset version as respdict.json?"
        )
    tr_times_all = np.arange(ntr) * _TR - _START_TIME + _TR / 2
    kept = slice(_TRIM[0], ntr - _TRIM[1])
    times = tr_times_all[kept]

    grid_path = grid_dir / f"{story}.TextGrid"
    grid = read_textgrid(require_file(grid_path, f"TextGrid of story {story!r}"))
    names = grid.attrs["tier_names"]
    if len(names) < 2:
        raise DataFormatError(
            f"TextGrid {str(grid_path)!r} must have a phone tier (0) and a word tier (1); "
            f"got {len(names)} tier(s) {names}"
        )
    words, dropped = _tier_events(grid[grid["tier_index"] == 1], "Word", drop)
    words = validate_events(words, name=f"words of {grid_path.name}")
    start, stop = times[0] - _TR / 2, times[-1] + _TR / 2
    in_run = ((words["onset"] >= start) & (words["onset"] < stop)).to_numpy()
    words["in_run"] = in_run
    n_before = int((words["onset"] < start).sum())
    n_after = int((words["onset"] >= stop).sum())
    events = words.loc[in_run].drop(columns="in_run")
    metadata: dict[str, Any] = {
        "dataset": "ds003020",
        "trim": _TRIM,
        "tr": _TR,
        "time_reference": "sound_onset",
        "tr_sample_point": "mid",
        "story": story,
        "n_TR_raw": n_raw,
        "tr_times_all": tr_times_all,
        "kept_slice": kept,
        "words": words,
        "n_words_outside_run": (n_before, n_after),
        "dropped_tokens": dropped,
        "word_tier": names[1],
        "source_files": {
            "responses": str(h5_path),
            "textgrid": str(grid_path),
            "respdict": str(respdict_path),
        },
    }
    if include_phones:
        phones, _ = _tier_events(grid[grid["tier_index"] == 0], "Phone", drop)
        phones = validate_events(phones, name=f"phones of {grid_path.name}")
        phone_in = ((phones["onset"] >= start) & (phones["onset"] < stop)).to_numpy()
        phones["in_run"] = phone_in
        metadata["phones"] = phones
        metadata["phone_tier"] = names[0]
        events = pd.concat([events, phones.loc[phone_in].drop(columns="in_run")])
        events = events.sort_values("onset", kind="stable")
    logger.info(
        "read_lebel: %s/%s: %d TRs kept of %d, %d words (%d before / %d after the run)",
        subject,
        story,
        n_kept,
        n_raw,
        len(words),
        n_before,
        n_after,
    )
    return Recording(
        data=data,
        sfreq=1.0 / _TR,
        modality="fmri",
        times=times,
        sample_point="middle",
        events=events.reset_index(drop=True),
        space=Space("volume", data.shape[1], name=f"{subject}_native"),
        subject=subject,
        task=story,
        metadata=metadata,
    )
