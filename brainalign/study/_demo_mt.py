"""The embedded default study, part 2: real event-related fMRI from area MT (nitime).

Three analyses of one real recording (3360 TRs of 2 s, six motion conditions, 96 trials each):

1. an FIR estimate of the haemodynamic response per condition, with 95 % confidence bands
   from a leave-one-block-out jackknife;
2. the cross-validated encoding score of the condition model (FIR ridge, blocked folds),
   against a block-permutation null;
3. decoding of the condition of each trial from its response window, against chance and a
   label-permutation null.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

__all__ = ["MT_FIR_DELAYS", "run_mt_demo"]

#: FIR delays (s) of the condition model: 0 to 20 s in steps of one TR.
MT_FIR_DELAYS = tuple(float(d) for d in np.arange(0, 22, 2.0))


def _condition_regressors(rec: Any) -> tuple[np.ndarray, list[int]]:
    """Unit impulses at the onset TR of each trial, one column per condition."""
    ev = rec.events
    conditions = sorted(int(c) for c in ev["condition"].unique())
    X = np.zeros((rec.n_times, len(conditions)))
    idx = np.rint((ev["onset"].to_numpy() - rec.times[0]) * rec.sfreq).astype(int)
    for j, c in enumerate(conditions):
        X[idx[ev["condition"].to_numpy() == c], j] = 1.0
    return X, conditions


def _jackknife_fir(
    X: np.ndarray, y: np.ndarray, n_blocks: int, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge FIR coefficients on all data and their jackknife standard errors."""
    from brainalign.encoders import RidgeEncoder

    full = RidgeEncoder(alphas=[alpha]).fit(X, y).coef_[:, 0]
    edges = np.linspace(0, X.shape[0], n_blocks + 1).astype(int)
    reps = []
    for k in range(n_blocks):
        keep = np.r_[0 : edges[k], edges[k + 1] : X.shape[0]]
        reps.append(RidgeEncoder(alphas=[alpha]).fit(X[keep], y[keep]).coef_[:, 0])
    reps = np.asarray(reps)
    se = np.sqrt((n_blocks - 1) / n_blocks * ((reps - reps.mean(0)) ** 2).sum(0))
    return full, se


def _decode(rec: Any, n_lags: int, n_folds: int, n_permutations: int, seed: int) -> dict[str, Any]:
    """Condition decoding from each trial's response window (contiguous folds in time)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y_bold = rec.data[:, 0].astype(float)
    ev = rec.events
    idx = np.rint((ev["onset"].to_numpy() - rec.times[0]) * rec.sfreq).astype(int)
    ok = idx + n_lags <= y_bold.size
    idx, labels = idx[ok], ev["condition"].to_numpy()[ok].astype(int)
    feats = np.stack([y_bold[i : i + n_lags] - y_bold[i] for i in idx])
    folds = list(KFold(n_splits=n_folds, shuffle=False).split(feats))

    def accuracy(lab: np.ndarray) -> float:
        hits = 0
        for train, test in folds:
            clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=1.0))
            clf.fit(feats[train], lab[train])
            hits += int((clf.predict(feats[test]) == lab[test]).sum())
        return hits / lab.size

    acc = accuracy(labels)
    rng = np.random.default_rng(seed)
    null = np.array([accuracy(rng.permutation(labels)) for _ in range(n_permutations)])
    chance = float(np.max(np.bincount(labels)) / labels.size)
    return {
        "accuracy": acc,
        "chance": chance,
        "null": null,
        "p_value": float((1 + np.sum(null >= acc)) / (1 + n_permutations)),
        "n_trials": int(labels.size),
        "n_lags": n_lags,
    }


def run_mt_demo(
    *,
    n_permutations: int = 1000,
    n_decoding_permutations: int = 100,
    seed: int = 0,
    verbose: bool | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Run the real-data part of the demo on nitime's event-related MT recording.

    Parameters
    ----------
    n_permutations : int
        Block permutations of the encoding null.
    n_decoding_permutations : int
        Label permutations of the decoding null.
    seed : int
    verbose : bool or None
        A progress bar over the three analyses.

    Returns
    -------
    arrays : dict of str to ndarray
        ``fir_times`` (n_delays,), ``fir`` / ``fir_se`` (n_delays, n_conditions),
        ``fold_scores``, ``null_scores``, ``decoding_null``.
    summary : dict
        Scores, p-values, peak latencies, sizes, timings and the data file's sha256.
    """
    from brainalign.alignment import Delayer
    from brainalign.encoders import RidgeEncoder
    from brainalign.evaluation import BlockedKFold, block_permutation_test, cross_validate_encoder
    from brainalign.io import read_nitime_event_related
    from brainalign.study._demo_language import _Stages

    stages = _Stages(["FIR", "encoding + null", "decoding + null"], "MT fMRI (nitime)", verbose)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    rec = read_nitime_event_related()
    X0, conditions = _condition_regressors(rec)
    delayer = Delayer(delays=MT_FIR_DELAYS, sfreq=rec.sfreq)
    X = delayer.fit_transform(X0)
    y = rec.data.astype(float)

    # the single run is cut into 10 contiguous segments for blocked cross-validation
    segments = np.repeat(np.arange(10), int(np.ceil(y.shape[0] / 10)))[: y.shape[0]]

    # 1. FIR with a penalty chosen by blocked CV on the whole run (descriptive estimate)
    selector = RidgeEncoder(alphas=np.logspace(-2, 4, 13), cv=BlockedKFold(n_splits=5))
    selector.fit(X, y, groups=segments)
    alpha = float(selector.alphas_[0])
    coef, se = _jackknife_fir(X, y, n_blocks=10, alpha=alpha)
    fir = delayer.reshape_by_delays(coef[:, None])[:, :, 0]  # (n_delays, n_conditions)
    fir_se = delayer.reshape_by_delays(se[:, None])[:, :, 0]
    fir_times = np.asarray(MT_FIR_DELAYS)
    mean_fir = fir.mean(1)
    peak = float(fir_times[int(np.argmax(mean_fir))])
    timings["fir_s"] = time.perf_counter() - t0
    stages.done()

    # 2. cross-validated encoding score (nested: the penalty is chosen inside each fold)
    t0 = time.perf_counter()
    res = cross_validate_encoder(
        RidgeEncoder(alphas=np.logspace(-2, 4, 13), cv=BlockedKFold(n_splits=4)),
        X,
        y,
        groups=segments,
        cv=BlockedKFold(n_splits=5),
        verbose=False,
    )
    perm = block_permutation_test(
        y,
        res.predictions,
        n_permutations=n_permutations,
        block_size=20,
        groups=None,
        random_state=seed,
    )
    timings["encoding_s"] = time.perf_counter() - t0
    stages.done()

    # 3. decoding
    t0 = time.perf_counter()
    dec = _decode(rec, n_lags=8, n_folds=5, n_permutations=n_decoding_permutations, seed=seed)
    timings["decoding_s"] = time.perf_counter() - t0
    stages.done()

    arrays = {
        "fir_times": fir_times,
        "fir": fir.astype(np.float32),
        "fir_se": fir_se.astype(np.float32),
        "fold_scores": np.asarray(res.scores, dtype=np.float32),
        "null_scores": np.asarray(perm.null, dtype=np.float32).ravel(),
        "decoding_null": dec.pop("null").astype(np.float32),
    }
    summary = {
        "n_samples": int(rec.n_times),
        "tr_s": float(1 / rec.sfreq),
        "n_conditions": len(conditions),
        "n_trials": len(rec.events),
        "fir_alpha": alpha,
        "fir_peak_s": peak,
        "encoding_r": float(res.mean_scores[0]),
        "encoding_p": float(perm.pvalues[0]),
        "encoding_null_mean": float(np.mean(perm.null)),
        "encoding_null_q95": float(np.quantile(perm.null, 0.95)),
        "n_permutations": n_permutations,
        "decoding": dec,
        "data_sha256": rec.metadata.get("sha256"),
        "data_file": str(rec.metadata.get("source_file", "")),
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
    }
    return arrays, summary
