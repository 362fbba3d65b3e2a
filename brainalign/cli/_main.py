"""The ``brainalign`` command: a thin layer over the public Python API."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from brainalign.cli._datasets import add_datasets_parser
from brainalign.cli._decode import add_decode_parser
from brainalign.cli._extract import add_extract_parser

__all__ = ["build_parser", "main"]


def _print_summary(result: object, out_dir: Path, title: str) -> None:
    s = result.summary  # type: ignore[attr-defined]
    score = s["scoring"]
    lines = [
        f"== {title} ==",
        f"data: {s['n_samples']} samples in {s['n_runs']} runs, {s['n_targets']} targets, "
        f"bands {s['bands']}",
        f"held-out {score} (outer {s.get('outer_cv', 'LeaveOneRunOut()')}, "
        f"{s['n_outer_folds']} folds): "
        f"mean {s['mean_score']:.4f}, median {s['median_score']:.4f}, "
        f"90th percentile {s['top_decile_score']:.4f}",
    ]
    if s.get("band_mean_split_score"):
        parts = ", ".join(f"{b} {v:.4f}" for b, v in s["band_mean_split_score"].items())
        lines.append(f"variance partitioning (mean held-out R² per band): {parts}")
    if s.get("null"):
        n = s["null"]
        lines.append(
            f"block-permutation null ({n['n_permutations']} permutations): mean null {score} "
            f"{n['null_mean_score']:.4f}; {n['n_significant_fdr']}/{s['n_targets']} targets "
            f"significant after FDR"
        )
    if s.get("recovery"):
        r = s["recovery"]
        lines.append(
            f"oracle (noise-free signal) mean {score}: {r['oracle_mean_score']:.4f} "
            f"(gap {r['score_gap_to_oracle']:.4f})"
        )
        if r.get("band_share_correlation") is not None:
            lines.append(
                f"planted vs estimated band shares: r = {r['band_share_correlation']:.3f} "
                f"over {r['n_targets_for_share_recovery']} targets"
            )
    t = s["timings"]
    lines.append("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in t.items()))
    lines.append(f"results: {out_dir / 'results.h5'}, {out_dir / 'summary.json'}")
    print("\n".join(lines))


def _cmd_fit(args: argparse.Namespace) -> int:
    from brainalign.study import load_config, run_study

    config = load_config(args.config)
    out = Path(args.out) if args.out else Path(config.output)
    result = run_study(config, out_dir=out, verbose=not args.quiet)
    _print_summary(result, out, f"brainalign fit: {config.name}")
    return 0


def _cmd_demo_synthetic(args: argparse.Namespace) -> int:
    from brainalign.study import StudyConfig, run_study

    quick = bool(args.quick)
    config = StudyConfig.model_validate(
        {
            "name": "demo (synthetic banded encoding study)",
            "data": {
                "kind": "synthetic",
                "n_runs": 4 if quick else 5,
                "n_samples_per_run": 200 if quick else 300,
                "n_targets": 300 if quick else 800,
                "band_sizes": {"semantic": 60, "lowlevel": 10},
                "random_state": 0,
            },
            "alignment": {"delays": [2.0, 4.0, 6.0, 8.0]},
            "model": {"kind": "banded_ridge", "n_iter": 10 if quick else 20},
            "evaluation": {"n_permutations": 100 if quick else 500},
        }
    )
    out = Path(args.out)
    result = run_study(config, out_dir=out, verbose=not args.quiet)
    _print_summary(result, out, config.name)
    return 0


def _print_demo_summary(results_dir: Path, report: Path) -> None:
    import json

    s = json.loads((results_dir / "summary.json").read_text(encoding="utf-8"))
    lines = ["== brainalign demo: the embedded default study =="]
    if "language" in s:
        lang = s["language"]
        det, rec = lang["detection"], lang["share_recovery_corr"]
        lines += [
            f"[1] language on fsaverage5: {lang['n_words']} words, {lang['n_runs']} runs "
            f"({lang['stimulation_minutes']} min), {lang['n_vertices_fitted']} vertices, "
            f"bands {lang['bands']}",
            f"    held-out r (leave-one-run-out): median {lang['median_r_signal']:.3f} at "
            f"signal vertices, {lang['median_r_no_signal']:.3f} elsewhere; "
            f"{lang['n_significant_fdr']} significant (FDR 5 %), hit rate "
            f"{det['hit_rate']:.2f}, false-positive rate {det['false_positive_rate']:.3f}, "
            f"false-discovery proportion {det.get('false_discovery_proportion', float('nan')):.3f}",
            "    planted vs recovered band shares (r): "
            + ", ".join(f"{b} {v:.2f}" for b, v in rec.items()),
            f"    best SmolLM2 layer: {lang['best_scan_layer']} (planted: {lang['planted_layer']})",
        ]
    if "mt" in s:
        mt = s["mt"]
        dec = mt["decoding"]
        lines += [
            f"[2] real MT fMRI (nitime): FIR peak at {mt['fir_peak_s']:.0f} s; encoding r "
            f"{mt['encoding_r']:.3f} (block-permutation p = {mt['encoding_p']:.3g}); "
            f"decoding accuracy {dec['accuracy']:.3f} vs chance {dec['chance']:.3f} "
            f"(p = {dec['p_value']:.3g})",
        ]
    if "decoding" in s:
        from brainalign.study import format_decode_summary

        lines.append(
            "[3] decoding (semi-synthetic brains; scores beside permuted-brain / noise nulls):"
        )
        lines += format_decode_summary(s["decoding"], indent="    ")
    lines.append(
        "timings: " + ", ".join(f"{k} {v:.0f}s" for k, v in s.get("timings_s", {}).items())
    )
    lines.append(f"report: {report}")
    print("\n".join(lines))


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.synthetic:
        return _cmd_demo_synthetic(args)
    from brainalign.study import run_demo

    out = Path(args.out)
    report = run_demo(out, quick=bool(args.quick), verbose=not args.quiet)
    _print_demo_summary(out, report)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from brainalign.study import build_demo_report

    report = build_demo_report(args.results_dir, out=args.out)
    print(f"report: {report}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from brainalign import __version__

    parser = argparse.ArgumentParser(prog="brainalign", description="Brain encoding and decoding.")
    parser.add_argument("--version", action="version", version=f"brainalign {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p_fit = sub.add_parser("fit", help="fit and evaluate an encoding model from a YAML config")
    p_fit.add_argument("config", help="path to the YAML study configuration")
    p_fit.add_argument("--out", help="output folder (default: the config's `output`)")
    p_fit.add_argument("--quiet", action="store_true", help="no progress bars")
    p_fit.set_defaults(func=_cmd_fit)

    p_demo = sub.add_parser(
        "demo",
        help="run the embedded default study (SmolLM2 features on fsaverage5 with real fMRI "
        "noise; real MT fMRI; face and sentence decoding with nulls) and write an HTML report",
    )
    p_demo.add_argument("--out", default="demo_output", help="output folder")
    p_demo.add_argument("--quick", action="store_true", help="a smaller, faster version")
    p_demo.add_argument(
        "--synthetic", action="store_true", help="the fully synthetic banded-ridge demo instead"
    )
    p_demo.add_argument("--quiet", action="store_true", help="no progress bars")
    p_demo.set_defaults(func=_cmd_demo)

    p_report = sub.add_parser(
        "report",
        help="rebuild the HTML report from a results folder of `brainalign demo` or "
        "`brainalign decode`",
    )
    p_report.add_argument("results_dir", help="folder holding results.h5 and summary.json")
    p_report.add_argument("--out", help="report file (default RESULTS_DIR/report.html)")
    p_report.set_defaults(func=_cmd_report)

    add_datasets_parser(sub)
    add_extract_parser(sub)
    add_decode_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``brainalign`` command."""
    from brainalign.exceptions import ConfigError

    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    quiet = bool(getattr(args, "quiet", False))
    previous = os.environ.get("BRAINALIGN_PROGRESS")
    if quiet:
        # loaders that follow the environment (transformers' weight-loading bars) go quiet too
        os.environ["BRAINALIGN_PROGRESS"] = "0"
    try:
        return int(args.func(args))
    except (ConfigError, FileNotFoundError, ImportError, ValueError) as exc:
        print(f"brainalign: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if quiet:
            if previous is None:
                os.environ.pop("BRAINALIGN_PROGRESS", None)
            else:
                os.environ["BRAINALIGN_PROGRESS"] = previous


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
