"""BIDS MEG / EEG / iEEG → `Recording` through mne-bids, with the full events table.

mne-bids turns ``*_events.tsv`` into ``raw.annotations``: rows whose ``trial_type`` is
``n/a`` are dropped, names may be rewritten (``word/2``) and extra columns only survive as
``annotations.extras``. The events table here is therefore read from the TSV itself, one row
per TSV row, on the same clock as the data (BIDS: seconds from the first stored sample, which
is ``raw.times``).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._logging import logger
from brainalign._validation import check_choice
from brainalign.exceptions import DataFormatError
from brainalign.io._bids import (
    EVENTS_OUTSIDE,
    describe_entities,
    find_bids_root,
    looks_like_dict_literals,
    parse_bids_entities,
    read_json_object,
    read_run_events,
)
from brainalign.io._files import read_table, require_dir

__all__ = ["read_bids_meeg"]

PathLike = str | os.PathLike[str]
_DATATYPES = ("meg", "eeg", "ieeg")
_UNIT_TO_M = {"m": 1.0, "cm": 1e-2, "mm": 1e-3}
# Files that share the data suffix but are not the data file mne reads.
_NOT_DATA = {".json", ".tsv", ".eeg", ".vmrk", ".fdt", ".dat"}


def _find_data_file(root: Path, datatype: str | None, entities: dict[str, Any]) -> Any:
    from mne_bids import find_matching_paths

    datatypes = [datatype] if datatype else list(_DATATYPES)
    for dt in datatypes:
        if dt not in _DATATYPES:
            raise ValueError(f"`datatype` must be one of {list(_DATATYPES)}; got {dt!r}")
    query = {
        "subjects": entities["subject"],
        "sessions": entities["session"],
        "tasks": entities["task"],
        "runs": entities["run"],
        "acquisitions": entities["acquisition"],
    }
    found = find_matching_paths(
        root,
        **{k: [str(v)] for k, v in query.items() if v is not None},
        datatypes=datatypes,
        suffixes=datatypes,
        ignore_json=True,
    )
    paths = [p for p in found if p.extension not in _NOT_DATA]
    # One entry per recording (FIF splits are read together by mne-bids).
    unique: dict[str, Any] = {}
    for p in paths:
        key = p.copy().update(split=None).basename
        unique.setdefault(key, p.copy().update(split=None) if p.split else p)
    paths = list(unique.values())
    if not paths:
        raise FileNotFoundError(
            f"No {'/'.join(datatypes)} recording found in {str(root)!r} for "
            f"{describe_entities(**entities)}: expected sub-<l>/[ses-<l>/]<datatype>/"
            f"sub-<l>_..._<datatype>.<ext> with these entities"
        )
    if len(paths) > 1:
        raise DataFormatError(
            f"{len(paths)} recordings in {str(root)!r} match {describe_entities(**entities)} "
            f"(datatype={datatype!r}); expected exactly one. Candidates: "
            f"{[p.basename for p in paths]}. Add `session`, `run`, `acquisition` or `datatype`."
        )
    return paths[0]


def _electrodes(
    data_dir: Path, entities: dict[str, str], names: list[str], space: str | None
) -> tuple[np.ndarray | None, str | None, dict[str, Any]]:
    """Coordinates (metres) of ``names`` from ``*_electrodes.tsv`` + ``*_coordsystem.json``."""
    import pandas as pd

    prefix = f"sub-{entities['sub']}" + (f"_ses-{entities['ses']}" if "ses" in entities else "")
    cands = sorted(data_dir.glob(f"{prefix}*_electrodes.tsv"))
    cands = [
        c
        for c in cands
        if all(
            parse_bids_entities(c).get(k) in (None, entities.get(k)) for k in ("task", "run", "acq")
        )
    ]
    if space is not None:
        cands = [c for c in cands if parse_bids_entities(c).get("space") == space]
    if not cands:
        return None, None, {"electrodes": None}
    if len(cands) > 1:
        raise DataFormatError(
            f"{len(cands)} electrodes files apply to the recording in {str(data_dir)!r}: "
            f"{[c.name for c in cands]}; pass `space` to pick one"
        )
    elec_file = cands[0]
    # mne-bids has already parsed this file (name, x, y, z) when building the montage, so
    # malformed files fail there first, with its message.
    df = pd.read_csv(elec_file, sep="\t", na_values=["n/a"], keep_default_na=False)
    coord_file = elec_file.with_name(elec_file.name.replace("_electrodes.tsv", "_coordsystem.json"))
    coordsys = (
        read_json_object(coord_file, "coordinate system file") if coord_file.is_file() else {}
    )
    frame = coordsys.get("iEEGCoordinateSystem") or coordsys.get("EEGCoordinateSystem")
    unit = coordsys.get("iEEGCoordinateUnits") or coordsys.get("EEGCoordinateUnits") or "m"
    if unit not in _UNIT_TO_M:
        raise DataFormatError(
            f"Coordinate units in {str(coord_file)!r} must be one of {list(_UNIT_TO_M)} to give "
            f"positions in metres; got {unit!r}"
        )
    xyz = df[["x", "y", "z"]].to_numpy(dtype=float) * _UNIT_TO_M[unit]
    pos = dict(zip(df["name"].astype(str), xyz))
    coords = np.array([pos.get(n, np.full(3, np.nan)) for n in names], dtype=float)
    info = {
        "electrodes": str(elec_file),
        "coordsystem": str(coord_file) if coord_file.is_file() else None,
        "coordinate_units": unit,
        "channels_without_position": [n for n in names if n not in pos],
    }
    return coords, frame, info


def read_bids_meeg(
    bids_path: Any = None,
    *,
    bids_root: PathLike | None = None,
    subject: str | None = None,
    session: str | None = None,
    task: str | None = None,
    run: int | str | None = None,
    acquisition: str | None = None,
    datatype: str | None = None,
    picks: str | list[str] | None = None,
    resample: float | None = None,
    trial_type_dicts: bool | str = "auto",
    events_outside: str = "raise",
    space: str | None = None,
    on_ch_mismatch: str = "raise",
) -> Any:
    """Read one BIDS MEG / EEG / iEEG recording into a `Recording` through mne-bids.

    Parameters
    ----------
    bids_path : mne_bids.BIDSPath or path, optional
        The recording (a ``BIDSPath`` or the data file, e.g. ``..._meg.fif``,
        ``..._eeg.vhdr``). Otherwise give ``bids_root`` and the entities.
    bids_root : str or path-like, optional
        The dataset folder.
    subject, session, task, run, acquisition : str or int, optional
        Entities that select exactly one recording (found with
        ``mne_bids.find_matching_paths``).
    datatype : {"meg", "eeg", "ieeg"}, optional
        Default: whichever matches.
    picks : str or list, optional
        Channels to keep, as for ``raw.pick`` (e.g. ``"meg"``, ``["eeg"]``, ``"seeg"``,
        names). Default: all data channels (``"data"``), bad channels included and listed in
        ``metadata["bads"]``.
    resample : float, optional
        New sampling rate in Hz (``raw.resample``). Event onsets are in seconds and do not
        change; the events.tsv ``sample`` column keeps the original sample numbers
        (``metadata["sfreq_original"]``).
    trial_type_dicts : bool, "auto" or "expand"
        ``trial_type`` values that are Python dict literals (MEG-MASC:
        ``"{'kind': 'word', 'word': 'tara', ...}"``) are parsed with :func:`ast.literal_eval`
        and ``type`` becomes the dict's ``kind`` (``True``). ``"expand"`` also adds one
        column per dict key (``word``, ``phoneme``, ``story``...; a key that clashes with a
        column becomes ``trial_type_<key>``), so that each row is one word or phoneme with
        its annotations. ``"auto"`` (default) expands when every value looks like a dict
        literal, and leaves other ``trial_type`` values as they are.
    events_outside : {"raise", "drop"}
        Events whose onset is outside the recording: error naming the file, or drop them.
    space : str, optional
        iEEG: which ``space-<label>_electrodes.tsv`` to use when there are several.
    on_ch_mismatch : str
        Passed to ``read_raw_bids`` (``"raise"``, ``"reorder"``, ``"rename"``, ``"warn"``).

    Returns
    -------
    recording : Recording
        ``data`` of shape ``(n_times, n_channels)`` in SI units (V, T, T/m), ``times`` =
        ``raw.times`` (0 at the first stored sample), modality from the BIDS datatype, and
        one event per ``*_events.tsv`` row with all its columns (``trial_type`` → ``type``;
        ``n/a`` → missing; ``n/a`` durations → 0). Space: ``sensors`` with the picked
        ``mne.Info`` for MEG / EEG; ``electrodes`` for iEEG, with the coordinates of
        ``*_electrodes.tsv`` in metres and ``coord_frame`` from ``*_coordsystem.json``
        (and ``space.info`` holding the ``mne.Info``). Warnings raised by mne-bids while
        reading go to the ``brainalign`` logger (WARNING) and are kept in
        ``metadata["mne_bids_warnings"]``.

    Raises
    ------
    FileNotFoundError
        No recording matches, or the data file is missing.
    DataFormatError
        Several recordings match; a corrupt data file; malformed events or electrodes
        files; events outside the recording.
    """
    from mne_bids import BIDSPath, get_bids_path_from_fname, read_raw_bids

    check_choice(events_outside, "events_outside", EVENTS_OUTSIDE)
    if trial_type_dicts not in (True, False, "auto", "expand"):
        raise ValueError(
            f"`trial_type_dicts` must be True, False, 'auto' or 'expand'; got {trial_type_dicts!r}"
        )
    entities = dict(subject=subject, session=session, task=task, run=run, acquisition=acquisition)
    if bids_path is None:
        if bids_root is None:
            raise ValueError(
                "Pass `bids_path`, or `bids_root` with the entities of one recording; got neither"
            )
        root = require_dir(bids_root, "BIDS dataset folder (`bids_root`)")
        bp = _find_data_file(root, datatype, entities)
    elif isinstance(bids_path, BIDSPath):
        bp = bids_path.copy()
        if bp.root is None:
            bp.update(root=bids_root if bids_root is not None else find_bids_root(bp.fpath))
    else:
        fpath = Path(bids_path).expanduser()
        if not fpath.exists():
            raise FileNotFoundError(
                f"BIDS M/EEG recording not found: expected a data file at {str(fpath)!r}"
            )
        bp = get_bids_path_from_fname(fpath, check=False, verbose=False)
        bp.update(root=bids_root if bids_root is not None else find_bids_root(fpath))
    if bp.datatype is None and bp.suffix in _DATATYPES:
        bp.update(datatype=bp.suffix)
    fpath = Path(bp.fpath)
    if not fpath.exists():
        raise FileNotFoundError(
            f"BIDS M/EEG recording not found: expected a data file at {str(fpath)!r}"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw = read_raw_bids(bp, on_ch_mismatch=on_ch_mismatch, verbose=False)
        except (FileNotFoundError, ValueError, RuntimeError) as err:
            raise DataFormatError(
                f"mne-bids could not read the recording {str(fpath)!r} (corrupt file or "
                f"inconsistent sidecars?): {type(err).__name__}: {err}"
            ) from err
        except Exception as err:  # mne's readers raise many types on corrupt files
            raise DataFormatError(
                f"mne-bids could not read the recording {str(fpath)!r} (corrupt file?): "
                f"{type(err).__name__}: {err}"
            ) from err
    caught_msgs = [f"{w.category.__name__}: {w.message}" for w in caught]
    for msg in caught_msgs:
        logger.warning("mne-bids, reading %s: %s", fpath.name, msg)

    datatype = bp.datatype or datatype
    modality = datatype if datatype in _DATATYPES else None
    sfreq_orig = float(raw.info["sfreq"])
    pick = "data" if picks is None else picks
    try:
        raw.pick(pick, exclude=())
    except ValueError as err:
        raise ValueError(
            f"`picks`={picks!r} selects no channel of {fpath.name}; its channel types are "
            f"{sorted(set(raw.get_channel_types()))}: {err}"
        ) from err
    if resample is not None:
        if not resample > 0:
            raise ValueError(f"`resample` must be a positive rate in Hz; got {resample!r}")
        raw.load_data().resample(float(resample), verbose=False)

    # The events table comes from the TSV itself (all rows, all columns).
    events, ev_file, n_dropped, n_na = None, None, 0, 0
    ev_path = bp.copy().update(suffix="events", extension=".tsv", split=None)
    if Path(ev_path.fpath).is_file():
        ev_file = Path(ev_path.fpath)
        parse: bool | str = trial_type_dicts
        if trial_type_dicts == "auto":
            tt = read_table(
                ev_file,
                "BIDS events file",
                sep="\t",
                na_values=["n/a"],
                keep_default_na=False,
                dtype=str,
            ).get("trial_type")
            parse = "expand" if tt is not None and looks_like_dict_literals(list(tt)) else False
        events, n_dropped, n_na = read_run_events(
            ev_file,
            stop=raw.n_times / raw.info["sfreq"],
            events_outside=events_outside,
            trial_type_dicts=parse,
        )

    from brainalign.data import Recording, Space

    bare = raw.copy().set_annotations(None)
    ents = parse_bids_entities(fpath)
    rec = Recording.from_mne(
        bare,
        picks="all",
        modality=modality,
        subject=bp.subject,
        session=bp.session,
        run=None if bp.run is None else str(bp.run),
        task=bp.task,
    )
    elec_info: dict[str, Any] = {}
    space_obj = rec.space
    if rec.modality == "ieeg":
        coords, frame, elec_info = _electrodes(fpath.parent, ents, list(raw.ch_names), space)
        space_obj = Space.electrodes(list(raw.ch_names), coords, coord_frame=frame)
        space_obj.info = raw.info
    metadata = {
        "source": {
            "data": str(fpath),
            "events": None if ev_file is None else str(ev_file),
            "bids_root": str(bp.root),
            **{k: v for k, v in elec_info.items() if k in ("electrodes", "coordsystem")},
        },
        "datatype": datatype,
        "sfreq_original": sfreq_orig,
        "bads": list(raw.info["bads"]),
        "channel_types": list(raw.get_channel_types()),
        "first_time": float(raw.first_time),
        "events_dropped": n_dropped,
        "events_na_duration_as_zero": n_na,
        "mne_bids_warnings": caught_msgs,
        "preprocessing": []
        if resample is None
        else [f"resampled {sfreq_orig:g} -> {resample:g} Hz"],
        **{k: v for k, v in elec_info.items() if k not in ("electrodes", "coordsystem")},
    }
    return rec.copy(events=events, space=space_obj, metadata=metadata)
