"""Logic of the server's parts on their own: keys, rate limits, the gate, caches, prices, error mapping."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from llmkit.errors import BackendUnavailable, ContextLengthExceeded, InputError, NotFound, RateLimited
from llmkit.pricing import PriceTable
from llmkit.server.cache import ExactCache, SemanticCache, is_deterministic, request_key
from llmkit.server.errors import ApiError, error_body, error_headers, from_llmkit
from llmkit.server.keys import KeyStore
from llmkit.server.limits import RateLimiter
from llmkit.server.worker import Gate
from llmkit.testing import HashEmbedder
from llmkit.types import Usage


def test_keys_are_stored_hashed_and_revocable(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.db")
    token, key = store.create("bot", ("query",), ("docs",))
    assert token.startswith("lk-") and len(token) > 40
    assert store.verify(token) == key
    assert store.verify(token + "x") is None and store.verify("nope") is None
    store.close()
    assert token.encode() not in (tmp_path / "keys.db").read_bytes()
    store.revoke(key.id)
    assert store.verify(token) is None
    assert store.list()[0].revoked is not None
    with pytest.raises(NotFound):
        store.revoke(key.id)


def test_key_scopes_and_collections(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.db")
    _, key = store.create("bot", ("query", "ingest"), ("docs",))
    assert key.allows("query", "docs") and not key.allows("query", "hr") and not key.allows("chat")
    _, admin = store.create("ops", ("admin",))
    assert admin.allows("chat") and admin.allows("ingest", "anything")
    with pytest.raises(InputError, match="scopes"):
        store.create("x", ("root",))
    with pytest.raises(InputError):
        store.create(" ", ("chat",))


def test_rate_limiter_counts_requests_and_tokens() -> None:
    now = [100.0]
    rl = RateLimiter(requests_per_minute=3, tokens_per_minute=50, clock=lambda: now[0])
    rl.admit("a")
    rl.spend("a", 60)
    with pytest.raises(ApiError) as e:
        rl.admit("a")
    assert e.value.status == 429 and "tokens per minute" in e.value.message
    rl.admit("b")  # other keys are not affected
    now[0] += 61
    rl.admit("a")
    rl.admit("a")
    rl.admit("a")
    with pytest.raises(ApiError, match="requests per minute") as e:
        rl.admit("a")
    assert 0 < e.value.retry_after <= 60


def test_gate_queues_then_refuses_then_times_out() -> None:
    async def scenario() -> list[int]:
        gate = Gate("m", concurrency=1, queue_size=1, timeout_s=0.2)
        statuses: list[int] = []
        release = asyncio.Event()

        async def hold() -> None:
            async with gate.slot():
                await release.wait()

        async def try_one() -> None:
            try:
                async with gate.slot():
                    statuses.append(200)
            except ApiError as e:
                statuses.append(e.status)

        holder = asyncio.create_task(hold())
        await asyncio.sleep(0.01)
        waiter = asyncio.create_task(try_one())  # queued
        await asyncio.sleep(0.01)
        await try_one()  # queue full -> 429 at once
        await waiter  # times out -> 503
        release.set()
        await holder
        await try_one()  # free again
        return statuses

    assert asyncio.run(scenario()) == [429, 503, 200]


def test_exact_cache_is_lru() -> None:
    cache = ExactCache(entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    assert request_key({"x": [1, {"y": 2}]}) == request_key({"x": [1, {"y": 2}]})
    assert is_deterministic(0, None) and is_deterministic(1.0, 7) and not is_deterministic(0.7, None)


def test_semantic_cache_threshold_and_scope() -> None:
    embedder = HashEmbedder(dim=256)
    cache = SemanticCache(lambda t: embedder.embed([t])[0], threshold=0.8)
    hit, v = cache.get("s", "how long is the warranty on the widget")
    assert hit is None
    cache.put("s", v, "three years")
    assert cache.get("s", "How long is the warranty on the widget?")[0] == "three years"
    assert cache.get("s", "where is my parcel")[0] is None
    assert cache.get("other", "how long is the warranty on the widget")[0] is None


def test_prices() -> None:
    table = PriceTable()
    assert table.cost("smollm2-135m-instruct", Usage(10, 5)) == 0.0
    assert table.cost("gpt-4o-mini", Usage(None, 5)) is None
    from llmkit.config import PriceSettings

    assert PriceTable({"mine": PriceSettings(input=1.0, output=2.0)}).cost("mine", Usage(1000, 1000)) == 0.003


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ContextLengthExceeded(5000, 2048), 400, "context_length_exceeded"),
        (NotFound("no collection 'x'"), 404, "not_found"),
        (InputError("empty query"), 400, "invalid_input"),
        (BackendUnavailable("upstream down"), 503, "backend_unavailable"),
        (RateLimited("slow down", retry_after=7), 429, "rate_limited"),
    ],
)
def test_llmkit_errors_map_to_statuses(error: Exception, status: int, code: str) -> None:
    api = from_llmkit(error)  # type: ignore[arg-type]
    assert (api.status, api.code) == (status, code)
    body = error_body(api)["error"]
    assert set(body) == {"message", "type", "param", "code"} and body["message"]
    if status == 429:
        assert error_headers(api) == {"Retry-After": "7"}
