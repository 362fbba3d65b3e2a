"""MLP decoder (torch) from brain activity to target embeddings, one or several subjects.

The torch machinery shared with :class:`~brainalign.decoders.ContrastiveDecoder` lives here:
per-subject input handling, per-subject linear adapters into a shared space (MindEye2's
subject-specific "ridge" layer), the MLP backbone and the training loop. torch is imported
only when a decoder is fitted or used.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from brainalign._logging import progress
from brainalign._validation import check_choice
from brainalign.decoders._base import (
    DECODER_SCORINGS,
    check_brain_embeddings,
    check_embeddings,
    decoder_score,
)
from brainalign.encoders._base import check_X

__all__ = ["MLPDecoder", "resolve_device"]

_ACTIVATIONS = ("gelu", "relu", "silu")
_PREDICT_BATCH = 1024


# --------------------------------------------------------------------------------------------
# torch helpers
# --------------------------------------------------------------------------------------------
def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is installed in the test env
        raise ImportError(
            "The torch decoders (MLPDecoder, ContrastiveDecoder) need PyTorch; install it with "
            "`pip install brainalign[torch]` (choose the CUDA build from pytorch.org)."
        ) from exc
    return torch


def resolve_device(device: Any) -> Any:
    """Return ``torch.device(device)`` after checking that the device is available.

    Parameters
    ----------
    device : str or torch.device
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``...

    Raises
    ------
    ValueError
        Not a device name.
    RuntimeError
        A CUDA / MPS device on a machine without one.
    """
    torch = _import_torch()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"`device` must be a torch device such as 'cpu', 'cuda' or 'cuda:1'; got {device!r}"
        ) from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"`device` must name an available compute device; got device={device!r} but "
                f"torch.cuda.is_available() is False (torch {torch.__version__}). Use "
                "device='cpu', or run on a machine with a CUDA GPU and a CUDA build of PyTorch."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"`device` {device!r} does not exist: this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)"
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(f"`device` {device!r} is not available on this machine; use 'cpu'")
    return dev


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}; got {value!r}")
    return int(value)


def _check_float(value: Any, name: str, *, low: float, high: float | None = None) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` must be a number; got {value!r}") from exc
    if not math.isfinite(v) or v < low or (high is not None and v >= high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high})"
        raise ValueError(f"`{name}` must be {bounds}; got {value!r}")
    return v


# --------------------------------------------------------------------------------------------
# subjects
# --------------------------------------------------------------------------------------------
def _is_subject_list(X: Any) -> bool:
    """A list / tuple of 2-D arrays (one per subject), not a nested list forming one array."""
    return (
        isinstance(X, (list, tuple))
        and len(X) > 0
        and all(not isinstance(x, (str, bytes)) and np.ndim(x) == 2 for x in X)
    )


def split_subjects(X: Any, name: str = "X") -> tuple[str, list[Any], list[Any]]:
    """Normalise single- or multi-subject input.

    Returns
    -------
    kind : {"array", "list", "dict"}
    keys : list
        ``[None]`` for an array, ``0 .. n - 1`` for a list, the dict keys for a dict.
    values : list
        One entry per key.
    """
    if isinstance(X, Mapping):
        if not X:
            raise ValueError(
                f"`{name}` must not be an empty dict; pass {{subject: array}} for each subject"
            )
        return "dict", list(X), list(X.values())
    if _is_subject_list(X):
        return "list", list(range(len(X))), list(X)
    if isinstance(X, (list, tuple)) and len(X) == 0:
        raise ValueError(f"`{name}` must not be empty; got an empty {type(X).__name__}")
    return "array", [None], [X]


def _subject_label(key: Any) -> str:
    return "" if key is None else f"[{key!r}]"


# --------------------------------------------------------------------------------------------
# base estimator
# --------------------------------------------------------------------------------------------
class _TorchDecoder(MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Per-subject adapters + MLP backbone + training loop; subclasses define the loss."""

    _min_batch = 1

    # -- hooks -----------------------------------------------------------------------------
    def _check_loss_params(self) -> None:
        """Validate the parameters of the loss (subclasses)."""

    def _loss_modules(self, torch: Any) -> dict[str, Any]:
        """Extra trainable modules of the loss (e.g. a learned temperature)."""
        return {}

    def _loss(self, torch: Any, net: Any, pred: Any, target: Any) -> Any:
        return torch.nn.functional.mse_loss(pred, target)

    def _after_fit(self, net: Any) -> None:
        """Store loss-specific fitted attributes (subclasses)."""

    # -- parameters ------------------------------------------------------------------------
    def _check_params(self) -> dict[str, Any]:
        hidden = self.hidden_sizes
        if hidden is None:
            hidden = ()
        if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
            hidden = (hidden,)
        if not isinstance(hidden, Sequence) or any(
            isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1 for h in hidden
        ):
            raise ValueError(
                "`hidden_sizes` must be a tuple of ints >= 1 (one per hidden layer; () for a "
                f"linear decoder); got {self.hidden_sizes!r}"
            )
        if self.shared_dim is not None:
            _check_int(self.shared_dim, "shared_dim", 1)
        check_choice(self.activation, "activation", _ACTIVATIONS)
        check_choice(self.scoring, "scoring", DECODER_SCORINGS)
        self._check_loss_params()
        return {
            "hidden": tuple(int(h) for h in hidden),
            "dropout": _check_float(self.dropout, "dropout", low=0.0, high=1.0),
            "lr": _check_float(self.lr, "lr", low=1e-12),
            "weight_decay": _check_float(self.weight_decay, "weight_decay", low=0.0),
            "n_epochs": _check_int(self.n_epochs, "n_epochs", 1),
            "batch_size": _check_int(self.batch_size, "batch_size", self._min_batch),
        }

    # -- input -----------------------------------------------------------------------------
    def _check_fit_input(self, X: Any, Y: Any) -> tuple[str, list[Any], list[np.ndarray], list]:
        kind, keys, Xs = split_subjects(X, "X")
        est = type(self).__name__
        min_samples = max(2, self._min_batch)
        if kind == "array":
            Xc = check_X(Xs[0], "X", estimator=est, min_samples=min_samples)
            return kind, keys, [Xc], [check_brain_embeddings(Xc, Y)]
        if kind == "dict":
            if not isinstance(Y, Mapping) or set(Y) != set(keys):
                got = sorted(map(repr, Y)) if isinstance(Y, Mapping) else type(Y).__name__
                raise ValueError(
                    f"`Y` must be a dict with the same subjects as `X` ({sorted(map(repr, keys))}) "
                    f"when `X` is a dict; got {got}"
                )
            Ys = [Y[k] for k in keys]
        else:
            if not _is_subject_list(Y) or len(Y) != len(keys):
                got = f"{len(Y)} entries" if isinstance(Y, (list, tuple)) else type(Y).__name__
                raise ValueError(
                    f"`Y` must be a list of {len(keys)} embedding arrays (one per subject, in "
                    f"the order of `X`) when `X` is a list; got {got}"
                )
            Ys = list(Y)
        Xc, Yc = [], []
        for key, x, y in zip(keys, Xs, Ys):
            lab = _subject_label(key)
            xc = check_X(x, f"X{lab}", estimator=est, min_samples=min_samples)
            Xc.append(xc)
            Yc.append(check_brain_embeddings(xc, y, x_name=f"X{lab}", y_name=f"Y{lab}"))
        widths = {k: y.shape[1] for k, y in zip(keys, Yc)}
        if len(set(widths.values())) > 1:
            raise ValueError(
                "`Y` must have the same embedding width for every subject (one shared decoder "
                f"output); got widths {widths}"
            )
        return kind, keys, Xc, Yc

    def _resolve_key(self, subject: Any) -> int:
        """Index of ``subject`` among the fitted subjects."""
        if subject is None:
            if len(self.subjects_) == 1:
                return 0
            raise ValueError(
                f"`subject` must name one of the fitted subjects {self.subjects_} when `X` is a "
                "single array and the decoder was fitted on several subjects; or pass X as "
                "{subject: array}"
            )
        if subject not in self.subjects_:
            raise KeyError(
                f"`subject` must be one of the fitted subjects {self.subjects_}; got {subject!r}"
            )
        return self.subjects_.index(subject)

    def _split_predict(self, X: Any, subject: Any) -> tuple[str, list[Any], list[int], list]:
        kind, keys, Xs = split_subjects(X, "X")
        if kind == "array":
            idx = [self._resolve_key(subject)]
        else:
            if subject is not None:
                raise ValueError(
                    "`subject` must be None when `X` holds several subjects (list or dict); "
                    f"got subject={subject!r}"
                )
            idx = [self._resolve_key(k) for k in keys]
        checked = []
        for key, i, x in zip(keys, idx, Xs):
            lab = _subject_label(key)
            xc = check_X(x, f"X{lab}")
            expected = self.n_features_in_per_subject_[i]
            if xc.shape[1] != expected:
                who = "" if self.subjects_ == [None] else f" for subject {self.subjects_[i]!r}"
                raise ValueError(
                    f"`X{lab}` must have the {expected} features (voxels) seen during fit"
                    f"{who}; got X{lab}.shape={xc.shape}: X has {xc.shape[1]} features, but "
                    f"{type(self).__name__} is expecting {expected} features as input."
                )
            checked.append(xc)
        return kind, keys, idx, checked

    # -- network ---------------------------------------------------------------------------
    def _build(self, torch: Any, in_dims: list[int], out_dim: int, p: dict[str, Any]) -> Any:
        nn = torch.nn
        act = {"gelu": nn.GELU, "relu": nn.ReLU, "silu": nn.SiLU}[self.activation]
        shared = self.shared_dim
        if shared is None and len(in_dims) > 1:
            shared = p["hidden"][0] if p["hidden"] else out_dim
        modules: dict[str, Any] = {}
        if shared is not None:
            modules["adapters"] = nn.ModuleList([nn.Linear(d, int(shared)) for d in in_dims])
            width = int(shared)
        else:
            width = in_dims[0]
        layers: list[Any] = []
        for h in p["hidden"]:
            layers += [nn.Linear(width, h), nn.LayerNorm(h), act(), nn.Dropout(p["dropout"])]
            width = h
        layers.append(nn.Linear(width, out_dim))
        modules["backbone"] = nn.Sequential(*layers)
        modules.update(self._loss_modules(torch))
        return nn.ModuleDict(modules)

    @staticmethod
    def _forward(net: Any, x: Any, subject_index: int) -> Any:
        if "adapters" in net:
            x = net["adapters"][subject_index](x)
        return net["backbone"](x)

    # -- fit / predict ---------------------------------------------------------------------
    def fit(self, X: Any, Y: Any) -> _TorchDecoder:
        """Train the decoder.

        Parameters
        ----------
        X : array-like (n_samples, n_voxels), list of arrays, or dict {subject: array}
            Brain activity of one subject, or of several subjects (each with its own number
            of voxels; each gets its own linear input layer into the shared space).
        Y : array-like (n_samples, n_dims), list or dict matching ``X``
            Target embeddings of the same trials (same width for every subject).

        Returns
        -------
        self
        """
        p = self._check_params()
        kind, keys, Xs, Ys = self._check_fit_input(X, Y)
        torch = _import_torch()
        device = resolve_device(self.device)
        rng = np.random.default_rng(self.seed)
        means, scales = [], []
        for x in Xs:
            if self.standardize:
                mu, sd = x.mean(axis=0), x.std(axis=0)
                sd = np.where(sd > 0, sd, 1.0)
            else:
                mu, sd = np.zeros(x.shape[1]), np.ones(x.shape[1])
            means.append(mu)
            scales.append(sd)
        Xt = [
            torch.as_tensor((x - m) / s, dtype=torch.float32) for x, m, s in zip(Xs, means, scales)
        ]
        Yt = [torch.as_tensor(y, dtype=torch.float32) for y in Ys]
        cuda = [device.index or 0] if device.type == "cuda" else []
        losses: list[float] = []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(int(rng.integers(2**31 - 1)))
            net = self._build(torch, [x.shape[1] for x in Xs], Ys[0].shape[1], p).to(device)
            opt = torch.optim.AdamW(net.parameters(), lr=p["lr"], weight_decay=p["weight_decay"])
            net.train()
            for _ in progress(range(p["n_epochs"]), desc=type(self).__name__, verbose=self.verbose):
                batches = []
                for s, x in enumerate(Xt):
                    n_batches = max(1, math.ceil(x.shape[0] / p["batch_size"]))
                    for chunk in np.array_split(rng.permutation(x.shape[0]), n_batches):
                        batches.append((s, torch.as_tensor(chunk)))
                total, count = 0.0, 0
                for b in rng.permutation(len(batches)):
                    s, idx = batches[b]
                    xb, yb = Xt[s][idx].to(device), Yt[s][idx].to(device)
                    loss = self._loss(torch, net, self._forward(net, xb, s), yb)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * len(idx)
                    count += len(idx)
                losses.append(total / count)
        net.eval()
        self.model_ = net
        self.subjects_ = keys
        self.input_kind_ = kind
        self.x_mean_ = means
        self.x_scale_ = scales
        self.n_features_in_per_subject_ = [x.shape[1] for x in Xs]
        if kind == "array":
            self.n_features_in_ = Xs[0].shape[1]
        self.n_outputs_ = int(Ys[0].shape[1])
        self.loss_curve_ = np.asarray(losses)
        self._after_fit(net)
        return self

    def _predict_one(self, x: np.ndarray, i: int) -> np.ndarray:
        torch = _import_torch()
        device = next(self.model_.parameters()).device
        xs = (x - self.x_mean_[i]) / self.x_scale_[i]
        out = []
        with torch.no_grad():
            for start in range(0, xs.shape[0], _PREDICT_BATCH):
                xb = torch.as_tensor(xs[start : start + _PREDICT_BATCH], dtype=torch.float32)
                out.append(self._forward(self.model_, xb.to(device), i).cpu().numpy())
        return np.concatenate(out).astype(np.float64)

    def predict(self, X: Any, subject: Any = None) -> Any:
        """Decode embeddings.

        Parameters
        ----------
        X : array-like (n_samples, n_voxels), list of arrays, or dict {subject: array}
            Brain activity: one array (of ``subject``), or several subjects as at fit (a
            dict may hold any subset of the fitted subjects).
        subject : hashable or None
            The subject of an array ``X`` when the decoder was fitted on several subjects
            (a dict key, or a list index).

        Returns
        -------
        Y_pred : ndarray (n_samples, n_dims), or a list / dict of them matching ``X``
        """
        check_is_fitted(self)
        kind, keys, idx, Xs = self._split_predict(X, subject)
        preds = [self._predict_one(x, i) for x, i in zip(Xs, idx)]
        if kind == "array":
            return preds[0]
        if kind == "dict":
            return dict(zip(keys, preds))
        return preds

    def score(
        self, X: Any, Y: Any, multioutput: str = "uniform_average", subject: Any = None
    ) -> float | np.ndarray:
        """Score decoded embeddings against ``Y`` with ``self.scoring``.

        With several subjects, the score of each subject is computed on its own samples
        (retrieval among that subject's trials) and the scores are averaged.

        Parameters
        ----------
        X : array-like, list or dict
            As in :meth:`predict`.
        Y : array-like (n_samples, n_dims), or a list / dict matching ``X``
        multioutput : {"uniform_average", "raw_values"}
            ``"raw_values"`` (one subject only): per-dimension or per-sample scores.
        subject : hashable or None
            As in :meth:`predict`.

        Returns
        -------
        score : float or ndarray
        """
        check_is_fitted(self)
        kind, keys, idx, Xs = self._split_predict(X, subject)
        if kind == "array":
            Ys = [Y]
        elif kind == "dict":
            if not isinstance(Y, Mapping) or set(Y) != set(keys):
                got = sorted(map(repr, Y)) if isinstance(Y, Mapping) else type(Y).__name__
                raise ValueError(
                    f"`Y` must be a dict with the same subjects as `X` "
                    f"({sorted(map(repr, keys))}); got {got}"
                )
            Ys = [Y[k] for k in keys]
        else:
            if not isinstance(Y, (list, tuple)) or len(Y) != len(keys):
                got = f"{len(Y)} entries" if isinstance(Y, (list, tuple)) else type(Y).__name__
                raise ValueError(
                    f"`Y` must be a list of {len(keys)} embedding arrays (one per subject, in "
                    f"the order of `X`); got {got}"
                )
            Ys = list(Y)
        if len(Xs) > 1 and multioutput == "raw_values":
            raise ValueError(
                "`multioutput='raw_values'` needs one subject; score each subject separately"
            )
        scores = []
        for key, x, i, y in zip(keys, Xs, idx, Ys):
            lab = _subject_label(key)
            yt = check_embeddings(y, f"Y{lab}", n_samples=x.shape[0], n_dims=self.n_outputs_)
            scores.append(decoder_score(yt, self._predict_one(x, i), self.scoring, multioutput))
        return scores[0] if len(scores) == 1 else float(np.mean(scores))

    def __sklearn_tags__(self):  # pragma: no cover - depends on the sklearn version
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.non_deterministic = self.seed is None
        return tags


class MLPDecoder(_TorchDecoder):
    """MLP from brain activity to target embeddings, trained with mean squared error.

    ``X`` is z-scored per voxel with the training mean and std (``standardize=True``), goes
    through an optional per-subject linear layer into a shared space of ``shared_dim``
    dimensions, then through ``len(hidden_sizes)`` blocks ``Linear → LayerNorm → activation
    → Dropout`` and a final ``Linear`` to the embedding width. AdamW, constant learning
    rate, mini-batches drawn within one subject.

    Parameters
    ----------
    hidden_sizes : tuple of int
        Widths of the hidden layers; ``()`` gives a linear decoder.
    shared_dim : int or None
        Width of the per-subject linear input layers. ``None``: no input layer for a single
        subject; for several subjects, ``hidden_sizes[0]`` (or the embedding width when
        there is no hidden layer).
    activation : {"gelu", "relu", "silu"}
    dropout : float
        Dropout after each hidden layer, in [0, 1).
    standardize : bool
        z-score each voxel with the training mean and std (per subject).
    lr : float
        AdamW learning rate.
    weight_decay : float
        AdamW weight decay (MindEye2 regularises its subject layers this way).
    n_epochs : int
        Passes over the training data.
    batch_size : int
        Samples per mini-batch.
    device : str
        Torch device of training and prediction (``"cpu"``, ``"cuda"``, ``"cuda:1"``...).
    seed : int or None
        Seed of the initialisation, dropout and batch order (the global torch RNG is forked
        and restored). ``None``: not reproducible.
    scoring : {"correlation", "r2", "cosine", "top1"}
        Metric of :meth:`score` (see :class:`~brainalign.decoders.RidgeDecoder`).
    verbose : bool or None
        Progress bar over epochs; ``None`` follows ``BRAINALIGN_PROGRESS``.

    Attributes
    ----------
    model_ : torch.nn.ModuleDict
        ``"adapters"`` (per-subject ``Linear``, when present) and ``"backbone"``.
    subjects_ : list
        Fitted subjects: ``[None]`` for an array ``X``, list indices or dict keys.
    n_features_in_ : int
        Voxels seen during fit (single-array fit only).
    n_features_in_per_subject_ : list of int
    n_outputs_ : int
        Embedding width.
    x_mean_, x_scale_ : list of ndarray
        Per-subject standardisation.
    loss_curve_ : ndarray, shape (n_epochs,)
        Mean training loss of every epoch.
    """

    def __init__(
        self,
        hidden_sizes: tuple[int, ...] = (512,),
        shared_dim: int | None = None,
        activation: str = "gelu",
        dropout: float = 0.0,
        standardize: bool = True,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        n_epochs: int = 100,
        batch_size: int = 128,
        device: str = "cpu",
        seed: int | None = 0,
        scoring: str = "correlation",
        verbose: bool | None = None,
    ):
        self.hidden_sizes = hidden_sizes
        self.shared_dim = shared_dim
        self.activation = activation
        self.dropout = dropout
        self.standardize = standardize
        self.lr = lr
        self.weight_decay = weight_decay
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.device = device
        self.seed = seed
        self.scoring = scoring
        self.verbose = verbose
