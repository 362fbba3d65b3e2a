"""Tiny THINGS-EEG2 and THINGS-MEG files in the real layouts.

THINGS-EEG2 (gifale95/eeg_encoding ``save_prepr``): ``np.save`` of a dict
``{'preprocessed_eeg_data': float64 (n_conditions, n_repetitions, 17, 100), 'ch_names': list
of 17 str, 'times': float64 (100,)}``; the release has (16540, 4, 17, 100) for training and
(200, 80, 17, 100) for test. ``image_set/image_metadata.npy`` is a dict of lists.

THINGS-MEG (ViCCo-Group/THINGS-data ``step1_preprocessing.py``): ``preprocessed_P{n}-epo.fif``
with ``mag`` channels at 200 Hz, epochs -0.1 ... 1.3 s, and ``epochs.metadata`` from
``sample_attributes_P{n}.csv``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# The 17 occipital / parietal channels (regex '^O *|^P *') of the 64-channel EEG cap.
EEG2_CHANNELS = [
    "Pz", "P3", "P7", "O1", "Oz", "O2", "P4", "P8", "P1",
    "P5", "PO7", "PO3", "POz", "PO4", "PO8", "P6", "P2",
]  # fmt: skip
EEG2_TIMES = np.arange(-20, 80) / 100.0  # epochs.times after resampling to 100 Hz


def make_things_eeg2(
    root: Path,
    *,
    subject: int = 1,
    shapes: dict[str, tuple[int, int]] | None = None,
    with_image_metadata: bool = True,
    seed: int = 0,
) -> dict:
    """Write ``eeg_dataset/preprocessed_data/sub-XX/preprocessed_eeg_{partition}.npy``."""
    rng = np.random.default_rng(seed)
    shapes = shapes or {"training": (6, 4), "test": (3, 5)}
    sub_dir = Path(root) / "eeg_dataset" / "preprocessed_data" / f"sub-{subject:02d}"
    sub_dir.mkdir(parents=True, exist_ok=True)
    truth = {}
    for partition, (n_cond, n_rep) in shapes.items():
        arr = rng.standard_normal((n_cond, n_rep, len(EEG2_CHANNELS), len(EEG2_TIMES)))
        np.save(
            sub_dir / f"preprocessed_eeg_{partition}.npy",
            {"preprocessed_eeg_data": arr, "ch_names": list(EEG2_CHANNELS), "times": EEG2_TIMES},
        )
        truth[partition] = arr
    if with_image_metadata:
        n_train, n_test = shapes["training"][0], shapes.get("test", (0, 0))[0]
        train_concepts = [f"{i // 2 + 1:05d}_concept{i // 2}" for i in range(n_train)]
        test_concepts = [f"{i + 1:05d}_testconcept{i}" for i in range(n_test)]
        meta = {
            "train_img_concepts": train_concepts,
            "train_img_files": [f"concept{i // 2}_{i % 2 + 1:02d}s.jpg" for i in range(n_train)],
            "test_img_concepts": test_concepts,
            "test_img_files": [f"testconcept{i}_01b.jpg" for i in range(n_test)],
        }
        (Path(root) / "image_set").mkdir(exist_ok=True)
        np.save(Path(root) / "image_set" / "image_metadata.npy", meta)
        truth["image_metadata"] = meta
    return truth


def make_things_meg(path: Path, *, n_channels: int = 5, seed: int = 0) -> dict:
    """Save a tiny ``preprocessed_P1-epo.fif`` (mag, 200 Hz, -0.1 s) with its metadata."""
    import mne
    import pandas as pd

    rng = np.random.default_rng(seed)
    names = ["MLO11-1609", "MLO12-1609", "MRO11-1609", "MRO12-1609", "MLT11-1609"][:n_channels]
    info = mne.create_info(names, sfreq=200.0, ch_types="mag")
    trial_type = ["exp", "test", "catch", "exp", "test", "exp", "catch", "test"]
    image_nr = [11, 22001, 99, 12, 22001, 13, 98, 22002]
    n = len(trial_type)
    n_times = 29  # -0.1 ... 0.04 s at 200 Hz (the real epochs run to 1.3 s)
    data = rng.standard_normal((n, n_channels, n_times)) * 1e-13
    events = np.column_stack([np.arange(n) * 400 + 1000, np.zeros(n, int), np.ones(n, int)])
    metadata = pd.DataFrame(
        {
            "trial_type": trial_type,
            "image_nr": image_nr,
            "things_category_nr": [1, 220, 0, 1, 220, 1, 0, 221],
            "session_nr": [1, 1, 1, 1, 2, 2, 2, 2],
            "image_path": [f"images/img_{i}.jpg" for i in image_nr],
        }
    )
    epochs = mne.EpochsArray(
        data, info, events=events, tmin=-0.1, event_id={"image": 1}, metadata=metadata,
        verbose="error",
    )  # fmt: skip
    epochs.save(path, overwrite=True, verbose="error")
    return {"data": data, "metadata": metadata, "times": epochs.times.copy(), "names": names}
