"""Executors: the serial default and Dask (a local cluster of two workers on 127.0.0.1)."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from brainalign.parallel import DaskExecutor, Executor, SerialExecutor

pytest.importorskip("distributed")


def _square_plus(x, offset=0):
    return x * x + offset


def _fail_on_three(x):
    if x == 3:
        raise ArithmeticError(f"unit {x} failed")
    time.sleep(0.05)
    return x


def _describe(item, shared):
    return type(shared).__name__, sorted(shared), float(shared["a"].sum()) + item


@pytest.fixture(scope="module")
def dask_executor():
    # in-process workers start in a fraction of a second on the 2-core CI machine; tasks,
    # arguments and results still travel through TCP on 127.0.0.1 (serialised)
    with DaskExecutor(n_workers=2, threads_per_worker=1, processes=False) as ex:
        yield ex


# ---------------------------------------------------------------------------------------------
def test_import_parallel_does_not_import_dask():
    code = "import sys, brainalign.parallel; print(any(m.startswith(('dask', 'distributed')) for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_serial_map_unordered_is_lazy_and_ordered():
    calls = []

    def record(x, offset):
        calls.append(x)
        return x + offset

    with SerialExecutor() as ex:
        it = ex.map_unordered(record, [5, 6, 7], 10)
        assert calls == []  # nothing runs before the caller asks
        assert next(it) == (0, 15)
        assert calls == [5]
        assert list(it) == [(1, 16), (2, 17)]


def test_serial_submit_and_broadcast():
    ex = SerialExecutor()
    obj = {"a": np.arange(3)}
    assert ex.broadcast(obj) is obj
    assert ex.submit(_square_plus, 3, 1).result() == 10
    fut = ex.submit(_fail_on_three, 3)
    with pytest.raises(ArithmeticError, match="unit 3 failed"):
        fut.result()
    assert isinstance(ex, Executor)
    assert repr(ex) == "SerialExecutor()"


def test_serial_error_stops_the_loop():
    seen = []
    with pytest.raises(ArithmeticError, match="unit 3 failed"):
        for _, r in SerialExecutor().map_unordered(_fail_on_three, [1, 2, 3, 4, 5]):
            seen.append(r)
    assert seen == [1, 2]


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_max_in_flight_must_be_positive(bad, dask_executor):
    for ex in (SerialExecutor(), dask_executor):
        with pytest.raises(ValueError, match=r"`max_in_flight` must be a positive int or None"):
            list(ex.map_unordered(_square_plus, [1], max_in_flight=bad))


# ---------------------------------------------------------------------------------------------
def test_dask_local_cluster_two_workers_on_loopback(dask_executor):
    workers = dask_executor.client.nthreads()
    assert len(workers) == 2
    assert all(addr.startswith("tcp://127.0.0.1:") for addr in workers)
    assert dask_executor.client.scheduler.address.startswith("tcp://127.0.0.1:")
    assert isinstance(dask_executor, Executor)


@pytest.mark.parametrize("max_in_flight", [None, 1, 3])
def test_dask_map_unordered_equals_serial(dask_executor, max_in_flight):
    items = list(range(11))
    serial = list(SerialExecutor().map_unordered(_square_plus, items, 2))
    got = list(dask_executor.map_unordered(_square_plus, items, 2, max_in_flight=max_in_flight))
    assert sorted(got) == serial
    assert len(got) == len(items)


def test_dask_map_unordered_empty(dask_executor):
    assert list(dask_executor.map_unordered(_square_plus, [])) == []


def test_dask_broadcast_reaches_every_worker_once(dask_executor):
    shared = {"a": np.arange(4.0), "b": np.ones(2)}
    handle = dask_executor.broadcast(shared)
    holders = dask_executor.client.who_has([handle])[handle.key]
    assert len(holders) == 2  # replicated on both workers, not re-sent per task
    got = sorted(dask_executor.map_unordered(_describe, [0, 1, 2], handle))
    # the dict arrives whole (not scattered key by key)
    assert got == [(i, ("dict", ["a", "b"], 6.0 + i)) for i in range(3)]


def test_dask_error_propagates_and_cancels(dask_executor):
    with pytest.raises(ArithmeticError, match="unit 3 failed"):
        list(dask_executor.map_unordered(_fail_on_three, range(8), max_in_flight=2))
    # the executor stays usable afterwards
    assert sorted(dask_executor.map_unordered(_square_plus, [1, 2])) == [(0, 1), (1, 4)]


def test_dask_submit(dask_executor):
    assert dask_executor.submit(_square_plus, 4, 1).result() == 17


def test_dask_connect_to_address_and_client(dask_executor):
    address = dask_executor.client.scheduler.address
    with DaskExecutor(address) as ex:
        assert sorted(ex.map_unordered(_square_plus, [3])) == [(0, 9)]
        assert "DaskExecutor('tcp://127.0.0.1:" in repr(ex)
    # closing an executor connected to an existing scheduler leaves the cluster running
    assert dask_executor.submit(_square_plus, 1).result() == 1
    with DaskExecutor(dask_executor.client) as ex:
        assert ex.client is dask_executor.client
    assert dask_executor.client.status == "running"  # a client passed in is not closed


def test_dask_closes_what_it_created():
    ex = DaskExecutor(n_workers=1, processes=False)
    client, cluster = ex.client, ex._cluster
    with ex:
        assert ex.submit(_square_plus, 2).result() == 4
    assert client.status == "closed"
    assert cluster.status.name == "closed"
    assert repr(ex) == "DaskExecutor(closed)"
    ex.close()  # idempotent


def test_dask_errors():
    with pytest.raises(ValueError, match=r"`n_workers` must be a positive int or None; got 0"):
        DaskExecutor(n_workers=0)
    with pytest.raises(ValueError, match=r"`threads_per_worker` must be a positive int; got -1"):
        DaskExecutor(threads_per_worker=-1)
    with pytest.raises(ValueError, match=r"`n_workers` configures the local cluster"):
        DaskExecutor("tcp://127.0.0.1:1", n_workers=2)
    with pytest.raises(TypeError, match=r"`address` must be None \(local cluster\)"):
        DaskExecutor(8786)
    with pytest.raises(TypeError, match=r"`resources` must be a dict"):
        DaskExecutor(resources=["GPU"])
