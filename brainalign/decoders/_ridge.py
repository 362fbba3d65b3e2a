"""Linear decoders: ridge and banded ridge from brain activity to target embeddings.

Both wrap the encoders of :mod:`brainalign.encoders` with the roles swapped (brain activity
as ``X``, stimulus embeddings as ``Y``): the penalty search, solvers, devices and memory knobs
are the encoders'. This is the linear decoder of Takagi & Nishimoto (himalaya ``RidgeCV``,
voxels → latents) and of Brain-Diffuser (ridge to CLIP / VDVAE latents), with one penalty per
embedding dimension chosen by cross-validation instead of one fixed penalty.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from brainalign._validation import check_choice
from brainalign.decoders._base import (
    DECODER_SCORINGS,
    check_brain_embeddings,
    check_embeddings,
    decoder_score,
)
from brainalign.encoders import BandedRidgeEncoder, RidgeEncoder
from brainalign.encoders._base import check_X

__all__ = ["BandedRidgeDecoder", "RidgeDecoder"]


class _LinearDecoder(MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Composition over an encoder: checks with decoder wording, then delegates."""

    _encoder_class: type = RidgeEncoder

    def _encoder_params(self) -> dict[str, Any]:
        params = self.get_params(deep=False)
        params.pop("scoring")
        return params

    def _check_brain(self, X: Any, min_samples: int = 1) -> Any:
        if isinstance(X, Mapping):  # brain bands (banded decoder): checked by the encoder
            return X
        return check_X(X, "X", estimator=type(self).__name__, min_samples=min_samples)

    def fit(self, X: Any, Y: Any, groups: Any = None) -> _LinearDecoder:
        """Fit the decoder: one penalty per embedding dimension, chosen by cross-validation.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_voxels)
            Brain activity, one row per trial (a dict of brain bands for
            :class:`BandedRidgeDecoder`).
        Y : array-like, shape (n_samples, n_dims)
            Target embeddings of the same trials.
        groups : array-like of shape (n_samples,) or None
            Run (or session) label of each sample: leave-one-run-out penalty selection.

        Returns
        -------
        self
        """
        check_choice(self.scoring, "scoring", DECODER_SCORINGS)
        X_checked = self._check_brain(X, min_samples=2)
        first = next(iter(X_checked.values())) if isinstance(X_checked, Mapping) else X_checked
        Y = check_brain_embeddings(np.asarray(first), Y)
        encoder = self._encoder_class(**self._encoder_params())
        encoder.fit(X_checked, Y, groups=groups)
        self.encoder_ = encoder
        self.coef_ = encoder.coef_
        self.intercept_ = encoder.intercept_
        self.alphas_ = encoder.alphas_
        self.n_features_in_ = encoder.n_features_in_
        self.n_outputs_ = int(Y.shape[1])
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Decode embeddings from brain activity.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_voxels)

        Returns
        -------
        Y_pred : ndarray, shape (n_samples, n_dims)
        """
        check_is_fitted(self)
        return self.encoder_.predict(self._check_brain(X))

    def score(self, X: Any, Y: Any, multioutput: str = "uniform_average") -> float | np.ndarray:
        """Score decoded embeddings against ``Y`` with ``self.scoring``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_voxels)
        Y : array-like, shape (n_samples, n_dims)
        multioutput : {"uniform_average", "raw_values"}
            See :func:`brainalign.decoders._base.decoder_score`.

        Returns
        -------
        score : float or ndarray
        """
        check_is_fitted(self)
        Y_pred = self.predict(X)
        Y_true = check_embeddings(Y, "Y", n_samples=Y_pred.shape[0], n_dims=self.n_outputs_)
        return decoder_score(Y_true, Y_pred, self.scoring, multioutput)

    def __sklearn_tags__(self):  # pragma: no cover - depends on the sklearn version
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


class RidgeDecoder(_LinearDecoder):
    """Ridge regression from brain activity to target embeddings.

    A thin decoder over :class:`~brainalign.encoders.RidgeEncoder` with brain activity as
    ``X`` and embeddings as ``Y``: one penalty per embedding dimension, chosen by
    cross-validation (leave-one-run-out with ``groups``), solved by himalaya (primal when
    ``n_samples >= n_voxels``, else dual). z-score the voxels with the *training* mean and
    std beforehand (MindEye2, Brain-Diffuser do).

    Parameters
    ----------
    alphas, cv, fit_intercept, solver, device, n_targets_batch, n_alphas_batch, \
n_targets_batch_refit, warn_alpha_edge
        As in :class:`~brainalign.encoders.RidgeEncoder` (targets are embedding
        dimensions here).
    scoring : {"correlation", "r2", "cosine", "top1"}
        Metric of :meth:`score`: per-dimension Pearson r or R² (averaged), mean cosine
        similarity, or top-1 brain → stimulus retrieval (MindEye protocol).

    Attributes
    ----------
    encoder_ : RidgeEncoder
        The fitted encoder (brain → embeddings).
    coef_ : ndarray, shape (n_voxels, n_dims)
    intercept_ : ndarray, shape (n_dims,)
    alphas_ : ndarray, shape (n_dims,)
        Penalty selected for each embedding dimension.
    n_features_in_ : int
        Number of voxels (or sensors) seen during fit.
    n_outputs_ : int
        Embedding width.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 30))
    >>> Y = X @ rng.standard_normal((30, 8)) + 5 * rng.standard_normal((200, 8))
    >>> RidgeDecoder(alphas=np.logspace(-3, 3, 7)).fit(X, Y).predict(X).shape
    (200, 8)
    """

    _encoder_class = RidgeEncoder

    def __init__(
        self,
        alphas: Any = None,
        cv: Any = None,
        fit_intercept: bool = True,
        solver: str = "auto",
        device: str = "cpu",
        scoring: str = "correlation",
        n_targets_batch: int | None = None,
        n_alphas_batch: int | None = None,
        n_targets_batch_refit: int | None = None,
        warn_alpha_edge: bool = True,
    ):
        self.alphas = alphas
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.device = device
        self.scoring = scoring
        self.n_targets_batch = n_targets_batch
        self.n_alphas_batch = n_alphas_batch
        self.n_targets_batch_refit = n_targets_batch_refit
        self.warn_alpha_edge = warn_alpha_edge


class BandedRidgeDecoder(_LinearDecoder):
    """Banded ridge from brain activity (e.g. one band per ROI) to target embeddings.

    A thin decoder over :class:`~brainalign.encoders.BandedRidgeEncoder`: each brain band
    (ROI, hemisphere, modality) gets its own penalty per embedding dimension, found by
    himalaya's random search. Pass ``X`` as ``{roi_name: (n_samples, n_voxels_roi)}`` or
    as one array with ``bands={roi_name: n_voxels_roi}``.

    Parameters
    ----------
    bands, alphas, n_iter, concentration, cv, fit_intercept, solver, random_state, device, \
n_targets_batch, n_alphas_batch, n_targets_batch_refit, warn_alpha_edge, verbose
        As in :class:`~brainalign.encoders.BandedRidgeEncoder`.
    scoring : {"correlation", "r2", "cosine", "top1"}
        Metric of :meth:`score` (see :class:`RidgeDecoder`).

    Attributes
    ----------
    encoder_ : BandedRidgeEncoder
        The fitted encoder; ``encoder_.band_alphas_`` holds the per-band penalties.
    coef_ : ndarray, shape (n_voxels, n_dims)
    intercept_ : ndarray, shape (n_dims,)
    alphas_ : ndarray, shape (n_dims,)
    n_features_in_ : int
    n_outputs_ : int
    """

    _encoder_class = BandedRidgeEncoder

    def __init__(
        self,
        bands: Any = None,
        alphas: Any = None,
        n_iter: int = 20,
        concentration: Any = (0.1, 1.0),
        cv: Any = None,
        fit_intercept: bool = True,
        solver: str = "auto",
        random_state: int | None = None,
        device: str = "cpu",
        scoring: str = "correlation",
        n_targets_batch: int | None = None,
        n_alphas_batch: int | None = None,
        n_targets_batch_refit: int | None = None,
        warn_alpha_edge: bool = True,
        verbose: bool | None = None,
    ):
        self.bands = bands
        self.alphas = alphas
        self.n_iter = n_iter
        self.concentration = concentration
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.random_state = random_state
        self.device = device
        self.scoring = scoring
        self.n_targets_batch = n_targets_batch
        self.n_alphas_batch = n_alphas_batch
        self.n_targets_batch_refit = n_targets_batch_refit
        self.warn_alpha_edge = warn_alpha_edge
        self.verbose = verbose
