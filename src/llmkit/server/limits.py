"""Per-key requests and tokens per minute: a sliding one-minute window with an injectable clock."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from llmkit.server.errors import ApiError

WINDOW_S = 60.0


@dataclass
class _Usage:
    requests: deque[float] = field(default_factory=deque)
    tokens: deque[tuple[float, int]] = field(default_factory=deque)
    token_sum: int = 0


class RateLimiter:
    """Admit a request when the key is under both limits for the last minute; else 429 with Retry-After.

    >>> now = [0.0]
    >>> rl = RateLimiter(requests_per_minute=2, tokens_per_minute=100, clock=lambda: now[0])
    >>> rl.admit("k"); rl.admit("k")
    >>> try:
    ...     rl.admit("k")
    ... except ApiError as e:
    ...     print(e.status, e.retry_after)
    429 60.0
    >>> now[0] = 61.0; rl.admit("k")
    """

    def __init__(
        self, requests_per_minute: int, tokens_per_minute: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rpm, self.tpm, self.clock = requests_per_minute, tokens_per_minute, clock
        self._keys: dict[str, _Usage] = {}

    def admit(self, key: str) -> None:
        """Count one request for ``key``, or raise 429 when it is over a limit."""
        now = self.clock()
        usage = self._trim(key, now)
        if len(usage.requests) >= self.rpm:
            wait = usage.requests[0] + WINDOW_S - now
            raise _limited(f"over {self.rpm} requests per minute for this key", wait)
        if usage.token_sum >= self.tpm:
            wait = usage.tokens[0][0] + WINDOW_S - now
            raise _limited(f"over {self.tpm} tokens per minute for this key", wait)
        usage.requests.append(now)

    def spend(self, key: str, tokens: int) -> None:
        """Record the tokens a finished request used (prompt plus completion)."""
        if tokens > 0:
            usage = self._trim(key, self.clock())
            usage.tokens.append((self.clock(), tokens))
            usage.token_sum += tokens

    def _trim(self, key: str, now: float) -> _Usage:
        usage = self._keys.setdefault(key, _Usage())
        while usage.requests and usage.requests[0] <= now - WINDOW_S:
            usage.requests.popleft()
        while usage.tokens and usage.tokens[0][0] <= now - WINDOW_S:
            usage.token_sum -= usage.tokens.popleft()[1]
        if not usage.requests and not usage.tokens and len(self._keys) > 10_000:
            self._keys.pop(key, None)  # keep the table bounded; an idle key starts afresh
        return usage


def _limited(message: str, wait: float) -> ApiError:
    return ApiError(429, message, type="rate_limit_error", code="rate_limit_exceeded", retry_after=max(wait, 1.0))
