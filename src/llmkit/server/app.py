"""``create_app(settings)``: the FastAPI app, its lifespan, error handlers and request middleware."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from llmkit import __version__
from llmkit.errors import LlmkitError
from llmkit.server import telemetry
from llmkit.server.errors import ApiError, error_body, error_response
from llmkit.server.fast import HANDLERS, FastRoutes
from llmkit.server.state import ServerState, check_auth_mode

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from llmkit.config import Settings
    from llmkit.embeddings.base import Embedder
    from llmkit.models.base import ChatModel

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
log = logging.getLogger(telemetry.LOGGER)


def create_app(settings: Settings, *, chat_model: ChatModel | None = None, embedder: Embedder | None = None) -> FastAPI:
    """The server for ``settings``'s project. ``chat_model``/``embedder`` replace the configured ones (tests)."""
    check_auth_mode(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from llmkit.kit import Kit

        telemetry.setup_otlp(settings.server.otlp_endpoint)
        kit = Kit(settings)
        if embedder is not None:
            kit.__dict__["embedder"] = embedder
        app.state.llmkit = ServerState(settings, kit, chat_model)
        try:
            yield
        finally:
            await app.state.llmkit.aclose()

    app = FastAPI(
        title="llmkit",
        version=__version__,
        description="OpenAI-compatible chat, completions and embeddings, plus collections, documents and query.",
        lifespan=lifespan,
    )
    _add_error_handlers(app)
    from llmkit.server.routes import documents, evals, openai_compat, ops, query, web

    for module in (ops, openai_compat, documents, query, evals, web):
        app.include_router(module.router)
    declared = {r.path: r for r in openai_compat.router.routes if isinstance(r, APIRoute)}
    app.add_middleware(FastRoutes, routes={path: (declared[path], fn) for path, fn in HANDLERS.items()})
    app.add_middleware(RequestMiddleware, max_body=int(settings.server.max_body_mb * 1024 * 1024))
    telemetry.setup_logging(settings.server.log_json)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return error_response(request, exc)

    for kind in (ApiError, LlmkitError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, handle)


class RequestMiddleware:
    """Request ids (``X-Request-ID``), the body size limit, the request span, metrics and one log line."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given, length = _headers(scope["headers"])
        rid = given if _REQUEST_ID.match(given) else os.urandom(16).hex()  # as random as uuid4, 5x cheaper
        token = telemetry.REQUEST_ID.set(rid)
        start, status = telemetry.now(), [500]
        try:
            if not length.isdigit() or int(length) > self.max_body:
                await self._too_large(send, rid, status)
                return

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                    message.setdefault("headers", [])
                    message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
                await send(message)

            with telemetry.tracer().start_as_current_span(f"{scope['method']} {scope['path']}") as span:
                span.set_attribute("llmkit.request_id", rid)
                await self.app(scope, self._limited(receive), send_with_id)
                span.set_attribute("http.status_code", status[0])
        finally:
            self._observe(scope, status[0], telemetry.now() - start)
            telemetry.REQUEST_ID.reset(token)

    def _limited(self, receive: Receive) -> Receive:
        seen = [0]

        async def wrapped() -> Message:
            message = await receive()
            seen[0] += len(message.get("body", b""))
            if seen[0] > self.max_body:  # an HTTPException, which FastAPI's body parsing lets through
                raise StarletteHTTPException(413, self._too_large_text())
            return message

        return wrapped

    def _too_large_text(self) -> str:
        return f"request body over the {self.max_body / 1048576:g} MB limit (server.max_body_mb)"

    async def _too_large(self, send: Send, rid: str, status: list[int]) -> None:
        status[0] = 413
        response = JSONResponse(
            error_body(ApiError(413, self._too_large_text(), code="request_too_large")),
            status_code=413,
            headers={"x-request-id": rid, "connection": "close"},
        )
        await response({"type": "http"}, _no_body, send)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        app = scope.get("app")
        state = getattr(getattr(app, "state", None), "llmkit", None)
        if state is not None:
            state.metrics.observe_request(path, scope["method"], status, seconds)
        fields = {"method": scope["method"], "path": scope["path"], "status": status, "ms": round(seconds * 1000, 2)}
        telemetry.log_request(log, fields)


def _headers(headers: list[tuple[bytes, bytes]]) -> tuple[str, str]:
    """``(X-Request-ID, Content-Length)`` from raw ASGI headers ("" and "0" when absent).

    >>> _headers([(b"Content-Length", b"12"), (b"x-request-id", b"abc")])
    ('abc', '12')
    """
    rid, length = "", "0"
    for key, value in headers:
        name = key.lower()
        if name == b"x-request-id":
            rid = value.decode("latin-1")
        elif name == b"content-length":
            length = value.decode("latin-1")
    return rid, length


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
