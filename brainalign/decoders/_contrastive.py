"""Contrastive decoder: CLIP-style InfoNCE + MSE from brain activity to target embeddings.

The loss of Benchetrit et al. 2023 (MEG → image: CLIP loss + MSE) and of MindEye's
retrieval objective without the mixup / soft-label variants: within a mini-batch of ``B``
trials, the decoded embeddings ``p_i`` and the true embeddings ``t_i`` are L2-normalised and

``logits = exp(s) · p̂ t̂ᵀ``,  ``InfoNCE = ½ [CE(logits, I) + CE(logitsᵀ, I)]``

where ``exp(s) = 1 / temperature`` is learned (initialised at ``1 / temperature``, capped at
100 as in CLIP) or fixed. The MSE term keeps the decoded embeddings on the scale of the
targets (needed by generative heads that consume them). Several subjects share one decoder
through per-subject linear input layers (see :class:`~brainalign.decoders.MLPDecoder`).
"""

from __future__ import annotations

import math
from typing import Any

from brainalign.decoders._mlp import _check_float, _TorchDecoder

__all__ = ["ContrastiveDecoder", "info_nce"]

#: CLIP caps the learned logit scale at 100 (temperature >= 0.01).
_MAX_LOGIT_SCALE = math.log(100.0)


def info_nce(pred: Any, target: Any, logit_scale: Any) -> Any:
    """Symmetric InfoNCE (CLIP) loss of a batch where ``pred[i]`` matches ``target[i]``.

    Parameters
    ----------
    pred, target : torch.Tensor, shape (batch, n_dims)
    logit_scale : torch.Tensor or float
        ``1 / temperature``.

    Returns
    -------
    loss : torch.Tensor (scalar)
    """
    import torch
    import torch.nn.functional as F

    p = F.normalize(pred, dim=-1)
    t = F.normalize(target, dim=-1)
    logits = logit_scale * p @ t.T
    labels = torch.arange(p.shape[0], device=p.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


class ContrastiveDecoder(_TorchDecoder):
    """Brain → embedding decoder trained with InfoNCE (CLIP loss) + MSE, one or several subjects.

    Same network as :class:`~brainalign.decoders.MLPDecoder` (per-subject linear layers into
    a shared space, MLP backbone); the loss is ``clip_weight · InfoNCE + mse_weight · MSE``
    over mini-batches drawn within one subject, so the negatives of a trial are the other
    trials of the batch (retrieval quality depends on ``batch_size``).

    Parameters
    ----------
    hidden_sizes, shared_dim, activation, dropout, standardize, lr, weight_decay, n_epochs, \
device, seed, scoring, verbose
        As in :class:`~brainalign.decoders.MLPDecoder`.
    batch_size : int
        Trials per mini-batch (>= 2: each batch provides the negatives).
    temperature : float
        Softmax temperature of InfoNCE (CLIP: 0.07), the initial value when learned.
    learn_temperature : bool
        Learn the temperature (as CLIP, capped at 0.01) or keep it fixed.
    clip_weight : float
        Weight of the InfoNCE term.
    mse_weight : float
        Weight of the mean squared error term (0: pure contrastive; the decoded embeddings
        are then defined up to scale).
    scoring : {"correlation", "r2", "cosine", "top1"}
        Metric of :meth:`score`; default ``"top1"``, the retrieval this loss optimises.

    Attributes
    ----------
    temperature_ : float
        Final temperature.
    model_, subjects_, n_features_in_, n_features_in_per_subject_, n_outputs_, x_mean_, \
x_scale_, loss_curve_
        As in :class:`~brainalign.decoders.MLPDecoder`.

    Examples
    --------
    Two subjects with different voxel counts, one shared decoder:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Y = rng.standard_normal((64, 8))
    >>> X1 = Y @ rng.standard_normal((8, 40)); X2 = Y @ rng.standard_normal((8, 25))
    >>> dec = ContrastiveDecoder(hidden_sizes=(32,), n_epochs=5, batch_size=32)
    >>> dec.fit({"sub-01": X1, "sub-02": X2}, {"sub-01": Y, "sub-02": Y}).predict(
    ...     X2, subject="sub-02").shape
    (64, 8)
    """

    _min_batch = 2

    def __init__(
        self,
        hidden_sizes: tuple[int, ...] = (512,),
        shared_dim: int | None = None,
        activation: str = "gelu",
        dropout: float = 0.0,
        standardize: bool = True,
        temperature: float = 0.07,
        learn_temperature: bool = True,
        clip_weight: float = 1.0,
        mse_weight: float = 1.0,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        n_epochs: int = 100,
        batch_size: int = 128,
        device: str = "cpu",
        seed: int | None = 0,
        scoring: str = "top1",
        verbose: bool | None = None,
    ):
        self.hidden_sizes = hidden_sizes
        self.shared_dim = shared_dim
        self.activation = activation
        self.dropout = dropout
        self.standardize = standardize
        self.temperature = temperature
        self.learn_temperature = learn_temperature
        self.clip_weight = clip_weight
        self.mse_weight = mse_weight
        self.lr = lr
        self.weight_decay = weight_decay
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.device = device
        self.seed = seed
        self.scoring = scoring
        self.verbose = verbose

    def _check_loss_params(self) -> None:
        t = _check_float(self.temperature, "temperature", low=0.0)
        if t <= 0:
            raise ValueError(f"`temperature` must be > 0; got {self.temperature!r}")
        if self.learn_temperature and t < 0.01:
            raise ValueError(
                f"`temperature` must be >= 0.01 when learned (the logit scale is capped at 100, "
                f"as in CLIP); got {self.temperature!r}. Use learn_temperature=False."
            )
        clip = _check_float(self.clip_weight, "clip_weight", low=0.0)
        mse = _check_float(self.mse_weight, "mse_weight", low=0.0)
        if clip == 0 and mse == 0:
            raise ValueError("`clip_weight` and `mse_weight` must not both be 0")

    def _loss_modules(self, torch: Any) -> dict[str, Any]:
        if not self.learn_temperature:
            return {}
        init = torch.tensor(math.log(1.0 / float(self.temperature)))
        return {"loss": torch.nn.ParameterDict({"logit_scale": torch.nn.Parameter(init)})}

    def _logit_scale(self, torch: Any, net: Any) -> Any:
        if "loss" in net:
            return net["loss"]["logit_scale"].clamp(max=_MAX_LOGIT_SCALE).exp()
        return 1.0 / float(self.temperature)

    def _loss(self, torch: Any, net: Any, pred: Any, target: Any) -> Any:
        loss = 0.0
        if self.clip_weight:
            loss = loss + float(self.clip_weight) * info_nce(
                pred, target, self._logit_scale(torch, net)
            )
        if self.mse_weight:
            loss = loss + float(self.mse_weight) * torch.nn.functional.mse_loss(pred, target)
        return loss

    def _after_fit(self, net: Any) -> None:
        import torch

        with torch.no_grad():
            self.temperature_ = float(1.0 / self._logit_scale(torch, net))
