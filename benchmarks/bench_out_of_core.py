"""Out-of-core target fitting: peak memory follows the chunk size; a killed fit resumes.

Data: ``X`` (1,000 samples x 200 features) and ``Y`` (1,000 x 100,000 targets), float32, in
one HDF5 file (~400 MB, ``Y`` chunked by 1,000 columns), with planted weights and per-target
noise levels. Model: :class:`brainalign.encoders.RidgeEncoder` with 7 alphas and 5-fold CV
(himalaya primal solver), or with ``--model banded`` :class:`~brainalign.encoders.BandedRidgeEncoder`
(bands of 150 + 50 features, 20 weightings x 9 alphas, brainalign's solver), fitted by :func:`brainalign.encoders.fit_targets_in_chunks` with
the serial executor.

Each fit runs in its own process under ``/usr/bin/time -v`` (peak RSS = "Maximum resident set
size"; the child also reports its own ``getrusage`` peak, used when ``/usr/bin/time`` is
missing):

1. ``chunk_size`` = 2,000 and 20,000 (and, unless ``--no-in-core``, a plain
   ``RidgeEncoder.fit`` on all targets loaded in memory, for reference);
2. kill-and-resume: a fit with ``chunk_size`` = 5,000 is killed (SIGKILL) after half of its
   chunks are written, then rerun; the rerun reports which chunks it computed, and the
   result is compared with the uninterrupted chunk_size = 20,000 fit.

Prints JSON and writes it to ``benchmarks/results/bench_out_of_core.json``
(``bench_out_of_core_quick.json`` with ``--quick``). Not part of the test suite.

Usage::

    .venv/bin/python benchmarks/bench_out_of_core.py            # 100k targets, a few minutes
    .venv/bin/python benchmarks/bench_out_of_core.py --quick    # 6k targets, seconds
    .venv/bin/python benchmarks/bench_out_of_core.py --model banded   # banded ridge
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
ALPHAS = np.logspace(-1, 5, 7)
TIME = shutil.which("time") and Path("/usr/bin/time")


MODEL = "ridge"


def _estimator(n_features: int = 200):
    from brainalign.encoders import BandedRidgeEncoder, RidgeEncoder

    if MODEL == "banded":
        # two bands (3/4 and 1/4 of the features); himalaya's search on brainalign's solver
        p1 = 3 * n_features // 4
        return BandedRidgeEncoder(
            bands={"band1": p1, "band2": n_features - p1},
            alphas=np.logspace(-2, 6, 9),
            n_iter=20,
            cv=5,
            random_state=0,
            warn_alpha_edge=False,
            verbose=False,
        )
    return RidgeEncoder(alphas=ALPHAS, cv=5, warn_alpha_edge=False)


# ---------------------------------------------------------------------------------------------
# data
def make_data(path: Path, n_samples: int, n_features: int, n_targets: int, seed: int = 0):
    import h5py

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features), dtype=np.float32)
    block = 5000
    with h5py.File(path, "w") as f:
        f["X"] = X
        Y = f.create_dataset(
            "Y", (n_samples, n_targets), dtype="f4", chunks=(n_samples, min(1000, n_targets))
        )
        for a in range(0, n_targets, block):
            b = min(a + block, n_targets)
            W = rng.standard_normal((n_features, b - a), dtype=np.float32) / np.sqrt(n_features)
            noise = rng.uniform(0.5, 4.0, b - a).astype(np.float32)
            E = rng.standard_normal((n_samples, b - a), dtype=np.float32)
            Y[:, a:b] = X @ W + noise * E


# ---------------------------------------------------------------------------------------------
# child: one fit in this process
def child(args) -> None:
    import h5py

    from brainalign import set_log_level
    from brainalign.encoders import fit_targets_in_chunks

    set_log_level("INFO")
    with h5py.File(args.data, "r") as f:
        X = f["X"][()]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    if args.chunk_size == 0:  # in-core reference: every target in memory at once
        with h5py.File(args.data, "r") as f:
            Y = f["Y"][()]
        model = _estimator(X.shape[1]).fit(X, Y)
        with h5py.File(args.out, "w") as f:
            f["coef_"], f["alphas_"] = model.coef_, model.alphas_
        report = {"computed": 1, "skipped": 0, "n_chunks": 1}
    else:
        res = fit_targets_in_chunks(
            _estimator(X.shape[1]), X, f"{args.data}:/Y", out=args.out, chunk_size=args.chunk_size,
            verbose=False,
        )  # fmt: skip
        report = {
            "computed": len(res.computed),
            "skipped": len(res.skipped),
            "n_chunks": res.n_chunks,
            "computed_ids": sorted(res.computed),
        }
    report["fit_seconds"] = time.perf_counter() - t0
    report["rss_before_fit_mb"] = rss_before
    report["self_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(report), flush=True)


def _child_cmd(data: Path, out: Path, chunk_size: int) -> list[str]:
    return [
        sys.executable, str(HERE), "--child", "--data", str(data), "--out", str(out),
        "--chunk-size", str(chunk_size), "--model", MODEL,
    ]  # fmt: skip


def _parse_time_v(text: str) -> dict:
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    seconds = None
    if wall:
        parts = [float(p) for p in wall.group(1).split(":")]
        seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    return {
        "peak_rss_mb": int(rss.group(1)) / 1024 if rss else None,
        "wall_seconds": seconds,
    }


def run_measured(data: Path, out: Path, chunk_size: int, workdir: Path) -> dict:
    """Run one child fit; measure it with /usr/bin/time -v when available."""
    cmd = _child_cmd(data, out, chunk_size)
    time_file = workdir / f"time_{out.stem}.txt"
    if TIME:
        cmd = [str(TIME), "-v", "-o", str(time_file), *cmd]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env())
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    report = json.loads(proc.stdout.split("RESULT ", 1)[1].splitlines()[0])
    if TIME:
        report.update(_parse_time_v(time_file.read_text()), measured_by="/usr/bin/time -v")
    else:
        report.update(
            peak_rss_mb=report["self_peak_rss_mb"],
            wall_seconds=wall,
            measured_by="getrusage(RUSAGE_SELF) in the child",
        )
    report["chunk_size"] = chunk_size or "all targets in memory (RidgeEncoder.fit)"
    return report


BLAS_THREADS = "1"


def _env() -> dict:
    # BLAS threads are pinned (1 by default, as in Dask workers): on a shared, oversubscribed
    # machine, spinning OpenBLAS threads make small SVDs hundreds of times slower
    blas = {k: BLAS_THREADS for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    return {**os.environ, **blas, "BRAINALIGN_PROGRESS": "0", "PYTHONUNBUFFERED": "1"}


def kill_and_resume(data: Path, out: Path, chunk_size: int, n_chunks: int, workdir: Path):
    import h5py

    kill_after = n_chunks // 2
    proc = subprocess.Popen(
        _child_cmd(data, out, chunk_size), stderr=subprocess.PIPE, text=True, env=_env()
    )
    written = 0
    t0 = time.perf_counter()
    for line in proc.stderr:
        written += "written" in line
        if written >= kill_after:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    proc.stderr.close()
    killed_after = time.perf_counter() - t0
    with h5py.File(out, "r") as f:
        done_at_kill = np.flatnonzero(f["_chunks/done"][()]).tolist()
    rerun = run_measured(data, out, chunk_size, workdir)
    recomputed = sorted(set(rerun["computed_ids"]) & set(done_at_kill))
    return {
        "chunk_size": chunk_size,
        "n_chunks": n_chunks,
        "killed_with": "SIGKILL",
        "killed_after_seconds": killed_after,
        "returncode_of_killed_run": proc.returncode,
        "chunks_done_at_kill": len(done_at_kill),
        "rerun": rerun,
        "chunks_computed_by_rerun": rerun["computed"],
        "chunks_skipped_by_rerun": rerun["skipped"],
        "finished_chunks_recomputed": len(recomputed),
    }


# ---------------------------------------------------------------------------------------------
def main(args) -> dict:
    import h5py

    import brainalign

    if args.quick:
        n_samples, n_features, n_targets = 300, 50, 6000
        sizes, resume_size = [500, 3000], 600
    else:
        n_samples, n_features, n_targets = 1000, 200, 100_000
        sizes, resume_size = [2000, 20_000], 5000
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench_ooc_"))
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "targets.h5"
    t0 = time.perf_counter()
    make_data(data, n_samples, n_features, n_targets)
    write_seconds = time.perf_counter() - t0
    print(f"data written: {data} ({data.stat().st_size / 2**20:.0f} MiB, {write_seconds:.1f}s)")

    runs = []
    for size in sizes:
        print(f"fit, chunk_size={size} ...", flush=True)
        runs.append(run_measured(data, workdir / f"fit_{size}.h5", size, workdir))
        print(json.dumps(runs[-1]), flush=True)
    in_core = None
    if not args.no_in_core:
        print("in-core reference ...", flush=True)
        in_core = run_measured(data, workdir / "in_core.h5", 0, workdir)
        print(json.dumps(in_core), flush=True)

    print(f"kill and resume, chunk_size={resume_size} ...", flush=True)
    n_chunks = -(-n_targets // resume_size)
    resume = kill_and_resume(data, workdir / "resume.h5", resume_size, n_chunks, workdir)
    ref_path = workdir / f"fit_{sizes[-1]}.h5"
    with h5py.File(workdir / "resume.h5", "r") as f, h5py.File(ref_path, "r") as g:
        resume["max_abs_diff_coef_vs_uninterrupted"] = float(
            np.max(np.abs(f["coef_"][()] - g["coef_"][()]))
        )
        resume["alphas_equal_vs_uninterrupted"] = bool(
            np.array_equal(f["alphas_"][()], g["alphas_"][()])
        )
    if in_core is not None:
        with h5py.File(workdir / "in_core.h5", "r") as f, h5py.File(ref_path, "r") as g:
            in_core["max_abs_diff_coef_vs_chunked"] = float(
                np.max(np.abs(f["coef_"][()] - g["coef_"][()]))
            )
            in_core["alphas_equal_vs_chunked"] = bool(
                np.array_equal(f["alphas_"][()], g["alphas_"][()])
            )

    record = {
        "benchmark": "bench_out_of_core",
        "quick": bool(args.quick),
        "data": {
            "n_samples": n_samples,
            "n_features": n_features,
            "n_targets": n_targets,
            "dtype": "float32",
            "file_mib": data.stat().st_size / 2**20,
            "write_seconds": write_seconds,
        },
        "estimator": repr(_estimator()),
        "executor": "SerialExecutor (one process)",
        "chunked_fits": runs,
        "in_core_reference": in_core,
        "kill_and_resume": resume,
        "environment": {
            "brainalign": brainalign.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "load_average": os.getloadavg(),
            "peak_rss_measured_by": "/usr/bin/time -v" if TIME else "getrusage",
            "blas_threads_per_fit": int(BLAS_THREADS),
        },
    }
    if not args.keep and args.workdir is None:
        shutil.rmtree(workdir)
    return record


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke-test sizes")
    parser.add_argument("--no-in-core", action="store_true", help="skip the in-memory fit")
    parser.add_argument("--workdir", help="where to write data and outputs (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data")
    parser.add_argument("--blas-threads", type=int, default=1, help="BLAS threads per fit")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--chunk-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--model",
        choices=("ridge", "banded"),
        default="ridge",
        help="RidgeEncoder (7 alphas) or BandedRidgeEncoder (bands of 150 + 50 features, "
        "20 weightings x 9 alphas)",
    )
    args = parser.parse_args()
    BLAS_THREADS = str(args.blas_threads)
    MODEL = args.model
    if args.child:
        child(args)
        sys.exit(0)
    record = main(args)
    text = json.dumps(record, indent=2)
    print(text)
    results = HERE.parent / "results"
    results.mkdir(exist_ok=True)
    name = "bench_out_of_core" + ("_banded" if MODEL == "banded" else "")
    name += "_quick.json" if args.quick else ".json"
    (results / name).write_text(text + "\n")
