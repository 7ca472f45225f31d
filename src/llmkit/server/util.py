"""Small helpers shared by the routes."""

from __future__ import annotations

import dataclasses
from typing import Any


def jsonable(value: Any) -> Any:
    """Frozen dataclasses (and lists of them) as plain JSON values, derived properties included.

    >>> from llmkit.types import Usage
    >>> jsonable([Usage(3, 4)])
    [{'prompt_tokens': 3, 'completion_tokens': 4, 'total_tokens': 7}]
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for extra in ("location", "total_tokens"):
            if hasattr(type(value), extra):
                out[extra] = getattr(value, extra)
        return out
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def json_response(reply: Any) -> Any:
    """A reply that is a plain JSON ``dict`` as a ready ``JSONResponse``; anything else (a stream) unchanged.

    FastAPI would otherwise walk the dict with ``jsonable_encoder`` before serialising it; the chat routes'
    replies are plain JSON already. The OpenAPI page is unchanged (the routes declare ``Any``).
    """
    from fastapi.responses import JSONResponse

    return JSONResponse(reply) if isinstance(reply, dict) else reply
