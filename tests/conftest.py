"""Shared fixtures. The network is blocked for every test: nothing may reach Yahoo or a weather API."""

from __future__ import annotations

import socket

import pytest

import forecast


class NetworkBlockedError(RuntimeError):
    """Raised when a test tries to open a network connection."""


_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _guarded(original):
    def connect(self, address, *args, **kwargs):
        host = address[0] if isinstance(address, tuple) else address
        if self.family == socket.AF_UNIX or host in _LOOPBACK:
            return original(self, address, *args, **kwargs)
        raise NetworkBlockedError(f"tests may not reach the network (tried {address!r})")

    return connect


@pytest.fixture(autouse=True)
def _block_network(monkeypatch):
    """Block outbound connections except loopback (the PostgreSQL test server lives there)."""
    monkeypatch.setattr(socket.socket, "connect", _guarded(socket.socket.connect))
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded(socket.socket.connect_ex))
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo(socket.getaddrinfo))


def _guarded_getaddrinfo(original):
    def getaddrinfo(host, *args, **kwargs):
        if host is None or host in _LOOPBACK:
            return original(host, *args, **kwargs)
        raise NetworkBlockedError(f"tests may not resolve network names (tried {host!r})")

    return getaddrinfo


@pytest.fixture(scope="session", autouse=True)
def _one_thread_per_test_process():
    """Tiny models run fastest on one thread, and tests never fight each other for the cores."""
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(previous)


@pytest.fixture
def seattle():
    """The bundled Seattle daily weather frame."""
    return forecast.datasets.load("seattle-weather")


@pytest.fixture
def fast_trainer_kwargs():
    """Estimator settings that keep Lightning runs to a second or two in tests."""
    return {"max_epochs": 2, "batch_size": 64, "progress_bar": False, "seed": 0}
