"""Traced model calls become chat records: real traces written by TracedModel into a real trace store."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from llmkit.errors import InputError, NotFound
from llmkit.finetune.data import prepare_dataset
from llmkit.finetune.from_traces import parse_since, read_traces
from llmkit.finetune.records import ChatRecord, Rejection
from llmkit.observe.traces import Trace, TracedModel, TraceStore, trace_attributes
from llmkit.testing import FakeChatModel, ScriptedToolModel
from llmkit.types import GenerationParams, Message, ToolCall, ToolSpec, Usage


def test_each_traced_call_becomes_one_chat_record(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "traces.db")
    model = TracedModel(FakeChatModel(["Paris.", "Berlin.", "Rome, " * 40]), store)
    model.chat([Message.system("Be brief."), Message.user("Capital of France?")])
    with trace_attributes(kind="rag"):
        list(model.stream([Message.user("Capital of Germany?")]))
    model.chat([Message.user("Capital of Italy?")], GenerationParams(max_tokens=5))  # cut off: finish "length"
    out = list(read_traces(tmp_path / "traces.db"))
    assert [type(r).__name__ for r in out] == ["ChatRecord", "ChatRecord", "Rejection"]
    first, second, third = out
    assert isinstance(first, ChatRecord) and isinstance(second, ChatRecord) and isinstance(third, Rejection)
    assert [(m.role, m.content) for m in first.messages] == [
        ("system", "Be brief."), ("user", "Capital of France?"), ("assistant", "Paris.")]  # fmt: skip
    assert second.messages[-1].content == "Berlin." and first.source.startswith("traces:")
    assert third.code == "trace_cut_off" and third.details["trace_id"] == third.raw["id"]


def test_tool_calls_in_traces_come_back_as_tool_calls(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "traces.db")
    model = TracedModel(ScriptedToolModel(turns=[ToolCall("c1", "now", "{}"), "It is noon."]), store)
    spec = GenerationParams(tools=(ToolSpec("now"),))
    first = model.chat([Message.user("Time?")], spec)
    model.chat([Message.user("Time?"), Message.assistant("", first.tool_calls), Message.tool("12:00", "c1")], spec)
    a, b = list(read_traces(tmp_path / "traces.db"))
    assert isinstance(a, ChatRecord) and a.messages[-1].tool_calls == (ToolCall("c1", "now", "{}"),)
    assert isinstance(b, ChatRecord) and [m.role for m in b.messages] == ["user", "assistant", "tool", "assistant"]


def test_failed_calls_are_refused_and_non_model_traces_skipped(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "traces.db")
    model = TracedModel(FakeChatModel(["x"], window=8), store)
    with pytest.raises(Exception, match="context window"):
        model.chat([Message.user("a long question " * 10)])
    store.record(Trace(uuid.uuid4().hex, time.time(), "guard", "llmkit.guards", (), {}, "allow", None, Usage(), 0.1))
    out = list(read_traces(tmp_path / "traces.db"))
    assert len(out) == 1 and isinstance(out[0], Rejection) and out[0].code == "trace_failed"
    assert "ContextLengthExceeded" in out[0].reason


def test_since_keeps_recent_calls_only(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "traces.db")
    TracedModel(FakeChatModel(["old"]), store).chat([Message.user("first?")])
    cut = time.time()
    time.sleep(0.01)
    TracedModel(FakeChatModel(["new"]), store).chat([Message.user("second?")])
    out = list(read_traces(tmp_path / "traces.db", since=cut))
    assert [r.messages[-1].content for r in out] == ["new"]  # type: ignore[union-attr]
    assert parse_since("90m", now=10_000.0) == 10_000.0 - 5400
    assert parse_since("2026-01-31") == parse_since("2026-01-31T00:00:00+00:00")
    with pytest.raises(InputError, match="neither an age nor a date"):
        parse_since("last tuesday")


def test_traces_as_a_dataset_source(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "traces.db")
    model = TracedModel(FakeChatModel(lambda m: f"Answer to {m[-1].content}"), store)
    for q in ("How do tides work?", "Why is the sky blue?", "What is a comet made of?", "How do tides work?"):
        model.chat([Message.user(q)])
    ds = prepare_dataset(["traces"], base=FakeChatModel(), out_dir=tmp_path / "ds", traces_path=store.path, since=1.0)
    assert (ds.card.records_in, ds.card.kept, ds.card.exact_duplicates) == (4, 3, 1)
    assert ds.card.extra == {"since": "1970-01-01T00:00:01Z"}
    assert ds.card.sources[0].path == f"traces:{store.path}"
    rows = [json.loads(x) for x in (ds.train.read_text() + ds.val.read_text()).splitlines()]
    assert {r["messages"][-1]["content"] for r in rows} == {f"Answer to {q}" for q in
                                                            ("How do tides work?", "Why is the sky blue?",
                                                             "What is a comet made of?")}  # fmt: skip
    with pytest.raises(NotFound, match="no trace store"):
        prepare_dataset([f"traces:{tmp_path / 'none.db'}"], base=FakeChatModel(), out_dir=tmp_path / "x")
