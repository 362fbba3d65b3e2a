"""Shared machinery of the ridge encoders: input checks, CV splits, backend, score, warnings.

Every encoder in this subpackage is a scikit-learn estimator: ``__init__`` only stores its
parameters, everything learnt ends in ``_``, and all inputs are validated here, at the public
boundary, with messages that name the parameter, the expectation, what was received and a fix.
"""

from __future__ import annotations

import contextlib
import numbers
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.model_selection import KFold, LeaveOneGroupOut
from sklearn.utils.validation import check_is_fitted

from brainalign._logging import _progress_enabled
from brainalign._validation import check_array, check_choice, check_groups, check_n_samples
from brainalign.evaluation._metrics import score_targets
from brainalign.exceptions import AlphaGridWarning

__all__ = [
    "DEFAULT_ALPHAS",
    "himalaya_backend",
]

#: Default grid of ridge penalties: 1e-2 ... 1e8, half a decade apart (21 values).
#:
#: Ridge shrinks each singular direction of ``X`` by ``s**2 / (s**2 + alpha)``. For z-scored
#: features ``s**2`` is of the order of ``n_samples`` times the variance share of the
#: direction, i.e. 1e0-1e5 for realistic designs (1e2-1e5 samples). ``alpha = 1e-2`` is then
#: ordinary least squares for every direction that matters, and ``alpha = 1e8`` shrinks every
#: direction at least a thousandfold (prediction ~ 0): the grid brackets the whole
#: regularisation path. An edge choice then usually says something about the target (no
#: signal: largest; almost no noise: smallest) rather than about the grid, and
#: :class:`~brainalign.exceptions.AlphaGridWarning` reports it either way (features on another
#: scale than z-scores do need another grid). Half-decade steps keep the per-target choice
#: within a quarter decade of the CV optimum; each extra alpha costs one matrix product per
#: fold, not one decomposition.
DEFAULT_ALPHAS = np.logspace(-2, 8, 21)

_DEVICES = ("cpu", "cuda")
_SOLVERS = ("auto", "primal", "dual")
_SCORINGS = ("correlation", "r2")
_HINT_SAMPLES = "Did you trim the first TRs of each run?"


# --------------------------------------------------------------------------------------------
# backend
# --------------------------------------------------------------------------------------------
def _check_cuda() -> None:
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            "`device='cuda'` needs PyTorch with CUDA support; it is not installed. Install it "
            "with `pip install brainalign[torch]` (choose the CUDA build from pytorch.org), or "
            "use device='cpu'."
        ) from exc
    if not torch.cuda.is_available():
        raise RuntimeError(
            "`device` must name an available compute device; got device='cuda' but "
            f"torch.cuda.is_available() is False (torch {torch.__version__}, built for CUDA "
            f"{torch.version.cuda}). Use device='cpu', or run on a machine with a CUDA GPU "
            "and a CUDA build of PyTorch."
        )


@contextlib.contextmanager
def himalaya_backend(device: str = "cpu") -> Iterator[Any]:
    """Use himalaya's backend for ``device`` inside the block; restore the previous one.

    himalaya keeps its backend in a module-level global. The encoders switch it only for the
    duration of ``fit`` and always restore it, also when the fit raises.

    Parameters
    ----------
    device : {"cpu", "cuda"}
        ``"cpu"`` uses the ``"numpy"`` backend, ``"cuda"`` the ``"torch_cuda"`` backend.

    Yields
    ------
    backend : module
        The himalaya backend module in use inside the block.
    """
    from himalaya.backend import get_backend, set_backend

    check_choice(device, "device", _DEVICES)
    if device == "cuda":
        _check_cuda()
    previous = get_backend().name
    try:
        yield set_backend("torch_cuda" if device == "cuda" else "numpy", on_error="raise")
    finally:
        set_backend(previous, on_error="raise")


def _to_numpy(backend: Any, x: Any) -> np.ndarray:
    return np.asarray(backend.to_numpy(x))


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
# Our messages name the parameter, the expectation, what was received and a fix; where
# scikit-learn's ``check_estimator`` looks for a phrase of its own (e.g. "Reshape your data",
# "X has 3 features, but ... is expecting 4 features as input"), the message also carries it,
# so that both users and scikit-learn's compatibility checks recognise the error.


def _as_numeric_array(x: Any, name: str) -> np.ndarray:
    """Refuse sparse and complex input; convert numeric object arrays to float64."""
    if sparse.issparse(x):
        raise TypeError(
            f"`{name}` must be a dense array; got a sparse {type(x).__name__} of shape "
            f"{x.shape}. Sparse input is not supported by the encoders (himalaya works on "
            f"dense arrays); convert it with `{name}.toarray()`."
        )
    arr = np.asarray(x)
    if np.iscomplexobj(arr):
        raise ValueError(
            f"`{name}` must be real-valued; got dtype {arr.dtype}. Complex data not supported: "
            "pass e.g. np.abs (amplitude) or the real and imaginary parts as separate columns."
        )
    if arr.dtype == object:
        # as scikit-learn's check_array: an object array of numbers is numeric data
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"`{name}` must be a numeric array; got an array of dtype object with shape "
                f"{arr.shape} holding a non-numeric entry ({exc}). Ragged lists or mixed "
                "types? Build a rectangular array of numbers."
            ) from exc
    return arr


def _check_not_empty(arr: np.ndarray, name: str, axis_names: tuple[str, str]) -> None:
    for axis, what in enumerate(axis_names[: arr.ndim]):
        if arr.shape[axis] == 0:
            raise ValueError(
                f"`{name}` must not be empty; got 0 {what}(s) (shape={arr.shape}) while a "
                f"minimum of 1 is required."
            )


def check_X(
    X: Any,
    name: str = "X",
    *,
    estimator: str | None = None,
    min_samples: int = 1,
    shape_doc: str = "(n_samples, n_features)",
) -> np.ndarray:
    """Return ``X`` as a finite 2-D float array (sparse, complex, non-numeric refused).

    ``min_samples=2`` is used at fit: cross-validation and centring need several samples.
    """
    if X is None:
        raise ValueError(f"`{name}` must be an array of shape {shape_doc}; got None")
    arr = _as_numeric_array(X, name)
    if arr.ndim == 1:
        raise ValueError(
            f"`{name}` must have shape {shape_doc} (2 dimensions); got an array with shape "
            f"{arr.shape}. Reshape your data either using {name}.reshape(-1, 1) if it holds "
            f"a single feature or {name}.reshape(1, -1) if it is a single sample."
        )
    arr = check_array(arr, name, ndim=2, shape_doc=shape_doc, allow_empty=True)
    _check_not_empty(arr, name, ("sample", "feature"))
    if arr.shape[0] < min_samples:
        raise ValueError(
            f"`{name}` must have at least {min_samples} samples to fit "
            f"{estimator or 'the encoder'}; got n_samples={arr.shape[0]} (shape={arr.shape}). "
            "Cross-validation and centring need several samples: pass the whole training set "
            "(samples in rows)."
        )
    return arr


def check_Y(Y: Any, estimator: str | None = None) -> tuple[np.ndarray, bool]:
    """Return ``Y`` as a 2-D float array and whether it was given 1-D."""
    shape_doc = "(n_samples, n_targets) or (n_samples,)"
    if Y is None:
        raise ValueError(
            f"`Y` must be an array of shape {shape_doc} (the brain responses); got None: "
            f"{estimator or 'the encoder'} requires y to be passed, but the target y is None."
        )
    Y = check_array(
        _as_numeric_array(Y, "Y"), "Y", ndim=(1, 2), shape_doc=shape_doc, allow_empty=True
    )
    _check_not_empty(Y, "Y", ("sample", "target"))
    if Y.ndim == 1:
        return Y[:, None], True
    return Y, False


def check_X_Y(X: Any, Y: Any, estimator: str | None = None) -> tuple[np.ndarray, np.ndarray, bool]:
    """Check a 2-D ``X`` (>= 2 samples) and ``Y`` with the same number of samples."""
    X = check_X(X, "X", estimator=estimator, min_samples=2)
    Y, ravel = check_Y(Y, estimator)
    check_n_samples({"X": X, "Y": Y}, hint=_HINT_SAMPLES)
    return X, Y, ravel


def check_n_features(
    X: np.ndarray, n_features_in: int, name: str = "X", estimator: str | None = None
) -> None:
    if X.shape[1] != n_features_in:
        raise ValueError(
            f"`{name}` must have the {n_features_in} features seen during fit; got "
            f"{name}.shape={X.shape}: {name} has {X.shape[1]} features, but "
            f"{estimator or 'the encoder'} is expecting {n_features_in} features as input. "
            "Build the test design exactly like the training design (same feature bands, "
            "same delays)."
        )


def check_alphas(alphas: Any, name: str = "alphas") -> np.ndarray:
    """Return the penalty grid as a sorted 1-D float64 array of positive values."""
    if alphas is None:
        return DEFAULT_ALPHAS.copy()
    arr = check_array(alphas, name, ndim=(0, 1), dtype=np.float64, shape_doc="(n_alphas,)")
    arr = np.atleast_1d(arr)
    if np.any(arr <= 0):
        raise ValueError(
            f"`{name}` must hold strictly positive ridge penalties; got min={arr.min():g}. "
            "Use e.g. np.logspace(-2, 8, 21)."
        )
    if len(np.unique(arr)) != len(arr):
        raise ValueError(f"`{name}` must not contain duplicates; got {arr.tolist()}")
    return np.sort(arr)


def check_batch(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{name}` must be None or an integer >= 1; got {value!r}")
    return int(value)


def resolve_solver(solver: str, n_samples: int, n_features: int) -> str:
    """``"primal"`` when ``n_samples >= n_features`` (for ``"auto"``), else ``"dual"``."""
    check_choice(solver, "solver", _SOLVERS)
    if solver == "auto":
        return "primal" if n_samples >= n_features else "dual"
    return solver


def resolve_cv(cv: Any, n_samples: int, groups: Any = None, X: Any = None) -> list:
    """Materialise the cross-validation splits as a list of ``(train, test)`` index arrays.

    ``None``: leave-one-run-out when ``groups`` has at least 2 runs, else 5-fold ``KFold``
    without shuffling (contiguous blocks). An int ``n``: ``KFold(n)`` without shuffling.
    A splitter (with ``split``) or an iterable of splits is used as is, with ``groups``.
    """
    if groups is not None:
        groups = check_groups(groups, n_samples)
    dummy = np.zeros((n_samples, 1)) if X is None else X
    if cv is None:
        if groups is not None and len(np.unique(groups)) >= 2:
            splits = list(LeaveOneGroupOut().split(dummy, groups=groups))
        else:
            splits = list(KFold(5).split(dummy))
    elif isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if cv < 2 or cv > n_samples:
            raise ValueError(
                f"`cv` as an int must be the number of folds, between 2 and n_samples="
                f"{n_samples}; got cv={cv}"
            )
        splits = list(KFold(int(cv)).split(dummy))
    elif isinstance(cv, str):
        raise TypeError(
            "`cv` must be None, an int (number of KFold folds), a scikit-learn splitter or an "
            f"iterable of (train, test) index arrays; got the string {cv!r}"
        )
    elif hasattr(cv, "split"):
        splits = list(cv.split(dummy, None, groups))
    elif isinstance(cv, Iterable):
        splits = list(cv)
    else:
        raise TypeError(
            "`cv` must be None, an int (number of KFold folds), a scikit-learn splitter or an "
            f"iterable of (train, test) index arrays; got {type(cv).__name__}: {cv!r}"
        )
    out = []
    for i, split in enumerate(splits):
        try:
            train, test = split
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"`cv` must yield (train, test) pairs of index arrays; split {i} is {split!r}"
            ) from exc
        train = np.asarray(train, dtype=np.intp).ravel()
        test = np.asarray(test, dtype=np.intp).ravel()
        if train.size == 0 or test.size == 0:
            raise ValueError(
                f"`cv` split {i} has an empty train or test set (train={train.size}, "
                f"test={test.size} samples). Use fewer folds or more runs."
            )
        bad = max(train.max(), test.max())
        if bad >= n_samples or min(train.min(), test.min()) < 0:
            raise ValueError(
                f"`cv` split {i} indexes sample {bad}, outside 0..{n_samples - 1}. Build the "
                "splits on the same samples as `X`."
            )
        out.append((train, test))
    if not out:
        raise ValueError("`cv` must produce at least one (train, test) split; got none")
    return out


# --------------------------------------------------------------------------------------------
# warnings
# --------------------------------------------------------------------------------------------
def snap_to_grid(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Replace each value by the nearest (in log scale) grid value (undo float round-off)."""
    values = np.asarray(values, dtype=np.float64)
    idx = np.abs(np.log(values)[:, None] - np.log(grid)[None, :]).argmin(1)
    return grid[idx]


def warn_alpha_edge(
    chosen: np.ndarray, grid: np.ndarray, *, name: str = "alphas_", threshold: float = 0.1
) -> None:
    """Warn when more than ``threshold`` of the targets chose the smallest or largest alpha."""
    chosen = np.asarray(chosen, dtype=np.float64).ravel()
    grid = np.asarray(grid, dtype=np.float64)
    if chosen.size == 0 or grid.size < 2:
        return
    lo, hi = grid.min(), grid.max()
    n_lo = int(np.sum(np.isclose(chosen, lo, rtol=1e-3)))
    n_hi = int(np.sum(np.isclose(chosen, hi, rtol=1e-3)))
    n = chosen.size
    if (n_lo + n_hi) / n <= threshold:
        return
    hints = []
    if n_lo:
        hints.append(f"extend it below {lo:g}")
    if n_hi:
        hints.append(f"extend it above {hi:g}")
    warnings.warn(
        f"{n_lo + n_hi} of {n} targets ({100 * (n_lo + n_hi) / n:.0f}%) selected a penalty on "
        f"the edge of the alpha grid [{lo:g}, {hi:g}] ({name}): {n_lo} at the smallest, "
        f"{n_hi} at the largest. The best penalty may lie outside the grid; use a wider grid "
        f"({' and '.join(hints)}, e.g. alphas=np.logspace(-4, 10, 29)), or set "
        "warn_alpha_edge=False. Targets without signal often select the largest alpha.",
        AlphaGridWarning,
        stacklevel=3,
    )


def progress_bar_enabled(verbose: bool | None = None) -> bool:
    """Whether himalaya's progress bar is shown (``verbose``, else ``BRAINALIGN_PROGRESS``)."""
    return _progress_enabled(verbose)


# --------------------------------------------------------------------------------------------
# base estimator
# --------------------------------------------------------------------------------------------
class _BaseEncoder(MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Shared ``score`` and output formatting for the encoders."""

    def _format_output(self, Y: np.ndarray) -> np.ndarray:
        return Y[..., 0] if getattr(self, "_y_1d", False) else Y

    def score(
        self, X: Any, Y: Any, multioutput: str = "uniform_average", **predict_params: Any
    ) -> float | np.ndarray:
        """Score the predictions for ``X`` against ``Y`` with ``self.scoring``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Test features (a dict of bands for :class:`BandedRidgeEncoder`).
        Y : array-like, shape (n_samples, n_targets)
            Test targets.
        multioutput : {"uniform_average", "raw_values"}
            ``"uniform_average"`` returns the mean over targets (a float);
            ``"raw_values"`` the per-target scores, shape (n_targets,).
        **predict_params
            Passed to ``predict`` (e.g. ``groups`` for :class:`TRFEncoder`).

        Returns
        -------
        score : float or ndarray, shape (n_targets,)
            Pearson r per target for ``scoring="correlation"`` (default), R² for ``"r2"``.
        """
        check_is_fitted(self)
        check_choice(self.scoring, "scoring", _SCORINGS)
        check_choice(multioutput, "multioutput", ("uniform_average", "raw_values"))
        Y_true, _ = check_Y(Y, type(self).__name__)
        Y_pred = self.predict(X, **predict_params)
        Y_pred = np.asarray(Y_pred).reshape(Y_pred.shape[0], -1)
        check_n_samples({"X": Y_pred, "Y": Y_true}, hint=_HINT_SAMPLES)
        return score_targets(Y_true, Y_pred, scoring=self.scoring, multioutput=multioutput)

    def __sklearn_tags__(self):  # pragma: no cover - depends on the sklearn version
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
