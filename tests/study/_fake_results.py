"""A results folder with the layout `brainalign demo` writes, from small random arrays."""

from __future__ import annotations

import numpy as np

from brainalign.study import save_demo_results


def write_fake_results(path, n_vertices=600, seed=0):
    rng = np.random.default_rng(seed)
    v = np.sort(rng.choice(20484, n_vertices, replace=False))
    shares = rng.dirichlet(np.ones(3), n_vertices).T
    snr = np.where(rng.random(n_vertices) < 0.6, rng.uniform(0.1, 0.5, n_vertices), 0.0)
    r = np.where(snr > 0, 0.3, 0.0) + 0.05 * rng.standard_normal(n_vertices)
    fir_t = np.arange(0, 22, 2.0)
    hrf = np.exp(-((fir_t - 6) ** 2) / 8)
    language = {
        "vertices": v,
        "r": r.astype(np.float32),
        "p_fdr": np.where(r > 0.2, 0.001, 0.5),
        "significant": (r > 0.2).astype(np.int8),
        "split_r2": (shares * r**2).astype(np.float32),
        "planted_shares": shares,
        "estimated_shares": shares + 0.05 * rng.standard_normal(shares.shape),
        "snr": snr,
        "network": rng.integers(-1, 13, n_vertices),
        "null_scores": 0.05 * rng.standard_normal((20, n_vertices)),
        "layer_ids": np.array([0, 10, 20, 30]),
        "layer_scores": np.array([0.1, 0.2, 0.3, 0.25]),
        "layer_sem": np.full(4, 0.01),
        "band_alphas": rng.uniform(1, 100, (3, n_vertices)),
    }
    lang_summary = {
        "n_runs": 6,
        "n_words": 1997,
        "stimulation_minutes": 13.3,
        "tr_s": 2.0,
        "n_vertices_fitted": n_vertices,
        "bands": {"llm": 2304, "word_rate": 4, "word_length": 4},
        "planted_layer": 20,
        "best_scan_layer": 20,
        "median_r_signal": 0.3,
        "median_r_no_signal": 0.0,
        "n_significant_fdr": int((r > 0.2).sum()),
        "detection": {"hit_rate": 0.8, "false_positive_rate": 0.01},
        "share_recovery_corr": {"llm": 0.9, "word_rate": 0.8, "word_length": 0.7},
        "noise": {"sha256": {"left": "ab" * 32, "right": "cd" * 32}},
        "model": {"file": "SmolLM2.gguf", "sha256": "ef" * 32},
        "config": {"word_soa": 0.4, "context": 256, "delays": [2.0, 4.0, 6.0, 8.0]},
        "timings_s": {"banded_fit_s": 1.0},
    }
    mt = {
        "fir_times": fir_t,
        "fir": np.stack([hrf * (1 + 0.1 * k) for k in range(6)], axis=1),
        "fir_se": np.full((fir_t.size, 6), 0.05),
        "fold_scores": np.full((5, 1), 0.45),
        "null_scores": 0.03 * rng.standard_normal(200),
        "decoding_null": 1 / 6 + 0.02 * rng.standard_normal(50),
    }
    mt_summary = {
        "n_samples": 3360,
        "tr_s": 2.0,
        "n_conditions": 6,
        "n_trials": 576,
        "fir_peak_s": 6.0,
        "encoding_r": 0.45,
        "encoding_p": 0.001,
        "n_permutations": 200,
        "decoding": {"accuracy": 0.18, "chance": 1 / 6, "p_value": 0.2, "n_lags": 8},
        "data_sha256": "12" * 32,
        "timings_s": {"fir_s": 1.0},
    }
    summary = {
        "quick": True,
        "versions": {"numpy": np.__version__},
        "timings_s": {"total": 2.0},
        "language": lang_summary,
        "mt": mt_summary,
    }
    save_demo_results(path, {"language": language, "mt": mt}, summary)
    return path
