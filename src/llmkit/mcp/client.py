"""Use an MCP server's tools as llmkit ``Tool``s, through the official ``mcp`` SDK.

The SDK is asynchronous; the agent loop is not. ``MCPClient`` keeps one connection open on its own
event loop in a background thread and turns each tool call into a blocking call with a timeout::

    with MCPClient("python -m mcp_server_time") as server:          # stdio: a command line
        agent = Agent(model, server.tools())
    with MCPClient("http://127.0.0.1:8000/mcp") as server: ...      # streamable HTTP: a URL

A tool without the MCP ``readOnlyHint`` annotation is taken to have side effects (so the agent asks
before calling it, unless allowed). Arguments are checked against the tool's JSON Schema before the
call goes out.
"""

from __future__ import annotations

import asyncio
import functools
import re
import shlex
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from llmkit.agents.tools import Tool
from llmkit.errors import BackendUnavailable, InputError, LlmkitError, MissingExtra


class MCPToolError(LlmkitError):
    """An MCP tool reported an error (its text is what the model reads)."""


def tool_name(name: str, prefix: str = "") -> str:
    """An MCP tool's name made safe for every backend's tool-name rules.

    >>> tool_name("get.current/time", "time_")
    'time_get_current_time'
    """
    return re.sub(r"[^A-Za-z0-9_-]", "_", prefix + name)[:64]


class MCPClient:
    """One connection to one MCP server. ``target``: an ``http(s)://`` URL or a command line."""

    def __init__(
        self, target: str, *, env: Mapping[str, str] | None = None, timeout_s: float = 30.0, prefix: str = ""
    ) -> None:
        if not target.strip():
            raise InputError("give an MCP server: a command line or an http(s):// URL")
        self.target = target.strip()
        self.env = dict(env) if env is not None else None
        self.timeout_s = timeout_s
        self.prefix = prefix
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready: Future[None] = Future()

    @property
    def is_http(self) -> bool:
        return self.target.startswith(("http://", "https://"))

    def connect(self) -> MCPClient:
        if self._thread is not None:
            return self
        try:
            import mcp  # noqa: F401
        except ImportError:
            raise MissingExtra("mcp", "agents") from None
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), name="llmkit-mcp", daemon=True)
        self._thread.start()
        try:
            self._ready.result(self.timeout_s)
        except TimeoutError:
            self.close()
            raise BackendUnavailable(f"MCP server {self.target!r} did not answer within {self.timeout_s:g} s") from None
        except Exception as e:
            self.close()
            raise BackendUnavailable(f"cannot connect to MCP server {self.target!r}: {_reason(e)}") from None
        return self

    async def _main(self) -> None:
        from mcp import Client

        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        try:
            async with Client(self._server(), read_timeout_seconds=self.timeout_s) as client:
                self._client = client
                self._ready.set_result(None)
                await self._stop.wait()
        except BaseException as e:  # reported to connect(); after that the connection is gone
            if not self._ready.done():
                self._ready.set_exception(e)

    def _server(self) -> Any:
        if self.is_http:
            return self.target
        from mcp import StdioServerParameters

        argv = shlex.split(self.target)
        return StdioServerParameters(command=argv[0], args=argv[1:], env=self.env)

    def _run(self, coro: Any) -> Any:
        if self._loop is None or self._client is None:
            raise BackendUnavailable(f"not connected to MCP server {self.target!r}", hint="call connect() first")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self.timeout_s)

    def list_tools(self) -> list[Any]:
        """The server's tool definitions (``mcp.types.Tool``), all pages."""
        tools, cursor = [], None
        while True:
            page = self._run(self._client.list_tools(cursor=cursor))
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                return tools

    def call(self, name: str, arguments: Mapping[str, Any]) -> str:
        """Call a tool; its structured result as JSON (else its text), or ``MCPToolError`` when it failed."""
        result = self._run(self._client.call_tool(name, dict(arguments)))
        if result.structured_content is not None and not result.is_error:  # one JSON value, not one block per item
            import json

            text = json.dumps(result.structured_content, ensure_ascii=False)
        else:
            text = "\n".join(_content_text(c) for c in result.content)
        if result.is_error:
            raise MCPToolError(text or "the tool failed")
        return text

    def _call_kwargs(self, name: str, /, **arguments: Any) -> str:
        return self.call(name, arguments)

    def tools(self) -> list[Tool]:
        """The server's tools as llmkit ``Tool``s (connecting first if needed)."""
        self.connect()
        out = []
        for t in self.list_tools():
            hints = t.annotations
            read_only = bool(hints is not None and hints.read_only_hint)

            fn = functools.partial(self._call_kwargs, t.name)  # the name bound here: no argument overrides it
            schema = t.input_schema or {"type": "object", "properties": {}}
            name = tool_name(t.name, self.prefix)
            out.append(Tool.from_schema(name, t.description or "", schema, fn, side_effects=not read_only))
        return out

    def close(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = self._client = self._loop = None

    def __enter__(self) -> MCPClient:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _content_text(block: Any) -> str:
    text = getattr(block, "text", None)
    if text is not None:
        return str(text)
    return f"[{getattr(block, 'type', 'content')} content]"


def _reason(error: BaseException) -> str:
    """The innermost message of an exception group (anyio wraps connection failures)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return f"{type(error).__name__}: {error}"
