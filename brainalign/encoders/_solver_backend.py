"""Array backends of the banded-ridge solver: numpy (core) and torch (CPU or CUDA, optional).

The solver's heavy loops only need a handful of operations (matrix products, a symmetric
eigendecomposition, a positive-definite solve, elementwise arithmetic and reductions). Both
backends expose them with the same names, so that one implementation runs on numpy arrays and
on torch tensors. The backend is an object passed around, never global state: numpy and torch
threading settings are left as the user set them.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
import scipy.linalg

__all__ = ["NumpyOps", "TorchOps", "make_ops"]

_ENGINES = ("auto", "numpy", "torch", "himalaya")


class NumpyOps:
    """numpy + scipy backend: float32 BLAS products, LAPACK ``syevd`` / ``potrf``."""

    name = "numpy"
    float32 = np.float32
    float64 = np.float64

    def asarray(self, x: Any, dtype: Any = None) -> np.ndarray:
        return np.asarray(x, dtype=dtype)

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def cast(self, x: np.ndarray, dtype: Any) -> np.ndarray:
        return x.astype(dtype, copy=False)

    def index(self, idx: np.ndarray) -> np.ndarray:
        return np.asarray(idx, dtype=np.intp)

    def empty(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return np.empty(shape, dtype=dtype)

    def eye(self, n: int, dtype: Any) -> np.ndarray:
        return np.eye(n, dtype=dtype)

    def eigh(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Eigenvalues (ascending) and eigenvectors of a symmetric matrix (divide and conquer)."""
        return scipy.linalg.eigh(a, driver="evd", check_finite=False, overwrite_a=False)

    @contextmanager
    def single_threaded(self) -> Iterator[int]:
        """BLAS limited to one thread inside the block; yields the number of threads it had."""
        from threadpoolctl import threadpool_info, threadpool_limits

        n = max([d.get("num_threads", 1) for d in threadpool_info() if d["user_api"] == "blas"])
        with threadpool_limits(limits=1, user_api="blas"):
            yield max(1, int(n))

    def eigh_many(self, mats: list[Any]) -> list[tuple[Any, Any]]:
        return _eigh_many(self, mats)

    def solve_pd(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Solve ``a @ x = b`` for a symmetric positive-definite ``a`` (Cholesky)."""
        factor = scipy.linalg.cho_factor(a, lower=False, check_finite=False)
        return scipy.linalg.cho_solve(factor, b, check_finite=False)

    def solve_sym(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Least-squares solve through an eigendecomposition, eigenvalues below 0 set to 0."""
        s, v = self.eigh(a)
        s = np.maximum(s, 0)
        inv = np.divide(1.0, s, out=np.zeros_like(s), where=s > 0)
        return v @ (inv[:, None] * (v.T @ b))

    def einsum(self, spec: str, *ops: np.ndarray) -> np.ndarray:
        return np.einsum(spec, *ops)

    def where(self, cond: Any, a: Any, b: Any) -> np.ndarray:
        return np.where(cond, a, b)

    def abs(self, x: np.ndarray) -> np.ndarray:
        return np.abs(x)

    def maximum(self, x: np.ndarray, value: float) -> np.ndarray:
        return np.maximum(x, value)

    def diag(self, x: np.ndarray) -> np.ndarray:
        return np.diag(x)

    def any(self, x: np.ndarray) -> bool:
        return bool(np.any(x))

    def synchronize(self) -> None:
        return None


class TorchOps:
    """torch backend on ``device`` ("cpu" or "cuda"): MKL / cuBLAS products, ``syevd``."""

    name = "torch"

    def __init__(self, device: str = "cpu"):
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.float32 = torch.float32
        self.float64 = torch.float64

    def _dtype(self, dtype: Any) -> Any:
        if dtype is None or isinstance(dtype, self.torch.dtype):
            return dtype
        return {np.dtype(np.float32): self.float32, np.dtype(np.float64): self.float64}[
            np.dtype(dtype)
        ]

    def asarray(self, x: Any, dtype: Any = None) -> Any:
        dtype = self._dtype(dtype)
        if isinstance(x, self.torch.Tensor):
            return x.to(device=self.device, dtype=dtype or x.dtype)
        arr = np.asarray(x)
        if dtype is None:
            dtype = self._dtype(arr.dtype) if arr.dtype.kind == "f" else None
        return self.torch.as_tensor(arr, dtype=dtype, device=self.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        if isinstance(x, self.torch.Tensor):
            return x.detach().cpu().numpy()
        return np.asarray(x)

    def cast(self, x: Any, dtype: Any) -> Any:
        return x.to(self._dtype(dtype))

    def index(self, idx: np.ndarray) -> Any:
        return self.torch.as_tensor(np.asarray(idx, dtype=np.int64), device=self.device)

    def empty(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.torch.empty(shape, dtype=self._dtype(dtype), device=self.device)

    def eye(self, n: int, dtype: Any) -> Any:
        return self.torch.eye(n, dtype=self._dtype(dtype), device=self.device)

    def eigh(self, a: Any) -> tuple[Any, Any]:
        return self.torch.linalg.eigh(a)

    @contextmanager
    def single_threaded(self) -> Iterator[int]:
        previous = self.torch.get_num_threads()
        if self.device.type != "cpu":
            yield 1
            return
        self.torch.set_num_threads(1)
        try:
            yield previous
        finally:
            self.torch.set_num_threads(previous)

    def eigh_many(self, mats: list[Any]) -> list[tuple[Any, Any]]:
        return _eigh_many(self, mats)

    def solve_pd(self, a: Any, b: Any) -> Any:
        factor, info = self.torch.linalg.cholesky_ex(a)
        if int(info) != 0:
            raise np.linalg.LinAlgError("matrix is not positive definite")
        return self.torch.cholesky_solve(b, factor)

    def solve_sym(self, a: Any, b: Any) -> Any:
        s, v = self.eigh(a)
        s = self.torch.clamp(s, min=0)
        inv = self.torch.where(s > 0, 1.0 / self.torch.where(s > 0, s, 1.0), 0.0)
        return v @ (inv[:, None] * (v.T @ b))

    def einsum(self, spec: str, *ops: Any) -> Any:
        return self.torch.einsum(spec, *ops)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return self.torch.where(cond, a, b)

    def abs(self, x: Any) -> Any:
        return self.torch.abs(x)

    def maximum(self, x: Any, value: float) -> Any:
        return self.torch.clamp(x, min=value)

    def diag(self, x: Any) -> Any:
        return self.torch.diagonal(x)

    def any(self, x: Any) -> bool:
        return bool(self.torch.any(x))

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            self.torch.cuda.synchronize(self.device)


def _eigh_many(ops: Any, mats: list[Any]) -> list[tuple[Any, Any]]:
    """Eigendecompositions of several matrices: single-threaded LAPACK, one matrix per thread.

    The tridiagonal reduction of ``syevd`` is dominated by matrix-vector products that scale
    poorly with threads, and multi-threaded ``syevd`` degrades badly when the cores are shared
    with other processes. Decomposing independent matrices (the inner folds of one band
    weighting) concurrently, each on one thread, keeps every core busy in both situations.
    The thread settings are restored on exit.
    """
    with ops.single_threaded() as n_threads:
        if n_threads <= 1 or len(mats) == 1:
            return [ops.eigh(m) for m in mats]
        with ThreadPoolExecutor(min(n_threads, len(mats))) as pool:
            return list(pool.map(ops.eigh, mats))


def make_ops(engine: str, device: str) -> NumpyOps | TorchOps:
    """The backend for ``engine`` ({"auto", "numpy", "torch"}) on ``device``.

    ``"auto"`` is numpy on the CPU and torch on CUDA. ``"numpy"`` on ``device="cuda"`` is
    refused; ``"torch"`` needs PyTorch.
    """
    if engine == "auto":
        engine = "torch" if device == "cuda" else "numpy"
    if engine == "numpy":
        if device != "cpu":
            raise ValueError(
                f"`engine='numpy'` runs on the CPU only; got device={device!r}. Use "
                "engine='torch' (or 'auto') with device='cuda'."
            )
        return NumpyOps()
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "`engine='torch'` needs PyTorch; it is not installed. Install it with "
            "`pip install brainalign[torch]`, or use engine='numpy'."
        ) from exc
    return TorchOps(device)
