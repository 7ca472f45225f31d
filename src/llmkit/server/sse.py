"""The one streaming helper: Server-Sent Events from an async iterator of JSON bodies, ending ``data: [DONE]``."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi.responses import StreamingResponse

from llmkit.errors import LlmkitError
from llmkit.server.errors import ApiError, error_body, from_llmkit
from llmkit.server.telemetry import LOGGER

if TYPE_CHECKING:
    from llmkit.server.metrics import Metrics

log = logging.getLogger(LOGGER)


def event(body: Any) -> bytes:
    return b"data: " + json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def sse_response(
    events: AsyncIterator[dict[str, Any]], on_close: Callable[[], Awaitable[None]], metrics: Metrics | None = None
) -> StreamingResponse:
    """Stream ``events`` as SSE. An error after the first byte is sent as an error event, then ``[DONE]``, and
    counted in ``metrics`` (``llmkit_errors_total``) as an error reply is.

    ``on_close`` runs however the stream ends: finished, failed, or the client went away (which cancels
    the iteration, and so closes the model's iterator and stops its generation).
    """

    async def body() -> AsyncIterator[bytes]:
        error: ApiError | None = None
        try:
            async for item in events:
                yield event(item)
        except ApiError as e:
            error = e
        except LlmkitError as e:
            error = from_llmkit(e)
        except Exception:
            log.exception("stream failed")
            error = ApiError(500, "internal error; see the server log", type="server_error")
        finally:
            await on_close()
        if error is not None:
            if metrics is not None:
                metrics.errors.labels(error.type, error.code or "").inc()
            yield event(error_body(error))
        yield b"data: [DONE]\n\n"

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)
