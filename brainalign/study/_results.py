"""Study results: an HDF5 file of per-target arrays plus a JSON summary, written atomically."""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._atomic import atomic_path

__all__ = ["StudyResult", "load_results", "package_versions", "save_results"]

RESULTS_H5 = "results.h5"
SUMMARY_JSON = "summary.json"


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the numbers."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in (
        "brainalign",
        "numpy",
        "scipy",
        "scikit-learn",
        "himalaya",
        "nilearn",
        "mne",
        "torch",
        "h5py",
        "pandas",
    ):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return out


@dataclass(eq=False)
class StudyResult:
    """What an encoding study produced.

    Attributes
    ----------
    scores : ndarray, shape (n_targets,)
        Held-out score per target (mean over outer folds).
    fold_scores : ndarray, shape (n_folds, n_targets)
    band_names : list of str
    split_scores : ndarray, shape (n_bands, n_targets) or None
        Held-out variance partitioning (product measure, himalaya's ``r2_score_split``),
        averaged over folds.
    alphas : ndarray, shape (n_folds, n_targets)
        Selected regularisation per fold (chosen on the training runs only).
    pvalues, pvalues_fdr : ndarray, shape (n_targets,) or None
        Block-permutation p-values and their FDR-adjusted values.
    oracle_scores : ndarray, shape (n_targets,) or None
        Synthetic data only: the score of the noise-free signal.
    summary : dict
        Scalars (means, medians, counts, recovery figures), config, timings, versions.
    """

    scores: np.ndarray
    fold_scores: np.ndarray
    band_names: list[str]
    alphas: np.ndarray
    split_scores: np.ndarray | None = None
    pvalues: np.ndarray | None = None
    pvalues_fdr: np.ndarray | None = None
    oracle_scores: np.ndarray | None = None
    planted_shares: np.ndarray | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def n_targets(self) -> int:
        return int(self.scores.shape[0])


_ARRAYS = (
    "scores",
    "fold_scores",
    "alphas",
    "split_scores",
    "pvalues",
    "pvalues_fdr",
    "oracle_scores",
    "planted_shares",
)


def save_results(result: StudyResult, out_dir: str | Path) -> dict[str, Path]:
    """Write ``results.h5`` and ``summary.json`` into ``out_dir`` (each atomically).

    Returns
    -------
    paths : dict
        ``{"h5": ..., "summary": ...}``.
    """
    import h5py

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    h5_path, json_path = out / RESULTS_H5, out / SUMMARY_JSON
    with atomic_path(h5_path) as tmp:
        with h5py.File(tmp, "w") as f:
            for name in _ARRAYS:
                val = getattr(result, name)
                if val is not None:
                    f.create_dataset(name, data=np.asarray(val), compression="gzip")
            f.attrs["band_names"] = json.dumps(result.band_names)
            f.attrs["summary"] = json.dumps(result.summary, default=str)
    with atomic_path(json_path) as tmp:
        tmp.write_text(json.dumps(result.summary, indent=2, default=str))
    return {"h5": h5_path, "summary": json_path}


def load_results(out_dir: str | Path) -> StudyResult:
    """Read results written by :func:`save_results`."""
    import h5py

    path = Path(out_dir) / RESULTS_H5
    if not path.is_file():
        raise FileNotFoundError(
            f"`out_dir` must contain {RESULTS_H5}; got {str(out_dir)!r} without it. Run "
            f"`brainalign fit CONFIG.yaml` first."
        )
    try:
        with h5py.File(path, "r") as f:
            arrays = {name: f[name][()] for name in _ARRAYS if name in f}
            band_names = json.loads(f.attrs["band_names"])
            summary = json.loads(f.attrs["summary"])
    except (OSError, KeyError) as exc:
        raise ValueError(f"{str(path)!r} is not a readable brainalign results file: {exc}") from exc
    return StudyResult(band_names=band_names, summary=summary, **arrays)
