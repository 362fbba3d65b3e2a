"""Semi-synthetic decoding data with known truth: real stimuli, simulated brain responses.

The stimuli are real images (faces made by the packaged DCGAN generator from random
latents; scikit-learn's handwritten digits), their features are known (the generator
latents; a PCA embedding of the digits), and the brain responses are simulated through a
linear encoding model with realistic noise:

``response = standardized_features @ W + noise``, one column per voxel, where

- every voxel's signal is scaled to unit variance and its noise is set so that the
  single-trial correlation between signal and response is ``r_v`` (``r_v`` drawn uniformly
  from ``r_range``; the default 0.1-0.3 is the single-trial range of good visual voxels in
  NSD-like data);
- part of the noise (``shared_noise``) is shared across voxels through a few latent
  sources (physiological / global-signal-like fluctuations), the rest is independent;
- test responses may average ``n_repeats_test`` independent noise draws (NSD averages the
  up-to-3 repetitions of each test image).

The train / test split is by stimulus, so decoders are evaluated on unseen images.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from brainalign._validation import check_array

__all__ = [
    "SemisyntheticData",
    "digit_split",
    "load_digit_images",
    "make_semisynthetic_digits",
    "make_semisynthetic_faces",
    "simulate_brain",
]


@dataclass
class SemisyntheticData:
    """Stimuli, their features and simulated brain responses, split into train and test.

    Attributes
    ----------
    stimuli_train, stimuli_test : ndarray, shape (n, H, W, C), float32 in [0, 1]
        The images shown.
    features_train, features_test : ndarray, shape (n, n_features)
        The features the encoding model read (GAN latents, digit embeddings): the decoding
        targets with known truth.
    brain_train, brain_test : ndarray, shape (n, n_voxels)
        Simulated responses (test responses averaged over ``info["n_repeats_test"]``).
    weights : ndarray, shape (n_features, n_voxels)
        Encoding weights (on standardized features; each voxel's signal has unit variance).
    voxel_r : ndarray, shape (n_voxels,)
        Planted single-trial correlation between each voxel's signal and its response.
    labels_train, labels_test : ndarray, shape (n,), or None
        Class labels (digits) when the stimuli have them.
    info : dict
        Generation parameters.
    """

    stimuli_train: np.ndarray = field(repr=False)
    stimuli_test: np.ndarray = field(repr=False)
    features_train: np.ndarray = field(repr=False)
    features_test: np.ndarray = field(repr=False)
    brain_train: np.ndarray = field(repr=False)
    brain_test: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    voxel_r: np.ndarray = field(repr=False)
    labels_train: np.ndarray | None = field(default=None, repr=False)
    labels_test: np.ndarray | None = field(default=None, repr=False)
    info: dict[str, Any] = field(default_factory=dict)


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}; got {value!r}")
    return int(value)


def _check_noise(r_range: Any, shared_noise: float) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in r_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"`r_range` must be a pair (low, high) of single-trial correlations; got {r_range!r}"
        ) from None
    if not 0 < low <= high < 1:
        raise ValueError(
            f"`r_range` must satisfy 0 < low <= high < 1 (single-trial signal-response "
            f"correlations; 0.1-0.3 is realistic for fMRI); got {r_range!r}"
        )
    if not 0 <= float(shared_noise) <= 1:
        raise ValueError(
            f"`shared_noise` must be the shared fraction of the noise variance, in [0, 1]; "
            f"got {shared_noise!r}"
        )
    return low, high


def simulate_brain(
    features: Any,
    *,
    n_voxels: int = 1500,
    r_range: tuple[float, float] = (0.1, 0.3),
    shared_noise: float = 0.3,
    n_noise_sources: int = 10,
    n_repeats: Any = 1,
    fit_mask: Any = None,
    seed: Any = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Simulate voxel responses to stimuli from their features (linear encoding + noise).

    Parameters
    ----------
    features : array-like, shape (n_stimuli, n_features)
        Stimulus features; z-scored with the statistics of the ``fit_mask`` rows.
    n_voxels : int
        Number of simulated voxels.
    r_range : (float, float)
        Each voxel's single-trial signal-response correlation is drawn uniformly from it.
    shared_noise : float
        Fraction of the noise variance shared across voxels (through ``n_noise_sources``
        latent time courses with random loadings).
    n_noise_sources : int
        Number of shared noise sources.
    n_repeats : int or array-like of shape (n_stimuli,)
        Independent noise draws averaged per stimulus (e.g. 1 for training trials, 3 for
        test images).
    fit_mask : array-like of bool, shape (n_stimuli,), or None
        Rows whose statistics standardize the features and the voxel signals (the training
        stimuli); ``None``: all rows.
    seed : int, numpy Generator or None

    Returns
    -------
    brain : ndarray, shape (n_stimuli, n_voxels), float32
    truth : dict
        ``weights`` (n_features, n_voxels), ``signal`` (n_stimuli, n_voxels; the noiseless
        responses), ``voxel_r`` (n_voxels,) and ``noise_sd`` (n_voxels,).
    """
    F = check_array(
        features, "features", ndim=2, dtype=np.float64, shape_doc="(n_stimuli, n_features)"
    )
    n_voxels = _check_int(n_voxels, "n_voxels", 1)
    n_noise_sources = _check_int(n_noise_sources, "n_noise_sources", 1)
    low, high = _check_noise(r_range, shared_noise)
    n = F.shape[0]
    reps = np.broadcast_to(np.asarray(n_repeats), (n,)).astype(int)
    if np.any(reps < 1):
        raise ValueError(f"`n_repeats` must be >= 1 for every stimulus; got {n_repeats!r}")
    mask = np.ones(n, bool) if fit_mask is None else np.asarray(fit_mask, dtype=bool)
    if mask.shape != (n,) or mask.sum() < 2:
        raise ValueError(
            f"`fit_mask` must be a boolean array with one entry per stimulus ({n}) selecting "
            f"at least 2 of them; got shape {mask.shape} with {int(mask.sum())} selected"
        )
    rng = np.random.default_rng(seed)
    sd = F[mask].std(axis=0)
    Fz = np.divide(F - F[mask].mean(axis=0), sd, out=np.zeros_like(F), where=sd > 0)
    W = rng.standard_normal((F.shape[1], n_voxels)) / np.sqrt(F.shape[1])
    S = Fz @ W
    s_sd = S[mask].std(axis=0)
    s_sd = np.where(s_sd > 0, s_sd, 1.0)
    W /= s_sd
    S = (S - S[mask].mean(axis=0)) / s_sd
    voxel_r = rng.uniform(low, high, n_voxels)
    noise_sd = np.sqrt(1.0 - voxel_r**2) / voxel_r
    loadings = rng.standard_normal((n_noise_sources, n_voxels))
    loadings /= np.linalg.norm(loadings, axis=0, keepdims=True)
    brain = np.empty((n, n_voxels))
    for k in np.unique(reps):
        rows = np.flatnonzero(reps == k)
        acc = np.zeros((rows.size, n_voxels))
        for _ in range(k):
            ind = rng.standard_normal((rows.size, n_voxels))
            shared = rng.standard_normal((rows.size, n_noise_sources)) @ loadings
            acc += np.sqrt(1 - shared_noise) * ind + np.sqrt(shared_noise) * shared
        brain[rows] = S[rows] + noise_sd * acc / k
    truth = {"weights": W, "signal": S, "voxel_r": voxel_r, "noise_sd": noise_sd}
    return brain.astype(np.float32), truth


def _split(
    stimuli: np.ndarray,
    features: np.ndarray,
    test: np.ndarray,
    labels: np.ndarray | None,
    sim: dict[str, Any],
    info: dict[str, Any],
) -> SemisyntheticData:
    reps = np.where(test, sim.pop("n_repeats_test"), 1)
    brain, truth = simulate_brain(features, n_repeats=reps, fit_mask=~test, **sim)
    tr, te = ~test, test
    return SemisyntheticData(
        stimuli_train=stimuli[tr],
        stimuli_test=stimuli[te],
        features_train=features[tr],
        features_test=features[te],
        brain_train=brain[tr],
        brain_test=brain[te],
        weights=truth["weights"],
        voxel_r=truth["voxel_r"],
        labels_train=None if labels is None else labels[tr],
        labels_test=None if labels is None else labels[te],
        info=info,
    )


def _image_features(
    features: Any, default: Callable[[], np.ndarray], images: np.ndarray, choices: tuple[str, ...]
) -> np.ndarray:
    if isinstance(features, str):
        if features != choices[0]:
            raise ValueError(
                f"`features` must be {choices[0]!r} or a callable images (n, H, W, C) -> "
                f"(n, n_features); got {features!r}"
            )
        return default()
    if not callable(features):
        raise TypeError(
            f"`features` must be {choices[0]!r} or a callable images -> (n, n_features); got "
            f"{type(features).__name__}"
        )
    out = np.asarray(features(images), dtype=np.float64)
    if out.ndim != 2 or out.shape[0] != images.shape[0]:
        raise ValueError(
            f"`features` (a callable) must return one row per image, shape "
            f"({images.shape[0]}, n_features); got shape {out.shape}"
        )
    return out


def make_semisynthetic_faces(
    n_train: int = 1000,
    n_test: int = 100,
    *,
    n_voxels: int = 1500,
    r_range: tuple[float, float] = (0.1, 0.3),
    shared_noise: float = 0.3,
    n_noise_sources: int = 10,
    n_repeats_test: int = 1,
    features: str | Callable[[np.ndarray], Any] = "latent",
    generator: Any = None,
    seed: int = 0,
) -> SemisyntheticData:
    """Faces from the DCGAN generator and simulated responses to them.

    Latents ``z ~ N(0, I)`` are drawn, their faces generated (64 × 64 RGB), and voxel
    responses simulated from the features (see the module docstring and
    :func:`simulate_brain`).

    Parameters
    ----------
    n_train, n_test : int
        Numbers of training trials and test images.
    n_voxels, r_range, shared_noise, n_noise_sources : see :func:`simulate_brain`
    n_repeats_test : int
        Noise draws averaged per test image (NSD: up to 3).
    features : "latent" or callable
        What the simulated brain encodes: ``"latent"``, the generator latents ``z`` (so the
        decoding targets are the true encoded features), or a callable images
        ``(n, 64, 64, 3)`` → ``(n, n_features)`` (e.g. network features).
    generator : FaceGenerator, path or None
        The generator (:func:`~brainalign.decoders.load_face_generator`; ``None``: the
        packaged weights).
    seed : int
        Seed of latents, weights and noise.

    Returns
    -------
    SemisyntheticData
        ``features_*`` are the latents ``z`` (n, 100) whatever ``features`` is: they are
        what a GAN head decodes.
    """
    from brainalign.decoders.heads._gan import FaceGenerator, load_face_generator

    n_train = _check_int(n_train, "n_train", 2)
    n_test = _check_int(n_test, "n_test", 2)
    gen = generator if isinstance(generator, FaceGenerator) else load_face_generator(generator)
    rng = np.random.default_rng(seed)
    Z = gen.sample_latents(n_train + n_test, seed=rng)
    images = gen.generate(Z)
    encoded = _image_features(features, lambda: Z.astype(np.float64), images, ("latent",))
    test = np.zeros(n_train + n_test, bool)
    test[n_train:] = True
    info = {
        "stimuli": "dcgan-faces",
        "generator": gen.source,
        "features": features
        if isinstance(features, str)
        else getattr(features, "__name__", "callable"),
        "n_voxels": n_voxels,
        "r_range": tuple(r_range),
        "shared_noise": shared_noise,
        "n_repeats_test": n_repeats_test,
        "seed": seed,
    }
    sim = {
        "n_voxels": n_voxels,
        "r_range": r_range,
        "shared_noise": shared_noise,
        "n_noise_sources": n_noise_sources,
        "n_repeats_test": _check_int(n_repeats_test, "n_repeats_test", 1),
        "seed": rng,
    }
    data = _split(images, encoded, test, None, sim, info)
    data.features_train, data.features_test = Z[~test], Z[test]
    return data


def load_digit_images(image_size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's handwritten digits as images in [0, 1].

    Parameters
    ----------
    image_size : int
        Side in pixels: 8 (native) or a larger size (bilinear upsampling).

    Returns
    -------
    images : ndarray, shape (1797, image_size, image_size, 1), float32
    labels : ndarray, shape (1797,), int
    """
    from sklearn.datasets import load_digits

    image_size = _check_int(image_size, "image_size", 8)
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]
    if image_size != 8:
        import torch
        import torch.nn.functional as F

        x = torch.from_numpy(images).permute(0, 3, 1, 2)
        x = F.interpolate(x, size=image_size, mode="bilinear", align_corners=False)
        images = x.clamp(0, 1).permute(0, 2, 3, 1).numpy()
    return images, digits.target.astype(int)


def digit_split(n_test: int = 300, seed: int = 0) -> np.ndarray:
    """A fixed split of the 1797 digits: a boolean mask of the test images.

    The digits diffusion model (:func:`~brainalign.decoders.train_digit_diffusion`) is
    trained on the complement only, so reconstructions of test images are never of images
    the generator has seen.

    Parameters
    ----------
    n_test : int
        Number of test images.
    seed : int
        Seed of the permutation.

    Returns
    -------
    test : ndarray of bool, shape (1797,)
    """
    n_test = _check_int(n_test, "n_test", 2)
    if n_test > 1797 - 100:
        raise ValueError(
            f"`n_test` must leave at least 100 of the 1797 digits for training; got {n_test}"
        )
    test = np.zeros(1797, bool)
    test[np.random.default_rng(seed).permutation(1797)[:n_test]] = True
    return test


def _digit_pca(images: np.ndarray, train: np.ndarray, n_components: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    flat = images.reshape(images.shape[0], -1).astype(np.float64)
    pca = PCA(n_components=n_components, whiten=True, random_state=0).fit(flat[train])
    return pca.transform(flat)


def make_semisynthetic_digits(
    n_test: int = 300,
    *,
    n_voxels: int = 1500,
    r_range: tuple[float, float] = (0.1, 0.3),
    shared_noise: float = 0.3,
    n_noise_sources: int = 10,
    n_repeats_test: int = 1,
    features: str | Callable[[np.ndarray], Any] = "pca",
    n_components: int = 16,
    image_size: int = 8,
    split_seed: int = 0,
    seed: int = 0,
) -> SemisyntheticData:
    """scikit-learn digits and simulated responses to them.

    Parameters
    ----------
    n_test : int
        Test images (:func:`digit_split`); the other ``1797 - n_test`` are training trials.
    n_voxels, r_range, shared_noise, n_noise_sources : see :func:`simulate_brain`
    n_repeats_test : int
        Noise draws averaged per test image.
    features : "pca" or callable
        What the simulated brain encodes: ``"pca"``, the first ``n_components`` whitened
        principal components of the 8 × 8 images (fitted on the training digits; the
        embedding the digits diffusion model is conditioned on), or a callable images →
        ``(n, n_features)``.
    n_components : int
        PCA components (``features="pca"``).
    image_size : int
        Side of the returned stimuli (8 native, larger upsampled); features are computed on
        the native 8 × 8 images.
    split_seed : int
        Seed of :func:`digit_split`.
    seed : int
        Seed of weights and noise.

    Returns
    -------
    SemisyntheticData
        With ``labels_*`` the digit classes.
    """
    test = digit_split(n_test, split_seed)
    native, labels = load_digit_images(8)
    n_components = _check_int(n_components, "n_components", 1)
    encoded = _image_features(
        features, lambda: _digit_pca(native, ~test, n_components), native, ("pca",)
    )
    stimuli = native if image_size == 8 else load_digit_images(image_size)[0]
    info = {
        "stimuli": "sklearn-digits",
        "features": features
        if isinstance(features, str)
        else getattr(features, "__name__", "callable"),
        "n_components": n_components,
        "n_voxels": n_voxels,
        "r_range": tuple(r_range),
        "shared_noise": shared_noise,
        "n_repeats_test": n_repeats_test,
        "split_seed": split_seed,
        "seed": seed,
    }
    sim = {
        "n_voxels": n_voxels,
        "r_range": r_range,
        "shared_noise": shared_noise,
        "n_noise_sources": n_noise_sources,
        "n_repeats_test": _check_int(n_repeats_test, "n_repeats_test", 1),
        "seed": seed,
    }
    return _split(stimuli, encoded, test, labels, sim, info)
