"""``http_get``: fetch a URL from an allow-list of hosts (off unless hosts are given).

Redirects are followed by hand so each hop's host is checked too; the body is read up to a byte cap.
Uses ``httpx`` (already installed with ``openai``) for timeouts and streaming.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urljoin, urlsplit

from llmkit.agents.tools import Tool
from llmkit.errors import InputError

MAX_BYTES = 200_000
MAX_REDIRECTS = 5


def host_allowed(url: str, hosts: frozenset[str]) -> bool:
    """Whether ``url`` is http(s) on one of ``hosts`` (``*.example.com`` allows subdomains).

    >>> h = frozenset({"example.com", "*.python.org"})
    >>> host_allowed("https://example.com/x", h), host_allowed("https://docs.python.org", h)
    (True, True)
    >>> host_allowed("https://example.com.evil.net", h), host_allowed("file:///etc/passwd", h)
    (False, False)
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        return False
    return host in hosts or any(h.startswith("*.") and host.endswith(h[1:]) for h in hosts)


def http_get(allow_hosts: Sequence[str], *, max_bytes: int = MAX_BYTES, timeout_s: float = 10.0) -> Tool:
    """The ``http_get`` tool for ``allow_hosts`` (at least one: with none the tool stays off)."""
    hosts = frozenset(h.strip().lower().rstrip(".") for h in allow_hosts if h.strip())
    if not hosts:
        raise InputError("http_get is off until hosts are allowed", hint="--allow-host example.com")

    def http_get(url: str) -> str:
        """Fetch a web page or API response (GET) from an allowed host and return its text."""
        import httpx

        with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
            for _ in range(MAX_REDIRECTS + 1):
                if not host_allowed(url, hosts):
                    raise InputError(f"{url!r} is not on an allowed host ({', '.join(sorted(hosts))})")
                with client.stream("GET", url, headers={"User-Agent": "llmkit-agent"}) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    body = b""
                    for piece in response.iter_bytes():
                        body += piece
                        if len(body) > max_bytes:
                            break
                    text = body[:max_bytes].decode(response.encoding or "utf-8", errors="replace")
                    cut = f"\n... [cut at {max_bytes} bytes]" if len(body) > max_bytes else ""
                    return f"HTTP {response.status_code}\n{text}{cut}"
        raise InputError(f"more than {MAX_REDIRECTS} redirects")

    return Tool.from_function(http_get)
