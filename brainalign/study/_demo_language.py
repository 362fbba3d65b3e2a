"""The embedded default study, part 1: language on the cortical surface, ground truth known.

A reading paradigm (words shown at a fixed rate, over several runs) built from a text written
for the project; per-word SmolLM2 features (real weights, shipped in a registry package);
BOLD simulated on nilearn's fsaverage5 mesh from planted band weights organised by functional
network, convolved with an HRF, plus **real** resting-state fMRI noise (brainspace's fsaverage5
run). A banded ridge with FIR delays is then fitted with leave-one-run-out CV, as for real data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._logging import logger

__all__ = [
    "BAND_SHARES_BY_NETWORK",
    "LanguageDemoConfig",
    "make_reading_events",
    "read_demo_story",
    "run_language_demo",
    "simulate_network_responses",
]

#: Planted share of the signal variance carried by each band, per functional network
#: (Seitzman et al. 2018 networks). Networks not listed carry no stimulus signal.
BAND_SHARES_BY_NETWORK: dict[str, dict[str, float]] = {
    "DefaultMode": {"llm": 0.85, "word_rate": 0.15, "word_length": 0.0},
    "FrontoParietal": {"llm": 0.65, "word_rate": 0.15, "word_length": 0.2},
    "VentralAttention": {"llm": 0.45, "word_rate": 0.35, "word_length": 0.2},
    "CinguloOpercular": {"llm": 0.3, "word_rate": 0.5, "word_length": 0.2},
    "Auditory": {"llm": 0.4, "word_rate": 0.4, "word_length": 0.2},
    "Visual": {"llm": 0.0, "word_rate": 0.4, "word_length": 0.6},
    "DorsalAttention": {"llm": 0.1, "word_rate": 0.5, "word_length": 0.4},
}
#: Signal-to-noise ratio (variance) planted in each signal network.
SNR_BY_NETWORK: dict[str, float] = {
    "DefaultMode": 0.35,
    "FrontoParietal": 0.3,
    "VentralAttention": 0.25,
    "CinguloOpercular": 0.25,
    "Auditory": 0.3,
    "Visual": 0.5,
    "DorsalAttention": 0.2,
}
BANDS = ("llm", "word_rate", "word_length")


@dataclass
class LanguageDemoConfig:
    """Settings of the language part of the demo (defaults: the full study).

    Attributes
    ----------
    tr : float
        Repetition time of the simulated acquisition (s).
    word_soa : float
        Stimulus onset asynchrony of the words (s): 0.4 s is 150 words per minute.
    word_duration : float
        How long each word stays on screen (s).
    lead_in, tail : float
        Blank screen before the first and after the last word of each run (s).
    context : int
        SmolLM2 context budget in tokens (strided extraction).
    fit_layer : int
        The SmolLM2 hidden state used as the "llm" band of the banded model (about 2/3 of the
        depth, a common choice in the literature).
    planted_layer : int
        The hidden state the simulated brain "uses" for its llm band.
    scan_layers : tuple of int
        Layers compared one by one in the layer-wise analysis.
    n_components : int
        The planted llm weights live in the span of this many principal components of the
        planted layer (brain tuning is smooth and low-dimensional).
    delays : tuple of float
        FIR delays of the fitted model (s).
    n_iter : int
        Band weightings tried by the banded-ridge random search.
    alphas : tuple of float
        Overall penalties of the search (9 values, as in himalaya's tutorials).
    max_words : int or None
        Keep only this many words per run (quick mode).
    n_vertices : int or None
        Fit a random subset of this many vertices (quick mode); ``None`` fits all.
    seed : int
        Seed of the planted weights and of the random search.
    """

    tr: float = 2.0
    word_soa: float = 0.4
    word_duration: float = 0.3
    lead_in: float = 10.0
    tail: float = 16.0
    context: int = 256
    fit_layer: int = 20
    planted_layer: int = 20
    scan_layers: tuple[int, ...] = (0, 5, 10, 15, 20, 25, 30)
    n_components: int = 24
    delays: tuple[float, ...] = (2.0, 4.0, 6.0, 8.0)
    n_iter: int = 10
    alphas: tuple[float, ...] = tuple(float(a) for a in np.logspace(-1, 7, 9))
    max_words: int | None = None
    n_vertices: int | None = None
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def read_demo_story(path: str | Path | None = None) -> list[list[str]]:
    """The demo's stimulus text as runs of words (blank lines separate runs).

    Lines starting with ``#`` are comments. The default text ships with brainalign
    (``brainalign/datasets/data/reading_story.txt``, written for the project, CC0).

    Returns
    -------
    runs : list of list of str
        The words of each run, punctuation attached as printed on screen.
    """
    if path is None:
        text = resources.files("brainalign.datasets").joinpath("data/reading_story.txt")
        content = text.read_text(encoding="utf-8")
    else:
        content = Path(path).read_text(encoding="utf-8")
    runs, current = [], []
    for line in content.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                runs.append(current)
                current = []
            continue
        current.extend(line.split())
    if current:
        runs.append(current)
    if not runs:
        raise ValueError(f"the story text {path or 'reading_story.txt'!r} holds no words")
    return runs


def make_reading_events(
    words: list[str], *, soa: float, duration: float, lead_in: float, tail: float, tr: float
) -> tuple[Any, int]:
    """Word events of one run of the reading paradigm, and the run length in TRs.

    Returns
    -------
    events : pandas.DataFrame
        ``onset``, ``duration``, ``type`` (``"Word"``), ``text``.
    n_trs : int
        Enough TRs to cover the lead-in, the words and the tail.
    """
    from brainalign.data import make_events

    onsets = lead_in + soa * np.arange(len(words))
    events = make_events(onsets, duration=duration, type="Word", text=list(words))
    n_trs = int(np.ceil((onsets[-1] + duration + tail) / tr))
    return events, n_trs


def simulate_network_responses(
    bands: dict[str, np.ndarray],
    labels: np.ndarray,
    names: list[str],
    noise: np.ndarray,
    *,
    components: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Planted responses: network-organised band weights, fixed SNR, real noise.

    Parameters
    ----------
    bands : dict of str to ndarray, shape (n_samples, n_features_band)
        HRF-convolved features on the TR grid, z-scored per run (the simulated brain's input).
    labels : ndarray of int, shape (n_vertices,)
        Network index of each vertex (``-1``: none), see :func:`fsaverage_networks`.
    names : list of str
        Network names.
    noise : ndarray, shape (n_samples, n_vertices)
        Real noise, z-scored per vertex (constant vertices stay 0).
    components : ndarray, shape (n_features_llm, n_components) or None
        Orthonormal basis in which the llm weights are drawn.
    seed : int

    Returns
    -------
    Y : ndarray, shape (n_samples, n_vertices), float32
    truth : dict
        ``shares`` (n_bands, n_vertices), ``snr`` (n_vertices,), ``signal_var`` and the
        planted weights per band (``weights[band]``: (n_features_band, n_vertices)).
    """
    rng = np.random.default_rng(seed)
    n_samples, n_vertices = noise.shape
    shares = np.zeros((len(BANDS), n_vertices))
    snr = np.zeros(n_vertices)
    for k, name in enumerate(names):
        sel = labels == k
        if name in BAND_SHARES_BY_NETWORK:
            shares[:, sel] = np.array([BAND_SHARES_BY_NETWORK[name][b] for b in BANDS])[:, None]
            snr[sel] = SNR_BY_NETWORK[name]
    # vertex-to-vertex variation of the SNR inside a network (0.5x to 1.5x)
    snr *= rng.uniform(0.5, 1.5, n_vertices)
    signal = np.zeros((n_samples, n_vertices))
    weights: dict[str, np.ndarray] = {}
    for b, band in enumerate(BANDS):
        X = np.asarray(bands[band], dtype=float)
        d = X.shape[1]
        basis = components if (band == "llm" and components is not None) else np.eye(d)
        # one tuning vector per network, plus vertex-specific deviations (30 %)
        net_w = rng.standard_normal((basis.shape[1], len(names)))
        vert_w = net_w[:, np.clip(labels, 0, None)] + 0.3 * rng.standard_normal(
            (basis.shape[1], n_vertices)
        )
        W = basis @ vert_w
        part = X @ W
        std = part.std(0)
        part = part / np.where(std > 0, std, 1.0)
        weights[band] = W / np.where(std > 0, std, 1.0)
        signal += np.sqrt(shares[b]) * part
    signal *= np.sqrt(snr)
    Y = (signal + noise).astype(np.float32)
    truth = {"shares": shares, "snr": snr, "weights": weights, "signal": signal}
    return Y, truth


def _extract_words(runs_events: list[Any], cfg: LanguageDemoConfig, cache_dir: Path, verbose: Any):
    from brainalign.datasets import file_sha256
    from brainalign.features import (
        TextExtractor,
        smollm2_gguf_path,
        smollm2_path,
        word_length,
        word_rate,
    )

    t0 = time.perf_counter()
    model_dir = smollm2_path()
    t_model = time.perf_counter() - t0
    gguf = smollm2_gguf_path()
    model_info = {"file": gguf.name, "sha256": file_sha256(gguf), "local_copy": str(model_dir)}
    ext = TextExtractor(
        model=str(model_dir), context=cfg.context, cache_dir=str(cache_dir), verbose=verbose
    )
    llm, rate, length = [], [], []
    t0 = time.perf_counter()
    for events in runs_events:
        llm.append(ext.extract(events))
        rate.append(word_rate(events))
        length.append(word_length(events))
    t_extract = time.perf_counter() - t0
    timings = {"smollm2_ready_s": t_model, "extract_s": t_extract}
    return llm, rate, length, timings, model_info


def _brain_noise(n_samples: int, vertices: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    from brainalign.io import read_brainspace_rest

    rec = read_brainspace_rest()
    if rec.n_times < n_samples:
        raise ValueError(
            f"the demo needs {n_samples} TRs of real noise; the brainspace run has {rec.n_times}. "
            "Use fewer words per run (`max_words`)."
        )
    noise = np.asarray(rec.data[:n_samples][:, vertices], dtype=np.float64)
    noise -= noise.mean(0)
    std = noise.std(0)
    noise /= np.where(std > 0, std, 1.0)
    info = {
        "source": str(rec.metadata.get("source_files", rec.metadata.get("source", ""))),
        "sha256": rec.metadata.get("sha256", {}),
        "n_times_used": n_samples,
    }
    return noise, info


class _Stages:
    """One progress bar over the named stages of a long job (silenced like every bar)."""

    def __init__(self, names: list[str], desc: str, verbose: bool | None) -> None:
        from brainalign._logging import _progress_enabled

        self.bar = None
        if _progress_enabled(verbose):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=len(names), desc=desc, leave=True)
            self.bar.set_postfix_str(names[0])
        self.names = names
        self.i = 0

    def done(self) -> None:
        self.i += 1
        if self.bar is not None:
            self.bar.update(1)
            if self.i < len(self.names):
                self.bar.set_postfix_str(self.names[self.i])
            else:
                self.bar.close()


def run_language_demo(
    cfg: LanguageDemoConfig | None = None,
    *,
    cache_dir: str | Path,
    verbose: bool | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Run the language part of the demo.

    Parameters
    ----------
    cfg : LanguageDemoConfig or None
    cache_dir : path
        Feature cache (SmolLM2 states per run; a second run reuses them).
    verbose : bool or None
        Progress bars.

    Returns
    -------
    arrays : dict of str to ndarray
        Per-vertex maps (``r``, ``r_null_p``, ``split_r2``, ``planted_shares``,
        ``estimated_shares``, ``snr``, ``network``), layer-wise scores, and the vertex indices
        that were fitted (``vertices``) among the 20484 of fsaverage5.
    summary : dict
        Scalars: scores, recovery figures, sizes, timings, provenance.
    """
    from brainalign.alignment import detrend_runs, make_design
    from brainalign.data import Recording, Space
    from brainalign.datasets._cortex import fsaverage_networks
    from brainalign.encoders import BandedRidgeEncoder, RidgeEncoder
    from brainalign.evaluation import (
        LeaveOneRunOut,
        block_permutation_test,
        cross_validate_encoder,
        fdr_correction,
    )

    cfg = cfg or LanguageDemoConfig()
    timings: dict[str, float] = {}
    stages = _Stages(
        [
            "SmolLM2 features",
            "real noise",
            "simulation",
            "banded ridge (LORO)",
            "null",
            "layer scan",
        ],
        "language study",
        verbose,
    )
    story = read_demo_story()
    runs_events, n_trs = [], []
    for words in story:
        words = words[: cfg.max_words] if cfg.max_words else words
        ev, n = make_reading_events(
            words,
            soa=cfg.word_soa,
            duration=cfg.word_duration,
            lead_in=cfg.lead_in,
            tail=cfg.tail,
            tr=cfg.tr,
        )
        runs_events.append(ev)
        n_trs.append(n)
    n_words = int(sum(len(e) for e in runs_events))
    stim_minutes = n_words * cfg.word_soa / 60.0
    logger.info("reading paradigm: %d runs, %d words, %.1f min", len(story), n_words, stim_minutes)

    llm, rate, length, t_feat, model_info = _extract_words(
        runs_events, cfg, Path(cache_dir), verbose
    )
    timings.update(t_feat)
    stages.done()

    # ---------------------------------------------------------------- cortex and real noise
    t0 = time.perf_counter()
    labels_all, net_names = fsaverage_networks("fsaverage5", max_distance=12.0)
    n_total = int(sum(n_trs))
    noise_all, noise_info = _brain_noise(n_total, np.arange(labels_all.size))
    alive = noise_all.std(0) > 0  # the medial wall is constant in the real run
    vertices = np.flatnonzero(alive)
    if cfg.n_vertices is not None and cfg.n_vertices < vertices.size:
        rng = np.random.default_rng(cfg.seed)
        vertices = np.sort(rng.choice(vertices, cfg.n_vertices, replace=False))
    labels = labels_all[vertices]
    noise = noise_all[:, vertices]
    timings["noise_s"] = time.perf_counter() - t0
    stages.done()

    # ------------------------------------------------------------ simulate the planted brain
    t0 = time.perf_counter()
    space = Space.generic(vertices.size, name="fsaverage5-subset")
    empty = [
        Recording(np.zeros((n, 1), np.float32), sfreq=1 / cfg.tr, modality="fmri") for n in n_trs
    ]
    layer_name = f"layer_{cfg.planted_layer}"
    sim_feats = [
        {"llm": f.select(layer_name), "word_rate": r, "word_length": w}
        for f, r, w in zip(llm, rate, length)
    ]
    sim = make_design(empty, sim_feats, hrf_model="glover", zscore=True, verbose=False)
    X_llm = sim.bands["llm"]
    _, _, vt = np.linalg.svd(X_llm - X_llm.mean(0), full_matrices=False)
    components = vt[: cfg.n_components].T
    Y, truth = simulate_network_responses(
        sim.bands, labels, net_names, noise, components=components, seed=cfg.seed
    )
    timings["simulate_s"] = time.perf_counter() - t0
    stages.done()

    # ------------------------------------------------------------- fit as one would real data
    t0 = time.perf_counter()
    # per-run quadratic detrending of the responses, as fMRI preprocessing does: the real
    # noise drifts over the session, and an undetrended drift would be "predicted" by any
    # band with the same slow on/off profile in every run
    run_ids = np.repeat(np.arange(len(n_trs)), n_trs)
    Y = detrend_runs(Y, run_ids, order=2)
    recs, start = [], 0
    for n in n_trs:
        recs.append(Recording(Y[start : start + n], sfreq=1 / cfg.tr, modality="fmri", space=space))
        start += n
    fit_name = f"layer_{cfg.fit_layer}"
    fit_feats = [
        {"llm": f.select(fit_name), "word_rate": r, "word_length": w}
        for f, r, w in zip(llm, rate, length)
    ]
    design = make_design(recs, fit_feats, delays=list(cfg.delays), zscore=True, verbose=False)
    timings["design_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    encoder = BandedRidgeEncoder(
        alphas=np.asarray(cfg.alphas),
        n_iter=cfg.n_iter,
        random_state=cfg.seed,
        warn_alpha_edge=False,
        verbose=False,
    )
    cvres = cross_validate_encoder(
        encoder,
        design.bands,
        design.Y,
        groups=design.groups,
        cv=LeaveOneRunOut(),
        return_estimators=True,
        verbose=verbose,
    )
    timings["banded_fit_s"] = time.perf_counter() - t0
    stages.done()
    r = cvres.mean_scores
    split = np.mean(
        [
            est.score_split({k: v[test] for k, v in design.bands.items()}, design.Y[test])
            for est, test in zip(cvres.estimators, cvres.test_indices)
        ],
        axis=0,
    )

    t0 = time.perf_counter()
    perm = block_permutation_test(
        design.Y,
        cvres.predictions,
        n_permutations=200,
        block_size=max(1, round(20.0 / cfg.tr)),
        groups=design.groups,
        random_state=cfg.seed,
    )
    rejected, p_fdr = fdr_correction(perm.pvalues, alpha=0.05)
    timings["permutation_s"] = time.perf_counter() - t0
    stages.done()

    # ------------------------------------------------------------------ recovery figures
    planted = truth["shares"]
    has_signal = truth["snr"] > 0
    est = np.clip(split, 0, None)
    total = est.sum(0)
    est_shares = np.where(total > 0, est / np.where(total > 0, total, 1.0), np.nan)
    # vertices with planted signal, detected, and a positive joint held-out R² to split
    use = has_signal & rejected & np.isfinite(est_shares).all(0)
    share_corr = {
        band: float(np.corrcoef(planted[b, use], est_shares[b, use])[0, 1])
        if use.sum() > 2 and planted[b, use].std() > 0
        else float("nan")
        for b, band in enumerate(BANDS)
    }
    detect = {
        "hit_rate": float(rejected[has_signal].mean()) if has_signal.any() else float("nan"),
        "false_positive_rate": float(rejected[~has_signal].mean())
        if (~has_signal).any()
        else float("nan"),
        # what FDR controls: the share of the discoveries that have no planted signal
        "false_discovery_proportion": float((rejected & ~has_signal).sum() / rejected.sum())
        if rejected.any()
        else 0.0,
    }

    # ---------------------------------------------------------------- layer-wise analysis
    t0 = time.perf_counter()
    llm_vertices = np.flatnonzero(has_signal & (planted[0] >= 0.4))
    rng = np.random.default_rng(cfg.seed + 1)
    if llm_vertices.size > 1500:
        llm_vertices = np.sort(rng.choice(llm_vertices, 1500, replace=False))
    layer_scores, layer_sem = [], []
    for layer in cfg.scan_layers:
        feats = [{"llm": f.select(f"layer_{layer}")} for f in llm]
        recs_l = [
            Recording(rec.data[:, llm_vertices], sfreq=1 / cfg.tr, modality="fmri") for rec in recs
        ]
        d = make_design(recs_l, feats, delays=list(cfg.delays), zscore=True, verbose=False)
        res = cross_validate_encoder(
            RidgeEncoder(warn_alpha_edge=False),
            d.X,
            d.Y,
            groups=d.groups,
            cv=LeaveOneRunOut(),
            verbose=False,
        )
        layer_scores.append(float(np.mean(res.mean_scores)))
        layer_sem.append(float(np.std(res.mean_scores) / np.sqrt(res.mean_scores.size)))
    timings["layer_scan_s"] = time.perf_counter() - t0
    stages.done()
    best_layer = int(cfg.scan_layers[int(np.argmax(layer_scores))])

    arrays = {
        "vertices": vertices.astype(np.int64),
        "r": r.astype(np.float32),
        "p_fdr": p_fdr.astype(np.float32),
        "significant": rejected.astype(np.int8),
        "split_r2": split.astype(np.float32),
        "planted_shares": planted.astype(np.float32),
        "estimated_shares": est_shares.astype(np.float32),
        "snr": truth["snr"].astype(np.float32),
        "network": labels.astype(np.int16),
        "null_scores": perm.null[:20].astype(np.float32),
        "layer_ids": np.asarray(cfg.scan_layers, dtype=np.int64),
        "layer_scores": np.asarray(layer_scores, dtype=np.float32),
        "layer_sem": np.asarray(layer_sem, dtype=np.float32),
        "band_alphas": np.median(
            np.stack([e.band_alphas_ for e in cvres.estimators]), axis=0
        ).astype(np.float32),
    }
    summary = {
        "n_runs": len(runs_events),
        "n_words": n_words,
        "stimulation_minutes": round(stim_minutes, 2),
        "tr_s": cfg.tr,
        "n_samples": int(design.n_samples),
        "n_vertices_fitted": int(vertices.size),
        "n_vertices_mesh": int(labels_all.size),
        "bands": design.band_sizes,
        "fit_layer": cfg.fit_layer,
        "planted_layer": cfg.planted_layer,
        "best_scan_layer": best_layer,
        "median_r_signal": float(np.median(r[has_signal])) if has_signal.any() else None,
        "median_r_no_signal": float(np.median(r[~has_signal])) if (~has_signal).any() else None,
        "n_significant_fdr": int(rejected.sum()),
        "detection": detect,
        "share_recovery_corr": share_corr,
        "n_vertices_for_share_recovery": int(use.sum()),
        "networks": net_names,
        "noise": noise_info,
        "model": model_info,
        "config": {k: v for k, v in cfg.__dict__.items() if k != "extra"},
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
    }
    return arrays, summary
