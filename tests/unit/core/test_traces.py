from __future__ import annotations

from pathlib import Path

import pytest

from llmkit.errors import ContextLengthExceeded, InputError, NotFound
from llmkit.observe.traces import TracedModel, TraceStore, trace_attributes
from llmkit.testing import FakeChatModel
from llmkit.types import GenerationParams, Message


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(tmp_path / "traces.db")


def test_chat_is_traced_with_prompt_params_output_and_usage(store: TraceStore) -> None:
    model = TracedModel(FakeChatModel(["Hello there."]), store)
    with trace_attributes(kind="rag", chunks=["d:0"]) as span:
        reply = model.chat([Message.system("sys"), Message.user("hi")], GenerationParams(max_tokens=10, seed=1))
    t = store.get(span.trace_id)
    assert t.output == reply.text and t.kind == "rag" and t.attributes["chunks"] == ["d:0"]
    assert [m.content for m in t.messages] == ["sys", "hi"]
    assert t.params["seed"] == 1 and t.usage == reply.usage and t.latency_ms >= 0


def test_stream_is_traced_with_ttft_and_final_usage(store: TraceStore) -> None:
    model = TracedModel(FakeChatModel(["one two three"]), store)
    chunks = list(model.stream([Message.user("count")]))
    (t,) = store.list()
    assert t.output == "one two three" and t.usage == chunks[-1].usage and t.ttft_ms is not None


def test_abandoned_stream_and_errors_are_traced(store: TraceStore) -> None:
    model = TracedModel(FakeChatModel(["a b c d"], window=50), store)
    gen = model.stream([Message.user("x")], GenerationParams(max_tokens=10))
    next(gen)
    gen.close()
    with pytest.raises(ContextLengthExceeded):
        model.chat([Message.user("word " * 100)], GenerationParams(max_tokens=10))
    newest, oldest = store.list()
    assert oldest.finish_reason == "abandoned" and oldest.output == "a "
    assert newest.finish_reason == "error" and "ContextLengthExceeded" in newest.error


def test_get_by_prefix_and_errors(store: TraceStore) -> None:
    model = TracedModel(FakeChatModel(), store)
    model.chat([Message.user("x")])
    (t,) = store.list()
    assert store.get(t.id[:8]).id == t.id
    with pytest.raises(NotFound):
        store.get("ffffffffff")
    with pytest.raises(InputError):
        store.get("ab")
    with pytest.raises(NotFound):
        store.get("%%%%")  # LIKE wildcards are escaped
    assert store.count() == 1


@pytest.mark.parametrize("streamed", [False, True])
def test_tool_calls_are_the_traced_output_and_tool_turns_round_trip(store: TraceStore, streamed: bool) -> None:
    import json

    from llmkit.testing import ScriptedToolModel
    from llmkit.types import ToolCall, ToolSpec

    call = ToolCall("call_7", "add", '{"a": 2}')
    model = TracedModel(ScriptedToolModel(turns=[call]), store)
    history = [Message.user("2+2?"), Message.assistant("", (call,)), Message.tool("4", "call_7", "add")]
    params = GenerationParams(tools=(ToolSpec("add"),))
    _ = list(model.stream(history, params)) if streamed else model.chat(history, params)
    (t,) = store.list()
    assert json.loads(t.output) == [call.to_openai()]
    assert t.messages == tuple(history)  # tool calls and tool-call ids survive the store
    assert t.params["tools"] == ["add"]


@pytest.mark.parametrize("streamed", [False, True])
def test_the_kit_traces_each_call_with_its_cost(tmp_path: Path, streamed: bool) -> None:
    import llmkit

    kit = llmkit.open(tmp_path, model={"name": "my-hosted"}, prices={"my-hosted": {"input": 1.0, "output": 2.0}})
    model = kit.wrap_model(FakeChatModel(["four words of reply"]))
    if streamed:
        list(model.stream([Message.user("hello there")]))
    else:
        model.chat([Message.user("hello there")])
    (trace,) = kit.traces(limit=5)
    u = trace.usage
    assert trace.attributes["cost_usd"] == pytest.approx((u.prompt_tokens * 1.0 + u.completion_tokens * 2.0) / 1e6)
