"""A small real HTTP server on loopback speaking the OpenAI wire format (JSON and SSE streaming).

Replies echo the last user message; the model name picks a behaviour:

- ``ctx-small``: 400 with OpenAI's context-length wording
- ``busy``: 429 with ``Retry-After: 7``
- ``locked``: 401; ``missing``: 404; ``broken``: 500
- ``no-usage``: no ``usage`` in replies (streamed or not)
- ``slow``: streams 200 words, 20 ms apart (for abandoned-stream tests)
- ``vllm-like``: its model card carries ``max_model_len: 4096``
- ``stream-error``: a stream that sends an ``error`` event after its first word
- ``tools``: calls the first tool offered with ``{"q": <last user message>}`` (streamed in three deltas)

Tokens are whitespace-separated words. Every request body is kept in ``server.requests``.

``sse`` and ``stalling_upstream`` are for tests that need an upstream misbehaving at the byte level
(an ASGI app served with ``llmkit.server.background.serve_in_thread``).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ERRORS = {
    "ctx-small": (
        400,
        "This model's maximum context length is 2048 tokens. However, you requested 5000 tokens "
        "(4488 in the messages, 512 in the completion).",
        "context_length_exceeded",
    ),
    "busy": (429, "Rate limit reached, slow down", "rate_limit_exceeded"),
    "locked": (401, "Incorrect API key provided", "invalid_api_key"),
    "missing": (404, "The model does not exist", "model_not_found"),
    "broken": (500, "internal failure", None),
}
EMBED_DIM = 8


def sse(events: list[dict[str, Any]]) -> bytes:
    """``events`` as an SSE body ending in ``data: [DONE]``."""
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"


def stalling_upstream(body: bytes, stall_s: float) -> Any:
    """An ASGI app that streams ``body``, then keeps the response open ``stall_s`` seconds before ending it."""
    import asyncio

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": body, "more_body": True})
        await asyncio.sleep(stall_s)
        await send({"type": "http.response.body", "body": b""})

    return app


class FakeOpenAIServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []
        self.auth_headers: list[str | None] = []
        self.disconnected = threading.Event()
        self.words_sent = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


def fake_vector(text: str) -> list[float]:
    """A deterministic, deliberately unnormalised vector for ``text``."""
    digest = hashlib.sha256(text.encode()).digest()
    return [(b - 128) / 10 for b in digest[:EMBED_DIM]]


def _reply(body: dict[str, Any]) -> tuple[list[str], str, int]:
    messages = body["messages"]
    last = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    text = f"echo: {last}"
    for s in body.get("stop") or []:
        if s in text:
            text = text[: text.index(s)]
    words = text.split(" ")
    finish = "stop"
    if body.get("max_tokens") is not None and len(words) > body["max_tokens"]:
        words, finish = words[: body["max_tokens"]], "length"
    prompt_tokens = sum(len((m["content"] or "").split()) for m in messages)
    return words, finish, prompt_tokens


def _tool_call(body: dict[str, Any]) -> dict[str, Any]:
    last = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")
    name = body["tools"][0]["function"]["name"]
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": json.dumps({"q": last})}}


class _Handler(BaseHTTPRequestHandler):
    server: FakeOpenAIServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        model = self.path.rsplit("/", 1)[-1]
        card: dict[str, Any] = {"id": model, "object": "model", "created": 0, "owned_by": "test"}
        if model == "vllm-like":
            card["max_model_len"] = 4096
        self._json(200, card)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        self.server.auth_headers.append(self.headers.get("Authorization"))
        if body["model"] in ERRORS:
            status, message, code = ERRORS[body["model"]]
            headers = {"Retry-After": "7"} if status == 429 else {}
            self._json(status, {"error": {"message": message, "type": "invalid_request_error", "code": code}}, headers)
        elif self.path.endswith("/embeddings"):
            data = [
                {"object": "embedding", "index": i, "embedding": fake_vector(t)} for i, t in enumerate(body["input"])
            ]
            data.reverse()  # servers may answer out of order; clients sort by index
            usage = {"prompt_tokens": 3, "total_tokens": 3}
            self._json(200, {"object": "list", "data": data, "model": body["model"], "usage": usage})
        elif body.get("stream"):
            self._stream(body)
        else:
            self._complete(body)

    def _complete(self, body: dict[str, Any]) -> None:
        words, finish, prompt_tokens = _reply(body)
        message: dict[str, Any] = {"role": "assistant", "content": " ".join(words)}
        if body["model"] == "tools" and body.get("tools"):
            message = {"role": "assistant", "content": None, "tool_calls": [_tool_call(body)]}
            finish = "tool_calls"
        resp: dict[str, Any] = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        }
        if body["model"] != "no-usage":
            resp["usage"] = {"prompt_tokens": prompt_tokens, "completion_tokens": len(words), "total_tokens": 0}
        self._json(200, resp)

    def _stream(self, body: dict[str, Any]) -> None:
        words, finish, prompt_tokens = _reply(body)
        if body["model"] == "slow":
            words, finish = [f"w{i}" for i in range(200)], "stop"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}
        try:
            self._event(base | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
            if body["model"] == "tools" and body.get("tools"):
                words, finish = [], "tool_calls"
                self._stream_tool_call(base, _tool_call(body))
            for i, w in enumerate(words):
                piece = w if i == 0 else " " + w
                self._event(base | {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
                self.server.words_sent += 1
                if body["model"] == "stream-error":
                    self._event({"error": {"message": "the upstream ran out of memory", "type": "server_error"}})
                    return
                if body["model"] == "slow":
                    time.sleep(0.02)
            self._event(base | {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
            include = (body.get("stream_options") or {}).get("include_usage")
            if include and body["model"] != "no-usage":
                usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(words), "total_tokens": 0}
                self._event(base | {"choices": [], "usage": usage})
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.server.disconnected.set()

    def _stream_tool_call(self, base: dict[str, Any], call: dict[str, Any]) -> None:
        args = call["function"]["arguments"]
        first = {"index": 0, "id": call["id"], "type": "function", "function": {"name": call["function"]["name"]}}
        pieces = [first] + [{"index": 0, "function": {"arguments": p}} for p in (args[:5], args[5:])]
        for piece in pieces:
            self._event(base | {"choices": [{"index": 0, "delta": {"tool_calls": [piece]}, "finish_reason": None}]})

    def _event(self, data: dict[str, Any]) -> None:
        self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()

    def _json(self, status: int, data: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)
