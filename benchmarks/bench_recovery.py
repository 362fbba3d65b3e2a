"""Planted-weight recovery of BandedRidgeEncoder (the figures quoted for the core issue).

Same setting as ``tests/test_recovery.py``: 2 bands (24 + 8 features), Dirichlet band shares
per target, HRF response, SNR log-uniform in [0.5, 3], 5 runs of 300 TRs; fit on runs 0-3
(inner leave-one-run-out CV), score on run 4. Prints JSON: held-out mean r, the oracle's
(noise-free signal) mean r, their gap, and the correlation between planted and estimated
band shares (from held-out variance partitioning). Not part of the test suite.

Usage::

    .venv/bin/python benchmarks/bench_recovery.py
"""

from __future__ import annotations

import json
import time

import numpy as np

from brainalign.datasets import make_encoding_data
from brainalign.encoders import BandedRidgeEncoder
from brainalign.evaluation import correlation_score


def main() -> dict:
    sim = make_encoding_data(
        n_runs=5,
        n_samples_per_run=300,
        band_sizes={"a": 24, "b": 8},
        n_targets=300,
        snr=(0.5, 3.0),
        response="hrf",
        random_state=0,
    )
    design = sim.to_design()
    train, test = design.groups < 4, design.groups == 4
    X_train = {k: v[train] for k, v in design.bands.items()}
    X_test = {k: v[test] for k, v in design.bands.items()}
    t0 = time.perf_counter()
    est = BandedRidgeEncoder(n_iter=20, random_state=0, verbose=False)
    est.fit(X_train, design.Y[train], groups=design.groups[train])
    fit_s = time.perf_counter() - t0
    r = est.score(X_test, design.Y[test], multioutput="raw_values")
    oracle = correlation_score(design.Y[test], sim.truth.signal[test])
    shares = np.clip(est.score_split(X_test, design.Y[test]), 0, None)
    shares = shares / shares.sum(0)
    out = {
        "heldout_mean_r": round(float(r.mean()), 4),
        "oracle_mean_r": round(float(oracle.mean()), 4),
        "gap_to_oracle": round(float(oracle.mean() - r.mean()), 4),
        "band_share_correlation": round(
            float(np.corrcoef(shares[0], sim.truth.band_shares[0])[0, 1]), 4
        ),
        "fit_s": round(fit_s, 2),
    }
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
