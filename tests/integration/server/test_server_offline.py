"""Serving chat, embeddings, uploads and RAG answers makes no connection beyond loopback (DESIGN principle 1)."""

from __future__ import annotations

import ipaddress
import socket

import httpx
import pytest
from live_server import MODEL, Live

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _local(address: object) -> bool:
    if not isinstance(address, tuple):
        return True
    host = str(address[0])
    try:
        return host == "localhost" or ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def test_no_outbound_connections(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self: socket.socket, address: object) -> None:
        if not _local(address):
            seen.append(address)
            raise OSError(f"outbound connection to {address!r}")
        return real_connect(self, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if host not in (None, "localhost") and not _local((host, 0)):
            seen.append(("dns", host))
            raise socket.gaierror(f"DNS lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with httpx.Client(base_url=live.url, headers=live.headers(), timeout=120) as c:
        chat = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
        assert c.post("/v1/chat/completions", json=chat).status_code == 200
        assert c.post("/v1/embeddings", json={"model": "all-minilm-l6-v2-q8", "input": "hello"}).status_code == 200
        files = [("files", ("offline.md", b"# Offline\n\nNothing leaves this machine.\n", "text/markdown"))]
        assert c.post("/v1/collections/samples/documents", files=files).status_code == 201
        ask = {"query": "What leaves this machine?", "collection": "samples", "answer": False}
        assert c.post("/v1/query", json=ask).status_code == 200
        assert c.get("/metrics").status_code == 200 and c.get("/v1/models").status_code == 200
    assert seen == []
