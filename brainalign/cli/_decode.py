"""``brainalign decode CONFIG.yaml``: a decoding study with its nulls, saved and reported.

The YAML file is a :class:`~brainalign.study.DecodeConfig` (unknown keys are refused, listing
the valid ones). Every task runs with its null controls; ``results.h5``, ``summary.json`` and
``report.html`` go to ``--out`` (default: the config's ``output``), and the key figures are
printed beside their nulls, chance and p-values.

Example::

    tasks: [faces, sentences]
    n_permutations: 20
    faces: {n_train: 3000, n_test: 100, n_test_repeats: 3}
    output: decode_results
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_decode_parser"]


def add_decode_parser(sub: Any) -> None:
    """Add the ``decode`` command to the ``brainalign`` sub-parsers."""
    p = sub.add_parser(
        "decode",
        help="run a decoding study (faces, digits, sentences, story) from a YAML config, with "
        "permuted-brain and noise nulls, and write an HTML report",
    )
    p.add_argument("config", help="path to the YAML decoding configuration")
    p.add_argument("--out", help="output folder (default: the config's `output`)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_decode)


def _cmd_decode(args: argparse.Namespace) -> int:
    from brainalign.study import format_decode_summary, load_decode_config, run_decoding

    config = load_decode_config(args.config)
    out = Path(args.out) if args.out else Path(config.output)
    result = run_decoding(config, out_dir=out, verbose=not args.quiet)
    s = result.summary
    lines = [f"== brainalign decode: {config.name} =="]
    lines.append(
        f"nulls: {', '.join(s['nulls'])} "
        f"({'decoder refit on null training data' if s['null_refit'] else 'test input only'}); "
        f"p-values (1 + #null >= score) / (1 + n)"
    )
    lines += format_decode_summary(s, indent="  ")
    timings = ", ".join(f"{k} {v:.0f}s" for k, v in s.get("timings_s", {}).items())
    if timings:
        lines.append(f"timings: {timings}")
    lines.append(f"results: {out / 'results.h5'}, {out / 'summary.json'}")
    lines.append(f"report: {result.report}")
    print("\n".join(lines))
    return 0
