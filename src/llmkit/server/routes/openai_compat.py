"""The OpenAI-compatible routes: ``/v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings``, ``/v1/models``."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from llmkit.errors import InputError
from llmkit.server import chat
from llmkit.server.deps import Caller, State, caller, state_of
from llmkit.server.errors import ApiError
from llmkit.server.schemas import ChatRequest, CompletionRequest, EmbeddingRequest
from llmkit.server.state import RAG_PREFIX
from llmkit.server.util import json_response

router = APIRouter(prefix="/v1", tags=["openai"])
_MAX_EMBED_CHARS = 100_000


@router.post("/chat/completions", summary="Chat (plain or streamed); rag/<collection> models answer with citations")
async def chat_completions(body: ChatRequest, request: Request, who: Annotated[Caller, Depends(caller(None))]) -> Any:
    return json_response(await chat.chat_completion(state_of(request), who, body, request.is_disconnected))


@router.post("/completions", summary="Text completion of one prompt (sent to the chat model as a user turn)")
async def completions(
    body: CompletionRequest, request: Request, who: Annotated[Caller, Depends(caller("chat"))]
) -> Any:
    return json_response(await chat.text_completion(state_of(request), who, body, request.is_disconnected))


@router.post("/embeddings", summary="Embed texts with the configured embedder (float or base64)")
async def embeddings(
    body: EmbeddingRequest, state: State, who: Annotated[Caller, Depends(caller("embeddings"))]
) -> dict[str, Any]:
    texts = [body.input] if isinstance(body.input, str) else body.input
    if any(not t.strip() for t in texts) or any(len(t) > _MAX_EMBED_CHARS for t in texts):
        raise InputError(f"every input must be non-empty text of at most {_MAX_EMBED_CHARS} characters")
    embedder = state.embedder
    if body.model not in (embedder.name, state.settings.embedder.name):
        raise ApiError(404, f"no embedding model {body.model!r}; this server embeds with "
                       f"{state.settings.embedder.name!r}", type="not_found_error", code="model_not_found",
                       param="model")  # fmt: skip

    def run() -> tuple[Any, int]:
        if body.dimensions is not None and body.dimensions != embedder.dim:
            raise ApiError(
                400, f"dimensions: {body.model!r} gives {embedder.dim}-dimensional vectors and cannot shorten them",
                code="unsupported_dimensions", param="dimensions",
            )  # fmt: skip
        vectors = embedder.embed(texts)
        return vectors, sum(embedder.count_tokens(t) for t in texts)

    async with state.embed_gate.slot():
        vectors, tokens = await state.embed_worker.run(run)
    state.metrics.tokens.labels(body.model, "in").inc(tokens)
    state.limiter.spend(who.bucket, tokens)
    data = [{"object": "embedding", "index": i, "embedding": _encode(v, body.encoding_format)}
            for i, v in enumerate(vectors)]  # fmt: skip
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return {"object": "list", "data": data, "model": body.model, "usage": usage}


def _encode(vector: Any, encoding: str) -> Any:
    """A float32 vector as a list, or as base64 of its little-endian bytes (what OpenAI clients decode)."""
    import numpy as np

    if encoding == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
    return [float(x) for x in vector]


@router.get("/models", summary="Served models: the chat model, agent/default, and rag/<collection> for each collection")
async def models(state: State, who: Annotated[Caller, Depends(caller(None))]) -> dict[str, Any]:
    ids = await asyncio.to_thread(state.model_ids)
    now = int(time.time())
    visible = [i for i in ids if not i.startswith(RAG_PREFIX) or who.key is None or who.key.allows("query", i[4:])]
    data = [{"id": i, "object": "model", "created": now, "owned_by": "llmkit"} for i in visible]
    return {"object": "list", "data": data}
