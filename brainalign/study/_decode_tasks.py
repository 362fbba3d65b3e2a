"""The tasks of a decoding study, each scored beside its nulls and chance.

Every task is a pipeline ``fit(brain_train) -> model``, ``outputs(model, brain_test)`` (images,
texts, decoded embeddings) and ``metrics(outputs) -> {name: value}``. The same pipeline runs on
the real test responses and on each null control (:func:`brainalign.decoders.permute_rows`:
test rows shuffled relative to the stimuli; :func:`brainalign.decoders.noise_like`: Gaussian
noise with their per-voxel mean and std), ``n_permutations`` times per null kind; with
``null_refit`` the decoder is also refit on null training data. Every metric becomes a
:class:`brainalign.decoders.DecodingScore` (score, null distribution, chance, p-value).

Chance levels: 0.5 for two-way identification; ``k / n_candidates`` for top-k retrieval; 0
for the correlation of decoded and true latents; for PixCorr and SSIM the mean score of
another test image taken as the reconstruction (5 random derangements); for the sentence
metrics the mean corpus score of a random test sentence per item (the retrieval decoder's
chance, 200 draws); for the story, of the decoded windows paired with other windows (5 random
derangements). Random streams (stimuli, brain, nulls, chance) have independent seeds derived
from the study seed (:func:`stream_seed`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._logging import logger, progress

__all__ = ["METRIC_LABELS", "TaskResult", "run_task"]

#: Human-readable names of the metrics.
METRIC_LABELS: dict[str, str] = {
    "two_way_pixels": "two-way identification (pixels)",
    "two_way_effnet": "two-way identification (EfficientNet-Lite0)",
    "pixcorr": "PixCorr",
    "ssim": "SSIM",
    "latent_r": "decoded vs true latent (mean r)",
    "bleu1": "BLEU-1",
    "wer": "WER (lower is better)",
    "meteor": "METEOR",
    "embedding_similarity": "sentence-embedding similarity",
}
_N_CHANCE_PAIRINGS = 5


def stream_seed(seed: int, name: str) -> int:
    """An independent seed for one random stream of a study (latents, brain, chance ...).

    Seeding every stream with the study seed itself would correlate them (e.g. voxel weights
    drawn from the same numbers as the stimulus latents).
    """
    import zlib

    ss = np.random.SeedSequence([int(seed), zlib.crc32(name.encode())])
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def derangement(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random pairing ``i -> pair[i]`` with ``pair[i] != i`` for every ``i`` (``n >= 2``)."""
    if n < 2:
        raise ValueError(f"`n` must be at least 2 to pair every item with another; got {n}")
    perm = rng.permutation(n)
    pair = np.empty(n, dtype=np.intp)
    pair[perm] = np.roll(perm, 1)
    return pair


def metric_label(metric: str) -> str:
    """Readable name of a metric key (``top1`` → image/brain retrieval top-1)."""
    if metric in METRIC_LABELS:
        return METRIC_LABELS[metric]
    if metric.startswith("brain_top"):
        return f"brain retrieval top-{metric[9:]} (stimulus → brain)"
    if metric.startswith("top"):
        return f"retrieval top-{metric[3:]} (brain → stimulus)"
    return metric


@dataclass
class TaskResult:
    """What one task produced: score rows, arrays for the report, and a summary."""

    scores: list[dict[str, Any]] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# the generic evaluation: real input, then every null through the same pipeline
# --------------------------------------------------------------------------------------------
def _evaluate(
    task: str,
    fit: Callable[[Any], Any],
    outputs: Callable[[Any, Any], Any],
    metrics: Callable[[Any, str], dict[str, float]],
    X_train: Any,
    X_tests: dict[str, Any],
    chance: dict[str, dict[str, float | None]],
    *,
    nulls: list[str],
    n_null: int,
    refit: bool,
    seed: int,
    verbose: bool | None,
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[tuple[str, str], Any]]:
    """Score a pipeline and its nulls; returns score rows, real outputs, first null outputs."""
    from brainalign.decoders import DecodingScore, noise_like, permute_rows

    model = fit(X_train)
    real_out = {c: outputs(model, X) for c, X in X_tests.items()}
    real = {c: metrics(out, c) for c, out in real_out.items()}
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    first_null: dict[tuple[str, str], Any] = {}
    for kind in nulls:
        transform = permute_rows if kind == "permuted-brain" else noise_like
        runs: dict[str, list[dict[str, float]]] = {c: [] for c in X_tests}
        for i in progress(range(n_null), desc=f"{task}: {kind} null", verbose=verbose):
            null_model = _null_fit(fit, transform(X_train, rng)) if refit else model
            for c, X in X_tests.items():
                out = outputs(null_model, transform(X, rng))
                if i == 0:
                    first_null[c, kind] = out
                runs[c].append(metrics(out, c))
        for c in X_tests:
            for name, score in real[c].items():
                null = np.asarray([r[name] for r in runs[c]], dtype=np.float64)
                better = name != "wer"
                extreme = int(np.sum(null >= score)) if better else int(np.sum(null <= score))
                s = DecodingScore(
                    metric=name,
                    score=float(score),
                    null=null,
                    chance=chance[c].get(name),
                    p_value=(1 + extreme) / (1 + null.size),
                    null_kind=kind,
                    refit=refit,
                    greater_is_better=better,
                )
                rows.append(
                    {"task": task, "condition": c, "label": metric_label(name), **s.to_dict()}
                )
    return rows, real_out, first_null


def _null_fit(fit: Callable[[Any], Any], X_null: Any) -> Any:
    """Refit on null training data; its penalties sit at the grid's upper edge by design."""
    import warnings

    from brainalign.exceptions import AlphaGridWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AlphaGridWarning)
        return fit(X_null)


def _retrieval_metrics(
    decoded: np.ndarray, true: np.ndarray, retrieval: Any, seed: int
) -> dict[str, float]:
    from brainalign.decoders import retrieval_topk

    ks = tuple(k for k in retrieval.k if k <= true.shape[0])
    res = retrieval_topk(
        decoded,
        true,
        k=ks,
        direction="both",
        n_draws=retrieval.n_draws,
        draw_size=retrieval.draw_size,
        seed=seed,
    )
    out = {}
    for k in ks:
        out[f"top{k}"] = res.accuracy("brain_to_stimulus", k)
        out[f"brain_top{k}"] = res.accuracy("stimulus_to_brain", k)
    return out


def _retrieval_chance(n_test: int, retrieval: Any) -> dict[str, float]:
    n = min(n_test, retrieval.draw_size)
    out = {}
    for k in retrieval.k:
        if k <= n_test:
            out[f"top{k}"] = out[f"brain_top{k}"] = min(k / n, 1.0)
    return out


def _column_r(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean(0)
    b = b - b.mean(0)
    den = np.linalg.norm(a, axis=0) * np.linalg.norm(b, axis=0)
    r = np.divide((a * b).sum(0), den, out=np.zeros(a.shape[1]), where=den > 0)
    return float(np.mean(r))


def _to_uint8(images: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(images, dtype=np.float64) * 255), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# image tasks: faces (GAN head), digits (diffusion head)
# --------------------------------------------------------------------------------------------
def _simulate(f_train: np.ndarray, f_test: np.ndarray, cfg: Any, seed: int) -> tuple[Any, dict]:
    """Training responses, and test responses per condition (same weights, fresh noise)."""
    from brainalign.decoders import simulate_brain

    conditions = {"repeats": int(cfg.n_test_repeats)}
    if cfg.single_trial and cfg.n_test_repeats > 1:
        conditions["single"] = 1
    n_tr, n_te = f_train.shape[0], f_test.shape[0]
    features = np.concatenate([f_train] + [f_test] * len(conditions))
    reps = np.concatenate([np.ones(n_tr, int)] + [np.full(n_te, r) for r in conditions.values()])
    fit_mask = np.arange(features.shape[0]) < n_tr
    brain, _ = simulate_brain(
        features,
        n_voxels=cfg.n_voxels,
        r_range=tuple(cfg.r_range),
        shared_noise=cfg.shared_noise,
        n_repeats=reps,
        fit_mask=fit_mask,
        seed=seed,
    )
    tests = {c: brain[n_tr + i * n_te : n_tr + (i + 1) * n_te] for i, c in enumerate(conditions)}
    return brain[:n_tr], tests, conditions


class _NetworkFeatures:
    """EfficientNet-Lite0 features of images, cached by image content (exact reuse)."""

    def __init__(self, layer: str, device: str) -> None:
        self.layer, self.device = layer, device
        self._cache: dict[bytes, np.ndarray] = {}

    def __call__(self, images: np.ndarray) -> np.ndarray:
        from brainalign.evaluation import network_features

        keys = [hashlib.sha1(np.ascontiguousarray(im).tobytes()).digest() for im in images]
        missing = [i for i, k in enumerate(keys) if k not in self._cache]
        if missing:
            feats = network_features(
                images[missing], "efficientnet-lite0", layer=self.layer, device=self.device
            )
            for i, f in zip(missing, np.asarray(feats).reshape(len(missing), -1)):
                self._cache[keys[i]] = f
        return np.stack([self._cache[k] for k in keys])


def _image_task(task: str, study: Any, verbose: bool | None) -> TaskResult:
    from brainalign import decoders as dec
    from brainalign.evaluation import pixcorr, ssim, two_way_identification

    cfg = getattr(study, task)
    seed = int(study.seed)
    t0 = time.perf_counter()
    if task == "faces":
        gen = dec.load_face_generator(cfg.generator, device=study.device)
        base = dec.make_semisynthetic_faces(
            cfg.n_train, cfg.n_test, n_voxels=1, generator=gen, seed=seed
        )
        head = dec.GANHead(generator=gen, device=study.device)
        targets_train = base.features_train  # the latents themselves
        info = {
            "generator": gen.source,
            "generator_label": "packaged gan-face-generate weights"
            if cfg.generator is None
            else Path(gen.source).name,
            "n_latents": gen.n_latents,
        }
    else:
        base = dec.make_semisynthetic_digits(cfg.n_test, n_voxels=1, seed=seed)
        head = dec.DigitDiffusionHead(
            model_dir=resolve_digit_model(study),
            num_inference_steps=cfg.num_inference_steps,
            seed=seed,
            device=study.device,
            verbose=False,
        )
        # the decoding targets: the model's own embedding of the images
        targets_train = head.embed_images(base.stimuli_train)
        info = {"model_dir": str(head.model_dir)}
    stim = base.stimuli_test
    side = cfg.metric_size if cfg.metric_size is not None else min(stim.shape[1:3])
    if side < 11:
        raise ValueError(
            f"`{task}.metric_size` must be at least 11 (SSIM's Gaussian window has 11 taps); "
            f"got {cfg.metric_size!r} with {stim.shape[1]} x {stim.shape[2]} images. Set it to "
            "64, or 425 (the NSD protocol)."
        )
    X_train, X_tests, conditions = _simulate(
        base.features_train, base.features_test, cfg, stream_seed(seed, f"{task}.brain")
    )

    def fit(X: Any) -> Any:
        from sklearn.base import clone

        return clone(head).fit(X, targets_train)

    def outputs(model: Any, X: Any) -> dict[str, np.ndarray]:
        Z = model.predict(X)
        return {"Z": Z, "images": model.generate(Z)}

    true_Z = {
        "Z": np.asarray(
            base.features_test if task == "faces" else head.embed_images(base.stimuli_test),
            dtype=np.float64,
        )
    }
    network = (
        _NetworkFeatures(cfg.network_layer, study.device)
        if "efficientnet-lite0" in cfg.identification
        else None
    )

    def metrics(out: dict[str, np.ndarray], _cond: str) -> dict[str, float]:
        images = out["images"]
        m: dict[str, float] = {}
        if "pixels" in cfg.identification:
            m["two_way_pixels"] = two_way_identification(
                stim.reshape(len(stim), -1), images.reshape(len(images), -1)
            )
        if network is not None:
            m["two_way_effnet"] = two_way_identification(network(stim), network(images))
        m["pixcorr"] = float(pixcorr(stim, images, size=cfg.metric_size))
        m["ssim"] = float(ssim(stim, images, size=cfg.metric_size))
        m["latent_r"] = _column_r(out["Z"], true_Z["Z"])
        m.update(
            _retrieval_metrics(
                out["Z"], true_Z["Z"], study.retrieval, stream_seed(seed, "retrieval")
            )
        )
        return m

    rng = np.random.default_rng(stream_seed(seed, f"{task}.chance"))
    pairings = [derangement(rng, len(stim)) for _ in range(_N_CHANCE_PAIRINGS)]
    shuffled = {
        "pixcorr": float(np.mean([pixcorr(stim, stim[p], size=cfg.metric_size) for p in pairings])),
        "ssim": float(np.mean([ssim(stim, stim[p], size=cfg.metric_size) for p in pairings])),
    }
    chance = {
        "two_way_pixels": 0.5,
        "two_way_effnet": 0.5,
        "latent_r": 0.0,
        **shuffled,
        **_retrieval_chance(len(stim), study.retrieval),
    }
    rows, real, first_null = _evaluate(
        task,
        fit,
        outputs,
        metrics,
        X_train,
        X_tests,
        dict.fromkeys(X_tests, chance),
        nulls=list(study.nulls),
        n_null=study.task_permutations(task),
        refit=bool(study.null_refit),
        seed=stream_seed(seed, f"{task}.nulls"),
        verbose=verbose,
    )
    show = slice(0, min(cfg.n_show, len(stim)))
    arrays = {f"{task}.stimuli": _to_uint8(stim[show])}
    for c in X_tests:
        arrays[f"{task}.recon.{c}"] = _to_uint8(real[c]["images"][show])
        for kind in study.nulls:
            arrays[f"{task}.null.{kind}.{c}"] = _to_uint8(first_null[c, kind]["images"][show])
    summary = {
        "n_train": len(X_train),
        "n_test": len(stim),
        "n_voxels": int(cfg.n_voxels),
        "r_range": list(cfg.r_range),
        "shared_noise": float(cfg.shared_noise),
        "n_test_repeats": int(cfg.n_test_repeats),
        "conditions": {
            c: f"test responses averaged over {r} repeat{'s' if r > 1 else ''}"
            if c == "repeats"
            else "single-trial test responses"
            for c, r in conditions.items()
        },
        "repeats": conditions,
        "identification": list(cfg.identification),
        "network_layer": cfg.network_layer,
        "metric_size": cfg.metric_size,
        "image_shape": list(stim.shape[1:]),
        "seconds": round(time.perf_counter() - t0, 1),
        **info,
    }
    return TaskResult(rows, arrays, summary)


def cached_digit_model() -> Path | None:
    """The completely trained default digits diffusion model in the cache, or None."""
    from brainalign.decoders import digit_diffusion_dir

    cached = digit_diffusion_dir()
    complete = (cached / "model_index.json").is_file() and any(cached.glob(".brainalign-complete*"))
    return cached if complete else None


def resolve_digit_model(study: Any) -> Any:
    """The digits diffusion model folder of a study (no training unless ``digits.train``)."""
    from brainalign.decoders import digit_diffusion_dir, train_digit_diffusion

    cfg = study.digits
    if cfg.model_dir is not None:
        return cfg.model_dir
    cached = cached_digit_model()
    if cached is not None:
        return cached
    if not cfg.train:
        raise FileNotFoundError(
            f"`digits.model_dir` is not set and the trained digits diffusion model is not in "
            f"the cache ({str(digit_diffusion_dir())!r}); set `digits.train: true` to train it "
            "(about 16 min on 2 CPU cores, once), give `digits.model_dir`, or remove 'digits' "
            "from `tasks`"
        )
    logger.info("training the digits diffusion model (digits.train is true)")
    return train_digit_diffusion(verbose=None)


def run_task(task: str, study: Any, verbose: bool | None = None) -> TaskResult:
    """Run one task of a :class:`~brainalign.study.DecodeConfig` with its nulls.

    Parameters
    ----------
    task : {"faces", "digits", "sentences", "story"}
    study : DecodeConfig
    verbose : bool or None
        Progress bars over the null runs.

    Returns
    -------
    TaskResult
        ``scores``: one row per (condition, metric, null kind) with the score, the null
        distribution, chance and p-value; ``arrays``: images for the report (uint8);
        ``summary``: data sizes, settings, examples of decoded text.
    """
    if task in ("faces", "digits"):
        return _image_task(task, study, verbose)
    if task in ("sentences", "story"):
        from brainalign.study._decode_text import sentences_task, story_task

        return (sentences_task if task == "sentences" else story_task)(study, verbose)
    raise ValueError(f"`task` must be one of faces, digits, sentences, story; got {task!r}")
