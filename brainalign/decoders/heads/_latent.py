"""Shared part of the image heads: brain → generator latent / embedding, then rescaling.

Every image head decodes a vector that a generator takes (a GAN latent ``z``, a diffusion
model's conditioning embedding) from brain activity with a linear decoder, the way Takagi &
Nishimoto and Brain-Diffuser do: voxels z-scored with the *training* mean and std, one ridge
penalty per latent dimension chosen by cross-validation (:class:`RidgeDecoder`), then the
ridge predictions, which are shrunk towards the mean latent, are rescaled before the
generator sees them (see ``rescale``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted

from brainalign._validation import check_choice
from brainalign.decoders._base import check_brain_embeddings, check_embeddings, decoder_score
from brainalign.encoders._base import check_X

__all__ = ["RESCALE_MODES", "rescale_latents"]

#: How decoded latents are rescaled before generation.
RESCALE_MODES = ("none", "norm", "batch")


def rescale_latents(
    Z_pred: np.ndarray, mean: np.ndarray, std: np.ndarray, norm: float, mode: str
) -> np.ndarray:
    """Undo the ridge shrinkage of decoded latents.

    Parameters
    ----------
    Z_pred : ndarray, shape (n_samples, n_dims)
        Decoded latents.
    mean, std : ndarray, shape (n_dims,)
        Per-dimension mean and standard deviation of the training latents.
    norm : float
        Mean norm of the centred training latents.
    mode : {"none", "norm", "batch"}
        ``"none"``: unchanged. ``"norm"``: each latent's deviation from the training mean is
        scaled to ``norm`` (per sample: a reconstruction does not depend on the other test
        samples). ``"batch"``: each dimension is z-scored over the given samples and mapped
        to the training mean and std (the Brain-Diffuser trick; needs >= 2 samples and makes
        each reconstruction depend on the whole test batch).

    Returns
    -------
    ndarray, shape (n_samples, n_dims)
    """
    check_choice(mode, "rescale", RESCALE_MODES)
    if mode == "none":
        return Z_pred
    if mode == "norm":
        dev = Z_pred - mean
        lengths = np.linalg.norm(dev, axis=1, keepdims=True)
        scale = np.divide(norm, lengths, out=np.ones_like(lengths), where=lengths > 0)
        return mean + dev * scale
    if Z_pred.shape[0] < 2:
        raise ValueError(
            f"`rescale='batch'` z-scores each latent dimension over the decoded samples and "
            f"needs at least 2 of them; got {Z_pred.shape[0]}. Use rescale='norm' to "
            f"reconstruct single trials."
        )
    sd = Z_pred.std(axis=0)
    z = np.divide(Z_pred - Z_pred.mean(axis=0), sd, out=np.zeros_like(Z_pred), where=sd > 0)
    return mean + z * std


class _BrainLatentHead(MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Brain → latent decoder with training-set voxel z-scoring and latent rescaling.

    Subclasses set ``decoder``, ``standardize`` and ``rescale`` in their ``__init__`` and
    may override :meth:`_targets` to turn what ``fit`` receives (e.g. images) into latents.
    """

    decoder: Any
    standardize: bool
    rescale: str

    def _targets(self, Y: Any, n_samples: int) -> np.ndarray:
        return check_embeddings(Y, "Y", n_samples=n_samples)

    def _make_decoder(self) -> Any:
        if self.decoder is None:
            from brainalign.decoders import RidgeDecoder

            return RidgeDecoder()
        if not (hasattr(self.decoder, "fit") and hasattr(self.decoder, "predict")):
            raise TypeError(
                f"`decoder` must be None (a RidgeDecoder) or an estimator with fit and predict "
                f"(brain (n_samples, n_voxels) -> latents (n_samples, n_dims)); got "
                f"{type(self.decoder).__name__}"
            )
        return clone(self.decoder)

    def _standardized(self, X: np.ndarray) -> np.ndarray:
        if not self.standardize:
            return X
        return (X - self.brain_mean_) / self.brain_scale_

    def _check_brain(self, X: Any, min_samples: int = 1) -> np.ndarray:
        return check_X(
            X,
            "X",
            estimator=type(self).__name__,
            min_samples=min_samples,
            shape_doc="(n_samples, n_voxels)",
        )

    def fit(self, X: Any, Y: Any, groups: Any = None) -> _BrainLatentHead:
        """Fit the brain → latent decoder.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_voxels)
            Brain activity, one row per trial.
        Y : array-like, shape (n_samples, n_dims)
            The generator latents of the same trials (subclasses may also take images).
        groups : array-like of shape (n_samples,) or None
            Run labels, passed to the decoder (leave-one-run-out penalty selection).

        Returns
        -------
        self
        """
        check_choice(self.rescale, "rescale", RESCALE_MODES)
        X = self._check_brain(X, min_samples=2)
        Y = check_brain_embeddings(X, self._targets(Y, X.shape[0]))
        if self.standardize:
            self.brain_mean_ = X.mean(axis=0)
            scale = X.std(axis=0)
            self.brain_scale_ = np.where(scale > 0, scale, 1.0)
        decoder = self._make_decoder()
        Xs = self._standardized(X)
        if groups is None:
            decoder.fit(Xs, Y)
        else:
            decoder.fit(Xs, Y, groups=groups)
        self.decoder_ = decoder
        self.latent_mean_ = Y.mean(axis=0)
        self.latent_std_ = Y.std(axis=0)
        self.latent_norm_ = float(np.mean(np.linalg.norm(Y - self.latent_mean_, axis=1)))
        self.n_features_in_ = X.shape[1]
        self.n_outputs_ = Y.shape[1]
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Decode (rescaled) latents from brain activity.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_voxels)

        Returns
        -------
        Z : ndarray, shape (n_samples, n_dims)
            The latents handed to the generator (after ``rescale``).
        """
        check_is_fitted(self, "decoder_")
        X = self._check_brain(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"`X` must have the {self.n_features_in_} voxels seen during fit; got "
                f"X.shape={X.shape}. Use the same voxel selection (mask, ROI) as for training."
            )
        Z = np.asarray(self.decoder_.predict(self._standardized(X)), dtype=np.float64)
        return rescale_latents(
            Z, self.latent_mean_, self.latent_std_, self.latent_norm_, self.rescale
        )

    def score(self, X: Any, Y: Any, sample_weight: Any = None) -> float:
        """Mean Pearson r over latent dimensions between decoded and true latents.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_voxels)
        Y : array-like, shape (n_samples, n_dims)
            True latents (or what :meth:`fit` takes).
        sample_weight : None
            Not supported (present for scikit-learn compatibility).

        Returns
        -------
        float
        """
        if sample_weight is not None:
            raise ValueError("`sample_weight` is not supported; got an array")
        Z = self.predict(X)
        Y = check_embeddings(self._targets(Y, Z.shape[0]), "Y", n_dims=self.n_outputs_)
        return float(decoder_score(Y, Z, "correlation"))
