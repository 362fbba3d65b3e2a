"""Readers: real dataset formats → `Recording` / `TrialSet` with events on the same clock.

Every reader takes local paths (downloads belong to :mod:`brainalign.datasets`). Readers are
imported lazily, so ``import brainalign.io`` loads neither nibabel, h5py, mne nor mne-bids.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> private module that defines it
_READERS: dict[str, str] = {
    # BIDS raw fMRI and fMRIPrep derivatives
    "read_bids_func": "_bids_func",
    "read_bids_func_runs": "_bids_func",
    "read_bids_sidecar": "_bids",
    "parse_bids_entities": "_bids",
    "read_fmriprep": "_fmriprep",
    "read_fmriprep_runs": "_fmriprep",
    "read_fmriprep_confounds": "_fmriprep",
    # BIDS MEG / EEG / iEEG through mne-bids
    "read_bids_meeg": "_bids_meeg",
    # Natural Scenes Dataset and the Algonauts challenges
    "read_nsd": "_nsd",
    "read_nsd_expdesign": "_nsd",
    "read_nsd_stiminfo": "_nsd",
    "read_nsd_stimuli": "_nsd_stimuli",
    "NSDStimuli": "_nsd_stimuli",
    "read_nsd_betas": "_nsd",
    "read_algonauts2025": "_algonauts2025",
    "read_algonauts2025_transcript": "_algonauts2025",
    "read_algonauts2023": "_algonauts2023",
    # Narrative language fMRI
    "read_lebel": "_lebel",
    "read_textgrid": "_textgrid",
    "LEBEL_DROPPED_TOKENS": "_lebel",
    # Intracranial and M/EEG stimulus sets
    "read_brain_treebank": "_brain_treebank",
    "read_things_eeg2": "_things",
    "read_things_meg": "_things",
    # Real data shipped inside registry packages
    "read_nitime_event_related": "_embedded",
    "read_brainspace_rest": "_embedded",
}

__all__ = sorted(_READERS)


def __getattr__(name: str) -> Any:
    module = _READERS.get(name)
    if module is None:
        raise AttributeError(f"module 'brainalign.io' has no attribute {name!r}")
    return getattr(importlib.import_module(f"brainalign.io.{module}"), name)


def __dir__() -> list[str]:
    return list(__all__)
