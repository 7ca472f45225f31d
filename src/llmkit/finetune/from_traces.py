"""Traced model calls as training records: real usage becomes data.

Each model call in the trace store (``.llmkit/traces.db``) holds the messages as sent and the reply;
the messages plus the reply as a final assistant turn make one chat record. Calls that failed, were cut
off (``finish_reason="length"``) or were abandoned are refused with their reason; traces that are not
model calls (guard verdicts, tool runs) are not records at all and are skipped.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from llmkit.errors import InputError, NotFound
from llmkit.finetune.records import ChatRecord, RecordError, Rejection, check_messages
from llmkit.observe.traces import Trace, TraceStore
from llmkit.types import Message, ToolCall

#: Trace kinds that are not model calls.
NOT_MODEL_CALLS = ("guard", "agent.tool")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str | None, *, now: float | None = None) -> float:
    """``--since`` as a Unix time: an age (``90m``, ``24h``, ``7d``, ``2w``) or an ISO date or date-time.

    >>> parse_since("2h", now=10_000.0)
    2800.0
    >>> parse_since("2026-01-01T00:00:00+00:00")
    1767225600.0
    >>> parse_since(None)
    0.0
    """
    if not text:
        return 0.0
    if m := _DURATION.match(text.strip().lower()):
        return (time.time() if now is None else now) - float(m.group(1)) * _SECONDS[m.group(2)]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"--since {text!r} is neither an age nor a date", hint="e.g. 7d, 24h or 2026-01-31") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def read_traces(path: Path, *, since: float = 0.0) -> Iterator[ChatRecord | Rejection]:
    """Each traced model call in the store at ``path`` since ``since``, as a record or a rejection."""
    if not path.is_file():
        raise NotFound(f"no trace store at {path}", hint="traces are written by `llmkit ask`/`chat` with traces on")
    store = TraceStore(path)
    try:
        for trace in store.since(since):
            if trace.kind not in NOT_MODEL_CALLS and trace.messages:
                yield trace_record(trace, f"traces:{path}")
    finally:
        store.close()


def trace_record(trace: Trace, source: str) -> ChatRecord | Rejection:
    """One traced call as a chat record (the reply becomes the last assistant turn), or why not.

    The line number of a trace is 0; ``trace_id`` in the rejection names it.
    """
    details = {"trace_id": trace.id}
    if trace.error or trace.finish_reason in ("error", "abandoned"):
        why = trace.error or trace.finish_reason
        return Rejection(source, 0, "trace_failed", f"the call failed: {why}", trace.to_dict(), details)
    if trace.finish_reason == "length":
        return Rejection(source, 0, "trace_cut_off", "the reply was cut off by max_tokens", trace.to_dict(), details)
    text, calls = split_output(trace.output or "", trace.finish_reason)
    turns = [*trace.messages, Message.assistant(text, calls)]
    try:
        messages = check_messages([m.to_dict() for m in turns])
    except RecordError as e:
        return Rejection(source, 0, e.code, str(e), trace.to_dict(), details)
    return ChatRecord(messages, f"{source}#{trace.id}", 0)


def split_output(output: str, finish_reason: str | None) -> tuple[str, tuple[ToolCall, ...]]:
    """A trace's output back into (text, tool calls): the calls are a JSON list on its last line.

    >>> calls = '[{"id": "c1", "type": "function", "function": {"name": "now", "arguments": "{}"}}]'
    >>> split_output("Let me look.\\n" + calls, "tool_calls")
    ('Let me look.', (ToolCall(id='c1', name='now', arguments='{}'),))
    >>> split_output("Paris.", "stop")
    ('Paris.', ())
    """
    if finish_reason != "tool_calls":
        return output, ()
    head, _, last = output.rpartition("\n")
    try:
        calls = json.loads(last)
        parsed = tuple(ToolCall(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in calls)
    except (json.JSONDecodeError, KeyError, TypeError):
        return output, ()
    return head, parsed
