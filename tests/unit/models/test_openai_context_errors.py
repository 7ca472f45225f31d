"""Context-overflow errors as llama.cpp's server and TGI word them become ``ContextLengthExceeded``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from llmkit.errors import ContextLengthExceeded, ModelError
from llmkit.models.openai_compat import OpenAIChatModel
from llmkit.server.background import serve_in_thread
from llmkit.types import Message

pytest.importorskip("aiohttp", reason="the serve extra is not installed")
HI = [Message.user("hi")]
LLAMA_CPP = "request (5000 tokens) exceeds the available context size (2048 tokens), try increasing it"
TGI = "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 2048. Given: 5000 `inputs` tokens and 100 `max_new_tokens`"  # noqa: E501


def failing(status: int, body: dict[str, Any]) -> Any:
    """An ASGI upstream that answers every request with ``status`` and ``body``."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})

    return app


def errors(status: int, body: dict[str, Any]) -> list[Exception]:
    """What ``chat``, ``stream`` and ``astream`` raise against that upstream."""
    out: list[Exception] = []

    async def astream(m: OpenAIChatModel) -> None:
        try:
            async for _ in m.astream(HI):
                pass
        finally:
            await m.aclose()

    with serve_in_thread(failing(status, body)) as url:
        m = OpenAIChatModel("m", base_url=f"{url}/v1", api_key="k", max_retries=0, context_window=8192)
        for call in (lambda: m.chat(HI), lambda: list(m.stream(HI)), lambda: asyncio.run(astream(m))):
            with pytest.raises(ModelError) as caught:
                call()
            out.append(caught.value)
    return out


LLAMA_CPP_BODY = {
    "error": {
        "code": 400,
        "message": LLAMA_CPP,
        "type": "exceed_context_size_error",
        "n_prompt_tokens": 5000,
        "n_ctx": 2048,
    }
}


@pytest.mark.parametrize(
    ("status", "body", "needed", "available"),
    [
        (400, LLAMA_CPP_BODY, 5000, 2048),
        (
            400,
            {"error": {"message": "exceeds the available context size", "n_prompt_tokens": 3000, "n_ctx": 1024}},
            3000,
            1024,
        ),
        (400, {"error": {"message": LLAMA_CPP, "type": "exceed_context_size_error"}}, 5000, 2048),
        (422, {"error": TGI, "error_type": "validation"}, 5000, 2048),
        (422, {"error": "Input validation error: `inputs` must have less than 1024 tokens. Given: 1500"}, 1500, 1024),
    ],
    ids=["llama.cpp", "llama.cpp-fields", "llama.cpp-message-only", "tgi", "tgi-inputs"],
)
def test_context_overflows_are_translated(status: int, body: dict[str, Any], needed: int, available: int) -> None:
    for error in errors(status, body):
        assert isinstance(error, ContextLengthExceeded)
        assert f"needs {needed} tokens" in str(error) and f"allows {available}" in str(error)


def test_an_overflow_without_numbers_is_estimated_over_the_window() -> None:
    old_llama_cpp = {"error": {"message": "the request exceeds the available context size, try increasing it"}}
    for error in errors(400, old_llama_cpp):
        assert isinstance(error, ContextLengthExceeded) and "allows 8192" in str(error)


def test_other_validation_errors_stay_model_errors() -> None:
    for error in errors(422, {"error": "Input validation error: `temperature` must be strictly positive"}):
        assert not isinstance(error, ContextLengthExceeded) and "HTTP 422" in str(error)
