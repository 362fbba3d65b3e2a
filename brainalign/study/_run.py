"""Run an encoding study end to end: data → design → nested CV fit → scores → results."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._logging import logger
from brainalign.data import Design, Recording
from brainalign.study._config import ArrayDataConfig, StudyConfig, SyntheticDataConfig
from brainalign.study._results import StudyResult, package_versions, save_results

__all__ = ["load_study_design", "run_study"]


def _read_arrays(
    cfg: ArrayDataConfig,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, float]:
    path = Path(cfg.path)
    if not path.is_file():
        raise FileNotFoundError(
            f"`data.path` must be an existing .npz or HDF5 file; got {str(path)!r}"
        )
    suffix = path.suffix.lower()
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            store = {k: z[k] for k in z.files}
        bands = {k[2:]: v for k, v in store.items() if k.startswith("X_")}
    elif suffix in (".h5", ".hdf5"):
        import h5py

        try:
            with h5py.File(path, "r") as f:
                store = {k: f[k][()] for k in f if isinstance(f[k], h5py.Dataset)}
                bands = {k: f["X"][k][()] for k in f["X"]} if "X" in f else {}
        except OSError as exc:
            raise ValueError(
                f"`data.path` {str(path)!r} is not a readable HDF5 file: {exc}"
            ) from exc
    else:
        raise ValueError(f"`data.path` must end in .npz, .h5 or .hdf5; got {path.name!r}")
    missing = [k for k in ("Y", "groups") if k not in store]
    if missing:
        raise ValueError(
            f"`data.path` {path.name!r} must hold arrays 'Y' and 'groups'; missing "
            f"{missing} (found {sorted(store)})"
        )
    if not bands:
        raise ValueError(
            f"`data.path` {path.name!r} holds no feature band (X_<band> in npz, X/<band> in HDF5)"
        )
    if cfg.bands is not None:
        unknown = [b for b in cfg.bands if b not in bands]
        if unknown:
            raise ValueError(
                f"unknown band name(s) {unknown} in `data.bands`; the file has "
                f"bands {sorted(bands)}"
            )
        bands = {b: bands[b] for b in cfg.bands}
    sfreq = cfg.sfreq if cfg.sfreq is not None else store.get("sfreq")
    if sfreq is None:
        raise ValueError("`data.sfreq` is required: the file has no 'sfreq' array")
    return bands, store["Y"], store["groups"], float(np.asarray(sfreq))


def _runs(
    bands: dict[str, np.ndarray], Y: np.ndarray, groups: np.ndarray, sfreq: float
) -> tuple[list[Recording], list[dict[str, np.ndarray]]]:
    from brainalign._validation import check_groups

    groups = check_groups(groups, Y.shape[0])
    recs, feats = [], []
    for run in dict.fromkeys(groups.tolist()):
        m = groups == run
        recs.append(Recording(Y[m], sfreq, "fmri", run=str(run)))
        feats.append({k: v[m] for k, v in bands.items()})
    return recs, feats


def load_study_design(config: StudyConfig) -> tuple[Design, Design | None, Any]:
    """Build the design of a study; for synthetic data also the noise-free design and truth.

    Returns
    -------
    design : Design
    oracle : Design or None
        Same features, with ``Y`` replaced by the noise-free signal (synthetic data only).
    truth : SyntheticTruth or None
    """
    from brainalign.alignment import make_design

    al = config.alignment
    kwargs = dict(delays=al.delays, hrf_model=al.hrf_model, trim=tuple(al.trim), zscore=al.zscore)
    data = config.data
    if isinstance(data, SyntheticDataConfig):
        from brainalign.datasets import make_encoding_data

        syn = make_encoding_data(
            n_runs=data.n_runs,
            n_samples_per_run=data.n_samples_per_run,
            band_sizes=data.band_sizes,
            n_targets=data.n_targets,
            sfreq=data.sfreq,
            response=data.response,
            snr=data.snr,
            feature_autocorrelation=data.feature_autocorrelation,
            noise_autocorrelation=data.noise_autocorrelation,
            random_state=data.random_state,
            dtype=np.float32,
        )
        recs, feats = syn.to_recordings()
        design = make_design(recs, feats, **kwargs)
        sig_recs, _ = _runs(syn.bands, syn.truth.signal, syn.groups, syn.sfreq)
        oracle = make_design(sig_recs, feats, **kwargs)
        return design, oracle, syn.truth
    bands, Y, groups, sfreq = _read_arrays(data)
    recs, feats = _runs(bands, Y, groups, sfreq)
    return make_design(recs, feats, **kwargs), None, None


def _estimator(config: StudyConfig) -> Any:
    from brainalign.encoders import BandedRidgeEncoder, RidgeEncoder

    m = config.model
    if m.kind == "banded_ridge":
        return BandedRidgeEncoder(
            alphas=m.alpha_grid(),
            n_iter=m.n_iter,
            solver=m.solver,
            random_state=m.random_state,
            scoring=config.evaluation.scoring,
            verbose=False,
        )
    return RidgeEncoder(alphas=m.alpha_grid(), solver=m.solver, scoring=config.evaluation.scoring)


def run_study(
    config: StudyConfig, *, out_dir: str | Path | None = None, verbose: bool | None = None
) -> StudyResult:
    """Fit and evaluate an encoding model as described by ``config``.

    Evaluation is nested: the outer loop holds out whole runs (``evaluation.cv``); within
    each training set the encoder selects its hyperparameters by its own run-blocked CV, so
    held-out data never selects a model.

    Parameters
    ----------
    config : StudyConfig
    out_dir : path or None
        Where to write ``results.h5`` and ``summary.json`` (default ``config.output``).
    verbose : bool or None
        Progress bars (None: the ``BRAINALIGN_PROGRESS`` environment variable).
    """
    from brainalign.evaluation import (
        BlockedKFold,
        LeaveOneRunOut,
        block_permutation_test,
        correlation_score,
        cross_validate_encoder,
        fdr_correction,
        r2_score,
    )

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    design, oracle, truth = load_study_design(config)
    timings["design_s"] = time.perf_counter() - t0
    logger.info("design: %r", design)

    ev = config.evaluation
    outer = LeaveOneRunOut() if ev.cv == "leave_one_run_out" else BlockedKFold(n_splits=ev.cv)
    estimator = _estimator(config)
    X: Any = design.bands if config.model.kind == "banded_ridge" else design.X

    t0 = time.perf_counter()
    cvres = cross_validate_encoder(
        estimator,
        X,
        design.Y,
        groups=design.groups,
        cv=outer,
        scoring=ev.scoring,
        return_estimators=True,
        verbose=verbose,
    )
    timings["fit_s"] = time.perf_counter() - t0

    splits = cvres.test_indices
    n_folds = len(splits)
    alphas = np.stack([np.asarray(e.alphas_, dtype=float) for e in cvres.estimators])
    split_scores = None
    if config.model.kind == "banded_ridge":
        # score_split centres the held-out Y and band predictions, which the product-measure
        # decomposition needs; Y is not zero-mean on a fold when alignment.zscore is False.
        parts = []
        for est, test in zip(cvres.estimators, splits):
            Xt = {k: v[test] for k, v in design.bands.items()}
            parts.append(est.score_split(Xt, design.Y[test]))
        split_scores = np.mean(parts, axis=0)

    pvalues = pvalues_fdr = None
    summary_null: dict[str, Any] = {}
    if ev.n_permutations > 0:
        t0 = time.perf_counter()
        steps = np.diff(design.times) if design.times is not None else np.array([])
        period = float(np.median(steps[steps > 0])) if np.any(steps > 0) else 1.0
        block = max(1, round(ev.permutation_block_s / period))
        perm = block_permutation_test(
            design.Y,
            cvres.predictions,
            n_permutations=ev.n_permutations,
            block_size=block,
            groups=design.groups,
            scoring=ev.scoring,
            random_state=0,
        )
        pvalues = perm.pvalues
        rejected, pvalues_fdr = fdr_correction(pvalues, alpha=ev.fdr_alpha)
        summary_null = {
            "n_permutations": ev.n_permutations,
            "block_size_samples": block,
            "n_significant_fdr": int(rejected.sum()),
            "null_mean_score": float(perm.null.mean()),
        }
        timings["permutation_s"] = time.perf_counter() - t0

    oracle_scores = planted = None
    recovery: dict[str, Any] = {}
    if oracle is not None and truth is not None:
        score_fn = correlation_score if ev.scoring == "correlation" else r2_score
        oracle_scores = np.mean(
            [score_fn(design.Y[test], oracle.Y[test]) for test in splits], axis=0
        )
        planted = truth.band_shares
        recovery["oracle_mean_score"] = float(oracle_scores.mean())
        recovery["score_gap_to_oracle"] = float(oracle_scores.mean() - cvres.mean_scores.mean())
        if split_scores is not None:
            total = split_scores.sum(0)
            ok = total > 0.01
            est_shares = np.clip(split_scores[:, ok], 0, None)
            est_shares = est_shares / np.maximum(est_shares.sum(0), 1e-12)
            recovery["band_share_correlation"] = (
                float(np.corrcoef(est_shares[0], planted[0, ok])[0, 1]) if ok.sum() > 2 else None
            )
            recovery["n_targets_for_share_recovery"] = int(ok.sum())

    scores = cvres.mean_scores
    summary = {
        "name": config.name,
        "scoring": ev.scoring,
        "n_samples": design.n_samples,
        "n_runs": len(design.runs),
        "n_targets": design.n_targets,
        "bands": design.band_sizes,
        "n_outer_folds": n_folds,
        "outer_cv": repr(outer),
        "mean_score": float(scores.mean()),
        "median_score": float(np.median(scores)),
        "top_decile_score": float(np.quantile(scores, 0.9)),
        "median_alpha": float(np.median(alphas)),
        "band_mean_split_score": (
            {b: float(s) for b, s in zip(design.band_names, split_scores.mean(1))}
            if split_scores is not None
            else None
        ),
        "null": summary_null or None,
        "recovery": recovery or None,
        "design_metadata": design.metadata,
        "config": config.model_dump(mode="json"),
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "versions": package_versions(),
    }
    result = StudyResult(
        scores=scores,
        fold_scores=cvres.scores,
        band_names=design.band_names,
        alphas=alphas,
        split_scores=split_scores,
        pvalues=pvalues,
        pvalues_fdr=pvalues_fdr,
        oracle_scores=oracle_scores,
        planted_shares=planted,
        summary=summary,
    )
    target = Path(out_dir) if out_dir is not None else Path(config.output)
    save_results(result, target)
    return result
