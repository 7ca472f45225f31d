"""Ingest, search and ask make no network connection beyond loopback (DESIGN principle 1)."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _is_local(address: object) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX path
        return True
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every non-loopback connect or DNS lookup is refused and recorded."""
    seen: list[object] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def guard(address: object) -> None:
        if not _is_local(address):
            seen.append(address)
            raise OSError(f"network access to {address!r} attempted in an offline test")

    def connect(self: socket.socket, address: object) -> None:
        guard(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        guard(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if host not in (None, "localhost") and not _is_local((host, 0)):
            seen.append(("dns", host))
            raise socket.gaierror(f"DNS lookup of {host!r} attempted in an offline test")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return seen


def test_guard_catches_a_real_attempt(attempts: list[object]) -> None:
    with pytest.raises(OSError):
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)
    assert attempts


def test_main_flows_stay_on_this_machine(kit, project: Path, attempts: list[object]) -> None:
    kit.ingest(project / "docs")
    kit.search("warranty", explain=True)
    kit.ask("How long is the warranty on the Acme Widget 3000?")
    assert attempts == []
