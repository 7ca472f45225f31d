"""llmkit errors as HTTP statuses and OpenAI-style bodies: ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from llmkit import errors as e
from llmkit.server.telemetry import LOGGER

if TYPE_CHECKING:
    from fastapi import Request
    from fastapi.responses import JSONResponse


class ApiError(Exception):
    """An error raised by the server itself (auth, limits, routing), already carrying its HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code = status, message, type, code
        self.param, self.retry_after = param, retry_after


#: llmkit error class -> (status, OpenAI error type, code); the first matching class in this order wins
_STATUS: tuple[tuple[type[e.LlmkitError], int, str, str], ...] = (
    (e.ContextLengthExceeded, 400, "invalid_request_error", "context_length_exceeded"),
    (e.RateLimited, 429, "rate_limit_error", "rate_limited"),
    (e.BackendUnavailable, 503, "server_error", "backend_unavailable"),
    (e.NotFound, 404, "not_found_error", "not_found"),
    (e.InputError, 400, "invalid_request_error", "invalid_input"),
    (e.ConfigError, 400, "invalid_request_error", "config_error"),
    (e.MissingExtra, 503, "server_error", "missing_extra"),
    (e.StoreError, 503, "server_error", "store_error"),
    (e.ModelError, 502, "server_error", "model_error"),
)


def from_llmkit(error: e.LlmkitError) -> ApiError:
    """The ``ApiError`` for an llmkit error.

    >>> from llmkit.errors import NotFound
    >>> err = from_llmkit(NotFound("no collection 'x'", hint="ingest first"))
    >>> err.status, err.code, err.message
    (404, 'not_found', "no collection 'x' (hint: ingest first)")
    """
    for cls, status, kind, code in _STATUS:
        if isinstance(error, cls):
            message = f"{error.message} (hint: {error.hint})" if error.hint else error.message
            retry = error.retry_after if isinstance(error, e.RateLimited) else None
            return ApiError(status, message, type=kind, code=code, retry_after=retry)
    return ApiError(500, error.message, type="server_error", code="internal_error")


def error_body(error: ApiError) -> dict[str, Any]:
    """The JSON body OpenAI clients read.

    >>> error_body(ApiError(401, "no key", type="authentication_error", code="missing_key"))
    {'error': {'message': 'no key', 'type': 'authentication_error', 'param': None, 'code': 'missing_key'}}
    """
    return {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}


def error_headers(error: ApiError) -> dict[str, str]:
    if error.retry_after is None:
        return {}
    return {"Retry-After": str(max(1, round(error.retry_after)))}


def validation_error(errors: list[dict[str, Any]]) -> ApiError:
    """A pydantic/FastAPI validation failure as one 400-style message naming the fields (status 422)."""
    errors = [_json_position(err) for err in errors]
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
    first = errors[0].get("loc", ()) if errors else ()
    param = ".".join(str(p) for p in first if p not in ("body", "query", "path")) or None
    return ApiError(422, "invalid request: " + "; ".join(parts), code="invalid_request", param=param)


def _json_position(err: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's malformed-JSON error (located at a byte offset) as one about the body, saying where.

    >>> _json_position({"type": "json_invalid", "loc": ("body", 14), "msg": "JSON decode error",
    ...                 "ctx": {"error": "Expecting value"}})["msg"]
    'invalid JSON at position 14: Expecting value'
    """
    loc = err.get("loc", ())
    if err.get("type") != "json_invalid" or len(loc) != 2 or not isinstance(loc[1], int):
        return err
    detail = (err.get("ctx") or {}).get("error")
    return {**err, "loc": ("body",), "msg": f"invalid JSON at position {loc[1]}" + (f": {detail}" if detail else "")}


def api_error(exc: Exception, path: str) -> ApiError:
    """The ``ApiError`` to answer ``exc`` with, for a request to ``path``: what the app's exception handlers
    and the fast routes (``llmkit.server.fast``) both send. An exception of no known kind is a logged 500.

    >>> api_error(e.NotFound("no collection 'x'"), "/v1/query").code
    'not_found'
    """
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, e.LlmkitError):
        return from_llmkit(exc)
    if isinstance(exc, RequestValidationError):
        return validation_error(list(exc.errors()))
    if isinstance(exc, HTTPException):
        kinds = {404: ("not_found_error", "not_found"), 405: ("invalid_request_error", "method_not_allowed"),
                 413: ("invalid_request_error", "request_too_large")}  # fmt: skip
        kind, code = kinds.get(exc.status_code, ("invalid_request_error", "http_error"))
        message = f"no route {path}" if exc.status_code == 404 else str(exc.detail)
        return ApiError(exc.status_code, message, type=kind, code=code)
    logging.getLogger(LOGGER).error("unhandled error", exc_info=exc, extra={"path": path})
    return ApiError(500, "internal error; see the server log", type="server_error")


def error_response(request: Request, exc: Exception) -> JSONResponse:
    """The OpenAI-style JSON reply for ``exc`` (``api_error``), counted in the server's error metrics."""
    from fastapi.responses import JSONResponse

    error = api_error(exc, request.url.path)
    state = getattr(request.app.state, "llmkit", None)
    if state is not None:
        state.metrics.errors.labels(error.type, error.code or "").inc()
    return JSONResponse(error_body(error), status_code=error.status, headers=error_headers(error))
