"""BatchedLlamaModel's logic that needs no model: windows, sampling plans, grammar, per-request text, errors."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest
from test_gguf import write_gguf

from llmkit import registry
from llmkit.config import load_settings
from llmkit.errors import BackendUnavailable, InputError, MissingExtra, NotFound
from llmkit.models.llama_batch import BatchedLlamaModel, default_window
from llmkit.models.llama_sampling import SamplingPlan, reply_grammar
from llmkit.models.llama_scheduler import Request
from llmkit.types import GenerationParams, Message, ToolSpec, Usage

HI = [Message.user("hi")]


def make_request(max_tokens: int = 5, stop: tuple[str, ...] = ()) -> Request:
    params = GenerationParams(max_tokens=max_tokens, stop=stop)
    return Request([1, 2, 3], params, budget=max_tokens, plan=SamplingPlan.of(params))


def drain(r: Request) -> list[tuple[str, object]]:
    out = []
    while not r.events.empty():
        out.append(r.events.get())
    return out


def test_default_window_keeps_the_kv_cache_near_8k() -> None:
    assert [default_window(8192, p) for p in (1, 2, 4, 8, 64)] == [8192, 4096, 2048, 2048, 2048]
    assert default_window(512, 16) == 512  # never more than the model was trained for


def test_sampling_plan_defaults_match_llama_cpp_model() -> None:
    greedy = SamplingPlan.of(GenerationParams(temperature=0.0, seed=1))
    assert greedy.greedy and greedy.seed == 1
    hot = SamplingPlan.of(GenerationParams(temperature=1.2, top_p=0.5, seed=3))
    assert (hot.greedy, hot.temperature, hot.top_p, hot.seed) == (False, 1.2, 0.5, 3)
    unseeded = {SamplingPlan.of(GenerationParams(temperature=1.0)).seed for _ in range(5)}
    assert len(unseeded) > 1  # no seed: a fresh random one each call


def test_reply_grammar() -> None:
    pytest.importorskip("llama_cpp")
    assert reply_grammar((), GenerationParams()) is None
    assert "object" in str(reply_grammar((), GenerationParams(json_schema={})))
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    assert '\\"age\\"' in str(reply_grammar((), GenerationParams(json_schema=schema)))
    tools = (ToolSpec("now", "the time"),)
    assert '\\"tool_calls\\"' in str(reply_grammar(tools, GenerationParams(tools=tools)))
    with pytest.raises(InputError, match="JSON Schema"):
        reply_grammar((), GenerationParams(json_schema={"type": "no-such-type"}))
    with pytest.raises(InputError, match="json_schema"):
        reply_grammar((), GenerationParams(json_schema=["not", "a", "schema"]))  # type: ignore[arg-type]


def test_tool_reply_is_collected_then_parsed() -> None:
    tools = (ToolSpec("add"),)
    params = GenerationParams(tools=tools)
    r = Request([1], params, budget=50, plan=SamplingPlan.of(params), tools=True)
    r.add_piece(b'{"tool_calls": [{"name": "add", ')
    r.add_piece(b'"arguments": {"a": 1}}]}')
    assert drain(r) == []  # nothing streams while the protocol object is being written
    r.finish("stop")
    (kind, (reason, usage, calls)), *rest = drain(r)
    assert (kind, reason, usage, rest) == ("end", "tool_calls", Usage(1, 2), [])
    assert [(c.name, c.parsed_arguments()) for c in calls] == [("add", {"a": 1})]
    answer = Request([1], params, budget=50, plan=SamplingPlan.of(params), tools=True)
    answer.add_piece(b'{"content": "Paris."}')
    answer.finish("stop")
    assert drain(answer) == [("text", "Paris."), ("end", ("stop", Usage(1, 1), ()))]


def test_request_emits_text_and_holds_back_a_possible_stop() -> None:
    r = make_request(stop=("User:",))
    assert r.add_piece(b"Hello Us") is None
    assert drain(r) == [("text", "Hello ")]
    assert r.add_piece(b"er: more") == "stop"
    assert drain(r) == []  # nothing of the stop string (or after it) is shown
    r.finish("stop")
    assert drain(r) == [("end", ("stop", Usage(3, 2), ()))]


def test_request_reaches_its_budget_and_flushes() -> None:
    r = make_request(max_tokens=2, stop=("xyz",))
    assert r.add_piece(b"ab x") is None
    assert r.add_piece("é".encode()[:1]) == "length"  # half a UTF-8 character so far
    r.finish("length")
    events = drain(r)
    assert "".join(str(p) for k, p in events if k == "text") == "ab x\ufffd"
    assert events[-1] == ("end", ("length", Usage(3, 2), ()))


def test_cancelled_request_sends_no_more_text() -> None:
    r = make_request(stop=("STOP",))
    r.add_piece(b"ST")
    drain(r)
    r.cancel.set()
    r.finish("stop")
    assert drain(r) == [("end", ("stop", Usage(3, 1), ()))]


def test_position_counts_prompt_then_generated_tokens() -> None:
    r = make_request()
    assert r.position == 0
    r.fed = 3
    assert r.position == 3
    r.add_piece(b"a")
    assert r.position == 3  # the first sampled token goes right after the prompt
    r.add_piece(b"b")
    assert r.position == 4


def test_construction_is_cheap_and_checks_its_arguments(tmp_path: Path) -> None:
    m = BatchedLlamaModel(tmp_path / "missing.gguf", parallel=4)
    assert m.name == "missing" and m._thread is None  # no thread, no file read
    with pytest.raises(InputError, match="parallel"):
        BatchedLlamaModel(tmp_path / "m.gguf", parallel=0)
    with pytest.raises(InputError, match="batch_tokens"):
        BatchedLlamaModel(tmp_path / "m.gguf", parallel=8, batch_tokens=4)


def test_context_window_is_per_request(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "a.gguf", context=8192)
    assert BatchedLlamaModel(path, parallel=4).context_window == 2048
    assert BatchedLlamaModel(path, parallel=4, context_window=512).context_window == 512


def test_missing_file_and_bad_file_fail_every_call(tmp_path: Path) -> None:
    m = BatchedLlamaModel(tmp_path / "nope.gguf")
    with pytest.raises(NotFound):
        m.chat(HI)
    with pytest.raises(NotFound):
        list(m.stream(HI))
    m.close()
    bad = tmp_path / "fake.gguf"
    bad.write_text("<html>404</html>")
    m = BatchedLlamaModel(bad)
    with pytest.raises(BackendUnavailable, match="not a valid GGUF"):
        m.count_tokens("x")
    m.close()


def test_missing_llama_cpp_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    m = BatchedLlamaModel(write_gguf(tmp_path / "m.gguf"))
    with pytest.raises(MissingExtra, match=r"llmkit\[local\]"):
        m.chat(HI)
    m.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("llmkit-batch-m")]


@pytest.mark.parametrize(
    ("model", "backend"),
    [
        ({"name": "models/tiny.gguf", "parallel": 4}, "llama_batch"),
        ({"name": "smollm2-135m-instruct", "parallel": 2}, "llama_batch"),
        ({"name": "smollm2-135m-instruct"}, "llama_cpp"),  # the default stays the single-stream model
        ({"name": "llama_batch:x.gguf"}, "llama_batch"),
        ({"name": "llama_cpp:x.gguf", "parallel": 4}, "llama_cpp"),  # an explicit prefix wins
    ],
)
def test_registry_picks_the_batched_engine_when_parallel(tmp_path: Path, model: dict, backend: str) -> None:
    settings = load_settings(tmp_path, home=tmp_path / "home", model=model)
    assert registry.detect_backend(settings, "chat") == backend


def test_from_settings(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, model={"name": "m/x.gguf", "parallel": 8, "context_window": 1024, "threads": 1})
    m = registry.load_chat_model(settings)
    assert isinstance(m, BatchedLlamaModel)
    assert (m.path, m.parallel, m.context_window, m.threads, m.name) == (tmp_path / "m/x.gguf", 8, 1024, 1, "m/x.gguf")


def test_parallel_setting_is_validated(tmp_path: Path) -> None:
    from llmkit.errors import ConfigError

    with pytest.raises(ConfigError, match="parallel"):
        load_settings(tmp_path, model={"parallel": 0})
    assert json.loads(load_settings(tmp_path).model.model_dump_json())["parallel"] == 1


@pytest.mark.parametrize(
    "name", ["llmkit.models.llama_batch", "llmkit.models.llama_sampling", "llmkit.models.llama_scheduler"]
)
def test_docstring_examples(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_importing_the_engine_loads_no_llama_cpp() -> None:
    import subprocess

    probe = "import sys, llmkit.models.llama_batch, llmkit.registry; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    mods = out.stdout.split()
    assert "llmkit.models.llama_batch" in mods
    assert not {m for m in mods if m.split(".")[0] in ("llama_cpp", "numpy", "fastapi", "uvicorn")}
