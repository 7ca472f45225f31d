"""User text (stop strings, suite names, prompt descriptions) is printed as it is, never read as rich markup."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmkit.cli.app import app
from llmkit.evals.dataset import EvalItem
from llmkit.evals.runner import Runner
from llmkit.evals.store import EvalStore
from llmkit.evals.suite import suite_from_dict
from llmkit.observe.traces import TracedModel, TraceStore, trace_attributes
from llmkit.prompts import builtin
from llmkit.testing import FakeChatModel
from llmkit.types import GenerationParams, Message


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "llmkit.toml").write_text('collection = "c"\n', encoding="utf-8")
    return tmp_path


def cli(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["-C", str(project), *args])
    return result.exit_code, result.output


def test_traces_with_markup(project: Path) -> None:
    store = TraceStore(project / ".llmkit" / "traces.db")
    with trace_attributes(kind="[bold]k[/bold]") as span:
        TracedModel(FakeChatModel(["Paris"]), store).chat([Message.user("[INST] Hi [/INST]")],
                                                          GenerationParams(stop=("[/INST]",)))  # fmt: skip
    code, out = cli(project, "traces", "show", span.trace_id[:12])
    assert code == 0 and "[/INST]" in out and "[bold]k[/bold]" in out


def test_zero_tokens_are_a_count(project: Path) -> None:
    TracedModel(FakeChatModel([""]), TraceStore(project / ".llmkit" / "traces.db")).chat([Message.user("hush")])
    code, out = cli(project, "traces", "list")
    assert code == 0 and "/0" in out and "/?" not in out


def test_suite_names_and_descriptions_with_brackets(project: Path) -> None:
    s = suite_from_dict({"name": "qa [/v2]", "dataset": {"path": "x.jsonl"}, "pipeline": {"kind": "generate"},
                         "metrics": ["f1"]})  # fmt: skip
    store = EvalStore(project / ".llmkit" / "evals.db")
    for _ in range(2):
        Runner(s, store, model=FakeChatModel(["yes"]), prompt=builtin("qa-short"),
               items=[EvalItem("1", "q?", ("yes",))]).run()  # fmt: skip
    code, out = cli(project, "eval", "show")
    assert code == 0 and "qa [/v2]" in out
    code, out = cli(project, "eval", "compare", "latest~1", "latest")
    assert code == 0 and "qa [/v2]" in out
    code, out = cli(project, "eval", "list")
    assert code == 0 and "qa [/v2]" in out
    (project / "prompts").mkdir()
    (project / "prompts" / "llama.md").write_text(
        "---\nname: llama\ndescription: wraps in [INST] ... [/INST]\n---\n{{ question }}\n", encoding="utf-8"
    )
    code, out = cli(project, "prompts", "list")
    assert code == 0 and "[/INST]" in out
