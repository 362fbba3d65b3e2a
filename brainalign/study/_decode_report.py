"""The decoding section of the HTML report, rendered from saved results only.

Used by :func:`build_decode_report` (a ``brainalign decode`` results folder) and by the demo
report (its ``decoding`` part). For every task: the key figures, a stimulus / reconstruction
grid (true images on top, reconstructions under them, then reconstructions from the null
inputs) or a table of decoded sentences beside the truth, a plot of every headline score
against its null distributions and chance, and a table with score, null mean ± sd, chance
and p-value for every metric, condition and null kind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["add_decoding_section", "build_decode_report"]

_HEADLINE = {
    "faces": ("two_way_effnet", "two_way_pixels", "pixcorr", "ssim", "top1", "top5"),
    "digits": ("two_way_effnet", "two_way_pixels", "pixcorr", "ssim", "top1", "top5"),
    "sentences": ("top1", "top5", "bleu1", "wer", "meteor", "embedding_similarity"),
    "story": ("bleu1", "wer", "meteor", "embedding_similarity"),
}
_SHORT = {
    "two_way_effnet": "2-way (EffNet)",
    "two_way_pixels": "2-way (pixels)",
    "pixcorr": "PixCorr",
    "ssim": "SSIM",
    "top1": "top-1",
    "top5": "top-5",
    "bleu1": "BLEU-1",
    "wer": "WER (↓)",
    "meteor": "METEOR",
    "embedding_similarity": "emb. similarity",
}
_NULL_COLOURS = {"permuted-brain": "#7f8c8d", "noise": "#e59866"}


def _rows(summary: dict[str, Any], task: str, condition: str | None = None) -> list[dict]:
    return [
        r
        for r in summary.get("scores", [])
        if r["task"] == task and (condition is None or r["condition"] == condition)
    ]


def _image_grid(arrays: dict[str, np.ndarray], task: str, summary: dict[str, Any]) -> Any:
    from brainalign.viz._figures import new_figure

    info = summary[task]
    stim = arrays[f"{task}.stimuli"]
    rows = [("stimulus", stim)]
    for cond in info["conditions"]:
        short = "single trial" if cond == "single" else f"{info['repeats'][cond]}-repeat avg"
        rows.append((f"decoded\n({short})", arrays[f"{task}.recon.{cond}"]))
    first = next(iter(info["conditions"]))
    for kind in summary.get("nulls", []):
        key = f"{task}.null.{kind}.{first}"
        if key in arrays:
            rows.append((f"{kind} null", arrays[key]))
    n = stim.shape[0]
    fig, axes = new_figure(len(rows), n, figsize=(1.1 * n + 1.2, 1.15 * len(rows)), squeeze=False)
    for i, (label, images) in enumerate(rows):
        for j in range(n):
            ax = axes[i][j]
            img = images[j]
            if img.shape[-1] == 1:
                ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=255)
            else:
                ax.imshow(img)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    fig.subplots_adjust(wspace=0.05, hspace=0.08)
    return fig


def _null_plot(summary: dict[str, Any], task: str) -> Any:
    """Every headline score (red) against its null distributions (dots) and chance (dash)."""
    from brainalign.viz._figures import new_figure

    info = summary[task]
    items = []
    for cond in info["conditions"]:
        for metric in _HEADLINE[task]:
            sel = [r for r in _rows(summary, task, cond) if r["metric"] == metric]
            if sel:
                items.append((cond, sel))
    if not items:
        return None
    fig, ax = new_figure(figsize=(max(5.0, 0.75 * len(items) + 2.0), 3.6))
    rng = np.random.default_rng(0)
    seen: set[str] = set()
    for x, (_cond, sel) in enumerate(items):
        for k, r in enumerate(sel):
            null = np.asarray(r["null"], dtype=float)
            off = (k - (len(sel) - 1) / 2) * 0.25
            jitter = rng.uniform(-0.06, 0.06, null.size)
            kind = r["null_kind"]
            ax.scatter(
                x + off + jitter,
                null,
                s=8,
                color=_NULL_COLOURS.get(kind, "#95a5a6"),
                alpha=0.7,
                label=f"{kind} null" if kind not in seen else None,
            )
            seen.add(kind)
        r0 = sel[0]
        ax.scatter([x], [r0["score"]], s=55, color="#c0392b", zorder=3,
                   label="score" if "score" not in seen else None)  # fmt: skip
        seen.add("score")
        if r0["chance"] is not None:
            ax.hlines(r0["chance"], x - 0.4, x + 0.4, colors="k", linestyles="--", lw=1,
                      label="chance" if "chance" not in seen else None)  # fmt: skip
            seen.add("chance")
    labels = []
    for cond, sel in items:
        suffix = "" if len(info["conditions"]) == 1 else (" (1 trial)" if cond == "single" else "")
        labels.append(_SHORT.get(sel[0]["metric"], sel[0]["metric"]) + suffix)
    ax.set_xticks(range(len(items)))
    ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("score")
    ax.set_title(f"{task}: scores against their nulls", fontsize=10)
    ax.legend(frameon=False, fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def _metric_table(rep: Any, summary: dict[str, Any], task: str) -> None:
    info = summary[task]
    conds = list(info["conditions"])
    metrics = list(dict.fromkeys(r["metric"] for r in _rows(summary, task)))
    kinds = list(summary.get("nulls", []))

    def order(r: dict[str, Any]) -> tuple[int, int, int]:
        kind = kinds.index(r["null_kind"]) if r["null_kind"] in kinds else len(kinds)
        return conds.index(r["condition"]), metrics.index(r["metric"]), kind

    table = []
    for r in sorted(_rows(summary, task), key=order):
        table.append(
            {
                "condition": info["conditions"].get(r["condition"], r["condition"]),
                "metric": r["label"],
                "score": r["score"],
                "null": f"{r['null_kind']}{' (refit)' if r.get('refit') else ''}",
                "null mean ± sd": f"{r['null_mean']:.3f} ± {r['null_std']:.3f}",
                "chance": "n/a" if r["chance"] is None else r["chance"],
                "p-value": r["p_value"],
                "n null": r["n_null"],
            }
        )
    rep.add_table(
        table,
        caption=f"{task}: every metric with its null and chance (p = (1 + #null ≥ score) / "
        "(1 + n null); ≤ for WER)",
        float_fmt=".3f",
    )


def _key_cards(summary: dict[str, Any], task: str) -> dict[str, Any]:
    cards: dict[str, Any] = {}
    info = summary[task]
    for cond in info["conditions"]:
        for metric in _HEADLINE[task][:3]:
            sel = [r for r in _rows(summary, task, cond) if r["metric"] == metric]
            if sel:
                tag = " (single trial)" if cond == "single" and len(info["conditions"]) > 1 else ""
                null = min(sel, key=lambda r: abs(r["null_mean"] - r["score"]))
                chance = sel[0]["chance"]
                cards[f"{sel[0]['label']}{tag}"] = sel[0]["score"]
                cards[f"null mean ({null['null_kind']}){tag}"] = null["null_mean"]
                if chance is not None:
                    cards[f"chance{tag}"] = chance
                break
    return cards


_INTRO = {
    "faces": (
        "Faces drawn by the DCGAN generator ({generator_label}, 64 × 64) with simulated voxel "
        "responses to their latents: {n_voxels} voxels, single-trial signal–response r drawn from "
        "{r_range}, {shared_noise:.0%} of the noise shared across voxels. A ridge decodes "
        "the {n_latents}-d GAN latent from {n_train} training trials (voxels z-scored with training "
        "statistics, latents rescaled to the training norm); the generator draws the face. "
        "{n_test} held-out faces, test responses averaged over {n_test_repeats} repeats as "
        "in NSD / MindEye."
    ),
    "digits": (
        "scikit-learn's handwritten digits with simulated responses to their PCA embedding "
        "({n_voxels} voxels, single-trial r from {r_range}); a ridge decodes the embedding "
        "and the digits diffusion model brainalign trained on the other digits draws the "
        "image. {n_test} held-out digits, test responses averaged over {n_test_repeats} "
        "repeats."
    ),
    "sentences": (
        "{n_sentences} sentences written for the project; single-trial responses of "
        "{n_voxels} voxels simulated from their MiniLM embeddings (mean single-trial SNR "
        "{snr} at {signal_fraction:.0%} of the voxels). A ridge decodes the embedding from "
        "{n_train} training sentences; each of the {n_test} test trials picks the test "
        "sentence whose embedding is closest (centred cosine)."
    ),
    "story": (
        "A held-out run of {n_test_words} words; BOLD of {n_voxels} voxels simulated from "
        "the word features of {lm} (TR {tr} s). The LM proposes words, a ridge encoding model "
        "scores them (beam width {beam_width}); text metrics in {window_s} s windows."
    ),
}


def add_decoding_section(
    rep: Any, arrays: dict[str, np.ndarray], summary: dict[str, Any], *, number: str = ""
) -> None:
    """Add the decoding results (from ``results.h5`` / ``summary.json``) to a report.

    Parameters
    ----------
    rep : brainalign.report.Report
    arrays : dict of str to ndarray
        The ``decoding`` group of ``results.h5``.
    summary : dict
        The ``decoding`` entry of ``summary.json``.
    number : str
        Prefix of the section titles (e.g. ``"3."``).
    """
    nulls = ", ".join(summary.get("nulls", []))
    refit = "refit on null training data" if summary.get("null_refit") else "test input only"
    for i, task in enumerate(summary.get("tasks", [])):
        info = summary[task]
        prefix = f"{number}{i + 1} " if number else ""
        intro = _INTRO[task].format(**info)
        rep.add_section(
            f"{prefix}Decoding: {task}",
            intro + f" Null controls ({nulls}; {refit}) run through the same pipeline; "
            "every score is shown beside its null and chance.",
        )
        rep.add_metrics(_key_cards(summary, task))
        if f"{task}.stimuli" in arrays:
            rep.add_figure(
                _image_grid(arrays, task, summary),
                "Top row: the true test images. Under them: the reconstructions decoded from "
                "the brain responses, then reconstructions from the null inputs (first null "
                "run).",
            )
        if task == "sentences":
            rows = [
                {"✓": "✓" if ex["truth"] == ex["decoded"] else "", **ex}
                for ex in info.get("examples", [])
            ]
            rep.add_table(rows, caption="Decoded sentences beside the truth (first test trials)")
        if task == "story":
            rows = [{"text": "truth", "words": info["truth"]}]
            rows.append({"text": "decoded", "words": info["decoded"]})
            for kind, text in info.get("null_decoded", {}).items():
                rows.append({"text": f"{kind} null", "words": text})
            rep.add_table(rows, caption="Held-out run: decoded words beside the truth")
        fig = _null_plot(summary, task)
        if fig is not None:
            rep.add_figure(
                fig,
                "Each headline score (red) against its null runs (dots: permuted-brain and "
                "noise inputs through the same decoder) and chance (dashed).",
            )
        _metric_table(rep, summary, task)
        if task in ("faces", "digits") and info.get("metric_size") is None:
            rep.add_note(
                "PixCorr and SSIM are computed at the native image size (the NSD protocol "
                "resizes to 425 × 425; set metric_size: 425 to reproduce it). Chance for "
                "PixCorr / SSIM: another test image taken as the reconstruction."
            )


def build_decode_report(results_dir: str | Path, out: str | Path | None = None) -> Path:
    """Render the report of a ``brainalign decode`` results folder from its files only.

    Parameters
    ----------
    results_dir : path
        A folder written by :func:`~brainalign.study.run_decoding`.
    out : path or None
        The report file (default ``results_dir/report.html``).

    Returns
    -------
    Path
    """
    from brainalign.report import Report
    from brainalign.study._demo import load_demo_results

    arrays, summary = load_demo_results(results_dir)
    if "decoding" not in summary:
        raise ValueError(
            f"`results_dir` {str(results_dir)!r} holds no decoding results (no 'decoding' entry "
            "in summary.json); was it written by `brainalign decode` or `brainalign demo`?"
        )
    dec = summary["decoding"]
    rep = Report(
        f"brainalign — decoding study: {summary.get('name', '')}".rstrip(": "),
        subtitle="Brain → latent / embedding → image or text, every score beside its null "
        "(permuted brain, noise input) and chance. Every number below was computed by this run.",
    )
    add_decoding_section(rep, arrays.get("decoding", {}), dec)
    rep.add_section("Provenance")
    rep.add_table(summary.get("versions", {}), caption="Package versions")
    rep.add_table(summary.get("timings_s", {}), caption="Timings (s)", float_fmt=".1f")
    if dec.get("inputs"):
        rep.add_table(dec["inputs"], caption="Models used")
    rep.add_code(dec.get("config", {}))
    return rep.save(Path(out) if out is not None else Path(results_dir) / "report.html")
