"""The HTTP hop to an OpenAI-compatible server from an event loop: aiohttp, no thread.

``openai_http.Upstream`` (urllib3) blocks, so the server ran it on a worker thread: two thread wake-ups a
request, each a wait for the GIL and the scheduler. Measured against the canned upstream on uvloop, a
streamed chat call cost 1.2–1.35 ms of CPU and 2.6–3.5 ms of wall time that way, and 0.50–0.55 ms and
1.0–1.5 ms through aiohttp on the loop (bench/README.md, "Gateway overhead, fourth pass"). aiohttp (C
HTTP parser, connection pool, proxies) is in the ``serve`` extra;
this module adds the retries ``Upstream`` gets from urllib3's ``Retry`` (the statuses the ``openai``
client retries, ``Retry-After`` up to a minute, backoff) and maps failures onto the same errors.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from llmkit.errors import BackendUnavailable, MissingExtra
from llmkit.models.openai_http import (
    RETRY_AFTER_MAX_S,
    RETRY_STATUSES,
    UpstreamStatus,
    error_message,
    proxy_for,
    redact_url,
)


def available() -> bool:
    """Whether aiohttp is installed (``pip install 'llmkit[serve]'``)."""
    import importlib.util

    return importlib.util.find_spec("aiohttp") is not None


class AsyncUpstream:
    """JSON over HTTP to ``base_url`` from the running event loop; one aiohttp session per loop, made on first use."""

    def __init__(self, base_url: str, api_key: str, timeout_s: float, max_retries: int = 2) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s, self.max_retries = timeout_s, max_retries
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._session: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        """The ``aiohttp.ClientResponse``, its body unread (the caller releases it); ``UpstreamStatus`` for an
        HTTP error and ``BackendUnavailable`` when the server cannot be reached, after the retries."""
        import aiohttp

        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                response = await self.session().request(method, self.base_url + path, data=data, headers=self.headers)
            except (aiohttp.ClientError, TimeoutError) as e:
                if last:
                    raise unavailable(self.base_url, e) from e
                await asyncio.sleep(backoff(attempt, None))
                continue
            if response.status < 400:
                return response
            raw = await response.read()
            response.release()
            wait = backoff(attempt, response.headers.get("retry-after"))
            if last or response.status not in RETRY_STATUSES or wait > RETRY_AFTER_MAX_S:
                raise UpstreamStatus(response.status, error_message(raw), response.headers, raw)
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def session(self) -> Any:
        """The ``aiohttp.ClientSession`` of the running loop (a new one if the loop changed or it was closed)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._loop = loop
            # the proxy is read once: aiohttp's ``trust_env`` reads the environment and parses ~/.netrc (in a
            # thread) on every request, which cost more CPU than the rest of the call
            self._session = _session(self.timeout_s, proxy_for(self.base_url))
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def _session(timeout_s: float, proxy: str | None) -> Any:
    try:
        import aiohttp
    except ImportError:
        raise MissingExtra("aiohttp", "serve") from None
    import ssl

    try:
        import certifi  # the CA bundle the openai client and openai_http use

        context = ssl.create_default_context(cafile=certifi.where())
    except ImportError:
        context = ssl.create_default_context()
    timeout = aiohttp.ClientTimeout(total=None, connect=timeout_s, sock_read=timeout_s)
    connector = aiohttp.TCPConnector(limit=0, ssl=context)  # no cap: the Gate bounds concurrent requests
    return aiohttp.ClientSession(connector=connector, timeout=timeout, proxy=proxy)


def backoff(attempt: int, retry_after: str | None) -> float:
    """Seconds before retry ``attempt + 1``: the server's ``Retry-After`` in seconds (``request`` gives up
    over ``RETRY_AFTER_MAX_S``), else urllib3's ``Retry(backoff_factor=0.5, backoff_max=8)``: none before
    the first retry, then 1, 2, 4 ... up to 8.

    >>> backoff(0, None), backoff(1, None), backoff(5, None), backoff(0, "3"), backoff(1, "soon")
    (0.0, 1.0, 8.0, 3.0, 1.0)
    """
    if retry_after is not None and retry_after.strip().isdecimal():  # what urllib3 reads: no "nan", no "inf"
        return float(retry_after)
    return 0.0 if attempt == 0 else min(0.5 * 2**attempt, 8.0)


def unavailable(base_url: str, error: BaseException) -> BackendUnavailable:
    kind = "timed out" if isinstance(error, TimeoutError) else "cannot connect"
    return BackendUnavailable(
        redact_url(f"{base_url}: {kind} ({error!r})"), hint="is the server running? check model.base_url"
    )


async def iter_lines(response: Any) -> AsyncIterator[str]:
    """The lines of a streamed response as they arrive, without their line ends."""
    async for line in response.content:
        yield line.rstrip(b"\r\n").decode("utf-8", errors="replace")


async def drain(response: Any, most: int = 8, wait_s: float = 1.0) -> bool:
    """Read what is left of a stream after ``[DONE]`` (normally nothing), at most ``most`` lines and ``wait_s``
    seconds; True if it ended. A response read to its end keeps its connection for the next request
    (``openai_http.drain`` says why that matters)."""
    response.content.read_nowait(-1)  # what has arrived already (usually the blank line after [DONE], and the end)
    if response.content.at_eof():  # the usual case: no timer needed
        return True
    try:
        async with asyncio.timeout(wait_s):
            for _ in range(most):
                if not await response.content.readline():
                    return True
    except TimeoutError:
        pass
    return False
