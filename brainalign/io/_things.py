"""THINGS-EEG2 (Gifford et al. 2022) and THINGS-MEG (Hebart et al. 2023) epoched responses."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._logging import logger
from brainalign._validation import check_choice
from brainalign.data import Space, TrialSet
from brainalign.exceptions import DataFormatError
from brainalign.io._files import load_npy, require_file

__all__ = ["read_things_eeg2", "read_things_meg"]

_EEG2_PARTITIONS = ("training", "test")
_EEG2_KEYS = ("preprocessed_eeg_data", "ch_names", "times")
# Image conditions x repetitions of the full release (for the log only; subsets are allowed).
_EEG2_FULL_SHAPE = {"training": (16540, 4), "test": (200, 80)}
_METADATA_KEY = {"training": "train", "test": "test"}


def _subject_dir_name(subject: int | str) -> str:
    s = str(subject)
    s = s[4:] if s.startswith("sub-") else s
    if not s.isdigit():
        raise ValueError(
            f"`subject` must be a subject number such as 1 or 'sub-01'; got {subject!r}"
        )
    return f"sub-{int(s):02d}"


def _find_eeg2_file(root: Path, sub: str, partition: str) -> Path:
    name = f"preprocessed_eeg_{partition}.npy"
    candidates = [
        root / "eeg_dataset" / "preprocessed_data" / sub / name,
        root / "preprocessed_data" / sub / name,
        root / sub / name,
    ]
    for c in candidates:
        if c.is_file():
            return c
    raise FileNotFoundError(
        f"THINGS-EEG2 preprocessed {partition} data not found: expected {name!r} in one of "
        f"{[str(c.parent) for c in candidates]}"
    )


def _load_pickled_dict(path: Path, what: str) -> dict[str, Any]:
    obj = load_npy(path, what, allow_pickle=True)
    if not isinstance(obj, dict):
        desc = f"an array of shape {obj.shape}" if isinstance(obj, np.ndarray) else type(obj)
        raise DataFormatError(
            f"{what} at {str(path)!r} must hold a pickled dict (np.save of a dict); got {desc}"
        )
    return obj


def read_things_eeg2(
    root: str | os.PathLike[str],
    subject: int | str,
    partition: str = "training",
    *,
    image_metadata: str | os.PathLike[str] | None = None,
) -> TrialSet:
    """Read the preprocessed THINGS-EEG2 epochs of one subject and partition.

    Reads ``eeg_dataset/preprocessed_data/sub-XX/preprocessed_eeg_{training,test}.npy``
    (``root`` may also be the ``eeg_dataset`` or the ``preprocessed_data`` folder), a
    pickled dict with keys ``preprocessed_eeg_data`` of shape
    (n_conditions, n_repetitions, n_channels, n_times) — (16540, 4, 17, 100) for training,
    (200, 80, 17, 100) for test in the release —, ``ch_names`` (n_channels,) and ``times``
    (n_times,) in seconds relative to image onset (-0.2 ... 0.79 s at 100 Hz). Condition
    ``c`` (0-based row) is image condition ``c + 1`` of the raw event codes, i.e. the
    ``c``-th image of ``image_set/{training,test}_images`` in sorted order. Target (catch)
    trials, event code 99999, were already removed by the preprocessing. The repetitions
    were shuffled across sessions by the preprocessing, so the repetition index says
    nothing about the session.

    The file is a pickle: load only files from a source you trust.

    Parameters
    ----------
    root : str or path-like
        The THINGS-EEG2 project folder (it contains ``eeg_dataset/``).
    subject : int or str
        Subject number 1-10 (``"sub-01"`` accepted).
    partition : {"training", "test"}
        Which partition to read.
    image_metadata : str, path-like or None
        ``image_set/image_metadata.npy`` (a dict with ``{train,test}_img_concepts`` and
        ``{train,test}_img_files``). When given, the trials table gains ``concept`` and
        ``image_file`` (``"{training,test}_images/<concept>/<file>"``). ``None`` also looks
        for ``root/image_set/image_metadata.npy`` and uses it when present.

    Returns
    -------
    trials : TrialSet
        ``data`` of shape (n_conditions * n_repetitions, n_channels, n_times), float32,
        condition-major (trial ``c * n_repetitions + r``); ``times`` (n_times,) in seconds;
        ``modality="eeg"``; a ``sensors`` space with the channel names (no ``mne.Info``);
        ``trials`` columns ``condition`` (1-based image condition), ``repetition``
        (0-based), ``stim_id`` (``"training_00001"``, ``"test_001"``...), ``partition``
        (+ ``concept``, ``image_file``); ``metadata`` with ``partition``, ``sfreq``,
        ``n_conditions``, ``n_repetitions`` and the source file.

    Raises
    ------
    FileNotFoundError
        The file is missing.
    DataFormatError
        Not a pickled dict, missing keys, ``preprocessed_eeg_data`` not 4-D, or
        ``ch_names`` / ``times`` / image metadata not matching its shape.
    """
    import pandas as pd

    check_choice(partition, "partition", _EEG2_PARTITIONS)
    root_path = Path(root).expanduser()
    sub = _subject_dir_name(subject)
    path = _find_eeg2_file(root_path, sub, partition)
    what = f"THINGS-EEG2 preprocessed {partition} data"
    content = _load_pickled_dict(path, what)
    missing = [k for k in _EEG2_KEYS if k not in content]
    if missing:
        raise DataFormatError(
            f"{what} at {str(path)!r} lacks the key(s) {missing}; got keys {sorted(content)}"
        )
    arr = np.asarray(content["preprocessed_eeg_data"])
    if arr.ndim != 4:
        raise DataFormatError(
            f"{what} at {str(path)!r}: 'preprocessed_eeg_data' must have shape "
            f"(n_conditions, n_repetitions, n_channels, n_times), e.g. "
            f"{(*_EEG2_FULL_SHAPE[partition], 17, 100)}; got shape {arr.shape}"
        )
    n_cond, n_rep, n_ch, n_times = arr.shape
    ch_names = [str(c) for c in np.asarray(content["ch_names"]).ravel()]
    times = np.asarray(content["times"], dtype=float).ravel()
    if len(ch_names) != n_ch:
        raise DataFormatError(
            f"{what} at {str(path)!r}: 'ch_names' must have one name per channel "
            f"(axis 2 of 'preprocessed_eeg_data', {n_ch}); got {len(ch_names)} names"
        )
    if times.shape[0] != n_times:
        raise DataFormatError(
            f"{what} at {str(path)!r}: 'times' must have one entry per time point "
            f"(axis 3 of 'preprocessed_eeg_data', {n_times}); got {times.shape[0]}"
        )
    if (n_cond, n_rep) != _EEG2_FULL_SHAPE[partition]:
        logger.info(
            "read_things_eeg2: %s has %d conditions x %d repetitions (the full release has "
            "%d x %d)",
            path,
            n_cond,
            n_rep,
            *_EEG2_FULL_SHAPE[partition],
        )
    data = arr.reshape(n_cond * n_rep, n_ch, n_times).astype(np.float32, copy=False)
    condition = np.repeat(np.arange(1, n_cond + 1), n_rep)
    width = 5 if partition == "training" else 3
    trials = pd.DataFrame(
        {
            "condition": condition,
            "repetition": np.tile(np.arange(n_rep), n_cond),
            "stim_id": [f"{partition}_{c:0{width}d}" for c in condition],
            "partition": partition,
        }
    )
    meta_path = _resolve_image_metadata(root_path, image_metadata)
    if meta_path is not None:
        concepts, files = _read_image_metadata(meta_path, partition, n_cond)
        trials["concept"] = np.repeat(concepts, n_rep)
        trials["image_file"] = [
            f"{partition}_images/{c}/{f}"
            for c, f in zip(np.repeat(concepts, n_rep), np.repeat(files, n_rep))
        ]
    sfreq = 1.0 / float(np.median(np.diff(times))) if n_times > 1 else None
    return TrialSet(
        data=data,
        trials=trials,
        times=times,
        modality="eeg",
        space=Space("sensors", n_ch, labels=ch_names),
        subject=sub,
        metadata={
            "dataset": "things-eeg2",
            "partition": partition,
            "sfreq": sfreq,
            "n_conditions": n_cond,
            "n_repetitions": n_rep,
            "trial_order": "condition-major: trial = (condition - 1) * n_repetitions + repetition",
            "source_files": {
                "eeg": str(path),
                "image_metadata": None if meta_path is None else str(meta_path),
            },
        },
    )


def _resolve_image_metadata(root: Path, image_metadata: Any) -> Path | None:
    if image_metadata is not None:
        return require_file(image_metadata, "THINGS-EEG2 image_metadata.npy")
    default = root / "image_set" / "image_metadata.npy"
    return default if default.is_file() else None


def _read_image_metadata(path: Path, partition: str, n_cond: int) -> tuple[list[str], list[str]]:
    what = "THINGS-EEG2 image metadata"
    content = _load_pickled_dict(path, what)
    prefix = _METADATA_KEY[partition]
    keys = [f"{prefix}_img_concepts", f"{prefix}_img_files"]
    missing = [k for k in keys if k not in content]
    if missing:
        raise DataFormatError(
            f"{what} at {str(path)!r} lacks the key(s) {missing}; got keys {sorted(content)}"
        )
    concepts = [str(x) for x in content[keys[0]]]
    files = [str(x) for x in content[keys[1]]]
    if len(concepts) != n_cond or len(files) != n_cond:
        raise DataFormatError(
            f"{what} at {str(path)!r}: {keys[0]} and {keys[1]} must have one entry per image "
            f"condition of the EEG data ({n_cond}); got {len(concepts)} and {len(files)}"
        )
    return concepts, files


def read_things_meg(
    epochs_file: str | os.PathLike[str],
    *,
    drop_catch: bool = True,
    picks: list[str] | None = None,
    chunk_size: int = 512,
) -> TrialSet:
    """Read preprocessed THINGS-MEG epochs (``preprocessed_P{n}-epo.fif``) with their trials.

    The THINGS-data preprocessing (``MEG/step1_preprocessing.py``) saves one MNE epochs file
    per participant, epoched -100 ... 1300 ms on the ``mag`` channels, decimated to 200 Hz,
    with ``epochs.metadata`` from ``sample_attributes_P{n}.csv`` (``trial_type`` in
    ``{exp, test, catch}``, ``image_nr``, ``things_category_nr``, ``session_nr``,
    ``image_path``, ...). Requires ``mne``.

    The file is opened without preloading and the kept epochs are read ``chunk_size`` at a
    time straight into a float32 array, so the peak memory is about the size of the result
    (a full participant is ~27,000 epochs x 272 channels x 281 times, ~8 GB as float32)
    rather than MNE's float64 copy plus the result.

    Parameters
    ----------
    epochs_file : str or path-like
        The ``-epo.fif`` file.
    drop_catch : bool
        Drop the catch trials (``trial_type == "catch"``); needs the ``trial_type`` column.
    picks : list of str or None
        Channel names to keep, in this order. ``None`` keeps every channel of the file
        (the preprocessed files hold only the ``mag`` channels).
    chunk_size : int
        Number of epochs read from disk at a time.

    Returns
    -------
    trials : TrialSet
        ``data`` of shape (n_epochs, n_channels, n_times), float32 (MNE's unit, T for
        magnetometers); ``times`` (n_times,) in seconds from image onset;
        ``modality="meg"``; a ``sensors`` space holding the picked ``mne.Info``; ``trials``
        = ``epochs.metadata`` (index reset) with ``stim_id`` = ``image_nr`` when that column
        exists and no ``stim_id`` is present; ``metadata`` with ``sfreq``,
        ``n_catch_dropped``, ``event_id`` and the source file.

    Raises
    ------
    FileNotFoundError
        The file is missing.
    DataFormatError
        The file cannot be read by ``mne.read_epochs``, has no metadata, lacks
        ``trial_type`` while ``drop_catch`` is true, or loses epochs while loading (rejection
        thresholds stored in the file).
    ValueError
        ``picks`` names channels that the file lacks.
    """
    import mne

    path = require_file(epochs_file, "THINGS-MEG epochs file")
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise ValueError(f"`chunk_size` must be a positive integer; got {chunk_size!r}")
    try:
        epochs = mne.read_epochs(path, preload=False, verbose="error")
    except (OSError, ValueError, RuntimeError) as err:
        raise DataFormatError(
            f"THINGS-MEG epochs file at {str(path)!r} cannot be read by mne.read_epochs "
            f"(corrupt, or not an epochs FIF file?): {err}"
        ) from err
    if epochs.metadata is None:
        raise DataFormatError(
            f"THINGS-MEG epochs file at {str(path)!r} has no metadata; expected the trial "
            f"table of sample_attributes_P<n>.csv (trial_type, image_nr, ...) in "
            f"epochs.metadata. Attach it with epochs.metadata = table and save again."
        )
    n_catch = 0
    if drop_catch:
        if "trial_type" not in epochs.metadata.columns:
            raise DataFormatError(
                f"THINGS-MEG epochs file at {str(path)!r}: drop_catch=True needs a "
                f"'trial_type' column in epochs.metadata; got columns "
                f"{list(epochs.metadata.columns)[:20]}. Pass drop_catch=False to keep every "
                f"epoch."
            )
        catch = (epochs.metadata["trial_type"].astype(str) == "catch").to_numpy()
        n_catch = int(catch.sum())
        if n_catch:
            epochs = epochs[np.flatnonzero(~catch)]
    if picks is None:
        idx = np.arange(len(epochs.ch_names))
    else:
        names = [picks] if isinstance(picks, str) else [str(p) for p in picks]
        missing = [n for n in names if n not in epochs.ch_names]
        if missing:
            raise ValueError(
                f"`picks` must name channels of {str(path)!r}; got unknown channel(s) "
                f"{missing[:10]} (the file has {epochs.ch_names[:5]}...)"
            )
        idx = np.array([epochs.ch_names.index(n) for n in names])
    n = len(epochs)
    data = np.empty((n, len(idx), len(epochs.times)), dtype=np.float32)
    for start in range(0, n, int(chunk_size)):
        stop = min(start + int(chunk_size), n)
        chunk = epochs.get_data(picks=idx, item=slice(start, stop), verbose="error")
        if chunk.shape[0] != stop - start:
            raise DataFormatError(
                f"THINGS-MEG epochs file at {str(path)!r}: epochs {start}..{stop - 1} gave "
                f"{chunk.shape[0]} epochs on loading (rejection stored in the file?); the "
                f"trials table would no longer match the data"
            )
        data[start:stop] = chunk
    trials = epochs.metadata.reset_index(drop=True)
    if "stim_id" not in trials.columns and "image_nr" in trials.columns:
        trials["stim_id"] = trials["image_nr"]
    logger.info(
        "read_things_meg: %s: %d epochs x %d channels x %d times (%d catch dropped)",
        path,
        *data.shape,
        n_catch,
    )
    return TrialSet(
        data=data,
        trials=trials,
        times=np.asarray(epochs.times, dtype=float),
        modality="meg",
        space=Space.sensors(mne.pick_info(epochs.info, idx)),
        metadata={
            "dataset": "things-meg",
            "sfreq": float(epochs.info["sfreq"]),
            "n_catch_dropped": n_catch,
            "event_id": dict(epochs.event_id),
            "source_files": {"epochs": str(path)},
        },
    )
