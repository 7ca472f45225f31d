"""A ``Retry-After`` longer than a minute is reported at once, not slept through (sync and async hops)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from test_openai_http import app

from llmkit.errors import BackendUnavailable, RateLimited
from llmkit.models.openai_compat import OpenAIChatModel
from llmkit.server.background import serve_in_thread
from llmkit.types import ChatResponse, Message

pytest.importorskip("aiohttp", reason="the serve extra is not installed")


def chat_within(model: OpenAIChatModel, seconds: float) -> ChatResponse | BaseException:
    """``model.chat``'s reply or error, on a thread given ``seconds`` (it is left asleep where it takes longer)."""
    out: list[Any] = []

    def call() -> None:
        try:
            out.append(model.chat([Message.user("hi")]))
        except BaseException as e:
            out.append(e)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(seconds)
    assert out, f"chat() still waiting after {seconds} s"
    return out[0]


@pytest.mark.parametrize(("status", "error"), [(429, RateLimited), (503, BackendUnavailable)])
def test_a_long_retry_after_fails_fast(status: int, error: type[Exception]) -> None:
    seen: list[dict[str, Any]] = []
    busy = app(lambda n, _: (status, {"error": {"message": "come back later"}}, {"retry-after": "3600"}), seen)
    with serve_in_thread(busy) as url:
        model = OpenAIChatModel("echo", base_url=f"{url}/v1", api_key="k", max_retries=2)
        result = chat_within(model, 5)
        assert isinstance(result, error) and "come back later" in str(result)
        assert len(seen) == 1
        if status == 429:
            assert isinstance(result, RateLimited) and result.retry_after == 3600
            seen.clear()
            result = asyncio.run(asyncio.wait_for(_astream_error(model), 5))
            assert isinstance(result, RateLimited) and result.retry_after == 3600
            assert len(seen) == 1


def test_a_short_or_unreadable_retry_after_is_still_retried() -> None:
    seen: list[dict[str, Any]] = []
    waits = {1: "1", 2: "soon"}
    flaky = app(lambda n, _: (429, {"error": {"message": "busy"}}, {"retry-after": waits[n]}) if n < 3 else None, seen)
    with serve_in_thread(flaky) as url:
        model = OpenAIChatModel("echo", base_url=f"{url}/v1", api_key="k", max_retries=2)
        reply = chat_within(model, 5)
        assert isinstance(reply, ChatResponse) and reply.text == "ok"
        assert len(seen) == 3


async def _astream_error(model: OpenAIChatModel) -> BaseException | None:
    try:
        async for _ in model.astream([Message.user("hi")]):
            pass
    except Exception as e:
        return e
    finally:
        await model.aclose()
    return None
