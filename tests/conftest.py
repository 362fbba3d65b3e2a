"""Test configuration: no network, quiet progress bars, deterministic threads."""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

os.environ.setdefault("BRAINALIGN_PROGRESS", "0")
# One BLAS thread per test process: OpenBLAS threads that spin while another process holds
# the other core make small factorisations orders of magnitude slower on a shared machine.
# Set before numpy is imported; override by exporting the variables.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("MPLBACKEND", "Agg")

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded(real):
    def connect(self, address, *args, **kwargs):
        if not _is_local(address):
            raise RuntimeError(
                f"Network access is blocked in tests (tried to connect to {address!r}). "
                "Use a local fixture or mark the test with @pytest.mark.network."
            )
        return real(self, address, *args, **kwargs)

    return connect


@pytest.fixture(autouse=True)
def _block_network(request, monkeypatch):
    """Block every non-loopback connection unless the test is marked ``network``."""
    if request.node.get_closest_marker("network") is None:
        monkeypatch.setattr(socket.socket, "connect", _guarded(_real_connect))
        monkeypatch.setattr(socket.socket, "connect_ex", _guarded(_real_connect_ex))
    yield
