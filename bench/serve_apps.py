"""The two small servers bench/serve.py starts as subprocesses.

- ``run_upstream``: a bare ASGI app that answers every ``/v1/chat/completions`` at once with a canned
  OpenAI reply, as SSE when asked for a stream (the upstream of the gateway measurement: as fast as a
  server can be, so what remains is the gateway's own cost).
- ``run_stand_in``: used only where ``llmkit.server`` is not installed: ``/v1/chat/completions`` (plain and
  SSE) and ``/v1/models`` over the model the project's settings name, through ``registry.load_chat_model``
  (so ``model.parallel`` picks ``BatchedLlamaModel``). bench/serve.py labels its numbers as the stand-in's.
"""

import json
import time
from collections.abc import Iterator
from typing import Any

CANNED = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 0,
    "model": "echo",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}
MODELS = {"object": "list", "data": [{"id": "echo", "object": "model", "created": 0, "owned_by": "bench"}]}


CANNED_STREAM = b"".join(
    b"data: " + json.dumps({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "echo",
                            "choices": choices, "usage": usage}).encode() + b"\n\n"
    for choices, usage in (
        ([{"index": 0, "delta": {"role": "assistant", "content": "ok"}, "finish_reason": None}], None),
        ([{"index": 0, "delta": {}, "finish_reason": "stop"}], None),
        ([], CANNED["usage"]),
    )
) + b"data: [DONE]\n\n"  # fmt: skip


async def upstream_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer at once: ``/v1/models``, or the canned reply (as SSE when the request asks for a stream)."""
    if scope["type"] != "http":
        return
    data, more = b"", True
    while more:
        message = await receive()
        data, more = data + message.get("body", b""), message.get("more_body", False)
    streamed = scope["path"].endswith("/completions") and b'"stream":true' in data.replace(b" ", b"")
    body = json.dumps(MODELS if scope["path"].endswith("/models") else CANNED).encode()
    kind = b"application/json"
    if streamed:
        body, kind = CANNED_STREAM, b"text/event-stream"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def run_upstream(port: int) -> None:
    import uvicorn

    uvicorn.run(upstream_app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def stand_in_app(project: str) -> Any:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, StreamingResponse

    from llmkit.config import load_settings
    from llmkit.registry import load_chat_model
    from llmkit.types import GenerationParams, Message

    model = load_chat_model(load_settings(project))
    app = FastAPI()

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model.name, "object": "model", "created": 0, "owned_by": "llmkit"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        messages = [Message.from_dict(m) for m in body["messages"]]
        params = GenerationParams(max_tokens=body.get("max_tokens"), temperature=body.get("temperature"))
        if body.get("stream"):
            return StreamingResponse(sse(model.stream(messages, params), model.name), media_type="text/event-stream")
        from starlette.concurrency import run_in_threadpool

        r = await run_in_threadpool(model.chat, messages, params)
        message = {"role": "assistant", "content": r.text}
        choice = {"index": 0, "message": message, "finish_reason": r.finish_reason}
        usage = {"prompt_tokens": r.usage.prompt_tokens, "completion_tokens": r.usage.completion_tokens}
        return JSONResponse({"object": "chat.completion", "model": model.name, "choices": [choice], "usage": usage})

    return app


def sse(chunks: Iterator[Any], name: str) -> Iterator[str]:
    """OpenAI ``chat.completion.chunk`` events for a ``ChatModel.stream`` (starlette iterates it in a thread)."""
    for c in chunks:
        delta = {"content": c.text} if c.text else {}
        event = {"object": "chat.completion.chunk", "created": int(time.time()), "model": name}
        event["choices"] = [{"index": 0, "delta": delta, "finish_reason": c.finish_reason}]
        yield f"data: {json.dumps(event)}\n\n"
    yield "data: [DONE]\n\n"


def run_stand_in(port: int, project: str) -> None:
    import uvicorn

    uvicorn.run(stand_in_app(project), host="127.0.0.1", port=port, log_level="warning", access_log=False)
