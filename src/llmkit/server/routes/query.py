"""``POST /v1/query`` (search, and answer with citations, with ``explain``) and ``GET /v1/traces``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from llmkit.errors import InputError
from llmkit.observe.traces import trace_attributes
from llmkit.server.deps import Caller, State, caller
from llmkit.server.errors import ApiError
from llmkit.server.schemas import QueryRequest
from llmkit.server.state import ServerState
from llmkit.server.telemetry import REQUEST_ID, tracer
from llmkit.server.util import jsonable
from llmkit.types import Answer, Hit

router = APIRouter(prefix="/v1", tags=["llmkit"])


@router.post("/query", summary="Search a collection and answer from it with citations")
async def query(
    body: QueryRequest, request: Request, state: State, who: Annotated[Caller, Depends(caller("query"))]
) -> dict[str, Any]:
    collection = body.collection or state.settings.collection
    who.require("query", collection)
    if body.filter is not None:
        from llmkit.store.filters import validate_filter

        validate_filter(body.filter)
    if not body.answer:
        with tracer().start_as_current_span("retrieve"):
            hits = await asyncio.to_thread(_search, state, body, collection)
        return {"object": "query", "collection": collection, "hits": [_hit(h, body.explain) for h in hits]}
    served, gone = state.chat, request.is_disconnected
    async with served.gate.slot(gone):
        found, stopped = await served.worker.collect(lambda: _answer(state, body, collection), gone)
    if stopped:  # the answer's text so far was generated: charge it
        state.charge_partial(who.bucket, found)
        raise ApiError(499, "the client closed the request", code="client_closed")
    answer = found[-1]
    assert isinstance(answer, Answer)
    cost = state.charge(who.bucket, answer.usage)
    return {
        "object": "query",
        "collection": collection,
        "answer": answer.text,
        "found": answer.found,
        "citations": jsonable(answer.cited or answer.citations),
        "hits": [_hit(h, body.explain) for h in answer.hits],
        "usage": jsonable(answer.usage),
        "cost_usd": cost,
        "model": answer.model,
        "trace_id": answer.trace_id,
    }


def _search(state: ServerState, body: QueryRequest, collection: str) -> list[Hit]:
    return state.kit.search(
        body.query, collection=collection, k=body.k, mode=body.mode, filter=body.filter, explain=body.explain
    )


def _answer(state: ServerState, body: QueryRequest, collection: str) -> Iterator[str | Answer]:
    """On the model's worker: retrieve, then yield the answer's text pieces and the whole ``Answer``, traced
    with the request id."""
    with tracer().start_as_current_span("retrieve"):
        stream = state.kit.ask_stream(body.query, collection=collection, k=body.k, filter=body.filter, mode=body.mode)
    with (
        tracer().start_as_current_span("generate"),
        trace_attributes(kind="server.query", request_id=REQUEST_ID.get(), collection=collection),
    ):
        yield from stream
    assert stream.answer is not None
    yield stream.answer


def _hit(hit: Hit, explain: bool) -> dict[str, Any]:
    out = {"score": hit.score, "chunk": jsonable(hit.chunk)}
    if explain:
        out["explain"] = jsonable(hit.explain)
    return out


@router.get("/traces", summary="Recent model calls (server and CLI alike), newest first (admin)")
async def traces(
    state: State, who: Annotated[Caller, Depends(caller("admin"))], limit: int = 20, offset: int = 0
) -> dict[str, Any]:
    if not 1 <= limit <= 1000 or not 0 <= offset <= 10**9:
        raise InputError("limit must be 1-1000 and offset 0 or more")
    found = await asyncio.to_thread(state.kit.traces, limit=limit, offset=offset)
    return {"object": "list", "data": [t.to_dict() for t in found]}
