"""``ask_prompt``: a registry prompt asked of a chat model, traced, with no error when the model fails."""

from __future__ import annotations

from pathlib import Path

from llmkit.errors import BackendUnavailable
from llmkit.observe.traces import TracedModel, TraceStore
from llmkit.prompts.ask import ask_prompt
from llmkit.prompts.registry import PromptRegistry
from llmkit.testing import FakeChatModel

SCHEMA = {"type": "object", "properties": {"supported": {"type": "boolean"}}}


def test_the_reply_of_a_traced_greedy_call_with_the_schema(tmp_path: Path) -> None:
    fake = FakeChatModel(['{"relevance": 2}'])
    store = TraceStore(tmp_path / "traces.db")
    model = TracedModel(fake, store)
    reply = ask_prompt(
        lambda: model,
        None,
        "rerank-relevance",
        max_tokens=16,
        kind="rerank",
        schema=SCHEMA,
        question="warranty?",
        passage="warranty: 3 years",
    )
    assert reply == '{"relevance": 2}'
    messages, params = fake.calls[0]
    assert params.json_schema == SCHEMA and params.temperature == 0.0 and params.max_tokens == 16
    assert "warranty: 3 years" in messages[-1].content
    (trace,) = store.list()
    assert trace.kind == "rerank" and trace.attributes["question"] == "warranty?"
    assert trace.prompt and trace.prompt.startswith("rerank-relevance@")


def test_no_question_input_no_question_traced_and_no_schema_no_json(tmp_path: Path) -> None:
    fake = FakeChatModel(["yes"])
    store = TraceStore(tmp_path / "traces.db")
    ask_prompt(
        lambda: TracedModel(fake, store),
        None,
        "judge-grounded",
        max_tokens=40,
        kind="judge",
        context="[1] The sky is blue.",
        claim="The sky is blue.",
    )
    assert fake.calls[0][1].json_schema is None
    (trace,) = store.list()
    assert trace.kind == "judge" and "question" not in trace.attributes


def test_a_project_file_overrides_the_builtin(tmp_path: Path) -> None:
    body = "Is {{ claim }} in {{ context }}?"
    (tmp_path / "judge-grounded.md").write_text(f"---\nname: judge-grounded\ninputs: [context, claim]\n---\n{body}")
    fake = FakeChatModel(["no"])
    reply = ask_prompt(
        lambda: fake,
        lambda: PromptRegistry([tmp_path]),
        "judge-grounded",
        max_tokens=40,
        kind="judge",
        context="c",
        claim="x",
    )
    assert reply == "no" and fake.calls[0][0][-1].content == "Is x in c?"


def test_a_model_that_fails_or_cannot_load_gives_none() -> None:
    def down() -> FakeChatModel:
        raise BackendUnavailable("the model server is down")

    assert ask_prompt(down, None, "judge-grounded", max_tokens=40, kind="judge", context="c", claim="x") is None
    tiny = FakeChatModel(["x"], window=8)  # the prompt cannot fit: ContextLengthExceeded
    assert ask_prompt(lambda: tiny, None, "judge-grounded", max_tokens=40, kind="judge", context="c", claim="x") is None
