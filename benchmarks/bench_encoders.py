"""Speed and accuracy of BandedRidgeEncoder against himalaya and scikit-learn (one process).

Planted data as in reference/perf-calibration.md §2: ``Y = X1 W1 * mix + X2 W2 * (1 - mix) +
noise``, ``W ~ N(0, 1/p)``, ``mix ~ U(0, 1)`` per target, noise std 2.0, float32. Models:

- brainalign ``BandedRidgeEncoder`` with its default engine (brainalign's solver: numpy on the
  CPU, torch with ``--device cuda``); ``benchmarks/bench_banded_ridge.py`` is the detailed
  solver benchmark (both regimes, both himalaya estimators and backends, GFLOP/s);
- himalaya ``GroupRidgeCV`` called directly with identical settings (KFold(5), n_iter=20,
  alphas=logspace(-2, 6, 9), Dirichlet concentrations (0.1, 1), same seed, intercept);
- scikit-learn ``RidgeCV(alphas=same grid, alpha_per_target=True)`` on the concatenated
  features (efficient leave-one-out: scikit-learn only supports per-target alphas without cv).

brainalign and himalaya are timed alternately ``--repeats`` times; ratios use the best time
of each. Prints JSON and writes it to ``benchmarks/results/bench_encoders.json``
(``bench_encoders_quick.json`` with ``--quick``). Not part of the test suite; timings are
never asserted.

Usage::

    .venv/bin/python benchmarks/bench_encoders.py            # full size, a few minutes
    .venv/bin/python benchmarks/bench_encoders.py --quick    # smoke test, seconds
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ALPHAS = np.logspace(-2, 6, 9)
N_ITER = 20
SEED = 0


def make_data(n_train, n_test, p1, p2, n_targets, noise=2.0, seed=SEED):
    """The planted data of ``bench_banded_ridge.py`` (same generator, same seed)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_banded_ridge import make_data as planted

    return planted(n_train, n_test, p1, p2, n_targets, noise, seed=seed)


def _np(x):
    """himalaya's fitted arrays are torch tensors on the torch backends."""
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def blas_info():
    from threadpoolctl import threadpool_info

    keep = ("user_api", "internal_api", "prefix", "version", "threading_layer", "num_threads")
    return [
        {**{k: d.get(k) for k in keep}, "architecture": d.get("architecture")}
        for d in threadpool_info()
    ]


def run(args):
    from himalaya.backend import set_backend
    from himalaya.ridge import GroupRidgeCV
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold

    from brainalign.encoders import BandedRidgeEncoder
    from brainalign.evaluation import correlation_score

    if args.quick:
        sizes = dict(n_train=400, n_test=100, p1=40, p2=10, n_targets=200)
    else:
        sizes = dict(n_train=2400, n_test=600, p1=400, p2=100, n_targets=4000)
    (X1, X2, Y), (X1t, X2t, Yt) = make_data(**sizes)
    bands = {"band1": sizes["p1"], "band2": sizes["p2"]}
    X, Xt = np.concatenate([X1, X2], 1), np.concatenate([X1t, X2t], 1)
    set_backend("numpy")

    himalaya_backend = "torch_cuda" if args.device == "cuda" else "numpy"

    def fit_ours():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = BandedRidgeEncoder(
                bands=bands,
                alphas=ALPHAS,
                n_iter=N_ITER,
                cv=KFold(5),
                random_state=SEED,
                device=args.device,
            ).fit(X, Y)
        model._bench_warnings = [str(w.message)[:200] for w in caught]
        return model

    def fit_himalaya():
        params = dict(n_iter=N_ITER, alphas=ALPHAS, concentration=[0.1, 1.0], progress_bar=False)
        set_backend(himalaya_backend)
        try:
            return _fit_group_ridge(params)
        finally:
            set_backend("numpy")

    def _fit_group_ridge(params):
        return GroupRidgeCV(
            groups="input", solver_params=params, cv=KFold(5), random_state=SEED,
            fit_intercept=True,
        ).fit([X1, X2], Y)  # fmt: skip

    times = {"brainalign": [], "himalaya": []}
    models = {}
    for i in range(args.repeats):
        order = [("brainalign", fit_ours), ("himalaya", fit_himalaya)]
        if i % 2:
            order.reverse()
        for name, fit in order:
            t0 = time.perf_counter()
            models[name] = fit()
            times[name].append(time.perf_counter() - t0)
            print(
                f"[bench] {name} fit {i + 1}/{args.repeats}: {times[name][-1]:.1f} s",
                file=sys.stderr,
            )

    t0 = time.perf_counter()
    models["sklearn"] = RidgeCV(alphas=ALPHAS, alpha_per_target=True).fit(X, Y)
    times["sklearn"] = [time.perf_counter() - t0]
    print(f"[bench] sklearn fit: {times['sklearn'][0]:.1f} s", file=sys.stderr)

    preds = {
        "brainalign": models["brainalign"].predict(Xt),
        "himalaya": Xt @ _np(models["himalaya"].coef_) + _np(models["himalaya"].intercept_),
        "sklearn": models["sklearn"].predict(Xt),
    }
    r = {k: correlation_score(Yt, p) for k, p in preds.items()}
    signal = make_data(**sizes, noise=0.0)[1][2]  # same seed: the noiseless test responses
    oracle = correlation_score(Yt, signal)
    best = {k: min(v) for k, v in times.items()}
    result = {
        "benchmark": "bench_encoders",
        "quick": args.quick,
        "sizes": {**sizes, "dtype": "float32", "noise": 2.0},
        "settings": {
            "cv": "KFold(5)",
            "n_iter": N_ITER,
            "alphas": ALPHAS.tolist(),
            "concentration": [0.1, 1.0],
            "random_state": SEED,
            "fit_intercept": True,
            "backend": himalaya_backend,
            "device": args.device,
            "sklearn": "RidgeCV(alpha_per_target=True), leave-one-out GCV",
        },
        "wall_s": {k: [round(t, 3) for t in v] for k, v in times.items()},
        "best_wall_s": {k: round(v, 3) for k, v in best.items()},
        "ratio_brainalign_over_himalaya": round(best["brainalign"] / best["himalaya"], 4),
        "ratio_goal": 1.10,
        "ratio_brainalign_over_sklearn": round(best["brainalign"] / best["sklearn"], 4),
        "heldout_mean_r": {k: round(float(v.mean()), 4) for k, v in r.items()},
        "heldout_oracle_mean_r": round(float(oracle.mean()), 4),
        "heldout_median_r": {k: round(float(np.median(v)), 4) for k, v in r.items()},
        "max_abs_pred_diff_brainalign_vs_himalaya": float(
            np.abs(preds["brainalign"] - preds["himalaya"]).max()
        ),
        "brainalign_warnings": models["brainalign"]._bench_warnings,
        "blas": blas_info(),
        "env": {
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        },
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        },
        "versions": _versions(),
    }
    if os.environ.get("OPENBLAS_CORETYPE"):
        result["warning"] = (
            f"OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} is set: OpenBLAS runs that "
            "kernel instead of the best one for this CPU (e.g. Haswell costs ~35% on AVX-512 "
            "machines). Unset it for representative timings."
        )
        print(f"WARNING: {result['warning']}", file=sys.stderr)
    return result


def _versions():
    import himalaya
    import sklearn

    import brainalign

    return {
        "numpy": np.__version__,
        "himalaya": himalaya.__version__,
        "scikit-learn": sklearn.__version__,
        "brainalign": getattr(brainalign, "__version__", None),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="alternating fits of each")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--out", type=Path, default=None, help="JSON output path")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 2
    os.environ.setdefault("BRAINALIGN_PROGRESS", "0")
    result = run(args)
    out = args.out or Path(__file__).parent / "results" / (
        f"bench_encoders{'_cuda' if args.device == 'cuda' else ''}"
        f"{'_quick' if args.quick else ''}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
