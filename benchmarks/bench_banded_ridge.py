"""brainalign's banded-ridge solver against himalaya's random search, primal and dual regimes.

Planted data as in reference/perf-calibration.md §2 (float32): ``Y = X1 W1 mix + X2 W2
(1 - mix) + noise``, ``W ~ N(0, 1/p)``, ``mix ~ U(0, 1)`` per target. Two sizes:

- primal: 2,400 training (600 test) samples, 400 + 100 features, 4,000 targets, noise 2.0;
- dual: 1,000 training (250 test) samples, 3,000 + 1,000 features, 4,000 targets, noise 0.85.

Every model runs the same search: KFold(5), 20 band weightings (Dirichlet concentrations
0.1 / 1, seed 0, the first uniform), alphas ``logspace(-2, 6, 9)``, intercept, refit.

- brainalign ``BandedRidgeEncoder`` (``engine="numpy"`` and ``engine="torch"``, and
  ``search="refine"``, which evaluates at most 60% of the same weightings, later ones
  only on nearby targets and alphas);
- himalaya ``GroupRidgeCV`` and ``MultipleKernelRidgeCV`` (linear kernels through
  ``ColumnKernelizer``, as in the calibration) on its torch backend (its fastest on CPU) and on
  its numpy backend.

Everything runs in one process; each repeat runs the models in turn (alternating the order),
and ratios use each model's best time, so that the VM's noise hits all of them alike. Torch and
BLAS keep their default thread counts (2 on the reference machine) unless ``--threads`` sets
them for every model: on a machine shared with other jobs, 2-thread OpenMP (torch) and
multi-threaded LAPACK stall at every barrier when fewer than 2 cores are free, which measures
the contention rather than the algorithms; ``--threads 1`` avoids that for all models alike. Printed as JSON and
written to ``benchmarks/results/bench_banded_ridge.json`` (``_quick`` / ``_cuda`` variants).
Held-out r is the mean Pearson r over targets on the test samples; ``same_selection`` is the
fraction of targets whose ``deltas`` equal himalaya's (torch) to 1e-4 relative. GFLOP/s is
brainalign's count of its own matrix products divided by its wall time, beside the float32
matrix-product rate measured in the same process.

Usage::

    .venv/bin/python benchmarks/bench_banded_ridge.py            # full size (many minutes)
    .venv/bin/python benchmarks/bench_banded_ridge.py --quick    # smoke test
    .venv/bin/python benchmarks/bench_banded_ridge.py --device cuda   # GPU machine

With ``--device cuda``, brainalign runs on torch CUDA and himalaya on ``torch_cuda``
(CPU backends are skipped); GPU timings include the host-device transfers.
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
SIZES = {
    "primal": dict(n_train=2400, n_test=600, p1=400, p2=100, n_targets=4000, noise=2.0),
    "dual": dict(n_train=1000, n_test=250, p1=3000, p2=1000, n_targets=4000, noise=0.85),
}
QUICK = {
    "primal": dict(n_train=600, n_test=200, p1=60, p2=20, n_targets=300, noise=2.0),
    "dual": dict(n_train=200, n_test=100, p1=400, p2=200, n_targets=300, noise=0.85),
}


def make_data(n_train, n_test, p1, p2, n_targets, noise, seed=SEED):
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    X1 = rng.standard_normal((n, p1), dtype=np.float32)
    X2 = rng.standard_normal((n, p2), dtype=np.float32)
    W1 = rng.normal(0, 1 / np.sqrt(p1), (p1, n_targets)).astype(np.float32)
    W2 = rng.normal(0, 1 / np.sqrt(p2), (p2, n_targets)).astype(np.float32)
    mix = rng.uniform(0, 1, n_targets).astype(np.float32)
    Y = X1 @ W1 * mix + X2 @ W2 * (1 - mix)
    Y += noise * rng.standard_normal((n, n_targets), dtype=np.float32)
    tr, te = slice(0, n_train), slice(n_train, n)
    return (X1[tr], X2[tr], Y[tr]), (X1[te], X2[te], Y[te])


def _np(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def sgemm_rate(n=2000, repeats=5):
    """Best float32 matrix-product rate (GFLOP/s) of numpy and torch, measured now."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    best = {}
    best["numpy"] = max(_timed_rate(lambda: a @ a, 2 * n**3) for _ in range(repeats))
    try:
        import torch

        t = torch.from_numpy(a)
        best["torch"] = max(_timed_rate(lambda: t @ t, 2 * n**3) for _ in range(repeats))
    except ImportError:  # pragma: no cover
        pass
    return {k: round(v, 1) for k, v in best.items()}


def _timed_rate(f, flops):
    t0 = time.perf_counter()
    f()
    return flops / (time.perf_counter() - t0) / 1e9


def solver_gflop(space, n_train, p, n_targets, n_folds=5, n_iter=N_ITER):
    """brainalign's matrix-product count (GFLOP) of one fit, as its kernels do it."""
    from brainalign.encoders._solver import gflops_estimate
    from brainalign.encoders._solver_kernels import choose_method

    n_alphas = len(ALPHAS)
    n_test = n_train / n_folds
    m = p if space == "primal" else n_train - n_test
    method = choose_method("auto", n_alphas, int(n_test), int(m), int(m))
    search = gflops_estimate(n_train, p, n_targets, n_folds, n_iter, n_alphas, space, method)
    refit = 2 * n_train * p * n_targets / 1e9  # X^T Y (primal) or X_b^T dual (dual)
    return search + refit, method


def run_regime(space, sizes, args, device):
    from himalaya.backend import set_backend
    from himalaya.kernel_ridge import ColumnKernelizer, Kernelizer, MultipleKernelRidgeCV
    from himalaya.ridge import GroupRidgeCV
    from sklearn.model_selection import KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from brainalign.encoders import BandedRidgeEncoder
    from brainalign.evaluation import correlation_score

    (X1, X2, Y), (X1t, X2t, Yt) = make_data(**sizes)
    p1, p2 = sizes["p1"], sizes["p2"]
    X, Xt = np.concatenate([X1, X2], 1), np.concatenate([X1t, X2t], 1)
    params = dict(n_iter=N_ITER, alphas=ALPHAS, concentration=[0.1, 1.0], progress_bar=False)

    def ours(engine, search="random"):
        def fit():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = BandedRidgeEncoder(
                    bands={"band1": p1, "band2": p2},
                    alphas=ALPHAS,
                    n_iter=N_ITER,
                    cv=KFold(5),
                    random_state=SEED,
                    device=device,
                    engine=engine,
                    search=search,
                    verbose=False,
                ).fit(X, Y)
            scored = ~np.isnan(model.cv_scores_)
            model.n_evaluated = int(scored.any(1).sum())  # weightings scored on some target
            model.mean_scored = round(float(scored.sum(0).mean()), 2)  # per target
            return model, lambda: model.predict(Xt), model.deltas_

        return fit

    def himalaya(kind, backend):
        def fit():
            set_backend(backend)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if kind == "group":
                        model = GroupRidgeCV(
                            groups="input",
                            solver_params={**params, "warn": False},
                            cv=KFold(5),
                            random_state=SEED,
                            fit_intercept=True,
                        ).fit([X1, X2], Y)
                        coef, icpt = _np(model.coef_), _np(model.intercept_)
                        deltas = _np(model.deltas_)
                        return model, lambda: Xt @ coef + icpt, deltas
                    center = StandardScaler(with_std=False)
                    kernelizer = ColumnKernelizer(
                        [
                            ("band1", make_pipeline(center, Kernelizer("linear")), slice(0, p1)),
                            ("band2", make_pipeline(center, Kernelizer("linear")), slice(p1, None)),
                        ]
                    )
                    mkr = MultipleKernelRidgeCV(
                        kernels="precomputed",
                        solver="random_search",
                        solver_params=params,
                        cv=KFold(5),
                        random_state=SEED,
                    )
                    model = make_pipeline(kernelizer, mkr).fit(X, Y)
                    deltas = _np(model[-1].deltas_)
                    return model, lambda: _np(model.predict(Xt)), deltas
            finally:
                set_backend("numpy")

        return fit

    if device == "cuda":
        runs = {
            "brainalign[torch-cuda]": ours("torch"),
            "brainalign[torch-cuda,refine]": ours("torch", "refine"),
            "himalaya.GroupRidgeCV[torch_cuda]": himalaya("group", "torch_cuda"),
            "himalaya.MultipleKernelRidgeCV[torch_cuda]": himalaya("mkr", "torch_cuda"),
        }
        once = {}
    else:
        runs = {
            "brainalign[numpy]": ours("numpy"),
            "brainalign[torch]": ours("torch"),
            "brainalign[numpy,refine]": ours("numpy", "refine"),
            "himalaya.GroupRidgeCV[torch]": himalaya("group", "torch"),
            "himalaya.MultipleKernelRidgeCV[torch]": himalaya("mkr", "torch"),
        }
        # himalaya's numpy backend is the slowest: once, unless asked for more
        once = {
            "himalaya.GroupRidgeCV[numpy]": himalaya("group", "numpy"),
            "himalaya.MultipleKernelRidgeCV[numpy]": himalaya("mkr", "numpy"),
        }
    skip = {s.split(":", 1)[-1] for s in args.skip or [] if ":" not in s or s.startswith(space)}
    runs = {k: v for k, v in runs.items() if k not in skip}
    once = {k: v for k, v in once.items() if k not in skip}

    times = {k: [] for k in [*runs, *once]}
    preds, deltas, evaluated, per_target = {}, {}, {}, {}
    for i in range(args.repeats):
        order = list(runs.items())
        if i % 2:
            order.reverse()
        if i == 0:
            order += list(once.items())
        for name, fit in order:
            t0 = time.perf_counter()
            model, predict, d = fit()
            times[name].append(time.perf_counter() - t0)
            print(f"[bench {space}] {name} {i + 1}: {times[name][-1]:.1f} s", file=sys.stderr)
            if name not in preds:
                preds[name], deltas[name] = predict(), np.asarray(d, dtype=np.float64)
                evaluated[name] = getattr(model, "n_evaluated", N_ITER)
                per_target[name] = getattr(model, "mean_scored", float(N_ITER))
            del model

    r = {k: correlation_score(Yt, p) for k, p in preds.items()}
    best = {k: min(v) for k, v in times.items()}
    ours_names = [k for k in best if k.startswith("brainalign")]
    him_names = [k for k in best if k.startswith("himalaya")]
    ref = next(
        (k for k in him_names if "GroupRidgeCV[torch" in k), him_names[0] if him_names else None
    )
    fastest_him = min(him_names, key=best.get) if him_names else None
    gflop, method = solver_gflop(space, sizes["n_train"], p1 + p2, sizes["n_targets"])
    out = {
        "sizes": {**sizes, "dtype": "float32"},
        "brainalign_method": method,
        "wall_s": {k: [round(t, 2) for t in v] for k, v in times.items()},
        "best_wall_s": {k: round(v, 2) for k, v in best.items()},
        "fastest_himalaya": fastest_him,
        "speedup": {o: {h: round(best[h] / best[o], 2) for h in him_names} for o in ours_names},
        "speedup_vs_fastest_himalaya": {
            o: round(best[fastest_him] / best[o], 2) for o in ours_names if fastest_him
        },
        "heldout_mean_r": {k: round(float(v.mean()), 5) for k, v in r.items()},
        "heldout_median_r": {k: round(float(np.median(v)), 5) for k, v in r.items()},
        "brainalign_gflop": round(gflop, 1),
        "weightings_evaluated": evaluated,
        "weightings_scored_per_target": per_target,
        # the full search only: "refine" scores subsets of targets and alphas, which the
        # product count does not model
        "brainalign_gflop_per_s": {
            o: round(
                solver_gflop(
                    space, sizes["n_train"], p1 + p2, sizes["n_targets"], n_iter=evaluated[o]
                )[0]
                / best[o],
                1,
            )
            for o in ours_names
            if "refine" not in o
        },
    }
    if ref is not None:
        out["selection_reference"] = ref
        out["same_selection_as_reference"] = {
            k: round(float(np.mean(np.all(np.isclose(d, deltas[ref], rtol=1e-4), 0))), 4)
            for k, d in deltas.items()
            if k != ref
        }
        out["mean_abs_r_diff_vs_reference"] = {
            k: round(float(np.abs(v - r[ref]).mean()), 5) for k, v in r.items() if k != ref
        }
    return out


def blas_info():
    from threadpoolctl import threadpool_info

    keep = ("user_api", "internal_api", "prefix", "version", "num_threads", "architecture")
    return [{k: d.get(k) for k in keep} for d in threadpool_info()]


def _versions():
    import himalaya
    import scipy
    import sklearn

    out = {"numpy": np.__version__, "scipy": scipy.__version__, "himalaya": himalaya.__version__}
    out["scikit-learn"] = sklearn.__version__
    try:
        import torch

        out["torch"] = torch.__version__
        out["torch_threads"] = torch.get_num_threads()
    except ImportError:  # pragma: no cover
        pass
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="rounds of the fast models")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--regimes", nargs="+", default=["primal", "dual"])
    parser.add_argument(
        "--skip",
        nargs="*",
        help="model names to leave out, optionally for one regime only (e.g. "
        "'dual:himalaya.GroupRidgeCV[torch]')",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS and torch threads for every model (default: as configured, 2 on the "
        "reference machine); 1 keeps the comparison fair on a machine shared with other jobs",
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON output path")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 2
    os.environ.setdefault("BRAINALIGN_PROGRESS", "0")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error("--device cuda needs a CUDA device (torch.cuda.is_available() is False)")
    limits = None
    if args.threads is not None:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        limits = threadpool_limits(limits=args.threads)
    sizes = QUICK if args.quick else SIZES
    result = {
        "benchmark": "bench_banded_ridge",
        "quick": args.quick,
        "device": args.device,
        "settings": {
            "cv": "KFold(5)",
            "n_iter": N_ITER,
            "alphas": ALPHAS.tolist(),
            "concentration": [0.1, 1.0],
            "random_state": SEED,
            "fit_intercept": True,
            "repeats": args.repeats,
            "threads": args.threads,
        },
        "sgemm_gflop_per_s_start": sgemm_rate(),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "loadavg_at_start": list(os.getloadavg()),
        },
        "blas": blas_info(),
        "versions": _versions(),
    }
    if args.device == "cuda":
        import torch

        result["machine"]["gpu"] = torch.cuda.get_device_name(0)
    out = args.out or Path(__file__).parent / "results" / (
        f"bench_banded_ridge{'_cuda' if args.device == 'cuda' else ''}"
        f"{'_quick' if args.quick else ''}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    for space in args.regimes:
        result[space] = run_regime(space, sizes[space], args, args.device)
        out.write_text(json.dumps(result, indent=2) + "\n")  # partial results survive
    result["sgemm_gflop_per_s_end"] = sgemm_rate()
    if limits is not None:
        limits.restore_original_limits()
    result["machine"]["loadavg_at_end"] = list(os.getloadavg())
    if os.environ.get("OPENBLAS_CORETYPE"):
        result["warning"] = f"OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} is set"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
