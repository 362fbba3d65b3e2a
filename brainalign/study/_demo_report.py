"""The HTML report of the embedded default study, rebuilt from saved results only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["build_demo_report"]

_N_VERTICES = 20484
_BANDS = ("llm", "word_rate", "word_length")


def _band_cmap() -> Any:
    from matplotlib.colors import ListedColormap

    return ListedColormap(["#d62728", "#1f77b4", "#2ca02c"], name="bands")


def _full_map(values: np.ndarray, vertices: np.ndarray, fill: float = np.nan) -> np.ndarray:
    out = np.full(_N_VERTICES, fill, dtype=float)
    out[vertices] = values
    return out


def _language_section(rep: Any, arr: dict[str, np.ndarray], s: dict[str, Any]) -> None:
    from brainalign.viz import (
        plot_layer_scores,
        plot_score_histogram,
        plot_surface_map,
    )

    v = arr["vertices"]
    rep.add_section(
        "1. Language on the cortical surface (semi-synthetic)",
        f"A reading paradigm: {s['n_words']} words of a story written for brainalign, shown one "
        f"at a time every {s['config']['word_soa']} s over {s['n_runs']} runs "
        f"({s['stimulation_minutes']} min of stimulation, TR {s['tr_s']} s). Word features: "
        f"SmolLM2-135M hidden states (real weights, strided causal context of "
        f"{s['config']['context']} tokens), word rate and word length. BOLD was simulated on "
        "fsaverage5 from planted weights organised by functional network (Seitzman et al. "
        "2018 coordinates, bundled with nilearn), convolved with the Glover HRF, and added to "
        "real resting-state fMRI noise (brainspace, same 20484 vertices), then detrended per run "
        "(quadratic). A banded ridge with "
        f"FIR delays {s['config']['delays']} s was then fitted with leave-one-run-out "
        "cross-validation, exactly as for real data.",
    )
    det = s["detection"]
    rep.add_metrics(
        {
            "median held-out r (signal vertices)": s["median_r_signal"],
            "median held-out r (no-signal vertices)": s["median_r_no_signal"],
            "vertices significant (FDR 5 %)": s["n_significant_fdr"],
            "hit rate": det["hit_rate"],
            "false-positive rate": det["false_positive_rate"],
            "false discovery proportion": det.get("false_discovery_proportion", float("nan")),
            "planted vs recovered llm share (r)": s["share_recovery_corr"]["llm"],
            "best SmolLM2 layer (planted: " + str(s["planted_layer"]) + ")": s["best_scan_layer"],
        }
    )
    r_map = _full_map(arr["r"], v)
    rep.add_figure(
        plot_surface_map(r_map, title="held-out r (leave-one-run-out)", colorbar_label="r"),
        "Held-out correlation between predicted and simulated BOLD per vertex. Grey: medial "
        "wall (constant in the real noise run) or vertices not fitted.",
    )
    sig = arr["significant"].astype(bool)
    planted = arr["planted_shares"]
    est = arr["estimated_shares"]
    has_signal = arr["snr"] > 0
    planted_dom = np.where(has_signal, np.argmax(planted, axis=0), np.nan)
    est_dom = np.where(
        sig & np.isfinite(est).all(0), np.nanargmax(np.nan_to_num(est), axis=0), np.nan
    )
    for values, title, caption in (
        (
            planted_dom,
            "planted dominant band",
            "The band that carries most of the planted signal at each vertex (grey: no signal).",
        ),
        (
            est_dom,
            "recovered dominant band",
            "The band with the largest held-out share of explained variance (variance "
            "partitioning, product measure) at each significant vertex.",
        ),
    ):
        rep.add_figure(
            plot_surface_map(
                _full_map(values, v), title=title, cmap=_band_cmap(), categories=list(_BANDS)
            ),
            caption,
        )
    llm_est = _full_map(np.where(sig, est[0], np.nan), v)
    rep.add_figure(
        plot_surface_map(
            llm_est,
            title="recovered share of the SmolLM2 band",
            vmin=0,
            vmax=1,
            colorbar_label="share of explained variance",
        ),
        "Estimated share of the llm band at significant vertices; compare with the planted "
        "network map above.",
    )
    rep.add_figure(
        plot_score_histogram(
            arr["r"], null=arr["null_scores"], title="held-out r against a block-permutation null"
        ),
        "Per-vertex held-out r (blue) and the same scores with block-permuted predictions "
        "(red outline, 20 of the permutations shown, rescaled).",
    )
    rep.add_figure(
        plot_layer_scores(
            [int(x) for x in arr["layer_ids"]],
            arr["layer_scores"],
            arr["layer_sem"],
            xlabel="SmolLM2 hidden state (0 = embeddings)",
            title="which layer explains the llm vertices best",
        ),
        "Mean held-out r of a ridge on one SmolLM2 layer at a time (FIR delays, leave-one-run-"
        f"out), over vertices with a planted llm share ≥ 0.4. The planted layer is "
        f"{s['planted_layer']}.",
    )
    rows = []
    for b, band in enumerate(_BANDS):
        rows.append(
            {
                "band": band,
                "features": s["bands"].get(band, ""),
                "mean planted share (signal)": float(planted[b, has_signal].mean())
                if has_signal.any()
                else float("nan"),
                "mean recovered share (significant)": float(np.nanmean(est[b, sig]))
                if sig.any()
                else float("nan"),
                "planted vs recovered r": s["share_recovery_corr"][band],
                "median band alpha": float(np.median(arr["band_alphas"][b])),
            }
        )
    rep.add_table(rows, caption="Variance partitioning: planted and recovered band shares")


def _mt_section(rep: Any, arr: dict[str, np.ndarray], s: dict[str, Any]) -> None:
    from brainalign.viz import plot_null_distribution, plot_response_curves

    rep.add_section(
        "2. Real data: event-related fMRI in area MT (nitime)",
        f"{s['n_samples']} TRs of {s['tr_s']} s of real BOLD from motion-sensitive voxels near "
        f"MT, {s['n_trials']} trials of {s['n_conditions']} motion conditions (nitime's "
        "event_related_fmri.csv). FIR model: one regressor per condition and delay "
        f"(0 to {int(arr['fir_times'][-1])} s), ridge penalty chosen by blocked CV.",
    )
    dec = s["decoding"]
    rep.add_metrics(
        {
            "FIR peak latency (s)": s["fir_peak_s"],
            "encoding r (5-fold blocked CV)": s["encoding_r"],
            "encoding p (block permutation)": s["encoding_p"],
            "decoding accuracy": dec["accuracy"],
            "chance": dec["chance"],
            "decoding p (label permutation)": dec["p_value"],
        }
    )
    t = arr["fir_times"]
    fir, se = arr["fir"], arr["fir_se"]
    curves = {f"condition {j + 1}": fir[:, j] for j in range(fir.shape[1])}
    bands = {
        f"condition {j + 1}": (fir[:, j] - 1.96 * se[:, j], fir[:, j] + 1.96 * se[:, j])
        for j in range(fir.shape[1])
    }
    rep.add_figure(
        plot_response_curves(
            t,
            curves,
            bands,
            ylabel="BOLD (% signal change)",
            title="FIR estimate of the haemodynamic response",
        ),
        "FIR estimates per condition with 95 % confidence bands (leave-one-block-out "
        "jackknife over 10 contiguous blocks of the run).",
    )
    rep.add_figure(
        plot_null_distribution(
            s["encoding_r"],
            arr["null_scores"],
            label="held-out r",
            title="condition model against a block-permutation null",
        ),
        f"Cross-validated r of the FIR condition model and {s['n_permutations']} block "
        "permutations of its held-out predictions (blocks of 20 TRs).",
    )
    rep.add_figure(
        plot_null_distribution(
            dec["accuracy"],
            arr["decoding_null"],
            label="accuracy",
            chance=dec["chance"],
            title="6-way condition decoding from single trials",
        ),
        f"Logistic regression on each trial's response window ({dec['n_lags']} TRs, "
        "baseline-subtracted), 5 contiguous folds, against label permutations. Trials "
        "overlap (median spacing 4 TRs), so single-trial windows mix neighbouring responses.",
    )


def _provenance(rep: Any, summary: dict[str, Any]) -> None:
    rep.add_section("Provenance")
    rep.add_table(summary.get("versions", {}), caption="Package versions")
    timings = dict(summary.get("timings_s", {}))
    for part in ("language", "mt", "decoding"):
        for k, val in summary.get(part, {}).get("timings_s", {}).items():
            timings[f"{part}.{k}"] = val
    rep.add_table(timings, caption="Timings (s)", float_fmt=".1f")
    hashes: dict[str, Any] = {}
    if "mt" in summary:
        hashes["nitime event_related_fmri.csv"] = summary["mt"].get("data_sha256")
    if "language" in summary:
        for hemi, h in summary["language"].get("noise", {}).get("sha256", {}).items():
            hashes[f"brainspace rest ({hemi})"] = h
        model = summary["language"].get("model", {})
        if model:
            hashes[f"SmolLM2 GGUF ({model.get('file', '')})"] = model.get("sha256")
    rep.add_table(hashes, caption="Data and model files (sha256)")
    inputs = summary.get("decoding", {}).get("inputs")
    if inputs:
        rep.add_table(inputs, caption="Decoding models")
    if "language" in summary:
        rep.add_code(summary["language"].get("config", {}))


def build_demo_report(results_dir: str | Path, out: str | Path | None = None) -> Path:
    """Render the demo's HTML report from ``results.h5`` and ``summary.json``.

    Parameters
    ----------
    results_dir : path
        A folder written by :func:`run_demo` (or :func:`save_demo_results`); a folder of
        :func:`~brainalign.study.run_decoding` gets its decoding report.
    out : path or None
        The report file (default ``results_dir/report.html``).

    Returns
    -------
    Path
        The self-contained HTML file.
    """
    from brainalign.report import Report
    from brainalign.study._demo import load_demo_results

    arrays, summary = load_demo_results(results_dir)
    if summary.get("kind") == "decoding":  # a `brainalign decode` folder
        from brainalign.study._decode_report import build_decode_report

        return build_decode_report(results_dir, out)
    rep = Report(
        "brainalign — embedded default study",
        subtitle="Banded-ridge encoding on fsaverage5 with real SmolLM2 features and real "
        "fMRI noise; FIR, encoding and decoding on real MT fMRI; brain → image (real DCGAN) "
        "and brain → sentence (real MiniLM) decoding beside their nulls. Every number below "
        "was computed by this run.",
    )
    if "language" in arrays:
        _language_section(rep, arrays["language"], summary["language"])
    if "mt" in arrays:
        _mt_section(rep, arrays["mt"], summary["mt"])
    if "decoding" in summary:
        from brainalign.study._decode_report import add_decoding_section

        add_decoding_section(rep, arrays.get("decoding", {}), summary["decoding"], number="3.")
    _provenance(rep, summary)
    return rep.save(Path(out) if out is not None else Path(results_dir) / "report.html")
