"""``http_get``: fetch a URL from an allow-list of hosts (off unless hosts are given).

Redirects are followed by hand so each hop's host is checked too; the body is read up to a byte cap.
The standard library's ``urllib`` is enough for one GET with a timeout, so no HTTP client is added.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any
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
        for _ in range(MAX_REDIRECTS + 1):
            if not host_allowed(url, hosts):
                raise InputError(f"{url!r} is not on an allowed host ({', '.join(sorted(hosts))})")
            status, headers, body = _get(url, max_bytes, timeout_s)
            if status in (301, 302, 303, 307, 308) and headers.get("location"):
                url = urljoin(url, headers["location"])
                continue
            charset = headers.get_content_charset() or "utf-8"
            text = body[:max_bytes].decode(charset, errors="replace")
            cut = f"\n... [cut at {max_bytes} bytes]" if len(body) > max_bytes else ""
            return f"HTTP {status}\n{text}{cut}"
        raise InputError(f"more than {MAX_REDIRECTS} redirects")

    return Tool.from_function(http_get)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the caller checks the next host itself


def _get(url: str, max_bytes: int, timeout_s: float) -> tuple[int, Any, bytes]:
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers={"User-Agent": "llmkit-agent"})
    try:
        with opener.open(request, timeout=timeout_s) as response:
            return response.status, response.headers, response.read(max_bytes + 1)
    except urllib.error.HTTPError as e:  # 3xx (not followed) and 4xx/5xx still carry a body
        return e.code, e.headers, e.read(max_bytes + 1)
    except (urllib.error.URLError, OSError) as e:
        raise InputError(f"cannot fetch {url!r}: {getattr(e, 'reason', e)}") from None
