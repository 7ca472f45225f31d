"""The chat routes served straight from ASGI, in front of FastAPI's request handling.

``POST /v1/chat/completions`` and ``POST /v1/completions`` are what a gateway serves all day, and FastAPI's
work per request (routing through every route, solving the dependencies, reading the body as JSON and then
validating the dict, the exception middleware) was a fifth of a gateway request's instructions: 0.58 M of
2.64 M (bench/README.md, "Gateway overhead, fourth pass"). ``FastRoutes`` answers those two itself: the key and the
rate limit (``deps.admit``), the body validated from its bytes in one step (pydantic's ``model_validate_json``,
in Rust), the same ``chat`` calls, and errors through the same ``errors.error_response`` as the app's
exception handlers. It sits inside ``RequestMiddleware``, so request ids, the size limit, spans, metrics and
the log line are unchanged. The FastAPI routes stay declared: the OpenAPI page lists them, and requests
this class does not take (another method, another path) reach them as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from llmkit.server import chat
from llmkit.server.deps import admit, bearer_token, state_of
from llmkit.server.errors import error_response, validation_error
from llmkit.server.schemas import ChatRequest, CompletionRequest

if TYPE_CHECKING:
    from starlette.routing import BaseRoute
    from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]


async def chat_completions(request: Request) -> Response:
    """``POST /v1/chat/completions`` (its scope depends on the model asked for, so ``chat`` checks it)."""
    state = state_of(request)
    who = admit(state, bearer_token(request.headers.get("authorization")), None)
    body = await parse(request, ChatRequest)
    return reply(await chat.chat_completion(state, who, body, request.is_disconnected))


async def completions(request: Request) -> Response:
    """``POST /v1/completions``, for keys with the ``chat`` scope."""
    state = state_of(request)
    who = admit(state, bearer_token(request.headers.get("authorization")), "chat")
    body = await parse(request, CompletionRequest)
    return reply(await chat.text_completion(state, who, body, request.is_disconnected))


#: path -> handler; ``create_app`` gives ``FastRoutes`` the declared FastAPI route of each (metrics label by it)
HANDLERS: dict[str, Handler] = {"/v1/chat/completions": chat_completions, "/v1/completions": completions}


class FastRoutes:
    """ASGI middleware: ``POST`` to a path in ``routes`` is answered by its handler, everything else goes on to
    ``app``. ``routes``: path -> (the FastAPI route declared for it, the handler)."""

    def __init__(self, app: ASGIApp, routes: dict[str, tuple[BaseRoute, Handler]]) -> None:
        self.app, self.routes = app, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.routes.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = found[0]  # as FastAPI's router sets it: RequestMiddleware labels the metrics by it
        request = Request(scope, receive)
        try:
            response = await found[1](request)
        except Exception as exc:  # every error gets the app's error reply; a crash, a logged 500
            response = error_response(request, exc)
        await response(scope, receive, send)


async def parse(request: Request, model: type[Any]) -> Any:
    """The request's JSON body as ``model``, validated from the bytes; 422 (as FastAPI words it) otherwise."""
    raw = await request.body()
    if not raw:
        raise validation_error([{"loc": ("body",), "msg": "Field required"}])
    if not is_json(request.headers.get("content-type")):
        raise validation_error([{"loc": ("body",), "msg": "Input should be a valid dictionary or object to "
                                 "extract fields from"}])  # fmt: skip
    try:
        return model.model_validate_json(raw)
    except ValidationError as e:
        raise validation_error([{**err, "loc": ("body", *err["loc"])} for err in e.errors()]) from None


def is_json(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` is JSON (``application/json`` or ``application/*+json``), as FastAPI decides.

    >>> is_json("application/json; charset=utf-8"), is_json("application/vnd.api+json"), is_json("text/plain")
    (True, True, False)
    >>> is_json(None)
    False
    """
    kind = (content_type or "").partition(";")[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def reply(result: Any) -> Response:
    """A whole reply (a JSON ``dict``) as a ``JSONResponse``; a stream is a response already."""
    return JSONResponse(result) if isinstance(result, dict) else result
