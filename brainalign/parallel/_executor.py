"""Executors: where independent work units run (this process, or a Dask cluster).

Algorithms (e.g. :func:`brainalign.encoders.fit_targets_in_chunks`) only see the
:class:`Executor` protocol: they decompose the work into units, ``broadcast`` what every unit
shares (the design matrix), and consume results in completion order with ``map_unordered``.
Dask does the scheduling; brainalign never schedules work itself.
"""

from __future__ import annotations

import concurrent.futures
import numbers
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = ["DaskExecutor", "Executor", "SerialExecutor"]

R = TypeVar("R")

_DASK_HINT = (
    "DaskExecutor needs dask.distributed: pip install 'brainalign[parallel]' "
    "(or pip install 'dask[distributed]')"
)


@runtime_checkable
class Executor(Protocol):
    """What an algorithm needs from an execution engine.

    Methods
    -------
    broadcast(obj)
        Ship ``obj`` once to every worker; return a handle to pass as an argument of
        ``submit`` / ``map_unordered`` (the worker receives ``obj`` itself).
    submit(fn, *args)
        Run ``fn(*args)``; return a future with ``result()``.
    map_unordered(fn, items, *args, max_in_flight=None)
        Run ``fn(item, *args)`` for every item; yield ``(index, result)`` pairs in
        **completion order**, ``index`` being the item's position in ``items``. At most
        ``max_in_flight`` results are computed but not yet consumed, which bounds the memory
        held by the caller.
    close()
        Release what the executor created. Executors are context managers.
    """

    def broadcast(self, obj: Any) -> Any: ...

    def submit(self, fn: Callable[..., R], *args: Any) -> Any: ...

    def map_unordered(
        self,
        fn: Callable[..., R],
        items: Iterable[Any],
        *args: Any,
        max_in_flight: int | None = None,
    ) -> Iterator[tuple[int, R]]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...


def _check_positive_int(value: Any, name: str, *, allow_none: bool = True) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        expected = "a positive int or None" if allow_none else "a positive int"
        raise ValueError(f"`{name}` must be {expected}; got {value!r}")
    return int(value)


class SerialExecutor:
    """Run every unit in this process, one after the other (the default executor).

    ``map_unordered`` is lazy: a unit runs when the caller asks for the next result, so
    only one result exists at a time and an exception stops the loop at once.

    Examples
    --------
    >>> from brainalign.parallel import SerialExecutor
    >>> with SerialExecutor() as ex:
    ...     list(ex.map_unordered(pow, [1, 2, 3], 2))
    [(0, 1), (1, 4), (2, 9)]
    """

    def broadcast(self, obj: Any) -> Any:
        """Return ``obj`` itself (there is nowhere to ship it)."""
        return obj

    def submit(self, fn: Callable[..., R], *args: Any) -> concurrent.futures.Future[R]:
        """Run ``fn(*args)`` now; return a finished :class:`concurrent.futures.Future`."""
        future: concurrent.futures.Future[R] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def map_unordered(
        self,
        fn: Callable[..., R],
        items: Iterable[Any],
        *args: Any,
        max_in_flight: int | None = None,
    ) -> Iterator[tuple[int, R]]:
        """Yield ``(index, fn(item, *args))`` for each item, in order.

        Parameters
        ----------
        fn : callable
            Called as ``fn(item, *args)``.
        items : iterable
            Work units.
        *args
            Extra arguments shared by every call (e.g. handles from :meth:`broadcast`).
        max_in_flight : int or None
            Accepted for protocol compatibility; a serial run has one unit in flight.

        Yields
        ------
        index, result : tuple of (int, object)
        """
        _check_positive_int(max_in_flight, "max_in_flight")
        for i, item in enumerate(items):
            yield i, fn(item, *args)

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return "SerialExecutor()"


class DaskExecutor:
    """Run units on a Dask cluster: a local one it starts, or an existing one.

    Parameters
    ----------
    address : None, str, cluster object or :class:`distributed.Client`
        ``None``: start a :class:`distributed.LocalCluster` on ``127.0.0.1`` with the
        settings below. A string: the address of a running scheduler
        (``"tcp://10.0.0.5:8786"``). A cluster object (anything with a
        ``scheduler_address``, e.g. ``dask_jobqueue.SLURMCluster``): connect a client to it.
        A ``Client``: use it as is. :meth:`close` closes only what this executor created
        (the local cluster and/or the client), never a cluster or client passed in.
    n_workers : int or None
        Local cluster only: number of workers (``None``: Dask's default, one per core group).
    threads_per_worker : int
        Local cluster only: threads per worker. Keep 1 for BLAS-heavy units such as ridge
        fits (each worker process then runs single-threaded BLAS; Dask sets
        ``OMP_NUM_THREADS=1`` in worker processes).
    processes : bool
        Local cluster only: workers in separate processes (``True``, the default; scripts
        that use it need an ``if __name__ == "__main__":`` guard) or threads of this process
        (``False``: starts in a fraction of a second, shares this process's memory and GIL).
    dashboard_address : str or None
        Local cluster only: where to serve the Dask dashboard, e.g. ``"127.0.0.1:8787"``
        (needs bokeh); ``None`` disables it.
    resources : dict or None
        Worker resources each unit needs, e.g. ``{"GPU": 1}`` with workers started with
        ``--resources GPU=1``; passed to every ``submit``.
    **cluster_kwargs
        Local cluster only: any other :class:`distributed.LocalCluster` argument
        (``memory_limit``, ``local_directory``, ...).

    Attributes
    ----------
    client : distributed.Client
        The client in use.

    Notes
    -----
    **SLURM.** Start workers as SLURM jobs with ``dask-jobqueue``
    (``pip install dask-jobqueue``) and pass the cluster object::

        from dask_jobqueue import SLURMCluster
        cluster = SLURMCluster(cores=8, processes=8, memory="64GB", walltime="02:00:00",
                               queue="normal", account="mylab",
                               job_script_prologue=["source ~/venv/bin/activate"])
        cluster.scale(jobs=4)            # 4 jobs x 8 single-threaded workers
        with DaskExecutor(cluster) as ex:
            fit_targets_in_chunks(..., executor=ex)

    Workers must see the same files as the client (shared filesystem) and run the same
    Python environment. See ``docs/scaling.md``.

    Examples
    --------
    >>> from brainalign.parallel import DaskExecutor
    >>> with DaskExecutor(n_workers=2, processes=False) as ex:  # doctest: +SKIP
    ...     sorted(ex.map_unordered(pow, [1, 2, 3], 2))
    [(0, 1), (1, 4), (2, 9)]
    """

    def __init__(
        self,
        address: Any = None,
        *,
        n_workers: int | None = None,
        threads_per_worker: int = 1,
        processes: bool = True,
        dashboard_address: str | None = None,
        resources: dict[str, float] | None = None,
        **cluster_kwargs: Any,
    ):
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - dask is installed in dev/test
            raise ImportError(_DASK_HINT) from exc
        n_workers = _check_positive_int(n_workers, "n_workers")
        threads = _check_positive_int(threads_per_worker, "threads_per_worker", allow_none=False)
        if resources is not None and not isinstance(resources, dict):
            raise TypeError(
                f"`resources` must be a dict such as {{'GPU': 1}} or None; got {resources!r}"
            )
        self.resources = resources
        self.client: Any = None
        self._cluster: Any = None
        self._own_client = True
        if address is None:
            if dashboard_address is None:
                # no dashboard; the scheduler's HTTP routes (health, metrics) still start:
                # keep them off the fixed port 8787 (taken by any other cluster) and on loopback
                cluster_kwargs["scheduler_kwargs"] = {
                    "dashboard_address": "127.0.0.1:0",
                    **cluster_kwargs.get("scheduler_kwargs", {}),
                }
            self._cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=threads,
                processes=bool(processes),
                host="127.0.0.1",
                # in-process workers default to the "inproc" protocol, which ignores `host`
                protocol="tcp",
                dashboard_address=dashboard_address,
                **cluster_kwargs,
            )
            try:
                self.client = Client(self._cluster, set_as_default=False)
            except BaseException:
                self._cluster.close()
                raise
            return
        given = [k for k in cluster_kwargs]
        given += [
            k
            for k, v in [("n_workers", n_workers), ("dashboard_address", dashboard_address)]
            if v is not None
        ]
        given += ["processes"] if processes is not True else []
        given += ["threads_per_worker"] if threads != 1 else []
        if given:
            raise ValueError(
                f"`{given[0]}` configures the local cluster started when `address` is None; "
                f"got address={address!r} with {sorted(given)}. Configure the existing "
                "cluster instead, or drop `address` to start a local one."
            )
        if isinstance(address, Client):
            self.client = address
            self._own_client = False
        elif isinstance(address, str) or hasattr(address, "scheduler_address"):
            self.client = Client(address, set_as_default=False)
        else:
            raise TypeError(
                "`address` must be None (local cluster), a scheduler address string, a "
                "cluster object (e.g. dask_jobqueue.SLURMCluster) or a distributed.Client; "
                f"got {type(address).__name__}"
            )

    # ----------------------------------------------------------------------------------------
    def _n_threads(self) -> int:
        return int(sum(self.client.nthreads().values()))

    def broadcast(self, obj: Any) -> Any:
        """Scatter ``obj`` to every worker once; return its future (a handle for tasks).

        ``obj`` is wrapped so that containers (dicts of feature bands, tuples) travel as one
        object and arrive whole.
        """
        return self.client.scatter([obj], broadcast=True, hash=False)[0]

    def submit(self, fn: Callable[..., R], *args: Any) -> Any:
        """Submit ``fn(*args)``; return a :class:`distributed.Future`."""
        return self.client.submit(fn, *args, pure=False, resources=self.resources)

    def map_unordered(
        self,
        fn: Callable[..., R],
        items: Iterable[Any],
        *args: Any,
        max_in_flight: int | None = None,
    ) -> Iterator[tuple[int, R]]:
        """Run ``fn(item, *args)`` on the cluster; yield ``(index, result)`` as units finish.

        Parameters
        ----------
        fn : callable
            A module-level function (workers import it by name).
        items : iterable
            Work units, submitted lazily: at most ``max_in_flight`` are pending or finished
            but not yet consumed.
        *args
            Shared arguments, typically handles from :meth:`broadcast`.
        max_in_flight : int or None
            ``None``: twice the number of worker threads (at least 2).

        Yields
        ------
        index, result : tuple of (int, object)

        Raises
        ------
        Exception
            The first exception raised by a unit; the units still pending are cancelled.
        """
        from distributed import as_completed

        limit = _check_positive_int(max_in_flight, "max_in_flight")
        if limit is None:
            limit = max(2, 2 * self._n_threads())
        queue = iter(enumerate(items))
        index_of: dict[Any, int] = {}

        def _submit_next() -> Any:
            nxt = next(queue, None)
            if nxt is None:
                return None
            future = self.submit(fn, nxt[1], *args)
            index_of[future.key] = nxt[0]
            return future

        first = [f for f in (_submit_next() for _ in range(limit)) if f is not None]
        pending = as_completed(first, loop=self.client.loop)
        try:
            for future in pending:
                result = future.result()  # re-raises the unit's exception
                index = index_of.pop(future.key)
                nxt = _submit_next()
                if nxt is not None:
                    pending.add(nxt)
                yield index, result
        finally:
            leftover = list(pending.futures)
            if leftover:
                self.client.cancel(leftover)
            pending.clear()

    def close(self) -> None:
        """Close the client and local cluster this executor created (idempotent)."""
        if self._own_client and self.client is not None:
            self.client.close()
        self.client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.client is None:
            return "DaskExecutor(closed)"
        return f"DaskExecutor({self.client.scheduler.address!r})"
