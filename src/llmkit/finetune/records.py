"""Training records: read chat JSONL (OpenAI fine-tuning format) and Alpaca files, check each record.

Every record either becomes a ``ChatRecord`` or a ``Rejection`` that says where it was (file and line)
and why it was refused, so one bad line never stops a batch and never disappears silently::

    {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
    {"instruction": "Add 2 and 3.", "input": "", "output": "5"}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmkit.errors import LoaderError
from llmkit.types import Message, ToolCall

ROLES = ("system", "user", "assistant", "tool")
#: Raw text kept in ``rejected.jsonl`` for one record, at most (a huge record is cut, and says so).
MAX_KEPT_CHARS = 100_000


@dataclass(frozen=True, slots=True)
class ChatRecord:
    """One valid conversation, ending with the assistant turn to learn, and where it came from.

    ``untrained``: indices of the assistant turns marked ``"weight": 0`` (context, not learnt).
    """

    messages: tuple[Message, ...]
    source: str
    line: int
    tools: tuple[Mapping[str, Any], ...] = ()
    untrained: frozenset[int] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        """The OpenAI fine-tuning form written to ``train.jsonl`` and ``val.jsonl``."""
        d: dict[str, Any] = {
            "messages": [{**m.to_dict(), "weight": 0} if i in self.untrained else m.to_dict()
                         for i, m in enumerate(self.messages)]
        }  # fmt: skip
        if self.tools:
            d["tools"] = [dict(t) for t in self.tools]
        return d


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record left out: where it was, a short reason code, a sentence for people, and the raw record."""

    source: str
    line: int
    code: str
    reason: str
    raw: Any = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        raw = self.raw
        if isinstance(raw, str) and len(raw) > MAX_KEPT_CHARS:
            raw = raw[:MAX_KEPT_CHARS] + f"... [cut: {len(self.raw)} characters]"
        return {"source": self.source, "line": self.line, "code": self.code, "reason": self.reason,
                **dict(self.details), "record": raw}  # fmt: skip


class RecordError(ValueError):
    """Why one record is refused: a reason code and a message (caught per record, never escapes)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# ----------------------------------------------------------------------------- files


def read_file(path: Path) -> Iterator[ChatRecord | Rejection]:
    """Each record of a ``.jsonl`` (one object a line) or ``.json`` (an array of objects) file.

    A binary file, an unreadable one or a JSON array that does not parse is a ``LoaderError``;
    everything that goes wrong inside one record is a ``Rejection`` with its line number.
    """
    try:
        with path.open("rb") as f:
            head = f.read(8192)
            if b"\x00" in head:
                raise LoaderError(str(path), "is a binary file, not JSON or JSONL text", hint="give UTF-8 JSONL files")
            f.seek(3 if head.startswith(b"\xef\xbb\xbf") else 0)  # skip a UTF-8 byte order mark
            if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"[":
                yield from _read_array(path, f.read())
            else:
                yield from _read_lines(path, f)
    except OSError as e:
        raise LoaderError(str(path), f"cannot read the file ({e.strerror or e})") from None


def _read_lines(path: Path, lines: Iterable[bytes]) -> Iterator[ChatRecord | Rejection]:
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as e:
            yield Rejection(str(path), number, "not_utf8", f"not valid UTF-8 (byte {raw[e.start]:#04x} at column "
                            f"{e.start + 1})", raw.decode("utf-8", errors="replace"))  # fmt: skip
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            yield Rejection(str(path), number, "malformed_json", f"not valid JSON: {e.msg} at column {e.colno}", text)
            continue
        except RecursionError:
            yield Rejection(str(path), number, "malformed_json", "JSON nested too deeply", text[:1000])
            continue
        yield parse_record(obj, str(path), number)


def _read_array(path: Path, data: bytes) -> Iterator[ChatRecord | Rejection]:
    try:
        items = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise LoaderError(str(path), "holds JSON nested too deeply") from None
    except UnicodeDecodeError as e:
        raise LoaderError(str(path), f"is not valid UTF-8 (byte offset {e.start})") from None
    except json.JSONDecodeError as e:
        if e.msg == "Extra data":  # more than one value: JSONL whose first record happens to be an array
            yield from _read_lines(path, data.splitlines())
            return
        raise LoaderError(
            str(path), f"is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}",
            hint="a .json file must hold one array of records; use JSONL (one record a line) to skip bad records",
        ) from None  # fmt: skip
    if not isinstance(items, list):
        raise LoaderError(str(path), "holds a single JSON value, not an array of records or JSONL")
    for number, obj in enumerate(items, start=1):
        yield parse_record(obj, str(path), number)


# ----------------------------------------------------------------------------- one record


def parse_record(obj: Any, source: str, line: int) -> ChatRecord | Rejection:
    """A chat or Alpaca record checked and turned into a ``ChatRecord``, or the reason it is refused.

    >>> parse_record({"instruction": "Say hi", "output": "Hi!"}, "a.jsonl", 1).messages[0].content
    'Say hi'
    >>> parse_record({"messages": [{"role": "user", "content": "Hi"}]}, "a.jsonl", 2).reason
    'no assistant turn to learn from'
    """
    try:
        if not isinstance(obj, dict):
            raise RecordError("bad_record", f"a record must be a JSON object, got {_kind(obj)}")
        _check_text(obj)
        if "messages" in obj:
            messages = check_messages(obj["messages"])
            return ChatRecord(messages, source, line, _tools(obj.get("tools")), untrained(obj["messages"]))
        if "instruction" in obj or "output" in obj:
            return ChatRecord(alpaca_messages(obj), source, line)
        raise RecordError("bad_record", "neither a chat record ('messages') nor Alpaca ('instruction', 'output')")
    except RecordError as e:
        raw = json.dumps(obj) if e.code == "not_utf8" else obj  # ASCII escapes keep the bad text writable
        return Rejection(source, line, e.code, str(e), raw)


def _check_text(obj: Any) -> None:
    """Refuse a record whose strings are not Unicode text: a JSON-escaped lone surrogate (``"\\ud800"``).

    >>> _check_text({"messages": [{"content": "\\ud800"}]})
    Traceback (most recent call last):
    ...
    llmkit.finetune.records.RecordError: holds a lone surrogate (U+D800), which is not valid UTF-8 text
    """
    text = json.dumps(obj, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise RecordError(
            "not_utf8", f"holds a lone surrogate (U+{ord(text[e.start]):04X}), which is not valid UTF-8 text"
        ) from None


def untrained(messages: Sequence[Any]) -> frozenset[int]:
    """Indices of the assistant turns with ``"weight": 0`` in already checked messages (``RecordError``
    for a weight other than 0 or 1, one on another role, or no turn left to learn).

    >>> untrained([{"role": "assistant", "content": "a", "weight": 0}, {"role": "assistant", "content": "b"}])
    frozenset({0})
    """
    out = set()
    for n, m in enumerate(messages):
        if "weight" not in m:
            continue
        if m["weight"] not in (0, 1) or isinstance(m["weight"], bool) or m["role"] != "assistant":
            raise RecordError("bad_weight", f"message {n + 1} ({m['role']}): weight must be 0 or 1, on assistant turns")
        if m["weight"] == 0:
            out.add(n)
    if all(i in out for i, m in enumerate(messages) if m["role"] == "assistant"):
        raise RecordError("no_assistant", "every assistant turn has weight 0: nothing to learn from")
    return frozenset(out)


def alpaca_messages(obj: Mapping[str, Any]) -> tuple[Message, ...]:
    """An Alpaca record as a user turn (instruction, then the input if any) and an assistant turn.

    >>> [m.content for m in alpaca_messages({"instruction": "Translate.", "input": "Hallo", "output": "Hello"})]
    ['Translate.\\n\\nHallo', 'Hello']
    """
    fields = {}
    for key in ("instruction", "input", "output"):
        value = obj.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise RecordError("bad_content", f"'{key}' must be a string, got {_kind(value)}")
        fields[key] = value.strip()
    for key in ("instruction", "output"):
        if not fields[key]:
            raise RecordError("empty_turn", f"'{key}' is empty")
    prompt = fields["instruction"] + (f"\n\n{fields['input']}" if fields["input"] else "")
    return (Message.user(prompt), Message.assistant(fields["output"]))


def check_messages(messages: Any) -> tuple[Message, ...]:
    """OpenAI fine-tuning messages checked turn by turn (raises ``RecordError`` with the first problem)."""
    if not isinstance(messages, list) or not messages:
        raise RecordError("bad_record", "'messages' must be a non-empty list")
    out: list[Message] = []
    call_ids: set[str] = set()
    for n, m in enumerate(messages, start=1):
        msg = _message(m, n, call_ids)
        call_ids.update(c.id for c in msg.tool_calls)
        out.append(msg)
    if not any(m.role == "assistant" for m in out):
        raise RecordError("no_assistant", "no assistant turn to learn from")
    if out[-1].role != "assistant":
        raise RecordError("not_ending_with_assistant", f"ends with a {out[-1].role} turn, not an assistant turn")
    return tuple(out)


def _message(m: Any, n: int, call_ids: set[str]) -> Message:
    if not isinstance(m, dict):
        raise RecordError("bad_record", f"message {n} must be an object, got {_kind(m)}")
    role = m.get("role")
    if role is None:
        raise RecordError("bad_role", f"message {n} has no 'role'")
    if role not in ROLES:
        raise RecordError("bad_role", f"message {n} has unknown role {role!r} (use {', '.join(ROLES)})")
    content = m.get("content")
    if content is not None and not isinstance(content, str):
        raise RecordError("bad_content", f"message {n} ({role}): content must be a string, got {_kind(content)}")
    calls = _tool_calls(m.get("tool_calls"), n) if role == "assistant" else ()
    if not (content or "").strip() and not calls:
        raise RecordError("empty_turn", f"message {n} ({role}) is empty")
    call_id = m.get("tool_call_id")
    if role == "tool" and (not isinstance(call_id, str) or call_id not in call_ids):
        raise RecordError("bad_tool_call", f"message {n} (tool) must answer an earlier tool call by 'tool_call_id'")
    name = m.get("name") if isinstance(m.get("name"), str) else None
    return Message(role, content or "", name, calls, call_id if role == "tool" else None)


def _tool_calls(calls: Any, n: int) -> tuple[ToolCall, ...]:
    if calls is None:
        return ()
    shape = "a list of {id, type: 'function', function: {name, arguments}}"
    if not isinstance(calls, list):
        raise RecordError("bad_tool_call", f"message {n}: tool_calls must be {shape}")
    out = []
    for c in calls:
        fn = c.get("function") if isinstance(c, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise RecordError("bad_tool_call", f"message {n}: tool_calls must be {shape}")
        args = fn.get("arguments", "{}")
        args = args if isinstance(args, str) else json.dumps(args)
        out.append(ToolCall(str(c.get("id") or f"call_{len(out)}"), fn["name"], args))
    return tuple(out)


def _tools(tools: Any) -> tuple[Mapping[str, Any], ...]:
    if tools is None:
        return ()
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise RecordError("bad_tool_call", "'tools' must be a list of tool objects")
    return tuple(tools)


def _kind(value: Any) -> str:
    """JSON's name for a value's type.

    >>> _kind([1]), _kind(None), _kind(3.5)
    ('array', 'null', 'number')
    """
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def message_texts(messages: Sequence[Message]) -> list[str]:
    """The texts of a conversation that PII checks and duplicate detection read (content and tool arguments)."""
    return [m.content for m in messages] + [c.arguments for m in messages for c in m.tool_calls]
