"""How the loop waits: a model reply read on a helper thread under a deadline, tool calls run concurrently."""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from llmkit.agents.tools import Tool, ToolResult
from llmkit.models.base import ChatModel
from llmkit.types import ChatChunk, ChatResponse, GenerationParams, Message, ToolCall, Usage


def stream_reply(
    model: ChatModel, messages: list[Message], params: GenerationParams, time_left: float | None
) -> tuple[ChatResponse, bool]:
    """Stream a reply; stop waiting when ``time_left`` runs out. Returns the reply and whether time ran out.

    The stream is read on a helper thread so the deadline holds even when a backend sends nothing until
    the end (llama.cpp sends a tool-protocol reply whole): the loop returns on time, and the abandoned
    stream is closed (and traced as abandoned) at its next chunk.
    """
    start = time.monotonic()
    chunks: queue.Queue[ChatChunk | BaseException | None] = queue.Queue()
    abandon = threading.Event()

    def pump() -> None:
        stream = model.stream(messages, params)
        try:
            for chunk in stream:
                chunks.put(chunk)
                if abandon.is_set():
                    break
        except BaseException as e:
            chunks.put(e)
        finally:
            stream.close()  # type: ignore[attr-defined]
            chunks.put(None)

    context = contextvars.copy_context()  # the trace attributes travel with the call
    threading.Thread(target=context.run, args=(pump,), name="llmkit-agent-stream", daemon=True).start()
    parts: list[str] = []
    last: ChatChunk | None = None
    timed_out = False
    while True:
        wait = None if time_left is None else max(time_left - (time.monotonic() - start), 0.0)
        try:
            item = chunks.get(timeout=wait)
        except queue.Empty:
            abandon.set()
            timed_out = True
            break
        if item is None:
            break
        if isinstance(item, BaseException):
            raise item
        parts.append(item.text)
        last = item
    usage = last.usage if last is not None and last.usage is not None else Usage()
    finish = last.finish_reason if last is not None and last.finish_reason else "length"
    calls = last.tool_calls if last is not None and not timed_out else ()
    return ChatResponse("".join(parts), usage, finish, model.name, time.monotonic() - start, calls), timed_out


def invoke_all(
    runnable: dict[int, tuple[ToolCall, Tool]], time_left: float | None
) -> dict[int, tuple[ToolResult, float]]:
    """Run the calls concurrently; a call still running when time is up gets an error result."""

    def timed(call: ToolCall, tool: Tool) -> tuple[ToolResult, float]:
        start = time.monotonic()
        return tool.invoke(call), time.monotonic() - start

    out: dict[int, tuple[ToolResult, float]] = {}
    pool = ThreadPoolExecutor(max_workers=min(4, len(runnable)), thread_name_prefix="llmkit-tool")
    futures = {i: (call, pool.submit(timed, call, tool)) for i, (call, tool) in runnable.items()}
    deadline = None if time_left is None else time.monotonic() + max(time_left, 0.0)
    for i, (call, future) in futures.items():
        try:
            out[i] = future.result(None if deadline is None else max(deadline - time.monotonic(), 0.0))
        except FutureTimeout:
            out[i] = (ToolResult(f"error: {call.name} did not finish before the time budget ran out", True), 0.0)
    pool.shutdown(wait=False, cancel_futures=True)
    return out
