"""Dependencies the routes declare: the server state and the caller's key (checked for a scope)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from llmkit.server.errors import ApiError
from llmkit.server.keys import SCOPES, ApiKey
from llmkit.server.state import ServerState

_bearer = HTTPBearer(auto_error=False, description="an llmkit API key: `llmkit keys create NAME --scope chat`")


async def get_state(request: Request) -> ServerState:
    """The app's state (``async``, like every dependency here: FastAPI runs a plain ``def`` in its thread pool,
    a thread hop per dependency per request that cost milliseconds under load)."""
    return state_of(request)


def state_of(request: Request) -> ServerState:
    """The app's state, for routes and dependencies that have the request already (each dependency FastAPI
    solves costs tens of microseconds a request, so the chat routes take the state from here)."""
    return request.app.state.llmkit  # type: ignore[no-any-return]


#: The server state, as a route parameter type.
State = Annotated[ServerState, Depends(get_state)]


@dataclass(frozen=True)
class Caller:
    """Who is calling: their key (None in unauthenticated loopback mode) and its rate-limit bucket."""

    key: ApiKey | None

    @property
    def bucket(self) -> str:
        return self.key.id if self.key else "anonymous"

    def allows(self, scope: str, collection: str | None = None) -> bool:
        """Whether the key may use ``scope`` (on ``collection``); every call is allowed without auth."""
        return self.key is None or self.key.allows(scope, collection)

    def require(self, scope: str, collection: str | None = None) -> None:
        """403 unless the key may use ``scope`` (on ``collection``)."""
        if not self.allows(scope, collection):
            where = f" on collection {collection!r}" if collection else ""
            raise ApiError(
                403, f"this key lacks the {scope!r} scope{where}", type="permission_error", code="insufficient_scope"
            )


def caller(scope: str | None) -> Callable[..., Caller]:
    """A dependency: the caller, authenticated and admitted by the rate limiter, holding ``scope`` if given.

    Collections (and the scope of routes whose scope depends on the body) are checked by the route. The key
    lookup is one indexed SQLite read (tens of microseconds), done on the event loop: cheaper than a thread hop.
    """
    assert scope is None or scope in SCOPES

    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Caller:
        return admit(state_of(request), credentials.credentials if credentials else None, scope)

    return dependency


def admit(state: ServerState, token: str | None, scope: str | None) -> Caller:
    """The caller holding ``token`` (``None``: none sent), checked for ``scope`` and admitted by the rate limiter;
    401, 403 or 429 otherwise. What ``caller(scope)`` does for FastAPI routes, and ``fast`` for its routes."""
    if state.settings.server.auth == "none":
        state.limiter.admit("anonymous")
        return Caller(None)
    if token is None:
        raise ApiError(
            401, "missing API key: send 'Authorization: Bearer lk-...'",
            type="authentication_error", code="missing_api_key",
        )  # fmt: skip
    key = state.keys.verify(token)
    if key is None:
        raise ApiError(401, "invalid or revoked API key", type="authentication_error", code="invalid_api_key")
    found = Caller(key)
    if scope is not None:
        found.require(scope)
    state.limiter.admit(found.bucket)
    return found


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header, read as FastAPI's ``HTTPBearer`` reads it.

    >>> bearer_token("Bearer lk-abc"), bearer_token("bearer  lk-abc "), bearer_token("Basic eA=="), bearer_token(None)
    ('lk-abc', 'lk-abc', None, None)
    """
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    return token if token and scheme.lower() == "bearer" else None
