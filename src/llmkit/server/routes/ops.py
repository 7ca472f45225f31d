"""``/healthz`` (the process is up), ``/readyz`` (the store and model can serve), ``/metrics`` (Prometheus)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response

from llmkit.server.deps import State
from llmkit.server.errors import ApiError

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the store opens and the model reports its context window")
async def readyz(state: State) -> dict[str, object]:
    def check() -> dict[str, object]:
        collections = len(state.kit.collections())
        return {"status": "ready", "model": state.chat.id, "context_window": state.chat.model.context_window,
                "collections": collections}  # fmt: skip

    try:
        return await asyncio.to_thread(check)
    except Exception as e:
        raise ApiError(503, f"not ready: {e}", type="server_error", code="not_ready", retry_after=5) from None


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(state: State) -> Response:
    gate = state.chat.gate
    state.metrics.queue.labels(gate.name).set(gate.waiting)
    state.metrics.running.labels(gate.name).set(gate.running)
    body, content_type = state.metrics.render()
    return Response(body, media_type=content_type)
