"""BatchedLlamaModel with the real SmolLM2: the ChatModel contract, greedy parity with LlamaCppModel
(alone and under concurrency), stops, budgets, seeds, grammar, abandoned streams, many threads."""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from llmkit.errors import BackendUnavailable, ContextLengthExceeded, InputError
from llmkit.models.base import ChatModel
from llmkit.models.llama_batch import BatchedLlamaModel
from llmkit.models.llama_cpp import LlamaCppModel
from llmkit.types import GenerationParams, Message, ToolSpec

pytestmark = pytest.mark.integration

COUNT = [Message.user("Count from 1 to 20, separated by commas.")]
OTHERS = [
    [Message.user("Tell me a story about a cat.")],
    [Message.system("Answer briefly."), Message.user("What is the capital of France?")],
    [Message.user("Write a poem about the sea.")],
]
GREEDY = GenerationParams(max_tokens=16, temperature=0.0)


# One llama.cpp thread each: on a busy 2-core machine two spinning threads made a step 10-30x slower.
@pytest.fixture(scope="module")
def batched(smollm_path: Path) -> Iterator[BatchedLlamaModel]:
    model = BatchedLlamaModel(smollm_path, parallel=4, context_window=1024, threads=1)
    yield model
    model.close()


@pytest.fixture(scope="module")
def smollm(smollm_path: Path) -> Iterator[LlamaCppModel]:
    """The single-stream reference (the package-wide fixture of the same name runs on all cores)."""
    model = LlamaCppModel(smollm_path, context_window=2048, threads=1)
    yield model
    model.close()


def test_is_a_chat_model_with_exact_usage(batched: BatchedLlamaModel, smollm: LlamaCppModel) -> None:
    assert isinstance(batched, ChatModel)
    assert batched.context_window == 1024
    assert batched.count_tokens("Hello world") == smollm.count_tokens("Hello world")
    assert batched.count_message_tokens(COUNT) == smollm.count_message_tokens(COUNT)


def test_greedy_equals_llama_cpp_model_alone(batched: BatchedLlamaModel, smollm: LlamaCppModel) -> None:
    ref = smollm.chat(COUNT, GREEDY)
    got = batched.chat(COUNT, GREEDY)
    assert (got.text, got.usage, got.finish_reason) == (ref.text, ref.usage, ref.finish_reason)


def test_greedy_equals_llama_cpp_model_with_three_others_running(
    batched: BatchedLlamaModel, smollm: LlamaCppModel
) -> None:
    refs = [smollm.chat(m, GREEDY) for m in [COUNT, *OTHERS]]
    steps = batched._state["scheduler"].steps
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda m: batched.chat(m, GREEDY), [COUNT, *OTHERS]))
    assert [g.text for g in got] == [r.text for r in refs]
    assert [g.usage for g in got] == [r.usage for r in refs]
    # they really shared batches: far fewer decode steps than 4 requests x (1 prompt + 16 tokens)
    assert batched._state["scheduler"].steps - steps < 2 * (1 + 16)


def test_stream_matches_chat_and_carries_usage_last(batched: BatchedLlamaModel) -> None:
    whole = batched.chat(COUNT, GREEDY)
    chunks = list(batched.stream(COUNT, GREEDY))
    assert "".join(c.text for c in chunks) == whole.text
    assert all(c.usage is None and c.finish_reason is None for c in chunks[:-1])
    assert chunks[-1].usage == whole.usage and chunks[-1].finish_reason == "length"
    assert whole.usage.completion_tokens == 16
    assert len(chunks) > 5


@pytest.mark.parametrize("stream", [False, True])
def test_stop_sequence_is_honoured(batched: BatchedLlamaModel, stream: bool) -> None:
    params = GenerationParams(max_tokens=40, temperature=0.0, stop=("4",))
    if stream:
        chunks = list(batched.stream(COUNT, params))
        text, finish = "".join(c.text for c in chunks), chunks[-1].finish_reason
    else:
        r = batched.chat(COUNT, params)
        text, finish = r.text, r.finish_reason
    assert "3" in text and "4" not in text
    assert finish == "stop"


def test_max_tokens_and_context_budget(batched: BatchedLlamaModel) -> None:
    r = batched.chat(COUNT, GenerationParams(max_tokens=3, temperature=0.0))
    assert (r.usage.completion_tokens, r.finish_reason) == (3, "length")
    with pytest.raises(ContextLengthExceeded):
        batched.chat(COUNT, GenerationParams(max_tokens=1020))
    with pytest.raises(ContextLengthExceeded):
        batched.chat([Message.user("word " * 2000)], GenerationParams(max_tokens=None))
    with pytest.raises(InputError):
        batched.chat([], GREEDY)
    assert batched.slots_in_use() == 0


def test_prompt_reuse_skips_the_shared_prefix(batched: BatchedLlamaModel) -> None:
    scheduler = batched._state["scheduler"]
    system = Message.system("You are a terse assistant. Answer in one short sentence, no lists, no preamble.")
    near_greedy = GenerationParams(max_tokens=8, temperature=0.5, top_p=0.01)  # top token only, yet reusable
    fresh = batched.chat([system, Message.user("Name a colour.")], GenerationParams(max_tokens=8, temperature=0.0))
    before = scheduler.reused
    first = batched.chat([system, Message.user("Name a colour.")], near_greedy)
    second = batched.chat([system, Message.user("Name a fruit.")], near_greedy)
    assert scheduler.reused - before >= 2 * batched.count_message_tokens([system]) - 8  # the system turn, twice
    assert first.text == fresh.text  # reused cells give the same reply as a fresh evaluation
    assert second.usage.prompt_tokens == batched.count_message_tokens([system, Message.user("Name a fruit.")])
    before = scheduler.reused
    batched.chat([system, Message.user("Name a colour.")], GenerationParams(max_tokens=2, temperature=0.0))
    assert scheduler.reused == before  # greedy and seeded requests evaluate their prompt afresh


def test_seed_reproducible_and_varies(batched: BatchedLlamaModel) -> None:
    def run(seed: int) -> str:
        params = GenerationParams(max_tokens=16, temperature=1.0, seed=seed)
        return batched.chat([Message.user("Tell me a story.")], params).text

    first = run(42)
    assert run(42) == first
    assert len({first, run(1), run(2)}) > 1


def test_json_schema_output_parses(batched: BatchedLlamaModel) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    params = GenerationParams(max_tokens=48, temperature=0.0, json_schema=schema)
    value = json.loads(batched.chat([Message.user("Describe a person as JSON.")], params).text)
    assert isinstance(value["name"], str) and isinstance(value["age"], int)
    closed = {
        "type": "object",
        "properties": {"ok": {"type": "boolean"}},
        "required": ["ok"],
        "additionalProperties": False,
    }
    hot = GenerationParams(max_tokens=24, temperature=1.0, seed=3, json_schema=closed)
    assert isinstance(json.loads(batched.chat([Message.user("Are you ok?")], hot).text)["ok"], bool)
    anything = batched.chat([Message.user("Give me JSON.")], GenerationParams(max_tokens=8, json_schema={}))
    assert anything.text.lstrip().startswith("{")  # any object; 8 tokens may cut it short


WEATHER = ToolSpec(
    "get_weather",
    "Get the current weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.mark.slow
def test_tool_calls_match_llama_cpp_model(batched: BatchedLlamaModel, smollm: LlamaCppModel) -> None:
    ask = [Message.user("What is the weather in Paris?")]
    params = GenerationParams(max_tokens=40, temperature=0.0, tools=(WEATHER,), tool_choice="required")
    ref = smollm.chat(ask, params)
    got = batched.chat(ask, params)
    assert (got.finish_reason, got.text, got.usage) == ("tool_calls", "", ref.usage)
    assert [(c.name, c.arguments) for c in got.tool_calls] == [(c.name, c.arguments) for c in ref.tool_calls]
    assert "city" in got.tool_calls[0].parsed_arguments()
    chunks = list(batched.stream(ask, params))
    assert "".join(c.text for c in chunks) == ""  # a tool reply arrives whole in the last chunk
    assert [c.name for c in chunks[-1].tool_calls] == ["get_weather"]


def test_abandoned_streams_free_their_slots(smollm_path: Path) -> None:
    model = BatchedLlamaModel(smollm_path, parallel=1, context_window=512, threads=1)
    try:
        closed = model.stream(COUNT, GenerationParams(max_tokens=400, temperature=0.0))
        assert next(closed).text
        closed.close()  # the caller stops iterating
        dropped = model.stream(OTHERS[0], GenerationParams(max_tokens=400, temperature=0.0))
        next(dropped)
        del dropped  # the generator is garbage-collected mid-reply
        gc.collect()
        assert model.slots_in_use() == 0
        # with its only slot free again, a new request runs at once
        assert model.chat(COUNT, GenerationParams(max_tokens=4, temperature=0.0)).usage.completion_tokens == 4
    finally:
        model.close()


@pytest.mark.slow
def test_many_threads_hammering(batched: BatchedLlamaModel) -> None:
    def one(i: int) -> int:
        params = GenerationParams(max_tokens=4 + i % 5, temperature=(i % 3) * 0.5, seed=i, stop=(".",) * (i % 2))
        messages = [*OTHERS, [COUNT[0]]][i % 4]
        if i % 4 == 3:  # some callers walk away early
            stream = batched.stream(messages, params)
            next(stream)
            stream.close()
            return 0
        r = batched.chat(messages, params)
        assert r.finish_reason in ("stop", "length") and r.usage.completion_tokens <= params.max_tokens
        return r.usage.completion_tokens

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(16)))
    assert sum(results) > 0
    assert batched.slots_in_use() == 0


def test_close_fails_running_requests_and_the_model_reloads(smollm_path: Path) -> None:
    model = BatchedLlamaModel(smollm_path, parallel=2, context_window=512, threads=1)
    stream = model.stream(COUNT, GenerationParams(max_tokens=400, temperature=0.0))
    next(stream)
    closer = threading.Thread(target=model.close)
    closer.start()
    with pytest.raises(BackendUnavailable, match="closed"):
        for _ in stream:
            pass
    closer.join()
    assert model.chat(COUNT, GenerationParams(max_tokens=2, temperature=0.0)).usage.completion_tokens == 2
    model.close()
