"""The browser page: ``GET /`` (and ``/ui``) and its static files at ``/ui/{name}``, sent with a strict CSP.

The page is HTML, CSS and ES modules shipped in ``llmkit/server/web/`` (no build step, no CDN: it works
offline). It needs no key to load; it calls the same ``/v1`` routes as any client, sending the key the user
typed as a Bearer token. The script and styles are separate same-origin files, so the policy can forbid
inline script and style outright (``'self'`` only) instead of carrying nonces.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources

from fastapi import APIRouter, Request, Response

from llmkit.server.errors import ApiError

router = APIRouter(include_in_schema=False)

#: The files the page is made of, and their types: nothing else under ``web/`` is served.
FILES = {
    "index.html": "text/html; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "dom.js": "text/javascript; charset=utf-8",
    "lib.js": "text/javascript; charset=utf-8",
    "chat.js": "text/javascript; charset=utf-8",
    "collections.js": "text/javascript; charset=utf-8",
    "traces.js": "text/javascript; charset=utf-8",
    "evals.js": "text/javascript; charset=utf-8",
}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors' predecessor, for old browsers
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@router.api_route("/", methods=["GET", "HEAD"])
@router.api_route("/ui", methods=["GET", "HEAD"])
async def page(request: Request) -> Response:
    return _serve("index.html", request)


@router.api_route("/ui/{name}", methods=["GET", "HEAD"])
async def asset(name: str, request: Request) -> Response:
    if name not in FILES or name == "index.html":
        raise ApiError(404, f"no file {name!r} in the page", type="not_found_error", code="not_found")
    return _serve(name, request)


def _serve(name: str, request: Request) -> Response:
    """``name`` with its type and the security headers; 304 when the browser's copy is current.

    ``no-cache`` makes the browser revalidate every load, so an upgraded llmkit never runs a stale script
    against new routes; the ETag keeps that revalidation to an empty 304.
    """
    body, etag = _read(name)
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache", "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=FILES[name], headers=headers)


@cache
def _read(name: str) -> tuple[bytes, str]:
    body = resources.files("llmkit.server.web").joinpath(name).read_bytes()
    return body, f'"{hashlib.sha256(body).hexdigest()[:32]}"'
