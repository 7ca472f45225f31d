"""The HTTP hop to an OpenAI-compatible server: JSON requests over a urllib3 connection pool, whole or streamed.

Why not the ``openai`` client for this hop: a gateway pays the client's own work on every request, and
that was the largest share of llmkit's CPU per request (bench/README.md, "Gateway overhead, third pass").
CPU per streamed chat call against a canned upstream on loopback: ``openai`` 2.4–2.9 ms, ``httpx`` alone
1.8–2.0 ms, urllib3 0.6–0.8 ms. urllib3 (the transport under requests and botocore) keeps the pool,
the timeouts and the retries (``Retry``: backoff, ``Retry-After`` up to a minute, the statuses the ``openai``
client retries); this module adds the proxy choice from the environment and maps failures onto llmkit's errors
like ``openai_compat.translate_error`` maps the ``openai`` client's.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterator
from typing import Any

from llmkit.errors import BackendUnavailable, ModelError

OPENAI_URL = "https://api.openai.com/v1"
#: What the ``openai`` client retries: request timeout, conflict, rate limit, server errors.
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
#: The longest ``Retry-After`` waited for; a server that asks for more gets its error reported at once.
RETRY_AFTER_MAX_S = 60.0
_USERINFO = re.compile(r"(?<=://)[^/?#@\s]+@")
_SECRET_QUERY = re.compile(
    r"([?&][^&=#\s]*(?:key|token|secret|passw|pwd|auth|sig|credential)[^&=#\s]*=)[^&#\s'\"]*", re.I
)


def redact_url(text: str) -> str:
    """``text`` (a URL, or a message that holds URLs) with user info and secret-looking query values masked.

    >>> redact_url("http://alice:s3cret@host:8000/v1?api-key=abc&x=1")
    'http://***@host:8000/v1?api-key=***&x=1'
    """
    return _SECRET_QUERY.sub(r"\1***", _USERINFO.sub("***@", text))


class UpstreamStatus(Exception):
    """The server answered an HTTP error: its status, its error message, its headers and its body."""

    def __init__(self, status: int, message: str, headers: Any, body: bytes = b"") -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.message, self.headers, self.body = status, message, headers, body


class Upstream:
    """JSON over HTTP to ``base_url`` with ``Authorization: Bearer api_key``; the pool is made on first use."""

    def __init__(self, base_url: str, api_key: str, timeout_s: float, max_retries: int = 2) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s, self.max_retries = timeout_s, max_retries
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._pool: Any = None

    def request(
        self, method: str, path: str, body: Any = None, *, stream: bool = False, retries: int | None = None
    ) -> Any:
        """The ``urllib3.HTTPResponse`` (unread when ``stream``); ``UpstreamStatus`` for an HTTP error,
        ``BackendUnavailable`` when the server cannot be reached or times out (after the retries)."""
        import urllib3

        retry = _retry_class()(
            total=self.max_retries if retries is None else retries, redirect=0, allowed_methods=None,
            status_forcelist=RETRY_STATUSES, backoff_factor=0.5, backoff_max=8, raise_on_status=False,
        )  # fmt: skip
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        try:
            response = self.pool().request(
                method, self.base_url + path, body=data, headers=self.headers, retries=retry,
                redirect=False, preload_content=not stream, timeout=self.timeout_s,
            )  # fmt: skip
        except urllib3.exceptions.HTTPError as e:
            raise self.unavailable(e) from e
        if response.status >= 400:
            raise UpstreamStatus(response.status, error_message(response.data), response.headers, response.data)
        return response

    def json(self, method: str, path: str, body: Any = None, *, retries: int | None = None) -> Any:
        response = self.request(method, path, body, retries=retries)
        try:
            return json.loads(response.data)
        except ValueError:
            where = redact_url(self.base_url)
            raise ModelError(f"{where} answered with invalid JSON: {response.data[:200]!r}") from None

    def unavailable(self, error: Exception) -> BackendUnavailable:
        import urllib3

        reason = getattr(error, "reason", error)  # NewConnectionError is a TimeoutError subclass in urllib3 2
        timed_out = isinstance(reason, urllib3.exceptions.TimeoutError) and not isinstance(
            reason, urllib3.exceptions.NewConnectionError
        )
        kind = "timed out" if timed_out else "cannot connect"
        return BackendUnavailable(
            redact_url(f"{self.base_url}: {kind} ({error})"), hint="is the server running? check model.base_url"
        )

    def pool(self) -> Any:
        """A ``urllib3.PoolManager``, or a ``ProxyManager`` where the environment names a proxy for this URL."""
        if self._pool is None:
            self._pool = _pool_for(self.base_url)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.clear()


@functools.cache
def _retry_class() -> Any:
    """urllib3's ``Retry``, except that a ``Retry-After`` over ``RETRY_AFTER_MAX_S`` ends the retries (the
    response comes back, and its status is reported) and an unreadable one means the usual backoff."""
    import urllib3

    class Retry(urllib3.Retry):
        def increment(self, method: Any = None, url: Any = None, response: Any = None, *args: Any, **kw: Any) -> Any:
            if response is not None and (self.get_retry_after(response) or 0) > RETRY_AFTER_MAX_S:
                reason = urllib3.exceptions.ResponseError(f"Retry-After over {RETRY_AFTER_MAX_S:.0f} s")
                raise urllib3.exceptions.MaxRetryError(kw.get("_pool"), url, reason)
            return super().increment(method, url, response, *args, **kw)

        def get_retry_after(self, response: Any) -> float | None:
            try:
                return super().get_retry_after(response)
            except urllib3.exceptions.InvalidHeader:
                return None

    return Retry


def _pool_for(url: str) -> Any:
    import urllib3

    kwargs: dict[str, Any] = {"maxsize": 32, "block": False}
    try:
        import certifi  # the CA bundle the openai client (httpx) uses

        kwargs["ca_certs"] = certifi.where()
    except ImportError:
        pass
    proxy = proxy_for(url)
    return urllib3.ProxyManager(proxy, **kwargs) if proxy else urllib3.PoolManager(**kwargs)


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``, ``NO_PROXY`` ...), as httpx honoured it."""
    import urllib.request
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    return None if not proxy or urllib.request.proxy_bypass(parts.hostname or "") else proxy


def iter_lines(response: Any) -> Iterator[str]:
    """The lines of a streamed response as they arrive (``\\n`` or ``\\r\\n`` ended); at its end, the
    connection goes back to the pool."""
    buffer = b""
    while chunk := response.read1(65536):
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            yield line.rstrip(b"\r").decode("utf-8", errors="replace")
    if buffer:
        yield buffer.rstrip(b"\r").decode("utf-8", errors="replace")
    response.release_conn()


def drain(lines: Iterator[str], response: Any = None, most: int = 8, wait_s: float = 1.0) -> bool:
    """Read what is left of a stream after ``[DONE]`` (normally nothing), at most ``most`` lines and ``wait_s``
    seconds of waiting; True if it ended.

    A response read to its end hands its connection back to the pool for the next request; closing one
    before its end drops the connection, and every request then pays a new TCP connection on both sides
    (about a tenth of the gateway's CPU per request, measured with py-spy). A server that holds the
    stream open after ``[DONE]`` costs ``wait_s``, then the caller closes the connection.

    >>> drain(iter(["", ""])), drain(iter(["x"] * 100))
    (True, False)
    """
    sock = getattr(getattr(response, "connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(wait_s)  # urllib3 sets the read timeout again for the connection's next request
    try:
        return all(n < most for n, _ in enumerate(lines))
    except Exception:  # timed out or broke: the caller's close() drops the connection
        return False


def error_message(raw: bytes) -> str:
    """The message of an error body (OpenAI's ``{"error": {"message": ...}}`` or a bare one), else the text.

    >>> error_message(b'{"error": {"message": "slow down"}}'), error_message(b"oops"), error_message(b'{"detail": "x"}')
    ('slow down', 'oops', '{"detail": "x"}')
    """
    text = raw[:2000].decode("utf-8", errors="replace")
    try:
        body = json.loads(raw)
    except ValueError:
        return text.strip() or "(no body)"
    inner = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(inner, dict) and inner.get("message"):
        return str(inner["message"])
    return str(inner) if isinstance(inner, str) else text


def api_key(base_url: str | None, key: str | None) -> str:
    """The key to send: ``key``, else ``$OPENAI_API_KEY``, else (only for a server of one's own) a placeholder."""
    key = key or os.environ.get("OPENAI_API_KEY")
    if key:
        return key
    if base_url is None:
        raise ModelError("no API key for the OpenAI API", hint="set OPENAI_API_KEY or model.api_key in llmkit.toml")
    return "no-key"  # local servers (vLLM, Ollama, llama.cpp) usually need none


DONE: Any = object()  # what ``SSEParser.feed`` returns for ``data: [DONE]``


class SSEParser:
    """A Server-Sent Events stream read line by line into its events' JSON objects.

    ``feed(line)`` returns an event's object (``DONE`` for ``[DONE]``) at the blank line that ends it, else
    None. An event's ``data:`` lines are joined with newlines, as the SSE spec says; comments and other fields
    are skipped, and data that is not a JSON object is a ``ModelError`` naming ``where``.

    >>> sse = SSEParser("http://x")
    >>> [sse.feed(line) for line in ['data: {"a":', "data: 1}", "", ": ping", "event: x", ""]]
    [None, None, {'a': 1}, None, None, None]
    >>> sse.feed("data: [DONE]"), sse.feed("") is DONE
    (None, True)
    """

    def __init__(self, where: str) -> None:
        self.where = where
        self._data: list[str] = []

    def feed(self, line: str) -> Any:
        if line.startswith("data:"):
            self._data.append(line[5:])
            return None
        if line or not self._data:
            return None
        data, self._data = "\n".join(self._data).strip(), []
        if data == "[DONE]":
            return DONE
        try:
            event = json.loads(data) if data else {}
        except ValueError:
            event = None
        if not isinstance(event, dict):
            raise ModelError(f"{self.where} sent an invalid event: {data[:200]!r}")
        return event or None
