"""The OpenAI-compatible client keeps its connection to the upstream between requests (a real uvicorn)."""

from __future__ import annotations

from typing import Any

from fake_openai_server import sse, stalling_upstream

from llmkit.models.openai_compat import OpenAIChatModel
from llmkit.server.background import serve_in_thread
from llmkit.types import Message

EVENTS = [
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"}, "finish_reason": None}]},
    {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
]
STREAM = sse(EVENTS)


def upstream(ports: list[int]) -> Any:
    """An ASGI app that streams ``STREAM`` and records each request's client port (one per connection)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        ports.append(scope["client"][1])
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-type", b"text/event-stream"), (b"content-length", str(len(STREAM)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": STREAM})

    return app


def test_streams_read_to_done_reuse_one_connection() -> None:
    ports: list[int] = []
    with serve_in_thread(upstream(ports)) as url:
        model = OpenAIChatModel("echo", base_url=f"{url}/v1", api_key="k", max_retries=0)
        for _ in range(3):
            chunks = list(model.stream([Message.user("hi")]))
            assert "".join(c.text for c in chunks) == "ok" and chunks[-1].usage.total_tokens == 2
    assert len(ports) == 3 and len(set(ports)) == 1, f"a new connection per request: {ports}"


def test_a_stream_held_open_after_done_costs_at_most_a_second() -> None:
    import time

    with serve_in_thread(stalling_upstream(STREAM, 3)) as url:
        model = OpenAIChatModel("echo", base_url=f"{url}/v1", api_key="k", max_retries=0)
        for _ in range(2):
            t0 = time.perf_counter()
            assert "".join(c.text for c in model.stream([Message.user("hi")])) == "ok"
            assert time.perf_counter() - t0 < 2.5
