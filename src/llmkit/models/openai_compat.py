"""Chat with any OpenAI-compatible server (vLLM, Ollama, TGI, llama.cpp server, OpenAI) over its HTTP API.

Chat and streams go over ``openai_http.Upstream`` (urllib3), which costs a quarter of the ``openai``
client's CPU per call (that module says why); ``astream``, the same stream from an event loop (the server's
path: no thread hop), goes over ``openai_aio.AsyncUpstream`` (aiohttp), and both parse events with one
``_Fold``. ``client()`` still gives the ``openai`` client for the rest of the API, and ``translate_error``
maps all three clients' failures onto llmkit's errors.

Token counts in ``usage`` are the server's. ``count_tokens`` is only an *estimate* (the remote
tokenizer is not known here): it errs high, so prompt budgets built on it stay inside the window.
A prompt the server finds too long comes back as ``ContextLengthExceeded``.

Tools and JSON replies use the API's own ``tools``/``tool_choice`` and ``response_format``; streamed tool
calls are assembled from their deltas and arrive whole in the last chunk.
"""

from __future__ import annotations

import email.utils
import json
import os
import re
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from llmkit.errors import BackendUnavailable, ContextLengthExceeded, ModelError, NotFound, RateLimited
from llmkit.models import openai_http
from llmkit.models.openai_http import (
    DONE,
    SSEParser,
    Upstream,
    UpstreamStatus,
    drain,
    iter_lines,
    redact_url,
)
from llmkit.models.openai_tokens import estimate_tokens
from llmkit.types import ChatChunk, ChatResponse, FinishReason, GenerationParams, Message, ToolCall, Usage

if TYPE_CHECKING:
    from llmkit.config import Settings
    from llmkit.models.openai_aio import AsyncUpstream

#: Window assumed when neither the settings nor the server say (most current models allow more).
DEFAULT_CONTEXT_WINDOW = 8192
#: A prompt over the window, as OpenAI and vLLM, llama.cpp's server and TGI (HTTP 422) word it.
_CONTEXT_WORDS = re.compile(
    r"context.length|context window|maximum context|too many tokens|prompt is too long|available context size"
    r"|`inputs` tokens \+ `max_new_tokens` must be|`inputs` must have less than",
    re.I,
)
#: The window in such a message: "maximum context length is 2048", "context size (2048 tokens)", "<= 2048".
_WINDOW_IN_MESSAGE = re.compile(r"(?:context (?:length|size|window)|<=|less than)\D{0,20}?(\d+)", re.I)
_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
}


class OpenAIChatModel:
    """A ``ChatModel`` served over the OpenAI chat-completions API.

    ``api_key`` falls back to ``$OPENAI_API_KEY``; a local server (``base_url`` set) may need none.
    ``context_window``: if not given, asked once from the server's model card (vLLM's
    ``max_model_len`` and similar), else ``DEFAULT_CONTEXT_WINDOW``.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 120,
        context_window: int | None = None,
        max_retries: int = 2,
    ) -> None:
        if not model:
            raise ModelError("a remote model id is needed (model.name)")
        self.name = model
        self.base_url = base_url
        self._api_key = api_key
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._window = context_window
        self._client: Any = None
        self._upstream: Upstream | None = None
        self._aupstream: AsyncUpstream | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIChatModel:
        """The model ``settings.model`` names (``name`` may be ``openai:ID`` or a URL, see ``llmkit.registry``)."""
        from llmkit.registry import split_model_name

        m = settings.model
        url, model_id = split_model_name(m.name, "openai")
        key = m.api_key.get_secret_value() if m.api_key else None
        return cls(
            model_id, base_url=m.base_url or url, api_key=key, timeout_s=m.timeout_s, context_window=m.context_window
        )

    @property
    def cache_identity(self) -> str:
        """The model id and the server it is asked on (credentials masked): one id on two servers is two models."""
        url = self.base_url or os.environ.get("OPENAI_BASE_URL") or openai_http.OPENAI_URL
        return f"{self.name}@{redact_url(url.rstrip('/'))}"

    # ------------------------------------------------------------------ ChatModel protocol

    @property
    def context_window(self) -> int:
        if self._window is None:
            self._window = self._window_from_server() or DEFAULT_CONTEXT_WINDOW
        return self._window

    def count_tokens(self, text: str) -> int:
        """An estimate that errs high (``openai_tokens.estimate_tokens``: about 1.3x on English)."""
        return estimate_tokens(text)

    def count_message_tokens(self, messages: Sequence[Message]) -> int:
        """Estimated prompt tokens: each message's text plus 4 tokens of chat-template overhead, plus 3."""
        return sum(self.count_tokens(m.content) + 4 for m in messages) + 3

    def chat(self, messages: Sequence[Message], params: GenerationParams | None = None) -> ChatResponse:
        params = params or GenerationParams()
        t0 = time.perf_counter()
        try:
            resp = self.upstream().json("POST", "/chat/completions", self._request(messages, params))
        except Exception as e:
            self._reraise(e, messages, params)
        where = _where(self.base_url)
        try:
            choice = (resp.get("choices") or [None])[0] or {}
            message = choice.get("message") or {}
            text, finish = message.get("content") or "", _FINISH.get(choice.get("finish_reason") or "", "stop")
            if not isinstance(text, str):
                raise TypeError(text)
            calls = tuple(
                _tool_call(where, c.get("id"), c.get("function") or {}) for c in message.get("tool_calls") or ()
            )
            model = resp.get("model") or self.name
        except (AttributeError, TypeError, KeyError):  # not the objects the API describes
            raise ModelError(f"{where} sent an invalid reply: {str(resp)[:200]}") from None
        usage = _usage(resp.get("usage"))
        return ChatResponse(text, usage, finish, model, time.perf_counter() - t0, tool_calls=calls)

    def stream(self, messages: Sequence[Message], params: GenerationParams | None = None) -> Iterator[ChatChunk]:
        params = params or GenerationParams()
        try:
            response = self.upstream().request("POST", "/chat/completions", self._stream_request(messages, params),
                                               stream=True)  # fmt: skip
        except Exception as e:
            self._reraise(e, messages, params)
        fold, lines = _Fold(self.base_url), iter_lines(response)
        try:
            for line in lines:
                if text := fold.feed(line):
                    yield ChatChunk(text)
                if fold.done:
                    break
            drain(lines, response)
        except Exception as e:
            self._reraise(e, messages, params)
        finally:
            response.close()  # a consumer that stops early ends the request (and drops the connection)
        yield fold.last()

    async def astream(
        self, messages: Sequence[Message], params: GenerationParams | None = None
    ) -> AsyncIterator[ChatChunk]:
        """``stream`` from the running event loop, over aiohttp (``openai_aio``): no thread, for the server."""
        from llmkit.models import openai_aio

        params = params or GenerationParams()
        try:
            request = self._stream_request(messages, params)
            response = await self.aupstream().request("POST", "/chat/completions", request)
        except Exception as e:
            self._reraise(e, messages, params)
        fold = _Fold(self.base_url)
        try:
            async for line in openai_aio.iter_lines(response):
                if text := fold.feed(line):
                    yield ChatChunk(text)
                if fold.done:
                    break
            if fold.done:  # read the rest (normally nothing), so the connection goes back to the pool
                await openai_aio.drain(response)
        except TimeoutError as e:  # no bytes for timeout_s mid-stream
            raise openai_aio.unavailable(self.base_url or "the OpenAI API", e) from e  # it masks credentials
        except Exception as e:
            self._reraise(e, messages, params)
        finally:
            response.release()  # at the body's end the connection is kept, else closed
        yield fold.last()

    # ------------------------------------------------------------------ client and errors

    def upstream(self) -> Upstream:
        """The HTTP hop (``openai_http.Upstream``, urllib3) that chat and streams go through; made on first use."""
        if self._upstream is None:
            key = openai_http.api_key(self.base_url, self._api_key)
            url = self.base_url or os.environ.get("OPENAI_BASE_URL") or openai_http.OPENAI_URL
            self._upstream = Upstream(url, key, self.timeout_s, self.max_retries)
        return self._upstream

    def aupstream(self) -> AsyncUpstream:
        """The HTTP hop from an event loop (``openai_aio.AsyncUpstream``, aiohttp) that ``astream`` goes through."""
        if self._aupstream is None:
            from llmkit.models.openai_aio import AsyncUpstream

            key, up = openai_http.api_key(self.base_url, self._api_key), self.upstream()
            self._aupstream = AsyncUpstream(up.base_url, key, self.timeout_s, self.max_retries)
        return self._aupstream

    async def aclose(self) -> None:
        """Close ``astream``'s connections (its aiohttp session)."""
        if self._aupstream is not None:
            await self._aupstream.aclose()

    def client(self) -> Any:
        """An ``openai.OpenAI`` client for this server (made on first use), for the API beyond chat."""
        if self._client is None:
            self._client = make_client(self.base_url, self._api_key, self.timeout_s, self.max_retries)
        return self._client

    def _stream_request(self, messages: Sequence[Message], params: GenerationParams) -> dict[str, Any]:
        return self._request(messages, params) | {"stream": True, "stream_options": {"include_usage": True}}

    def _request(self, messages: Sequence[Message], params: GenerationParams) -> dict[str, Any]:
        if not messages:
            from llmkit.errors import InputError

            raise InputError("no messages to send")
        req: dict[str, Any] = {"model": self.name, "messages": [m.to_dict() for m in messages]}
        optional = {"max_tokens": params.max_tokens, "temperature": params.temperature, "top_p": params.top_p}
        req.update({k: v for k, v in optional.items() if v is not None})
        if params.seed is not None:
            req["seed"] = params.seed
        if params.stop:
            req["stop"] = list(params.stop)
        if params.tools:
            req["tools"] = [t.to_openai() for t in params.tools]
            choice: Any = params.tool_choice
            if choice not in ("auto", "none", "required"):
                choice = {"type": "function", "function": {"name": choice}}
            req["tool_choice"] = choice
        if params.json_schema is not None:
            req["response_format"] = response_format(params.json_schema)
        return req

    def _reraise(self, error: Exception, messages: Sequence[Message], params: GenerationParams) -> NoReturn:
        ours = self._translate(error, messages, params)
        if ours is error:
            raise error
        raise ours from error

    def _translate(self, error: Exception, messages: Sequence[Message], params: GenerationParams) -> Exception:
        overflow = isinstance(error, UpstreamStatus) and error.status in (400, 413, 422)
        if overflow and _CONTEXT_WORDS.search(error.message):
            return self._context_error(error, messages, params)
        return translate_error(error, model=self.name, base_url=self.base_url)

    def _context_error(
        self, error: UpstreamStatus, messages: Sequence[Message], params: GenerationParams
    ) -> ContextLengthExceeded:
        """The numbers from the error's fields (llama.cpp's ``n_prompt_tokens`` and ``n_ctx``), else from its message
        ("maximum context length is 2048 tokens. However, you requested 5000 tokens ..."), else estimated."""
        fields = _error_fields(error.body)
        numbers = [int(n) for n in re.findall(r"\d+", error.message)]
        window = _WINDOW_IN_MESSAGE.search(error.message)
        available = fields.get("n_ctx") or (int(window[1]) if window else numbers[0] if numbers else self._window)
        available = available or DEFAULT_CONTEXT_WINDOW
        needed = fields.get("n_prompt_tokens") or max(numbers, default=0)
        if needed <= available:
            needed = max(self.count_message_tokens(messages) + (params.max_tokens or 0), available + 1)
        return ContextLengthExceeded(needed, available)

    def _window_from_server(self) -> int | None:
        try:
            card = self.upstream().json("GET", f"/models/{self.name}", retries=0)
        except Exception:  # an optional nicety: any failure means "unknown"
            return None
        for key in ("max_model_len", "context_length", "context_window", "n_ctx"):
            if isinstance(card, dict) and isinstance(card.get(key), int) and card[key] > 0:
                return int(card[key])
        return None


def make_client(base_url: str | None, api_key: str | None, timeout_s: float, max_retries: int = 2) -> Any:
    """An ``openai.OpenAI`` client; the key comes from ``api_key`` or ``$OPENAI_API_KEY``."""
    try:
        import openai
    except ImportError:
        raise BackendUnavailable("the 'openai' package is not installed", hint="pip install 'openai>=1.40'") from None
    key = openai_http.api_key(base_url, api_key)
    return openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout_s, max_retries=max_retries)


def translate_error(error: Exception, *, model: str, base_url: str | None) -> Exception:
    """The llmkit error for an ``openai`` exception, an ``UpstreamStatus`` or a broken connection (anything
    else is returned unchanged)."""
    import openai

    where = redact_url(base_url) if base_url else "the OpenAI API"
    if isinstance(error, UpstreamStatus):
        return status_error(error.status, error.message, error.headers, model=model, where=where)
    if isinstance(error, openai.APIConnectionError):  # includes timeouts
        kind = "timed out" if isinstance(error, openai.APITimeoutError) else "cannot connect"
        text = redact_url(f"{where}: {kind} ({error})")
        return BackendUnavailable(text, hint="is the server running? check model.base_url")
    if isinstance(error, openai.APIStatusError):
        return status_error(error.status_code, _message(error), error.response.headers, model=model, where=where)
    if isinstance(error, openai.OpenAIError):
        return ModelError(redact_url(f"{where}: {error}"))
    broken = ("httpx", "httpx2", "httpcore", "httpcore2", "urllib3", "http", "aiohttp")  # a stream broke mid-way
    if type(error).__module__.split(".")[0] in broken:
        text = redact_url(f"{where}: the connection failed ({error!r})")
        return BackendUnavailable(text, hint="is the server still running?")
    return error


def status_error(status: int, message: str, headers: Any, *, model: str, where: str) -> Exception:
    """The llmkit error for an HTTP error status from an OpenAI-compatible server.

    >>> status_error(404, "no such model", {}, model="m", where="http://x").__class__.__name__
    'NotFound'
    >>> status_error(503, "overloaded", {}, model="m", where="http://x")
    BackendUnavailable('http://x answered HTTP 503: overloaded')
    """
    if status == 429:
        return RateLimited(f"{where} is rate limiting requests: {message}", retry_after=retry_after(headers))
    if status in (401, 403):
        return ModelError(f"{where} refused the API key: {message}", hint="set model.api_key or OPENAI_API_KEY")
    if status == 404:
        return NotFound(f"{where} has no model {model!r}: {message}", hint="check model.name against /v1/models")
    cls = BackendUnavailable if status >= 500 else ModelError
    return cls(f"{where} answered HTTP {status}: {message}")


def retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date) or ``retry-after-ms``.

    >>> retry_after({"retry-after": "7"})
    7.0
    >>> retry_after({"retry-after-ms": "1500"})
    1.5
    >>> retry_after({}) is None
    True
    """
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _message(error: Any) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(getattr(error, "message", error))


def response_format(schema: Any) -> dict[str, Any]:
    """The ``response_format`` for a JSON Schema (``{}``: any JSON object).

    >>> response_format({})
    {'type': 'json_object'}
    >>> response_format({"type": "object"})["json_schema"]["name"]
    'reply'
    """
    if not schema:
        return {"type": "json_object"}
    return {"type": "json_schema", "json_schema": {"name": "reply", "schema": dict(schema)}}


def _add_call_delta(calls: dict[int, list[str]], delta: dict[str, Any]) -> None:
    """Fold one streamed tool-call delta into ``calls`` (ids and names come once, arguments in pieces).

    >>> calls = {}
    >>> _add_call_delta(calls, {"index": 0, "id": "c1", "function": {"name": "now", "arguments": "{"}})
    >>> _add_call_delta(calls, {"index": 0, "function": {"arguments": "}"}})
    >>> calls
    {0: ['c1', 'now', '{}']}
    """
    index = delta.get("index") or 0
    if not isinstance(index, int):
        raise TypeError(f"tool call index {index!r}")
    call = calls.setdefault(index, ["", "", ""])
    fn = delta.get("function") or {}
    call[0] = delta.get("id") or call[0]
    call[1] = fn.get("name") or call[1]
    call[2] += fn.get("arguments") or ""


class _Body:
    """An error event's JSON as ``_message`` reads it (like an ``openai`` error's ``body``)."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body


class _Fold:
    """A stream's lines folded as they come: ``feed`` returns the text of the event a line ends, ``done`` turns
    True at ``[DONE]``, and ``last()`` is the closing chunk (finish reason, usage, tool calls assembled from
    their deltas). ``stream`` and ``astream`` share it."""

    def __init__(self, where: str | None) -> None:
        self.where = _where(where)
        self.sse = SSEParser(self.where)
        self.done = False
        self.finish: FinishReason | None = None
        self.usage = Usage(None, None)
        self.calls: dict[int, list[str]] = {}  # index -> [id, name, arguments so far]

    def feed(self, line: str) -> str:
        event = self.sse.feed(line)
        if event is DONE:
            self.done = True
        if event is None or event is DONE:
            return ""
        if event.get("error"):
            raise ModelError(f"{self.where} sent an error: {_message(_Body(event))}")
        try:
            return self._fold(event)
        except (AttributeError, TypeError):  # not the objects the API describes
            raise ModelError(f"{self.where} sent an invalid event: {str(event)[:200]}") from None

    def _fold(self, event: dict[str, Any]) -> str:
        if event.get("usage"):
            self.usage = _usage(event["usage"])
        text = ""
        for choice in event.get("choices") or ():
            delta = choice.get("delta") or {}
            text += delta.get("content") or ""
            for d in delta.get("tool_calls") or ():
                _add_call_delta(self.calls, d)
            if choice.get("finish_reason"):
                self.finish = _FINISH.get(choice["finish_reason"], "stop")
        return text

    def last(self) -> ChatChunk:
        """The closing chunk; ``BackendUnavailable`` when the stream ended with neither ``[DONE]`` nor a finish
        reason (a server or proxy that broke off: the reply may be cut short)."""
        if not self.done and self.finish is None:
            raise BackendUnavailable(f"{self.where}: the stream ended early", hint="is the server still running?")
        calls = tuple(
            _tool_call(self.where, i, {"name": n, "arguments": a})
            for i, n, a in (self.calls[k] for k in sorted(self.calls))
        )
        return ChatChunk("", finish_reason=self.finish or "stop", usage=self.usage, tool_calls=calls)


def _tool_call(where: str, call_id: Any, function: dict[str, Any]) -> ToolCall:
    """The ``ToolCall`` for a reply's ``{"name": ..., "arguments": ...}``; a call without a name is an invalid reply.

    >>> _tool_call("http://x", "c1", {"name": "now", "arguments": ""})
    ToolCall(id='c1', name='now', arguments='{}')
    """
    name, arguments = function.get("name"), function.get("arguments") or "{}"
    if not name or not isinstance(name, str) or not isinstance(arguments, str):
        raise ModelError(f"{where} sent an invalid tool call (a function name is needed): {str(function)[:200]}")
    return ToolCall(str(call_id or ""), name, arguments)


def _where(base_url: str | None) -> str:
    """The server as errors name it (credentials masked)."""
    return redact_url(base_url) if base_url else "the OpenAI API"


def _error_fields(body: bytes) -> dict[str, int]:
    """The whole-number fields of an error body (``{"error": {...}}`` or bare).

    >>> _error_fields(b'{"error": {"message": "too long", "n_prompt_tokens": 5000, "n_ctx": 2048}}')
    {'n_prompt_tokens': 5000, 'n_ctx': 2048}
    """
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    inner = data.get("error", data) if isinstance(data, dict) else None
    return {k: v for k, v in inner.items() if type(v) is int and v > 0} if isinstance(inner, dict) else {}


def _usage(u: Any) -> Usage:
    """``Usage`` from the client's object or a plain dict."""
    if u is None:
        return Usage(None, None)
    get = u.get if isinstance(u, dict) else lambda k: getattr(u, k, None)
    return Usage(get("prompt_tokens"), get("completion_tokens"))
