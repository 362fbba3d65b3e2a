"""HRF convolution of event-locked features, evaluated straight at the sample times."""

from __future__ import annotations

from typing import Any

import numpy as np

from brainalign._validation import check_choice, check_positive
from brainalign.alignment._lanczos import _check_new_times, _check_values_times, _row_chunks

__all__ = ["HRF_MODELS", "hrf_convolve"]

#: HRF models accepted by :func:`hrf_convolve`, with their number of basis functions.
HRF_MODELS: dict[str, int] = {
    "spm": 1,
    "glover": 1,
    "spm + derivative": 2,
    "glover + derivative": 2,
    "spm + derivative + dispersion": 3,
    "glover + derivative + dispersion": 3,
}


def _hrf_kernels(hrf_model: str, t_r: float, oversampling: int, time_length: float) -> np.ndarray:
    """Sampled nilearn HRF basis, shape (n_basis, n_lags), lag ``m`` at ``m * t_r / oversampling``."""
    try:
        from nilearn.glm.first_level import hemodynamic_models as hm
    except ImportError as exc:  # pragma: no cover - nilearn is a core dependency here
        raise ImportError(
            "hrf_convolve needs nilearn for the HRF models; install it with `pip install nilearn`."
        ) from exc

    base = hrf_model.split(" + ")[0]
    funcs = {
        "spm": [hm.spm_hrf, hm.spm_time_derivative, hm.spm_dispersion_derivative],
        "glover": [hm.glover_hrf, hm.glover_time_derivative, hm.glover_dispersion_derivative],
    }[base][: HRF_MODELS[hrf_model]]
    return np.stack(
        [f(t_r, oversampling=oversampling, time_length=time_length) for f in funcs]
    ).astype(np.float64)


def _orthogonalize_blocks(out: np.ndarray, n_dims: int, n_basis: int) -> None:
    """In place: orthogonalise each basis column of a dimension against the previous ones.

    Same operation as ``nilearn.glm.first_level.hemodynamic_models.orthogonalize`` applied to
    the ``n_basis`` regressors of each dimension (Gram-Schmidt without normalisation).
    """
    for b in range(1, n_basis):
        col = out[:, b * n_dims : (b + 1) * n_dims]
        for p in range(b):
            ref = out[:, p * n_dims : (p + 1) * n_dims]
            norm2 = np.einsum("ij,ij->j", ref, ref)
            dot = np.einsum("ij,ij->j", ref, col)
            coef = np.divide(dot, norm2, out=np.zeros_like(dot), where=norm2 > 0)
            col -= ref * coef


def hrf_convolve(
    values: Any,
    times: Any,
    new_times: Any,
    *,
    hrf_model: str = "glover",
    oversampling: int = 50,
    time_length: float = 32.0,
    orthogonalize: bool = False,
) -> np.ndarray:
    """Convolve event-locked features with an HRF and sample the result at ``new_times``.

    Each item is an impulse at its time with amplitude equal to its feature value. The
    output is ``H_b @ values`` for each basis function ``b`` of the model, with
    ``H_b[k, j] = hrf_b(new_times[k] - times[j])``. ``hrf_b`` is nilearn's kernel
    (``nilearn.glm.first_level.spm_hrf``, ``glover_hrf`` and their time / dispersion
    derivatives), sampled every ``dt = t_r / oversampling`` seconds with nilearn's
    normalisation (the main kernel sums to 1 over its samples) and linearly interpolated in
    between; ``t_r`` is the smallest spacing of ``new_times`` (nilearn's ``compute_regressor``
    uses ``max(frame_times) / (n - 1)``, which is the same for a regular grid starting at 0
    but not for one starting later, e.g. TR midpoints). An item is
    thus treated like a nilearn event of duration 0 (one oversampled bin of width ``dt``),
    and for items on nilearn's oversampled grid the result equals
    ``nilearn.glm.first_level.compute_regressor(..., oversampling=oversampling)`` (see the
    tests for the tolerance).

    Differences with ``compute_regressor``: items are placed at their exact times rather than
    rounded up to the next oversampled bin; items earlier than ``new_times[0] - 24`` s are
    kept (nilearn drops them); derivative columns are **not** orthogonalised against the
    main regressor unless ``orthogonalize=True`` (nilearn always does it, over the samples
    at hand, which makes a column depend on the run length and on trimming).

    Parameters
    ----------
    values : array-like, shape (n_items, n_dims)
        Amplitude of each item (one column per feature dimension).
    times : array-like, shape (n_items,)
        Onset of each item in seconds (any order).
    new_times : array-like, shape (n_new,)
        Strictly increasing sample times in seconds, at least 2.
    hrf_model : str
        One of ``"spm"``, ``"glover"``, ``"spm + derivative"``, ``"glover + derivative"``,
        ``"spm + derivative + dispersion"``, ``"glover + derivative + dispersion"``.
    oversampling : int
        Number of kernel samples per sampling period.
    time_length : float
        Kernel length in seconds; the kernel is 0 beyond it.
    orthogonalize : bool
        Orthogonalise, per dimension and over ``new_times``, each derivative column against
        the previous basis columns as ``compute_regressor`` does.

    Returns
    -------
    ndarray, shape (n_new, n_basis * n_dims)
        Basis-major columns: column ``b * n_dims + d`` is dimension ``d`` convolved with
        basis function ``b`` (0: HRF, 1: time derivative, 2: dispersion derivative).
        ``out.reshape(n_new, n_basis, n_dims)`` separates them.
    """
    values, times = _check_values_times(values, times)
    new_times = _check_new_times(new_times)
    check_choice(hrf_model, "hrf_model", HRF_MODELS)
    if int(oversampling) != oversampling or oversampling < 1:
        raise ValueError(f"`oversampling` must be a positive integer; got {oversampling!r}")
    oversampling = int(oversampling)
    time_length = check_positive(time_length, "time_length")

    t_r = float(np.min(np.diff(new_times)))
    dt = t_r / oversampling
    kernels = _hrf_kernels(hrf_model, t_r, oversampling, time_length)
    n_basis, n_lags = kernels.shape
    lags = np.arange(n_lags) * dt
    support = lags[-1]

    order = np.argsort(times, kind="stable")
    times, values = times[order], values[order]
    n_dims = values.shape[1]
    out = np.zeros((new_times.shape[0], n_basis * n_dims), dtype=np.result_type(values, 1.0))
    for rows in _row_chunks(new_times.shape[0], times.shape[0]):
        nt = new_times[rows]
        # Only items in (t - support, t] can contribute to sample t.
        lo = int(np.searchsorted(times, nt[0] - support, side="left"))
        hi = int(np.searchsorted(times, nt[-1], side="right"))
        if hi <= lo:
            continue
        lag = nt[:, None] - times[None, lo:hi]
        for b in range(n_basis):
            h = np.interp(lag, lags, kernels[b], left=0.0, right=0.0)
            out[rows, b * n_dims : (b + 1) * n_dims] = h @ values[lo:hi]
    if orthogonalize and n_basis > 1:
        _orthogonalize_blocks(out, n_dims, n_basis)
    return out
