"""Decoding figures beside their nulls and chance (semi-synthetic brains, real models).

Reproduces the numbers of the decoding report with :func:`brainalign.study.run_decoding`'s
machinery (:func:`brainalign.study._decode.compute_decoding`):

- **faces**: packaged DCGAN, 3000 training trials (1000 with ``--quick``), 100 test faces, 1500 voxels with
  single-trial r in 0.1-0.3; two-way identification on EfficientNet-Lite0 features and on
  pixels, PixCorr, SSIM, for single-trial test responses and for responses averaged over 3
  repeats (NSD / MindEye); retrieval top-1 / top-5 of the decoded latent;
- **sentences**: MiniLM embeddings of 276 sentences, single-trial SNR 0.1; BLEU-1, WER,
  METEOR, MiniLM similarity and retrieval top-1 / top-5 among the 55 test sentences;
- **digits** (only when the trained digits diffusion model is cached, or ``--train-digits``):
  300 held-out digits through the diffusion head.

Every score has a permuted-brain and a noise-input null (``--n-permutations`` runs each, the
same pipeline) and a chance level. Prints a table and writes JSON to
``benchmarks/results/bench_decoding.json`` (``bench_decoding_quick.json`` with ``--quick``).
Timings are recorded, never asserted.

Usage::

    .venv/bin/python benchmarks/bench_decoding.py             # 20 null runs per kind
    .venv/bin/python benchmarks/bench_decoding.py --quick     # 5 null runs, 50 test faces
    .venv/bin/python benchmarks/bench_decoding.py --train-digits
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
KEY = (
    "two_way_effnet",
    "two_way_pixels",
    "pixcorr",
    "ssim",
    "top1",
    "top5",
    "bleu1",
    "wer",
    "meteor",
    "embedding_similarity",
)


def make_config(args: argparse.Namespace, digits: bool):
    from brainalign.study import DecodeConfig

    tasks = ["faces", "sentences"] + (["digits"] if digits else [])
    return DecodeConfig.model_validate(
        {
            "name": "bench-decoding",
            "tasks": tasks,
            "n_permutations": args.n_permutations,
            "nulls": ["permuted-brain", "noise"],
            "seed": args.seed,
            "faces": {
                "n_train": 1000 if args.quick else 3000,
                "n_test": 50 if args.quick else 100,
                "n_test_repeats": 3,
                "single_trial": True,
            },
            "digits": {"n_test": 300, "n_test_repeats": 3, "train": args.train_digits},
        }
    )


def digits_available() -> bool:
    from brainalign.study._decode_tasks import cached_digit_model

    return cached_digit_model() is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 null runs, 50 test faces")
    parser.add_argument("--n-permutations", type=int, default=None, help="null runs per kind")
    parser.add_argument("--train-digits", action="store_true", help="train the digits model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--out", type=Path, default=None, help="JSON file")
    args = parser.parse_args(argv)
    if args.n_permutations is None:
        args.n_permutations = 5 if args.quick else 20

    import torch

    from brainalign.study._decode import compute_decoding, format_decode_summary

    torch.set_num_threads(args.threads)
    digits = digits_available() or args.train_digits
    config = make_config(args, digits)
    start = time.perf_counter()
    _, summary = compute_decoding(config, verbose=True)
    seconds = time.perf_counter() - start
    records = [
        {
            k: r[k]
            for k in (
                "task",
                "condition",
                "metric",
                "label",
                "null_kind",
                "score",
                "null_mean",
                "null_std",
                "chance",
                "p_value",
                "n_null",
            )
        }
        for r in summary["scores"]
        if r["metric"] in KEY
    ]
    for r in records:
        r["condition"] = summary[r["task"]]["conditions"][r["condition"]]
    out = {
        "benchmark": "decoding",
        "quick": bool(args.quick),
        "n_permutations": args.n_permutations,
        "digits": "run" if digits else "skipped (no cached model; --train-digits to train it)",
        "settings": {
            t: {
                k: v
                for k, v in summary[t].items()
                if k not in ("examples", "conditions", "repeats", "truth", "decoded")
            }
            for t in summary["tasks"]
        },
        "records": records,
        "timings_s": summary["timings_s"],
        "total_s": round(seconds, 1),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "torch_threads": args.threads,
            "torch": torch.__version__,
        },
        "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
    }
    print("\n".join(format_decode_summary(summary)))
    path = args.out or RESULTS / f"bench_decoding{'_quick' if args.quick else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {path} ({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
