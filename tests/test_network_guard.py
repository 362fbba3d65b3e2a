"""The autouse fixture in conftest.py blocks every non-loopback connection."""

import socket

import pytest


def test_non_loopback_connection_is_blocked():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(RuntimeError, match="Network access is blocked in tests"):
            s.connect(("203.0.113.1", 80))  # TEST-NET-3, never routed
    finally:
        s.close()


def test_loopback_is_allowed():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        client.connect(server.getsockname())
        assert client.getpeername() == server.getsockname()
    finally:
        client.close()
        server.close()
