"""A results folder with the layout `brainalign demo` writes, from small random arrays."""

from __future__ import annotations

import numpy as np

from brainalign.study import save_demo_results


def _score_row(task, condition, metric, label, score, null_mean, chance, kind, rng, n_null=10):
    null = null_mean + 0.02 * rng.standard_normal(n_null)
    better = metric != "wer"
    extreme = int(np.sum(null >= score)) if better else int(np.sum(null <= score))
    return {
        "task": task,
        "condition": condition,
        "label": label,
        "metric": metric,
        "score": score,
        "null_mean": float(null.mean()),
        "null_std": float(null.std(ddof=1)),
        "null": null.tolist(),
        "chance": chance,
        "p_value": (1 + extreme) / (1 + n_null),
        "z": 0.0,
        "null_kind": kind,
        "refit": False,
        "n_null": n_null,
    }


def fake_decoding(rng, n_show=6):
    """The `decoding` part of a results folder (arrays, summary), as compute_decoding makes."""
    faces = [
        ("two_way_effnet", "two-way identification (EfficientNet-Lite0)", 0.8, 0.5, 0.5),
        ("two_way_pixels", "two-way identification (pixels)", 0.88, 0.5, 0.5),
        ("pixcorr", "PixCorr", 0.6, 0.45, 0.45),
        ("top1", "retrieval top-1 (brain → stimulus)", 0.9, 0.01, 0.01),
    ]
    text = [
        ("top1", "retrieval top-1 (brain → stimulus)", 0.2, 0.02, 1 / 55),
        ("bleu1", "BLEU-1", 0.35, 0.19, 0.17),
        ("wer", "WER (lower is better)", 0.8, 0.97, 0.97),
    ]
    rows = []
    for kind in ("permuted-brain", "noise"):
        for cond, drop in (("repeats", 0.0), ("single", 0.1)):
            for m, label, score, null, chance in faces:
                rows.append(
                    _score_row("faces", cond, m, label, score - drop, null, chance, kind, rng)
                )
        for m, label, score, null, chance in text:
            rows.append(_score_row("sentences", "single", m, label, score, null, chance, kind, rng))
    img = lambda: rng.integers(0, 256, (n_show, 64, 64, 3), dtype=np.uint8)  # noqa: E731
    arrays = {"faces.stimuli": img()}
    for cond in ("repeats", "single"):
        arrays[f"faces.recon.{cond}"] = img()
        for kind in ("permuted-brain", "noise"):
            arrays[f"faces.null.{kind}.{cond}"] = img()
    summary = {
        "config": {"tasks": ["faces", "sentences"]},
        "tasks": ["faces", "sentences"],
        "nulls": ["permuted-brain", "noise"],
        "null_refit": False,
        "scores": rows,
        "timings_s": {"faces": 30.0, "sentences": 5.0, "total": 35.0},
        "faces": {
            "n_train": 1000,
            "n_test": 100,
            "n_voxels": 1500,
            "r_range": [0.1, 0.3],
            "shared_noise": 0.3,
            "n_test_repeats": 3,
            "conditions": {
                "repeats": "test responses averaged over 3 repeats",
                "single": "single-trial test responses",
            },
            "repeats": {"repeats": 3, "single": 1},
            "identification": ["pixels", "efficientnet-lite0"],
            "metric_size": None,
            "generator_label": "packaged gan-face-generate weights",
            "n_latents": 100,
        },
        "sentences": {
            "n_sentences": 276,
            "n_train": 221,
            "n_test": 55,
            "n_voxels": 500,
            "snr": 0.1,
            "signal_fraction": 0.7,
            "conditions": {"single": "single-trial responses, candidates = the test sentences"},
            "examples": [
                {
                    "truth": "The cat sat <on> the mat.",
                    "decoded": "The cat sat <on> the mat.",
                    "null (permuted-brain)": "A dog & a bird.",
                    "null (noise)": "Rain fell all day.",
                },
                {
                    "truth": "We planted beans.",
                    "decoded": "Rain fell all day.",
                    "null (permuted-brain)": "We planted beans.",
                    "null (noise)": "A dog & a bird.",
                },
            ],
        },
        "inputs": {"faces.generator": "weights.tar", "sentences.embedder": "minilm"},
    }
    return arrays, summary


def write_fake_results(path, n_vertices=600, seed=0, decoding=True):
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
    arrays = {"language": language, "mt": mt}
    if decoding:
        arrays["decoding"], summary["decoding"] = fake_decoding(rng)
    save_demo_results(path, arrays, summary)
    return path
