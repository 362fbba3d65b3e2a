"""A tiny Brain Treebank release in the real layout (braintreebank.dev quickstart).

Real sizes: ~100-250 electrodes per subject, 2048 Hz, trials of 1-3 hours (one movie each),
~10,000 words per movie. Subject 1's h5 holds one more channel than it has labels.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SFREQ = 2048.0
RAW_LABELS = ["F3aOFa2*", "F3aOFa3", "F3aOFa4#", "T1b_2", "DC1", "TRIG4"]
CLEAN_LABELS = ["F3aOFa2", "F3aOFa3", "F3aOFa4", "T1b2", "DC1", "TRIG4"]
CORRUPTED = ["F3aOFa3"]


def make_brain_treebank(
    root: Path,
    *,
    subject: int = 1,
    trial: int = 0,
    n_seconds: float = 6.0,
    lead_in: float = 1.0,
    drift: float = 1.001,
    seed: int = 0,
) -> dict:
    """Write the files under ``root``; return the ground truth."""
    import h5py
    import pandas as pd

    rng = np.random.default_rng(seed)
    root = Path(root)
    sub, stem = f"sub_{subject}", f"sub_{subject}_trial{trial:03d}"
    n_samples = int(n_seconds * SFREQ)
    n_h5 = len(RAW_LABELS) + (1 if subject == 1 else 0)  # the extra trailing channel
    signals = rng.standard_normal((n_h5, n_samples))
    (root / "all_subject_data").mkdir(parents=True, exist_ok=True)
    with h5py.File(root / "all_subject_data" / f"{stem}.h5", "w") as f:
        grp = f.create_group("data")
        for i in range(n_h5):
            grp.create_dataset(f"electrode_{i}", data=signals[i])

    (root / "electrode_labels" / sub).mkdir(parents=True, exist_ok=True)
    (root / "electrode_labels" / sub / "electrode_labels.json").write_text(json.dumps(RAW_LABELS))
    (root / "corrupted_elec.json").write_text(json.dumps({sub: CORRUPTED, "sub_2": ["X1"]}))

    # localization: one electrode (T1b2) missing; labels written with their markers
    (root / "localization" / sub).mkdir(parents=True, exist_ok=True)
    loc = pd.DataFrame(
        {
            "Electrode": ["F3aOFa2*", "F3aOFa3", "F3aOFa4#", "DC1", "TRIG4"],
            "Destrieux": ["G_front", "G_front", "S_front", "n/a", "n/a"],
            "L": [10.0, 11.0, 12.0, 0.0, 0.0],
            "I": [-20.0, -21.0, -22.0, 0.0, 0.0],
            "P": [30.0, 31.0, 32.5, 0.0, 0.0],
            "Hemisphere": [1, 1, 1, 0, 0],
        }
    )
    loc.to_csv(root / "localization" / sub / "depth-wm.csv", index=False)

    movie = "fantastic-mr-fox"
    (root / "subject_metadata").mkdir(parents=True, exist_ok=True)
    (root / "subject_metadata" / f"{stem}_metadata.json").write_text(
        json.dumps({"title": "Fantastic Mr. Fox", "filename": movie})
    )
    # one trigger per movie second; the neural clock runs `drift` times faster
    movie_time = np.arange(0.0, 4.0 + 1e-9, 1.0)
    index = np.round((lead_in + movie_time * drift) * SFREQ).astype(int)
    trig = pd.DataFrame(
        {
            "type": "trigger",
            "movie_time": movie_time,
            "start_time": 1000.0 + movie_time,
            "end_time": 1000.0 + movie_time + 0.01,
            "trig_type": "movie",
            "index": index,
        }
    )
    (root / "subject_timings").mkdir(parents=True, exist_ok=True)
    trig.to_csv(root / "subject_timings" / f"{stem}_timings.csv", index=False)

    starts = np.array([0.12, 0.5, 1.49, 1.51, 2.2, np.nan, 3.3, 3.95, 4.2])
    ends = np.array([0.4, 0.9, 1.5, 1.8, 2.6, np.nan, 3.6, 4.1, 4.5])
    texts = ["Hello", "Mr.", "Fox", "what's", "the", "<unk>", '"plan"', "Bean", "end"]
    words = pd.DataFrame(
        {
            "start": starts,
            "end": ends,
            "text": texts,
            "word_idx": np.arange(len(texts)),
            "sentence": "Hello Mr. Fox",
            "pos": ["INTJ", "PROPN", "PROPN", "PRON", "DET", "X", "NOUN", "PROPN", "NOUN"],
            "gpt2_surprisal": rng.uniform(1, 10, len(texts)),
            "is_onset": [1, 0, 0, 1, 0, 0, 0, 0, 0],
        }
    )
    (root / "transcripts" / movie).mkdir(parents=True, exist_ok=True)
    words.to_csv(root / "transcripts" / movie / "features.csv")  # with the unnamed index
    return {
        "signals": signals,
        "trig": trig,
        "words": words,
        "movie": movie,
        "n_samples": n_samples,
    }
