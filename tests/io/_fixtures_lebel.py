"""A tiny LeBel et al. (ds003020) derivative tree in the real layout.

Real sizes: ~300 TRs x ~95,000 voxels per story (float32), 84 stories for UTS01-03;
TextGrids with a phone tier (0) and a word tier (1) in Praat's long text format;
``respdict.json`` maps each story to its raw TR count (e.g. ``wheretheressmoke: 311``, and
its hf5 has 311 - 5 - 15 = 291 rows).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from _fixtures_textgrid import write_textgrid

# Word-tier labels with the non-word tokens of the real grids (sp, {LG}, sentence_start...).
_VOCAB = ["so", "i", "was", "walking", "café", "down", 'the "big"', "road", "and", "then"]
_NOISE = ["sp", "{LG}", "sentence_start", "{NS}", "br", ""]


def _word_rows(duration: float, rng: np.random.Generator) -> list[tuple[float, float, str]]:
    rows, t, k = [], 0.0, 0
    while t < duration - 1.0:
        step = float(np.round(rng.uniform(0.4, 1.4), 3))
        label = _NOISE[k % len(_NOISE)] if k % 4 == 3 else _VOCAB[k % len(_VOCAB)]
        rows.append((t, round(t + step, 3), label))
        t = round(t + step, 3)
        k += 1
    rows.append((t, duration, "sp"))
    return rows


def _phone_rows(words: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    rows = []
    for a, b, label in words:
        if label in ("sp", ""):
            rows.append((a, b, "sp"))
            continue
        mid = round((a + b) / 2, 4)
        rows += [(a, mid, "AH0"), (mid, b, "T")]
    return rows


def make_lebel(
    root: Path,
    *,
    subject: str = "UTS01",
    stories: dict[str, int] | None = None,
    n_voxels: int = 6,
    seed: int = 0,
) -> dict:
    """Write the derivative tree under ``root``; return the ground truth per story."""
    import h5py

    stories = stories or {"wheretheressmoke": 40, "adollshouse": 44}
    rng = np.random.default_rng(seed)
    deriv = Path(root) / "derivative"
    sub_dir = deriv / "preprocessed_data" / subject
    sub_dir.mkdir(parents=True, exist_ok=True)
    (deriv / "respdict.json").write_text(json.dumps(stories))
    truth = {}
    for story, n_raw in stories.items():
        n_kept = n_raw - 5 - 15
        data = rng.standard_normal((n_kept, n_voxels)).astype(np.float32)
        with h5py.File(sub_dir / f"{story}.hf5", "w") as f:
            f.create_dataset("data", data=data)
        # The audio lasts as long as the simulated TR grid after the 10 s lead-in.
        duration = (n_raw - 5) * 2.0 - 10.0
        words = _word_rows(duration, rng)
        phones = _phone_rows(words)
        write_textgrid(
            deriv / "TextGrids" / f"{story}.TextGrid",
            [("phone", phones), ("word", words)],
            xmax=duration,
        )
        truth[story] = {"data": data, "words": words, "phones": phones, "n_raw": n_raw}
    return truth
