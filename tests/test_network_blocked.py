"""The network is blocked in every test: nothing may reach Yahoo or a weather API."""

import socket

import pytest
from conftest import NetworkBlockedError


def test_socket_connect_to_the_internet_fails():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(NetworkBlockedError):
        sock.connect(("93.184.216.34", 443))


def test_name_resolution_fails():
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("query1.finance.yahoo.com", 443)


def test_requests_cannot_reach_the_weather_archive():
    requests = pytest.importorskip("requests")
    with pytest.raises((NetworkBlockedError, requests.exceptions.ConnectionError)):
        requests.get("https://archive-api.open-meteo.com/v1/archive", timeout=2)
