from __future__ import annotations

import socket
import time

import pytest
from fake_openai_server import FakeOpenAIServer

from llmkit.errors import BackendUnavailable, ContextLengthExceeded, InputError, ModelError, NotFound, RateLimited
from llmkit.models.base import ChatModel
from llmkit.models.openai_compat import OpenAIChatModel, retry_after
from llmkit.types import GenerationParams, Message, ToolCall, ToolSpec, Usage

HELLO = [Message.system("be brief"), Message.user("hello there world")]


def model(server: FakeOpenAIServer, name: str = "tiny", **kw: object) -> OpenAIChatModel:
    return OpenAIChatModel(name, base_url=server.base_url, api_key="sk-test", max_retries=0, **kw)


def test_is_a_chat_model(openai_server: FakeOpenAIServer) -> None:
    assert isinstance(model(openai_server), ChatModel)


def test_chat_returns_text_usage_and_finish(openai_server: FakeOpenAIServer) -> None:
    r = model(openai_server).chat(HELLO)
    assert r.text == "echo: hello there world"
    assert r.usage == Usage(5, 4)
    assert r.finish_reason == "stop"
    assert r.model == "tiny"
    assert r.latency_s is not None and r.latency_s > 0
    assert openai_server.auth_headers[-1] == "Bearer sk-test"


def test_params_are_sent_and_none_ones_omitted(openai_server: FakeOpenAIServer) -> None:
    params = GenerationParams(max_tokens=2, temperature=0.5, top_p=0.9, seed=7, stop=("x",))
    r = model(openai_server).chat(HELLO, params)
    sent = openai_server.requests[-1]
    assert (sent["max_tokens"], sent["temperature"], sent["top_p"], sent["seed"], sent["stop"]) == (
        2,
        0.5,
        0.9,
        7,
        ["x"],
    )
    assert r.finish_reason == "length" and r.text == "echo: hello"
    model(openai_server).chat(HELLO, GenerationParams(max_tokens=None, temperature=None))
    assert not {"max_tokens", "temperature", "top_p", "seed", "stop"} & set(openai_server.requests[-1])


def test_stop_sequence_is_honoured(openai_server: FakeOpenAIServer) -> None:
    r = model(openai_server).chat(HELLO, GenerationParams(stop=(" world",)))
    assert r.text == "echo: hello there"


def test_stream_yields_text_then_usage_on_last_chunk(openai_server: FakeOpenAIServer) -> None:
    chunks = list(model(openai_server).stream(HELLO))
    assert "".join(c.text for c in chunks) == "echo: hello there world"
    assert all(c.usage is None and c.finish_reason is None for c in chunks[:-1])
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage == Usage(5, 4)
    assert openai_server.requests[-1]["stream_options"] == {"include_usage": True}


def test_stream_sends_exactly_the_request_body_and_reports_error_events(openai_server: FakeOpenAIServer) -> None:
    params = GenerationParams(max_tokens=5, temperature=0.3, stop=("x",))
    list(model(openai_server).stream(HELLO, params))
    sent = openai_server.requests[-1]  # the body goes through as given (extra_body), nothing added or lost
    assert sent["model"] == "tiny" and sent["stream"] is True
    assert sent["messages"] == [m.to_dict() for m in HELLO]
    assert (sent["max_tokens"], sent["temperature"], sent["stop"]) == (5, 0.3, ["x"])
    it = model(openai_server, "stream-error").stream(HELLO)
    assert next(it).text == "echo:"
    with pytest.raises(ModelError, match="ran out of memory"):
        next(it)


def test_missing_usage_is_unknown_not_zero(openai_server: FakeOpenAIServer) -> None:
    m = model(openai_server, "no-usage")
    assert m.chat(HELLO).usage == Usage(None, None)
    last = list(m.stream(HELLO))[-1]
    assert last.usage == Usage(None, None)
    assert last.usage.total_tokens is None


def test_abandoned_stream_closes_the_connection(openai_server: FakeOpenAIServer) -> None:
    it = model(openai_server, "slow").stream(HELLO)
    first = [next(it) for _ in range(3)]
    assert first[0].text  # the role-only event carries no text and is skipped
    it.close()
    assert openai_server.disconnected.wait(5), "server kept streaming after the consumer stopped"
    assert openai_server.words_sent < 200


@pytest.mark.parametrize("stream", [False, True])
def test_context_length_error_is_translated(openai_server: FakeOpenAIServer, stream: bool) -> None:
    m = model(openai_server, "ctx-small")
    with pytest.raises(ContextLengthExceeded) as info:
        m.chat(HELLO) if not stream else list(m.stream(HELLO))
    assert (info.value.needed, info.value.available) == (5000, 2048)


def test_rate_limit_carries_retry_after(openai_server: FakeOpenAIServer) -> None:
    with pytest.raises(RateLimited) as info:
        model(openai_server, "busy").chat(HELLO)
    assert info.value.retry_after == 7.0
    assert "retry in 7s" in str(info.value)


def test_auth_and_missing_model_and_server_errors(openai_server: FakeOpenAIServer) -> None:
    with pytest.raises(ModelError) as info:
        model(openai_server, "locked").chat(HELLO)
    assert "OPENAI_API_KEY" in (info.value.hint or "")
    with pytest.raises(NotFound):
        model(openai_server, "missing").chat(HELLO)
    with pytest.raises(BackendUnavailable, match="HTTP 500"):
        model(openai_server, "broken").chat(HELLO)


def test_connection_refused_is_backend_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    m = OpenAIChatModel("x", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0, timeout_s=5)
    t0 = time.perf_counter()
    with pytest.raises(BackendUnavailable, match="cannot connect"):
        m.chat(HELLO)
    assert time.perf_counter() - t0 < 5


def test_no_key_for_the_real_api_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelError, match="no API key"):
        OpenAIChatModel("gpt-4o-mini").chat(HELLO)


def test_key_falls_back_to_environment(openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    OpenAIChatModel("tiny", base_url=openai_server.base_url).chat(HELLO)
    assert openai_server.auth_headers[-1] == "Bearer sk-env"


def test_empty_messages_and_empty_model_are_input_errors(openai_server: FakeOpenAIServer) -> None:
    with pytest.raises(InputError):
        model(openai_server).chat([])
    with pytest.raises(ModelError):
        OpenAIChatModel("")


def test_hostile_unicode_round_trips(openai_server: FakeOpenAIServer) -> None:
    text = "naïve \u202e café 🚀 \x00 end"
    assert model(openai_server).chat([Message.user(text)]).text == f"echo: {text}"


def test_context_window_from_settings_server_or_default(openai_server: FakeOpenAIServer) -> None:
    assert model(openai_server, context_window=1000).context_window == 1000
    assert model(openai_server, "vllm-like").context_window == 4096
    assert model(openai_server, "tiny").context_window == 8192


def test_token_estimate_errs_high() -> None:
    m = OpenAIChatModel("x", base_url="http://127.0.0.1:9/v1")
    text = "The quick brown fox jumps over the lazy dog."  # 10 tokens in common BPE vocabularies
    assert m.count_tokens(text) >= 10
    assert m.count_tokens("") == 0
    assert m.count_message_tokens([Message.user(text)]) > m.count_tokens(text)


def test_retry_after_parsing() -> None:
    assert retry_after({"retry-after": "2.5"}) == 2.5
    assert retry_after({"retry-after": "garbage"}) is None
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25


WEATHER = ToolSpec("get_weather", "Weather in a city", {"type": "object", "properties": {"city": {"type": "string"}}})


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", "auto"),
        ("required", "required"),
        ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
    ],
)
def test_tools_and_tool_choice_are_sent(openai_server: FakeOpenAIServer, choice: str, wire: object) -> None:
    model(openai_server).chat(HELLO, GenerationParams(tools=(WEATHER,), tool_choice=choice))
    sent = openai_server.requests[-1]
    assert sent["tools"] == [WEATHER.to_openai()]
    assert sent["tool_choice"] == wire


def test_tool_calls_come_back_plain_and_streamed(openai_server: FakeOpenAIServer) -> None:
    m = model(openai_server, "tools")
    r = m.chat(HELLO, GenerationParams(tools=(WEATHER,)))
    assert r.finish_reason == "tool_calls" and r.text == ""
    assert r.tool_calls == (ToolCall("call_1", "get_weather", '{"q": "hello there world"}'),)
    last = list(m.stream(HELLO, GenerationParams(tools=(WEATHER,))))[-1]
    assert last.finish_reason == "tool_calls"
    assert last.tool_calls == r.tool_calls  # assembled from three deltas
    assert last.tool_calls[0].parsed_arguments() == {"q": "hello there world"}


def test_tool_turns_are_sent_in_wire_form(openai_server: FakeOpenAIServer) -> None:
    call = ToolCall("call_9", "get_weather", '{"city": "Oslo"}')
    history = [*HELLO, Message.assistant("", tool_calls=(call,)), Message.tool("-3 C", "call_9", "get_weather")]
    model(openai_server).chat(history)
    sent = openai_server.requests[-1]["messages"]
    assert sent[2]["tool_calls"] == [call.to_openai()]
    assert sent[3] == {"role": "tool", "content": "-3 C", "name": "get_weather", "tool_call_id": "call_9"}
    assert [Message.from_dict(m) for m in sent] == history


def test_json_schema_becomes_response_format(openai_server: FakeOpenAIServer) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    model(openai_server).chat(HELLO, GenerationParams(json_schema=schema))
    assert openai_server.requests[-1]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "reply", "schema": schema},
    }
    model(openai_server).chat(HELLO, GenerationParams(json_schema={}))
    assert openai_server.requests[-1]["response_format"] == {"type": "json_object"}
