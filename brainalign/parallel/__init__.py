"""Parallel execution: one protocol, a serial default and a Dask executor.

- :class:`Executor`: the protocol algorithms use (``broadcast``, ``submit``,
  ``map_unordered``, ``close``).
- :class:`SerialExecutor`: run work units one after the other in this process (the default).
- :class:`DaskExecutor`: run them on a local Dask cluster, a running scheduler, or a SLURM
  cluster started with dask-jobqueue (see ``docs/scaling.md``).

Importing this package does not import dask; :class:`DaskExecutor` imports it when created.
"""

from brainalign.parallel._executor import DaskExecutor, Executor, SerialExecutor

__all__ = ["DaskExecutor", "Executor", "SerialExecutor"]
